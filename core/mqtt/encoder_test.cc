// Byte-exact encodings, checked against byte vectors written by hand from the MQTT 3.1,
// 3.1.1 and 5.0 specifications; the packet-id stamping offset; FitToMaximumPacketSize.

#include "core/mqtt/encoder.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "core/mqtt/decoder.h"
#include "core/mqtt/packets.h"
#include "core/mqtt/properties.h"

namespace ringmq::mqtt {
namespace {

using Bytes = std::vector<uint8_t>;
using V = ProtocolVersion;

std::string Hex(std::span<const uint8_t> b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s += kDigits[c >> 4];
    s += kDigits[c & 0xF];
    s += ' ';
  }
  return s;
}

// Checks that `p` encodes for `v` to exactly `expected` (and no byte more), and that
// `expected` decodes to a packet that encodes back to the same bytes.
template <typename P>
void ExpectEncodes(const P& p, V v, const Bytes& expected) {
  ASSERT_EQ(EncodedSize(p, v), expected.size());
  Bytes buf(expected.size() + 8, 0xA5);
  ASSERT_EQ(Encode(p, v, buf.data()), expected.size());
  for (size_t i = expected.size(); i < buf.size(); ++i) {
    ASSERT_EQ(buf[i], 0xA5) << "Encode wrote past EncodedSize at " << i;
  }
  buf.resize(expected.size());
  EXPECT_EQ(Hex(buf), Hex(expected));

  Packet decoded;
  DecodeStatus s = DecodeOne(v, expected, &decoded);
  ASSERT_TRUE(s.ok()) << s.detail;
  ASSERT_TRUE(std::holds_alternative<P>(decoded));
  Bytes again(EncodedSize(decoded, v));
  ASSERT_EQ(Encode(decoded, v, again.data()), again.size());
  EXPECT_EQ(Hex(again), Hex(expected));
}

template <typename P>
const P& As(const Packet& p) {
  const P* v = std::get_if<P>(&p);
  EXPECT_NE(v, nullptr);
  static const P kEmpty{};
  return v == nullptr ? kEmpty : *v;
}

// ---- CONNECT -------------------------------------------------------------------------------

// MQTT 3.1.1 §3.1.2 (Figure 3.6): protocol name 00 04 'M' 'Q' 'T' 'T', level 4, Keep Alive 10.
TEST(EncodeConnectTest, Mqtt311Minimal) {
  Connect c;
  c.client_id = "abc";
  c.clean_start = true;
  c.keep_alive_s = 10;
  // clang-format off
  ExpectEncodes(c, V::kMqtt311,
                {0x10, 0x0F,                              // CONNECT, Remaining Length 15
                 0x00, 0x04, 'M', 'Q', 'T', 'T',          // Protocol Name
                 0x04,                                    // Protocol Level 4
                 0x02,                                    // Clean Session
                 0x00, 0x0A,                              // Keep Alive 10
                 0x00, 0x03, 'a', 'b', 'c'});             // Client Identifier
  // clang-format on
}

// The Connect Flags of the specification's example, 0xCE: User Name, Password, Will QoS 1,
// Will Flag, Clean Session (3.1.1 §3.1.2.3).
TEST(EncodeConnectTest, Mqtt311ExampleFlagsCE) {
  Connect c;
  c.client_id = "c1";
  c.clean_start = true;
  c.keep_alive_s = 10;
  c.will.emplace();
  c.will->topic = "w";
  c.will->payload = "bye";
  c.will->qos = Qos::k1;
  c.username = "u";
  c.password = "p";
  // clang-format off
  const Bytes wire = {0x10, 0x1C,
                      0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
                      0xCE,                               // 1100 1110
                      0x00, 0x0A,
                      0x00, 0x02, 'c', '1',               // Client Identifier
                      0x00, 0x01, 'w',                    // Will Topic
                      0x00, 0x03, 'b', 'y', 'e',          // Will Message
                      0x00, 0x01, 'u',                    // User Name
                      0x00, 0x01, 'p'};                   // Password
  // clang-format on
  ExpectEncodes(c, V::kMqtt311, wire);

  Packet p;
  ASSERT_TRUE(DecodeOne(V::kMqtt311, wire, &p).ok());
  const Connect& d = As<Connect>(p);
  EXPECT_EQ(d.version, V::kMqtt311);
  EXPECT_TRUE(d.clean_start);
  EXPECT_EQ(d.keep_alive_s, 10);
  EXPECT_EQ(d.client_id, "c1");
  ASSERT_TRUE(d.will.has_value());
  EXPECT_EQ(d.will->topic, "w");
  EXPECT_EQ(d.will->payload, "bye");
  EXPECT_EQ(d.will->qos, Qos::k1);
  EXPECT_FALSE(d.will->retain);
  EXPECT_EQ(d.username, "u");
  EXPECT_EQ(d.password, "p");
}

// MQTT 3.1: protocol name "MQIsdp", level 3.
TEST(EncodeConnectTest, Mqtt31) {
  Connect c;
  c.client_id = "cx";
  c.keep_alive_s = 60;
  // clang-format off
  ExpectEncodes(c, V::kMqtt31,
                {0x10, 0x10,
                 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p',  // Protocol Name
                 0x03,                                      // Protocol Level 3
                 0x02,                                      // Clean Session
                 0x00, 0x3C,                                // Keep Alive 60
                 0x00, 0x02, 'c', 'x'});
  // clang-format on
}

// MQTT 5 CONNECT with properties. The encoder writes single-valued properties in identifier
// order and the User Properties last.
TEST(EncodeConnectTest, Mqtt5WithProperties) {
  PropertyBuilder users;
  users.AddUserProperty("a", "b");
  Connect c;
  c.client_id = "v5";
  c.keep_alive_s = 60;
  c.properties.SetSessionExpiryInterval(3600);
  c.properties.SetRequestResponseInformation(1);
  c.properties.SetReceiveMaximum(20);
  c.properties.SetTopicAliasMaximum(10);
  c.properties.SetMaximumPacketSize(65'536);
  c.properties.user_properties = users.user_properties();
  // clang-format off
  ExpectEncodes(c, V::kMqtt5,
                {0x10, 0x28,
                 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C,
                 0x19,                                      // Property Length 25
                 0x11, 0x00, 0x00, 0x0E, 0x10,              // Session Expiry Interval 3600
                 0x19, 0x01,                                // Request Response Information
                 0x21, 0x00, 0x14,                          // Receive Maximum 20
                 0x22, 0x00, 0x0A,                          // Topic Alias Maximum 10
                 0x27, 0x00, 0x01, 0x00, 0x00,              // Maximum Packet Size 65536
                 0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'b',    // User Property a=b
                 0x00, 0x02, 'v', '5'});
  // clang-format on
}

TEST(EncodeConnectTest, Mqtt5WithWillProperties) {
  Connect c;
  c.client_id = "c";
  c.keep_alive_s = 0;
  Will& w = c.will.emplace();
  w.topic = "t";
  w.payload = "x";
  w.retain = true;
  w.properties.SetWillDelayInterval(5);
  w.properties.SetPayloadFormatIndicator(1);
  // clang-format off
  ExpectEncodes(c, V::kMqtt5,
                {0x10, 0x1C,
                 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05,
                 0x26,                                      // Will Retain, Will Flag, Clean
                 0x00, 0x00,
                 0x00,                                      // no CONNECT properties
                 0x00, 0x01, 'c',
                 0x07, 0x01, 0x01, 0x18, 0x00, 0x00, 0x00, 0x05,  // Will Properties
                 0x00, 0x01, 't',
                 0x00, 0x01, 'x'});
  // clang-format on
}

// ---- CONNACK -------------------------------------------------------------------------------

// 3.x CONNACK return codes (3.1.1 §3.2.2.3): 0 accepted, 1 unacceptable protocol version,
// 2 identifier rejected, 3 server unavailable, 4 bad user name or password, 5 not authorized.
// MQTT 5 codes with no 3.x equivalent become the nearest one.
TEST(EncodeConnackTest, V3ReturnCodeMapping) {
  struct Mapping {
    ReasonCode reason;
    uint8_t v3_code;
  };
  const Mapping kMappings[] = {
      {ReasonCode::kSuccess, 0x00},
      {ReasonCode::kUnsupportedProtocolVersion, 0x01},
      {ReasonCode::kClientIdentifierNotValid, 0x02},
      {ReasonCode::kServerUnavailable, 0x03},
      {ReasonCode::kBadUserNameOrPassword, 0x04},
      {ReasonCode::kNotAuthorized, 0x05},
      {ReasonCode::kBanned, 0x05},
      {ReasonCode::kBadAuthenticationMethod, 0x04},
      {ReasonCode::kServerBusy, 0x03},
      {ReasonCode::kUnspecifiedError, 0x03},
      {ReasonCode::kQuotaExceeded, 0x03},
      {ReasonCode::kConnectionRateExceeded, 0x03},
  };
  for (V v : {V::kMqtt31, V::kMqtt311}) {
    for (const Mapping& m : kMappings) {
      Connack c;
      c.reason = m.reason;
      c.properties.SetReasonString("not sent in 3.x");
      const Bytes want = {0x20, 0x02, 0x00, m.v3_code};
      ASSERT_EQ(EncodedSize(c, v), 4u);
      Bytes got(4);
      ASSERT_EQ(Encode(c, v, got.data()), 4u);
      EXPECT_EQ(Hex(got), Hex(want)) << "reason " << ReasonCodeName(m.reason);
    }
  }
}

TEST(EncodeConnackTest, V3SessionPresent) {
  Connack c;
  c.session_present = true;
  ExpectEncodes(c, V::kMqtt311, {0x20, 0x02, 0x01, 0x00});
  // MQTT 3.1 has no Session Present: the first byte is "reserved, not used" (3.1 §3.2).
  ExpectEncodes(c, V::kMqtt31, {0x20, 0x02, 0x00, 0x00});
}

TEST(EncodeConnackTest, Mqtt5) {
  Connack c;
  ExpectEncodes(c, V::kMqtt5, {0x20, 0x03, 0x00, 0x00, 0x00});  // Property Length 0 is kept
  c.session_present = true;
  ExpectEncodes(c, V::kMqtt5, {0x20, 0x03, 0x01, 0x00, 0x00});
  c.session_present = false;
  c.reason = ReasonCode::kNotAuthorized;
  ExpectEncodes(c, V::kMqtt5, {0x20, 0x03, 0x00, 0x87, 0x00});
  c.reason = ReasonCode::kSuccess;
  c.properties.SetTopicAliasMaximum(10);
  c.properties.SetMaximumQos(1);
  ExpectEncodes(c, V::kMqtt5, {0x20, 0x08, 0x00, 0x00, 0x05, 0x22, 0x00, 0x0A, 0x24, 0x01});
}

// ---- PUBLISH -------------------------------------------------------------------------------

TEST(EncodePublishTest, Mqtt311Qos0) {
  Publish p;
  p.topic = "a/b";
  p.payload = "hi";
  ExpectEncodes(p, V::kMqtt311, {0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i'});
  ExpectEncodes(p, V::kMqtt31, {0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i'});
}

TEST(EncodePublishTest, Mqtt311Qos1Retain) {
  Publish p;
  p.topic = "a/b";
  p.payload = "hi";
  p.qos = Qos::k1;
  p.retain = true;
  p.packet_id = 10;
  ExpectEncodes(p, V::kMqtt311, {0x33, 0x09, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0A, 'h', 'i'});
}

TEST(EncodePublishTest, Mqtt311Qos2Dup) {
  Publish p;
  p.topic = "a/b";
  p.payload = "hi";
  p.qos = Qos::k2;
  p.dup = true;
  p.packet_id = 0x1234;
  ExpectEncodes(p, V::kMqtt311, {0x3C, 0x09, 0x00, 0x03, 'a', '/', 'b', 0x12, 0x34, 'h', 'i'});
}

TEST(EncodePublishTest, Mqtt5Qos0) {
  Publish p;
  p.topic = "a/b";
  p.payload = "hi";
  ExpectEncodes(p, V::kMqtt5, {0x30, 0x08, 0x00, 0x03, 'a', '/', 'b', 0x00, 'h', 'i'});
}

TEST(EncodePublishTest, Mqtt5Qos1WithProperties) {
  Publish p;
  p.topic = "a/b";
  p.payload = "hi";
  p.qos = Qos::k1;
  p.dup = true;
  p.packet_id = 10;
  p.properties.SetMessageExpiryInterval(60);
  p.properties.SetTopicAlias(5);
  // clang-format off
  ExpectEncodes(p, V::kMqtt5,
                {0x3A, 0x12, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0A,
                 0x08,                              // Property Length
                 0x02, 0x00, 0x00, 0x00, 0x3C,      // Message Expiry Interval 60
                 0x23, 0x00, 0x05,                  // Topic Alias 5
                 'h', 'i'});
  // clang-format on
}

TEST(EncodePublishTest, TwoByteRemainingLength) {
  const std::string payload(200, 'z');
  Publish p;
  p.topic = "t";
  p.payload = payload;
  // 30 CB 01 00 01 't' and the payload: 203 = 0x4B + 1 * 128 is CB 01.
  const uint8_t kHeader[] = {0x30, 0xCB, 0x01, 0x00, 0x01, 't'};
  Bytes want(sizeof kHeader + payload.size(), 'z');
  std::copy(std::begin(kHeader), std::end(kHeader), want.begin());
  ExpectEncodes(p, V::kMqtt311, want);
}

// A message encoded once can be stamped with each receiver's packet id at a known offset.
TEST(EncodePublishTest, PacketIdOffsetAllowsStamping) {
  const std::string payload(200, 'z');
  for (V v : {V::kMqtt311, V::kMqtt5}) {
    Publish p;
    p.topic = "a/b";
    p.payload = payload;
    p.qos = Qos::k1;
    p.packet_id = 1;
    std::string wire = EncodeToString(p, v);
    const size_t off = PublishPacketIdOffset(p, v);
    EXPECT_EQ(off, 1u + 2u + 2u + 3u);  // type, 2-byte Remaining Length, topic
    EXPECT_EQ(wire[off], '\x00');
    EXPECT_EQ(wire[off + 1], '\x01');
    wire[off] = '\xAB';
    wire[off + 1] = '\xCD';
    wire[0] = static_cast<char>(wire[0] | 0x08);  // DUP
    Packet d;
    ASSERT_TRUE(
        DecodeOne(
            v, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(wire.data()), wire.size()),
            &d)
            .ok());
    EXPECT_EQ(As<Publish>(d).packet_id, 0xABCD);
    EXPECT_TRUE(As<Publish>(d).dup);
    EXPECT_EQ(As<Publish>(d).payload, payload);
  }
  Publish small;
  small.topic = "a/b";
  small.qos = Qos::k2;
  small.packet_id = 9;
  EXPECT_EQ(PublishPacketIdOffset(small, V::kMqtt311), 7u);
}

// ---- PUBACK, PUBREC, PUBREL, PUBCOMP -------------------------------------------------------

TEST(EncodeAckTest, Mqtt311HasOnlyThePacketId) {
  Puback a;
  a.packet_id = 7;
  a.reason = ReasonCode::kNoMatchingSubscribers;  // not expressible in 3.x: left out
  ExpectEncodes(a, V::kMqtt311, {0x40, 0x02, 0x00, 0x07});
  Pubrec rec;
  rec.packet_id = 7;
  ExpectEncodes(rec, V::kMqtt311, {0x50, 0x02, 0x00, 0x07});
  Pubrel rel;
  rel.packet_id = 7;
  ExpectEncodes(rel, V::kMqtt311, {0x62, 0x02, 0x00, 0x07});  // flags 0010 [MQTT-3.6.1-1]
  Pubcomp comp;
  comp.packet_id = 7;
  ExpectEncodes(comp, V::kMqtt311, {0x70, 0x02, 0x00, 0x07});
  ExpectEncodes(comp, V::kMqtt31, {0x70, 0x02, 0x00, 0x07});
}

// MQTT 5 §3.4.2.1: Reason Code and Property Length may be left out for Success without
// properties (Remaining Length 2); the Property Length alone may be left out (Remaining
// Length 3) [§3.4.2.2.1].
TEST(EncodeAckTest, Mqtt5PubackForms) {
  Puback a;
  a.packet_id = 7;
  ExpectEncodes(a, V::kMqtt5, {0x40, 0x02, 0x00, 0x07});
  a.reason = ReasonCode::kNoMatchingSubscribers;
  ExpectEncodes(a, V::kMqtt5, {0x40, 0x03, 0x00, 0x07, 0x10});
  a.properties.SetReasonString("x");
  ExpectEncodes(a, V::kMqtt5, {0x40, 0x08, 0x00, 0x07, 0x10, 0x04, 0x1F, 0x00, 0x01, 'x'});
  PropertyBuilder b;
  b.AddUserProperty("a", "b");
  Puback ok;
  ok.packet_id = 7;
  ok.properties.user_properties = b.user_properties();
  ExpectEncodes(ok, V::kMqtt5,
                {0x40, 0x0B, 0x00, 0x07, 0x00, 0x07, 0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'b'});
}

TEST(EncodeAckTest, Mqtt5OtherAcks) {
  Pubrec rec;
  rec.packet_id = 0x0102;
  rec.reason = ReasonCode::kUnspecifiedError;
  ExpectEncodes(rec, V::kMqtt5, {0x50, 0x03, 0x01, 0x02, 0x80});
  Pubrel rel;
  rel.packet_id = 0x0102;
  ExpectEncodes(rel, V::kMqtt5, {0x62, 0x02, 0x01, 0x02});
  rel.reason = ReasonCode::kPacketIdentifierNotFound;
  ExpectEncodes(rel, V::kMqtt5, {0x62, 0x03, 0x01, 0x02, 0x92});
  Pubcomp comp;
  comp.packet_id = 0x0102;
  comp.reason = ReasonCode::kPacketIdentifierNotFound;
  ExpectEncodes(comp, V::kMqtt5, {0x70, 0x03, 0x01, 0x02, 0x92});
}

// ---- SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK ----------------------------------------------

TEST(EncodeSubscribeTest, Mqtt311) {
  Subscribe s;
  s.packet_id = 10;
  s.subscriptions.push_back({"a/b", {Qos::k1}});
  ExpectEncodes(s, V::kMqtt311, {0x82, 0x08, 0x00, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x01});
  Subscribe two;
  two.packet_id = 1;
  two.subscriptions.push_back({"a", {Qos::k0}});
  two.subscriptions.push_back({"b/#", {Qos::k2}});
  ExpectEncodes(two, V::kMqtt311,
                {0x82, 0x0C, 0x00, 0x01, 0x00, 0x01, 'a', 0x00, 0x00, 0x03, 'b', '/', '#', 0x02});
}

// MQTT 5 Subscription Options (§3.8.3.1): bits 0-1 Maximum QoS, 2 No Local, 3 Retain As
// Published, 4-5 Retain Handling. Before 5.0 only the QoS is sent.
TEST(EncodeSubscribeTest, Mqtt5OptionsAndSubscriptionIdentifier) {
  PropertyBuilder b;
  b.AddSubscriptionIdentifier(5);
  Subscribe s;
  s.packet_id = 10;
  s.properties.subscription_ids = b.subscription_ids();
  s.subscriptions.push_back(
      {"a/b",
       {Qos::k2, /*no_local=*/true, /*retain_as_published=*/true, RetainHandling::kDoNotSend}});
  // clang-format off
  ExpectEncodes(s, V::kMqtt5,
                {0x82, 0x0B, 0x00, 0x0A,
                 0x02, 0x0B, 0x05,                    // Subscription Identifier 5
                 0x00, 0x03, 'a', '/', 'b',
                 0x2E});                              // 0010 1110
  // clang-format on
  // The same packet for 3.1.1: no properties and the QoS bits only.
  ExpectEncodes(s, V::kMqtt311, {0x82, 0x08, 0x00, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x02});
}

// 3.x SUBACK return codes are 0x00, 0x01, 0x02 and 0x80: every MQTT 5 failure code becomes
// 0x80 [MQTT-3.9.3-2 (3.1.1)].
TEST(EncodeSubackTest, V3FailureCodesBecome0x80) {
  Suback s;
  s.packet_id = 1;
  s.reasons = {ReasonCode::kGrantedQos1, ReasonCode::kNotAuthorized, ReasonCode::kGrantedQos2,
               ReasonCode::kTopicFilterInvalid, kGrantedQos0};
  ExpectEncodes(s, V::kMqtt311, {0x90, 0x07, 0x00, 0x01, 0x01, 0x80, 0x02, 0x80, 0x00});
  ExpectEncodes(s, V::kMqtt31, {0x90, 0x07, 0x00, 0x01, 0x01, 0x80, 0x02, 0x80, 0x00});
  ExpectEncodes(s, V::kMqtt5, {0x90, 0x08, 0x00, 0x01, 0x00, 0x01, 0x87, 0x02, 0x8F, 0x00});
  for (int code = 0x80; code < 0x100; ++code) {
    EXPECT_EQ(ToV3SubackCode(static_cast<ReasonCode>(code)), 0x80);
  }
  EXPECT_EQ(ToV3SubackCode(kGrantedQos0), 0x00);
  EXPECT_EQ(ToV3SubackCode(ReasonCode::kGrantedQos1), 0x01);
  EXPECT_EQ(ToV3SubackCode(ReasonCode::kGrantedQos2), 0x02);
}

TEST(EncodeUnsubscribeTest, AllVersions) {
  Unsubscribe u;
  u.packet_id = 11;
  u.filters.push_back("a/b");
  ExpectEncodes(u, V::kMqtt311, {0xA2, 0x07, 0x00, 0x0B, 0x00, 0x03, 'a', '/', 'b'});
  ExpectEncodes(u, V::kMqtt5, {0xA2, 0x08, 0x00, 0x0B, 0x00, 0x00, 0x03, 'a', '/', 'b'});
  Unsuback a;
  a.packet_id = 11;
  a.reasons = {ReasonCode::kSuccess, ReasonCode::kNoSubscriptionExisted};
  ExpectEncodes(a, V::kMqtt311, {0xB0, 0x02, 0x00, 0x0B});
  ExpectEncodes(a, V::kMqtt5, {0xB0, 0x05, 0x00, 0x0B, 0x00, 0x00, 0x11});
}

// ---- PINGREQ, PINGRESP, DISCONNECT, AUTH ---------------------------------------------------

TEST(EncodePingTest, AllVersions) {
  for (V v : {V::kMqtt31, V::kMqtt311, V::kMqtt5}) {
    ExpectEncodes(Pingreq{}, v, {0xC0, 0x00});
    ExpectEncodes(Pingresp{}, v, {0xD0, 0x00});
  }
}

// MQTT 5 §3.14.2.1: Remaining Length 0 means reason 0x00 and no properties; §3.14.2.2.1:
// "If the Remaining Length is less than 2, a value of 0 is used" for the Property Length.
TEST(EncodeDisconnectTest, Mqtt5Forms) {
  Disconnect d;
  ExpectEncodes(d, V::kMqtt5, {0xE0, 0x00});
  d.reason = ReasonCode::kDisconnectWithWill;
  ExpectEncodes(d, V::kMqtt5, {0xE0, 0x01, 0x04});
  d.reason = ReasonCode::kServerShuttingDown;
  d.properties.SetReasonString("x");
  ExpectEncodes(d, V::kMqtt5, {0xE0, 0x06, 0x8B, 0x04, 0x1F, 0x00, 0x01, 'x'});
  Disconnect normal_with_props;
  normal_with_props.properties.SetReasonString("x");
  ExpectEncodes(normal_with_props, V::kMqtt5, {0xE0, 0x06, 0x00, 0x04, 0x1F, 0x00, 0x01, 'x'});
}

TEST(EncodeDisconnectTest, V3HasNoBody) {
  Disconnect d;
  d.reason = ReasonCode::kServerShuttingDown;
  d.properties.SetReasonString("x");
  ExpectEncodes(d, V::kMqtt311, {0xE0, 0x00});
  ExpectEncodes(d, V::kMqtt31, {0xE0, 0x00});
}

// MQTT 5 §3.15.2.1: "The Reason Code and Property Length can be omitted if the Reason Code is
// 0x00 (Success) and there are no Properties. In this case the AUTH has a Remaining Length of
// 0." Unlike DISCONNECT there is no form that ends after the Reason Code.
TEST(EncodeAuthTest, Mqtt5Forms) {
  Auth a;
  ExpectEncodes(a, V::kMqtt5, {0xF0, 0x00});
  a.reason = ReasonCode::kContinueAuthentication;
  a.properties.SetAuthenticationMethod("m");
  ExpectEncodes(a, V::kMqtt5, {0xF0, 0x06, 0x18, 0x04, 0x15, 0x00, 0x01, 'm'});
  Auth reauth;
  reauth.reason = ReasonCode::kReAuthenticate;
  ExpectEncodes(reauth, V::kMqtt5, {0xF0, 0x02, 0x19, 0x00});
}

// ---- FitToMaximumPacketSize ----------------------------------------------------------------

// [MQTT-3.2.2-19], [MQTT-3.2.2-20]: CONNACK leaves out the Reason String, then the User
// Properties, when the packet would exceed the client's Maximum Packet Size.
TEST(FitToMaximumPacketSizeTest, ConnackDropsReasonStringThenUserProperties) {
  PropertyBuilder users;
  users.AddUserProperty("k", "v");
  auto make = [&users]() {
    Connack c;
    c.properties.SetSessionExpiryInterval(60);
    c.properties.SetReasonString("0123456789");
    c.properties.user_properties = users.user_properties();
    return c;
  };
  // 2 header + 2 + 1 Property Length + 5 (Session Expiry) + 13 (Reason String) + 7 (User
  // Property) = 30 bytes.
  Connack full = make();
  ASSERT_EQ(EncodedSize(full, V::kMqtt5), 30u);
  EXPECT_EQ(FitToMaximumPacketSize(&full, V::kMqtt5, 30), 30u);
  EXPECT_TRUE(full.properties.Has(PropertyId::kReasonString));
  EXPECT_EQ(full.properties.user_properties.size(), 1u);

  Connack no_reason = make();
  EXPECT_EQ(FitToMaximumPacketSize(&no_reason, V::kMqtt5, 29), 17u);
  EXPECT_FALSE(no_reason.properties.Has(PropertyId::kReasonString));
  EXPECT_EQ(no_reason.properties.user_properties.size(), 1u);
  EXPECT_EQ(EncodedSize(no_reason, V::kMqtt5), 17u);

  Connack bare = make();
  EXPECT_EQ(FitToMaximumPacketSize(&bare, V::kMqtt5, 16), 10u);
  EXPECT_FALSE(bare.properties.Has(PropertyId::kReasonString));
  EXPECT_TRUE(bare.properties.user_properties.empty());
  EXPECT_TRUE(bare.properties.Has(PropertyId::kSessionExpiryInterval));  // never dropped
  ExpectEncodes(bare, V::kMqtt5, {0x20, 0x08, 0x00, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x3C});

  // Still too large: returns the smallest size, which the caller must check.
  Connack too_big = make();
  EXPECT_EQ(FitToMaximumPacketSize(&too_big, V::kMqtt5, 5), 10u);
}

TEST(FitToMaximumPacketSizeTest, UserPropertiesAloneAreDropped) {
  PropertyBuilder users;
  users.AddUserProperty("key", "value");
  Suback s;
  s.packet_id = 1;
  s.reasons = {ReasonCode::kGrantedQos1};
  s.properties.user_properties = users.user_properties();
  const size_t full = EncodedSize(s, V::kMqtt5);
  EXPECT_EQ(FitToMaximumPacketSize(&s, V::kMqtt5, static_cast<uint32_t>(full - 1)), 6u);
  EXPECT_TRUE(s.properties.user_properties.empty());
  ExpectEncodes(s, V::kMqtt5, {0x90, 0x04, 0x00, 0x01, 0x00, 0x01});
}

// The same rule for every other packet that has a Reason String: PUBACK [MQTT-3.4.2-2/3],
// PUBREC [MQTT-3.5.2-2/3], PUBREL [MQTT-3.6.2-2/3], PUBCOMP [MQTT-3.7.2-2/3], SUBACK
// [MQTT-3.9.2-1/2], UNSUBACK [MQTT-3.11.2-1/2], DISCONNECT [MQTT-3.14.2-3/4] and AUTH
// [MQTT-3.15.2-2/3].
template <typename P>
void ExpectDropOrder(P p) {
  PropertyBuilder users;
  users.AddUserProperty("k", "v");
  p.properties.SetReasonString("a reason string");
  p.properties.user_properties = users.user_properties();
  const size_t full = EncodedSize(p, V::kMqtt5);
  constexpr size_t kReasonBytes = 1 + 2 + 15;
  constexpr size_t kUserBytes = 1 + 2 + 1 + 2 + 1;

  P fits = p;
  EXPECT_EQ(FitToMaximumPacketSize(&fits, V::kMqtt5, static_cast<uint32_t>(full)), full);
  EXPECT_TRUE(fits.properties.Has(PropertyId::kReasonString));
  EXPECT_FALSE(fits.properties.user_properties.empty());

  P one = p;
  const size_t without_reason =
      FitToMaximumPacketSize(&one, V::kMqtt5, static_cast<uint32_t>(full - 1));
  EXPECT_EQ(without_reason, full - kReasonBytes);
  EXPECT_EQ(without_reason, EncodedSize(one, V::kMqtt5));
  EXPECT_FALSE(one.properties.Has(PropertyId::kReasonString));
  EXPECT_FALSE(one.properties.user_properties.empty());

  P both = p;
  const size_t bare =
      FitToMaximumPacketSize(&both, V::kMqtt5, static_cast<uint32_t>(full - kReasonBytes - 1));
  EXPECT_EQ(bare, EncodedSize(both, V::kMqtt5));
  EXPECT_LE(bare, full - kReasonBytes - kUserBytes);
  EXPECT_FALSE(both.properties.Has(PropertyId::kReasonString));
  EXPECT_TRUE(both.properties.user_properties.empty());
}

TEST(FitToMaximumPacketSizeTest, EveryPacketWithAReasonString) {
  Puback puback;
  puback.packet_id = 1;
  puback.reason = ReasonCode::kNoMatchingSubscribers;
  ExpectDropOrder(puback);
  Pubrec pubrec;
  pubrec.packet_id = 1;
  ExpectDropOrder(pubrec);
  Pubrel pubrel;
  pubrel.packet_id = 1;
  ExpectDropOrder(pubrel);
  Pubcomp pubcomp;
  pubcomp.packet_id = 1;
  pubcomp.reason = ReasonCode::kPacketIdentifierNotFound;
  ExpectDropOrder(pubcomp);
  Suback suback;
  suback.packet_id = 1;
  suback.reasons = {ReasonCode::kGrantedQos2};
  ExpectDropOrder(suback);
  Unsuback unsuback;
  unsuback.packet_id = 1;
  unsuback.reasons = {ReasonCode::kSuccess};
  ExpectDropOrder(unsuback);
  Disconnect disconnect;
  disconnect.reason = ReasonCode::kServerBusy;
  ExpectDropOrder(disconnect);
  Auth auth;
  auth.reason = ReasonCode::kContinueAuthentication;
  auth.properties.SetAuthenticationMethod("m");
  ExpectDropOrder(auth);
  Connack connack;
  ExpectDropOrder(connack);
}

// With nothing left to drop, a PUBACK falls back to its 2-byte form.
TEST(FitToMaximumPacketSizeTest, PubackShrinksToShortForm) {
  PropertyBuilder users;
  users.AddUserProperty("k", "v");
  Puback p;
  p.packet_id = 9;
  p.properties.SetReasonString("r");
  p.properties.user_properties = users.user_properties();
  EXPECT_EQ(FitToMaximumPacketSize(&p, V::kMqtt5, 4), 4u);
  ExpectEncodes(p, V::kMqtt5, {0x40, 0x02, 0x00, 0x09});
}

}  // namespace
}  // namespace ringmq::mqtt
