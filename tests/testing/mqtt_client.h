// MqttClient: a synchronous MQTT 3.1 / 3.1.1 / 5.0 client for integration tests, built on
// the project codec (core/mqtt). It runs on the test's thread and has no thread of its own;
// not thread-safe.
//
// Data flow. Bytes are read from the socket only while a method of the client runs; they
// are framed by a PacketReader, decoded with DecodePacket and appended, as owning
// ReceivedPackets, to one FIFO. Then:
//   - Receive() / Expect() / ExpectPublish() take the packet at the head of the FIFO. The
//     Expect forms fail when the head is of another type and leave it there, so nothing is
//     ever skipped silently: the test sees it with Receive().
//   - Helpers that wait for an answer to their own request (CONNACK, SUBACK, UNSUBACK,
//     PUBACK/PUBREC/PUBCOMP, PINGRESP) take that answer out of the FIFO wherever it is and
//     leave everything else in order: a PUBLISH that arrives while Subscribe() waits for its
//     SUBACK is returned by the next ExpectPublish().
//   - With `auto_ack` (the default), a QoS 1/2 PUBLISH is answered with PUBACK/PUBREC as
//     soon as it is read, and a PUBREL with PUBCOMP (the PUBREL is not queued). With
//     auto_ack off every packet is queued and the test answers by hand with Send().
//   - Server -> client Topic Aliases are resolved as PUBLISHes are read: publish().topic is
//     the resolved topic; the alias stays in publish().properties.topic_alias and the topic
//     as sent (empty when only the alias was) is wire_topic().
// The client sends no PINGREQ on its own (use Ping(); keep alive defaults to 60 s).
//
// The client does not hold itself to the server's limits (Topic Alias Maximum, Receive
// Maximum, Maximum Packet Size, Maximum QoS): tests break them on purpose.
//
// Protocol violations by the server that a client can see (a malformed packet, an unknown
// or out-of-range Topic Alias, more unacknowledged QoS>0 PUBLISHes than our Receive Maximum,
// a packet over our Maximum Packet Size, a SUBACK with the wrong number of codes) are
// reported as errors naming the statement; after a malformed packet the stream is not read
// further.
//
// Errors are absl::Status values: DeadlineExceeded for timeouts, Unavailable once the server
// closed the connection, DataLoss for a malformed or non-conforming packet from the server,
// FailedPrecondition for a packet of the wrong type. Messages name what was expected and
// what arrived instead.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "core/base/asserts.h"
#include "core/mqtt/packet_reader.h"
#include "core/mqtt/packets.h"

namespace ringmq::testing {

inline constexpr std::chrono::milliseconds kDefaultTimeout{5000};

// User properties as owned (name, value) pairs, in wire order.
using UserProperties = std::vector<std::pair<std::string, std::string>>;

// The user properties of a decoded property block, in order.
UserProperties UserPropertiesOf(const mqtt::Properties& props);

// A packet received from the server. Owns its bytes; the decoded packet's views point into
// them and stay valid as long as any copy of this object lives (copies share the bytes).
class ReceivedPacket {
 public:
  // Decodes one framed packet (as a PacketReader hands it out) as MQTT `v`, copying its bytes.
  static absl::StatusOr<ReceivedPacket> Decode(mqtt::ProtocolVersion v, const mqtt::FixedHeader& h,
                                               std::span<const uint8_t> body);

  mqtt::PacketType type() const { return mqtt::TypeOf(data_->packet); }
  const mqtt::Packet& packet() const { return data_->packet; }

  template <typename T>
  bool Is() const {
    return std::holds_alternative<T>(data_->packet);
  }
  // The packet as a T; a test bug (assertion) if it is not one: check type() or Is<T>().
  template <typename T>
  const T& As() const {
    RINGMQ_ASSERT(Is<T>());
    return std::get<T>(data_->packet);
  }
  const mqtt::Publish& publish() const { return As<mqtt::Publish>(); }

  // The reason code of packets that carry one (CONNACK, PUBACK..PUBCOMP, DISCONNECT, AUTH);
  // Success for the others.
  mqtt::ReasonCode reason() const;
  // The properties of the packet (empty for PINGRESP and for 3.x packets).
  const mqtt::Properties& properties() const;
  UserProperties user_properties() const { return UserPropertiesOf(properties()); }

