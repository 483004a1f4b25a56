#include "tests/testing/mqtt_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <sstream>

#include "absl/strings/str_format.h"

#include "core/mqtt/encoder.h"
#include "core/mqtt/reason_code.h"
#include "core/mqtt/varint.h"

namespace ringmq::testing {
namespace {

using Clock = std::chrono::steady_clock;
using mqtt::PacketType;
using mqtt::ProtocolVersion;
using mqtt::Qos;
using mqtt::ReasonCode;

std::string DefaultClientId() {
  static std::atomic<uint32_t> counter{0};
  return absl::StrFormat("t%d-%u", static_cast<int>(::getpid()), counter.fetch_add(1) + 1);
}

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) {
    return 0;
  }
  return left.count() > 1'000'000 ? 1'000'000 : static_cast<int>(left.count());
}

std::string Hex(uint8_t b) {
  return absl::StrFormat("0x%02X", b);
}

std::string ReasonText(ReasonCode rc) {
  return absl::StrFormat("0x%02X (%s)", static_cast<unsigned>(rc), mqtt::ReasonCodeName(rc));
}

// Printable, bounded rendering of a payload or string for failure messages.
std::string Quote(std::string_view s, size_t max = 64) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      out += absl::StrFormat("\\x%02x", c);
    }
  }
  out += '"';
  if (s.size() > max) {
    out += absl::StrFormat("...(%u bytes)", s.size());
  }
  return out;
}

// Combines properties.user_properties (a view) with owned pairs into one block kept in
// *storage; returns properties with user_properties pointing into *storage.
mqtt::Properties WithUserProperties(const mqtt::Properties& in, const UserProperties& extra,
                                    std::string* storage) {
  mqtt::Properties out = in;
  if (extra.empty()) {
    return out;
  }
  mqtt::PropertyBuilder b;
  for (const auto& [name, value] : extra) {
    b.AddUserProperty(name, value);
  }
  *storage = std::string(in.user_properties.encoded());
  storage->append(b.user_properties().encoded());
  out.user_properties = mqtt::UserPropertyList(*storage);
  return out;
}

}  // namespace

// ---- ReceivedPacket --------------------------------------------------------------------------

UserProperties UserPropertiesOf(const mqtt::Properties& props) {
  UserProperties out;
  for (mqtt::UserProperty up : props.user_properties) {
    out.emplace_back(std::string(up.name), std::string(up.value));
  }
  return out;
}

mqtt::ReasonCode ReceivedPacket::reason() const {
  return std::visit(
      [](const auto& p) -> ReasonCode {
        if constexpr (requires { p.reason; }) {
          return p.reason;
        } else {
          return ReasonCode::kSuccess;
        }
      },
      data_->packet);
}

const mqtt::Properties& ReceivedPacket::properties() const {
  static const mqtt::Properties none;
  return std::visit(
      [](const auto& p) -> const mqtt::Properties& {
        if constexpr (requires { p.properties; }) {
          return p.properties;
        } else {
          return none;
        }
      },
      data_->packet);
}

