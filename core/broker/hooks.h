// BrokerHooks: the port through which authentication, authorisation and message observers
// (the plugin host, later; test doubles now) meet the broker. One object serves every shard;
// each call is made on the shard that owns the connection (or the session), so calls for one
// client never overlap, and calls for different clients may run at once on different shards.
//
// Decisions. CONNECT (with its will, which obeys the rules of a PUBLISH), each PUBLISH and each
// filter of a SUBSCRIBE asks for a decision: Allow, Deny (with the reason: a 5.0 reason code;
// 3.x clients get their equivalent) or Pending. A hook must not block its shard: for an answer
// that takes time (a remote service) it returns Pending, keeps `ticket`, and later, from any
// thread, calls DecisionCompleter::Complete(ticket, decision). Until then that client's later
// packets wait, in order, and nothing else on the shard does. A decision not completed within
// BrokerConfig::decision_timeout_ms counts as a refusal (CONNECT: 5.0 0x88, 3.x return code
// 3; PUBLISH/SUBSCRIBE: 0x80), and a late answer is counted ($SYS/broker/limits/late-
// decisions) and dropped.
//
// Per shard: OnShardStart is called on each shard's thread before it serves a client, with
// the services a hook may use on that shard (publish, timers); OnShardStop after its last
// event. A chain of deciders (the plugin host) answers Pending and, when its ticket is
// completed, is asked again through OnDecisionCompleted on the shard's thread: it may give
// the final answer or keep waiting on the same ticket (the next plugin pends).
//
// Message events: each comes from exactly one place in the broker (MessagePublished in
// routing.cc, MessageDelivered and MessageDropped in delivery.cc), so an observer sees every
// message once per event.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/broker/message.h"
#include "core/mqtt/reason_code.h"
#include "core/mqtt/types.h"
#include "core/net/timer_wheel.h"

namespace ringmq::broker {

// kContinue: enhanced authentication only (another AUTH round with the client).
enum class Verdict : uint8_t { kAllow, kDeny, kPending, kContinue };

struct Decision {
  Verdict verdict = Verdict::kAllow;
  mqtt::ReasonCode reason = mqtt::ReasonCode::kSuccess;  // with kDeny: why (5.0 code)

  static Decision Allow() { return {}; }
  static Decision Deny(mqtt::ReasonCode rc = mqtt::ReasonCode::kNotAuthorized) {
    return {Verdict::kDeny, rc};
  }
  static Decision Pending() { return {Verdict::kPending, mqtt::ReasonCode::kSuccess}; }
  bool allowed() const { return verdict == Verdict::kAllow; }
};

// Who asks (views valid during the call).
struct ClientInfo {
  std::string_view client_id;
  std::string_view username;  // empty when none was given
  mqtt::ProtocolVersion version = mqtt::ProtocolVersion::kMqtt311;
  bool has_username = false;
  uint32_t shard = 0;  // the shard the call is made on
  int socket_fd = -1;  // the connection's socket (for its peer address); -1: none
  // The identity its TLS client certificate proved, when the listener makes it the user name.
  std::string_view cert_identity;
};

struct ConnectRequest {
  ClientInfo client;
  std::string_view password;  // binary; empty when none was given
  bool has_password = false;
  bool clean_start = true;
};

struct PublishRequest {
  ClientInfo client;
  std::string_view topic;
  std::string_view payload;
  mqtt::Qos qos = mqtt::Qos::k0;
  bool retain = false;
  bool will = false;  // the will of a CONNECT, decided with it
};

struct SubscribeRequest {
  ClientInfo client;
  std::string_view filter;  // as sent, "$share/..." included
  mqtt::Qos qos = mqtt::Qos::k0;
};

// MQTT 5.0 enhanced authentication [MQTT-4.12]: the CONNECT that names an Authentication
// Method (step 0), each AUTH the client sends, and re-authentication once connected.
struct AuthStepRequest {
  ClientInfo client;
  std::string_view method;
  std::string_view data;  // Authentication Data (binary), empty when absent
  uint32_t step = 0;
  bool reauth = false;  // after CONNACK (AUTH 0x19)
};

struct AuthStepResult {
  Decision decision;  // kAllow, kDeny, kPending or kContinue
  std::string data;   // Authentication Data for the AUTH (continue) or CONNACK/AUTH (allow)
};

// Why a message did not reach a subscriber.
enum class DropReason : uint8_t {
  kOffline,       // QoS 0 for a session without a connection
  kSlowConsumer,  // QoS 0 for a connection whose output is congested
  kQueueFull,     // the session's queue (or the shard's share of all queues) is full
  kExpired,       // its Message Expiry Interval passed [MQTT-3.3.2-5]
  kTooLarge,      // larger than the client's Maximum Packet Size [MQTT-3.1.2-25]
  kNotStored,     // for a persistent session while the store refuses (disk full, I/O error)
};
std::string_view DropReasonName(DropReason r);

struct MessageEvent {
  const Message& message;
  ClientInfo client;  // publisher (published) or receiver (delivered, dropped)
  mqtt::Qos qos = mqtt::Qos::k0;
};

// What a shard offers the hooks called on it (OnShardStart). Its thread only.
class ShardServices {
 public:
  virtual uint32_t shard_index() const = 0;
  virtual int64_t clock_ms() const = 0;
  // A message from the broker itself (no publisher, no decision). False: `topic` is not a
  // valid topic name.
  virtual bool PublishFromBroker(std::string_view topic, std::string_view payload, mqtt::Qos qos,
                                 bool retain) = 0;
  virtual net::TimerWheel& shard_timers() = 0;

