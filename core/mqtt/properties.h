// MQTT 5 properties (§2.2.2): the model, the per-packet rules, decode and encode.
// Pure functions and values; any thread.
//
// A decoded Properties is a set of views into the packet's bytes: no allocation, valid as
// long as those bytes are. Single-valued properties are plain fields with a presence bit.
// The two properties that may repeat, User Property (0x26) and Subscription Identifier
// (0x0B), are kept as views of encoded property bytes (exactly as on the wire), iterated on
// demand. That keeps decoding allocation-free, keeps user properties in their original order
// when forwarded [MQTT-3.3.2-18], and lets a forwarded message copy them as one block.
//
// Rules enforced on decode, each with the reason code the spec names:
//   - an identifier not allowed in this packet (Table 2-4) -> Malformed Packet (§2.2.2.2)
//   - a value not of its type: bad UTF-8, truncated, non-minimal varint -> Malformed Packet
//   - a Response Topic holding a wildcard [MQTT-3.3.2-14] -> Malformed Packet
//   - a property other than User Property (and Subscription Identifier in PUBLISH)
//     appearing twice -> Protocol Error
//   - out-of-range values: a 0/1 byte with another value, Receive Maximum 0, Maximum Packet
//     Size 0, Subscription Identifier 0 -> Protocol Error; Topic Alias 0 -> Topic Alias
//     invalid [MQTT-3.3.2-8]
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/mqtt/reason_code.h"
#include "core/mqtt/types.h"

namespace ringmq::mqtt {

enum class PropertyId : uint8_t {
  kPayloadFormatIndicator = 0x01,
  kMessageExpiryInterval = 0x02,
  kContentType = 0x03,
  kResponseTopic = 0x08,
  kCorrelationData = 0x09,
  kSubscriptionIdentifier = 0x0B,
  kSessionExpiryInterval = 0x11,
  kAssignedClientIdentifier = 0x12,
  kServerKeepAlive = 0x13,
  kAuthenticationMethod = 0x15,
  kAuthenticationData = 0x16,
  kRequestProblemInformation = 0x17,
  kWillDelayInterval = 0x18,
  kRequestResponseInformation = 0x19,
  kResponseInformation = 0x1A,
  kServerReference = 0x1C,
  kReasonString = 0x1F,
  kReceiveMaximum = 0x21,
  kTopicAliasMaximum = 0x22,
  kTopicAlias = 0x23,
  kMaximumQos = 0x24,
  kRetainAvailable = 0x25,
  kUserProperty = 0x26,
  kMaximumPacketSize = 0x27,
  kWildcardSubscriptionAvailable = 0x28,
  kSubscriptionIdentifierAvailable = 0x29,
  kSharedSubscriptionAvailable = 0x2A,
};

// Where a property block sits. Will properties have their own context: they are not the
// CONNECT's properties and allow a different set (Table 2-4).
enum class PropertyContext : uint8_t {
  kConnect,
  kConnack,
  kPublish,
  kWill,
  kPuback,
  kPubrec,
  kPubrel,
  kPubcomp,
  kSubscribe,
  kSuback,
  kUnsubscribe,
  kUnsuback,
  kDisconnect,
  kAuth,
};

// True if `id` may appear in a property block of `ctx` (Table 2-4).
bool PropertyAllowed(PropertyId id, PropertyContext ctx);
std::string_view PropertyName(PropertyId id);

struct UserProperty {
  std::string_view name;
  std::string_view value;
};

// A view of encoded property bytes in which only the entries with one identifier count.
// Either empty, or well-formed (validated by DecodeProperties or built by PropertyBuilder).
template <PropertyId kId>
class RepeatedProperty {
 public:
  RepeatedProperty() = default;
  // `encoded` must be well-formed property bytes (without the length prefix).
  explicit RepeatedProperty(std::string_view encoded) : encoded_(encoded) {}

  std::string_view encoded() const { return encoded_; }
  bool empty() const { return begin() == end(); }
  size_t size() const;
  // Bytes these entries take when written out alone (identifier byte included).
  size_t EncodedSize() const;

  class Iterator;
  Iterator begin() const;
  Iterator end() const;

 private:
  std::string_view encoded_;
};

using UserPropertyList = RepeatedProperty<PropertyId::kUserProperty>;
using SubscriptionIdList = RepeatedProperty<PropertyId::kSubscriptionIdentifier>;

struct Properties {
  // Presence of single-valued properties, bit = static_cast<unsigned>(PropertyId).
  uint64_t present = 0;

  uint8_t payload_format_indicator = 0;
  uint8_t request_problem_information = 1;
  uint8_t request_response_information = 0;
  uint8_t maximum_qos = 2;
  uint8_t retain_available = 1;
  uint8_t wildcard_subscription_available = 1;
  uint8_t subscription_identifier_available = 1;
  uint8_t shared_subscription_available = 1;
  uint16_t server_keep_alive_s = 0;
  uint16_t receive_maximum = 65'535;
  uint16_t topic_alias_maximum = 0;
  uint16_t topic_alias = 0;
  uint32_t message_expiry_interval_s = 0;
  uint32_t session_expiry_interval_s = 0;
  uint32_t will_delay_interval_s = 0;
  uint32_t maximum_packet_size = 0;
  // The first Subscription Identifier (SUBSCRIBE carries at most one); all of them are in
  // subscription_ids.
  uint32_t subscription_identifier = 0;