std::string ReceivedPacket::DebugString() const {
  std::string s(mqtt::PacketTypeName(type()));
  std::visit(
      [&s, this](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, mqtt::Publish>) {
          s += absl::StrFormat(" topic=%s", Quote(p.topic));
          if (p.properties.Has(mqtt::PropertyId::kTopicAlias)) {
            s += absl::StrFormat(" (alias %u, wire topic %s)", p.properties.topic_alias,
                                 Quote(wire_topic()));
          }
          s += absl::StrFormat(" qos=%d retain=%d dup=%d", static_cast<int>(p.qos),
                               static_cast<int>(p.retain), static_cast<int>(p.dup));
          if (p.qos != Qos::k0) {
            s += absl::StrFormat(" id=%u", p.packet_id);
          }
          s += " payload=" + Quote(p.payload);
        } else if constexpr (std::is_same_v<T, mqtt::Connack>) {
          s += absl::StrFormat(" session_present=%d reason=%s", static_cast<int>(p.session_present),
                               ReasonText(p.reason));
        } else if constexpr (requires { p.reasons; }) {
          s += absl::StrFormat(" id=%u reasons=[", p.packet_id);
          for (size_t i = 0; i < p.reasons.size(); ++i) {
            s += (i ? ", " : "") + Hex(static_cast<uint8_t>(p.reasons[i]));
          }
          s += "]";
        } else if constexpr (requires {
                               p.packet_id;
                               p.reason;
                             }) {
          s += absl::StrFormat(" id=%u reason=%s", p.packet_id, ReasonText(p.reason));
        } else if constexpr (requires { p.reason; }) {
          s += " reason=" + ReasonText(p.reason);
        } else if constexpr (requires { p.packet_id; }) {
          s += absl::StrFormat(" id=%u", p.packet_id);
        }
        if constexpr (requires { p.properties; }) {
          if (p.properties.Has(mqtt::PropertyId::kReasonString)) {
            s += " reason_string=" + Quote(p.properties.reason_string, 200);
          }
          for (mqtt::UserProperty up : p.properties.user_properties) {
            s += absl::StrFormat(" user[%s=%s]", Quote(up.name), Quote(up.value));
          }
        }
      },
      data_->packet);
  return s;
}

std::ostream& operator<<(std::ostream& os, const ReceivedPacket& p) {
  return os << p.DebugString();
}

mqtt::ReasonCode PublishResult::reason() const {
  if (puback) {
    return puback->reason();
  }
  if (pubcomp) {
    return pubcomp->reason();
  }
  if (pubrec) {
    return pubrec->reason();
  }
  return ReasonCode::kSuccess;
}

// ---- connecting ------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<MqttClient>> MqttClient::Open(uint16_t port,
                                                             const ConnectOptions& options) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, "socket");
  }
  std::unique_ptr<MqttClient> c(new MqttClient());
  c->fd_ = fd;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      return absl::ErrnoToStatus(errno, absl::StrFormat("connect to 127.0.0.1:%u", port));
    }
    pollfd pfd{fd, POLLOUT, 0};
    int r;
    do {
      r = ::poll(&pfd, 1, static_cast<int>(options.timeout.count()));
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
      return absl::DeadlineExceededError(
          absl::StrFormat("TCP connect to 127.0.0.1:%u timed out", port));
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      return absl::ErrnoToStatus(err, absl::StrFormat("connect to 127.0.0.1:%u", port));
    }
  }
  c->Adopt(options);
  return c;
}

absl::StatusOr<std::unique_ptr<MqttClient>> MqttClient::ConnectRaw(uint16_t port,
                                                                   const ConnectOptions& options) {
  return Open(port, options);
}

absl::StatusOr<std::unique_ptr<MqttClient>> MqttClient::TryConnect(uint16_t port,
                                                                   const ConnectOptions& options) {
  absl::StatusOr<std::unique_ptr<MqttClient>> c = Open(port, options);
  if (!c.ok()) {
    return c.status();
  }
  if (absl::Status s = (*c)->SendConnect(options); !s.ok()) {
    return s;
  }
  absl::StatusOr<ReceivedPacket> ack = (*c)->AwaitConnack(options.timeout);
  if (!ack.ok()) {
    return ack.status();
  }
  return c;
}

absl::StatusOr<std::unique_ptr<MqttClient>> MqttClient::Connect(uint16_t port,
                                                                const ConnectOptions& options) {
  absl::StatusOr<std::unique_ptr<MqttClient>> c = TryConnect(port, options);
  if (!c.ok()) {
    return c.status();
  }
  if ((*c)->server_.reason != ReasonCode::kSuccess) {
    return absl::FailedPreconditionError(
        absl::StrFormat("connection refused by the server: %s", (*c)->connack_->DebugString()));
  }
  return c;
}

