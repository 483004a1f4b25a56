// $SYS: broker statistics published periodically as retained messages by shard 0, from the
// snapshot of every shard's counters that /metrics renders too (stats.h).
#include "absl/strings/str_format.h"

#include "core/broker/broker_shard.h"
#include "core/broker/stats.h"

namespace ringmq::broker {

void BrokerShard::OnSysTimer(net::Timer* t) {
  BrokerShard* b = static_cast<ShardTimer*>(t)->broker;
  b->AssertOnOwnShard();
  if (b->stopping_) {
    return;
  }
  b->PublishSys();
  b->shard_.timers().Schedule(&b->sys_timer_,
                              b->now_ms() + int64_t{b->config().sys_interval_s} * 1000);
}

void BrokerShard::PublishInternal(std::string_view topic, std::string_view payload, bool retain,
                                  mqtt::Qos qos) {
  MessageInit init;
  init.topic = topic;
  init.payload = payload;
  init.retain = retain;
  init.qos = qos;
  Route(Message::Create(init), nullptr);
}

void BrokerShard::PublishSys() {
  // The same snapshot /metrics renders (stats.h).
  const BrokerStats st = GatherStats(shared_, now_ms());
  for (uint32_t i = 0; i < st.shards.size(); ++i) {
    const ShardStats& sh = st.shards[i];
    const std::string prefix = absl::StrFormat("$SYS/broker/load/shard/%d/", i);
    PublishInternal(prefix + "clients", absl::StrFormat("%d", sh.clients), true);
    PublishInternal(prefix + "messages/received", absl::StrFormat("%d", sh.messages_in), true);
    PublishInternal(prefix + "messages/sent", absl::StrFormat("%d", sh.messages_out), true);
  }
  PublishInternal("$SYS/broker/version", st.version, /*retain=*/true);
  PublishInternal("$SYS/broker/uptime", absl::StrFormat("%d seconds", st.uptime_s),
                  /*retain=*/true);
  PublishInternal("$SYS/broker/shards", absl::StrFormat("%d", shards_), /*retain=*/true);
  const std::pair<std::string_view, uint64_t> totals[] = {
      {"$SYS/broker/clients/connected", st.clients},
      {"$SYS/broker/clients/total", st.sessions},
      {"$SYS/broker/subscriptions/count", st.subscriptions},
      {"$SYS/broker/retained messages/count", st.retained},
      {"$SYS/broker/retained messages/bytes", st.retained_bytes},
      {"$SYS/broker/messages/queued bytes", st.queued_bytes},
      {"$SYS/broker/messages/received", st.messages_in},
      {"$SYS/broker/messages/sent", st.messages_out},
      {"$SYS/broker/messages/dropped", st.dropped},
      {"$SYS/broker/bytes/received", st.bytes_in},
      {"$SYS/broker/bytes/sent", st.bytes_out},
  };
  for (const auto& [topic, value] : totals) {
    PublishInternal(topic, absl::StrFormat("%d", value), /*retain=*/true);
  }
  // Limits reached, each counted where it was hit (docs/configuration.md).
  for (const CountedTotal& d : st.drops) {
    if (!d.sys_topic.empty()) {
      PublishInternal(d.sys_topic, absl::StrFormat("%d", d.value), /*retain=*/true);
    }
  }
  // The store's own figures (zero for the in-memory store).
  const std::pair<std::string_view, uint64_t> store[] = {
      {"$SYS/broker/store/commits", st.store.commits},
      {"$SYS/broker/store/writes", st.store.operations},
      {"$SYS/broker/store/failed-commits", st.store.failed_commits},
      {"$SYS/broker/store/pending-bytes", st.store.pending_bytes},
      {"$SYS/broker/store/last-commit-us", st.store.last_commit_us},
      {"$SYS/broker/store/max-commit-us", st.store.max_commit_us},
      {"$SYS/broker/store/accepting", st.store.accepting ? 1u : 0u},
  };
  for (const auto& [topic, value] : store) {
    PublishInternal(topic, absl::StrFormat("%d", value), /*retain=*/true);
  }
  for (const OutsideFigure& f : st.outside) {
    PublishInternal(f.sys_topic, absl::StrFormat("%d", f.value), /*retain=*/true);
  }
}

}  // namespace ringmq::broker