  std::string_view content_type;
  std::string_view response_topic;
  std::string_view correlation_data;
  std::string_view assigned_client_identifier;
  std::string_view authentication_method;
  std::string_view authentication_data;
  std::string_view response_information;
  std::string_view server_reference;
  std::string_view reason_string;

  UserPropertyList user_properties;
  SubscriptionIdList subscription_ids;
  // Encode only: already-encoded, valid property bytes written after everything above (a
  // broker forwards a message's stored properties this way, as one block). Decoding never
  // sets it.
  std::string_view encoded_extra;

  bool Has(PropertyId id) const { return (present >> static_cast<unsigned>(id)) & 1u; }
  void Mark(PropertyId id) { present |= uint64_t{1} << static_cast<unsigned>(id); }
  void Clear(PropertyId id) { present &= ~(uint64_t{1} << static_cast<unsigned>(id)); }
  bool empty() const {
    return present == 0 && user_properties.encoded().empty() && subscription_ids.encoded().empty();
  }

  // Setters that mark presence.
  void SetPayloadFormatIndicator(uint8_t v) {
    payload_format_indicator = v;
    Mark(PropertyId::kPayloadFormatIndicator);
  }
  void SetMessageExpiryInterval(uint32_t s) {
    message_expiry_interval_s = s;
    Mark(PropertyId::kMessageExpiryInterval);
  }
  void SetContentType(std::string_view v) {
    content_type = v;
    Mark(PropertyId::kContentType);
  }
  void SetResponseTopic(std::string_view v) {
    response_topic = v;
    Mark(PropertyId::kResponseTopic);
  }
  void SetCorrelationData(std::string_view v) {
    correlation_data = v;
    Mark(PropertyId::kCorrelationData);
  }
  void SetSessionExpiryInterval(uint32_t s) {
    session_expiry_interval_s = s;
    Mark(PropertyId::kSessionExpiryInterval);
  }
  void SetAssignedClientIdentifier(std::string_view v) {
    assigned_client_identifier = v;
    Mark(PropertyId::kAssignedClientIdentifier);
  }
  void SetServerKeepAlive(uint16_t s) {
    server_keep_alive_s = s;
    Mark(PropertyId::kServerKeepAlive);
  }
  void SetAuthenticationMethod(std::string_view v) {
    authentication_method = v;
    Mark(PropertyId::kAuthenticationMethod);
  }
  void SetAuthenticationData(std::string_view v) {
    authentication_data = v;
    Mark(PropertyId::kAuthenticationData);
  }
  void SetRequestProblemInformation(uint8_t v) {
    request_problem_information = v;
    Mark(PropertyId::kRequestProblemInformation);
  }
  void SetWillDelayInterval(uint32_t s) {
    will_delay_interval_s = s;
    Mark(PropertyId::kWillDelayInterval);
  }
  void SetRequestResponseInformation(uint8_t v) {
    request_response_information = v;
    Mark(PropertyId::kRequestResponseInformation);
  }
  void SetResponseInformation(std::string_view v) {
    response_information = v;
    Mark(PropertyId::kResponseInformation);
  }
  void SetServerReference(std::string_view v) {
    server_reference = v;
    Mark(PropertyId::kServerReference);
  }
  void SetReasonString(std::string_view v) {
    reason_string = v;
    Mark(PropertyId::kReasonString);
  }
  void SetReceiveMaximum(uint16_t v) {
    receive_maximum = v;
    Mark(PropertyId::kReceiveMaximum);
  }
  void SetTopicAliasMaximum(uint16_t v) {
    topic_alias_maximum = v;
    Mark(PropertyId::kTopicAliasMaximum);
  }
  void SetTopicAlias(uint16_t v) {
    topic_alias = v;
    Mark(PropertyId::kTopicAlias);
  }
  void SetMaximumQos(uint8_t v) {
    maximum_qos = v;
    Mark(PropertyId::kMaximumQos);
  }
  void SetRetainAvailable(uint8_t v) {
    retain_available = v;
    Mark(PropertyId::kRetainAvailable);
  }
  void SetMaximumPacketSize(uint32_t v) {
    maximum_packet_size = v;
    Mark(PropertyId::kMaximumPacketSize);
  }
  void SetWildcardSubscriptionAvailable(uint8_t v) {
    wildcard_subscription_available = v;
    Mark(PropertyId::kWildcardSubscriptionAvailable);
  }
  void SetSubscriptionIdentifierAvailable(uint8_t v) {
    subscription_identifier_available = v;
    Mark(PropertyId::kSubscriptionIdentifierAvailable);
  }
  void SetSharedSubscriptionAvailable(uint8_t v) {
    shared_subscription_available = v;
    Mark(PropertyId::kSharedSubscriptionAvailable);
  }
};

// Builds encoded user properties and subscription identifiers for RepeatedProperty views.
// The builder owns the bytes; views taken from it live as long as it does.
class PropertyBuilder {
 public:
  PropertyBuilder& AddUserProperty(std::string_view name, std::string_view value);
  PropertyBuilder& AddSubscriptionIdentifier(uint32_t id);  // 1..kMaxVarint
  UserPropertyList user_properties() const { return UserPropertyList(bytes_); }
  SubscriptionIdList subscription_ids() const { return SubscriptionIdList(bytes_); }
  void clear() { bytes_.clear(); }

