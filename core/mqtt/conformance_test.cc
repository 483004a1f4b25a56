// Conformance of the decoder to the normative statements of MQTT 5.0 and 3.1.1: one test per
// rule on malformed input, named after its statement id (5.0 numbering; the 3.1.1 number is
// given where it differs), on packets written byte by byte from the specifications. Also the
// reason-code tables, trailing bytes, and truncation at every byte position.
//
// Every packet here is built by hand (never by the encoder) so the decoder is checked against
// the specification and not against the codec's own idea of it.

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "core/mqtt/decoder.h"
#include "core/mqtt/packets.h"
#include "core/mqtt/reason_code.h"

namespace ringmq::mqtt {
namespace {

using Bytes = std::vector<uint8_t>;
using V = ProtocolVersion;

constexpr V kAllVersions[] = {V::kMqtt31, V::kMqtt311, V::kMqtt5};
constexpr V kV3Versions[] = {V::kMqtt31, V::kMqtt311};

Bytes Concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) {
    for (uint8_t b : p) {
      out.push_back(b);
    }
  }
  return out;
}

// A UTF-8 string or binary field: two-byte length, then the bytes.
Bytes Str(std::string_view s) {
  Bytes out;
  out.push_back(static_cast<uint8_t>(s.size() >> 8));
  out.push_back(static_cast<uint8_t>(s.size()));
  for (char c : s) {
    out.push_back(static_cast<uint8_t>(c));
  }
  return out;
}

// A whole packet: first byte, one-byte Remaining Length (every body here is < 128 bytes).
Bytes Frame(uint8_t first, const Bytes& body) {
  EXPECT_LT(body.size(), 128u);
  Bytes out;
  out.push_back(first);
  out.push_back(static_cast<uint8_t>(body.size()));
  for (uint8_t b : body) {
    out.push_back(b);
  }
  return out;
}

// Decodes one whole packet; `wire` must outlive the views in *out.
DecodeStatus Decode(V v, const Bytes& wire, Packet* out) {
  return DecodeOne(v, std::span<const uint8_t>(wire.data(), wire.size()), out);
}

ReasonCode Reason(V v, const Bytes& wire) {
  Packet p;
  return Decode(v, wire, &p).reason;
}

std::string VersionName(V v) {
  return std::string(ProtocolVersionName(v));
}

// The variable header of CONNECT up to and including the flags and Keep Alive 0.
Bytes ConnectHeader(V v, uint8_t flags) {
  switch (v) {
    case V::kMqtt31:
      return Concat({Str("MQIsdp"), {0x03, flags, 0x00, 0x00}});
    case V::kMqtt311:
      return Concat({Str("MQTT"), {0x04, flags, 0x00, 0x00}});
    case V::kMqtt5:
      return Concat({Str("MQTT"), {0x05, flags, 0x00, 0x00, 0x00}});  // + Property Length 0
  }
  return {};
}

// Will Properties (empty) in 5.0, nothing before.
Bytes WillProps(V v) {
  return IsV5(v) ? Bytes{0x00} : Bytes{};
}
// Property Length 0 in 5.0, nothing before.
Bytes NoProps(V v) {
  return IsV5(v) ? Bytes{0x00} : Bytes{};
}

// Bad MQTT UTF-8: overlong, surrogate, above U+10FFFF, stray continuation [MQTT-1.5.4-1].
const std::string_view kIllFormed[] = {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "a\x80"};

// ---- 1.5 Data representation ---------------------------------------------------------------

// [MQTT-1.5.4-1] (3.1.1: MQTT-1.5.3-1) UTF-8 fields must be well-formed: in every string
// field of every packet that has one.
TEST(Conformance, MQTT_1_5_4_1_IllFormedUtf8IsMalformed) {
  for (V v : kAllVersions) {
    for (std::string_view bad : kIllFormed) {
      SCOPED_TRACE(VersionName(v) + " " + testing::PrintToString(std::string(bad)));
      // PUBLISH Topic Name.
      EXPECT_EQ(Reason(v, Frame(0x30, Concat({Str(bad), NoProps(v), {'x'}}))),
                ReasonCode::kMalformedPacket);
      // CONNECT Client Identifier, Will Topic, User Name.
      EXPECT_EQ(Reason(v, Frame(0x10, Concat({ConnectHeader(v, 0x02), Str(bad)}))),
                ReasonCode::kMalformedPacket);
      EXPECT_EQ(Reason(v, Frame(0x10, Concat({ConnectHeader(v, 0x06), Str("c"), WillProps(v),
                                              Str(bad), Str("m")}))),
                ReasonCode::kMalformedPacket);
      EXPECT_EQ(Reason(v, Frame(0x10, Concat({ConnectHeader(v, 0x82), Str("c"), Str(bad)}))),
                ReasonCode::kMalformedPacket);
      // SUBSCRIBE and UNSUBSCRIBE Topic Filters.
      EXPECT_EQ(Reason(v, Frame(0x82, Concat({{0x00, 0x01}, NoProps(v), Str(bad), {0x00}}))),
                ReasonCode::kMalformedPacket);
      EXPECT_EQ(Reason(v, Frame(0xA2, Concat({{0x00, 0x01}, NoProps(v), Str(bad)}))),
                ReasonCode::kMalformedPacket);
    }
  }
}

// [MQTT-1.5.4-2] (3.1.1: MQTT-1.5.3-2) No U+0000 in UTF-8 fields.
TEST(Conformance, MQTT_1_5_4_2_NulIsMalformed) {
  const std::string nul("a\0b", 3);
  for (V v : kAllVersions) {
    SCOPED_TRACE(VersionName(v));
    EXPECT_EQ(Reason(v, Frame(0x30, Concat({Str(nul), NoProps(v)}))), ReasonCode::kMalformedPacket);
    EXPECT_EQ(Reason(v, Frame(0x10, Concat({ConnectHeader(v, 0x02), Str(nul)}))),
              ReasonCode::kMalformedPacket);
    EXPECT_EQ(Reason(v, Frame(0x82, Concat({{0x00, 0x01}, NoProps(v), Str(nul), {0x00}}))),
              ReasonCode::kMalformedPacket);
  }
  // A v5 string property too.
  EXPECT_EQ(Reason(V::kMqtt5, Frame(0x30, Concat({Str("t"), {0x04, 0x03, 0x00, 0x01, 0x00}}))),
            ReasonCode::kMalformedPacket);
}

// [MQTT-1.5.4-3] (3.1.1: MQTT-1.5.3-3) EF BB BF is U+FEFF and must not be skipped or stripped:
// decoded strings keep the three bytes.
TEST(Conformance, MQTT_1_5_4_3_ByteOrderMarkIsKept) {
  const std::string bom_topic = "\xEF\xBB\xBFt/b";
  for (V v : kAllVersions) {
    SCOPED_TRACE(VersionName(v));
    const Bytes publish = Frame(0x30, Concat({Str(bom_topic), NoProps(v), {'x'}}));
    Packet p;
    ASSERT_TRUE(Decode(v, publish, &p).ok());
    const Publish* pub = std::get_if<Publish>(&p);
    ASSERT_NE(pub, nullptr);
    EXPECT_EQ(pub->topic, bom_topic);
    EXPECT_EQ(pub->topic.size(), 6u);
    EXPECT_EQ(pub->payload, "x");

    const Bytes connect =
        Frame(0x10, Concat({ConnectHeader(v, 0x82), Str("\xEF\xBB\xBFid"), Str("\xEF\xBB\xBF")}));
    Packet c;
    ASSERT_TRUE(Decode(v, connect, &c).ok());
    ASSERT_NE(std::get_if<Connect>(&c), nullptr);
    EXPECT_EQ(std::get_if<Connect>(&c)->client_id, "\xEF\xBB\xBFid");
    EXPECT_EQ(std::get_if<Connect>(&c)->username, "\xEF\xBB\xBF");

    const Bytes subscribe =
        Frame(0x82, Concat({{0x00, 0x01}, NoProps(v), Str("\xEF\xBB\xBF/#"), {0x01}}));
    Packet s;
    ASSERT_TRUE(Decode(v, subscribe, &s).ok());
    ASSERT_NE(std::get_if<Subscribe>(&s), nullptr);
    EXPECT_EQ(std::get_if<Subscribe>(&s)->subscriptions[0].filter, "\xEF\xBB\xBF/#");
  }
}

