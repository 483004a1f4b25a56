// Connection: the MQTT side of one network connection (net::Conn::user() points here).
// Shard-local. States:
//
//   kAwaitConnect -> (CONNECT decoded; maybe handed to the session's home shard, where it
//   starts again in kAwaitConnect) -> kAuthorizing (waiting for the connect decision) ->
//   kConnected -> kClosing
//
// Responses that may wait on an asynchronous decision (CONNACK, SUBACK, UNSUBACK, PUBACK,
// PUBREC, PUBCOMP) go through `responses`, an ordered queue: each entry becomes ready when
// its pending count reaches zero, and entries leave in order, so acknowledgements keep the
// order of the packets they answer [MQTT-4.6.0-2/3]. Today the waits are: remote shards
// reporting delivery of a QoS 1/2 message, other shards acknowledging a new subscription's
// interest, and the debug deferral; the store (durability) and plugins (auth, ACL) will add
// theirs through the same counts.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"

#include "core/base/ring_queue.h"
#include "core/mqtt/packet_reader.h"
#include "core/mqtt/reason_code.h"
#include "core/mqtt/types.h"
#include "core/net/reactor.h"
#include "core/net/timer_wheel.h"

namespace ringmq::broker {

class Connection;
class Session;
class BrokerShard;

struct ConnectionTimer : net::Timer {
  explicit ConnectionTimer(Connection* c, Callback cb) : net::Timer(cb), conn(c) {}
  Connection* conn;
};

// A SUBSCRIBE accepted for processing but not applied yet: it waits for its authorization
// (the ACL decision; today the debug deferral stands in for it).
struct PendingSubscribe {
  struct Entry {
    std::string filter;
    mqtt::SubscriptionOptions options;
  };
  std::vector<Entry> entries;
  uint32_t subscription_id = 0;
};

// A response waiting in order for its turn (see above).
struct PendingResponse {
  enum class Kind : uint8_t { kConnack, kPuback, kPubrec, kPubcomp, kSuback, kUnsuback };
  Kind kind = Kind::kPuback;
  uint16_t packet_id = 0;
  uint32_t waiting = 0;  // asynchronous parts still outstanding
  uint64_t token = 0;    // identifies this entry to asynchronous completions
  mqtt::ReasonCode reason = mqtt::ReasonCode::kSuccess;
  // Delivery reports (PUBACK/PUBREC): how many subscribers took the message and how many
  // could not (their queue was full).
  uint32_t delivered = 0;
  uint32_t refused = 0;
  // SUBACK/UNSUBACK: one code per filter.
  absl::InlinedVector<mqtt::ReasonCode, 4> codes;
  // SUBACK: the subscriptions to apply once authorized (null once applied), and the
  // retained messages to send once the SUBACK has gone out.
  std::unique_ptr<PendingSubscribe> subscribe;
  uint64_t retained_request = 0;
};

// Outbound topic aliases (server -> a 5.0 client that announced Topic Alias Maximum > 0).
struct OutboundAliases {
  absl::flat_hash_map<std::string, uint16_t> by_topic;
  uint16_t next = 1;
};

class Connection {
 public:
  std::string& Held() {
    if (!held) {
      held = std::make_unique<std::string>();
    }
    return *held;
  }
  size_t held_size() const { return held ? held->size() : 0; }

  enum class State : uint8_t { kAwaitConnect, kAuthorizing, kConnected, kClosing };

  Connection(BrokerShard* shard, net::Conn* conn, uint32_t max_packet_size);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  BrokerShard* const shard;
  net::Conn* const conn;
  State state = State::kAwaitConnect;
  mqtt::ProtocolVersion version = mqtt::ProtocolVersion::kMqtt311;
  mqtt::PacketReader reader;
  // Bytes held for later (null when none): before the connection is established, the
  // CONNECT (read again on the home shard after a hand-off) and what followed it; later,
  // what arrives while a SUBSCRIBE waits for its decision.
  std::unique_ptr<std::string> held;
  Session* session = nullptr;
  // The id the broker assigned (5.0 empty client id), until the session holds it.
  std::unique_ptr<std::string> assigned_id;
  ConnectionTimer timer;  // connect timeout, then keep alive
  int64_t last_packet_ms = 0;
  uint32_t keepalive_ms = 0;       // 0: no keep alive; else 1.5x the negotiated value
  uint16_t keepalive_s = 0;        // negotiated
  bool keepalive_lowered = false;  // announced as Server Keep Alive (5.0)
  bool clean_start = true;
  bool paused_while_connecting = false;
  // A SUBSCRIBE waits for its authorization: later packets of this connection wait too (in
  // `held`), so the connection's packets take effect in the order they were sent.
  bool blocked = false;
  bool unblock_pending = false;
  // The client finished sending while packets were held for a pending decision: they are
  // processed when it comes, then the connection ends as a lost one (the will applies).
  bool peer_closed = false;

  // What the client told us (MQTT 5; 3.x gets the defaults).
  uint32_t client_max_packet_size = mqtt::kMaxPacketSize;
  uint16_t client_receive_maximum = 65535;
  uint16_t client_topic_alias_max = 0;
  uint32_t connect_session_expiry_s = 0;

  // Inbound flow control: QoS 1/2 PUBLISHes received and not fully acknowledged yet.
  uint32_t inbound_unacked = 0;
  std::unique_ptr<std::vector<std::string>> inbound_aliases;  // index = alias - 1
  std::unique_ptr<OutboundAliases> outbound_aliases;

  base::RingQueue<PendingResponse> responses;
  bool will_suppressed = false;  // normal DISCONNECT: do not publish the will
  bool read_paused_backlog = false;
};

}  // namespace ringmq::broker