  // The packet as received, fixed header included.
  std::string_view bytes() const { return data_->bytes; }
  // PUBLISH: the Topic Name as sent (empty when the server sent only a Topic Alias).
  std::string_view wire_topic() const { return data_->wire_topic; }

  // One line for failure messages, e.g. `PUBLISH topic="a/b" qos=1 id=3 payload="x"`.
  std::string DebugString() const;

 private:
  friend class MqttClient;
  struct Data {
    std::string bytes;
    std::string resolved_topic;  // PUBLISH with a Topic Alias: what publish().topic views
    std::string_view wire_topic;
    mqtt::Packet packet;
  };
  explicit ReceivedPacket(std::shared_ptr<Data> d) : data_(std::move(d)) {}
  std::shared_ptr<Data> data_;
};

std::ostream& operator<<(std::ostream& os, const ReceivedPacket& p);

// Properties of a packet the test sends. `properties` is the codec's value: set single-valued
// properties with its setters (string properties are views, which only have to live until
// the call that sends the packet returns). `user_properties` are owned here and sent after
// any already in properties.user_properties, in order.
struct PacketOptions {
  mqtt::Properties properties;
  UserProperties user_properties;
  std::chrono::milliseconds timeout = kDefaultTimeout;  // for the answer, where there is one
};

struct WillOptions {
  std::string topic;
  std::string payload;
  mqtt::Qos qos = mqtt::Qos::k0;
  bool retain = false;
  mqtt::Properties properties;  // MQTT 5 Will Properties (Will Delay, Message Expiry, ...)
  UserProperties user_properties;
};

struct ConnectOptions {
  mqtt::ProtocolVersion version = mqtt::ProtocolVersion::kMqtt5;
  // Unset: a fresh id unique in this process ("t<pid>-<n>"). Set to "" to send an empty one.
  std::optional<std::string> client_id;
  bool clean_start = true;  // "Clean Session" in 3.x
  uint16_t keep_alive_s = 60;
  std::optional<WillOptions> will;
  std::optional<std::string> username;
  std::optional<std::string> password;
  // MQTT 5 CONNECT properties: Session Expiry Interval, Receive Maximum, Maximum Packet Size,
  // Topic Alias Maximum, Request Problem Information, ... The client enforces what it
  // announces here on the server (Receive Maximum, Maximum Packet Size, Topic Alias Maximum).
  mqtt::Properties properties;
  UserProperties user_properties;
  // Answer QoS 1/2 PUBLISHes and PUBRELs automatically (see the top of this file).
  bool auto_ack = true;
  // For the TCP connection and for the CONNACK.
  std::chrono::milliseconds timeout = kDefaultTimeout;
};

// What the server told us in CONNACK, with the spec's defaults for absent properties.
struct ServerInfo {
  bool session_present = false;
  mqtt::ReasonCode reason = mqtt::ReasonCode::kSuccess;
  std::string assigned_client_id;  // empty if none was assigned
  std::optional<uint16_t> server_keep_alive_s;
  uint16_t receive_maximum = 65'535;
  uint16_t topic_alias_maximum = 0;
  uint32_t maximum_packet_size = mqtt::kMaxPacketSize;  // absent: no limit
  mqtt::Qos maximum_qos = mqtt::Qos::k2;
  bool retain_available = true;
  bool wildcard_subscription_available = true;
  bool subscription_identifier_available = true;
  bool shared_subscription_available = true;
};

struct SubscribeEntry {
  std::string filter;
  mqtt::SubscriptionOptions options;
};

struct PublishOptions {
  mqtt::Qos qos = mqtt::Qos::k0;
  bool retain = false;
  bool dup = false;
  uint16_t packet_id = 0;  // 0: the next free id (QoS 1/2)
  mqtt::Properties properties;
  UserProperties user_properties;
  std::chrono::milliseconds timeout = kDefaultTimeout;  // for each acknowledgement
};

// The acknowledgements of one Publish().
struct PublishResult {
  uint16_t packet_id = 0;                 // 0 for QoS 0
  std::optional<ReceivedPacket> puback;   // QoS 1
  std::optional<ReceivedPacket> pubrec;   // QoS 2
  std::optional<ReceivedPacket> pubcomp;  // QoS 2, unless PUBREC carried a failure code
  // The outcome: Success for QoS 0, PUBACK's code, PUBREC's failure code or PUBCOMP's code.
  mqtt::ReasonCode reason() const;
};

// How the connection ended, as seen by WaitForClose().
struct CloseResult {
  bool closed = false;  // the server closed the TCP connection (FIN or RST) in time
  bool reset = false;   // ... with a reset (ECONNRESET) rather than an orderly FIN
  std::optional<ReceivedPacket> disconnect;  // the DISCONNECT received before the close
  std::vector<ReceivedPacket> others;        // every other packet received before the close
};

class MqttClient {
 public:
  // Opens a TCP connection to 127.0.0.1:port, sends CONNECT and waits for CONNACK. Fails
  // unless the CONNACK says Success; the CONNACK is then in connack() and server().
  static absl::StatusOr<std::unique_ptr<MqttClient>> Connect(uint16_t port,
                                                             const ConnectOptions& options = {});
  // Like Connect(), but succeeds with any CONNACK (a refusal too): check connack().
  static absl::StatusOr<std::unique_ptr<MqttClient>> TryConnect(uint16_t port,
                                                                const ConnectOptions& options);
  // Only the TCP connection: nothing is sent. `options` gives the version used to decode
  // what the server sends, auto_ack and the connect timeout; use SendConnect()/SendRaw().
  static absl::StatusOr<std::unique_ptr<MqttClient>> ConnectRaw(uint16_t port,
                                                                const ConnectOptions& options);

