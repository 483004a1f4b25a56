// Connection: the MQTT side of one network connection (net::Conn::user() points here).
// Shard-local. States:
//
//   kAwaitConnect -> (CONNECT decoded; maybe handed to the session's home shard, where it
//   starts again in kAwaitConnect) -> kAuthorizing (waiting for the connect decision) ->
//   kConnected -> kClosing
//
// Responses that may wait on an asynchronous decision (CONNACK, SUBACK, UNSUBACK, PUBACK,
// PUBREC, PUBCOMP) go through `responses` (response_queue.h), an ordered queue: acknowledgements
// keep the order of the packets they answer [MQTT-4.6.0-2/3].
//
// Reading: the broker stops reading from a connection for reasons of its own (ReadHold):
// its output is congested, this shard's mailboxes are backlogged, or packets wait for a
// decision. Time spent so is not the client's silence: keep alive is charged only for time
// the broker was willing to read (handle_connect.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "core/broker/response_queue.h"
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

// Why the broker is not reading from a connection (bits; reading resumes when none is left).
enum ReadHold : uint8_t {
  kHoldCongested = 1,  // its output is above the high watermark
  kHoldBacklog = 2,    // this shard's mailboxes are backlogged
  kHoldPending = 4,    // packets wait in `held` for a decision
};

// Outbound topic aliases (server -> a 5.0 client that announced Topic Alias Maximum > 0).
struct OutboundAliases {
  absl::flat_hash_map<std::string, uint16_t> by_topic;
  uint16_t next = 1;
  size_t bytes = 0;  // topic bytes held (bounded by BrokerConfig::max_topic_alias_bytes)
};

// An MQTT 5.0 enhanced authentication [MQTT-4.12] in progress, or done (the method stays for
// re-authentication, which must use the same one [MQTT-4.12.1-1]).
struct AuthExchange {
  std::string method;
  std::string client_id;     // the CONNECT's (or the assigned one), until the session has it
  std::string connack_data;  // Authentication Data for the CONNACK (the last step's)
  uint32_t step = 0;
  bool awaiting_client = false;  // an AUTH 0x18 went out: the client's AUTH comes next
  bool reauth = false;           // a re-authentication (after CONNACK) is in progress
  bool done = false;             // the CONNECT's exchange succeeded
};

class Connection {
 public:
  enum class State : uint8_t { kAwaitConnect, kAuthorizing, kConnected, kClosing };

  Connection(BrokerShard* shard, net::Conn* conn, uint32_t max_packet_size);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  std::string& Held() {
    if (!held) {
      held = std::make_unique<std::string>();
    }
    return *held;
  }
  size_t held_size() const { return held ? held->size() : 0; }

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
  // The user name of the CONNECT (for the decisions that follow); null when none was given.
  std::unique_ptr<std::string> username;
  std::unique_ptr<AuthExchange> auth;  // enhanced authentication; null when not used
  ConnectionTimer timer;               // connect timeout, then keep alive

  // Keep alive: the last complete control packet, and reading held by the broker.
  int64_t last_packet_ms = 0;
  uint8_t read_holds = 0;  // ReadHold bits
  int64_t held_since_ms = 0;
  uint32_t keepalive_ms = 0;       // 0: no keep alive; else 1.5x the negotiated value
  uint16_t keepalive_s = 0;        // negotiated
  bool keepalive_lowered = false;  // announced as Server Keep Alive (5.0)

  bool clean_start = true;
  // A SUBSCRIBE waits for its authorization: later packets of this connection wait too (in
  // `held`), so the connection's packets take effect in the order they were sent.
  bool blocked = false;
  bool unblock_pending = false;
  // A resumed persistent session waits for the store (AwaitResumeBarrier): nothing of its
  // state is sent, and nothing the client sends is taken, until what the session's previous
  // connection wrote is durable.
  bool resume_pending = false;
  // The client finished sending while packets were held for a pending decision: they are
  // processed when it comes, then the connection ends as a lost one (the will applies).
  bool peer_closed = false;
  bool will_suppressed = false;  // normal DISCONNECT: do not publish the will

  // What the client told us (MQTT 5; 3.x gets the defaults).
  uint32_t client_max_packet_size = mqtt::kMaxPacketSize;
  uint16_t client_receive_maximum = 65535;
  uint16_t client_topic_alias_max = 0;
  uint32_t connect_session_expiry_s = 0;

  // Inbound flow control: QoS 1 PUBLISHes whose PUBACK has not been written yet. With the
  // session's unreleased QoS 2 ids, what Receive Maximum limits [MQTT-3.3.4-7].
  uint32_t pending_pubacks = 0;
  std::unique_ptr<std::vector<std::string>> inbound_aliases;  // index = alias - 1
  std::unique_ptr<OutboundAliases> outbound_aliases;

  ResponseQueue responses;
};

}  // namespace ringmq::broker
