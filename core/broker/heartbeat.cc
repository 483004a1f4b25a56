// The shard's heartbeat: a timer that runs about once a second on every shard and notes when
// it ran and how busy the shard's event loop has been, for /healthz (a shard whose heartbeat
// is old is stuck) and /metrics (ringmq_shard_loop_busy_seconds_total).
#include "core/base/clock.h"
#include "core/broker/broker_shard.h"

namespace ringmq::broker {

namespace {
constexpr int64_t kHeartbeatIntervalMs = 1000;
}  // namespace

void BrokerShard::OnHeartbeatTimer(net::Timer* t) {
  BrokerShard* b = static_cast<ShardTimer*>(t)->broker;
  b->AssertOnOwnShard();
  ShardCounters& c = b->counters();
  c.heartbeat_ms.store(base::MonotonicMs(), std::memory_order_relaxed);
  ShardCounters::Set(c.loop_busy_ns, b->shard_.reactor().busy_ns());
  if (!b->stopping_) {
    b->shard_.timers().Schedule(&b->heartbeat_timer_, b->now_ms() + kHeartbeatIntervalMs);
  }
}

}  // namespace ringmq::broker