MqttClient::~MqttClient() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void MqttClient::Adopt(const ConnectOptions& options) {
  version_ = options.version;
  auto_ack_ = options.auto_ack;
  our_receive_maximum_ = 65'535;
  our_topic_alias_maximum_ = 0;
  reader_.set_max_packet_size(mqtt::kMaxPacketSize);
  if (IsV5(version_)) {
    const mqtt::Properties& p = options.properties;
    our_receive_maximum_ =
        p.Has(mqtt::PropertyId::kReceiveMaximum) ? p.receive_maximum : uint16_t{65'535};
    our_topic_alias_maximum_ =
        p.Has(mqtt::PropertyId::kTopicAliasMaximum) ? p.topic_alias_maximum : uint16_t{0};
    reader_.set_max_packet_size(p.Has(mqtt::PropertyId::kMaximumPacketSize) ? p.maximum_packet_size
                                                                            : mqtt::kMaxPacketSize);
  }
}

absl::Status MqttClient::SendConnect(const ConnectOptions& options) {
  Adopt(options);
  client_id_ = options.client_id ? *options.client_id : DefaultClientId();
  mqtt::Connect c;
  c.version = options.version;
  c.clean_start = options.clean_start;
  c.keep_alive_s = options.keep_alive_s;
  c.client_id = client_id_;
  std::string props_storage;
  std::string will_props_storage;
  c.properties = WithUserProperties(options.properties, options.user_properties, &props_storage);
  if (options.will) {
    mqtt::Will& w = c.will.emplace();
    w.topic = options.will->topic;
    w.payload = options.will->payload;
    w.qos = options.will->qos;
    w.retain = options.will->retain;
    w.properties = WithUserProperties(options.will->properties, options.will->user_properties,
                                      &will_props_storage);
  }
  if (options.username) {
    c.username = *options.username;
  }
  if (options.password) {
    c.password = *options.password;
  }
  return Send(c);
}

absl::StatusOr<ReceivedPacket> MqttClient::AwaitConnack(std::chrono::milliseconds timeout) {
  return AwaitAck(PacketType::kConnack, 0, timeout);
}

// ---- sending ---------------------------------------------------------------------------------

absl::Status MqttClient::Send(const mqtt::Packet& packet) {
  ProtocolVersion v = version_;
  if (const auto* c = std::get_if<mqtt::Connect>(&packet)) {
    v = c->version;
    version_ = v;
  }
  std::string bytes = mqtt::EncodeToString(packet, v);
  absl::Status s = SendRaw(bytes);
  if (s.ok()) {
    NoteSent(packet);
  }
  return s;
}

void MqttClient::NoteSent(const mqtt::Packet& packet) {
  if (const auto* a = std::get_if<mqtt::Puback>(&packet)) {
    inflight_in_.erase(a->packet_id);
  } else if (const auto* r = std::get_if<mqtt::Pubrec>(&packet)) {
    if (mqtt::IsFailure(r->reason)) {
      inflight_in_.erase(r->packet_id);
    }
  } else if (const auto* p = std::get_if<mqtt::Pubcomp>(&packet)) {
    inflight_in_.erase(p->packet_id);
  }
}

absl::Status MqttClient::SendRaw(std::string_view bytes) {
  if (fd_ < 0) {
    return absl::FailedPreconditionError("send: the socket was closed by the test");
  }
  if (write_shut_) {
    return absl::FailedPreconditionError("send: the client already sent DISCONNECT");
  }
  const Clock::time_point deadline = Clock::now() + kDefaultTimeout;
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd pfd{fd_, POLLOUT, 0};
      int left = MillisLeft(deadline);
      if (left == 0 || ::poll(&pfd, 1, left) == 0) {
        return absl::DeadlineExceededError(
            absl::StrFormat("send: the server did not read for %d ms (%u of %u bytes sent)",
                            static_cast<int>(kDefaultTimeout.count()), off, bytes.size()));
      }
      continue;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      return absl::UnavailableError(absl::StrFormat(
          "send: the connection was closed by the server (%s)", std::strerror(errno)));
    }
    return absl::ErrnoToStatus(errno, "send");
  }
  return absl::OkStatus();
}

uint16_t MqttClient::NextPacketId() {
  ++next_packet_id_;
  if (next_packet_id_ == 0) {
    next_packet_id_ = 1;
  }
  return next_packet_id_;
}

// ---- receiving -------------------------------------------------------------------------------

