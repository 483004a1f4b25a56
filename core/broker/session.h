// Session: the state MQTT keeps for a client id (MQTT 5 §4.1), living on its home shard
// (hash of the client id). Shard-local (debug builds check it: ShardOwned).
//
// Holds: subscriptions; the outbound QoS 1/2 window (in-flight messages by packet id, in send
// order) and the queue of messages waiting for room in it or for the client to come back;
// the inbound QoS 2 packet ids awaiting PUBREL; the will; the expiry. Everything that can be
// empty allocates nothing while empty, so an idle session costs little memory.
//
// The outbound window is changed only through the methods below, which keep its counters
// (queued bytes, the unsent tail of in-flight, the packet ids in use) consistent with its
// contents, and assert so in debug builds (CheckWindow). What is sent, and when, is decided
// by the delivery code (delivery.cc); the session only keeps the books.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

#include "core/base/ring_queue.h"
#include "core/broker/message.h"
#include "core/broker/shared_group_key.h"
#include "core/mqtt/types.h"
#include "core/net/timer_wheel.h"
#include "core/shard/shard_owned.h"

namespace ringmq::broker {

class BrokerShard;
class Connection;
class Session;

struct WillMessage {
  std::string topic;
  std::string payload;
  std::string forward_properties;  // encoded, as for Message
  mqtt::Qos qos = mqtt::Qos::k0;
  bool retain = false;
  uint32_t delay_s = 0;           // MQTT 5 Will Delay Interval
  uint32_t message_expiry_s = 0;  // 0: none
  bool has_message_expiry = false;
};

// A message for the session: waiting in the queue, or in flight once sent.
struct Queued {
  MessageRef msg;
  uint64_t seq = 0;  // the session's number for it (OfflineStore); 0 for QoS 0
  SubscriptionIds subscription_ids;
  mqtt::Qos qos = mqtt::Qos::k0;
  bool retain = false;             // the RETAIN flag as delivered
  SharedGroupKeyRef shared_group;  // the shared group it was given to (null: not shared)
};

// An outbound QoS 1/2 message sent (or to be sent again) and not yet acknowledged.
struct Inflight {
  enum class State : uint8_t { kAwaitPuback, kAwaitPubrec, kAwaitPubcomp };
  MessageRef msg;  // released once PUBREC arrives (only the PUBREL/PUBCOMP half is left)
  uint64_t seq = 0;
  SubscriptionIds subscription_ids;
  uint16_t packet_id = 0;
  mqtt::Qos qos = mqtt::Qos::k1;
  State state = State::kAwaitPuback;
  bool retain = false;
  bool sent = false;  // written to a connection at least once: a resend carries DUP
  // A QoS 2 message of a persistent session whose packet id the store has not kept yet: not
  // sent before it has (a crash would otherwise forget the id the client holds).
  bool awaiting_store = false;
  SharedGroupKeyRef shared_group;
};

// A timer that knows its session and broker (the wheel calls back with the Timer only).
struct SessionTimer : net::Timer {
  SessionTimer(BrokerShard* b, Session* s, Callback cb) : net::Timer(cb), broker(b), session(s) {}
  BrokerShard* broker;
  Session* session;
};

class Session : public shard::ShardOwned {
 public:
  Session(std::string client_id, uint32_t shard)
      : ShardOwned(shard), client_id_(std::move(client_id)) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::string& client_id() const { return client_id_; }

  Connection* connection = nullptr;  // null while the client is away
  mqtt::ProtocolVersion version = mqtt::ProtocolVersion::kMqtt311;
  // Seconds the session outlives its connection: 0 = ends with it; UINT32_MAX = never.
  uint32_t expiry_s = 0;
  bool persistent() const { return expiry_s > 0; }
  std::unique_ptr<WillMessage> will;
  // Allocated the first time one is needed: most sessions never arm either.
  struct Timers {
    Timers(BrokerShard* b, Session* s, net::Timer::Callback on_expiry, net::Timer::Callback on_will)
        : expiry(b, s, on_expiry), will(b, s, on_will) {}
    SessionTimer expiry;  // armed while disconnected with expiry_s > 0
    SessionTimer will;    // armed while a delayed will waits
  };
  std::unique_ptr<Timers> timers;