  ~MqttClient();
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  // ---- sending ---------------------------------------------------------------------------

  // Sends the CONNECT `options` describe (and adopts its version, auto_ack and limits).
  absl::Status SendConnect(const ConnectOptions& options);
  // Waits for the CONNACK and records it in connack() / server().
  absl::StatusOr<ReceivedPacket> AwaitConnack(std::chrono::milliseconds timeout = kDefaultTimeout);
  // Sends any packet, encoded for version() (a CONNECT for its own version, which the client
  // then adopts). A PUBACK, PUBREC or PUBCOMP sent here completes an incoming flow.
  absl::Status Send(const mqtt::Packet& packet);
  // Sends bytes as they are (malformed-packet tests).
  absl::Status SendRaw(std::string_view bytes);

  // ---- receiving -------------------------------------------------------------------------

  // The next packet, whatever it is.
  absl::StatusOr<ReceivedPacket> Receive(std::chrono::milliseconds timeout = kDefaultTimeout);
  // The next packet if it is of `type`; otherwise an error, and the packet stays queued.
  absl::StatusOr<ReceivedPacket> Expect(mqtt::PacketType type,
                                        std::chrono::milliseconds timeout = kDefaultTimeout);
  absl::StatusOr<ReceivedPacket> ExpectPublish(
      std::chrono::milliseconds timeout = kDefaultTimeout) {
    return Expect(mqtt::PacketType::kPublish, timeout);
  }
  // The first packet of `type` with `packet_id` (0: any), wherever it is in the FIFO; the
  // packets before it stay queued. For acknowledgements in hand-driven flows.
  absl::StatusOr<ReceivedPacket> AwaitAck(mqtt::PacketType type, uint16_t packet_id,
                                          std::chrono::milliseconds timeout = kDefaultTimeout);
  // OK if no packet is received (or queued) for `duration`; otherwise an error naming the
  // packet (which stays queued), or saying the connection was closed.
  absl::Status ExpectNoPacket(std::chrono::milliseconds duration);
  // Reads until the server closes the connection or `timeout` passes. An error only if the
  // server sent something malformed.
  absl::StatusOr<CloseResult> WaitForClose(std::chrono::milliseconds timeout = kDefaultTimeout);

  // ---- helpers ---------------------------------------------------------------------------

