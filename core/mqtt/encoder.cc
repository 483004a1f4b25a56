#include "core/mqtt/encoder.h"

#include <type_traits>

#include "core/base/asserts.h"
#include "core/mqtt/internal/wire.h"

namespace ringmq::mqtt {
namespace {

using internal::LengthPrefixedSize;
using internal::WriteBytes;
using internal::WriteLengthPrefixed;
using internal::WriteU16;
using internal::WriteU32;

size_t Framed(size_t remaining) {
  RINGMQ_DASSERT(remaining <= kMaxRemainingLength);
  return 1 + VarintSize(static_cast<uint32_t>(remaining)) + remaining;
}

uint8_t* WriteHeader(uint8_t* out, PacketType type, uint8_t flags, size_t remaining) {
  *out++ = static_cast<uint8_t>((static_cast<uint8_t>(type) << 4) | flags);
  return EncodeVarint(out, static_cast<uint32_t>(remaining));
}

// A property block on the wire: Property Length + properties.
size_t PropertyBlockSize(size_t props_size) {
  return VarintSize(static_cast<uint32_t>(props_size)) + props_size;
}

// ---- CONNECT -------------------------------------------------------------------------------

struct ConnectSizes {
  size_t props = 0;
  size_t will_props = 0;
  size_t remaining = 0;
};

ConnectSizes ConnectLayout(const Connect& p, ProtocolVersion v) {
  ConnectSizes s;
  const bool v5 = IsV5(v);
  std::string_view name = v == ProtocolVersion::kMqtt31 ? "MQIsdp" : "MQTT";
  size_t n = LengthPrefixedSize(name) + 1 /*level*/ + 1 /*flags*/ + 2 /*keep alive*/;
  if (v5) {
    s.props = PropertiesSize(p.properties);
    n += PropertyBlockSize(s.props);
  }
  n += LengthPrefixedSize(p.client_id);
  if (p.will) {
    if (v5) {
      s.will_props = PropertiesSize(p.will->properties);
      n += PropertyBlockSize(s.will_props);
    }
    n += LengthPrefixedSize(p.will->topic) + LengthPrefixedSize(p.will->payload);
  }
  if (p.username) {
    n += LengthPrefixedSize(*p.username);
  }
  if (p.password) {
    n += LengthPrefixedSize(*p.password);
  }
  s.remaining = n;
  return s;
}

// ---- PUBLISH -------------------------------------------------------------------------------

size_t PublishRemaining(const Publish& p, ProtocolVersion v, size_t* props) {
  size_t n = LengthPrefixedSize(p.topic) + p.payload.size();
  if (p.qos != Qos::k0) {
    n += 2;
  }
  if (IsV5(v)) {
    *props = PropertiesSize(p.properties);
    n += PropertyBlockSize(*props);
  }
  return n;
}

// ---- PUBACK / PUBREC / PUBREL / PUBCOMP ----------------------------------------------------

enum class AckForm : uint8_t { kIdOnly, kWithReason, kFull };

template <PacketType kType>
AckForm AckLayout(const PublishAck<kType>& p, ProtocolVersion v, size_t* props, size_t* remaining) {
  *props = 0;
  if (!IsV5(v)) {
    *remaining = 2;
    return AckForm::kIdOnly;
  }
  *props = PropertiesSize(p.properties);
  if (*props == 0) {
    // Reason Code and Property Length may be omitted for Success without properties
    // (§3.4.2.1): the 2-byte form is the most compact and what every client expects.
    if (p.reason == ReasonCode::kSuccess) {
      *remaining = 2;
      return AckForm::kIdOnly;
    }
    *remaining = 3;
    return AckForm::kWithReason;
  }
  *remaining = 3 + PropertyBlockSize(*props);
  return AckForm::kFull;
}

template <PacketType kType>
size_t AckSize(const PublishAck<kType>& p, ProtocolVersion v) {
  size_t props;
  size_t remaining;
  AckLayout(p, v, &props, &remaining);
  return Framed(remaining);
}

template <PacketType kType>
size_t AckEncode(const PublishAck<kType>& p, ProtocolVersion v, uint8_t* out) {
  size_t props;
  size_t remaining;
  AckForm form = AckLayout(p, v, &props, &remaining);
  constexpr uint8_t kFlags = kType == PacketType::kPubrel ? 0x02 : 0x00;
  uint8_t* w = WriteHeader(out, kType, kFlags, remaining);
  w = WriteU16(w, p.packet_id);
  if (form != AckForm::kIdOnly) {
    *w++ = static_cast<uint8_t>(p.reason);
  }
  if (form == AckForm::kFull) {
    w = EncodeProperties(w, p.properties, props);
  }
  return static_cast<size_t>(w - out);
}

// ---- SUBSCRIBE / SUBACK / UNSUBSCRIBE / UNSUBACK -------------------------------------------

uint8_t OptionsByte(const SubscriptionOptions& o, ProtocolVersion v) {
  uint8_t b = static_cast<uint8_t>(o.max_qos);
  if (IsV5(v)) {
    b |= static_cast<uint8_t>((o.no_local ? 0x04 : 0) | (o.retain_as_published ? 0x08 : 0) |
                              (static_cast<uint8_t>(o.retain_handling) << 4));
  }
  return b;
}

size_t SubscribeRemaining(const Subscribe& p, ProtocolVersion v, size_t* props) {
  size_t n = 2;
  *props = 0;
  if (IsV5(v)) {
    *props = PropertiesSize(p.properties);
    n += PropertyBlockSize(*props);
  }
  for (const Subscription& s : p.subscriptions) {
    n += LengthPrefixedSize(s.filter) + 1;
  }
  return n;
}

size_t UnsubscribeRemaining(const Unsubscribe& p, ProtocolVersion v, size_t* props) {
  size_t n = 2;
  *props = 0;
  if (IsV5(v)) {
    *props = PropertiesSize(p.properties);
    n += PropertyBlockSize(*props);
  }
  for (std::string_view f : p.filters) {
    n += LengthPrefixedSize(f);
  }
  return n;
}

template <typename P>
size_t AckListRemaining(const P& p, ProtocolVersion v, bool v3_has_codes, size_t* props) {
  size_t n = 2;
  *props = 0;
  if (IsV5(v)) {
    *props = PropertiesSize(p.properties);
    n += PropertyBlockSize(*props) + p.reasons.size();
  } else if (v3_has_codes) {
    n += p.reasons.size();
  }
  return n;
}

// ---- DISCONNECT / AUTH ---------------------------------------------------------------------

// Both have no body at all for Success without properties (§3.14.2.1, §3.15.2.1).
// DISCONNECT may also end right after the Reason Code (§3.14.2.2.1: "If the Remaining Length
// is less than 2, a value of 0 is used"); AUTH has no such form, so an AUTH with another
// reason keeps its Property Length even when it is 0.
template <typename P>
size_t ReasonOnlyRemaining(const P& p, size_t* props) {
  *props = PropertiesSize(p.properties);
  if (*props != 0) {
    return 1 + PropertyBlockSize(*props);
  }
  if (p.reason == ReasonCode::kSuccess) {
    return 0;
  }
  return std::is_same_v<P, Auth> ? 2 : 1;
}

template <typename P>
size_t ReasonOnlyEncode(const P& p, PacketType type, uint8_t* out) {
  size_t props;
  size_t remaining = ReasonOnlyRemaining(p, &props);
  uint8_t* w = WriteHeader(out, type, 0, remaining);
  if (remaining > 0) {
    *w++ = static_cast<uint8_t>(p.reason);
  }
  if (remaining > 1) {
    w = EncodeProperties(w, p.properties, props);
  }
  return static_cast<size_t>(w - out);
}

}  // namespace

// ---- sizes ---------------------------------------------------------------------------------

size_t EncodedSize(const Connect& p, ProtocolVersion v) {
  return Framed(ConnectLayout(p, v).remaining);
}

size_t EncodedSize(const Connack& p, ProtocolVersion v) {
  if (!IsV5(v)) {
    return 4;
  }
  return Framed(2 + PropertyBlockSize(PropertiesSize(p.properties)));
}

size_t EncodedSize(const Publish& p, ProtocolVersion v) {
  size_t props;
  return Framed(PublishRemaining(p, v, &props));
}

size_t EncodedSize(const Puback& p, ProtocolVersion v) {
  return AckSize(p, v);
}
size_t EncodedSize(const Pubrec& p, ProtocolVersion v) {
  return AckSize(p, v);
}
size_t EncodedSize(const Pubrel& p, ProtocolVersion v) {
  return AckSize(p, v);
}
size_t EncodedSize(const Pubcomp& p, ProtocolVersion v) {
  return AckSize(p, v);
}

size_t EncodedSize(const Subscribe& p, ProtocolVersion v) {
  size_t props;
  return Framed(SubscribeRemaining(p, v, &props));
}

size_t EncodedSize(const Suback& p, ProtocolVersion v) {
  size_t props;
  return Framed(AckListRemaining(p, v, /*v3_has_codes=*/true, &props));
}

size_t EncodedSize(const Unsubscribe& p, ProtocolVersion v) {
  size_t props;
  return Framed(UnsubscribeRemaining(p, v, &props));
}

size_t EncodedSize(const Unsuback& p, ProtocolVersion v) {
  size_t props;
  return Framed(AckListRemaining(p, v, /*v3_has_codes=*/false, &props));
}

size_t EncodedSize(const Pingreq&, ProtocolVersion) {
  return 2;
}
size_t EncodedSize(const Pingresp&, ProtocolVersion) {
  return 2;
}

size_t EncodedSize(const Disconnect& p, ProtocolVersion v) {
  if (!IsV5(v)) {
    return 2;
  }
  size_t props;
  return Framed(ReasonOnlyRemaining(p, &props));
}

size_t EncodedSize(const Auth& p, ProtocolVersion v) {
  RINGMQ_DASSERT(IsV5(v));
  (void)v;
  size_t props;
  return Framed(ReasonOnlyRemaining(p, &props));
}

size_t EncodedSize(const Packet& p, ProtocolVersion v) {
  return std::visit([v](const auto& pkt) { return EncodedSize(pkt, v); }, p);
}

// ---- encoders ------------------------------------------------------------------------------

size_t Encode(const Connect& p, ProtocolVersion v, uint8_t* out) {
  ConnectSizes s = ConnectLayout(p, v);
  const bool v5 = IsV5(v);
  uint8_t* w = WriteHeader(out, PacketType::kConnect, 0, s.remaining);
  w = WriteLengthPrefixed(w, v == ProtocolVersion::kMqtt31 ? "MQIsdp" : "MQTT");
  *w++ = static_cast<uint8_t>(v);
  uint8_t flags = 0;
  if (p.clean_start) {
    flags |= 0x02;
  }
  if (p.will) {
    flags |= static_cast<uint8_t>(0x04 | (static_cast<uint8_t>(p.will->qos) << 3) |
                                  (p.will->retain ? 0x20 : 0));
  }
  if (p.password) {
    flags |= 0x40;
  }
  if (p.username) {
    flags |= 0x80;
  }
  *w++ = flags;
  w = WriteU16(w, p.keep_alive_s);
  if (v5) {
    w = EncodeProperties(w, p.properties, s.props);
  }
  w = WriteLengthPrefixed(w, p.client_id);
  if (p.will) {
    if (v5) {
      w = EncodeProperties(w, p.will->properties, s.will_props);
    }
    w = WriteLengthPrefixed(w, p.will->topic);
    w = WriteLengthPrefixed(w, p.will->payload);
  }
  if (p.username) {
    w = WriteLengthPrefixed(w, *p.username);
  }
  if (p.password) {
    w = WriteLengthPrefixed(w, *p.password);
  }
  return static_cast<size_t>(w - out);
}

size_t Encode(const Connack& p, ProtocolVersion v, uint8_t* out) {
  RINGMQ_DASSERT(!(p.session_present && IsFailure(p.reason)));  // [MQTT-3.2.2-6]
  if (!IsV5(v)) {
    uint8_t* w = WriteHeader(out, PacketType::kConnack, 0, 2);
    // MQTT 3.1 has no Session Present flag: its first byte is reserved and unused.
    *w++ = p.session_present && v != ProtocolVersion::kMqtt31 ? 1 : 0;
    *w++ = static_cast<uint8_t>(ToV3ConnackCode(p.reason));
    return static_cast<size_t>(w - out);
  }
  size_t props = PropertiesSize(p.properties);
  uint8_t* w = WriteHeader(out, PacketType::kConnack, 0, 2 + PropertyBlockSize(props));
  *w++ = p.session_present ? 1 : 0;
  *w++ = static_cast<uint8_t>(p.reason);
  w = EncodeProperties(w, p.properties, props);
  return static_cast<size_t>(w - out);
}

size_t Encode(const Publish& p, ProtocolVersion v, uint8_t* out) {
  RINGMQ_DASSERT((p.qos == Qos::k0) == (p.packet_id == 0));
  RINGMQ_DASSERT(!(p.dup && p.qos == Qos::k0));  // [MQTT-3.3.1-2]
  size_t props = 0;
  size_t remaining = PublishRemaining(p, v, &props);
  uint8_t flags = static_cast<uint8_t>((p.dup ? 0x08 : 0) | (static_cast<uint8_t>(p.qos) << 1) |
                                       (p.retain ? 0x01 : 0));
  uint8_t* w = WriteHeader(out, PacketType::kPublish, flags, remaining);
  w = WriteLengthPrefixed(w, p.topic);
  if (p.qos != Qos::k0) {
    w = WriteU16(w, p.packet_id);
  }
  if (IsV5(v)) {
    w = EncodeProperties(w, p.properties, props);
  }
  w = WriteBytes(w, p.payload);
  return static_cast<size_t>(w - out);
}

size_t PublishPacketIdOffset(const Publish& p, ProtocolVersion v) {
  size_t props;
  size_t remaining = PublishRemaining(p, v, &props);
  return 1 + VarintSize(static_cast<uint32_t>(remaining)) + 2 + p.topic.size();
}

size_t Encode(const Puback& p, ProtocolVersion v, uint8_t* out) {
  return AckEncode(p, v, out);
}
size_t Encode(const Pubrec& p, ProtocolVersion v, uint8_t* out) {
  return AckEncode(p, v, out);
}
size_t Encode(const Pubrel& p, ProtocolVersion v, uint8_t* out) {
  return AckEncode(p, v, out);
}
size_t Encode(const Pubcomp& p, ProtocolVersion v, uint8_t* out) {
  return AckEncode(p, v, out);
}

size_t Encode(const Subscribe& p, ProtocolVersion v, uint8_t* out) {
  size_t props;
  size_t remaining = SubscribeRemaining(p, v, &props);
  uint8_t* w = WriteHeader(out, PacketType::kSubscribe, 0x02, remaining);
  w = WriteU16(w, p.packet_id);
  if (IsV5(v)) {
    w = EncodeProperties(w, p.properties, props);
  }
  for (const Subscription& s : p.subscriptions) {
    w = WriteLengthPrefixed(w, s.filter);
    *w++ = OptionsByte(s.options, v);
  }
  return static_cast<size_t>(w - out);
}

size_t Encode(const Suback& p, ProtocolVersion v, uint8_t* out) {
  size_t props;
  size_t remaining = AckListRemaining(p, v, /*v3_has_codes=*/true, &props);
  uint8_t* w = WriteHeader(out, PacketType::kSuback, 0, remaining);
  w = WriteU16(w, p.packet_id);
  const bool v5 = IsV5(v);
  if (v5) {
    w = EncodeProperties(w, p.properties, props);
  }
  for (ReasonCode rc : p.reasons) {
    *w++ = v5 ? static_cast<uint8_t>(rc) : ToV3SubackCode(rc);
  }
  return static_cast<size_t>(w - out);
}

size_t Encode(const Unsubscribe& p, ProtocolVersion v, uint8_t* out) {
  size_t props;
  size_t remaining = UnsubscribeRemaining(p, v, &props);
  uint8_t* w = WriteHeader(out, PacketType::kUnsubscribe, 0x02, remaining);
  w = WriteU16(w, p.packet_id);
  if (IsV5(v)) {
    w = EncodeProperties(w, p.properties, props);
  }
  for (std::string_view f : p.filters) {
    w = WriteLengthPrefixed(w, f);
  }
  return static_cast<size_t>(w - out);
}

size_t Encode(const Unsuback& p, ProtocolVersion v, uint8_t* out) {
  size_t props;
  size_t remaining = AckListRemaining(p, v, /*v3_has_codes=*/false, &props);
  uint8_t* w = WriteHeader(out, PacketType::kUnsuback, 0, remaining);
  w = WriteU16(w, p.packet_id);
  if (IsV5(v)) {
    w = EncodeProperties(w, p.properties, props);
    for (ReasonCode rc : p.reasons) {
      *w++ = static_cast<uint8_t>(rc);
    }
  }
  return static_cast<size_t>(w - out);
}

size_t Encode(const Pingreq&, ProtocolVersion, uint8_t* out) {
  out[0] = static_cast<uint8_t>(PacketType::kPingreq) << 4;
  out[1] = 0;
  return 2;
}

size_t Encode(const Pingresp&, ProtocolVersion, uint8_t* out) {
  out[0] = static_cast<uint8_t>(PacketType::kPingresp) << 4;
  out[1] = 0;
  return 2;
}

size_t Encode(const Disconnect& p, ProtocolVersion v, uint8_t* out) {
  if (!IsV5(v)) {
    out[0] = static_cast<uint8_t>(PacketType::kDisconnect) << 4;
    out[1] = 0;
    return 2;
  }
  return ReasonOnlyEncode(p, PacketType::kDisconnect, out);
}

size_t Encode(const Auth& p, ProtocolVersion v, uint8_t* out) {
  RINGMQ_DASSERT(IsV5(v));
  (void)v;
  return ReasonOnlyEncode(p, PacketType::kAuth, out);
}

size_t Encode(const Packet& p, ProtocolVersion v, uint8_t* out) {
  return std::visit([v, out](const auto& pkt) { return Encode(pkt, v, out); }, p);
}

}  // namespace ringmq::mqtt
