// Session: the state MQTT keeps for a client id (MQTT 5 §4.1), living on its home shard
// (hash of the client id). Shard-local. Plain state; the logic that changes it is in
// BrokerShard (handle_*.cc, delivery.cc).
//
// Holds: subscriptions; the outbound QoS 1/2 window (in-flight messages by packet id, in send
// order) and the queue of messages waiting for room in it or for the client to come back;
// the inbound QoS 2 packet ids awaiting PUBREL; the will; the expiry. Everything that can be
// empty allocates nothing while empty, so an idle session costs little memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "core/base/ring_queue.h"
#include "core/broker/message.h"
#include "core/mqtt/types.h"
#include "core/net/timer_wheel.h"

namespace ringmq::broker {

class BrokerShard;
class Connection;
class Session;

// A subscription as the session keeps it (the filter is the map key).
struct SessionSubscription {
  mqtt::SubscriptionOptions options;
  uint32_t subscription_id = 0;  // MQTT 5, 0 = none
};

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

// An outbound QoS 1/2 message sent (or about to be sent) and not yet acknowledged.
struct Inflight {
  enum class State : uint8_t { kAwaitPuback, kAwaitPubrec, kAwaitPubcomp };
  MessageRef msg;    // released once PUBREC arrives (only the PUBREL/PUBCOMP half is left)
  uint64_t seq = 0;  // the session's number for it (OfflineStore)
  uint32_t subscription_id = 0;
  uint16_t packet_id = 0;
  mqtt::Qos qos = mqtt::Qos::k1;
  State state = State::kAwaitPuback;
  bool retain = false;        // the RETAIN flag as delivered
  uint64_t shared_group = 0;  // the shared group it was given to (0: not shared)
};

// A message waiting for room in the window or for the client to reconnect.
struct Queued {
  MessageRef msg;
  uint64_t seq = 0;
  uint32_t subscription_id = 0;
  mqtt::Qos qos = mqtt::Qos::k0;
  bool retain = false;
  uint64_t shared_group = 0;
};

// A timer that knows its session and broker (the wheel calls back with the Timer only).
struct SessionTimer : net::Timer {
  SessionTimer(BrokerShard* b, Session* s, Callback cb) : net::Timer(cb), broker(b), session(s) {}
  BrokerShard* broker;
  Session* session;
};

class Session {
 public:
  explicit Session(std::string client_id) : client_id_(std::move(client_id)) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::string& client_id() const { return client_id_; }

  Connection* connection = nullptr;  // null while the client is away
  mqtt::ProtocolVersion version = mqtt::ProtocolVersion::kMqtt311;
  // Seconds the session outlives its connection: 0 = ends with it; UINT32_MAX = never.
  uint32_t expiry_s = 0;
  std::unique_ptr<WillMessage> will;
  // Allocated the first time one is needed: most sessions never arm either.
  struct Timers {
    Timers(BrokerShard* b, Session* s, net::Timer::Callback on_expiry, net::Timer::Callback on_will)
        : expiry(b, s, on_expiry), will(b, s, on_will) {}
    SessionTimer expiry;  // armed while disconnected with expiry_s > 0
    SessionTimer will;    // armed while a delayed will waits
  };
  std::unique_ptr<Timers> timers;

  absl::flat_hash_map<std::string, SessionSubscription> subscriptions;

  base::RingQueue<Inflight> inflight;  // in send order
  // The last `unsent` entries of `inflight` are not sent on the current connection yet: after
  // a resume they go out again only as the client's Receive Maximum allows [MQTT-4.9.0-1].
  uint32_t unsent = 0;
  uint32_t sent_inflight() const { return static_cast<uint32_t>(inflight.size()) - unsent; }
  base::RingQueue<Queued> queue;
  uint64_t queued_bytes = 0;
  uint16_t last_packet_id = 0;
  uint64_t last_seq = 0;  // numbers QoS 1/2 messages given to the session (OfflineStore)
  bool persistent() const { return expiry_s > 0; }
  std::vector<uint16_t> inbound_qos2;  // PUBLISH QoS 2 received, PUBREL not yet

 private:
  std::string client_id_;
};

}  // namespace ringmq::broker