// [MQTT-1.5.5-1] A Variable Byte Integer uses the fewest bytes and at most four: in the
// Remaining Length, the Property Length, and the Subscription Identifier.
TEST(Conformance, MQTT_1_5_5_1_BadVariableByteIntegerIsMalformed) {
  for (V v : kAllVersions) {
    EXPECT_EQ(Reason(v, {0xC0, 0x80, 0x00}), ReasonCode::kMalformedPacket);  // PINGREQ, RL 0
    EXPECT_EQ(Reason(v, {0x30, 0x80, 0x80, 0x80, 0x80, 0x01}), ReasonCode::kMalformedPacket);
    EXPECT_EQ(Reason(v, {0x30, 0x85, 0x00, 0x00, 0x01, 't', 'x', 'y', 'z'}),
              ReasonCode::kMalformedPacket);  // 5 in two bytes
  }
  // Property Length 0 written as 80 00.
  EXPECT_EQ(Reason(V::kMqtt5, Frame(0x30, Concat({Str("t"), {0x80, 0x00}}))),
            ReasonCode::kMalformedPacket);
  EXPECT_EQ(Reason(V::kMqtt5, Frame(0x40, {0x00, 0x01, 0x00, 0x80, 0x00})),
            ReasonCode::kMalformedPacket);
  // Subscription Identifier 1 written as 81 00.
  EXPECT_EQ(Reason(V::kMqtt5,
                   Frame(0x82, Concat({{0x00, 0x01, 0x03, 0x0B, 0x81, 0x00}, Str("a"), {0x00}}))),
            ReasonCode::kMalformedPacket);
}

// [MQTT-1.5.7-1] Both strings of a UTF-8 String Pair (User Property) are MQTT UTF-8.
TEST(Conformance, MQTT_1_5_7_1_UserPropertyPairMustBeUtf8) {
  const Bytes bad_name = Concat({{0x26}, Str("\xED\xA0\x80"), Str("v")});
  const Bytes bad_value = Concat({{0x26}, Str("k"), Str("\xC0\x80")});
  for (const Bytes& prop : {bad_name, bad_value}) {
    const Bytes props = Concat({{static_cast<uint8_t>(prop.size())}, prop});
    EXPECT_EQ(Reason(V::kMqtt5, Frame(0x30, Concat({Str("t"), props}))),
              ReasonCode::kMalformedPacket);
    EXPECT_EQ(Reason(V::kMqtt5,
                     Frame(0x10, Concat({Str("MQTT"), {0x05, 0x02, 0x00, 0x00}, props, Str("c")}))),
              ReasonCode::kMalformedPacket);
    EXPECT_EQ(Reason(V::kMqtt5, Frame(0xE0, Concat({{0x00}, props}))),
              ReasonCode::kMalformedPacket);
  }
}

// ---- 2 Control packet format ---------------------------------------------------------------

// A minimal valid body for each packet type except PUBLISH, whose flags carry meaning.
Bytes MinimalBody(V v, PacketType t) {
  const bool v5 = IsV5(v);
  switch (t) {
    case PacketType::kConnect:
      return Concat({ConnectHeader(v, 0x02), Str("c")});
    case PacketType::kConnack:
      return v5 ? Bytes{0x00, 0x00, 0x00} : Bytes{0x00, 0x00};
    case PacketType::kPuback:
    case PacketType::kPubrec:
    case PacketType::kPubrel:
    case PacketType::kPubcomp:
      return {0x00, 0x01};
    case PacketType::kSubscribe:
      return Concat({{0x00, 0x01}, NoProps(v), Str("a"), {0x00}});
    case PacketType::kSuback:
      return Concat({{0x00, 0x01}, NoProps(v), {0x00}});
    case PacketType::kUnsubscribe:
      return Concat({{0x00, 0x01}, NoProps(v), Str("a")});
    case PacketType::kUnsuback:
      return v5 ? Bytes{0x00, 0x01, 0x00, 0x00} : Bytes{0x00, 0x01};
    default:
      return {};  // PINGREQ, PINGRESP, DISCONNECT, AUTH
  }
}

// [MQTT-2.1.3-1] (3.1.1: MQTT-2.2.2-1/2) Reserved fixed-header flags must be exactly 0010 for
// PUBREL, SUBSCRIBE and UNSUBSCRIBE and 0000 for every other type but PUBLISH; any other
// value is malformed. Every type, every flag value, every version. MQTT 3.1 (protocol level
// 3) had no reserved bits there: those three packets carry QoS 1 and may carry DUP when sent
// again (3.1 §2.1 "DUP flag", §3.6, §3.8, §3.10), so 1010 is accepted too for level 3 only.
TEST(Conformance, MQTT_2_1_3_1_ReservedFlagsMustMatch) {
  for (V v : kAllVersions) {
    for (int type = 1; type < 16; ++type) {
      const auto t = static_cast<PacketType>(type);
      if (t == PacketType::kPublish || (t == PacketType::kAuth && !IsV5(v))) {
        continue;
      }
      const uint8_t required =
          t == PacketType::kPubrel || t == PacketType::kSubscribe || t == PacketType::kUnsubscribe
              ? 0x02
              : 0x00;
      const Bytes body = MinimalBody(v, t);
      for (uint8_t flags = 0; flags < 16; ++flags) {
        Packet p;
        const Bytes wire = Frame(static_cast<uint8_t>((type << 4) | flags), body);
        DecodeStatus s = Decode(v, wire, &p);
        const bool v31_dup = v == V::kMqtt31 && required == 0x02 && flags == 0x0A;
        if (flags == required || v31_dup) {
          EXPECT_TRUE(s.ok()) << PacketTypeName(t) << " " << VersionName(v) << ": " << s.detail;
        } else {
          EXPECT_EQ(s.reason, ReasonCode::kMalformedPacket)
              << PacketTypeName(t) << " flags " << int{flags} << " " << VersionName(v);
        }
      }
    }
  }
}

// [MQTT-2.2.1-2] (3.1.1: MQTT-2.3.1-5) A QoS 0 PUBLISH has no Packet Identifier: the bytes
// after the Topic Name are the payload (after the properties in 5.0).
TEST(Conformance, MQTT_2_2_1_2_Qos0PublishHasNoPacketIdentifier) {
  for (V v : kAllVersions) {
    Packet p;
    const Bytes wire = Frame(0x30, Concat({Str("t"), NoProps(v), {0x00, 0x0A}}));
    ASSERT_TRUE(Decode(v, wire, &p).ok());
    const Publish* pub = std::get_if<Publish>(&p);
    ASSERT_NE(pub, nullptr);
    EXPECT_EQ(pub->packet_id, 0);
    EXPECT_EQ(pub->payload, std::string_view("\x00\x0A", 2));
  }
}

// [MQTT-2.2.1-3] (3.1.1: MQTT-2.3.1-1) SUBSCRIBE, UNSUBSCRIBE and QoS > 0 PUBLISH carry a
// non-zero Packet Identifier; the acknowledgements echo one [MQTT-2.2.1-5/6], so 0 is never
// valid there either. The codec reports Protocol Error.
TEST(Conformance, MQTT_2_2_1_3_PacketIdentifierZeroIsRejected) {
  for (V v : kAllVersions) {
    SCOPED_TRACE(VersionName(v));
    EXPECT_EQ(Reason(v, Frame(0x32, Concat({Str("t"), {0x00, 0x00}, NoProps(v)}))),
              ReasonCode::kProtocolError);  // QoS 1
    EXPECT_EQ(Reason(v, Frame(0x34, Concat({Str("t"), {0x00, 0x00}, NoProps(v)}))),
              ReasonCode::kProtocolError);  // QoS 2
    EXPECT_EQ(Reason(v, Frame(0x82, Concat({{0x00, 0x00}, NoProps(v), Str("a"), {0x00}}))),
              ReasonCode::kProtocolError);
    EXPECT_EQ(Reason(v, Frame(0xA2, Concat({{0x00, 0x00}, NoProps(v), Str("a")}))),
              ReasonCode::kProtocolError);
    for (uint8_t first : {0x40, 0x50, 0x62, 0x70}) {
      EXPECT_EQ(Reason(v, Frame(first, {0x00, 0x00})), ReasonCode::kProtocolError);
    }
    EXPECT_EQ(Reason(v, Frame(0x90, Concat({{0x00, 0x00}, NoProps(v), {0x00}}))),
              ReasonCode::kProtocolError);
    EXPECT_EQ(Reason(v, Frame(0xB0, IsV5(v) ? Bytes{0x00, 0x00, 0x00, 0x00} : Bytes{0x00, 0x00})),
              ReasonCode::kProtocolError);
  }
}