absl::StatusOr<bool> MqttClient::ReadSome(Clock::time_point deadline) {
  if (!stream_error_.ok()) {
    return stream_error_;
  }
  if (fd_ < 0 || eof_) {
    return false;
  }
  const size_t queued_before = queue_.size();
  for (;;) {
    uint8_t buf[64 << 10];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      mqtt::ReadResult r = reader_.Read(
          std::span<const uint8_t>(buf, static_cast<size_t>(n)),
          [this](const mqtt::FixedHeader& h, std::span<const uint8_t> body) {
            return OnPacket(h, body) ? mqtt::SinkAction::kContinue : mqtt::SinkAction::kStop;
          });
      if (r.status == mqtt::ReadStatus::kMalformed) {
        stream_error_ = absl::DataLossError(
            "the server sent a bad fixed header (packet type 0 or a malformed Remaining "
            "Length [MQTT-1.5.5-1])");
      } else if (r.status == mqtt::ReadStatus::kTooLarge) {
        stream_error_ = absl::DataLossError(absl::StrFormat(
            "the server sent a packet over our Maximum Packet Size of %u [MQTT-3.1.2-24]",
            reader_.max_packet_size()));
      }
      // Packets decoded before an error are delivered first; the error comes after them.
      if (queue_.size() > queued_before) {
        return true;
      }
      if (!stream_error_.ok()) {
        return stream_error_;
      }
      continue;  // only part of a packet (or a PUBREL answered automatically): read on
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == ECONNRESET) {
      eof_ = true;
      reset_ = true;
      return false;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return absl::ErrnoToStatus(errno, "recv");
    }
    int left = MillisLeft(deadline);
    if (left == 0) {
      return false;
    }
    pollfd pfd{fd_, POLLIN, 0};
    int pr = ::poll(&pfd, 1, left);
    if (pr < 0 && errno != EINTR) {
      return absl::ErrnoToStatus(errno, "poll");
    }
    if (pr == 0) {
      return false;
    }
  }
}

absl::StatusOr<ReceivedPacket> ReceivedPacket::Decode(mqtt::ProtocolVersion v,
                                                      const mqtt::FixedHeader& h,
                                                      std::span<const uint8_t> body) {
  auto data = std::make_shared<ReceivedPacket::Data>();
  // Rebuild the fixed header: the decoder accepted only the minimal Remaining Length
  // encoding, so this is byte for byte what the server sent.
  uint8_t header[5];
  header[0] = static_cast<uint8_t>((static_cast<uint8_t>(h.type) << 4) | h.flags);
  uint8_t* end = mqtt::EncodeVarint(header + 1, h.remaining_length);
  data->bytes.assign(reinterpret_cast<const char*>(header), static_cast<size_t>(end - header));
  data->bytes.append(reinterpret_cast<const char*>(body.data()), body.size());
  auto stored_body = std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(data->bytes.data()) + h.header_size, body.size());
  mqtt::DecodeStatus ds = mqtt::DecodePacket(v, h, stored_body, &data->packet);
  if (!ds.ok()) {
    return absl::DataLossError(
        absl::StrFormat("the server sent a %s that does not decode as MQTT %s: %s: %s",
                        mqtt::PacketTypeName(h.type), mqtt::ProtocolVersionName(v),
                        mqtt::ReasonCodeName(ds.reason), ds.detail));
  }
  return ReceivedPacket(std::move(data));
}

bool MqttClient::OnPacket(const mqtt::FixedHeader& h, std::span<const uint8_t> body) {
  absl::StatusOr<ReceivedPacket> decoded = ReceivedPacket::Decode(version_, h, body);
  if (!decoded.ok()) {
    stream_error_ = decoded.status();
    return false;
  }
  ReceivedPacket p = std::move(*decoded);
  absl::Status s = Process(p);
  if (!s.ok()) {
    stream_error_ = s;
    return false;
  }
  return true;
}

