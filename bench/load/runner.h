// Running one benchmark: RunBench starts a ShardSet with one LoadShard per thread, drives
// the phases from the calling (main) thread and returns the merged result. ToJson and
// ExitCode turn a result into the tool's output. Main thread only.
//
// Phases of a run:
//   1. connect: every shard opens its slice of the connections (CONNECT, SUBSCRIBE), at most
//      --connect_concurrency in progress at once and --connect_rate per second; the time
//      from the first connect to the last CONNACK is connect_time_ms;
//   2. publish (not for `connect`; for `handshake` only the window, its clients reconnect in
//      a loop from the start): publishers start at t0; [t0, t0 + warmup) is warm-up,
//      [w0, w1) = [t0 + warmup, t0 + warmup + duration) the measured window. A message
//      counts if it was *sent* inside the window, wherever it is received;
//      `connect` instead holds the connections idle for the duration;
//   3. drain: after w1, until every message sent in the window has arrived, nothing arrived
//      for a second, or --drain seconds passed;
//   4. offline with --drain_offline: the parked subscribers connect again and receive their
//      queues, until every acknowledged message arrived in every queue that should hold it,
//      nothing arrived for a second, or --drain_offline_timeout passed;
//   5. stop: DISCONNECT everywhere, shards join, their reports are merged.
// The broker's CPU time (/proc/PID/stat) and the tool's own are sampled at w0 and w1.
#pragma once

#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "bench/load/config.h"

namespace ringmq::bench {

struct BenchResult {
  std::string backend;
  uint64_t connections = 0;  // connections that completed CONNACK (+ SUBACK)
  uint64_t connect_failures = 0;
  double connect_time_ms = 0;  // first connect -> last CONNACK
  double ready_time_ms = 0;    // first connect -> last SUBACK (everyone ready)
  double window_s = 0;
  uint64_t sent = 0;      // PUBLISHes sent inside the window
  uint64_t expected = 0;  // sent * subscribers each one should reach
  uint64_t received = 0;  // distinct in-window messages received
  uint64_t lost = 0;
  uint64_t duplicated = 0;
  uint64_t reordered = 0;
  uint64_t sent_total = 0;  // warm-up and window
  uint64_t received_total = 0;
  uint64_t foreign = 0;
  uint64_t misrouted = 0;
  uint64_t stalls = 0;
  uint64_t pings = 0;
  uint64_t pongs = 0;
  uint64_t sessions_resumed = 0;  // CONNACKs with Session Present 1 (--noclean)
  double throughput = 0;          // received / window_s
  double p50_us = 0;
  double p90_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  double max_us = 0;
  double mean_us = 0;
  uint64_t errors = 0;
  std::vector<std::string> error_samples;
  bool drained = true;  // every expected message arrived before the drain ended
  bool interrupted = false;
  // Broker (--broker_pid).
  bool have_broker = false;
  double broker_cpu_s = 0;  // utime + stime over the window
  uint64_t broker_rss_kb = 0;
  uint64_t broker_rss_start_kb = 0;  // before the first connection
  uint64_t broker_hwm_kb = 0;
  double msgs_per_broker_cpu_s = 0;
  // The tool itself: CPU over the window; engine counters over the whole run.
  double tool_cpu_s = 0;
  uint64_t tool_sends = 0;
  uint64_t tool_bytes_out = 0;
  uint64_t tool_bytes_in = 0;
  uint64_t tool_loops = 0;
  uint64_t tool_sleeps = 0;
  // offline: throughput counts acknowledged PUBLISHes and the latency fields are
  // PUBLISH -> PUBACK (PUBREC at QoS 2); received/expected/lost/duplicated describe the
  // drain by the reconnected subscribers (--drain_offline), 0 without it.
  uint64_t acked = 0;         // in the window, success
  uint64_t ack_failures = 0;  // in the window, a failure reason code (5.0)
  uint64_t acked_total = 0;   // warm-up included: what the queues must hold
  uint64_t ack_failures_total = 0;
  uint64_t unacked = 0;             // still waiting for an acknowledgement at the end
  uint64_t copies_per_message = 0;  // subscribers each message is queued for
  uint64_t queued_copies = 0;       // acked_total x copies_per_message
  bool offline_drained = false;     // every queued copy arrived (--drain_offline)
  uint64_t reconnected = 0;
  double offline_reconnect_ms = 0;  // kMsgReconnect -> every subscriber's CONNACK
  double offline_drain_ms = 0;      // kMsgReconnect -> the last arrival
  double offline_drain_rate = 0;    // distinct arrivals / offline_drain_ms
  // handshake: new connections that got their CONNACK in the window (the latency fields are
  // connect -> CONNACK of those), per second, and per broker CPU-second.
  uint64_t handshakes = 0;
  double handshake_rate = 0;
  double handshakes_per_broker_cpu_s = 0;
};

absl::StatusOr<BenchResult> RunBench(const BenchConfig& config);

std::string ToJson(const BenchConfig& config, const BenchResult& r);

// 0: clean run; 1: lost what must not be lost (QoS 1/2 loss, QoS 0/2 duplicates, QoS 0 loss
// with --strict, misrouted messages, connection failures, protocol errors, interrupted).
int ExitCode(const BenchConfig& config, const BenchResult& r);

}  // namespace ringmq::bench