// ---- 3.1 CONNECT ---------------------------------------------------------------------------

// [MQTT-3.1.2-1] The Protocol Name is "MQTT" ("MQIsdp" for 3.1). Anything else is not MQTT
// as this server speaks it; the codec answers Protocol Error and a 3.1.1 CONNACK format.
TEST(Conformance, MQTT_3_1_2_1_BadProtocolName) {
  for (std::string_view name : {"MQTX", "mqtt", "MQT", "MQTTT", "", "HTTP", "MQIsdP"}) {
    Packet p;
    const Bytes wire = Frame(0x10, Concat({Str(name), {0x04, 0x02, 0x00, 0x00}, Str("c")}));
    EXPECT_EQ(Decode(V::kMqtt5, wire, &p).reason, ReasonCode::kProtocolError) << name;
    const Connect* c = std::get_if<Connect>(&p);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->version, V::kMqtt311) << name;
  }
  // Too short for the name.
  EXPECT_EQ(Reason(V::kMqtt5, Frame(0x10, {0x00, 0x04, 'M', 'Q'})), ReasonCode::kMalformedPacket);
}

// [MQTT-3.1.2-2] (3.1.1: MQTT-3.1.2-2) An unsupported protocol level is answered with a
// CONNACK "unacceptable protocol version" in 3.1.1 format, which every client understands:
// the decoder reports kUnsupportedProtocolVersion and sets version to 3.1.1.
TEST(Conformance, MQTT_3_1_2_2_UnsupportedProtocolLevel) {
  struct Case {
    std::string_view name;
    uint8_t level;
  };
  const Case kCases[] = {{"MQTT", 0}, {"MQTT", 1},   {"MQTT", 2},   {"MQTT", 3},   {"MQTT", 6},
                         {"MQTT", 7}, {"MQTT", 255}, {"MQIsdp", 4}, {"MQIsdp", 5}, {"MQIsdp", 0}};
  for (const Case& c : kCases) {
    for (V connection : kAllVersions) {
      Packet p;
      const Bytes wire =
          Frame(0x10, Concat({Str(c.name), {c.level, 0x02, 0x00, 0x00, 0x00}, Str("c")}));
      EXPECT_EQ(Decode(connection, wire, &p).reason, ReasonCode::kUnsupportedProtocolVersion)
          << c.name << " " << int{c.level};
      const Connect* connect = std::get_if<Connect>(&p);
      ASSERT_NE(connect, nullptr);
      EXPECT_EQ(connect->version, V::kMqtt311) << c.name << " " << int{c.level};
    }
  }
  // And the supported ones decode with their own version.
  for (V v : kAllVersions) {
    Packet p;
    ASSERT_TRUE(Decode(V::kMqtt311, Frame(0x10, MinimalBody(v, PacketType::kConnect)), &p).ok());
    EXPECT_EQ(std::get_if<Connect>(&p)->version, v);
  }
}

// [MQTT-3.1.2-3] The reserved CONNECT flag (bit 0) must be 0.
TEST(Conformance, MQTT_3_1_2_3_ReservedConnectFlag) {
  for (V v : kAllVersions) {
    EXPECT_EQ(Reason(v, Frame(0x10, Concat({ConnectHeader(v, 0x03), Str("c")}))),
              ReasonCode::kMalformedPacket)
        << VersionName(v);
    EXPECT_EQ(Reason(v, Frame(0x10, Concat({ConnectHeader(v, 0x01), Str("c")}))),
              ReasonCode::kMalformedPacket)
        << VersionName(v);
  }
}

// [MQTT-3.1.2-9] Will Flag 1: Will (Properties,) Topic and Payload must be present;
// [MQTT-3.1.2-17/19] User Name / Password flags: the fields must be present;
// [MQTT-3.1.2-16/18] and absent when the flags are 0 (they would be trailing bytes).
TEST(Conformance, MQTT_3_1_2_9_FlaggedFieldsMustBePresent) {
  for (V v : kAllVersions) {
    SCOPED_TRACE(VersionName(v));
    EXPECT_EQ(
        Reason(v, Frame(0x10, Concat({ConnectHeader(v, 0x06), Str("c"), WillProps(v), Str("w")}))),
        ReasonCode::kMalformedPacket);  // no Will Payload
    EXPECT_EQ(Reason(v, Frame(0x10, Concat({ConnectHeader(v, 0x06), Str("c")}))),
              ReasonCode::kMalformedPacket);  // no Will at all
    EXPECT_EQ(Reason(v, Frame(0x10, Concat({ConnectHeader(v, 0x82), Str("c")}))),
              ReasonCode::kMalformedPacket);  // no User Name
    EXPECT_EQ(Reason(v, Frame(0x10, Concat({ConnectHeader(v, 0xC2), Str("c"), Str("u")}))),
              ReasonCode::kMalformedPacket);  // no Password
    EXPECT_EQ(Reason(v, Frame(0x10, Concat({ConnectHeader(v, 0x02), Str("c"), Str("u")}))),
              ReasonCode::kMalformedPacket);  // a User Name without its flag
  }
}

// [MQTT-3.1.2-11] (3.1.1: MQTT-3.1.2-13) Will Flag 0: Will QoS must be 0.
TEST(Conformance, MQTT_3_1_2_11_WillQosWithoutWillFlag) {
  for (V v : kAllVersions) {
    for (uint8_t flags : {0x0A, 0x12, 0x1A}) {  // QoS 1, 2, 3 without the Will Flag
      EXPECT_EQ(Reason(v, Frame(0x10, Concat({ConnectHeader(v, flags), Str("c")}))),
                ReasonCode::kMalformedPacket)
          << VersionName(v) << " flags " << int{flags};
    }
  }
}

// [MQTT-3.1.2-12] (3.1.1: MQTT-3.1.2-14) Will Flag 1: Will QoS 3 is not allowed.
TEST(Conformance, MQTT_3_1_2_12_WillQos3) {
  for (V v : kAllVersions) {
    EXPECT_EQ(Reason(v, Frame(0x10, Concat({ConnectHeader(v, 0x1E), Str("c"), WillProps(v),
                                            Str("w"), Str("m")}))),
              ReasonCode::kMalformedPacket)
        << VersionName(v);
    // Will QoS 2 with the Will Flag is fine.
    Packet p;
    const Bytes ok =
        Frame(0x10, Concat({ConnectHeader(v, 0x16), Str("c"), WillProps(v), Str("w"), Str("m")}));
    ASSERT_TRUE(Decode(v, ok, &p).ok()) << VersionName(v);
    EXPECT_EQ(std::get_if<Connect>(&p)->will->qos, Qos::k2);
  }
}

// [MQTT-3.1.2-13] (3.1.1: MQTT-3.1.2-15) Will Flag 0: Will Retain must be 0.
TEST(Conformance, MQTT_3_1_2_13_WillRetainWithoutWillFlag) {
  for (V v : kAllVersions) {
    EXPECT_EQ(Reason(v, Frame(0x10, Concat({ConnectHeader(v, 0x22), Str("c")}))),
              ReasonCode::kMalformedPacket)
        << VersionName(v);
  }
}

// [MQTT-3.1.2-22] of 3.1.1: "If the User Name Flag is set to 0, the Password Flag MUST be set
// to 0." MQTT 5 dropped the rule (§3.1.2.9): a Password alone is valid there.
TEST(Conformance, MQTT_3_1_2_22_V311_PasswordWithoutUserName) {
  for (V v : kV3Versions) {
    EXPECT_EQ(Reason(v, Frame(0x10, Concat({ConnectHeader(v, 0x42), Str("c"), Str("pw")}))),
              ReasonCode::kMalformedPacket)
        << VersionName(v);
  }
  Packet p;
  const Bytes v5 = Frame(0x10, Concat({ConnectHeader(V::kMqtt5, 0x42), Str("c"), Str("pw")}));
  ASSERT_TRUE(Decode(V::kMqtt5, v5, &p).ok());
  const Connect* c = std::get_if<Connect>(&p);
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->username.has_value());
  EXPECT_EQ(c->password, "pw");
}