 protected:
  ~ShardServices() = default;
};

class BrokerHooks {
 public:
  virtual ~BrokerHooks() = default;

  // The hooks worth calling on the message path (bits below); the broker skips the others,
  // and what it would build for them (the publisher's session lookup, a ticket). Read once
  // per shard when it is made, so the answer must not change while the broker runs.
  enum Want : uint32_t {
    kWantPublishDecision = 1u << 0,
    kWantPublished = 1u << 1,
    kWantDelivered = 1u << 2,
    kWantDropped = 1u << 3,
  };
  virtual uint32_t Wants() const { return ~0u; }

  virtual Decision OnConnect(const ConnectRequest& /*r*/, uint64_t /*ticket*/) {
    return Decision::Allow();
  }
  virtual Decision OnPublish(const PublishRequest& /*r*/, uint64_t /*ticket*/) {
    return Decision::Allow();
  }
  virtual Decision OnSubscribe(const SubscribeRequest& /*r*/, uint64_t /*ticket*/) {
    return Decision::Allow();
  }

  // Enhanced authentication: whether any method is offered (no: a CONNECT with a method is
  // refused with 0x8C), and one step of an exchange (a pending step is completed with
  // DecisionCompleter::CompleteAuth).
  virtual bool OffersEnhancedAuth() const { return false; }
  virtual AuthStepResult OnAuthStep(const AuthStepRequest& /*r*/, uint64_t /*ticket*/) {
    return {Decision::Deny(mqtt::ReasonCode::kBadAuthenticationMethod), {}};
  }

  virtual void OnShardStart(ShardServices& /*shard*/) {}
  virtual void OnShardStop(uint32_t /*shard*/) {}
  // A pending decision was completed with `d` (shard thread): the final answer, or Pending
  // to wait on the same ticket again.
  virtual Decision OnDecisionCompleted(uint32_t /*shard*/, uint64_t /*ticket*/, Decision d) {
    return d;
  }
  // A pending decision's deadline passed: whatever was kept for `ticket` can go.
  virtual void OnDecisionAbandoned(uint32_t /*shard*/, uint64_t /*ticket*/) {}

  virtual void OnMessagePublished(const MessageEvent& /*e*/) {}
  virtual void OnMessageDelivered(const MessageEvent& /*e*/) {}
  virtual void OnMessageDropped(const MessageEvent& /*e*/, DropReason /*why*/) {}
  virtual void OnClientConnected(const ClientInfo& /*c*/) {}
  virtual void OnClientDisconnected(const ClientInfo& /*c*/) {}
};

// Completes pending decisions from any thread (the broker routes them to the owning shard).
class DecisionCompleter {
 public:
  virtual ~DecisionCompleter() = default;
  virtual void Complete(uint64_t ticket, Decision d) = 0;  // any thread
  // A pending enhanced-authentication step: kAllow, kContinue or kDeny, with the data to send.
  virtual void CompleteAuth(uint64_t ticket, Decision d, std::string data) = 0;  // any thread
};

}  // namespace ringmq::broker