absl::Status MqttClient::Process(ReceivedPacket& p) {
  switch (p.type()) {
    case PacketType::kConnack:
      OnConnack(p);
      break;
    case PacketType::kPublish:
      if (absl::Status s = OnPublish(p); !s.ok()) {
        return s;
      }
      break;
    case PacketType::kPubrel:
      if (auto_ack_) {
        mqtt::Pubcomp comp;
        comp.packet_id = p.As<mqtt::Pubrel>().packet_id;
        absl::Status s = Send(comp);
        if (!s.ok() && !absl::IsUnavailable(s)) {
          return s;
        }
        return absl::OkStatus();  // answered, not queued
      }
      break;
    default:
      break;
  }
  queue_.push_back(p);
  return absl::OkStatus();
}

void MqttClient::OnConnack(const ReceivedPacket& p) {
  const auto& ca = p.As<mqtt::Connack>();
  const mqtt::Properties& pr = ca.properties;
  ServerInfo si;
  si.session_present = ca.session_present;
  si.reason = ca.reason;
  if (pr.Has(mqtt::PropertyId::kAssignedClientIdentifier)) {
    si.assigned_client_id = std::string(pr.assigned_client_identifier);
    client_id_ = si.assigned_client_id;
  }
  if (pr.Has(mqtt::PropertyId::kServerKeepAlive)) {
    si.server_keep_alive_s = pr.server_keep_alive_s;
  }
  si.receive_maximum = pr.receive_maximum;
  si.topic_alias_maximum = pr.topic_alias_maximum;
  if (pr.Has(mqtt::PropertyId::kMaximumPacketSize)) {
    si.maximum_packet_size = pr.maximum_packet_size;
  }
  si.maximum_qos = static_cast<Qos>(pr.maximum_qos);
  si.retain_available = pr.retain_available != 0;
  si.wildcard_subscription_available = pr.wildcard_subscription_available != 0;
  si.subscription_identifier_available = pr.subscription_identifier_available != 0;
  si.shared_subscription_available = pr.shared_subscription_available != 0;
  server_ = std::move(si);
  connack_ = p;
}

absl::Status MqttClient::OnPublish(ReceivedPacket& p) {
  auto& pub = std::get<mqtt::Publish>(p.data_->packet);
  p.data_->wire_topic = pub.topic;
  if (pub.properties.Has(mqtt::PropertyId::kTopicAlias)) {
    const uint16_t alias = pub.properties.topic_alias;
    if (alias > our_topic_alias_maximum_) {
      return absl::DataLossError(
          absl::StrFormat("the server used Topic Alias %u above our Topic Alias Maximum %u "
                          "[MQTT-3.1.2-26/27, MQTT-3.3.2-11]: %s",
                          alias, our_topic_alias_maximum_, p.DebugString()));
    }
    if (pub.topic.empty()) {
      auto it = aliases_.find(alias);
      if (it == aliases_.end()) {
        return absl::DataLossError(
            absl::StrFormat("the server sent an empty Topic Name with Topic Alias %u, which it "
                            "never mapped on this connection [3.3.2.3.4, MQTT-3.3.2-7]: %s",
                            alias, p.DebugString()));
      }
      p.data_->resolved_topic = it->second;
      pub.topic = p.data_->resolved_topic;
    } else {
      aliases_[alias] = std::string(pub.topic);
    }
  }
  if (pub.qos == Qos::k0) {
    return absl::OkStatus();
  }
  inflight_in_.insert(pub.packet_id);
  if (IsV5(version_) && inflight_in_.size() > our_receive_maximum_) {
    return absl::DataLossError(absl::StrFormat(
        "the server sent %u unacknowledged QoS>0 PUBLISHes, over our Receive Maximum %u "
        "[MQTT-3.3.4-9]: %s",
        inflight_in_.size(), our_receive_maximum_, p.DebugString()));
  }
  if (!auto_ack_) {
    return absl::OkStatus();
  }
  absl::Status s;
  if (pub.qos == Qos::k1) {
    mqtt::Puback ack;
    ack.packet_id = pub.packet_id;
    s = Send(ack);
  } else {
    mqtt::Pubrec rec;
    rec.packet_id = pub.packet_id;
    s = Send(rec);
  }
  // The server may close right after sending: the PUBLISH is still delivered to the test.
  return s.ok() || absl::IsUnavailable(s) ? absl::OkStatus() : s;
}

