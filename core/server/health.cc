#include "core/server/health.h"

#include "absl/strings/str_format.h"

namespace ringmq::server {

Response Healthz(const broker::BrokerStats& stats, int64_t now_ms) {
  Response r;
  size_t starting = 0;
  for (size_t i = 0; i < stats.shards.size(); ++i) {
    const int64_t beat = stats.shards[i].heartbeat_ms;
    if (beat == 0) {
      ++starting;  // recovering the store, before its first turn: alive (/readyz: not ready)
    } else if (now_ms - beat > kStuckAfterMs) {
      absl::StrAppendFormat(&r.body, "shard %d: stuck (event loop last turned %d ms ago)\n", i,
                            now_ms - beat);
    }
  }
  if (r.body.empty()) {
    r.body = starting > 0 ? absl::StrFormat("ok: starting (%d of %d shards not turning yet)\n",
                                            starting, stats.shards.size())
                          : absl::StrFormat("ok: %d shards turning\n", stats.shards.size());
  } else {
    r.code = 503;
  }
  return r;
}

Response Readyz(bool ready) {
  Response r;
  if (ready) {
    r.body = "ready\n";
  } else {
    r.code = 503;
    r.body = "not ready: recovering the store or opening the listeners\n";
  }
  return r;
}

}  // namespace ringmq::server
