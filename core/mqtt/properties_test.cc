// MQTT 5 properties (§2.2.2, Table 2-4, and the property sections of §3): decoding rules,
// byte-exact encoding, repeated properties, and every property carried by a packet.

#include "core/mqtt/properties.h"

#include <cstdint>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "core/mqtt/decoder.h"
#include "core/mqtt/encoder.h"
#include "core/mqtt/packets.h"

namespace ringmq::mqtt {
namespace {

using Bytes = std::vector<uint8_t>;
using C = PropertyContext;

Bytes Concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

// Property Length (one byte: every block in this file is shorter than 128 bytes) + bytes.
Bytes WithLength(const Bytes& props) {
  EXPECT_LT(props.size(), 128u);
  // Element by element: GCC 12 at -O3 reports a false -Warray-bounds for insert() here.
  Bytes out;
  out.reserve(1 + props.size());
  out.push_back(static_cast<uint8_t>(props.size()));
  for (uint8_t b : props) {
    out.push_back(b);
  }
  return out;
}

// Decodes `props` (given without its Property Length) in `ctx`. The decoded views point into
// *block, which holds the Property Length and the properties; the caller keeps it alive
// for as long as it reads strings or repeated properties from *out.
DecodeStatus Decode(const Bytes& props, PropertyContext ctx, Properties* out, Bytes* block) {
  *block = WithLength(props);
  size_t consumed = 0;
  DecodeStatus s = DecodeProperties(block->data(), block->size(), ctx, out, &consumed);
  if (s.ok()) {
    EXPECT_EQ(consumed, block->size());
  }
  return s;
}

// For checks of the status and of scalar fields only.
DecodeStatus Decode(const Bytes& props, PropertyContext ctx, Properties* out) {
  Bytes block;
  return Decode(props, ctx, out, &block);
}

// Encodes `p` with EncodeProperties; returns the Property Length and the properties.
Bytes Encode(const Properties& p) {
  const size_t n = PropertiesSize(p);
  Bytes out(n + 8, 0xA5);
  uint8_t* end = EncodeProperties(out.data(), p, n);
  out.resize(static_cast<size_t>(end - out.data()));
  EXPECT_EQ(out.size(), VarintSize(static_cast<uint32_t>(n)) + n);
  return out;
}

std::string Hex(const Bytes& b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s += kDigits[c >> 4];
    s += kDigits[c & 0xF];
    s += ' ';
  }
  return s;
}

Bytes Str(std::string_view s) {
  Bytes out;
  out.reserve(2 + s.size());
  out.push_back(static_cast<uint8_t>(s.size() >> 8));
  out.push_back(static_cast<uint8_t>(s.size()));
  for (char c : s) {
    out.push_back(static_cast<uint8_t>(c));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> UserProps(const Properties& p) {
  std::vector<std::pair<std::string, std::string>> out;
  for (UserProperty u : p.user_properties) {
    out.emplace_back(u.name, u.value);
  }
  return out;
}

std::vector<uint32_t> SubIds(const Properties& p) {
  std::vector<uint32_t> out;
  for (uint32_t id : p.subscription_ids) {
    out.push_back(id);
  }
  return out;
}

// Every field of two property sets, so a round trip loses nothing.
void ExpectPropertiesEq(const Properties& got, const Properties& want) {
  EXPECT_EQ(got.present, want.present);
  EXPECT_EQ(got.payload_format_indicator, want.payload_format_indicator);
  EXPECT_EQ(got.request_problem_information, want.request_problem_information);
  EXPECT_EQ(got.request_response_information, want.request_response_information);
  EXPECT_EQ(got.maximum_qos, want.maximum_qos);
  EXPECT_EQ(got.retain_available, want.retain_available);
  EXPECT_EQ(got.wildcard_subscription_available, want.wildcard_subscription_available);
  EXPECT_EQ(got.subscription_identifier_available, want.subscription_identifier_available);
  EXPECT_EQ(got.shared_subscription_available, want.shared_subscription_available);
  EXPECT_EQ(got.server_keep_alive_s, want.server_keep_alive_s);
  EXPECT_EQ(got.receive_maximum, want.receive_maximum);
  EXPECT_EQ(got.topic_alias_maximum, want.topic_alias_maximum);
  EXPECT_EQ(got.topic_alias, want.topic_alias);
  EXPECT_EQ(got.message_expiry_interval_s, want.message_expiry_interval_s);
  EXPECT_EQ(got.session_expiry_interval_s, want.session_expiry_interval_s);
  EXPECT_EQ(got.will_delay_interval_s, want.will_delay_interval_s);
  EXPECT_EQ(got.maximum_packet_size, want.maximum_packet_size);
  EXPECT_EQ(got.content_type, want.content_type);
  EXPECT_EQ(got.response_topic, want.response_topic);
  EXPECT_EQ(got.correlation_data, want.correlation_data);
  EXPECT_EQ(got.assigned_client_identifier, want.assigned_client_identifier);
  EXPECT_EQ(got.authentication_method, want.authentication_method);
  EXPECT_EQ(got.authentication_data, want.authentication_data);
  EXPECT_EQ(got.response_information, want.response_information);
  EXPECT_EQ(got.server_reference, want.server_reference);
  EXPECT_EQ(got.reason_string, want.reason_string);
  EXPECT_EQ(UserProps(got), UserProps(want));
  EXPECT_EQ(SubIds(got), SubIds(want));
}

// ---- one case per property identifier ------------------------------------------------------

struct PropertyCase {
  const char* name;
  PropertyId id;
  PropertyContext ctx;  // a packet the property is allowed in
  Bytes wire;           // identifier + value, written by hand from §2.2.2.2 and §3
  void (*check)(const Properties&);
};

// All 27 identifiers of MQTT 5 (Table 2-4). Values are chosen so that they differ from the
// field's default (e.g. Maximum QoS 0, Request Problem Information 0).
const std::vector<PropertyCase>& AllProperties() {
  static const std::vector<PropertyCase> kCases = {
      {"PayloadFormatIndicator",
       PropertyId::kPayloadFormatIndicator,
       C::kPublish,
       {0x01, 0x01},
       [](const Properties& p) { EXPECT_EQ(p.payload_format_indicator, 1); }},
      {"MessageExpiryInterval",
       PropertyId::kMessageExpiryInterval,
       C::kPublish,
       {0x02, 0x00, 0x01, 0x51, 0x80},
       [](const Properties& p) { EXPECT_EQ(p.message_expiry_interval_s, 86'400u); }},
      {"ContentType", PropertyId::kContentType, C::kPublish, Concat({{0x03}, Str("text/plain")}),
       [](const Properties& p) { EXPECT_EQ(p.content_type, "text/plain"); }},
      {"ResponseTopic", PropertyId::kResponseTopic, C::kPublish, Concat({{0x08}, Str("resp/1")}),
       [](const Properties& p) { EXPECT_EQ(p.response_topic, "resp/1"); }},
      {"CorrelationData",
       PropertyId::kCorrelationData,
       C::kPublish,
       {0x09, 0x00, 0x03, 0x00, 0xFF, 0x10},
       [](const Properties& p) {
         EXPECT_EQ(p.correlation_data, std::string_view("\0\xFF\x10", 3));
       }},
      {"SubscriptionIdentifier",
       PropertyId::kSubscriptionIdentifier,
       C::kSubscribe,
       {0x0B, 0x80, 0x01},
       [](const Properties& p) {
         EXPECT_EQ(p.subscription_identifier, 128u);
         EXPECT_EQ(SubIds(p), std::vector<uint32_t>{128});
       }},
      {"SessionExpiryInterval",
       PropertyId::kSessionExpiryInterval,
       C::kConnect,
       {0x11, 0xFF, 0xFF, 0xFF, 0xFF},
       [](const Properties& p) { EXPECT_EQ(p.session_expiry_interval_s, 0xFFFF'FFFFu); }},
      {"AssignedClientIdentifier", PropertyId::kAssignedClientIdentifier, C::kConnack,
       Concat({{0x12}, Str("auto-1")}),
       [](const Properties& p) { EXPECT_EQ(p.assigned_client_identifier, "auto-1"); }},
      {"ServerKeepAlive",
       PropertyId::kServerKeepAlive,
       C::kConnack,
       {0x13, 0x00, 0x1E},
       [](const Properties& p) { EXPECT_EQ(p.server_keep_alive_s, 30); }},
      {"AuthenticationMethod", PropertyId::kAuthenticationMethod, C::kConnect,
       Concat({{0x15}, Str("SCRAM-SHA-1")}),
       [](const Properties& p) { EXPECT_EQ(p.authentication_method, "SCRAM-SHA-1"); }},
      {"AuthenticationData",
       PropertyId::kAuthenticationData,
       C::kAuth,
       {0x16, 0x00, 0x02, 0xDE, 0xAD},
       [](const Properties& p) { EXPECT_EQ(p.authentication_data, "\xDE\xAD"); }},
      {"RequestProblemInformation",
       PropertyId::kRequestProblemInformation,
       C::kConnect,
       {0x17, 0x00},
       [](const Properties& p) { EXPECT_EQ(p.request_problem_information, 0); }},
      {"WillDelayInterval",
       PropertyId::kWillDelayInterval,
       C::kWill,
       {0x18, 0x00, 0x00, 0x00, 0x3C},
       [](const Properties& p) { EXPECT_EQ(p.will_delay_interval_s, 60u); }},
      {"RequestResponseInformation",
       PropertyId::kRequestResponseInformation,
       C::kConnect,
       {0x19, 0x01},
       [](const Properties& p) { EXPECT_EQ(p.request_response_information, 1); }},
      {"ResponseInformation", PropertyId::kResponseInformation, C::kConnack,
       Concat({{0x1A}, Str("resp")}),
       [](const Properties& p) { EXPECT_EQ(p.response_information, "resp"); }},
      {"ServerReference", PropertyId::kServerReference, C::kDisconnect,
       Concat({{0x1C}, Str("other:1883")}),
       [](const Properties& p) { EXPECT_EQ(p.server_reference, "other:1883"); }},
      {"ReasonString", PropertyId::kReasonString, C::kPuback, Concat({{0x1F}, Str("no")}),
       [](const Properties& p) { EXPECT_EQ(p.reason_string, "no"); }},
      {"ReceiveMaximum",
       PropertyId::kReceiveMaximum,
       C::kConnect,
       {0x21, 0x00, 0x0A},
       [](const Properties& p) { EXPECT_EQ(p.receive_maximum, 10); }},
      {"TopicAliasMaximum",
       PropertyId::kTopicAliasMaximum,
       C::kConnack,
       {0x22, 0x01, 0x00},
       [](const Properties& p) { EXPECT_EQ(p.topic_alias_maximum, 256); }},
      {"TopicAlias",
       PropertyId::kTopicAlias,
       C::kPublish,
       {0x23, 0xFF, 0xFF},
       [](const Properties& p) { EXPECT_EQ(p.topic_alias, 65'535); }},
      {"MaximumQos",
       PropertyId::kMaximumQos,
       C::kConnack,
       {0x24, 0x00},
       [](const Properties& p) { EXPECT_EQ(p.maximum_qos, 0); }},
      {"RetainAvailable",
       PropertyId::kRetainAvailable,
       C::kConnack,
       {0x25, 0x00},
       [](const Properties& p) { EXPECT_EQ(p.retain_available, 0); }},
      {"UserProperty", PropertyId::kUserProperty, C::kUnsubscribe,
       Concat({{0x26}, Str("k"), Str("v1")}),
       [](const Properties& p) {
         EXPECT_EQ(UserProps(p), (std::vector<std::pair<std::string, std::string>>{{"k", "v1"}}));
       }},
      {"MaximumPacketSize",
       PropertyId::kMaximumPacketSize,
       C::kConnect,
       {0x27, 0x00, 0x00, 0x04, 0x00},
       [](const Properties& p) { EXPECT_EQ(p.maximum_packet_size, 1024u); }},
      {"WildcardSubscriptionAvailable",
       PropertyId::kWildcardSubscriptionAvailable,
       C::kConnack,
       {0x28, 0x00},
       [](const Properties& p) { EXPECT_EQ(p.wildcard_subscription_available, 0); }},
      {"SubscriptionIdentifierAvailable",
       PropertyId::kSubscriptionIdentifierAvailable,
       C::kConnack,
       {0x29, 0x00},
       [](const Properties& p) { EXPECT_EQ(p.subscription_identifier_available, 0); }},
      {"SharedSubscriptionAvailable",
       PropertyId::kSharedSubscriptionAvailable,
       C::kConnack,
       {0x2A, 0x00},
       [](const Properties& p) { EXPECT_EQ(p.shared_subscription_available, 0); }},
  };
  return kCases;
}

void PrintTo(const PropertyCase& c, std::ostream* os) {
  *os << c.name;
}

bool IsRepeatable(PropertyId id) {
  return id == PropertyId::kUserProperty || id == PropertyId::kSubscriptionIdentifier;
}

TEST(PropertiesTest, TableCoversAll27Identifiers) {
  std::set<uint8_t> ids;
  for (const PropertyCase& c : AllProperties()) {
    ids.insert(static_cast<uint8_t>(c.id));
    EXPECT_EQ(c.wire[0], static_cast<uint8_t>(c.id)) << c.name;
  }
  EXPECT_EQ(ids.size(), 27u);
}

class EachPropertyTest : public testing::TestWithParam<PropertyCase> {};

// Hand-built bytes decode to the value, and encode back to exactly the same bytes.
TEST_P(EachPropertyTest, DecodesAndEncodesByteExact) {
  const PropertyCase& c = GetParam();
  Properties p;
  Bytes p_block;
  DecodeStatus s = Decode(c.wire, c.ctx, &p, &p_block);
  ASSERT_TRUE(s.ok()) << s.detail;
  if (!IsRepeatable(c.id)) {
    EXPECT_TRUE(p.Has(c.id));
    EXPECT_EQ(p.present, uint64_t{1} << static_cast<unsigned>(c.id));
  }
  c.check(p);
  EXPECT_FALSE(p.empty());
  EXPECT_EQ(PropertiesSize(p), c.wire.size());
  EXPECT_EQ(Hex(Encode(p)), Hex(WithLength(c.wire)));
}

// A property truncated anywhere inside its value is malformed.
TEST_P(EachPropertyTest, TruncatedValueIsMalformed) {
  const PropertyCase& c = GetParam();
  for (size_t len = 1; len < c.wire.size(); ++len) {
    Properties p;
    DecodeStatus s = Decode(Bytes(c.wire.begin(), c.wire.begin() + len), c.ctx, &p);
    EXPECT_EQ(s.reason, ReasonCode::kMalformedPacket) << "prefix " << len;
  }
}

// [§2.2.2.2] Every property but User Property (and Subscription Identifier in PUBLISH) may
// appear at most once: a second one is a Protocol Error.
TEST_P(EachPropertyTest, DuplicateIsProtocolErrorUnlessRepeatable) {
  const PropertyCase& c = GetParam();
  Properties p;
  Bytes p_block;
  DecodeStatus s = Decode(Concat({c.wire, c.wire}), c.ctx, &p, &p_block);
  if (c.id == PropertyId::kUserProperty) {
    ASSERT_TRUE(s.ok()) << s.detail;
    EXPECT_EQ(p.user_properties.size(), 2u);
  } else {
    // Subscription Identifier's case uses SUBSCRIBE, which carries at most one
    // [§3.8.2.1.2].
    EXPECT_EQ(s.reason, ReasonCode::kProtocolError);
  }
}

// The value survives DecodePropertyBytes (a stored block without its length) as well.
TEST_P(EachPropertyTest, DecodesWithoutLengthPrefix) {
  const PropertyCase& c = GetParam();
  Properties p;
  DecodeStatus s = DecodePropertyBytes(
      std::string_view(reinterpret_cast<const char*>(c.wire.data()), c.wire.size()), c.ctx, &p);
  ASSERT_TRUE(s.ok()) << s.detail;
  c.check(p);
}

INSTANTIATE_TEST_SUITE_P(Table24, EachPropertyTest, testing::ValuesIn(AllProperties()),
                         [](const testing::TestParamInfo<PropertyCase>& param_info) {
                           return std::string(param_info.param.name);
                         });

// ---- Table 2-4: where each property may appear ---------------------------------------------

// Table 2-4 of MQTT 5, written out independently of properties.cc.
std::set<PropertyContext> AllowedContexts(PropertyId id) {
  switch (id) {
    case PropertyId::kPayloadFormatIndicator:
    case PropertyId::kMessageExpiryInterval:
    case PropertyId::kContentType:
    case PropertyId::kResponseTopic:
    case PropertyId::kCorrelationData:
      return {C::kPublish, C::kWill};
    case PropertyId::kSubscriptionIdentifier:
      return {C::kPublish, C::kSubscribe};
    case PropertyId::kSessionExpiryInterval:
      return {C::kConnect, C::kConnack, C::kDisconnect};
    case PropertyId::kAssignedClientIdentifier:
    case PropertyId::kServerKeepAlive:
    case PropertyId::kResponseInformation:
    case PropertyId::kMaximumQos:
    case PropertyId::kRetainAvailable:
    case PropertyId::kWildcardSubscriptionAvailable:
    case PropertyId::kSubscriptionIdentifierAvailable:
    case PropertyId::kSharedSubscriptionAvailable:
      return {C::kConnack};
    case PropertyId::kAuthenticationMethod:
    case PropertyId::kAuthenticationData:
      return {C::kConnect, C::kConnack, C::kAuth};
    case PropertyId::kRequestProblemInformation:
    case PropertyId::kRequestResponseInformation:
      return {C::kConnect};
    case PropertyId::kWillDelayInterval:
      return {C::kWill};
    case PropertyId::kServerReference:
      return {C::kConnack, C::kDisconnect};
    case PropertyId::kReasonString:
      return {C::kConnack, C::kPuback,   C::kPubrec,     C::kPubrel, C::kPubcomp,
              C::kSuback,  C::kUnsuback, C::kDisconnect, C::kAuth};
    case PropertyId::kReceiveMaximum:
    case PropertyId::kTopicAliasMaximum:
    case PropertyId::kMaximumPacketSize:
      return {C::kConnect, C::kConnack};
    case PropertyId::kTopicAlias:
      return {C::kPublish};
    case PropertyId::kUserProperty:
      return {C::kConnect,     C::kConnack,  C::kPublish,    C::kWill,      C::kPuback,
              C::kPubrec,      C::kPubrel,   C::kPubcomp,    C::kSubscribe, C::kSuback,
              C::kUnsubscribe, C::kUnsuback, C::kDisconnect, C::kAuth};
  }
  return {};
}

constexpr PropertyContext kAllContexts[] = {
    C::kConnect,     C::kConnack,  C::kPublish,    C::kWill,      C::kPuback,
    C::kPubrec,      C::kPubrel,   C::kPubcomp,    C::kSubscribe, C::kSuback,
    C::kUnsubscribe, C::kUnsuback, C::kDisconnect, C::kAuth};

TEST(PropertyTableTest, PropertyAllowedMatchesTable24) {
  for (const PropertyCase& c : AllProperties()) {
    const std::set<PropertyContext> allowed = AllowedContexts(c.id);
    EXPECT_FALSE(allowed.empty()) << c.name;
    for (PropertyContext ctx : kAllContexts) {
      EXPECT_EQ(PropertyAllowed(c.id, ctx), allowed.count(ctx) == 1)
          << c.name << " in context " << static_cast<int>(ctx);
    }
  }
}

// [§2.2.2.2] "A Control Packet which contains an Identifier which is not valid for its
// packet type ... is a Malformed Packet." Every (property, packet) pair of Table 2-4 is
// decoded: allowed ones succeed, the others are Malformed Packet (0x81).
TEST(PropertyTableTest, PropertyOutsideItsPacketsIsMalformed) {
  int rejected = 0;
  for (const PropertyCase& c : AllProperties()) {
    const std::set<PropertyContext> allowed = AllowedContexts(c.id);
    for (PropertyContext ctx : kAllContexts) {
      Properties p;
      DecodeStatus s = Decode(c.wire, ctx, &p);
      if (allowed.count(ctx) == 1) {
        EXPECT_TRUE(s.ok()) << c.name << " in context " << static_cast<int>(ctx) << ": "
                            << s.detail;
      } else {
        EXPECT_EQ(s.reason, ReasonCode::kMalformedPacket)
            << c.name << " in context " << static_cast<int>(ctx);
        ++rejected;
      }
    }
  }
  EXPECT_GT(rejected, 250);  // the table is mostly "no"
}

// A few pairs from Table 2-4 spelled out, as the specification's readers would check them.
TEST(PropertyTableTest, RepresentativeDisallowedPairs) {
  struct Pair {
    Bytes wire;
    PropertyContext ctx;
  };
  const Pair kPairs[] = {
      {{0x23, 0x00, 0x01}, C::kConnect},              // Topic Alias in CONNECT
      {{0x23, 0x00, 0x01}, C::kWill},                 // Topic Alias in Will Properties
      {{0x18, 0x00, 0x00, 0x00, 0x01}, C::kPublish},  // Will Delay Interval in PUBLISH
      {{0x18, 0x00, 0x00, 0x00, 0x01}, C::kConnect},  // ... in CONNECT (Will only)
      {{0x11, 0x00, 0x00, 0x00, 0x01}, C::kPublish},  // Session Expiry in PUBLISH
      {{0x11, 0x00, 0x00, 0x00, 0x01}, C::kAuth},     // Session Expiry in AUTH
      {{0x0B, 0x01}, C::kConnect},                    // Subscription Identifier in CONNECT
      {{0x0B, 0x01}, C::kWill},                       // ... in Will Properties
      {{0x0B, 0x01}, C::kUnsubscribe},                // ... in UNSUBSCRIBE
      {Concat({{0x1F}, Str("x")}), C::kConnect},      // Reason String in CONNECT
      {Concat({{0x1F}, Str("x")}), C::kPublish},      // Reason String in PUBLISH
      {Concat({{0x1F}, Str("x")}), C::kSubscribe},    // Reason String in SUBSCRIBE
      {{0x24, 0x01}, C::kConnect},                    // Maximum QoS in CONNECT
      {{0x21, 0x00, 0x01}, C::kPublish},              // Receive Maximum in PUBLISH
      {{0x01, 0x01}, C::kConnect},                    // Payload Format in CONNECT
      {{0x17, 0x01}, C::kConnack},                    // Request Problem Info in CONNACK
      {Concat({{0x15}, Str("m")}), C::kDisconnect},   // Authentication Method in DISCONNECT
      {Concat({{0x1C}, Str("s")}), C::kPuback},       // Server Reference in PUBACK
      {Concat({{0x12}, Str("id")}), C::kConnect},     // Assigned Client Id in CONNECT
      {Concat({{0x03}, Str("t")}), C::kSubscribe},    // Content Type in SUBSCRIBE
  };
  for (const Pair& pair : kPairs) {
    Properties p;
    EXPECT_EQ(Decode(pair.wire, pair.ctx, &p).reason, ReasonCode::kMalformedPacket)
        << Hex(pair.wire) << " in context " << static_cast<int>(pair.ctx);
  }
}

// Identifiers not defined by MQTT 5 are malformed in every packet.
TEST(PropertyTableTest, UnknownIdentifierIsMalformed) {
  std::set<uint8_t> known;
  for (const PropertyCase& c : AllProperties()) {
    known.insert(static_cast<uint8_t>(c.id));
  }
  for (int id = 0; id < 0x80; ++id) {
    if (known.count(static_cast<uint8_t>(id)) == 1) {
      continue;
    }
    for (PropertyContext ctx : kAllContexts) {
      Properties p;
      EXPECT_EQ(Decode({static_cast<uint8_t>(id), 0x00, 0x00, 0x00, 0x00}, ctx, &p).reason,
                ReasonCode::kMalformedPacket)
          << "identifier " << id;
    }
  }
  // A two-byte identifier (128) and a non-minimal one-byte identifier (1 as 81 00).
  Properties p;
  EXPECT_EQ(Decode({0x80, 0x01, 0x00}, C::kPublish, &p).reason, ReasonCode::kMalformedPacket);
  EXPECT_EQ(Decode({0x81, 0x00, 0x01}, C::kPublish, &p).reason, ReasonCode::kMalformedPacket);
}

TEST(PropertyTableTest, PropertyNames) {
  EXPECT_EQ(PropertyName(PropertyId::kTopicAlias), "Topic Alias");
  EXPECT_EQ(PropertyName(PropertyId::kUserProperty), "User Property");
  EXPECT_EQ(PropertyName(PropertyId::kSharedSubscriptionAvailable),
            "Shared Subscription Available");
  EXPECT_EQ(PropertyName(static_cast<PropertyId>(0x04)), "Unknown property");
  EXPECT_EQ(PropertyName(static_cast<PropertyId>(0x7F)), "Unknown property");
}

// ---- value ranges ----------------------------------------------------------------------------

// "It is a Protocol Error to include [a 0/1 property] with a value other than 0 or 1"
// (§3.1.2.11.6, §3.1.2.11.7, §3.2.2.3.4, §3.2.2.3.5, §3.2.2.3.11-13; Payload Format
// Indicator §3.3.2.3.2).
TEST(PropertyRangeTest, ZeroOrOneBytesRejectOtherValues) {
  struct ByteProp {
    uint8_t id;
    PropertyContext ctx;
  };
  const ByteProp kByteProps[] = {
      {0x01, C::kPublish}, {0x17, C::kConnect}, {0x19, C::kConnect}, {0x24, C::kConnack},
      {0x25, C::kConnack}, {0x28, C::kConnack}, {0x29, C::kConnack}, {0x2A, C::kConnack},
  };
  for (const ByteProp& b : kByteProps) {
    for (int v : {0, 1}) {
      Properties p;
      EXPECT_TRUE(Decode({b.id, static_cast<uint8_t>(v)}, b.ctx, &p).ok()) << int{b.id};
    }
    for (int v : {2, 3, 0x80, 0xFF}) {
      Properties p;
      EXPECT_EQ(Decode({b.id, static_cast<uint8_t>(v)}, b.ctx, &p).reason,
                ReasonCode::kProtocolError)
          << "identifier " << int{b.id} << " value " << v;
    }
  }
}

// §3.1.2.11.3 / §3.2.2.3.3: "It is a Protocol Error to include the Receive Maximum value of 0."
TEST(PropertyRangeTest, ReceiveMaximumZeroIsProtocolError) {
  for (PropertyContext ctx : {C::kConnect, C::kConnack}) {
    Properties p;
    EXPECT_EQ(Decode({0x21, 0x00, 0x00}, ctx, &p).reason, ReasonCode::kProtocolError);
    Properties q;
    ASSERT_TRUE(Decode({0x21, 0x00, 0x01}, ctx, &q).ok());
    EXPECT_EQ(q.receive_maximum, 1);
  }
}

// §3.1.2.11.4 / §3.2.2.3.6: "It is a Protocol Error to include ... Maximum Packet Size ... 0."
TEST(PropertyRangeTest, MaximumPacketSizeZeroIsProtocolError) {
  for (PropertyContext ctx : {C::kConnect, C::kConnack}) {
    Properties p;
    EXPECT_EQ(Decode({0x27, 0x00, 0x00, 0x00, 0x00}, ctx, &p).reason, ReasonCode::kProtocolError);
  }
}

// §3.3.2.3.8 / §3.8.2.1.2: "It is a Protocol Error if the Subscription Identifier has a value
// of 0."
TEST(PropertyRangeTest, SubscriptionIdentifierZeroIsProtocolError) {
  for (PropertyContext ctx : {C::kSubscribe, C::kPublish}) {
    Properties p;
    EXPECT_EQ(Decode({0x0B, 0x00}, ctx, &p).reason, ReasonCode::kProtocolError);
  }
}

// [MQTT-3.3.2-8] A Topic Alias of 0 is not allowed: Topic Alias invalid (0x94).
TEST(PropertyRangeTest, TopicAliasZeroIsTopicAliasInvalid_MQTT_3_3_2_8) {
  Properties p;
  EXPECT_EQ(Decode({0x23, 0x00, 0x00}, C::kPublish, &p).reason, ReasonCode::kTopicAliasInvalid);
  Properties q;
  ASSERT_TRUE(Decode({0x23, 0x00, 0x01}, C::kPublish, &q).ok());
  EXPECT_EQ(q.topic_alias, 1);
}

TEST(PropertyRangeTest, LargestSubscriptionIdentifier) {
  Properties p;
  Bytes p_block;
  ASSERT_TRUE(Decode({0x0B, 0xFF, 0xFF, 0xFF, 0x7F}, C::kSubscribe, &p, &p_block).ok());
  EXPECT_EQ(p.subscription_identifier, kMaxVarint);
  EXPECT_EQ(Hex(Encode(p)), Hex(WithLength({0x0B, 0xFF, 0xFF, 0xFF, 0x7F})));
}

// ---- varints inside properties -------------------------------------------------------------

// [MQTT-1.5.5-1] The Property Length is a Variable Byte Integer: a non-minimal or 5-byte one is
// malformed.
TEST(PropertyVarintTest, NonMinimalPropertyLengthIsMalformed_MQTT_1_5_5_1) {
  const Bytes kBlocks[] = {
      {0x80, 0x00},                    // 0 in two bytes
      {0x82, 0x00, 0x21, 0x00},        // 2 in two bytes, then "Receive Maximum" cut
      {0x83, 0x00, 0x21, 0x00, 0x0A},  // 3 in two bytes, then a whole property
      {0x80, 0x80, 0x80, 0x80, 0x01},  // five bytes
  };
  for (const Bytes& b : kBlocks) {
    Properties p;
    size_t consumed = 0;
    EXPECT_EQ(DecodeProperties(b.data(), b.size(), C::kConnect, &p, &consumed).reason,
              ReasonCode::kMalformedPacket)
        << Hex(b);
  }
}

// [MQTT-1.5.5-1] The Subscription Identifier is a Variable Byte Integer too.
TEST(PropertyVarintTest, NonMinimalSubscriptionIdentifierIsMalformed_MQTT_1_5_5_1) {
  for (const Bytes& b : {Bytes{0x0B, 0x81, 0x00}, Bytes{0x0B, 0x80, 0x80, 0x00},
                         Bytes{0x0B, 0x80, 0x80, 0x80, 0x80, 0x01}}) {
    Properties p;
    EXPECT_EQ(Decode(b, C::kSubscribe, &p).reason, ReasonCode::kMalformedPacket) << Hex(b);
  }
}

TEST(PropertyVarintTest, PropertyLengthBeyondTheInputIsMalformed) {
  const Bytes b = {0x05, 0x21, 0x00, 0x0A};  // claims 5 bytes, 3 follow
  Properties p;
  size_t consumed = 0;
  EXPECT_EQ(DecodeProperties(b.data(), b.size(), C::kConnect, &p, &consumed).reason,
            ReasonCode::kMalformedPacket);
  // And an empty input has no Property Length at all.
  EXPECT_EQ(DecodeProperties(b.data(), 0, C::kConnect, &p, &consumed).reason,
            ReasonCode::kMalformedPacket);
}

TEST(PropertyVarintTest, TwoBytePropertyLength) {
  // 130 bytes of properties: a Reason String of 127 characters.
  Bytes props = Concat({{0x1F}, Str(std::string(127, 'r'))});
  ASSERT_EQ(props.size(), 130u);
  const Bytes block = Concat({{0x82, 0x01}, props});
  Properties p;
  size_t consumed = 0;
  ASSERT_TRUE(DecodeProperties(block.data(), block.size(), C::kPuback, &p, &consumed).ok());
  EXPECT_EQ(consumed, 132u);
  EXPECT_EQ(p.reason_string, std::string(127, 'r'));
  EXPECT_EQ(Hex(Encode(p)), Hex(block));
}

TEST(PropertiesTest, EmptyBlockLeavesDefaults) {
  Properties p;
  ASSERT_TRUE(Decode({}, C::kConnack, &p).ok());
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.present, 0u);
  EXPECT_EQ(p.receive_maximum, 65'535);
  EXPECT_EQ(p.maximum_qos, 2);
  EXPECT_EQ(p.retain_available, 1);
  EXPECT_EQ(p.request_problem_information, 1);
  EXPECT_EQ(p.wildcard_subscription_available, 1);
  EXPECT_EQ(p.subscription_identifier_available, 1);
  EXPECT_EQ(p.shared_subscription_available, 1);
  EXPECT_EQ(p.topic_alias_maximum, 0);
  EXPECT_EQ(PropertiesSize(p), 0u);
  EXPECT_EQ(Hex(Encode(p)), "00 ");
}

// ---- UTF-8 in properties -------------------------------------------------------------------

// [MQTT-1.5.4-1], [MQTT-1.5.4-2] UTF-8 string properties must be valid MQTT UTF-8.
TEST(PropertyUtf8Test, StringPropertiesRejectBadUtf8_MQTT_1_5_4_1) {
  struct StringProp {
    uint8_t id;
    PropertyContext ctx;
  };
  const StringProp kStringProps[] = {
      {0x03, C::kPublish}, {0x08, C::kPublish}, {0x12, C::kConnack},    {0x15, C::kConnect},
      {0x1A, C::kConnack}, {0x1C, C::kConnack}, {0x1F, C::kDisconnect},
  };
  const Bytes kBad[] = {
      {0x00, 0x03, 0xED, 0xA0, 0x80},  // surrogate
      {0x00, 0x02, 0xC0, 0xAF},        // overlong
      {0x00, 0x03, 'a', 0x00, 'b'},    // U+0000 [MQTT-1.5.4-2]
      {0x00, 0x01, 0xFF},
  };
  for (const StringProp& sp : kStringProps) {
    for (const Bytes& value : kBad) {
      Properties p;
      EXPECT_EQ(Decode(Concat({{sp.id}, value}), sp.ctx, &p).reason, ReasonCode::kMalformedPacket)
          << "identifier " << int{sp.id} << " value " << Hex(value);
    }
  }
}

// Binary Data properties carry any bytes, including ones that are not UTF-8.
TEST(PropertyUtf8Test, BinaryPropertiesAcceptAnyBytes) {
  const Bytes value = {0x00, 0x05, 0xED, 0xA0, 0x80, 0x00, 0xFF};
  Properties p;
  Bytes p_block;
  ASSERT_TRUE(Decode(Concat({{0x09}, value}), C::kPublish, &p, &p_block).ok());
  EXPECT_EQ(p.correlation_data, std::string_view("\xED\xA0\x80\0\xFF", 5));
  Properties q;
  Bytes q_block;
  ASSERT_TRUE(Decode(Concat({{0x16}, value}), C::kAuth, &q, &q_block).ok());
  EXPECT_EQ(q.authentication_data, std::string_view("\xED\xA0\x80\0\xFF", 5));
}

// [MQTT-1.5.7-1] Both strings of a User Property follow the UTF-8 string rules.
TEST(PropertyUtf8Test, UserPropertyPairMustBeUtf8_MQTT_1_5_7_1) {
  const Bytes kBad[] = {{0x00, 0x03, 0xED, 0xA0, 0x80}, {0x00, 0x01, 0x00}, {0x00, 0x01, 0x80}};
  for (const Bytes& bad : kBad) {
    Properties p;
    EXPECT_EQ(Decode(Concat({{0x26}, bad, Str("v")}), C::kPublish, &p).reason,
              ReasonCode::kMalformedPacket)
        << "name " << Hex(bad);
    Properties q;
    EXPECT_EQ(Decode(Concat({{0x26}, Str("k"), bad}), C::kPublish, &q).reason,
              ReasonCode::kMalformedPacket)
        << "value " << Hex(bad);
  }
  // Empty strings and a BOM are fine [MQTT-1.5.4-3].
  Properties ok;
  Bytes ok_block;
  ASSERT_TRUE(
      Decode(Concat({{0x26}, Str(""), Str("\xEF\xBB\xBF")}), C::kPublish, &ok, &ok_block).ok());
  EXPECT_EQ(UserProps(ok),
            (std::vector<std::pair<std::string, std::string>>{{"", "\xEF\xBB\xBF"}}));
}

// [MQTT-3.3.2-13], [MQTT-3.3.2-14] The Response Topic is a UTF-8 string without wildcards.
TEST(PropertyUtf8Test, ResponseTopicWithWildcardIsMalformed_MQTT_3_3_2_14) {
  for (std::string_view topic : {"resp/+", "resp/#", "+", "#", "a+b"}) {
    for (PropertyContext ctx : {C::kPublish, C::kWill}) {
      Properties p;
      EXPECT_EQ(Decode(Concat({{0x08}, Str(topic)}), ctx, &p).reason, ReasonCode::kMalformedPacket)
          << topic;
    }
  }
  Properties p;
  EXPECT_EQ(Decode(Concat({{0x08}, Str("\xED\xA0\x80")}), C::kPublish, &p).reason,
            ReasonCode::kMalformedPacket);
}

// [MQTT-4.7.3-1] The Response Topic is used as a Topic Name, which is at least one character.
TEST(PropertyUtf8Test, EmptyResponseTopicIsMalformed_MQTT_4_7_3_1) {
  for (PropertyContext ctx : {C::kPublish, C::kWill}) {
    Properties p;
    EXPECT_EQ(Decode(Concat({{0x08}, Str("")}), ctx, &p).reason, ReasonCode::kMalformedPacket);
  }
  Properties ok;
  Bytes ok_block;
  EXPECT_TRUE(Decode(Concat({{0x08}, Str("r")}), C::kPublish, &ok, &ok_block).ok());
  EXPECT_EQ(ok.response_topic, "r");
}

// ---- repeated properties ---------------------------------------------------------------------

// User Properties may repeat, even with the same name, and keep their order; other properties
// may sit between them [MQTT-3.3.2-17], [MQTT-3.3.2-18], [MQTT-3.1.3-10].
TEST(RepeatedPropertyTest, UserPropertiesKeepOrderWhenInterleaved) {
  // clang-format off
  const Bytes wire = Concat({
      {0x26}, Str("k1"), Str("v1"),
      {0x1F}, Str("why"),
      {0x26}, Str("k2"), Str("v2"),
      {0x11, 0x00, 0x00, 0x00, 0x05},
      {0x26}, Str("k1"), Str("v3"),
      {0x26}, Str(""), Str(""),
  });
  // clang-format on
  Properties p;
  Bytes p_block;
  ASSERT_TRUE(Decode(wire, C::kDisconnect, &p, &p_block).ok());
  const std::vector<std::pair<std::string, std::string>> want = {
      {"k1", "v1"}, {"k2", "v2"}, {"k1", "v3"}, {"", ""}};
  EXPECT_EQ(UserProps(p), want);
  EXPECT_EQ(p.user_properties.size(), 4u);
  EXPECT_EQ(p.reason_string, "why");
  EXPECT_EQ(p.session_expiry_interval_s, 5u);
  EXPECT_TRUE(p.subscription_ids.empty());

  // The encoder writes single-valued properties in identifier order, then the User
  // Properties in their original order.
  // clang-format off
  const Bytes expected = WithLength(Concat({
      {0x11, 0x00, 0x00, 0x00, 0x05},
      {0x1F}, Str("why"),
      {0x26}, Str("k1"), Str("v1"),
      {0x26}, Str("k2"), Str("v2"),
      {0x26}, Str("k1"), Str("v3"),
      {0x26}, Str(""), Str(""),
  }));
  // clang-format on
  EXPECT_EQ(Hex(Encode(p)), Hex(expected));

  Properties again;
  Bytes again_block;
  ASSERT_TRUE(
      Decode(Bytes(expected.begin() + 1, expected.end()), C::kDisconnect, &again, &again_block)
          .ok());
  ExpectPropertiesEq(again, p);
}

// A PUBLISH to a subscriber may carry several Subscription Identifiers [MQTT-3.3.4-3/4].
TEST(RepeatedPropertyTest, SeveralSubscriptionIdentifiersInPublish) {
  // clang-format off
  const Bytes wire = Concat({
      {0x0B, 0x01},
      {0x26}, Str("k"), Str("v"),
      {0x0B, 0x80, 0x01},
      {0x23, 0x00, 0x07},
      {0x0B, 0xFF, 0xFF, 0xFF, 0x7F},
  });
  // clang-format on
  Properties p;
  Bytes p_block;
  ASSERT_TRUE(Decode(wire, C::kPublish, &p, &p_block).ok());
  EXPECT_EQ(SubIds(p), (std::vector<uint32_t>{1, 128, 268'435'455}));
  EXPECT_EQ(p.subscription_ids.size(), 3u);
  EXPECT_EQ(p.subscription_identifier, 1u);  // the first one
  EXPECT_EQ(p.topic_alias, 7);
  EXPECT_EQ(p.user_properties.size(), 1u);

  // clang-format off
  const Bytes expected = WithLength(Concat({
      {0x23, 0x00, 0x07},
      {0x0B, 0x01},
      {0x0B, 0x80, 0x01},
      {0x0B, 0xFF, 0xFF, 0xFF, 0x7F},
      {0x26}, Str("k"), Str("v"),
  }));
  // clang-format on
  EXPECT_EQ(Hex(Encode(p)), Hex(expected));
  EXPECT_EQ(p.subscription_ids.EncodedSize(), 2u + 3u + 5u);
  EXPECT_EQ(p.user_properties.EncodedSize(), 7u);
}

// §3.8.2.1.2: "It is a Protocol Error to include the Subscription Identifier more than once."
TEST(RepeatedPropertyTest, TwoSubscriptionIdentifiersInSubscribeIsProtocolError) {
  Properties p;
  EXPECT_EQ(Decode({0x0B, 0x01, 0x0B, 0x02}, C::kSubscribe, &p).reason, ReasonCode::kProtocolError);
  Properties q;
  EXPECT_EQ(
      Decode({0x0B, 0x05, 0x26, 0x00, 0x00, 0x00, 0x00, 0x0B, 0x05}, C::kSubscribe, &q).reason,
      ReasonCode::kProtocolError);
}

TEST(RepeatedPropertyTest, DuplicateSingleValuedPropertyIsProtocolErrorEvenApart) {
  Properties p;
  EXPECT_EQ(Decode(Concat({{0x1F}, Str("a"), {0x26}, Str("k"), Str("v"), {0x1F}, Str("b")}),
                   C::kPuback, &p)
                .reason,
            ReasonCode::kProtocolError);
}

TEST(PropertyBuilderTest, BuildsWireBytes) {
  PropertyBuilder b;
  b.AddUserProperty("name", "value").AddSubscriptionIdentifier(300).AddUserProperty("n2", "");
  const UserPropertyList users = b.user_properties();
  const SubscriptionIdList ids = b.subscription_ids();
  const Bytes want =
      Concat({{0x26}, Str("name"), Str("value"), {0x0B, 0xAC, 0x02}, {0x26}, Str("n2"), Str("")});
  EXPECT_EQ(Hex(Bytes(users.encoded().begin(), users.encoded().end())), Hex(want));
  EXPECT_EQ(users.size(), 2u);
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(*ids.begin(), 300u);
  auto it = users.begin();
  EXPECT_EQ((*it).name, "name");
  EXPECT_EQ((*it).value, "value");
  EXPECT_EQ(it.entry().size(), 1u + 6u + 7u);
  ++it;
  EXPECT_EQ((*it).name, "n2");
  EXPECT_EQ((*it).value, "");
  ++it;
  EXPECT_TRUE(it == users.end());

  b.clear();
  EXPECT_TRUE(b.user_properties().empty());
  EXPECT_TRUE(b.subscription_ids().empty());
}

TEST(PropertyBuilderTest, EncodedThroughProperties) {
  PropertyBuilder b;
  b.AddUserProperty("a", "1").AddUserProperty("b", "2");
  PropertyBuilder ids;
  ids.AddSubscriptionIdentifier(1).AddSubscriptionIdentifier(16'384);
  Properties p;
  p.SetContentType("json");
  p.user_properties = b.user_properties();
  p.subscription_ids = ids.subscription_ids();
  EXPECT_FALSE(p.empty());
  // clang-format off
  const Bytes expected = WithLength(Concat({
      {0x03}, Str("json"),
      {0x0B, 0x01},
      {0x0B, 0x80, 0x80, 0x01},
      {0x26}, Str("a"), Str("1"),
      {0x26}, Str("b"), Str("2"),
  }));
  // clang-format on
  EXPECT_EQ(Hex(Encode(p)), Hex(expected));
}

// ---- every property carried by a packet, through the encoder and decoder -------------------

template <typename P>
P RoundTrip(const P& in, std::string* wire) {
  *wire = EncodeToString(in, ProtocolVersion::kMqtt5);
  Packet out;
  DecodeStatus s = DecodeOne(
      ProtocolVersion::kMqtt5,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(wire->data()), wire->size()), &out);
  EXPECT_TRUE(s.ok()) << s.detail;
  const P* p = std::get_if<P>(&out);
  if (p == nullptr) {
    ADD_FAILURE() << "decoded a different packet type";
    return P{};
  }
  return *p;
}

// Records which identifiers a decoded property set carries.
void Record(const Properties& p, std::set<PropertyId>* seen) {
  for (const PropertyCase& c : AllProperties()) {
    if (p.Has(c.id)) {
      seen->insert(c.id);
    }
  }
  if (!p.user_properties.empty()) {
    seen->insert(PropertyId::kUserProperty);
  }
  if (!p.subscription_ids.empty()) {
    seen->insert(PropertyId::kSubscriptionIdentifier);
  }
}

void ConnectAndWillProperties(std::set<PropertyId>* seen) {
  PropertyBuilder users;
  users.AddUserProperty("client", "x").AddUserProperty("client", "y");
  PropertyBuilder will_users;
  will_users.AddUserProperty("will", "1");
  Connect in;
  in.client_id = "c";
  in.properties.SetSessionExpiryInterval(3600);
  in.properties.SetAuthenticationMethod("SCRAM-SHA-256");
  in.properties.SetAuthenticationData(std::string_view("\x01\x00\x02", 3));
  in.properties.SetRequestProblemInformation(0);
  in.properties.SetRequestResponseInformation(1);
  in.properties.SetReceiveMaximum(100);
  in.properties.SetTopicAliasMaximum(16);
  in.properties.SetMaximumPacketSize(1 << 20);
  in.properties.user_properties = users.user_properties();
  Will& w = in.will.emplace();
  w.topic = "will/topic";
  w.payload = "gone";
  w.qos = Qos::k1;
  w.properties.SetPayloadFormatIndicator(1);
  w.properties.SetMessageExpiryInterval(120);
  w.properties.SetContentType("text/plain");
  w.properties.SetResponseTopic("will/resp");
  w.properties.SetCorrelationData("corr");
  w.properties.SetWillDelayInterval(30);
  w.properties.user_properties = will_users.user_properties();

  std::string wire;
  Connect out = RoundTrip(in, &wire);
  ExpectPropertiesEq(out.properties, in.properties);
  ASSERT_TRUE(out.will.has_value());
  ExpectPropertiesEq(out.will->properties, w.properties);
  Record(out.properties, seen);
  Record(out.will->properties, seen);
}

void ConnackProperties(std::set<PropertyId>* seen) {
  PropertyBuilder users;
  users.AddUserProperty("server", "ringmq");
  Connack in;
  in.properties.SetSessionExpiryInterval(60);
  in.properties.SetAssignedClientIdentifier("auto-7");
  in.properties.SetServerKeepAlive(45);
  in.properties.SetAuthenticationMethod("SCRAM-SHA-256");
  in.properties.SetAuthenticationData("final");
  in.properties.SetResponseInformation("reply/");
  in.properties.SetServerReference("b:1883");
  in.properties.SetReasonString("welcome");
  in.properties.SetReceiveMaximum(20);
  in.properties.SetTopicAliasMaximum(10);
  in.properties.SetMaximumQos(1);
  in.properties.SetRetainAvailable(0);
  in.properties.SetMaximumPacketSize(65'536);
  in.properties.SetWildcardSubscriptionAvailable(0);
  in.properties.SetSubscriptionIdentifierAvailable(0);
  in.properties.SetSharedSubscriptionAvailable(0);
  in.properties.user_properties = users.user_properties();

  std::string wire;
  Connack out = RoundTrip(in, &wire);
  ExpectPropertiesEq(out.properties, in.properties);
  Record(out.properties, seen);
}

void PublishProperties(std::set<PropertyId>* seen) {
  PropertyBuilder b;
  b.AddSubscriptionIdentifier(1).AddSubscriptionIdentifier(200'000).AddUserProperty("a", "b");
  Publish in;
  in.topic = "t";
  in.payload = "{}";
  in.qos = Qos::k1;
  in.packet_id = 9;
  in.properties.SetPayloadFormatIndicator(1);
  in.properties.SetMessageExpiryInterval(10);
  in.properties.SetContentType("application/json");
  in.properties.SetResponseTopic("t/reply");
  in.properties.SetCorrelationData(std::string_view("\0\1", 2));
  in.properties.SetTopicAlias(3);
  in.properties.user_properties = b.user_properties();
  in.properties.subscription_ids = b.subscription_ids();

  std::string wire;
  Publish out = RoundTrip(in, &wire);
  ExpectPropertiesEq(out.properties, in.properties);
  EXPECT_EQ(out.properties.subscription_identifier, 1u);
  Record(out.properties, seen);
}

void SubscribeAndUnsubscribeProperties(std::set<PropertyId>* seen) {
  PropertyBuilder b;
  b.AddSubscriptionIdentifier(77).AddUserProperty("s", "1");
  Subscribe in;
  in.packet_id = 1;
  in.subscriptions.push_back({"a/#", {}});
  in.properties.subscription_ids = b.subscription_ids();
  in.properties.user_properties = b.user_properties();
  std::string wire;
  Subscribe out = RoundTrip(in, &wire);
  ExpectPropertiesEq(out.properties, in.properties);
  EXPECT_EQ(out.properties.subscription_identifier, 77u);
  Record(out.properties, seen);

  PropertyBuilder u;
  u.AddUserProperty("u", "2");
  Unsubscribe un;
  un.packet_id = 2;
  un.filters.push_back("a/#");
  un.properties.user_properties = u.user_properties();
  std::string un_wire;
  Unsubscribe un_out = RoundTrip(un, &un_wire);
  ExpectPropertiesEq(un_out.properties, un.properties);
  Record(un_out.properties, seen);
}

template <typename Ack>
void AckRoundTrip(ReasonCode reason, std::set<PropertyId>* seen) {
  PropertyBuilder b;
  b.AddUserProperty("ack", "1");
  Ack in;
  in.packet_id = 5;
  in.reason = reason;
  in.properties.SetReasonString("because");
  in.properties.user_properties = b.user_properties();
  std::string wire;
  Ack out = RoundTrip(in, &wire);
  EXPECT_EQ(out.packet_id, 5);
  EXPECT_EQ(out.reason, reason);
  ExpectPropertiesEq(out.properties, in.properties);
  Record(out.properties, seen);
}

void AcknowledgementProperties(std::set<PropertyId>* seen) {
  AckRoundTrip<Puback>(ReasonCode::kNoMatchingSubscribers, seen);
  AckRoundTrip<Pubrec>(ReasonCode::kQuotaExceeded, seen);
  AckRoundTrip<Pubrel>(ReasonCode::kPacketIdentifierNotFound, seen);
  AckRoundTrip<Pubcomp>(ReasonCode::kSuccess, seen);

  PropertyBuilder b;
  b.AddUserProperty("x", "y");
  Suback sa;
  sa.packet_id = 3;
  sa.reasons = {ReasonCode::kGrantedQos1, ReasonCode::kNotAuthorized};
  sa.properties.SetReasonString("partly");
  sa.properties.user_properties = b.user_properties();
  std::string sa_wire;
  Suback sa_out = RoundTrip(sa, &sa_wire);
  ExpectPropertiesEq(sa_out.properties, sa.properties);
  Record(sa_out.properties, seen);

  Unsuback ua;
  ua.packet_id = 4;
  ua.reasons = {ReasonCode::kNoSubscriptionExisted};
  ua.properties.SetReasonString("none");
  ua.properties.user_properties = b.user_properties();
  std::string ua_wire;
  Unsuback ua_out = RoundTrip(ua, &ua_wire);
  ExpectPropertiesEq(ua_out.properties, ua.properties);
  Record(ua_out.properties, seen);
}

void DisconnectAndAuthProperties(std::set<PropertyId>* seen) {
  PropertyBuilder b;
  b.AddUserProperty("bye", "now");
  Disconnect d;
  d.reason = ReasonCode::kUseAnotherServer;
  d.properties.SetSessionExpiryInterval(0);
  d.properties.SetServerReference("elsewhere");
  d.properties.SetReasonString("moving");
  d.properties.user_properties = b.user_properties();
  std::string d_wire;
  Disconnect d_out = RoundTrip(d, &d_wire);
  EXPECT_EQ(d_out.reason, ReasonCode::kUseAnotherServer);
  ExpectPropertiesEq(d_out.properties, d.properties);
  Record(d_out.properties, seen);

  Auth a;
  a.reason = ReasonCode::kContinueAuthentication;
  a.properties.SetAuthenticationMethod("SCRAM-SHA-256");
  a.properties.SetAuthenticationData("challenge");
  a.properties.SetReasonString("more");
  a.properties.user_properties = b.user_properties();
  std::string a_wire;
  Auth a_out = RoundTrip(a, &a_wire);
  EXPECT_EQ(a_out.reason, ReasonCode::kContinueAuthentication);
  ExpectPropertiesEq(a_out.properties, a.properties);
  Record(a_out.properties, seen);
}

TEST(PacketPropertiesTest, ConnectAndWill) {
  std::set<PropertyId> seen;
  ConnectAndWillProperties(&seen);
  EXPECT_EQ(seen.size(), 15u);
}

TEST(PacketPropertiesTest, Connack) {
  std::set<PropertyId> seen;
  ConnackProperties(&seen);
  EXPECT_EQ(seen.size(), 17u);
}

TEST(PacketPropertiesTest, Publish) {
  std::set<PropertyId> seen;
  PublishProperties(&seen);
  EXPECT_EQ(seen.size(), 8u);
}

TEST(PacketPropertiesTest, SubscribeAndUnsubscribe) {
  std::set<PropertyId> seen;
  SubscribeAndUnsubscribeProperties(&seen);
  EXPECT_EQ(seen.size(), 2u);
}

TEST(PacketPropertiesTest, Acknowledgements) {
  std::set<PropertyId> seen;
  AcknowledgementProperties(&seen);
  EXPECT_EQ(seen.size(), 2u);
}

TEST(PacketPropertiesTest, DisconnectAndAuth) {
  std::set<PropertyId> seen;
  DisconnectAndAuthProperties(&seen);
  EXPECT_EQ(seen.size(), 6u);
}

// Every one of the 27 identifiers goes through the encoder and the decoder in some packet.
TEST(PacketPropertiesTest, All27IdentifiersAreRoundTripped) {
  std::set<PropertyId> seen;
  ConnectAndWillProperties(&seen);
  ConnackProperties(&seen);
  PublishProperties(&seen);
  SubscribeAndUnsubscribeProperties(&seen);
  AcknowledgementProperties(&seen);
  DisconnectAndAuthProperties(&seen);
  std::vector<std::string> missing;
  for (const PropertyCase& c : AllProperties()) {
    if (seen.count(c.id) == 0) {
      missing.push_back(c.name);
    }
  }
  EXPECT_TRUE(missing.empty()) << testing::PrintToString(missing);
  EXPECT_EQ(seen.size(), 27u);
}

}  // namespace
}  // namespace ringmq::mqtt

namespace ringmq::mqtt {
namespace {

// A forwarded block of encoded properties is written verbatim after the fields, and decodes
// back to the same properties (the broker stores a message's properties this way).
TEST(EncodedExtraTest, ForwardedBlockIsWrittenVerbatimAndDecodesBack) {
  Properties src;
  src.SetContentType("text/plain");
  PropertyBuilder b;
  b.AddUserProperty("k", "v");
  src.user_properties = b.user_properties();
  std::string block(PropertiesSize(src), '\0');
  uint8_t* end = EncodePropertyBytes(reinterpret_cast<uint8_t*>(block.data()), src);
  ASSERT_EQ(static_cast<size_t>(end - reinterpret_cast<uint8_t*>(block.data())), block.size());

  Properties out;
  out.SetMessageExpiryInterval(30);
  out.encoded_extra = block;
  const size_t n = PropertiesSize(out);
  EXPECT_EQ(n, 5 + block.size());
  std::string wire(VarintSize(static_cast<uint32_t>(n)) + n, '\0');
  EncodeProperties(reinterpret_cast<uint8_t*>(wire.data()), out, n);
  Properties back;
  size_t consumed = 0;
  ASSERT_TRUE(DecodeProperties(reinterpret_cast<const uint8_t*>(wire.data()), wire.size(),
                               PropertyContext::kPublish, &back, &consumed)
                  .ok());
  EXPECT_EQ(consumed, wire.size());
  EXPECT_EQ(back.message_expiry_interval_s, 30u);
  EXPECT_EQ(back.content_type, "text/plain");
  ASSERT_EQ(back.user_properties.size(), 1u);
  EXPECT_EQ((*back.user_properties.begin()).name, "k");
  EXPECT_TRUE(back.encoded_extra.empty());
}

}  // namespace
}  // namespace ringmq::mqtt
