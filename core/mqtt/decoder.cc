#include "core/mqtt/decoder.h"

#include "core/mqtt/internal/wire.h"
#include "core/mqtt/topic.h"
#include "core/mqtt/utf8.h"
#include "core/mqtt/varint.h"

namespace ringmq::mqtt {
namespace {

using internal::WireReader;

constexpr DecodeStatus kBadFlags =
    DecodeStatus::Malformed("reserved fixed-header flags are wrong [MQTT-2.1.3-1]");
constexpr DecodeStatus kTrailing =
    DecodeStatus::Malformed("bytes left over after the last field of the packet");
constexpr DecodeStatus kZeroPacketId =
    DecodeStatus::Protocol("packet identifier is 0 [MQTT-2.2.1-3]");

WireReader ReaderOf(std::span<const uint8_t> body) {
  return WireReader(body.data(), body.size());
}

DecodeStatus ReadProperties(WireReader* r, PropertyContext ctx, Properties* out) {
  size_t consumed = 0;
  DecodeStatus s = DecodeProperties(r->pos(), r->remaining(), ctx, out, &consumed);
  if (s.ok()) {
    r->Skip(consumed);
  }
  return s;
}

DecodeStatus TopicStatus(TopicError e) {
  // Every TopicError is a format violation: the statements in §4.7 and §4.8.2 are wire
  // rules, so the packet is malformed. (Topic Name invalid / Topic Filter invalid are for
  // well-formed topics the server does not accept, e.g. by policy.)
  return DecodeStatus::Malformed(TopicErrorText(e).data());
}

// The MQTT 5 tail shared by PUBACK/PUBREC/PUBREL/PUBCOMP, DISCONNECT and AUTH: an optional
// Reason Code (Success when the packet ends before it), then optional properties, then
// nothing more.
DecodeStatus DecodeReasonTail(WireReader* r, PacketType type, PropertyContext ctx,
                              const char* bad_code, ReasonCode* reason, Properties* props) {
  if (r->empty()) {
    *reason = ReasonCode::kSuccess;
    return DecodeStatus::Ok();
  }
  uint8_t code;
  (void)r->ReadU8(&code);
  *reason = static_cast<ReasonCode>(code);
  if (!IsValidReasonCode(type, *reason)) {
    return DecodeStatus::Protocol(bad_code);
  }
  if (!r->empty()) {
    DecodeStatus s = ReadProperties(r, ctx, props);
    if (!s.ok()) {
      return s;
    }
  }
  return r->empty() ? DecodeStatus::Ok() : kTrailing;
}

}  // namespace

FrameStatus ParseFixedHeader(std::span<const uint8_t> data, uint32_t max_packet_size,
                             FixedHeader* out) {
  if (data.empty()) {
    return FrameStatus::kNeedMore;
  }
  uint8_t first = data[0];
  if ((first >> 4) == 0) {
    return FrameStatus::kMalformed;  // packet type 0 is reserved
  }
  uint32_t remaining;
  uint8_t size;
  switch (DecodeVarint(data.data() + 1, data.size() - 1, &remaining, &size)) {
    case VarintStatus::kOk:
      break;
    case VarintStatus::kNeedMore:
      return FrameStatus::kNeedMore;
    case VarintStatus::kMalformed:
      return FrameStatus::kMalformed;
  }
  out->type = static_cast<PacketType>(first >> 4);
  out->flags = first & 0x0F;
  out->header_size = static_cast<uint8_t>(1 + size);
  out->remaining_length = remaining;
  if (static_cast<uint64_t>(out->header_size) + remaining > max_packet_size) {
    return FrameStatus::kTooLarge;
  }
  return FrameStatus::kOk;
}

DecodeStatus DecodeConnect(const FixedHeader& h, std::span<const uint8_t> body, Connect* out) {
  if (h.flags != 0) {
    return kBadFlags;
  }
  WireReader r = ReaderOf(body);
  std::string_view name;
  uint8_t level;
  if (!r.ReadLengthPrefixed(&name) || !r.ReadU8(&level)) {
    out->version = ProtocolVersion::kMqtt311;
    return DecodeStatus::Malformed("CONNECT too short for protocol name and level");
  }
  if (name == "MQTT" && (level == 4 || level == 5)) {
    out->version = static_cast<ProtocolVersion>(level);
  } else if (name == "MQIsdp" && level == 3) {
    out->version = ProtocolVersion::kMqtt31;
  } else if (name == "MQTT" || name == "MQIsdp") {
    out->version = ProtocolVersion::kMqtt311;
    return {ReasonCode::kUnsupportedProtocolVersion, "unsupported protocol level [MQTT-3.1.2-2]"};
  } else {
    out->version = ProtocolVersion::kMqtt311;
    return DecodeStatus::Protocol("unknown protocol name [MQTT-3.1.2-1]");
  }
  const bool v5 = IsV5(out->version);

  uint8_t flags;
  if (!r.ReadU8(&flags) || !r.ReadU16(&out->keep_alive_s)) {
    return DecodeStatus::Malformed("CONNECT too short for flags and keep alive");
  }
  if (flags & 0x01) {
    return DecodeStatus::Malformed("reserved CONNECT flag is set [MQTT-3.1.2-3]");
  }
  out->clean_start = (flags & 0x02) != 0;
  const bool will_flag = (flags & 0x04) != 0;
  const uint8_t will_qos = (flags >> 3) & 0x03;
  const bool will_retain = (flags & 0x20) != 0;
  const bool password_flag = (flags & 0x40) != 0;
  const bool username_flag = (flags & 0x80) != 0;
  if (!will_flag && will_qos != 0) {
    return DecodeStatus::Malformed("Will QoS set without Will Flag [MQTT-3.1.2-11]");
  }
  if (!will_flag && will_retain) {
    return DecodeStatus::Malformed("Will Retain set without Will Flag [MQTT-3.1.2-13]");
  }
  if (will_qos == 3) {
    return DecodeStatus::Malformed("Will QoS is 3 [MQTT-3.1.2-12]");
  }
  if (!v5 && password_flag && !username_flag) {
    return DecodeStatus::Malformed("password without user name [MQTT-3.1.2-22 (3.1.1)]");
  }
  if (v5) {
    DecodeStatus s = ReadProperties(&r, PropertyContext::kConnect, &out->properties);
    if (!s.ok()) {
      return s;
    }
    if (out->properties.Has(PropertyId::kAuthenticationData) &&
        !out->properties.Has(PropertyId::kAuthenticationMethod)) {
      return DecodeStatus::Protocol("Authentication Data without Authentication Method");
    }
  }
  // Payload order: Client Identifier, Will Properties, Will Topic, Will Payload, User Name,
  // Password [MQTT-3.1.3-1].
  if (!r.ReadLengthPrefixed(&out->client_id)) {
    return DecodeStatus::Malformed("CONNECT has no Client Identifier [MQTT-3.1.3-3]");
  }
  if (!IsValidMqttUtf8(out->client_id)) {
    return DecodeStatus::Malformed("Client Identifier is not valid UTF-8 [MQTT-3.1.3-4]");
  }
  if (will_flag) {
    Will& w = out->will.emplace();
    w.qos = static_cast<Qos>(will_qos);
    w.retain = will_retain;
    if (v5) {
      DecodeStatus s = ReadProperties(&r, PropertyContext::kWill, &w.properties);
      if (!s.ok()) {
        return s;
      }
    }
    if (!r.ReadLengthPrefixed(&w.topic)) {
      return DecodeStatus::Malformed("CONNECT has no Will Topic [MQTT-3.1.2-9]");
    }
    TopicError te = ValidateTopicName(w.topic);
    if (te != TopicError::kOk) {
      return TopicStatus(te);
    }
    if (!r.ReadLengthPrefixed(&w.payload)) {
      return DecodeStatus::Malformed("CONNECT has no Will Payload [MQTT-3.1.2-9]");
    }
  }
  if (username_flag) {
    std::string_view u;
    if (!r.ReadLengthPrefixed(&u)) {
      return DecodeStatus::Malformed("CONNECT has no User Name [MQTT-3.1.2-17]");
    }
    if (!IsValidMqttUtf8(u)) {
      return DecodeStatus::Malformed("User Name is not valid UTF-8 [MQTT-3.1.3-12]");
    }
    out->username = u;
  }
  if (password_flag) {
    std::string_view p;
    if (!r.ReadLengthPrefixed(&p)) {
      return DecodeStatus::Malformed("CONNECT has no Password [MQTT-3.1.2-19]");
    }
    out->password = p;
  }
  if (!r.empty()) {
    return kTrailing;
  }
  return DecodeStatus::Ok();
}

DecodeStatus DecodeConnack(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                           Connack* out) {
  if (h.flags != 0) {
    return kBadFlags;
  }
  WireReader r = ReaderOf(body);
  uint8_t ack_flags;
  uint8_t code;
  if (!r.ReadU8(&ack_flags) || !r.ReadU8(&code)) {
    return DecodeStatus::Malformed("CONNACK too short");
  }
  if (ack_flags & 0xFE) {
    return DecodeStatus::Malformed("reserved CONNACK flags are set [MQTT-3.2.2-1]");
  }
  out->session_present = (ack_flags & 0x01) != 0;
  // A 3.x server answers a 5.0 CONNECT with a 3.x CONNACK (return code 0x01, no
  // properties); read that as the 3.x code it is.
  if (!IsV5(v) || (r.empty() && code != 0 && code <= 5)) {
    if (!FromV3ConnackCode(code, &out->reason)) {
      return DecodeStatus::Malformed("unknown CONNACK return code");
    }
  } else {
    out->reason = static_cast<ReasonCode>(code);
    if (!IsValidReasonCode(PacketType::kConnack, out->reason)) {
      return DecodeStatus::Protocol("reason code not allowed in CONNACK [MQTT-3.2.2-8]");
    }
    if (!r.empty()) {
      DecodeStatus s = ReadProperties(&r, PropertyContext::kConnack, &out->properties);
      if (!s.ok()) {
        return s;
      }
    }
  }
  if (out->session_present && IsFailure(out->reason)) {
    return DecodeStatus::Protocol("Session Present with a failure code [MQTT-3.2.2-6]");
  }
  return r.empty() ? DecodeStatus::Ok() : kTrailing;
}

DecodeStatus DecodePublish(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                           Publish* out) {
  const uint8_t qos = (h.flags >> 1) & 0x03;
  if (qos == 3) {
    return DecodeStatus::Malformed("PUBLISH QoS is 3 [MQTT-3.3.1-4]");
  }
  out->qos = static_cast<Qos>(qos);
  out->dup = (h.flags & 0x08) != 0;
  out->retain = (h.flags & 0x01) != 0;
  if (out->dup && qos == 0) {
    return DecodeStatus::Malformed("DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2]");
  }
  WireReader r = ReaderOf(body);
  if (!r.ReadLengthPrefixed(&out->topic)) {
    return DecodeStatus::Malformed("PUBLISH too short for its Topic Name");
  }
  if (!out->topic.empty()) {
    switch (CheckTopicNameChars(out->topic)) {
      case TopicNameCheck::kOk:
        break;
      case TopicNameCheck::kBadUtf8:
        return DecodeStatus::Malformed("Topic Name is not valid UTF-8 [MQTT-3.3.2-1]");
      case TopicNameCheck::kWildcard:
        return DecodeStatus::Malformed("Topic Name contains a wildcard [MQTT-3.3.2-2]");
    }
  } else if (!IsV5(v)) {
    return DecodeStatus::Malformed("Topic Name is empty [MQTT-4.7.3-1]");
  }
  if (qos != 0) {
    if (!r.ReadU16(&out->packet_id)) {
      return DecodeStatus::Malformed("PUBLISH too short for its Packet Identifier");
    }
    if (out->packet_id == 0) {
      return kZeroPacketId;
    }
  }
  if (IsV5(v)) {
    // Fast path: no properties (a single zero Property Length byte).
    if (!r.empty() && *r.pos() == 0) {
      r.Skip(1);
    } else {
      DecodeStatus s = ReadProperties(&r, PropertyContext::kPublish, &out->properties);
      if (!s.ok()) {
        return s;
      }
    }
    if (out->topic.empty() && !out->properties.Has(PropertyId::kTopicAlias)) {
      return DecodeStatus::Protocol("empty Topic Name without a Topic Alias [3.3.2.1]");
    }
  }
  out->payload = r.Rest();
  return DecodeStatus::Ok();
}

namespace {

// PUBREL, SUBSCRIBE and UNSUBSCRIBE have flags 0010 [MQTT-2.1.3-1]. MQTT 3.1 (protocol level 3)
// gave them QoS 1 and a DUP flag that is set when the packet is sent again, so 1010 is a valid
// resend there (3.1 §2.1); later versions made the bits reserved.
bool ValidQos1Flags(ProtocolVersion v, uint8_t flags) {
  return flags == 0x02 || (v == ProtocolVersion::kMqtt31 && flags == 0x0A);
}

template <PacketType kType>
DecodeStatus DecodeAck(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                       PublishAck<kType>* out) {
  const bool flags_ok = kType == PacketType::kPubrel ? ValidQos1Flags(v, h.flags) : h.flags == 0x00;
  if (!flags_ok) {
    return kType == PacketType::kPubrel
               ? DecodeStatus::Malformed("PUBREL flags must be 0010 [MQTT-3.6.1-1]")
               : kBadFlags;
  }
  WireReader r = ReaderOf(body);
  if (!r.ReadU16(&out->packet_id)) {
    return DecodeStatus::Malformed("acknowledgement too short for its Packet Identifier");
  }
  if (out->packet_id == 0) {
    return kZeroPacketId;
  }
  if (!IsV5(v)) {
    return r.empty() ? DecodeStatus::Ok() : kTrailing;
  }
  // MQTT 5: Reason Code and Property Length may be left out (Remaining Length 2 or 3).
  constexpr PropertyContext kCtx = kType == PacketType::kPuback   ? PropertyContext::kPuback
                                   : kType == PacketType::kPubrec ? PropertyContext::kPubrec
                                   : kType == PacketType::kPubrel ? PropertyContext::kPubrel
                                                                  : PropertyContext::kPubcomp;
  return DecodeReasonTail(&r, kType, kCtx,
                          "reason code not allowed in this acknowledgement [3.4.2.1]", &out->reason,
                          &out->properties);
}

}  // namespace

DecodeStatus DecodePuback(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                          Puback* out) {
  return DecodeAck(v, h, body, out);
}
DecodeStatus DecodePubrec(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                          Pubrec* out) {
  return DecodeAck(v, h, body, out);
}
DecodeStatus DecodePubrel(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                          Pubrel* out) {
  return DecodeAck(v, h, body, out);
}
DecodeStatus DecodePubcomp(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                           Pubcomp* out) {
  return DecodeAck(v, h, body, out);
}

DecodeStatus DecodeSubscribe(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                             Subscribe* out) {
  if (!ValidQos1Flags(v, h.flags)) {
    return DecodeStatus::Malformed("SUBSCRIBE flags must be 0010 [MQTT-3.8.1-1]");
  }
  WireReader r = ReaderOf(body);
  if (!r.ReadU16(&out->packet_id)) {
    return DecodeStatus::Malformed("SUBSCRIBE too short for its Packet Identifier");
  }
  if (out->packet_id == 0) {
    return kZeroPacketId;
  }
  const bool v5 = IsV5(v);
  if (v5) {
    DecodeStatus s = ReadProperties(&r, PropertyContext::kSubscribe, &out->properties);
    if (!s.ok()) {
      return s;
    }
  }
  if (r.empty()) {
    return DecodeStatus::Protocol("SUBSCRIBE has no topic filter [MQTT-3.8.3-2]");
  }
  while (!r.empty()) {
    Subscription sub;
    uint8_t opts;
    if (!r.ReadLengthPrefixed(&sub.filter) || !r.ReadU8(&opts)) {
      return DecodeStatus::Malformed("truncated SUBSCRIBE topic filter or options");
    }
    TopicError te = ValidateTopicFilter(sub.filter);
    if (te != TopicError::kOk) {
      return TopicStatus(te);
    }
    if (!v5 && (opts & 0xFC) != 0) {
      return DecodeStatus::Malformed(
          "reserved bits of the requested QoS are set [MQTT-3.8.3-4 (3.1.1)]");
    }
    if (opts & 0xC0) {
      return DecodeStatus::Malformed("reserved subscription option bits are set [MQTT-3.8.3-5]");
    }
    const uint8_t qos = opts & 0x03;
    if (qos == 3) {
      return v5 ? DecodeStatus::Protocol("subscription Maximum QoS is 3 [3.8.3.1]")
                : DecodeStatus::Malformed("requested QoS is 3 [MQTT-3.8.3-4 (3.1.1)]");
    }
    const uint8_t retain_handling = (opts >> 4) & 0x03;
    if (retain_handling == 3) {
      return DecodeStatus::Protocol("Retain Handling is 3 [3.8.3.1]");
    }
    sub.options.max_qos = static_cast<Qos>(qos);
    sub.options.no_local = (opts & 0x04) != 0;
    sub.options.retain_as_published = (opts & 0x08) != 0;
    sub.options.retain_handling = static_cast<RetainHandling>(retain_handling);
    if (sub.options.no_local && IsSharedFilter(sub.filter)) {
      return DecodeStatus::Protocol("No Local on a shared subscription [MQTT-3.8.3-4]");
    }
    out->subscriptions.push_back(sub);
  }
  return DecodeStatus::Ok();
}

DecodeStatus DecodeSuback(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                          Suback* out) {
  if (h.flags != 0) {
    return kBadFlags;
  }
  WireReader r = ReaderOf(body);
  if (!r.ReadU16(&out->packet_id)) {
    return DecodeStatus::Malformed("SUBACK too short for its Packet Identifier");
  }
  if (out->packet_id == 0) {
    return kZeroPacketId;
  }
  const bool v5 = IsV5(v);
  if (v5) {
    DecodeStatus s = ReadProperties(&r, PropertyContext::kSuback, &out->properties);
    if (!s.ok()) {
      return s;
    }
  }
  if (r.empty()) {
    return DecodeStatus::Protocol("SUBACK has no reason codes [MQTT-3.8.4-6]");
  }
  while (!r.empty()) {
    uint8_t code;
    (void)r.ReadU8(&code);
    auto rc = static_cast<ReasonCode>(code);
    bool valid = v5 ? IsValidReasonCode(PacketType::kSuback, rc) : (code <= 2 || code == 0x80);
    if (!valid) {
      return DecodeStatus::Protocol("reason code not allowed in SUBACK [MQTT-3.9.3-2]");
    }
    out->reasons.push_back(rc);
  }
  return DecodeStatus::Ok();
}

DecodeStatus DecodeUnsubscribe(ProtocolVersion v, const FixedHeader& h,
                               std::span<const uint8_t> body, Unsubscribe* out) {
  if (!ValidQos1Flags(v, h.flags)) {
    return DecodeStatus::Malformed("UNSUBSCRIBE flags must be 0010 [MQTT-3.10.1-1]");
  }
  WireReader r = ReaderOf(body);
  if (!r.ReadU16(&out->packet_id)) {
    return DecodeStatus::Malformed("UNSUBSCRIBE too short for its Packet Identifier");
  }
  if (out->packet_id == 0) {
    return kZeroPacketId;
  }
  if (IsV5(v)) {
    DecodeStatus s = ReadProperties(&r, PropertyContext::kUnsubscribe, &out->properties);
    if (!s.ok()) {
      return s;
    }
  }
  if (r.empty()) {
    return DecodeStatus::Protocol("UNSUBSCRIBE has no topic filter [MQTT-3.10.3-2]");
  }
  while (!r.empty()) {
    std::string_view filter;
    if (!r.ReadLengthPrefixed(&filter)) {
      return DecodeStatus::Malformed("truncated UNSUBSCRIBE topic filter");
    }
    TopicError te = ValidateTopicFilter(filter);
    if (te != TopicError::kOk) {
      return TopicStatus(te);
    }
    out->filters.push_back(filter);
  }
  return DecodeStatus::Ok();
}

DecodeStatus DecodeUnsuback(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                            Unsuback* out) {
  if (h.flags != 0) {
    return kBadFlags;
  }
  WireReader r = ReaderOf(body);
  if (!r.ReadU16(&out->packet_id)) {
    return DecodeStatus::Malformed("UNSUBACK too short for its Packet Identifier");
  }
  if (out->packet_id == 0) {
    return kZeroPacketId;
  }
  if (!IsV5(v)) {
    return r.empty() ? DecodeStatus::Ok() : kTrailing;
  }
  DecodeStatus s = ReadProperties(&r, PropertyContext::kUnsuback, &out->properties);
  if (!s.ok()) {
    return s;
  }
  if (r.empty()) {
    return DecodeStatus::Protocol("UNSUBACK has no reason codes [MQTT-3.11.3-1]");
  }
  while (!r.empty()) {
    uint8_t code;
    (void)r.ReadU8(&code);
    auto rc = static_cast<ReasonCode>(code);
    if (!IsValidReasonCode(PacketType::kUnsuback, rc)) {
      return DecodeStatus::Protocol("reason code not allowed in UNSUBACK [MQTT-3.11.3-2]");
    }
    out->reasons.push_back(rc);
  }
  return DecodeStatus::Ok();
}

namespace {
DecodeStatus DecodeEmpty(const FixedHeader& h, std::span<const uint8_t> body) {
  if (h.flags != 0) {
    return kBadFlags;
  }
  return body.empty() ? DecodeStatus::Ok()
                      : DecodeStatus::Malformed("PINGREQ/PINGRESP must have no body");
}
}  // namespace

DecodeStatus DecodePingreq(const FixedHeader& h, std::span<const uint8_t> body) {
  return DecodeEmpty(h, body);
}

DecodeStatus DecodePingresp(const FixedHeader& h, std::span<const uint8_t> body) {
  return DecodeEmpty(h, body);
}

DecodeStatus DecodeDisconnect(ProtocolVersion v, const FixedHeader& h,
                              std::span<const uint8_t> body, Disconnect* out) {
  if (h.flags != 0) {
    return DecodeStatus::Malformed("DISCONNECT flags must be 0 [MQTT-3.14.1-1]");
  }
  WireReader r = ReaderOf(body);
  if (!IsV5(v)) {
    return r.empty() ? DecodeStatus::Ok() : kTrailing;
  }
  return DecodeReasonTail(&r, PacketType::kDisconnect, PropertyContext::kDisconnect,
                          "reason code not allowed in DISCONNECT [MQTT-3.14.2-1]", &out->reason,
                          &out->properties);
}

DecodeStatus DecodeAuth(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                        Auth* out) {
  if (!IsV5(v)) {
    return DecodeStatus::Malformed("packet type 15 is reserved before MQTT 5");
  }
  if (h.flags != 0) {
    return DecodeStatus::Malformed("AUTH flags must be 0 [MQTT-3.15.1-1]");
  }
  WireReader r = ReaderOf(body);
  return DecodeReasonTail(&r, PacketType::kAuth, PropertyContext::kAuth,
                          "reason code not allowed in AUTH [MQTT-3.15.2-1]", &out->reason,
                          &out->properties);
}

DecodeStatus DecodePacket(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                          Packet* out) {
  switch (h.type) {
    case PacketType::kConnect:
      return DecodeConnect(h, body, &out->emplace<Connect>());
    case PacketType::kConnack:
      return DecodeConnack(v, h, body, &out->emplace<Connack>());
    case PacketType::kPublish:
      return DecodePublish(v, h, body, &out->emplace<Publish>());
    case PacketType::kPuback:
      return DecodePuback(v, h, body, &out->emplace<Puback>());
    case PacketType::kPubrec:
      return DecodePubrec(v, h, body, &out->emplace<Pubrec>());
    case PacketType::kPubrel:
      return DecodePubrel(v, h, body, &out->emplace<Pubrel>());
    case PacketType::kPubcomp:
      return DecodePubcomp(v, h, body, &out->emplace<Pubcomp>());
    case PacketType::kSubscribe:
      return DecodeSubscribe(v, h, body, &out->emplace<Subscribe>());
    case PacketType::kSuback:
      return DecodeSuback(v, h, body, &out->emplace<Suback>());
    case PacketType::kUnsubscribe:
      return DecodeUnsubscribe(v, h, body, &out->emplace<Unsubscribe>());
    case PacketType::kUnsuback:
      return DecodeUnsuback(v, h, body, &out->emplace<Unsuback>());
    case PacketType::kPingreq:
      out->emplace<Pingreq>();
      return DecodePingreq(h, body);
    case PacketType::kPingresp:
      out->emplace<Pingresp>();
      return DecodePingresp(h, body);
    case PacketType::kDisconnect:
      return DecodeDisconnect(v, h, body, &out->emplace<Disconnect>());
    case PacketType::kAuth:
      return DecodeAuth(v, h, body, &out->emplace<Auth>());
    case PacketType::kReserved:
      break;
  }
  return DecodeStatus::Malformed("packet type 0 is reserved");
}

DecodeStatus DecodeOne(ProtocolVersion v, std::span<const uint8_t> data, Packet* out,
                       uint32_t max_packet_size) {
  FixedHeader h;
  switch (ParseFixedHeader(data, max_packet_size, &h)) {
    case FrameStatus::kOk:
      break;
    case FrameStatus::kNeedMore:
      return DecodeStatus::Malformed("incomplete fixed header");
    case FrameStatus::kMalformed:
      return DecodeStatus::Malformed("bad fixed header [MQTT-1.5.5-1]");
    case FrameStatus::kTooLarge:
      return {ReasonCode::kPacketTooLarge, "packet exceeds the Maximum Packet Size"};
  }
  if (h.packet_size() != data.size()) {
    return DecodeStatus::Malformed("Remaining Length does not match the packet's size");
  }
  return DecodePacket(v, h, data.subspan(h.header_size), out);
}

PacketType TypeOf(const Packet& p) {
  static constexpr PacketType kTypes[] = {
      PacketType::kConnect,     PacketType::kConnack,    PacketType::kPublish,
      PacketType::kPuback,      PacketType::kPubrec,     PacketType::kPubrel,
      PacketType::kPubcomp,     PacketType::kSubscribe,  PacketType::kSuback,
      PacketType::kUnsubscribe, PacketType::kUnsuback,   PacketType::kPingreq,
      PacketType::kPingresp,    PacketType::kDisconnect, PacketType::kAuth};
  return kTypes[p.index()];
}

}  // namespace ringmq::mqtt
