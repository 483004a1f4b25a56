#include "core/mqtt/properties.h"

#include <array>

#include "core/base/asserts.h"
#include "core/mqtt/internal/wire.h"
#include "core/mqtt/utf8.h"
#include "core/mqtt/varint.h"

namespace ringmq::mqtt {
namespace {

using internal::WireReader;

enum class ValueType : uint8_t { kNone, kByte, kU16, kU32, kVarint, kString, kBinary, kPair };

// Context bits for Table 2-4.
constexpr uint16_t Ctx(PropertyContext c) {
  return uint16_t{1} << static_cast<unsigned>(c);
}
constexpr uint16_t kPubWill = Ctx(PropertyContext::kPublish) | Ctx(PropertyContext::kWill);
constexpr uint16_t kAllContexts = 0x3FFF;
constexpr uint16_t kAcks = Ctx(PropertyContext::kPuback) | Ctx(PropertyContext::kPubrec) |
                           Ctx(PropertyContext::kPubrel) | Ctx(PropertyContext::kPubcomp);

struct PropertyInfo {
  ValueType type = ValueType::kNone;
  uint16_t contexts = 0;
  bool zero_or_one = false;  // a Byte property that must be 0 or 1
  std::string_view name;
};

constexpr std::array<PropertyInfo, 43> BuildInfo() {
  std::array<PropertyInfo, 43> t{};
  using C = PropertyContext;
  auto set = [&t](PropertyId id, ValueType type, uint16_t ctx, std::string_view name,
                  bool zero_or_one = false) {
    t[static_cast<size_t>(id)] = PropertyInfo{type, ctx, zero_or_one, name};
  };
  set(PropertyId::kPayloadFormatIndicator, ValueType::kByte, kPubWill, "Payload Format Indicator",
      true);
  set(PropertyId::kMessageExpiryInterval, ValueType::kU32, kPubWill, "Message Expiry Interval");
  set(PropertyId::kContentType, ValueType::kString, kPubWill, "Content Type");
  set(PropertyId::kResponseTopic, ValueType::kString, kPubWill, "Response Topic");
  set(PropertyId::kCorrelationData, ValueType::kBinary, kPubWill, "Correlation Data");
  set(PropertyId::kSubscriptionIdentifier, ValueType::kVarint,
      Ctx(C::kPublish) | Ctx(C::kSubscribe), "Subscription Identifier");
  set(PropertyId::kSessionExpiryInterval, ValueType::kU32,
      Ctx(C::kConnect) | Ctx(C::kConnack) | Ctx(C::kDisconnect), "Session Expiry Interval");
  set(PropertyId::kAssignedClientIdentifier, ValueType::kString, Ctx(C::kConnack),
      "Assigned Client Identifier");
  set(PropertyId::kServerKeepAlive, ValueType::kU16, Ctx(C::kConnack), "Server Keep Alive");
  set(PropertyId::kAuthenticationMethod, ValueType::kString,
      Ctx(C::kConnect) | Ctx(C::kConnack) | Ctx(C::kAuth), "Authentication Method");
  set(PropertyId::kAuthenticationData, ValueType::kBinary,
      Ctx(C::kConnect) | Ctx(C::kConnack) | Ctx(C::kAuth), "Authentication Data");
  set(PropertyId::kRequestProblemInformation, ValueType::kByte, Ctx(C::kConnect),
      "Request Problem Information", true);
  set(PropertyId::kWillDelayInterval, ValueType::kU32, Ctx(C::kWill), "Will Delay Interval");
  set(PropertyId::kRequestResponseInformation, ValueType::kByte, Ctx(C::kConnect),
      "Request Response Information", true);
  set(PropertyId::kResponseInformation, ValueType::kString, Ctx(C::kConnack),
      "Response Information");
  set(PropertyId::kServerReference, ValueType::kString, Ctx(C::kConnack) | Ctx(C::kDisconnect),
      "Server Reference");
  set(PropertyId::kReasonString, ValueType::kString,
      Ctx(C::kConnack) | kAcks | Ctx(C::kSuback) | Ctx(C::kUnsuback) | Ctx(C::kDisconnect) |
          Ctx(C::kAuth),
      "Reason String");
  set(PropertyId::kReceiveMaximum, ValueType::kU16, Ctx(C::kConnect) | Ctx(C::kConnack),
      "Receive Maximum");
  set(PropertyId::kTopicAliasMaximum, ValueType::kU16, Ctx(C::kConnect) | Ctx(C::kConnack),
      "Topic Alias Maximum");
  set(PropertyId::kTopicAlias, ValueType::kU16, Ctx(C::kPublish), "Topic Alias");
  set(PropertyId::kMaximumQos, ValueType::kByte, Ctx(C::kConnack), "Maximum QoS", true);
  set(PropertyId::kRetainAvailable, ValueType::kByte, Ctx(C::kConnack), "Retain Available", true);
  set(PropertyId::kUserProperty, ValueType::kPair, kAllContexts, "User Property");
  set(PropertyId::kMaximumPacketSize, ValueType::kU32, Ctx(C::kConnect) | Ctx(C::kConnack),
      "Maximum Packet Size");
  set(PropertyId::kWildcardSubscriptionAvailable, ValueType::kByte, Ctx(C::kConnack),
      "Wildcard Subscription Available", true);
  set(PropertyId::kSubscriptionIdentifierAvailable, ValueType::kByte, Ctx(C::kConnack),
      "Subscription Identifier Available", true);
  set(PropertyId::kSharedSubscriptionAvailable, ValueType::kByte, Ctx(C::kConnack),
      "Shared Subscription Available", true);
  return t;
}

constexpr std::array<PropertyInfo, 43> kInfo = BuildInfo();

const PropertyInfo* Info(uint32_t id) {
  return id < kInfo.size() ? &kInfo[id] : nullptr;
}

// Applies one decoded scalar to `out`.
void StoreByte(Properties* out, PropertyId id, uint8_t v) {
  switch (id) {
    case PropertyId::kPayloadFormatIndicator:
      out->payload_format_indicator = v;
      break;
    case PropertyId::kRequestProblemInformation:
      out->request_problem_information = v;
      break;
    case PropertyId::kRequestResponseInformation:
      out->request_response_information = v;
      break;
    case PropertyId::kMaximumQos:
      out->maximum_qos = v;
      break;
    case PropertyId::kRetainAvailable:
      out->retain_available = v;
      break;
    case PropertyId::kWildcardSubscriptionAvailable:
      out->wildcard_subscription_available = v;
      break;
    case PropertyId::kSubscriptionIdentifierAvailable:
      out->subscription_identifier_available = v;
      break;
    case PropertyId::kSharedSubscriptionAvailable:
      out->shared_subscription_available = v;
      break;
    default:
      RINGMQ_BUG("byte property without a field");
  }
}

DecodeStatus StoreU16(Properties* out, PropertyId id, uint16_t v) {
  switch (id) {
    case PropertyId::kServerKeepAlive:
      out->server_keep_alive_s = v;
      break;
    case PropertyId::kReceiveMaximum:
      if (v == 0) {
        return DecodeStatus::Protocol("Receive Maximum is 0 [MQTT-3.1.2 / 3.2.2]");
      }
      out->receive_maximum = v;
      break;
    case PropertyId::kTopicAliasMaximum:
      out->topic_alias_maximum = v;
      break;
    case PropertyId::kTopicAlias:
      if (v == 0) {
        return {ReasonCode::kTopicAliasInvalid, "Topic Alias is 0 [MQTT-3.3.2-8]"};
      }
      out->topic_alias = v;
      break;
    default:
      RINGMQ_BUG("u16 property without a field");
  }
  return DecodeStatus::Ok();
}

DecodeStatus StoreU32(Properties* out, PropertyId id, uint32_t v) {
  switch (id) {
    case PropertyId::kMessageExpiryInterval:
      out->message_expiry_interval_s = v;
      break;
    case PropertyId::kSessionExpiryInterval:
      out->session_expiry_interval_s = v;
      break;
    case PropertyId::kWillDelayInterval:
      out->will_delay_interval_s = v;
      break;
    case PropertyId::kMaximumPacketSize:
      if (v == 0) {
        return DecodeStatus::Protocol("Maximum Packet Size is 0 [MQTT-3.1.2 / 3.2.2]");
      }
      out->maximum_packet_size = v;
      break;
    default:
      RINGMQ_BUG("u32 property without a field");
  }
  return DecodeStatus::Ok();
}

void StoreString(Properties* out, PropertyId id, std::string_view v) {
  switch (id) {
    case PropertyId::kContentType:
      out->content_type = v;
      break;
    case PropertyId::kResponseTopic:
      out->response_topic = v;
      break;
    case PropertyId::kCorrelationData:
      out->correlation_data = v;
      break;
    case PropertyId::kAssignedClientIdentifier:
      out->assigned_client_identifier = v;
      break;
    case PropertyId::kAuthenticationMethod:
      out->authentication_method = v;
      break;
    case PropertyId::kAuthenticationData:
      out->authentication_data = v;
      break;
    case PropertyId::kResponseInformation:
      out->response_information = v;
      break;
    case PropertyId::kServerReference:
      out->server_reference = v;
      break;
    case PropertyId::kReasonString:
      out->reason_string = v;
      break;
    default:
      RINGMQ_BUG("string property without a field");
  }
}

DecodeStatus DecodeBlock(std::string_view block, PropertyContext ctx, Properties* out) {
  const auto* base = reinterpret_cast<const uint8_t*>(block.data());
  WireReader r(base, block.size());
  bool any_user = false;
  bool any_subid = false;
  const bool subid_repeatable = ctx == PropertyContext::kPublish;
  while (!r.empty()) {
    uint32_t raw_id;
    // The identifier is a varint on the wire; every defined id fits in one byte, so a
    // longer one is simply an unknown identifier.
    if (!r.ReadVarint(&raw_id)) {
      return DecodeStatus::Malformed("truncated property identifier");
    }
    const PropertyInfo* info = Info(raw_id);
    if (info == nullptr || info->type == ValueType::kNone) {
      return DecodeStatus::Malformed("unknown property identifier [2.2.2.2]");
    }
    if ((info->contexts & Ctx(ctx)) == 0) {
      return DecodeStatus::Malformed("property not allowed in this packet [2.2.2.2]");
    }
    auto id = static_cast<PropertyId>(raw_id);
    if (id == PropertyId::kUserProperty) {
      std::string_view name;
      std::string_view value;
      if (!r.ReadLengthPrefixed(&name) || !r.ReadLengthPrefixed(&value)) {
        return DecodeStatus::Malformed("truncated User Property");
      }
      if (!IsValidMqttUtf8(name) || !IsValidMqttUtf8(value)) {
        return DecodeStatus::Malformed("User Property is not valid UTF-8 [MQTT-1.5.7-1]");
      }
      any_user = true;
      continue;
    }
    if (id == PropertyId::kSubscriptionIdentifier) {
      uint32_t v;
      if (!r.ReadVarint(&v)) {
        return DecodeStatus::Malformed("bad Subscription Identifier varint [MQTT-1.5.5-1]");
      }
      if (v == 0) {
        return DecodeStatus::Protocol("Subscription Identifier is 0 [3.3.2.3.8]");
      }
      if (any_subid && !subid_repeatable) {
        return DecodeStatus::Protocol("Subscription Identifier appears twice [3.8.2.1.2]");
      }
      if (!any_subid) {
        out->subscription_identifier = v;
      }
      any_subid = true;
      continue;
    }
    if (out->Has(id)) {
      return DecodeStatus::Protocol("property appears more than once [2.2.2.2]");
    }
    out->Mark(id);
    switch (info->type) {
      case ValueType::kByte: {
        uint8_t v;
        if (!r.ReadU8(&v)) {
          return DecodeStatus::Malformed("truncated byte property");
        }
        if (info->zero_or_one && v > 1) {
          return DecodeStatus::Protocol("property value must be 0 or 1");
        }
        StoreByte(out, id, v);
        break;
      }
      case ValueType::kU16: {
        uint16_t v;
        if (!r.ReadU16(&v)) {
          return DecodeStatus::Malformed("truncated two-byte property");
        }
        DecodeStatus s = StoreU16(out, id, v);
        if (!s.ok()) {
          return s;
        }
        break;
      }
      case ValueType::kU32: {
        uint32_t v;
        if (!r.ReadU32(&v)) {
          return DecodeStatus::Malformed("truncated four-byte property");
        }
        DecodeStatus s = StoreU32(out, id, v);
        if (!s.ok()) {
          return s;
        }
        break;
      }
      case ValueType::kString:
      case ValueType::kBinary: {
        std::string_view v;
        if (!r.ReadLengthPrefixed(&v)) {
          return DecodeStatus::Malformed("truncated string property");
        }
        if (info->type == ValueType::kString && !IsValidMqttUtf8(v)) {
          return DecodeStatus::Malformed("string property is not valid UTF-8 [MQTT-1.5.4-1]");
        }
        // The Response Topic becomes the Topic Name of the response, and the broker forwards
        // it unchanged [MQTT-3.3.2-15], so a wildcard in it is refused here.
        if (id == PropertyId::kResponseTopic) {
          if (v.empty()) {
            return DecodeStatus::Malformed("Response Topic is empty [MQTT-4.7.3-1]");
          }
          if (CheckTopicNameChars(v) == TopicNameCheck::kWildcard) {
            return DecodeStatus::Malformed("Response Topic contains a wildcard [MQTT-3.3.2-14]");
          }
        }
        StoreString(out, id, v);
        break;
      }
      default:
        RINGMQ_BUG("unhandled property type");
        return DecodeStatus::Malformed("unhandled property type");
    }
  }
  if (any_user) {
    out->user_properties = UserPropertyList(block);
  }
  if (any_subid) {
    out->subscription_ids = SubscriptionIdList(block);
  }
  return DecodeStatus::Ok();
}

// Encoding table: (id, type) in identifier order, for the presence-bit fields.
struct ScalarField {
  PropertyId id;
  ValueType type;
};
constexpr ScalarField kScalarOrder[] = {
    {PropertyId::kPayloadFormatIndicator, ValueType::kByte},
    {PropertyId::kMessageExpiryInterval, ValueType::kU32},
    {PropertyId::kContentType, ValueType::kString},
    {PropertyId::kResponseTopic, ValueType::kString},
    {PropertyId::kCorrelationData, ValueType::kBinary},
    {PropertyId::kSessionExpiryInterval, ValueType::kU32},
    {PropertyId::kAssignedClientIdentifier, ValueType::kString},
    {PropertyId::kServerKeepAlive, ValueType::kU16},
    {PropertyId::kAuthenticationMethod, ValueType::kString},
    {PropertyId::kAuthenticationData, ValueType::kBinary},
    {PropertyId::kRequestProblemInformation, ValueType::kByte},
    {PropertyId::kWillDelayInterval, ValueType::kU32},
    {PropertyId::kRequestResponseInformation, ValueType::kByte},
    {PropertyId::kResponseInformation, ValueType::kString},
    {PropertyId::kServerReference, ValueType::kString},
    {PropertyId::kReasonString, ValueType::kString},
    {PropertyId::kReceiveMaximum, ValueType::kU16},
    {PropertyId::kTopicAliasMaximum, ValueType::kU16},
    {PropertyId::kTopicAlias, ValueType::kU16},
    {PropertyId::kMaximumQos, ValueType::kByte},
    {PropertyId::kRetainAvailable, ValueType::kByte},
    {PropertyId::kMaximumPacketSize, ValueType::kU32},
    {PropertyId::kWildcardSubscriptionAvailable, ValueType::kByte},
    {PropertyId::kSubscriptionIdentifierAvailable, ValueType::kByte},
    {PropertyId::kSharedSubscriptionAvailable, ValueType::kByte},
};

uint8_t ByteField(const Properties& p, PropertyId id) {
  switch (id) {
    case PropertyId::kPayloadFormatIndicator:
      return p.payload_format_indicator;
    case PropertyId::kRequestProblemInformation:
      return p.request_problem_information;
    case PropertyId::kRequestResponseInformation:
      return p.request_response_information;
    case PropertyId::kMaximumQos:
      return p.maximum_qos;
    case PropertyId::kRetainAvailable:
      return p.retain_available;
    case PropertyId::kWildcardSubscriptionAvailable:
      return p.wildcard_subscription_available;
    case PropertyId::kSubscriptionIdentifierAvailable:
      return p.subscription_identifier_available;
    case PropertyId::kSharedSubscriptionAvailable:
      return p.shared_subscription_available;
    default:
      return 0;
  }
}

uint16_t U16Field(const Properties& p, PropertyId id) {
  switch (id) {
    case PropertyId::kServerKeepAlive:
      return p.server_keep_alive_s;
    case PropertyId::kReceiveMaximum:
      return p.receive_maximum;
    case PropertyId::kTopicAliasMaximum:
      return p.topic_alias_maximum;
    case PropertyId::kTopicAlias:
      return p.topic_alias;
    default:
      return 0;
  }
}

uint32_t U32Field(const Properties& p, PropertyId id) {
  switch (id) {
    case PropertyId::kMessageExpiryInterval:
      return p.message_expiry_interval_s;
    case PropertyId::kSessionExpiryInterval:
      return p.session_expiry_interval_s;
    case PropertyId::kWillDelayInterval:
      return p.will_delay_interval_s;
    case PropertyId::kMaximumPacketSize:
      return p.maximum_packet_size;
    default:
      return 0;
  }
}

std::string_view StringField(const Properties& p, PropertyId id) {
  switch (id) {
    case PropertyId::kContentType:
      return p.content_type;
    case PropertyId::kResponseTopic:
      return p.response_topic;
    case PropertyId::kCorrelationData:
      return p.correlation_data;
    case PropertyId::kAssignedClientIdentifier:
      return p.assigned_client_identifier;
    case PropertyId::kAuthenticationMethod:
      return p.authentication_method;
    case PropertyId::kAuthenticationData:
      return p.authentication_data;
    case PropertyId::kResponseInformation:
      return p.response_information;
    case PropertyId::kServerReference:
      return p.server_reference;
    case PropertyId::kReasonString:
      return p.reason_string;
    default:
      return {};
  }
}

size_t ValueSize(const Properties& p, const ScalarField& f) {
  switch (f.type) {
    case ValueType::kByte:
      return 1;
    case ValueType::kU16:
      return 2;
    case ValueType::kU32:
      return 4;
    case ValueType::kString:
    case ValueType::kBinary:
      return 2 + StringField(p, f.id).size();
    default:
      return 0;
  }
}

}  // namespace

bool PropertyAllowed(PropertyId id, PropertyContext ctx) {
  const PropertyInfo* info = Info(static_cast<uint32_t>(id));
  return info != nullptr && (info->contexts & Ctx(ctx)) != 0;
}

std::string_view PropertyName(PropertyId id) {
  const PropertyInfo* info = Info(static_cast<uint32_t>(id));
  return info == nullptr || info->name.empty() ? "Unknown property" : info->name;
}

DecodeStatus DecodeProperties(const uint8_t* p, size_t len, PropertyContext ctx, Properties* out,
                              size_t* consumed) {
  uint32_t block_len;
  uint8_t size;
  if (DecodeVarint(p, len, &block_len, &size) != VarintStatus::kOk) {
    return DecodeStatus::Malformed("bad Property Length varint [MQTT-1.5.5-1]");
  }
  if (block_len > len - size) {
    return DecodeStatus::Malformed("Property Length exceeds the packet");
  }
  *consumed = size + block_len;
  if (block_len == 0) {
    return DecodeStatus::Ok();
  }
  return DecodeBlock(std::string_view(reinterpret_cast<const char*>(p + size), block_len), ctx,
                     out);
}

DecodeStatus DecodePropertyBytes(std::string_view bytes, PropertyContext ctx, Properties* out) {
  return DecodeBlock(bytes, ctx, out);
}

size_t PropertiesSize(const Properties& props) {
  size_t n = 0;
  if (props.present != 0) {
    for (const ScalarField& f : kScalarOrder) {
      if (props.Has(f.id)) {
        n += 1 + ValueSize(props, f);
      }
    }
  }
  if (!props.subscription_ids.encoded().empty()) {
    n += props.subscription_ids.EncodedSize();
  }
  if (!props.user_properties.encoded().empty()) {
    n += props.user_properties.EncodedSize();
  }
  return n + props.encoded_extra.size();
}

uint8_t* EncodeProperties(uint8_t* out, const Properties& props, size_t props_size) {
  RINGMQ_DASSERT(props_size == PropertiesSize(props));
  out = EncodeVarint(out, static_cast<uint32_t>(props_size));
  if (props_size == 0) {
    return out;
  }
  return EncodePropertyBytes(out, props);
}

uint8_t* EncodePropertyBytes(uint8_t* out, const Properties& props) {
  if (props.present != 0) {
    for (const ScalarField& f : kScalarOrder) {
      if (!props.Has(f.id)) {
        continue;
      }
      *out++ = static_cast<uint8_t>(f.id);
      switch (f.type) {
        case ValueType::kByte:
          *out++ = ByteField(props, f.id);
          break;
        case ValueType::kU16:
          out = internal::WriteU16(out, U16Field(props, f.id));
          break;
        case ValueType::kU32:
          out = internal::WriteU32(out, U32Field(props, f.id));
          break;
        case ValueType::kString:
        case ValueType::kBinary:
          out = internal::WriteLengthPrefixed(out, StringField(props, f.id));
          break;
        default:
          break;
      }
    }
  }
  for (auto it = props.subscription_ids.begin(); it != props.subscription_ids.end(); ++it) {
    out = internal::WriteBytes(out, it.entry());
  }
  for (auto it = props.user_properties.begin(); it != props.user_properties.end(); ++it) {
    out = internal::WriteBytes(out, it.entry());
  }
  return internal::WriteBytes(out, props.encoded_extra);
}

PropertyBuilder& PropertyBuilder::AddUserProperty(std::string_view name, std::string_view value) {
  RINGMQ_ASSERT(name.size() <= kMaxStringBytes && value.size() <= kMaxStringBytes);
  size_t old = bytes_.size();
  bytes_.resize(old + 1 + 2 + name.size() + 2 + value.size());
  auto* p = reinterpret_cast<uint8_t*>(bytes_.data() + old);
  *p++ = static_cast<uint8_t>(PropertyId::kUserProperty);
  p = internal::WriteLengthPrefixed(p, name);
  internal::WriteLengthPrefixed(p, value);
  return *this;
}

PropertyBuilder& PropertyBuilder::AddSubscriptionIdentifier(uint32_t id) {
  RINGMQ_ASSERT(id >= 1 && id <= kMaxVarint);
  uint8_t buf[5];
  buf[0] = static_cast<uint8_t>(PropertyId::kSubscriptionIdentifier);
  uint8_t* end = EncodeVarint(buf + 1, id);
  bytes_.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(end - buf));
  return *this;
}