// §3.1.2.11.10: "It is a Protocol Error to include Authentication Data if there is no
// Authentication Method."
TEST(Conformance, ConnectAuthenticationDataWithoutMethod) {
  const Bytes props = {0x04, 0x16, 0x00, 0x01, 'd'};
  EXPECT_EQ(Reason(V::kMqtt5,
                   Frame(0x10, Concat({Str("MQTT"), {0x05, 0x02, 0x00, 0x00}, props, Str("c")}))),
            ReasonCode::kProtocolError);
}

// [MQTT-3.1.3-3] The Client Identifier is always present.
TEST(Conformance, MQTT_3_1_3_3_ClientIdentifierMissing) {
  for (V v : kAllVersions) {
    EXPECT_EQ(Reason(v, Frame(0x10, ConnectHeader(v, 0x02))), ReasonCode::kMalformedPacket)
        << VersionName(v);
  }
}

// [MQTT-3.1.3-4] The Client Identifier is a UTF-8 string.
TEST(Conformance, MQTT_3_1_3_4_ClientIdentifierUtf8) {
  for (V v : kAllVersions) {
    for (std::string_view bad : kIllFormed) {
      EXPECT_EQ(Reason(v, Frame(0x10, Concat({ConnectHeader(v, 0x02), Str(bad)}))),
                ReasonCode::kMalformedPacket)
          << VersionName(v);
    }
  }
}

// [MQTT-3.1.3-11] (3.1.1: MQTT-3.1.3-10) The Will Topic is a UTF-8 string; being a Topic Name
// it is also non-empty and wildcard-free [MQTT-4.7.3-1], [MQTT-3.3.2-2].
TEST(Conformance, MQTT_3_1_3_11_WillTopic) {
  for (V v : kAllVersions) {
    for (std::string_view bad : {"\xED\xA0\x80", "\xC0\xAF", "", "a/+", "#"}) {
      EXPECT_EQ(Reason(v, Frame(0x10, Concat({ConnectHeader(v, 0x06), Str("c"), WillProps(v),
                                              Str(bad), Str("m")}))),
                ReasonCode::kMalformedPacket)
          << VersionName(v) << " " << testing::PrintToString(std::string(bad));
    }
  }
}

// [MQTT-3.1.3-12] (3.1.1: MQTT-3.1.3-11) The User Name is a UTF-8 string; the Password is
// Binary Data and may hold any bytes.
TEST(Conformance, MQTT_3_1_3_12_UserName) {
  for (V v : kAllVersions) {
    for (std::string_view bad : kIllFormed) {
      EXPECT_EQ(
          Reason(v, Frame(0x10, Concat({ConnectHeader(v, 0xC2), Str("c"), Str(bad), Str("p")}))),
          ReasonCode::kMalformedPacket)
          << VersionName(v);
    }
    Packet p;
    const Bytes binary_password =
        Frame(0x10, Concat({ConnectHeader(v, 0xC2), Str("c"), Str("u"),
                            Str(std::string_view("\xED\xA0\x80\x00\xFF", 5))}));
    ASSERT_TRUE(Decode(v, binary_password, &p).ok()) << VersionName(v);
    EXPECT_EQ(std::get_if<Connect>(&p)->password, std::string_view("\xED\xA0\x80\x00\xFF", 5));
  }
}

// ---- 3.2 CONNACK ---------------------------------------------------------------------------

// [MQTT-3.2.2-1] Bits 7-1 of the Connect Acknowledge Flags are reserved and must be 0.
TEST(Conformance, MQTT_3_2_2_1_ConnackReservedFlags) {
  for (uint8_t flags : {0x02, 0x80, 0xFE, 0x03}) {
    for (V v : kV3Versions) {
      EXPECT_EQ(Reason(v, Frame(0x20, {flags, 0x00})), ReasonCode::kMalformedPacket);
    }
    EXPECT_EQ(Reason(V::kMqtt5, Frame(0x20, {flags, 0x00, 0x00})), ReasonCode::kMalformedPacket);
  }
}

// [MQTT-3.2.2-6] (3.1.1: MQTT-3.2.2-4) A CONNACK with a failure code has Session Present 0.
TEST(Conformance, MQTT_3_2_2_6_SessionPresentWithFailure) {
  EXPECT_EQ(Reason(V::kMqtt5, Frame(0x20, {0x01, 0x87, 0x00})), ReasonCode::kProtocolError);
  EXPECT_EQ(Reason(V::kMqtt311, Frame(0x20, {0x01, 0x05})), ReasonCode::kProtocolError);
  Packet p;
  ASSERT_TRUE(Decode(V::kMqtt5, Frame(0x20, {0x01, 0x00, 0x00}), &p).ok());
  EXPECT_TRUE(std::get_if<Connack>(&p)->session_present);
}

// A 3.x server answers a 5.0 CONNECT with a 3.x CONNACK (no properties, return code 1);
// the decoder reads that as the 3.x code it is.
TEST(Conformance, V3ConnackOnAV5Connection) {
  Packet p;
  ASSERT_TRUE(Decode(V::kMqtt5, Frame(0x20, {0x00, 0x01}), &p).ok());
  EXPECT_EQ(std::get_if<Connack>(&p)->reason, ReasonCode::kUnsupportedProtocolVersion);
}

// ---- 3.3 PUBLISH ---------------------------------------------------------------------------

// [MQTT-3.3.1-2] DUP must be 0 for QoS 0.
TEST(Conformance, MQTT_3_3_1_2_DupOnQos0) {
  for (V v : kAllVersions) {
    EXPECT_EQ(Reason(v, Frame(0x38, Concat({Str("t"), NoProps(v)}))), ReasonCode::kMalformedPacket);
    EXPECT_EQ(Reason(v, Frame(0x39, Concat({Str("t"), NoProps(v)}))),
              ReasonCode::kMalformedPacket);  // with RETAIN
  }
}

// [MQTT-3.3.1-4] Both QoS bits set (QoS 3) is malformed.
TEST(Conformance, MQTT_3_3_1_4_Qos3) {
  for (V v : kAllVersions) {
    for (uint8_t first : {0x36, 0x37, 0x3E, 0x3F}) {
      EXPECT_EQ(Reason(v, Frame(first, Concat({Str("t"), {0x00, 0x01}, NoProps(v)}))),
                ReasonCode::kMalformedPacket)
          << VersionName(v) << " " << int{first};
    }
  }
}

// [MQTT-3.3.2-1] The Topic Name is a UTF-8 string, and is the first field.
TEST(Conformance, MQTT_3_3_2_1_TopicNameUtf8) {
  for (V v : kAllVersions) {
    for (std::string_view bad : kIllFormed) {
      EXPECT_EQ(Reason(v, Frame(0x30, Concat({Str(bad), NoProps(v)}))),
                ReasonCode::kMalformedPacket);
    }
    // A Topic Name length running past the packet.
    EXPECT_EQ(Reason(v, Frame(0x30, {0x00, 0x05, 'a', 'b'})), ReasonCode::kMalformedPacket);
  }
}

// [MQTT-3.3.2-2] (and [MQTT-4.7.0-1]) The Topic Name holds no wildcard characters.
TEST(Conformance, MQTT_3_3_2_2_WildcardInTopicName) {
  for (V v : kAllVersions) {
    for (std::string_view topic : {"+", "#", "a/+", "a/#", "sport/+/player1", "a+b", "#/a"}) {
      EXPECT_EQ(Reason(v, Frame(0x30, Concat({Str(topic), NoProps(v)}))),
                ReasonCode::kMalformedPacket)
          << VersionName(v) << " " << topic;
    }
  }
}

