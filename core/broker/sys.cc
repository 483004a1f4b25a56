// $SYS: broker statistics published periodically as retained messages (by shard 0, which
// reads every shard's counters; each counter has one writer, so reading it is one relaxed
// load).
#include "absl/strings/str_format.h"

#include "core/broker/broker_shard.h"

namespace ringmq::broker {

void BrokerShard::OnSysTimer(net::Timer* t) {
  BrokerShard* b = static_cast<ShardTimer*>(t)->broker;
  if (b->stopping_) {
    return;
  }
  b->PublishSys();
  b->shard_.timers().Schedule(&b->sys_timer_,
                              b->now_ms() + int64_t{b->config().sys_interval_s} * 1000);
}

void BrokerShard::PublishInternal(std::string_view topic, std::string_view payload, bool retain) {
  MessageInit init;
  init.topic = topic;
  init.payload = payload;
  init.retain = retain;
  Route(Message::Create(init), nullptr);
}

void BrokerShard::PublishSys() {
  auto load = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  uint64_t clients = 0, sessions = 0, subscriptions = 0, retained = 0;
  uint64_t in = 0, out = 0, bytes_in = 0, bytes_out = 0, dropped = 0;
  for (uint32_t i = 0; i < shared_.counters.size(); ++i) {
    const ShardCounters& c = *shared_.counters[i];
    clients += load(c.clients);
    sessions += load(c.sessions);
    subscriptions += load(c.subscriptions);
    retained += load(c.retained);
    in += load(c.messages_in);
    out += load(c.messages_out);
    bytes_in += load(c.bytes_in);
    bytes_out += load(c.bytes_out);
    dropped += load(c.dropped);
    const std::string prefix = absl::StrFormat("$SYS/broker/load/shard/%d/", i);
    PublishInternal(prefix + "clients", absl::StrFormat("%d", load(c.clients)), true);
    PublishInternal(prefix + "messages/received", absl::StrFormat("%d", load(c.messages_in)), true);
    PublishInternal(prefix + "messages/sent", absl::StrFormat("%d", load(c.messages_out)), true);
  }
  const int64_t uptime_s = (now_ms() - shared_.start_ms) / 1000;
  const std::pair<std::string_view, std::string> values[] = {
      {"$SYS/broker/version", shared_.version},
      {"$SYS/broker/uptime", absl::StrFormat("%d seconds", uptime_s)},
      {"$SYS/broker/shards", absl::StrFormat("%d", shards_)},
      {"$SYS/broker/clients/connected", absl::StrFormat("%d", clients)},
      {"$SYS/broker/clients/total", absl::StrFormat("%d", sessions)},
      {"$SYS/broker/subscriptions/count", absl::StrFormat("%d", subscriptions)},
      {"$SYS/broker/retained messages/count", absl::StrFormat("%d", retained)},
      {"$SYS/broker/messages/received", absl::StrFormat("%d", in)},
      {"$SYS/broker/messages/sent", absl::StrFormat("%d", out)},
      {"$SYS/broker/messages/dropped", absl::StrFormat("%d", dropped)},
      {"$SYS/broker/bytes/received", absl::StrFormat("%d", bytes_in)},
      {"$SYS/broker/bytes/sent", absl::StrFormat("%d", bytes_out)},
  };
  for (const auto& [topic, value] : values) {
    PublishInternal(topic, value, /*retain=*/true);
  }
}

}  // namespace ringmq::broker