  // SUBSCRIBE; returns the SUBACK (checked to carry one code per filter [MQTT-3.8.4-6]).
  absl::StatusOr<ReceivedPacket> Subscribe(const std::vector<SubscribeEntry>& entries,
                                           const PacketOptions& options = {});
  absl::StatusOr<ReceivedPacket> Subscribe(std::string filter, mqtt::Qos max_qos = mqtt::Qos::k0);
  // UNSUBSCRIBE; returns the UNSUBACK (in 5.0 checked to carry one code per filter).
  absl::StatusOr<ReceivedPacket> Unsubscribe(const std::vector<std::string>& filters,
                                             const PacketOptions& options = {});
  // PUBLISH, then the QoS 1/2 handshake to its end (PUBACK; PUBREC, PUBREL, PUBCOMP).
  absl::StatusOr<PublishResult> Publish(std::string_view topic, std::string_view payload,
                                        const PublishOptions& options = {});
  absl::StatusOr<PublishResult> Publish(std::string_view topic, std::string_view payload,
                                        mqtt::Qos qos);
  // PINGREQ, then waits for PINGRESP.
  absl::Status Ping(std::chrono::milliseconds timeout = kDefaultTimeout);
  // DISCONNECT (3.x: no reason), then half-closes the socket and waits (options.timeout) for
  // the server to close its side; the socket is closed in any case. Packets that arrive
  // meanwhile stay queued.
  absl::Status Disconnect(mqtt::ReasonCode reason = mqtt::ReasonCode::kSuccess,
                          const PacketOptions& options = {});
  // Ends the connection without DISCONNECT: an orderly TCP close (FIN) ...
  void CloseSocket();
  // ... or an abortive one (RST), as when a client process dies with unread data.
  void ResetSocket();

  // ---- state -----------------------------------------------------------------------------

  mqtt::ProtocolVersion version() const { return version_; }
  // The client id sent in CONNECT, or the one the server assigned.
  const std::string& client_id() const { return client_id_; }
  // The last CONNACK received (nullopt before one).
  const std::optional<ReceivedPacket>& connack() const { return connack_; }
  const ServerInfo& server() const { return server_; }
  void set_auto_ack(bool on) { auto_ack_ = on; }
  // The server closed the connection (EOF or reset seen).
  bool closed_by_server() const { return eof_; }
  // A fresh packet identifier (1..65535, then wraps) for packets the test builds.
  uint16_t NextPacketId();
  // Packets received and not yet taken.
  size_t queued() const { return queue_.size(); }
  int fd() const { return fd_; }

 private:
  MqttClient() = default;

  static absl::StatusOr<std::unique_ptr<MqttClient>> Open(uint16_t port,
                                                          const ConnectOptions& options);
  void Adopt(const ConnectOptions& options);
  // Reads what the socket has, waiting until `deadline` for at least one byte; false when
  // nothing arrived in time. Errors only for a broken stream (malformed, violation).
  absl::StatusOr<bool> ReadSome(std::chrono::steady_clock::time_point deadline);
  // Decodes and processes one framed packet; sets stream_error_ on failure.
  bool OnPacket(const mqtt::FixedHeader& h, std::span<const uint8_t> body);
  absl::Status Process(ReceivedPacket& p);
  void OnConnack(const ReceivedPacket& p);
  // Resolves the Topic Alias, checks our limits and answers when auto_ack is on.
  absl::Status OnPublish(ReceivedPacket& p);
  void NoteSent(const mqtt::Packet& p);
  // Waits for a queued packet satisfying `match`; removes and returns it.
  template <typename Match>
  absl::StatusOr<ReceivedPacket> Await(const Match& match, std::string_view what,
                                       std::chrono::milliseconds timeout);
  absl::Status ClosedError(std::string_view waiting_for) const;
  std::string QueueSummary() const;

  int fd_ = -1;
  mqtt::ProtocolVersion version_ = mqtt::ProtocolVersion::kMqtt5;
  bool auto_ack_ = true;
  std::string client_id_;
  mqtt::PacketReader reader_;
  std::deque<ReceivedPacket> queue_;
  absl::Status stream_error_;  // a malformed or non-conforming packet: nothing is read after it
  bool eof_ = false;           // the server closed (FIN or RST)
  bool reset_ = false;         // ... with RST
  bool write_shut_ = false;    // we sent FIN (after DISCONNECT)

  std::optional<ReceivedPacket> connack_;
  ServerInfo server_;
  // What we announced in CONNECT.
  uint16_t our_receive_maximum_ = 65'535;
  uint16_t our_topic_alias_maximum_ = 0;
  // Server -> client Topic Alias mappings of this connection [MQTT-3.3.2-7].
  std::map<uint16_t, std::string> aliases_;
  // Incoming QoS 1/2 PUBLISHes not yet acknowledged (PUBACK / PUBCOMP or a failing PUBREC).
  std::set<uint16_t> inflight_in_;
  uint16_t next_packet_id_ = 0;
};

}  // namespace ringmq::testing