// An empty Topic Name: malformed in 3.x ([MQTT-4.7.3-1]); in 5.0 a Protocol Error unless a
// Topic Alias stands for it (§3.3.2.1).
TEST(Conformance, EmptyTopicName) {
  for (V v : kV3Versions) {
    EXPECT_EQ(Reason(v, Frame(0x30, Str(""))), ReasonCode::kMalformedPacket);
  }
  EXPECT_EQ(Reason(V::kMqtt5, Frame(0x30, Concat({Str(""), {0x00}}))), ReasonCode::kProtocolError);
  Packet p;
  const Bytes with_alias = Frame(0x30, Concat({Str(""), {0x03, 0x23, 0x00, 0x02}, {'x'}}));
  ASSERT_TRUE(Decode(V::kMqtt5, with_alias, &p).ok());
  const Publish* pub = std::get_if<Publish>(&p);
  ASSERT_NE(pub, nullptr);
  EXPECT_TRUE(pub->topic.empty());
  EXPECT_EQ(pub->properties.topic_alias, 2);
  EXPECT_EQ(pub->payload, "x");
}

// [MQTT-3.3.2-8] Topic Alias 0 is not allowed: Topic Alias invalid (0x94).
TEST(Conformance, MQTT_3_3_2_8_TopicAliasZero) {
  EXPECT_EQ(Reason(V::kMqtt5, Frame(0x30, Concat({Str("t"), {0x03, 0x23, 0x00, 0x00}}))),
            ReasonCode::kTopicAliasInvalid);
  EXPECT_EQ(Reason(V::kMqtt5, Frame(0x30, Concat({Str(""), {0x03, 0x23, 0x00, 0x00}}))),
            ReasonCode::kTopicAliasInvalid);
}

// [MQTT-3.3.2-13], [MQTT-3.3.2-14] The Response Topic is a UTF-8 string without wildcards.
TEST(Conformance, MQTT_3_3_2_14_ResponseTopicWildcard) {
  EXPECT_EQ(Reason(V::kMqtt5, Frame(0x30, Concat({Str("t"), {0x06, 0x08}, Str("r/#")}))),
            ReasonCode::kMalformedPacket);
  EXPECT_EQ(Reason(V::kMqtt5, Frame(0x30, Concat({Str("t"), {0x06, 0x08}, Str("\xED\xA0\x80")}))),
            ReasonCode::kMalformedPacket);
  Packet p;
  const Bytes ok = Frame(0x30, Concat({Str("t"), {0x06, 0x08}, Str("r/1")}));
  ASSERT_TRUE(Decode(V::kMqtt5, ok, &p).ok());
  EXPECT_EQ(std::get_if<Publish>(&p)->properties.response_topic, "r/1");
}

// ---- 3.4-3.7 PUBACK, PUBREC, PUBREL, PUBCOMP -----------------------------------------------

// [MQTT-3.6.1-1] PUBREL fixed-header flags are 0010. MQTT 3.1 sets DUP on a PUBREL sent again
// (1010): accepted for protocol level 3 only.
TEST(Conformance, MQTT_3_6_1_1_PubrelFlags) {
  for (V v : kAllVersions) {
    for (uint8_t first : {0x60, 0x61, 0x63, 0x66, 0x6F}) {
      EXPECT_EQ(Reason(v, Frame(first, {0x00, 0x01})), ReasonCode::kMalformedPacket);
    }
    EXPECT_EQ(Reason(v, Frame(0x62, {0x00, 0x01})), ReasonCode::kSuccess);
    EXPECT_EQ(Reason(v, Frame(0x6A, {0x00, 0x01})),
              v == V::kMqtt31 ? ReasonCode::kSuccess : ReasonCode::kMalformedPacket)
        << VersionName(v);
  }
}

// ---- 3.8 SUBSCRIBE -------------------------------------------------------------------------

// [MQTT-3.8.1-1] SUBSCRIBE fixed-header flags are 0010.
TEST(Conformance, MQTT_3_8_1_1_SubscribeFlags) {
  for (V v : kAllVersions) {
    for (uint8_t first : {0x80, 0x81, 0x83}) {
      EXPECT_EQ(Reason(v, Frame(first, MinimalBody(v, PacketType::kSubscribe))),
                ReasonCode::kMalformedPacket);
    }
    // DUP on a resend: valid in MQTT 3.1 only (see MQTT_2_1_3_1_ReservedFlagsMustMatch).
    EXPECT_EQ(Reason(v, Frame(0x8A, MinimalBody(v, PacketType::kSubscribe))),
              v == V::kMqtt31 ? ReasonCode::kSuccess : ReasonCode::kMalformedPacket);
  }
}

// [MQTT-3.8.3-1] Topic Filters are UTF-8 strings.
TEST(Conformance, MQTT_3_8_3_1_SubscribeFilterUtf8) {
  for (V v : kAllVersions) {
    for (std::string_view bad : kIllFormed) {
      EXPECT_EQ(
          Reason(v, Frame(0x82,
                          Concat({{0x00, 0x01}, NoProps(v), Str("ok"), {0x00}, Str(bad), {0x01}}))),
          ReasonCode::kMalformedPacket);
    }
  }
}

// [MQTT-3.8.3-2] (3.1.1: MQTT-3.8.3-3) At least one Topic Filter: an empty SUBSCRIBE is a
// Protocol Error.
TEST(Conformance, MQTT_3_8_3_2_EmptySubscribe) {
  for (V v : kAllVersions) {
    EXPECT_EQ(Reason(v, Frame(0x82, Concat({{0x00, 0x01}, NoProps(v)}))),
              ReasonCode::kProtocolError)
        << VersionName(v);
  }
  // Properties but no filter.
  EXPECT_EQ(Reason(V::kMqtt5, Frame(0x82, {0x00, 0x01, 0x02, 0x0B, 0x01})),
            ReasonCode::kProtocolError);
  // A truncated pair (filter without options) is malformed.
  EXPECT_EQ(Reason(V::kMqtt311, Frame(0x82, Concat({{0x00, 0x01}, Str("a")}))),
            ReasonCode::kMalformedPacket);
}

// [MQTT-3.8.3-4] No Local = 1 on a Shared Subscription is a Protocol Error.
TEST(Conformance, MQTT_3_8_3_4_NoLocalOnSharedSubscription) {
  EXPECT_EQ(Reason(V::kMqtt5, Frame(0x82, Concat({{0x00, 0x01, 0x00}, Str("$share/g/a"), {0x04}}))),
            ReasonCode::kProtocolError);
  Packet p;
  const Bytes non_shared = Frame(0x82, Concat({{0x00, 0x01, 0x00}, Str("a"), {0x04}}));
  ASSERT_TRUE(Decode(V::kMqtt5, non_shared, &p).ok());
  EXPECT_TRUE(std::get_if<Subscribe>(&p)->subscriptions[0].options.no_local);
  const Bytes shared = Frame(0x82, Concat({{0x00, 0x01, 0x00}, Str("$share/g/a"), {0x01}}));
  ASSERT_TRUE(Decode(V::kMqtt5, shared, &p).ok());
}

// [MQTT-3.8.3-5] Reserved bits 7-6 of the Subscription Options must be 0. In 3.1.1 every bit
// above the QoS is reserved [MQTT-3-8.3-4 (3.1.1)].
TEST(Conformance, MQTT_3_8_3_5_ReservedSubscriptionOptionBits) {
  for (uint8_t opts : {0x40, 0x80, 0xC0, 0x41}) {
    EXPECT_EQ(Reason(V::kMqtt5, Frame(0x82, Concat({{0x00, 0x01, 0x00}, Str("a"), {opts}}))),
              ReasonCode::kMalformedPacket)
        << int{opts};
  }
  for (V v : kV3Versions) {
    for (uint8_t opts : {0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x2C}) {
      EXPECT_EQ(Reason(v, Frame(0x82, Concat({{0x00, 0x01}, Str("a"), {opts}}))),
                ReasonCode::kMalformedPacket)
          << VersionName(v) << " " << int{opts};
    }
  }
}

// §3.8.3.1: "It is a Protocol Error if the Maximum QoS field has the value 3." In 3.1.1 a
// requested QoS of 3 is malformed [MQTT-3-8.3-4 (3.1.1)].
TEST(Conformance, SubscriptionQos3) {
  EXPECT_EQ(Reason(V::kMqtt5, Frame(0x82, Concat({{0x00, 0x01, 0x00}, Str("a"), {0x03}}))),
            ReasonCode::kProtocolError);
  for (V v : kV3Versions) {
    EXPECT_EQ(Reason(v, Frame(0x82, Concat({{0x00, 0x01}, Str("a"), {0x03}}))),
              ReasonCode::kMalformedPacket);
  }
}