 private:
  std::string bytes_;
};

// Result of decoding anything: kSuccess, or the reason code the spec gives for the failure
// plus a static explanation naming the rule (used in reason strings and logs).
struct [[nodiscard]] DecodeStatus {
  ReasonCode reason = ReasonCode::kSuccess;
  const char* detail = "";

  bool ok() const { return reason == ReasonCode::kSuccess; }
  static constexpr DecodeStatus Ok() { return {}; }
  static constexpr DecodeStatus Malformed(const char* why) {
    return {ReasonCode::kMalformedPacket, why};
  }
  static constexpr DecodeStatus Protocol(const char* why) {
    return {ReasonCode::kProtocolError, why};
  }
};

// Decodes a property block: the Property Length varint at `p` followed by the properties.
// On success fills *out (views into the input) and *consumed (length prefix included).
DecodeStatus DecodeProperties(const uint8_t* p, size_t len, PropertyContext ctx, Properties* out,
                              size_t* consumed);

// Decodes property bytes without the length prefix (e.g. a stored, already framed block).
DecodeStatus DecodePropertyBytes(std::string_view bytes, PropertyContext ctx, Properties* out);

// Size of the property bytes (without the length prefix) that EncodeProperties writes.
size_t PropertiesSize(const Properties& props);
// Writes the Property Length and the properties; returns the byte after them.
// `props_size` must be PropertiesSize(props).
uint8_t* EncodeProperties(uint8_t* out, const Properties& props, size_t props_size);
// Writes the properties alone, without the Property Length (PropertiesSize(props) bytes).
uint8_t* EncodePropertyBytes(uint8_t* out, const Properties& props);

// ---- RepeatedProperty implementation -----------------------------------------------------

namespace internal {
// Skips one well-formed property at p (identifier included); returns its total size and
// sets *id. Only valid on bytes that passed DecodeProperties.
size_t SkipProperty(const uint8_t* p, PropertyId* id);
}  // namespace internal

template <PropertyId kId>
class RepeatedProperty<kId>::Iterator {
 public:
  using value_type = std::conditional_t<kId == PropertyId::kUserProperty, UserProperty, uint32_t>;

  Iterator(const uint8_t* p, const uint8_t* end) : p_(p), end_(end) { SkipOthers(); }
  value_type operator*() const;
  Iterator& operator++() {
    PropertyId id;
    p_ += internal::SkipProperty(p_, &id);
    SkipOthers();
    return *this;
  }
  bool operator==(const Iterator& o) const { return p_ == o.p_; }
  // Bytes of the current entry, identifier included.
  std::string_view entry() const {
    PropertyId id;
    size_t n = internal::SkipProperty(p_, &id);
    return {reinterpret_cast<const char*>(p_), n};
  }

 private:
  void SkipOthers() {
    while (p_ < end_ && static_cast<PropertyId>(*p_) != kId) {
      PropertyId id;
      p_ += internal::SkipProperty(p_, &id);
    }
  }
  const uint8_t* p_;
  const uint8_t* end_;
};

template <PropertyId kId>
typename RepeatedProperty<kId>::Iterator RepeatedProperty<kId>::begin() const {
  const auto* p = reinterpret_cast<const uint8_t*>(encoded_.data());
  return Iterator(p, p + encoded_.size());
}

template <PropertyId kId>
typename RepeatedProperty<kId>::Iterator RepeatedProperty<kId>::end() const {
  const auto* p = reinterpret_cast<const uint8_t*>(encoded_.data()) + encoded_.size();
  return Iterator(p, p);
}

template <PropertyId kId>
size_t RepeatedProperty<kId>::size() const {
  size_t n = 0;
  for (auto it = begin(); it != end(); ++it) {
    ++n;
  }
  return n;
}

template <PropertyId kId>
size_t RepeatedProperty<kId>::EncodedSize() const {
  size_t n = 0;
  for (auto it = begin(); it != end(); ++it) {
    n += it.entry().size();
  }
  return n;
}

template <>
UserProperty RepeatedProperty<PropertyId::kUserProperty>::Iterator::operator*() const;
template <>
uint32_t RepeatedProperty<PropertyId::kSubscriptionIdentifier>::Iterator::operator*() const;

}  // namespace ringmq::mqtt
