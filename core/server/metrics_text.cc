#include "core/server/metrics_text.h"

#include <utility>
#include <vector>

#include "absl/strings/str_format.h"

#include "core/base/latency_histogram.h"

namespace ringmq::server {
namespace {

// One metric family: its HELP and TYPE lines, then its samples.
class Family {
 public:
  Family(std::string* out, std::string_view name, std::string_view type, std::string_view help)
      : out_(out), name_(name) {
    absl::StrAppendFormat(out_, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
  }
  // `labels`: already formatted, e.g. `qos="1"` (empty: none).
  void Sample(std::string_view labels, std::string_view value, std::string_view suffix = {}) {
    if (labels.empty()) {
      absl::StrAppendFormat(out_, "%s%s %s\n", name_, suffix, value);
    } else {
      absl::StrAppendFormat(out_, "%s%s{%s} %s\n", name_, suffix, labels, value);
    }
  }
  void Sample(std::string_view labels, uint64_t value) {
    Sample(labels, std::string_view(absl::StrFormat("%d", value)));
  }

 private:
  std::string* out_;
  std::string_view name_;
};

std::string Label(std::string_view key, std::string_view value) {
  return absl::StrFormat("%s=\"%s\"", key, EscapeLabelValue(value));
}

// Exact decimal seconds from an integer count of 10^-digits seconds, trailing zeros cut.
std::string Seconds(uint64_t units, int digits) {
  uint64_t scale = 1;
  for (int i = 0; i < digits; ++i) {
    scale *= 10;
  }
  std::string s = absl::StrFormat("%d.%0*d", units / scale, digits, units % scale);
  while (s.back() == '0') {
    s.pop_back();
  }
  if (s.back() == '.') {
    s.pop_back();
  }
  return s;
}

void Gauge(std::string* out, std::string_view name, std::string_view help, uint64_t v) {
  Family(out, name, "gauge", help).Sample({}, v);
}

void Counter(std::string* out, std::string_view name, std::string_view help, uint64_t v) {
  Family(out, name, "counter", help).Sample({}, v);
}

void BrokerGauges(std::string* out, const broker::BrokerStats& s) {
  Family(out, "ringmq_build_info", "gauge", "The broker's version (always 1).")
      .Sample(Label("version", s.version), 1);
  Gauge(out, "ringmq_uptime_seconds", "Seconds since the broker started.",
        static_cast<uint64_t>(s.uptime_s));
  Gauge(out, "ringmq_shards", "Shards (event loops, one thread each).", s.shards.size());
  Gauge(out, "ringmq_connections", "Open network connections (before and after CONNECT).",
        s.connections);
  Gauge(out, "ringmq_clients", "Connected MQTT clients.", s.clients);
  Gauge(out, "ringmq_sessions", "Sessions, connected or not.", s.sessions);
  Gauge(out, "ringmq_subscriptions", "Subscriptions of all sessions.", s.subscriptions);
  Gauge(out, "ringmq_retained_messages", "Retained messages.", s.retained);
  Gauge(out, "ringmq_retained_bytes", "Bytes of retained messages.", s.retained_bytes);
  Gauge(out, "ringmq_queued_bytes", "Bytes of messages queued for sessions (beyond in flight).",
        s.queued_bytes);
  Gauge(out, "ringmq_queued_messages", "Messages queued for sessions (beyond in flight).",
        s.queued_messages);
}

void MessageCounters(std::string* out, const broker::BrokerStats& s) {
  const std::pair<std::string_view, const std::array<uint64_t, 3>*> by_qos[] = {
      {"ringmq_messages_received_total", &s.messages_in_by_qos},
      {"ringmq_messages_sent_total", &s.messages_out_by_qos},
  };
  for (const auto& [name, counts] : by_qos) {
    Family f(out, name, "counter",
             name == by_qos[0].first ? "PUBLISH packets received from clients (and wills), by QoS."
                                     : "PUBLISH packets sent to clients, by QoS.");
    for (size_t q = 0; q < counts->size(); ++q) {
      f.Sample(Label("qos", absl::StrFormat("%d", q)), (*counts)[q]);
    }
  }
  Counter(out, "ringmq_bytes_received_total", "Bytes read from client connections.", s.bytes_in);
  Counter(out, "ringmq_bytes_sent_total", "Bytes of MQTT packets written to clients.", s.bytes_out);
  Family d(out, "ringmq_drops_total", "counter",
           "Messages dropped for a session, and things refused at a limit, by reason.");
  for (const broker::CountedTotal& t : s.drops) {
    d.Sample(Label("reason", t.reason), t.value);
  }
  Counter(out, "ringmq_connects_refused_total",
          "CONNECTs refused, and connections closed before a CONNECT.", s.connects_refused);
}

// One family with a sample per shard: value(shard) as text.
template <typename F>
void PerShard(std::string* out, const broker::BrokerStats& s, std::string_view name,
              std::string_view type, std::string_view help, F&& value) {
  Family f(out, name, type, help);
  for (size_t i = 0; i < s.shards.size(); ++i) {
    f.Sample(Label("shard", absl::StrFormat("%d", i)), value(s.shards[i]));
  }
}

std::string Decimal(uint64_t v) {
  return absl::StrFormat("%d", v);
}

void ShardFigures(std::string* out, const broker::BrokerStats& s, int64_t now_ms) {
  using broker::ShardStats;
  PerShard(out, s, "ringmq_shard_clients", "gauge", "Connected MQTT clients of the shard.",
           [](const ShardStats& sh) { return Decimal(sh.clients); });
  PerShard(out, s, "ringmq_shard_messages_received_total", "counter",
           "PUBLISH packets received by the shard.",
           [](const ShardStats& sh) { return Decimal(sh.messages_in); });
  PerShard(out, s, "ringmq_shard_messages_sent_total", "counter",
           "PUBLISH packets sent by the shard.",
           [](const ShardStats& sh) { return Decimal(sh.messages_out); });
  PerShard(out, s, "ringmq_shard_loop_busy_seconds_total", "counter",
           "Seconds the shard's event loop was busy (not waiting for events); rate() is its load.",
           [](const ShardStats& sh) { return Seconds(sh.loop_busy_ns, 9); });
  PerShard(out, s, "ringmq_shard_heartbeat_age_seconds", "gauge",
           "Seconds since the shard's heartbeat timer last ran (about every second when healthy).",
           [now_ms](const ShardStats& sh) {
             const int64_t beat = sh.heartbeat_ms;
             return Seconds(beat > 0 && now_ms > beat ? static_cast<uint64_t>(now_ms - beat) : 0,
                            3);
           });
}

void CommitHistogram(std::string* out, const base::LatencySnapshot& h) {
  Family f(out, "ringmq_store_commit_seconds", "histogram",
           "How long each store commit (one transaction) took.");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < base::kLatencyBucketsUs.size(); ++i) {
    cumulative += h.buckets[i];
    f.Sample(Label("le", Seconds(base::kLatencyBucketsUs[i], 6)), absl::StrFormat("%d", cumulative),
             "_bucket");
  }
  cumulative += h.buckets.back();
  f.Sample(Label("le", "+Inf"), absl::StrFormat("%d", cumulative), "_bucket");
  f.Sample({}, Seconds(h.sum_us, 6), "_sum");
  f.Sample({}, absl::StrFormat("%d", cumulative), "_count");
}

void StoreFigures(std::string* out, const persistence::StoreStats& st) {
  Counter(out, "ringmq_store_commits_total", "Store transactions committed.", st.commits);
  Counter(out, "ringmq_store_writes_total", "Store writes committed.", st.operations);
  Counter(out, "ringmq_store_failed_commits_total",
          "Store transactions that failed (disk full, I/O error) and wait for a retry.",
          st.failed_commits);
  Gauge(out, "ringmq_store_pending_bytes", "Bytes of store writes not committed yet.",
        st.pending_bytes);
  Family(out, "ringmq_store_last_commit_seconds", "gauge", "How long the last commit took.")
      .Sample({}, Seconds(st.last_commit_us, 6));
  Family(out, "ringmq_store_max_commit_seconds", "gauge", "The longest commit since start.")
      .Sample({}, Seconds(st.max_commit_us, 6));
  Gauge(out, "ringmq_store_accepting",
        "1 while the store takes new messages, 0 while it refuses them (disk full, backlog).",
        st.accepting ? 1 : 0);
  CommitHistogram(out, st.commit_latency);
}

void PluginCalls(std::string* out, std::span<const plugin::PluginCallTotal> calls) {
  Family f(out, "ringmq_plugin_calls_total", "counter", "Calls of each plugin's hooks.");
  for (const plugin::PluginCallTotal& c : calls) {
    f.Sample(absl::StrFormat("%s,%s", Label("plugin", c.plugin), Label("hook", c.hook)), c.calls);
  }
}

}  // namespace

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char ch : v) {
    if (ch == '\\' || ch == '"') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (ch == '\n') {
      out.append("\\n");
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

std::string RenderMetrics(const broker::BrokerStats& stats,
                          std::span<const plugin::PluginCallTotal> plugin_calls, int64_t now_ms) {
  std::string out;
  out.reserve(8192);
  BrokerGauges(&out, stats);
  MessageCounters(&out, stats);
  ShardFigures(&out, stats, now_ms);
  StoreFigures(&out, stats.store);
  PluginCalls(&out, plugin_calls);
  for (const broker::OutsideFigure& f : stats.outside) {
    Counter(&out, f.metric, f.help, f.value);
  }
  return out;
}

}  // namespace ringmq::server