// §3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3."
TEST(Conformance, SubscriptionRetainHandling3) {
  EXPECT_EQ(Reason(V::kMqtt5, Frame(0x82, Concat({{0x00, 0x01, 0x00}, Str("a"), {0x30}}))),
            ReasonCode::kProtocolError);
  Packet p;
  const Bytes rh2 = Frame(0x82, Concat({{0x00, 0x01, 0x00}, Str("a"), {0x2D}}));
  ASSERT_TRUE(Decode(V::kMqtt5, rh2, &p).ok());
  const SubscriptionOptions& o = std::get_if<Subscribe>(&p)->subscriptions[0].options;
  EXPECT_EQ(o.retain_handling, RetainHandling::kDoNotSend);
  EXPECT_EQ(o.max_qos, Qos::k1);
  EXPECT_TRUE(o.no_local);
  EXPECT_TRUE(o.retain_as_published);
}

// ---- 3.9 SUBACK ----------------------------------------------------------------------------

// [MQTT-3.9.3-2] Only codes of the SUBACK table; in 3.1.1 only 0x00, 0x01, 0x02 and 0x80.
// A SUBACK needs one code per filter [MQTT-3.8.4-6], so none at all is a Protocol Error.
TEST(Conformance, MQTT_3_9_3_2_SubackCodes) {
  for (V v : kV3Versions) {
    for (int code = 0; code < 256; ++code) {
      const bool valid = code <= 2 || code == 0x80;
      const ReasonCode got = Reason(v, Frame(0x90, {0x00, 0x01, static_cast<uint8_t>(code)}));
      EXPECT_EQ(got, valid ? ReasonCode::kSuccess : ReasonCode::kProtocolError) << code;
    }
    EXPECT_EQ(Reason(v, Frame(0x90, {0x00, 0x01})), ReasonCode::kProtocolError);
  }
  EXPECT_EQ(Reason(V::kMqtt5, Frame(0x90, {0x00, 0x01, 0x00})), ReasonCode::kProtocolError);
}

// ---- 3.10 UNSUBSCRIBE, 3.11 UNSUBACK -------------------------------------------------------

// [MQTT-3.10.1-1] UNSUBSCRIBE fixed-header flags are 0010.
TEST(Conformance, MQTT_3_10_1_1_UnsubscribeFlags) {
  for (V v : kAllVersions) {
    for (uint8_t first : {0xA0, 0xA1, 0xA3}) {
      EXPECT_EQ(Reason(v, Frame(first, MinimalBody(v, PacketType::kUnsubscribe))),
                ReasonCode::kMalformedPacket);
    }
    // DUP on a resend: valid in MQTT 3.1 only (see MQTT_2_1_3_1_ReservedFlagsMustMatch).
    EXPECT_EQ(Reason(v, Frame(0xAA, MinimalBody(v, PacketType::kUnsubscribe))),
              v == V::kMqtt31 ? ReasonCode::kSuccess : ReasonCode::kMalformedPacket);
  }
}

// [MQTT-3.10.3-1] UNSUBSCRIBE Topic Filters are UTF-8 strings.
TEST(Conformance, MQTT_3_10_3_1_UnsubscribeFilterUtf8) {
  for (V v : kAllVersions) {
    for (std::string_view bad : kIllFormed) {
      EXPECT_EQ(Reason(v, Frame(0xA2, Concat({{0x00, 0x01}, NoProps(v), Str("a"), Str(bad)}))),
                ReasonCode::kMalformedPacket);
    }
  }
}

// [MQTT-3.10.3-2] At least one Topic Filter.
TEST(Conformance, MQTT_3_10_3_2_EmptyUnsubscribe) {
  for (V v : kAllVersions) {
    EXPECT_EQ(Reason(v, Frame(0xA2, Concat({{0x00, 0x01}, NoProps(v)}))),
              ReasonCode::kProtocolError);
  }
}

// [MQTT-3.11.3-1] One UNSUBACK reason code per filter: a 5.0 UNSUBACK without any is a
// Protocol Error.
TEST(Conformance, MQTT_3_11_3_1_UnsubackWithoutReasonCodes) {
  EXPECT_EQ(Reason(V::kMqtt5, Frame(0xB0, {0x00, 0x01, 0x00})), ReasonCode::kProtocolError);
}

// ---- 3.14 DISCONNECT, 3.15 AUTH ------------------------------------------------------------

// [MQTT-3.14.1-1] DISCONNECT reserved flags are 0000.
TEST(Conformance, MQTT_3_14_1_1_DisconnectFlags) {
  for (V v : kAllVersions) {
    for (uint8_t first : {0xE1, 0xE2, 0xE8, 0xEF}) {
      EXPECT_EQ(Reason(v, Frame(first, {})), ReasonCode::kMalformedPacket);
    }
  }
}

// [MQTT-3.15.1-1] AUTH reserved flags are 0000.
TEST(Conformance, MQTT_3_15_1_1_AuthFlags) {
  for (uint8_t first : {0xF1, 0xF2, 0xF4, 0xF8, 0xFF}) {
    EXPECT_EQ(Reason(V::kMqtt5, Frame(first, {})), ReasonCode::kMalformedPacket);
  }
}

// Packet type 15 is reserved before MQTT 5 (3.1.1 §2.2.1): AUTH on a 3.x connection is
// malformed.
TEST(Conformance, AuthBeforeMqtt5IsMalformed) {
  for (V v : kV3Versions) {
    EXPECT_EQ(Reason(v, Frame(0xF0, {})), ReasonCode::kMalformedPacket);
    EXPECT_EQ(Reason(v, Frame(0xF0, {0x18, 0x00})), ReasonCode::kMalformedPacket);
  }
}

// ---- 4.7 and 4.8 Topic filters in SUBSCRIBE and UNSUBSCRIBE --------------------------------

void ExpectFilterRejected(std::string_view filter) {
  for (V v : kAllVersions) {
    EXPECT_EQ(Reason(v, Frame(0x82, Concat({{0x00, 0x01}, NoProps(v), Str(filter), {0x00}}))),
              ReasonCode::kMalformedPacket)
        << "SUBSCRIBE " << VersionName(v) << " '" << filter << "'";
    EXPECT_EQ(Reason(v, Frame(0xA2, Concat({{0x00, 0x01}, NoProps(v), Str(filter)}))),
              ReasonCode::kMalformedPacket)
        << "UNSUBSCRIBE " << VersionName(v) << " '" << filter << "'";
  }
}

// [MQTT-4.7.1-1] (3.1.1: MQTT-4.7.1-2) '#' alone in the last level.
TEST(Conformance, MQTT_4_7_1_1_MultiLevelWildcardPlacement) {
  for (std::string_view f : {"a#", "a/#/b", "#/", "sport/tennis#", "##"}) {
    ExpectFilterRejected(f);
  }
}

// [MQTT-4.7.1-2] (3.1.1: MQTT-4.7.1-3) '+' fills a whole level.
TEST(Conformance, MQTT_4_7_1_2_SingleLevelWildcardPlacement) {
  for (std::string_view f : {"a+", "+a", "sport+", "a/b+/c", "++"}) {
    ExpectFilterRejected(f);
  }
}

// [MQTT-4.7.3-1] Topic Filters are at least one character long.
TEST(Conformance, MQTT_4_7_3_1_EmptyTopicFilter) {
  ExpectFilterRejected("");
}

// [MQTT-4.7.3-2] No U+0000 in Topic Names or Filters.
TEST(Conformance, MQTT_4_7_3_2_NulInTopic) {
  ExpectFilterRejected(std::string_view("a/\0", 3));
  for (V v : kAllVersions) {
    EXPECT_EQ(Reason(v, Frame(0x30, Concat({Str(std::string_view("\0", 1)), NoProps(v)}))),
              ReasonCode::kMalformedPacket);
  }
}

// [MQTT-4.8.2-1] A ShareName of at least one character follows "$share/".
TEST(Conformance, MQTT_4_8_2_1_EmptyShareName) {
  for (std::string_view f : {"$share//a", "$share/"}) {
    ExpectFilterRejected(f);
  }
}

