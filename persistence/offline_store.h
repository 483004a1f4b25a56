// OfflineStore: what the broker tells the store so that a restart or a crash loses nothing
// that was acknowledged, and what the store gives back at start. The interface only: no
// SQLite types here (persistence/sqlite/ implements it).
//
// Writes. Called on the shard that owns the state (a session's home shard, a retained
// topic's partition); an implementation must never block the shard (it queues the write for
// its own thread). Every write names the state it changes; `token` (0: nobody waits)
// identifies an acknowledgement that depends on it. A write returns true when it will become
// durable later: the store then calls StoreListener::OnStoreCommitted(token), from any thread,
// once its batch has committed, and the broker holds the acknowledgement until then. A write
// that returns false is already as durable as it will be.
//
// What is written covers every piece of session state: the session (expiry, version), its
// will, its subscriptions with their options and identifiers, the QoS 1/2 messages given to
// it (queued, then in flight with a packet id, then past PUBREC, then done), the QoS 2 packet
// ids it sent and has not released yet (exactly once across a restart), and the retained
// messages with their expiry.
//
// Recovery. Before the shards start, Recover() hands everything back to a RecoverySink
// (core/broker routes each record to the shard that owns it now, so a changed shard count
// works). A store that cannot be read, or whose contents fail its checks, returns an error
// that names what is wrong; it is never replaced by an empty one.
//
// The in-memory store (MemoryStore) keeps nothing: the broker's own structures are the
// state, every write returns false, and recovery finds nothing: `--persistence memory`, for
// benchmarks (the broker says so in its log). The SQLite store is persistence/sqlite/.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/status.h"

#include "core/base/latency_histogram.h"
#include "core/mqtt/types.h"

namespace ringmq::persistence {

// The parts of a message the store keeps (views valid during the call).
struct MessageView {
  std::string_view topic;
  std::string_view payload;
  std::string_view properties;  // forwarded MQTT 5 properties, encoded
  mqtt::Qos qos = mqtt::Qos::k0;
  bool retain = false;
  int64_t expiry_deadline_ms = 0;  // monotonic ms; 0: never
  // The message's identity within this process run, the same in every session's copy on every
  // shard, so that a store keeps one body for all the queues that hold it. Ids the broker makes
  // have a non-zero top byte (the making shard + 1); a store may hand its own ids back at
  // recovery with a zero top byte. 0: none (e.g. a message made for this call only).
  uint64_t id = 0;
};

struct SessionView {
  std::string_view client_id;
  mqtt::ProtocolVersion version = mqtt::ProtocolVersion::kMqtt311;
  uint32_t expiry_s = 0;
  // Recovery only: how long the session has been without its connection (since its
  // disconnection, or since the last commit before a crash); its expiry counts from then.
  int64_t offline_ms = 0;
};

struct WillView {
  std::string_view topic;
  std::string_view payload;
  std::string_view properties;  // forwarded MQTT 5 properties, encoded
  mqtt::Qos qos = mqtt::Qos::k0;
  bool retain = false;
  uint32_t delay_s = 0;
  uint32_t message_expiry_s = 0;
  bool has_message_expiry = false;
};

struct SubscriptionView {
  std::string_view filter;  // "$share/<name>/<filter>" for a shared subscription
  mqtt::SubscriptionOptions options;
  uint32_t subscription_id = 0;
};

// A QoS 1/2 message of a session, as the session holds it.
struct DeliveryView {
  uint64_t seq = 0;  // the session's number for it, in the order it was given to the session
  MessageView message;
  mqtt::Qos qos = mqtt::Qos::k1;  // as delivered (granted)
  bool retain = false;            // the RETAIN flag as delivered
  uint16_t packet_id = 0;         // 0: queued, never sent
  bool released = false;          // QoS 2: PUBREC received, only PUBREL/PUBCOMP is left
};

// What a store reports in $SYS (all zero for the in-memory store).
struct StoreStats {
  uint64_t commits = 0;         // transactions committed
  uint64_t operations = 0;      // writes committed
  uint64_t failed_commits = 0;  // transactions that failed (disk full, I/O error) and wait
  uint64_t pending_bytes = 0;   // bytes of writes not committed yet
  uint64_t last_commit_us = 0;  // how long the last commit took
  uint64_t max_commit_us = 0;   // the longest commit since start
  bool accepting = true;        // see OfflineStore::Accepting()

