// BrokerStats: one snapshot of every shard's counters and the store's figures: the one
// source of both $SYS (sys.cc, published by shard 0) and /metrics (core/server/admin). Any
// thread: each counter has one writer and is read with one relaxed load, so a snapshot
// costs the shards nothing (no lock, no message); its figures may be a few events apart.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "persistence/offline_store.h"

namespace ringmq::broker {

struct BrokerShared;

// One shard's figures.
struct ShardStats {
  uint64_t connections = 0;
  uint64_t clients = 0;
  uint64_t messages_in = 0;
  uint64_t messages_out = 0;
  uint64_t queued_bytes = 0;
  uint64_t queued_messages = 0;
  int64_t heartbeat_ms = 0;  // base::MonotonicMs of its heartbeat timer's last run (0: never)
  uint64_t loop_busy_ns = 0;
};

// A counter summed over the shards, with its $SYS topic and its label in /metrics.
struct CountedTotal {
  std::string_view sys_topic;  // empty: not in $SYS
  std::string_view reason;     // the `reason` label of ringmq_drops_total
  uint64_t value = 0;
};

// A counter kept outside the broker (the TLS listeners' handshakes), with its $SYS topic and
// its /metrics name.
struct OutsideFigure {
  std::string sys_topic;  // "$SYS/broker/tls/handshakes"
  std::string metric;     // "ringmq_tls_handshakes_total"
  std::string help;
  uint64_t value = 0;
};

struct BrokerStats {
  std::string version;
  int64_t uptime_s = 0;
  std::vector<ShardStats> shards;
  // Sums over the shards.
  uint64_t connections = 0;
  uint64_t clients = 0;
  uint64_t sessions = 0;
  uint64_t subscriptions = 0;
  uint64_t retained = 0;
  uint64_t retained_bytes = 0;
  uint64_t queued_bytes = 0;
  uint64_t queued_messages = 0;
  uint64_t messages_in = 0;
  uint64_t messages_out = 0;
  std::array<uint64_t, 3> messages_in_by_qos{};
  std::array<uint64_t, 3> messages_out_by_qos{};
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t dropped = 0;
  uint64_t connects_refused = 0;
  // Messages dropped for a session, by reason (offline, slow_consumer, ...), then the limits
  // that refused something ($SYS/broker/limits/..., $SYS/broker/store/refused).
  std::vector<CountedTotal> drops;
  persistence::StoreStats store;
  std::vector<OutsideFigure> outside;  // BrokerShared::outside_figures
};

// `now_ms`: base::MonotonicMs (the uptime is counted from shared.start_ms).
BrokerStats GatherStats(const BrokerShared& shared, int64_t now_ms);

}  // namespace ringmq::broker