// [MQTT-4.8.2-2] The ShareName has no '/', '+' or '#' and is followed by '/' and a filter.
TEST(Conformance, MQTT_4_8_2_2_BadShareNameOrNoFilter) {
  for (std::string_view f :
       {"$share/g+/a", "$share/#/a", "$share/group", "$share/group/", "$share/g/a#"}) {
    ExpectFilterRejected(f);
  }
  Packet p;
  const Bytes ok = Frame(0x82, Concat({{0x00, 0x01, 0x00}, Str("$share/g/a/+"), {0x01}}));
  ASSERT_TRUE(Decode(V::kMqtt5, ok, &p).ok());
}

// ---- Trailing bytes ------------------------------------------------------------------------

// Bytes after the last field of a packet with a fixed layout are malformed.
TEST(Conformance, TrailingBytesAreMalformed) {
  struct Case {
    V v;
    Bytes wire;
  };
  const Case kCases[] = {
      {V::kMqtt311, Frame(0x10, Concat({ConnectHeader(V::kMqtt311, 0x02), Str("c"), {0x00}}))},
      {V::kMqtt5, Frame(0x10, Concat({ConnectHeader(V::kMqtt5, 0x02), Str("c"), {0x00}}))},
      {V::kMqtt311, Frame(0x20, {0x00, 0x00, 0x00})},
      {V::kMqtt5, Frame(0x20, {0x00, 0x00, 0x00, 0x00})},
      {V::kMqtt311, Frame(0x40, {0x00, 0x01, 0x00})},
      {V::kMqtt31, Frame(0x50, {0x00, 0x01, 0x00})},
      {V::kMqtt311, Frame(0x62, {0x00, 0x01, 0x00})},
      {V::kMqtt311, Frame(0x70, {0x00, 0x01, 0x00})},
      {V::kMqtt5, Frame(0x40, {0x00, 0x01, 0x00, 0x00, 0x00})},
      // An empty Reason String, then one byte past the properties.
      {V::kMqtt5, Frame(0x40, {0x00, 0x01, 0x00, 0x03, 0x1F, 0x00, 0x00, 0x00})},
      {V::kMqtt311, Frame(0xB0, {0x00, 0x01, 0x00})},
      {V::kMqtt311, Frame(0xC0, {0x00})},
      {V::kMqtt5, Frame(0xD0, {0x00})},
      {V::kMqtt311, Frame(0xE0, {0x00})},
      {V::kMqtt5, Frame(0xE0, {0x00, 0x00, 0x00})},
      {V::kMqtt5, Frame(0xF0, {0x18, 0x00, 0x00})},
  };
  for (const Case& c : kCases) {
    Packet p;
    EXPECT_EQ(Decode(c.v, c.wire, &p).reason, ReasonCode::kMalformedPacket)
        << VersionName(c.v) << " " << testing::PrintToString(c.wire);
  }
}

// ---- Truncation at every byte position -----------------------------------------------------

struct TruncationCase {
  const char* name;
  V v;
  Bytes wire;                       // a valid packet with a one-byte Remaining Length
  std::set<size_t> valid_prefixes;  // body lengths that are themselves a valid short form
};

std::vector<TruncationCase> TruncationCases() {
  const Bytes v5_connect =
      Frame(0x10, Concat({Str("MQTT"),
                          {0x05, 0xEE, 0x00, 0x3C},
                          {0x05, 0x11, 0x00, 0x00, 0x00, 0x0A},  // Session Expiry Interval 10
                          Str("client"),
                          {0x02, 0x01, 0x01},  // Will Properties: Payload Format Indicator 1
                          Str("will/t"),
                          Str("bye"),
                          Str("user"),
                          Str("pass")}));
  const Bytes v311_connect = Frame(0x10, Concat({Str("MQTT"),
                                                 {0x04, 0xEE, 0x00, 0x3C},
                                                 Str("client"),
                                                 Str("will/t"),
                                                 Str("bye"),
                                                 Str("user"),
                                                 Str("pass")}));
  const Bytes v31_connect = Frame(0x10, Concat({Str("MQIsdp"),
                                                {0x03, 0xCE, 0x00, 0x3C},
                                                Str("client"),
                                                Str("w"),
                                                Str("m"),
                                                Str("u"),
                                                Str("p")}));
  const Bytes reason_string = {0x04, 0x1F, 0x00, 0x01, 'r'};
  return {
      {"Connect31", V::kMqtt31, v31_connect, {}},
      {"Connect311", V::kMqtt311, v311_connect, {}},
      {"Connect5", V::kMqtt5, v5_connect, {}},
      {"Connack311", V::kMqtt311, Frame(0x20, {0x01, 0x00}), {}},
      // A 5.0 CONNACK without its Property Length is tolerated (2 bytes).
      {"Connack5", V::kMqtt5, Frame(0x20, Concat({{0x00, 0x87}, reason_string})), {2}},
      {"Publish311Qos1", V::kMqtt311, Frame(0x32, Concat({Str("a/b"), {0x00, 0x07}})), {}},
      {"Publish5Qos2",
       V::kMqtt5,
       Frame(0x34, Concat({Str("a/b"), {0x00, 0x07}, {0x06, 0x23, 0x00, 0x01, 0x0B, 0x80, 0x01}})),
       {}},
      {"Puback311", V::kMqtt311, Frame(0x40, {0x00, 0x07}), {}},
      // 5.0 acks: Remaining Length 2 (id) and 3 (id + reason) are valid short forms.
      {"Puback5", V::kMqtt5, Frame(0x40, Concat({{0x00, 0x07, 0x10}, reason_string})), {2, 3}},
      {"Pubrec5", V::kMqtt5, Frame(0x50, Concat({{0x00, 0x07, 0x80}, reason_string})), {2, 3}},
      {"Pubrel5", V::kMqtt5, Frame(0x62, Concat({{0x00, 0x07, 0x92}, reason_string})), {2, 3}},
      {"Pubcomp5", V::kMqtt5, Frame(0x70, Concat({{0x00, 0x07, 0x92}, reason_string})), {2, 3}},
      {"Subscribe311", V::kMqtt311, Frame(0x82, Concat({{0x00, 0x07}, Str("a/+"), {0x01}})), {}},
      {"Subscribe5",
       V::kMqtt5,
       Frame(0x82, Concat({{0x00, 0x07, 0x02, 0x0B, 0x05}, Str("a/+"), {0x2A}})),
       {}},
      {"Suback311", V::kMqtt311, Frame(0x90, {0x00, 0x07, 0x80}), {}},
      {"Suback5", V::kMqtt5, Frame(0x90, Concat({{0x00, 0x07}, reason_string, {0x01}})), {}},
      {"Unsubscribe311", V::kMqtt311, Frame(0xA2, Concat({{0x00, 0x07}, Str("a/+")})), {}},
      {"Unsubscribe5",
       V::kMqtt5,
       Frame(0xA2, Concat({{0x00, 0x07, 0x07, 0x26}, Str("k"), Str("v"), Str("a/+")})),
       {}},
      {"Unsuback311", V::kMqtt311, Frame(0xB0, {0x00, 0x07}), {}},
      {"Unsuback5", V::kMqtt5, Frame(0xB0, Concat({{0x00, 0x07}, reason_string, {0x11}})), {}},
      // DISCONNECT: Remaining Length 0 and 1 are valid (§3.14.2.1, §3.14.2.2.1).
      {"Disconnect5", V::kMqtt5, Frame(0xE0, Concat({{0x8B}, reason_string})), {0, 1}},
      // AUTH: Remaining Length 0 is valid; the decoder also tolerates a lone reason code.
      {"Auth5", V::kMqtt5, Frame(0xF0, {0x18, 0x04, 0x15, 0x00, 0x01, 'm'}), {0, 1}},
  };
}

// Every prefix of a valid packet's body, framed with a Remaining Length that matches the
// shorter body, must be rejected (unless it is a valid short form), and must never crash.
TEST(Conformance, TruncatedAtEveryBytePosition) {
  for (const TruncationCase& c : TruncationCases()) {
    SCOPED_TRACE(c.name);
    Packet full;
    ASSERT_TRUE(Decode(c.v, c.wire, &full).ok()) << "the full packet must be valid";
    ASSERT_LT(c.wire[1], 0x80);
    const Bytes body(c.wire.begin() + 2, c.wire.end());
    for (size_t len = 0; len < body.size(); ++len) {
      const Bytes truncated =
          Frame(c.wire[0], Bytes(body.begin(), body.begin() + static_cast<long>(len)));
      Packet p;
      DecodeStatus s = Decode(c.v, truncated, &p);
      if (c.valid_prefixes.count(len) == 1) {
        EXPECT_TRUE(s.ok()) << "body of " << len << " bytes: " << s.detail;
      } else {
        EXPECT_FALSE(s.ok()) << "body of " << len << " bytes was accepted";
      }
    }
  }
}