std::string MqttClient::QueueSummary() const {
  if (queue_.empty()) {
    return "nothing";
  }
  std::string s;
  for (size_t i = 0; i < queue_.size(); ++i) {
    if (i == 8) {
      s += absl::StrFormat("; ... %u more", queue_.size() - i);
      break;
    }
    s += (i ? "; " : "") + queue_[i].DebugString();
  }
  return s;
}

absl::Status MqttClient::ClosedError(std::string_view waiting_for) const {
  if (fd_ < 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("waiting for %s: the socket was already closed by the test", waiting_for));
  }
  return absl::UnavailableError(
      absl::StrFormat("waiting for %s: the server closed the connection (%s); received "
                      "before the close and not taken: %s",
                      waiting_for, reset_ ? "reset" : "FIN", QueueSummary()));
}

template <typename Match>
absl::StatusOr<ReceivedPacket> MqttClient::Await(const Match& match, std::string_view what,
                                                 std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  size_t scanned = 0;
  for (;;) {
    for (; scanned < queue_.size(); ++scanned) {
      if (match(queue_[scanned])) {
        ReceivedPacket p = queue_[scanned];
        queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(scanned));
        return p;
      }
    }
    absl::StatusOr<bool> got = ReadSome(deadline);
    if (!got.ok()) {
      return absl::Status(got.status().code(),
                          absl::StrFormat("waiting for %s: %s (received before it, not taken: %s)",
                                          what, got.status().message(), QueueSummary()));
    }
    if (*got) {
      continue;
    }
    if (eof_ || fd_ < 0) {
      return ClosedError(what);
    }
    return absl::DeadlineExceededError(
        absl::StrFormat("waited %d ms for %s; received meanwhile, not taken: %s",
                        static_cast<int>(timeout.count()), what, QueueSummary()));
  }
}

absl::StatusOr<ReceivedPacket> MqttClient::Receive(std::chrono::milliseconds timeout) {
  return Await([](const ReceivedPacket&) { return true; }, "any packet", timeout);
}

absl::StatusOr<ReceivedPacket> MqttClient::Expect(PacketType type,
                                                  std::chrono::milliseconds timeout) {
  std::string what(mqtt::PacketTypeName(type));
  const Clock::time_point deadline = Clock::now() + timeout;
  while (queue_.empty()) {
    absl::StatusOr<bool> got = ReadSome(deadline);
    if (!got.ok()) {
      return absl::Status(got.status().code(),
                          absl::StrFormat("waiting for %s: %s", what, got.status().message()));
    }
    if (*got) {
      break;
    }
    if (eof_ || fd_ < 0) {
      return ClosedError(what);
    }
    return absl::DeadlineExceededError(absl::StrFormat("waited %d ms for %s: nothing arrived",
                                                       static_cast<int>(timeout.count()), what));
  }
  if (queue_.front().type() != type) {
    return absl::FailedPreconditionError(absl::StrFormat("expected %s, received %s (left queued)",
                                                         what, queue_.front().DebugString()));
  }
  ReceivedPacket p = queue_.front();
  queue_.pop_front();
  return p;
}

absl::StatusOr<ReceivedPacket> MqttClient::AwaitAck(PacketType type, uint16_t packet_id,
                                                    std::chrono::milliseconds timeout) {
  std::string what(mqtt::PacketTypeName(type));
  if (packet_id != 0) {
    what += absl::StrFormat(" id=%u", packet_id);
  }
  return Await(
      [type, packet_id](const ReceivedPacket& p) {
        if (p.type() != type) {
          return false;
        }
        if (packet_id == 0) {
          return true;
        }
        return std::visit(
            [packet_id](const auto& pkt) {
              if constexpr (requires { pkt.packet_id; }) {
                return pkt.packet_id == packet_id;
              } else {
                return true;
              }
            },
            p.packet());
      },
      what, timeout);
}

