// State shared between the main thread (which orchestrates a run and prints progress) and
// the shards (which own the connections). Three channels, each with one writer:
//   - LiveCounters: running totals a shard stores (relaxed) once per loop iteration and the
//     main thread loads (relaxed) for progress lines and phase decisions. Totals only grow,
//     so a stale load is just an older total; nothing else is inferred from them.
//   - ShardSlot::interval: latencies since the last progress line, merged in by the shard
//     once a second and taken by the main thread, under the slot's mutex (control path).
//   - ShardReport: written by the shard in OnStop, read by the main thread after
//     ShardSet::Wait() has joined the shard's thread (the join orders the two).
// Commands go the other way as envelopes posted with Shard::PostExternal (RunMsg).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"

#include "bench/load/config.h"
#include "bench/load/histogram.h"
#include "core/base/mutex.h"
#include "core/net/socket_ops.h"
#include "core/tls/tls_context.h"

namespace ringmq::bench {

// Envelope kinds of the load tool.
enum RunMsg : uint32_t {
  kMsgBeginConnecting = 1,  // main -> shard: open the shard's connections
  kMsgStartPublishing = 2,  // main -> shard: u64 = t0 (ns); the windows follow from config
  kMsgProgress = 3,         // shard -> shard: u64 = publisher id, aux = deliveries seen
  kMsgKick = 4,             // shard -> itself: more work next iteration, do not sleep
  kMsgReconnect = 5,        // main -> shard (offline): reconnect the parked subscribers
};

struct alignas(64) LiveCounters {
  std::atomic<uint64_t> connects_started{0};
  std::atomic<uint64_t> connacks{0};
  std::atomic<uint64_t> ready{0};   // CONNACK (and SUBACK for subscribers) done
  std::atomic<uint64_t> failed{0};  // connections that failed or closed unexpectedly
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> expected_window{0};
  std::atomic<uint64_t> unique_window{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> first_connect_ns{0};
  std::atomic<uint64_t> last_connack_ns{0};
  std::atomic<uint64_t> last_ready_ns{0};
  std::atomic<bool> publishing_done{false};  // this shard's clock passed the window's end
  // offline: acknowledgements (success or failure) of PUBLISHes sent in the window, and the
  // drain of the queues by the reconnected subscribers.
  std::atomic<uint64_t> sent_window{0};
  std::atomic<uint64_t> answered_window{0};
  std::atomic<uint64_t> acked{0};  // successful acknowledgements, warm-up included
  std::atomic<uint64_t> reconnected{0};
  std::atomic<uint64_t> offline_unique{0};
  std::atomic<uint64_t> last_arrival_ns{0};
  std::atomic<uint64_t> handshakes{0};  // handshake: CONNACKs of new connections, all
};

struct ShardReport {
  LogHistogram latency;  // in-window messages, first arrival only
  uint64_t connections = 0;
  uint64_t sent = 0;
  uint64_t sent_window = 0;
  uint64_t expected_window = 0;
  uint64_t received = 0;
  uint64_t received_window = 0;
  uint64_t unique_window = 0;
  uint64_t duplicated_window = 0;
  uint64_t reordered_window = 0;
  uint64_t foreign = 0;    // PUBLISHes not from this run (e.g. a persistent session's queue)
  uint64_t misrouted = 0;  // from a publisher this subscriber should not hear from
  uint64_t errors = 0;
  uint64_t pings = 0;
  uint64_t pongs = 0;
  uint64_t sessions_resumed = 0;  // CONNACKs with Session Present 1
  uint64_t stalls = 0;            // e2e windows given up on after a silence (QoS 0 tail loss)
  std::vector<std::string> error_samples;
  // offline. Acknowledged: a successful PUBACK (QoS 1) or PUBREC (QoS 2), whose latency
  // since the PUBLISH went out is in ack_latency (messages sent in the window).
  LogHistogram ack_latency;
  uint64_t acked = 0;
  uint64_t acked_window = 0;
  uint64_t ack_failures = 0;  // acknowledgements with a failure reason code (5.0)
  uint64_t ack_failures_window = 0;
  uint64_t unacked = 0;  // PUBLISHes still waiting for their acknowledgement at the end
  uint64_t reconnected = 0;
  uint64_t offline_received = 0;  // by the reconnected subscribers (--drain_offline)
  uint64_t offline_unique = 0;
  uint64_t offline_duplicated = 0;
  // handshake: new connections that got their CONNACK (connect -> CONNACK latency of those
  // in the window is in `latency`).
  uint64_t handshakes = 0;
  uint64_t handshakes_window = 0;
};

struct ShardSlot {
  LiveCounters live;
  base::Mutex mu;
  LogHistogram interval ABSL_GUARDED_BY(mu);
  ShardReport report;
};

// Everything a shard needs to know about the run. Immutable while shards run.
struct RunContext {
  const BenchConfig* config = nullptr;
  const Plan* plan = nullptr;
  net::Endpoint endpoint;
  uint32_t run_id = 0;
  uint32_t e2e_window = 0;         // 0: off
  tls::TlsContext* tls = nullptr;  // --transport tls|wss: the client context
  std::vector<std::unique_ptr<ShardSlot>> slots;
};

}  // namespace ringmq::bench