// The whole packet cut short without fixing the Remaining Length is also rejected.
TEST(Conformance, CutShortWithoutFixingRemainingLength) {
  for (const TruncationCase& c : TruncationCases()) {
    for (size_t len = 0; len < c.wire.size(); ++len) {
      Packet p;
      const Bytes cut(c.wire.begin(), c.wire.begin() + static_cast<long>(len));
      EXPECT_FALSE(Decode(c.v, cut, &p).ok()) << c.name << " cut to " << len;
    }
  }
}

// ---- Reason code tables --------------------------------------------------------------------

// The reason-code tables of MQTT 5, written out from §3.2.2.2 (CONNACK), §3.4.2.1 (PUBACK),
// §3.5.2.1 (PUBREC), §3.6.2.1 (PUBREL), §3.7.2.1 (PUBCOMP), §3.9.3 (SUBACK), §3.11.3
// (UNSUBACK), §3.14.2.1 (DISCONNECT) and §3.15.2.1 (AUTH).
std::set<int> SpecTable(PacketType t) {
  switch (t) {
    case PacketType::kConnack:
      return {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
              0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
    case PacketType::kPuback:
    case PacketType::kPubrec:
      return {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
    case PacketType::kPubrel:
    case PacketType::kPubcomp:
      return {0x00, 0x92};
    case PacketType::kSuback:
      return {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
    case PacketType::kUnsuback:
      return {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
    case PacketType::kDisconnect:
      return {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8C,
              0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
              0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
    case PacketType::kAuth:
      return {0x00, 0x18, 0x19};
    default:
      return {};  // CONNECT, PUBLISH, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, PINGRESP carry none
  }
}

TEST(ReasonCodeTable, IsValidReasonCodeMatchesTheSpecTables) {
  for (int type = 0; type < 16; ++type) {
    const auto t = static_cast<PacketType>(type);
    const std::set<int> table = SpecTable(t);
    for (int code = 0; code < 256; ++code) {
      EXPECT_EQ(IsValidReasonCode(t, static_cast<ReasonCode>(code)), table.count(code) == 1)
          << PacketTypeName(t) << " code " << code;
    }
  }
}

// Decoding enforces the same tables: a code outside the packet's table is a Protocol Error
// [MQTT-3.2.2-8], [MQTT-3.4.2-1], [MQTT-3.5.2-1], [MQTT-3.6.2-1], [MQTT-3.7.2-1],
// [MQTT-3.9.3-2], [MQTT-3.11.3-2], [MQTT-3.14.2-1], [MQTT-3.15.2-1].
TEST(ReasonCodeTable, DecoderRejectsCodesOutsideThePacketsTable) {
  for (int code = 0; code < 256; ++code) {
    const auto c = static_cast<uint8_t>(code);
    struct Probe {
      PacketType type;
      Bytes wire;
    };
    const Probe probes[] = {
        {PacketType::kConnack, Frame(0x20, {0x00, c, 0x00})},
        {PacketType::kPuback, Frame(0x40, {0x00, 0x01, c, 0x00})},
        {PacketType::kPuback, Frame(0x40, {0x00, 0x01, c})},
        {PacketType::kPubrec, Frame(0x50, {0x00, 0x01, c, 0x00})},
        {PacketType::kPubrel, Frame(0x62, {0x00, 0x01, c, 0x00})},
        {PacketType::kPubcomp, Frame(0x70, {0x00, 0x01, c})},
        {PacketType::kSuback, Frame(0x90, {0x00, 0x01, 0x00, 0x00, c})},
        {PacketType::kUnsuback, Frame(0xB0, {0x00, 0x01, 0x00, c})},
        {PacketType::kDisconnect, Frame(0xE0, {c, 0x00})},
        {PacketType::kDisconnect, Frame(0xE0, {c})},
        {PacketType::kAuth, Frame(0xF0, {c, 0x00})},
    };
    for (const Probe& probe : probes) {
      const bool valid = SpecTable(probe.type).count(code) == 1;
      EXPECT_EQ(Reason(V::kMqtt5, probe.wire),
                valid ? ReasonCode::kSuccess : ReasonCode::kProtocolError)
          << PacketTypeName(probe.type) << " code " << code;
    }
  }
}

// 3.x CONNACK return codes are 0..5 (3.1.1 §3.2.2.3, Table 3.1); anything else is refused.
TEST(ReasonCodeTable, V3ConnackReturnCodes) {
  const ReasonCode kMeaning[] = {
      ReasonCode::kSuccess,
      ReasonCode::kUnsupportedProtocolVersion,
      ReasonCode::kClientIdentifierNotValid,
      ReasonCode::kServerUnavailable,
      ReasonCode::kBadUserNameOrPassword,
      ReasonCode::kNotAuthorized,
  };
  for (int code = 0; code < 256; ++code) {
    ReasonCode rc = ReasonCode::kImplementationSpecificError;
    const bool known = FromV3ConnackCode(static_cast<uint8_t>(code), &rc);
    EXPECT_EQ(known, code <= 5) << code;
    if (code <= 5) {
      EXPECT_EQ(rc, kMeaning[code]);
      EXPECT_EQ(static_cast<int>(ToV3ConnackCode(rc)), code);  // and back
    }
    Packet p;
    const DecodeStatus s = Decode(V::kMqtt311, Frame(0x20, {0x00, static_cast<uint8_t>(code)}), &p);
    EXPECT_EQ(s.ok(), code <= 5) << code;
    if (code <= 5) {
      EXPECT_EQ(std::get_if<Connack>(&p)->reason, kMeaning[code]);
    }
  }
}

// Every CONNACK reason of MQTT 5 maps to one of the six 3.x return codes, the nearest in
// meaning; codes with no equivalent become "Server unavailable" (3).
TEST(ReasonCodeTable, ToV3ConnackCodeCoversTheConnackTable) {
  for (int code : SpecTable(PacketType::kConnack)) {
    const auto rc = static_cast<ReasonCode>(code);
    const V3ConnackCode v3 = ToV3ConnackCode(rc);
    EXPECT_LE(static_cast<int>(v3), 5) << code;
    EXPECT_EQ(v3 == V3ConnackCode::kAccepted, rc == ReasonCode::kSuccess) << code;
  }
  EXPECT_EQ(ToV3ConnackCode(ReasonCode::kBanned), V3ConnackCode::kNotAuthorized);
  EXPECT_EQ(ToV3ConnackCode(ReasonCode::kBadAuthenticationMethod),
            V3ConnackCode::kBadUserNameOrPassword);
  EXPECT_EQ(ToV3ConnackCode(ReasonCode::kServerBusy), V3ConnackCode::kServerUnavailable);
  EXPECT_EQ(ToV3ConnackCode(ReasonCode::kMalformedPacket), V3ConnackCode::kServerUnavailable);
}

TEST(ReasonCodeTable, NamesAndFailureBit) {
  EXPECT_EQ(ReasonCodeName(ReasonCode::kSuccess), "Success");
  EXPECT_EQ(ReasonCodeName(ReasonCode::kMalformedPacket), "Malformed Packet");
  EXPECT_EQ(ReasonCodeName(ReasonCode::kTopicAliasInvalid), "Topic Alias invalid");
  EXPECT_EQ(ReasonCodeName(ReasonCode::kWildcardSubscriptionsNotSupported),
            "Wildcard Subscriptions not supported");
  EXPECT_EQ(ReasonCodeName(static_cast<ReasonCode>(0x03)), "Unknown reason code");
  EXPECT_EQ(ReasonCodeName(static_cast<ReasonCode>(0xFF)), "Unknown reason code");
  for (int code = 0; code < 256; ++code) {
    EXPECT_EQ(IsFailure(static_cast<ReasonCode>(code)), code >= 0x80) << code;
  }
  EXPECT_EQ(kNormalDisconnection, ReasonCode::kSuccess);
  EXPECT_EQ(kGrantedQos0, ReasonCode::kSuccess);
}

}  // namespace
}  // namespace ringmq::mqtt