absl::Status MqttClient::ExpectNoPacket(std::chrono::milliseconds duration) {
  const Clock::time_point deadline = Clock::now() + duration;
  while (queue_.empty()) {
    absl::StatusOr<bool> got = ReadSome(deadline);
    if (!got.ok()) {
      return got.status();
    }
    if (*got) {
      break;
    }
    if (eof_) {
      return absl::UnavailableError(
          absl::StrFormat("expected no packet for %d ms, but the server closed the connection (%s)",
                          static_cast<int>(duration.count()), reset_ ? "reset" : "FIN"));
    }
    if (fd_ < 0) {
      return absl::FailedPreconditionError("ExpectNoPacket: the socket was closed by the test");
    }
    if (Clock::now() >= deadline) {
      return absl::OkStatus();
    }
  }
  return absl::FailedPreconditionError(
      absl::StrFormat("expected no packet for %d ms, received %s (left queued)",
                      static_cast<int>(duration.count()), queue_.front().DebugString()));
}

absl::StatusOr<CloseResult> MqttClient::WaitForClose(std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  CloseResult result;
  for (;;) {
    while (!queue_.empty()) {
      ReceivedPacket p = queue_.front();
      queue_.pop_front();
      if (p.type() == PacketType::kDisconnect) {
        result.disconnect = p;
      } else {
        result.others.push_back(p);
      }
    }
    if (eof_) {
      result.closed = true;
      result.reset = reset_;
      return result;
    }
    if (fd_ < 0) {
      return absl::FailedPreconditionError("WaitForClose: the socket was closed by the test");
    }
    absl::StatusOr<bool> got = ReadSome(deadline);
    if (!got.ok()) {
      return got.status();
    }
    if (!*got && !eof_) {
      return result;  // timed out: closed = false
    }
  }
}

// ---- helpers ---------------------------------------------------------------------------------

absl::StatusOr<ReceivedPacket> MqttClient::Subscribe(const std::vector<SubscribeEntry>& entries,
                                                     const PacketOptions& options) {
  mqtt::Subscribe sub;
  sub.packet_id = NextPacketId();
  std::string storage;
  sub.properties = WithUserProperties(options.properties, options.user_properties, &storage);
  for (const SubscribeEntry& e : entries) {
    sub.subscriptions.push_back(mqtt::Subscription{e.filter, e.options});
  }
  if (absl::Status s = Send(sub); !s.ok()) {
    return s;
  }
  absl::StatusOr<ReceivedPacket> ack =
      AwaitAck(PacketType::kSuback, sub.packet_id, options.timeout);
  if (ack.ok() && ack->As<mqtt::Suback>().reasons.size() != entries.size()) {
    return absl::DataLossError(absl::StrFormat(
        "SUBACK carries %u reason codes for %u topic filters [MQTT-3.8.4-6]: %s",
        ack->As<mqtt::Suback>().reasons.size(), entries.size(), ack->DebugString()));
  }
  return ack;
}

absl::StatusOr<ReceivedPacket> MqttClient::Subscribe(std::string filter, Qos max_qos) {
  SubscribeEntry e;
  e.filter = std::move(filter);
  e.options.max_qos = max_qos;
  return Subscribe(std::vector<SubscribeEntry>{std::move(e)});
}

absl::StatusOr<ReceivedPacket> MqttClient::Unsubscribe(const std::vector<std::string>& filters,
                                                       const PacketOptions& options) {
  mqtt::Unsubscribe unsub;
  unsub.packet_id = NextPacketId();
  std::string storage;
  unsub.properties = WithUserProperties(options.properties, options.user_properties, &storage);
  for (const std::string& f : filters) {
    unsub.filters.push_back(f);
  }
  if (absl::Status s = Send(unsub); !s.ok()) {
    return s;
  }
  absl::StatusOr<ReceivedPacket> ack =
      AwaitAck(PacketType::kUnsuback, unsub.packet_id, options.timeout);
  if (ack.ok() && IsV5(version_) && ack->As<mqtt::Unsuback>().reasons.size() != filters.size()) {
    return absl::DataLossError(absl::StrFormat(
        "UNSUBACK carries %u reason codes for %u topic filters [MQTT-3.11.3-1]: %s",
        ack->As<mqtt::Unsuback>().reasons.size(), filters.size(), ack->DebugString()));
  }
  return ack;
}

