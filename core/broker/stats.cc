#include "core/broker/stats.h"

#include <utility>

#include "core/broker/broker_shard.h"

namespace ringmq::broker {
namespace {

using C = ShardCounters;
using Field = std::atomic<uint64_t> C::*;

uint64_t Load(const std::atomic<uint64_t>& c) {
  return c.load(std::memory_order_relaxed);
}

// The limits, each counted where it was hit (docs/configuration.md).
struct LimitCounter {
  std::string_view sys_topic;
  std::string_view reason;
  Field field;
};
constexpr LimitCounter kLimits[] = {
    {"$SYS/broker/limits/sessions", "limit_sessions", &C::refused_sessions},
    {"$SYS/broker/limits/queued-bytes-total", "limit_queued_bytes_total", &C::refused_queue_total},
    {"$SYS/broker/limits/retained", "limit_retained", &C::refused_retained},
    {"$SYS/broker/limits/subscriptions-per-session", "limit_subscriptions_per_session",
     &C::refused_subscriptions},
    {"$SYS/broker/limits/filters-per-subscribe", "limit_filters_per_subscribe",
     &C::refused_filters},
    {"$SYS/broker/limits/unreleased-qos2", "limit_unreleased_qos2", &C::refused_unreleased_qos2},
    {"$SYS/broker/limits/topic-alias-bytes", "limit_topic_alias_bytes", &C::alias_table_full},
    {"$SYS/broker/limits/decision-timeouts", "decision_timeout", &C::decision_timeouts},
    {"$SYS/broker/limits/late-decisions", "late_decision", &C::late_decisions},
    {"$SYS/broker/store/refused", "store_refused", &C::refused_unstored},
};

// DropReason (index) as a label.
static_assert(kDropReasons == 6, "a new DropReason needs its label here");
constexpr std::string_view kDropReasonLabels[kDropReasons] = {
    "offline", "slow_consumer", "queue_full", "expired", "too_large", "not_stored"};

ShardStats OneShard(const C& c) {
  ShardStats s;
  s.connections = Load(c.connections);
  s.clients = Load(c.clients);
  s.messages_in = Load(c.messages_in);
  s.messages_out = Load(c.messages_out);
  s.queued_bytes = Load(c.queued_bytes);
  s.queued_messages = Load(c.queued_messages);
  s.heartbeat_ms = c.heartbeat_ms.load(std::memory_order_relaxed);
  s.loop_busy_ns = Load(c.loop_busy_ns);
  return s;
}

void AddShard(const C& c, BrokerStats* t) {
  const std::pair<uint64_t*, Field> sums[] = {
      {&t->connections, &C::connections},   {&t->clients, &C::clients},
      {&t->sessions, &C::sessions},         {&t->subscriptions, &C::subscriptions},
      {&t->retained, &C::retained},         {&t->retained_bytes, &C::retained_bytes},
      {&t->queued_bytes, &C::queued_bytes}, {&t->queued_messages, &C::queued_messages},
      {&t->messages_in, &C::messages_in},   {&t->messages_out, &C::messages_out},
      {&t->bytes_in, &C::bytes_in},         {&t->bytes_out, &C::bytes_out},
      {&t->dropped, &C::dropped},           {&t->connects_refused, &C::connects_refused},
  };
  for (const auto& [total, field] : sums) {
    *total += Load(c.*field);
  }
  for (size_t q = 0; q < 3; ++q) {
    t->messages_in_by_qos[q] += Load(c.messages_in_by_qos[q]);
    t->messages_out_by_qos[q] += Load(c.messages_out_by_qos[q]);
  }
  for (size_t r = 0; r < kDropReasons; ++r) {
    t->drops[r].value += Load(c.dropped_by_reason[r]);
  }
  for (size_t i = 0; i < std::size(kLimits); ++i) {
    t->drops[kDropReasons + i].value += Load(c.*kLimits[i].field);
  }
}

}  // namespace

BrokerStats GatherStats(const BrokerShared& shared, int64_t now_ms) {
  BrokerStats t;
  t.version = shared.version;
  t.uptime_s = (now_ms - shared.start_ms) / 1000;
  for (std::string_view reason : kDropReasonLabels) {
    t.drops.push_back({{}, reason, 0});
  }
  for (const LimitCounter& l : kLimits) {
    t.drops.push_back({l.sys_topic, l.reason, 0});
  }
  for (const auto& c : shared.counters) {
    t.shards.push_back(OneShard(*c));
    AddShard(*c, &t);
  }
  if (shared.store != nullptr) {
    t.store = shared.store->Stats();
  }
  if (shared.outside_figures) {
    t.outside = shared.outside_figures();
  }
  return t;
}

}  // namespace ringmq::broker