  // The session's subscriptions: SubRef bits (router.h), 8 bytes each; the filter text and
  // the options are the router's.
  absl::flat_hash_set<uintptr_t> subscriptions;

  // Retained-message fetches for this session's new subscriptions still in flight (request
  // ids): live messages delivered meanwhile are noted in them (see retained.cc).
  std::vector<uint64_t> retained_fetches;

  // ---- inbound QoS 2: packet ids received and not yet released by PUBREL ----------------
  bool HasUnreleased(uint16_t id) const { return unreleased_.contains(id); }
  void AddUnreleased(uint16_t id) { unreleased_.insert(id); }
  // Whether `id` was there (and is now released).
  bool Release(uint16_t id) { return unreleased_.erase(id) > 0; }
  size_t unreleased() const { return unreleased_.size(); }

  // ---- outbound window ----------------------------------------------------------------------
  // Messages in flight, in send order. The last unsent() of them are not sent on the current
  // connection yet: after a resume they go out again only as the client's Receive Maximum
  // allows [MQTT-4.9.0-1].
  size_t inflight_size() const { return inflight_.size(); }
  Inflight& inflight(size_t i) { return inflight_[i]; }
  uint32_t unsent() const { return unsent_; }
  uint32_t sent_inflight() const { return static_cast<uint32_t>(inflight_.size()) - unsent_; }
  // A non-zero packet id not used by any message in flight [MQTT-2.2.1-4].
  uint16_t NextPacketId();
  // `q` was just sent with `packet_id`: in flight until acknowledged.
  void AddInflight(Queued&& q, uint16_t packet_id);
  // ... or will be, in order, from the unsent tail (not sent yet).
  void AddInflightUnsent(Queued&& q, uint16_t packet_id) {
    AddInflight(std::move(q), packet_id);
    ++unsent_;
  }
  // The in-flight message with `packet_id` in `state`, or -1.
  ptrdiff_t FindInflight(uint16_t packet_id, Inflight::State state) const;
  // Removes in-flight message i (acknowledged, refused, or handed on); returns it.
  Inflight TakeInflight(size_t i);
  // PUBREC arrived for message i: only its PUBREL/PUBCOMP half is left [MQTT-4.3.3-4].
  void AwaitPubcomp(size_t i);
  // A resumed session: every in-flight message is to be sent again.
  void MarkAllUnsent() { unsent_ = static_cast<uint32_t>(inflight_.size()); }
  // The oldest unsent in-flight message was sent again.
  void MarkNextSent();

  size_t queue_size() const { return queue_.size(); }
  uint64_t queued_bytes() const { return queued_bytes_; }
  Queued& queued(size_t i) { return queue_[i]; }
  void Enqueue(Queued&& q);
  Queued PopQueued();
  Queued TakeQueued(size_t i);

  // Numbers the QoS 1/2 messages given to the session (OfflineStore).
  uint64_t NextSeq() { return ++last_seq_; }
  // Recovery: the numbers continue after the highest one kept.
  void SkipSeqTo(uint64_t seq) { last_seq_ = std::max(last_seq_, seq); }

  // Debug builds: the counters agree with the contents.
  void CheckWindow() const;

 private:
  std::string client_id_;
  base::RingQueue<Inflight> inflight_;
  base::RingQueue<Queued> queue_;
  absl::flat_hash_set<uint16_t> inflight_ids_;
  absl::flat_hash_set<uint16_t> unreleased_;
  uint64_t queued_bytes_ = 0;
  uint64_t last_seq_ = 0;
  uint32_t unsent_ = 0;
  uint16_t last_packet_id_ = 0;
};

}  // namespace ringmq::broker
