// $SYS: broker statistics published periodically as retained messages (by shard 0, which
// reads every shard's counters; each counter has one writer, so reading it is one relaxed
// load).
#include "absl/strings/str_format.h"

#include "core/broker/broker_shard.h"

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

namespace {

uint64_t Load(const std::atomic<uint64_t>& c) {
  return c.load(std::memory_order_relaxed);
}

// Sum of one counter over every shard.
uint64_t Total(const std::vector<std::unique_ptr<ShardCounters>>& all,
               std::atomic<uint64_t> ShardCounters::*field) {
  uint64_t n = 0;
  for (const auto& c : all) {
    n += Load((*c).*field);
  }
  return n;
}

}  // namespace

void BrokerShard::PublishSys() {
  const auto& all = shared_.counters;
  for (uint32_t i = 0; i < all.size(); ++i) {
    const ShardCounters& c = *all[i];
    const std::string prefix = absl::StrFormat("$SYS/broker/load/shard/%d/", i);
    PublishInternal(prefix + "clients", absl::StrFormat("%d", Load(c.clients)), true);
    PublishInternal(prefix + "messages/received", absl::StrFormat("%d", Load(c.messages_in)), true);
    PublishInternal(prefix + "messages/sent", absl::StrFormat("%d", Load(c.messages_out)), true);
  }
  const int64_t uptime_s = (now_ms() - shared_.start_ms) / 1000;
  PublishInternal("$SYS/broker/version", shared_.version, /*retain=*/true);
  PublishInternal("$SYS/broker/uptime", absl::StrFormat("%d seconds", uptime_s), /*retain=*/true);
  PublishInternal("$SYS/broker/shards", absl::StrFormat("%d", shards_), /*retain=*/true);
  using C = ShardCounters;
  const std::pair<std::string_view, std::atomic<uint64_t> C::*> totals[] = {
      {"$SYS/broker/clients/connected", &C::clients},
      {"$SYS/broker/clients/total", &C::sessions},
      {"$SYS/broker/subscriptions/count", &C::subscriptions},
      {"$SYS/broker/retained messages/count", &C::retained},
      {"$SYS/broker/retained messages/bytes", &C::retained_bytes},
      {"$SYS/broker/messages/queued bytes", &C::queued_bytes},
      {"$SYS/broker/messages/received", &C::messages_in},
      {"$SYS/broker/messages/sent", &C::messages_out},
      {"$SYS/broker/messages/dropped", &C::dropped},
      {"$SYS/broker/bytes/received", &C::bytes_in},
      {"$SYS/broker/bytes/sent", &C::bytes_out},
      // Limits reached, each counted where it was hit (docs/configuration.md).
      {"$SYS/broker/limits/sessions", &C::refused_sessions},
      {"$SYS/broker/limits/queued-bytes-total", &C::refused_queue_total},
      {"$SYS/broker/limits/retained", &C::refused_retained},
      {"$SYS/broker/limits/subscriptions-per-session", &C::refused_subscriptions},
      {"$SYS/broker/limits/filters-per-subscribe", &C::refused_filters},
      {"$SYS/broker/limits/unreleased-qos2", &C::refused_unreleased_qos2},
      {"$SYS/broker/limits/topic-alias-bytes", &C::alias_table_full},
      {"$SYS/broker/limits/decision-timeouts", &C::decision_timeouts},
      {"$SYS/broker/limits/late-decisions", &C::late_decisions},
      {"$SYS/broker/store/refused", &C::refused_unstored},
  };
  for (const auto& [topic, field] : totals) {
    PublishInternal(topic, absl::StrFormat("%d", Total(all, field)), /*retain=*/true);
  }
  // The store's own figures (zero for the in-memory store).
  const persistence::StoreStats st = shared_.store->Stats();
  const std::pair<std::string_view, uint64_t> store[] = {
      {"$SYS/broker/store/commits", st.commits},
      {"$SYS/broker/store/writes", st.operations},
      {"$SYS/broker/store/failed-commits", st.failed_commits},
      {"$SYS/broker/store/pending-bytes", st.pending_bytes},
      {"$SYS/broker/store/last-commit-us", st.last_commit_us},
      {"$SYS/broker/store/max-commit-us", st.max_commit_us},
      {"$SYS/broker/store/accepting", st.accepting ? 1u : 0u},
  };
  for (const auto& [topic, value] : store) {
    PublishInternal(topic, absl::StrFormat("%d", value), /*retain=*/true);
  }
  if (shared_.outside_figures) {
    for (const auto& [topic, value] : shared_.outside_figures()) {
      PublishInternal(topic, absl::StrFormat("%d", value), /*retain=*/true);
    }
  }
}

}  // namespace ringmq::broker
