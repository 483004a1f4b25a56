// SteppedBroker: the broker's shards in this process, on this thread, stepped by the test one
// loop iteration at a time, with a fake clock. Clients are socket pairs handed to the shard
// of the test's choosing (as if the kernel had accepted them there); the test writes packets
// into them and reads what the broker answered without blocking. Nothing runs between two
// steps, so orderings that are races between threads in a real broker (a mailbox backlog
// when a CONNECT arrives, a retained reply overtaking a live message) can be set up exactly.
//
// Used by the simulation tests (tests/sim) and the broker fuzz target (tests/fuzz). Test
// thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "core/base/clock.h"
#include "core/broker/broker_shard.h"
#include "core/broker/completions.h"
#include "core/broker/hooks.h"
#include "core/mqtt/packet_reader.h"
#include "core/mqtt/packets.h"
#include "core/shard/shard_set.h"
#include "persistence/offline_store.h"
#include "tests/testing/framing_transport.h"
#include "tests/testing/mqtt_client.h"
#include "tests/testing/spread_id.h"

namespace ringmq::testing {

// One client's end of a socket pair. Sends whole packets or raw bytes; Read() takes what the
// broker has written so far. Nothing blocks: what the socket does not take at once (the
// broker is not reading) waits here, in order, and goes out with the next Send, Flush() or
// Read().
class SimClient {
 public:
  SimClient(int fd, mqtt::ProtocolVersion v);
  // Talks through a FramingTransport: sends the hello now, frames from then on.
  void UseFraming(uint64_t seed);
  ~SimClient();
  SimClient(const SimClient&) = delete;
  SimClient& operator=(const SimClient&) = delete;

  // Encodes and writes `p` (a CONNECT sets the version used for decoding).
  void Send(const mqtt::Packet& p);
  void SendRaw(std::string_view bytes);
  // Writes what waits, as far as the socket takes it.
  void Flush();
  // Flushes, then reads what is available now, at most `max_bytes` (never blocks), and
  // returns the packets completed by it. A decoding failure is returned as an error (the
  // stream is not read further).
  absl::StatusOr<std::vector<ReceivedPacket>> Read(size_t max_bytes = SIZE_MAX);
  // The broker closed its end (seen by the last Read()).
  bool closed() const { return closed_; }
  // Closes our end (the broker sees the connection lost).
  void Close();
  int fd() const { return fd_; }
  mqtt::ProtocolVersion version() const { return version_; }

 private:
  int fd_ = -1;
  mqtt::ProtocolVersion version_;
  mqtt::PacketReader reader_;
  bool closed_ = false;
  std::unique_ptr<FramingPeer> framing_;
  std::string unsent_;
};

struct SteppedBrokerOptions {
  uint32_t shards = 2;
  broker::BrokerConfig config;
  size_t mailbox_capacity = 4096;
  // Envelopes a shard takes from each other shard per step (1 lets a test interleave them).
  uint32_t max_messages_per_source = 1024;
  size_t output_high_watermark = 1 << 20;  // per connection (slow-consumer limit)
  net::BackendKind backend = net::BackendKind::kEpoll;
  // Test doubles of the seams (not owned; must outlive the broker). Null: allow everything;
  // the in-memory store.
  broker::BrokerHooks* hooks = nullptr;
  persistence::OfflineStore* store = nullptr;
  // Every connection gets a FramingTransport (framing_transport.h); clients frame too.
  bool framing = false;
};

class SteppedBroker {
 public:
  static absl::StatusOr<std::unique_ptr<SteppedBroker>> Start(const SteppedBrokerOptions& o = {});
  // Stops every shard (stepping them to the end, the clock moving) and frees everything.
  ~SteppedBroker();

  // A new connection arriving on `shard`, for a client speaking `v`. `socket_buffer` > 0
  // shrinks the socket buffers of both ends (SO_SNDBUF/SO_RCVBUF, bytes; the kernel doubles
  // it and has a floor) so that a client that stops reading congests the broker's output
  // after a few kilobytes rather than a few hundred. Null if no socket pair could be made.
  std::unique_ptr<SimClient> Accept(uint32_t shard,
                                    mqtt::ProtocolVersion v = mqtt::ProtocolVersion::kMqtt5,
                                    int socket_buffer = 0);
  // One loop iteration of `shard`.
  void Step(uint32_t shard);
  // `rounds` iterations of every shard, in index order.
  void StepAll(int rounds = 1);
  base::FakeClock& clock() { return clock_; }
  // Completes pending decisions (any thread), as a plugin would.
  broker::DecisionCompleter& completer() { return *completions_; }
  // Where store completions go (any thread), as a store's writer thread would call.
  persistence::StoreListener& store_listener() { return *completions_; }
  uint32_t shards() const { return options_.shards; }
  shard::ShardSet& set() { return *set_; }
  const broker::ShardCounters& counters(uint32_t shard) const { return *shared_.counters[shard]; }
  broker::BrokerShard& broker(uint32_t shard) {
    return static_cast<broker::BrokerShard&>(set_->shard(shard).app());
  }
  // What every shard shares (the session total, the configuration).
  const broker::BrokerShared& shared() const { return shared_; }

 private:
  explicit SteppedBroker(const SteppedBrokerOptions& o) : options_(o) {}

  SteppedBrokerOptions options_;
  base::FakeClock clock_;
  persistence::MemoryStore memory_store_;
  broker::BrokerShared shared_;
  std::unique_ptr<shard::ShardSet> set_;
  std::unique_ptr<broker::CompletionRouter> completions_;
  uint64_t framing_seed_ = 1000;
};

}  // namespace ringmq::testing