  base::LatencySnapshot commit_latency;  // how long each commit took (µs buckets)
};

class StoreListener {
 public:
  virtual ~StoreListener() = default;
  // A write that returned true with `token` is durable. Any thread.
  virtual void OnStoreCommitted(uint64_t token) = 0;
};

// What Recover() hands back. Called on the thread that calls Recover().
class RecoverySink {
 public:
  virtual ~RecoverySink() = default;
  virtual void Session(const SessionView& s, const WillView* will) = 0;
  virtual void Subscription(std::string_view client_id, const SubscriptionView& sub) = 0;
  virtual void Delivery(std::string_view client_id, const DeliveryView& d) = 0;
  virtual void UnreleasedQos2(std::string_view client_id, uint16_t packet_id) = 0;
  virtual void Retained(const MessageView& m) = 0;
};

class OfflineStore {
 public:
  virtual ~OfflineStore() = default;

  // Whether writes complete asynchronously (acknowledgements wait for them).
  virtual bool durable() const = 0;
  // Where completions go. Set once, before the shards start.
  virtual void SetListener(StoreListener* /*l*/) {}
  // Hands every stored record to `sink` (sessions first, then what belongs to them).
  virtual absl::Status Recover(RecoverySink& sink) = 0;
  // Whether a new message can be made durable now. False while the disk is full or failing,
  // or while the writes waiting for the disk exceed their bound: the broker then refuses
  // messages that would need the store instead of acknowledging what it cannot keep. Writes
  // of state that already exists (a message sent or done, a session ended) are taken
  // regardless. Any thread.
  virtual bool Accepting() const { return true; }
  virtual StoreStats Stats() const { return {}; }
  // Commits what is queued and stops; after the shards have stopped. Main thread.
  virtual void Close() {}

  // A session that outlives its connection (expiry > 0) began or changed.
  virtual bool SessionUpdated(const SessionView& s, uint64_t token) = 0;
  // ... lost its connection (its expiry counts from now).
  virtual bool SessionOffline(std::string_view /*client_id*/, uint64_t /*token*/) { return false; }
  // ... ended: with its will, subscriptions, messages and unreleased ids.
  virtual bool SessionEnded(std::string_view client_id, uint64_t token) = 0;
  // The session's will (null: none any more).
  virtual bool WillSet(std::string_view client_id, const WillView* will, uint64_t token) = 0;
  virtual bool SubscriptionAdded(std::string_view client_id, const SubscriptionView& sub,
                                 uint64_t token) = 0;
  virtual bool SubscriptionRemoved(std::string_view client_id, std::string_view filter,
                                   uint64_t token) = 0;
  // A QoS 1/2 message now belongs to the session (queued, or sent at once) ...
  virtual bool MessageQueued(std::string_view client_id, const DeliveryView& d, uint64_t token) = 0;
  // ... was sent with a packet id, or (QoS 2) got its PUBREC ...
  virtual bool MessageSent(std::string_view client_id, uint64_t seq, uint16_t packet_id,
                           bool released, uint64_t token) = 0;
  // ... and is done with (acknowledged, expired, dropped or handed to another member).
  virtual bool MessageDone(std::string_view client_id, uint64_t seq, uint64_t token) = 0;
  // A QoS 2 PUBLISH from the client was accepted / its PUBREL arrived.
  virtual bool UnreleasedQos2Added(std::string_view client_id, uint16_t packet_id,
                                   uint64_t token) = 0;
  virtual bool UnreleasedQos2Released(std::string_view client_id, uint16_t packet_id,
                                      uint64_t token) = 0;
  // The retained message of a topic was set, or deleted (empty payload).
  virtual bool RetainedSet(const MessageView& m, uint64_t token) = 0;
};

// The in-memory store: every write is a no-op that completes at once (see above).
class MemoryStore final : public OfflineStore {
 public:
  bool durable() const override { return false; }
  absl::Status Recover(RecoverySink&) override { return absl::OkStatus(); }
  bool SessionUpdated(const SessionView&, uint64_t) override { return false; }
  bool SessionEnded(std::string_view, uint64_t) override { return false; }
  bool WillSet(std::string_view, const WillView*, uint64_t) override { return false; }
  bool SubscriptionAdded(std::string_view, const SubscriptionView&, uint64_t) override {
    return false;
  }
  bool SubscriptionRemoved(std::string_view, std::string_view, uint64_t) override { return false; }
  bool MessageQueued(std::string_view, const DeliveryView&, uint64_t) override { return false; }
  bool MessageSent(std::string_view, uint64_t, uint16_t, bool, uint64_t) override { return false; }
  bool MessageDone(std::string_view, uint64_t, uint64_t) override { return false; }
  bool UnreleasedQos2Added(std::string_view, uint16_t, uint64_t) override { return false; }
  bool UnreleasedQos2Released(std::string_view, uint16_t, uint64_t) override { return false; }
  bool RetainedSet(const MessageView&, uint64_t) override { return false; }
};

}  // namespace ringmq::persistence