absl::StatusOr<PublishResult> MqttClient::Publish(std::string_view topic, std::string_view payload,
                                                  Qos qos) {
  PublishOptions o;
  o.qos = qos;
  return Publish(topic, payload, o);
}

absl::StatusOr<PublishResult> MqttClient::Publish(std::string_view topic, std::string_view payload,
                                                  const PublishOptions& options) {
  mqtt::Publish pub;
  pub.topic = topic;
  pub.payload = payload;
  pub.qos = options.qos;
  pub.retain = options.retain;
  pub.dup = options.dup;
  std::string storage;
  pub.properties = WithUserProperties(options.properties, options.user_properties, &storage);
  PublishResult result;
  if (options.qos != Qos::k0) {
    pub.packet_id = options.packet_id != 0 ? options.packet_id : NextPacketId();
    result.packet_id = pub.packet_id;
  }
  if (absl::Status s = Send(pub); !s.ok()) {
    return s;
  }
  if (options.qos == Qos::k0) {
    return result;
  }
  if (options.qos == Qos::k1) {
    absl::StatusOr<ReceivedPacket> ack =
        AwaitAck(PacketType::kPuback, pub.packet_id, options.timeout);
    if (!ack.ok()) {
      return ack.status();
    }
    result.puback = *ack;
    return result;
  }
  absl::StatusOr<ReceivedPacket> rec =
      AwaitAck(PacketType::kPubrec, pub.packet_id, options.timeout);
  if (!rec.ok()) {
    return rec.status();
  }
  result.pubrec = *rec;
  if (mqtt::IsFailure(rec->reason())) {
    return result;  // the flow ends at a failing PUBREC [MQTT-4.3.3-?]: no PUBREL
  }
  mqtt::Pubrel rel;
  rel.packet_id = pub.packet_id;
  if (absl::Status s = Send(rel); !s.ok()) {
    return s;
  }
  absl::StatusOr<ReceivedPacket> comp =
      AwaitAck(PacketType::kPubcomp, pub.packet_id, options.timeout);
  if (!comp.ok()) {
    return comp.status();
  }
  result.pubcomp = *comp;
  return result;
}

absl::Status MqttClient::Ping(std::chrono::milliseconds timeout) {
  if (absl::Status s = Send(mqtt::Pingreq{}); !s.ok()) {
    return s;
  }
  return AwaitAck(PacketType::kPingresp, 0, timeout).status();
}

absl::Status MqttClient::Disconnect(ReasonCode reason, const PacketOptions& options) {
  mqtt::Disconnect d;
  d.reason = reason;
  std::string storage;
  d.properties = WithUserProperties(options.properties, options.user_properties, &storage);
  absl::Status s = Send(d);
  if (!s.ok()) {
    CloseSocket();
    return s;
  }
  // Half-close, so the server sees the end of the stream right after the DISCONNECT, then
  // read until it closes: closing at once with unread bytes would make the kernel send a
  // reset, which may overtake the DISCONNECT in the server's eyes.
  write_shut_ = true;
  ::shutdown(fd_, SHUT_WR);
  const Clock::time_point deadline = Clock::now() + options.timeout;
  while (!eof_) {
    absl::StatusOr<bool> got = ReadSome(deadline);
    if (!got.ok()) {
      break;  // a malformed packet after our DISCONNECT: it stays in stream_error_
    }
    if (!*got && !eof_) {
      CloseSocket();
      return absl::DeadlineExceededError(absl::StrFormat(
          "the server did not close the connection within %d ms of DISCONNECT and FIN",
          static_cast<int>(options.timeout.count())));
    }
  }
  CloseSocket();
  return absl::OkStatus();
}

void MqttClient::CloseSocket() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void MqttClient::ResetSocket() {
  if (fd_ >= 0) {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd_);
    fd_ = -1;
  }
}

}  // namespace ringmq::testing