namespace internal {

size_t SkipProperty(const uint8_t* p, PropertyId* id) {
  *id = static_cast<PropertyId>(p[0]);
  // Entry 0 has type kNone, so an identifier outside the table lands on the BUG below.
  const PropertyInfo& info = kInfo[p[0] < kInfo.size() ? p[0] : 0];
  switch (info.type) {
    case ValueType::kByte:
      return 2;
    case ValueType::kU16:
      return 3;
    case ValueType::kU32:
      return 5;
    case ValueType::kVarint: {
      size_t n = 1;
      while (p[n] & 0x80) {
        ++n;
      }
      return n + 1;
    }
    case ValueType::kString:
    case ValueType::kBinary:
      return 3 + base::LoadBe16(p + 1);
    case ValueType::kPair: {
      size_t name_len = base::LoadBe16(p + 1);
      return 1 + 2 + name_len + 2 + base::LoadBe16(p + 3 + name_len);
    }
    case ValueType::kNone:
      break;
  }
  RINGMQ_BUG("SkipProperty on bytes that were not validated");
  return 1;
}

}  // namespace internal

template <>
UserProperty RepeatedProperty<PropertyId::kUserProperty>::Iterator::operator*() const {
  size_t name_len = base::LoadBe16(p_ + 1);
  const char* name = reinterpret_cast<const char*>(p_ + 3);
  size_t value_len = base::LoadBe16(p_ + 3 + name_len);
  const char* value = reinterpret_cast<const char*>(p_ + 5 + name_len);
  return {std::string_view(name, name_len), std::string_view(value, value_len)};
}

template <>
uint32_t RepeatedProperty<PropertyId::kSubscriptionIdentifier>::Iterator::operator*() const {
  uint32_t v = 0;
  uint8_t size = 0;
  (void)DecodeVarint(p_ + 1, 4, &v, &size);
  return v;
}

}  // namespace ringmq::mqtt
