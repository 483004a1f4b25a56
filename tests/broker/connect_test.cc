// CONNECT and CONNACK in MQTT 3.1, 3.1.1 and 5.0: acceptance and Session Present, client id
// rules, refusals (unsupported level, bad protocol name, malformed CONNECT, authentication),
// the first-packet rules and timeout, the CONNACK properties of 5.0, and packets pipelined
// after CONNECT. Each test names the statements of /work/shared/mqtt-normative.md it covers;
// "(3.1.1)" marks a 3.1.1 statement id.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"

#include "core/mqtt/encoder.h"
#include "core/mqtt/varint.h"
#include "tests/broker/broker_test_base.h"

namespace ringmq::testing {
namespace {

using mqtt::PacketType;
using mqtt::PropertyId;
using mqtt::ProtocolVersion;
using mqtt::Qos;
using mqtt::ReasonCode;
using std::chrono::milliseconds;

// ---- raw packet building ---------------------------------------------------------------------

std::string Str(std::string_view s) {
  std::string out;
  out.push_back(static_cast<char>(s.size() >> 8));
  out.push_back(static_cast<char>(s.size() & 0xFF));
  out.append(s);
  return out;
}

std::string Frame(uint8_t first_byte, std::string_view body) {
  uint8_t len[4];
  uint8_t* end = mqtt::EncodeVarint(len, static_cast<uint32_t>(body.size()));
  std::string out(1, static_cast<char>(first_byte));
  out.append(reinterpret_cast<const char*>(len), static_cast<size_t>(end - len));
  out.append(body);
  return out;
}

// A CONNECT as bytes. `props` is the whole 5.0 property block, length included ("" for 3.x);
// `payload` is everything after it (client id first).
std::string RawConnect(std::string_view name, uint8_t level, uint8_t flags, std::string_view props,
                       std::string_view payload, uint16_t keep_alive_s = 60) {
  std::string body = Str(name);
  body.push_back(static_cast<char>(level));
  body.push_back(static_cast<char>(flags));
  body.push_back(static_cast<char>(keep_alive_s >> 8));
  body.push_back(static_cast<char>(keep_alive_s & 0xFF));
  body.append(props);
  body.append(payload);
  return Frame(0x10, body);
}

std::string_view ProtocolName(ProtocolVersion v) {
  return v == ProtocolVersion::kMqtt31 ? "MQIsdp" : "MQTT";
}

// The CONNACK of a refusal in 3.x format: flags 0, return code `code`.
std::string V3Connack(uint8_t code) {
  return std::string("\x20\x02\x00", 3) + static_cast<char>(code);
}

// Expects the server to close `c` without sending anything (no CONNACK, no DISCONNECT).
void ExpectClosedSilently(MqttClient& c) {
  ExpectClosedWith(c, std::nullopt);
}

// A 3.x CONNACK refusing the connection with `code`, then the close (3.x has no DISCONNECT).
void ExpectV3Refused(MqttClient& c, uint8_t code) {
  ASSERT_OK_AND_ASSIGN(ReceivedPacket ack, c.AwaitConnack());
  EXPECT_EQ(ack.bytes(), V3Connack(code)) << ack;
  ExpectClosedSilently(c);
}

// On a Malformed Packet or a Protocol Error the server closes the connection and MAY first
// send a CONNACK (before a successful CONNACK) or a DISCONNECT (after one) with the reason
// [MQTT-4.13.1-1], [MQTT-3.1.4-1]. ringmq always sends it (docs/codec.md), so for ringmq the
// packet is required (`required`); for a reference broker only its content is checked.

// Expects at most one CONNACK, with `reason` and Session Present 0 [MQTT-3.2.2-6], then the
// close [MQTT-3.2.2-7], [MQTT-4.13.2-1].
void ExpectRefusedWith(MqttClient& c, ReasonCode reason, bool required) {
  ASSERT_OK_AND_ASSIGN(CloseResult r, c.WaitForClose(kCloseTimeout));
  EXPECT_TRUE(r.closed) << "the server did not close the connection after refusing it";
  EXPECT_FALSE(r.disconnect.has_value()) << "DISCONNECT before a successful CONNACK "
                                            "[MQTT-3.14.0-1]: "
                                         << *r.disconnect;
  if (r.others.empty() && !required) {
    return;
  }
  ASSERT_EQ(r.others.size(), 1u) << "expected exactly one CONNACK";
  const ReceivedPacket& ack = r.others[0];
  ASSERT_EQ(ack.type(), PacketType::kConnack) << ack;
  EXPECT_EQ(ack.reason(), reason) << ack;
  EXPECT_FALSE(ack.As<mqtt::Connack>().session_present) << ack;
}

// Expects a DISCONNECT with `reason` (5.0), nothing else, then the close [MQTT-4.13.2-1].
void ExpectDisconnectedWith(MqttClient& c, ReasonCode reason, bool required) {
  ASSERT_OK_AND_ASSIGN(CloseResult r, c.WaitForClose(kCloseTimeout));
  EXPECT_TRUE(r.closed) << "the server did not close the connection";
  for (const ReceivedPacket& p : r.others) {
    ADD_FAILURE() << "unexpected packet before the close: " << p;
  }
  if (!r.disconnect.has_value()) {
    EXPECT_FALSE(required) << "expected DISCONNECT " << mqtt::ReasonCodeName(reason)
                           << " before the close";
    return;
  }
  EXPECT_EQ(r.disconnect->reason(), reason) << *r.disconnect;
  EXPECT_FALSE(r.disconnect->properties().Has(PropertyId::kSessionExpiryInterval))
      << "[MQTT-3.14.2-2]";
}

class ConnectTest : public BrokerTest {};
class ConnectVersionTest : public BrokerVersionTest {};

// ---- accepted connections, Session Present ---------------------------------------------------

// [MQTT-3.1.4-5] a valid CONNECT gets CONNACK 0x00; [MQTT-3.2.2-2] Clean Start 1 gives
// Session Present 0; [MQTT-3.2.2-1] CONNACK flag bits 7..1 are 0; [MQTT-3.2.0-1] CONNACK is
// the first packet; 3.1.1: [MQTT-3.2.2-1 (3.1.1)], [MQTT-3.1.4-4 (3.1.1)], [MQTT-3.2.0-1 (3.1.1)].
TEST_P(ConnectVersionTest, CleanStartAcceptedWithSessionPresent0) {
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::ConnectRaw(port(), Options()));
  ASSERT_OK(c->SendConnect(Options()));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket ack, c->Receive());
  ASSERT_EQ(ack.type(), PacketType::kConnack) << ack;
  EXPECT_EQ(ack.reason(), ReasonCode::kSuccess) << ack;
  EXPECT_FALSE(ack.As<mqtt::Connack>().session_present);
  ASSERT_GE(ack.bytes().size(), 4u);
  EXPECT_EQ(static_cast<uint8_t>(ack.bytes()[2]), 0) << "Connect Acknowledge Flags";
  if (!mqtt::IsV5(GetParam())) {
    EXPECT_EQ(ack.bytes(), V3Connack(0)) << "a 3.x CONNACK is exactly 4 bytes";
  }
  EXPECT_OK(c->Ping());
  EXPECT_OK(c->Disconnect());
}

// [MQTT-3.2.2-3] Clean Start 0: Session Present 1 exactly when the server had a session;
// [MQTT-3.1.2-6] none: a new one; [MQTT-3.2.2-2] Clean Start 1 always 0;
// 3.1.1: [MQTT-3.2.2-2 (3.1.1)], [MQTT-3.2.2-3 (3.1.1)].
TEST_P(ConnectVersionTest, SessionPresentReflectsStoredSession) {
  const std::string id = "sp-client";
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(Persistent(GetParam(), id)));
    EXPECT_FALSE(c->server().session_present) << "no session existed";
    ASSERT_OK(c->Disconnect());
  }
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(Persistent(GetParam(), id)));
    // MQTT 3.1 has no Session Present flag: that CONNACK byte is reserved (0).
    EXPECT_EQ(c->server().session_present, GetParam() != ProtocolVersion::kMqtt31)
        << "the session of the first connection";
    ASSERT_OK(c->Disconnect());
  }
  {
    ConnectOptions o = Persistent(GetParam(), id);
    o.clean_start = true;
    ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
    EXPECT_FALSE(c->server().session_present) << "Clean Start 1";
    ASSERT_OK(c->Disconnect());
  }
}

// ---- client identifiers ----------------------------------------------------------------------

// [MQTT-3.1.3-6] an empty client id gets a unique id; [MQTT-3.1.3-7] the CONNECT is handled as
// if it had been sent, and it is returned as Assigned Client Identifier; [MQTT-3.2.2-16] no
// other session uses it. Clean Start 0 with an empty id is allowed in 5.0.
TEST_F(ConnectTest, V5EmptyClientIdGetsAssignedIdentifier) {
  ConnectOptions o;
  o.client_id = "";
  o.clean_start = false;
  o.properties.SetSessionExpiryInterval(300);
  ASSERT_OK_AND_ASSIGN(auto first, Connect(o));
  ASSERT_TRUE(first->connack()->properties().Has(PropertyId::kAssignedClientIdentifier))
      << *first->connack();
  const std::string assigned = first->server().assigned_client_id;
  EXPECT_FALSE(assigned.empty());
  EXPECT_FALSE(first->server().session_present);
  ASSERT_OK(first->Disconnect());

  // While that session exists, other clients get other ids.
  std::set<std::string> ids = {assigned};
  for (int i = 0; i < 5; ++i) {
    ConnectOptions e;
    e.client_id = "";
    ASSERT_OK_AND_ASSIGN(auto c, Connect(e));
    const std::string& id = c->server().assigned_client_id;
    EXPECT_FALSE(id.empty());
    EXPECT_TRUE(ids.insert(id).second) << "assigned id " << id << " handed out twice";
  }

  // The session was created under the assigned id.
  ConnectOptions again;
  again.client_id = assigned;
  again.clean_start = false;
  again.properties.SetSessionExpiryInterval(300);
  ASSERT_OK_AND_ASSIGN(auto c, Connect(again));
  EXPECT_TRUE(c->server().session_present) << "the session of the assigned id";
  EXPECT_FALSE(c->connack()->properties().Has(PropertyId::kAssignedClientIdentifier))
      << "an id was sent: nothing to assign " << *c->connack();
  ASSERT_OK(c->Disconnect());
}

// 3.1.1: [MQTT-3.1.3-6 (3.1.1)] a server that accepts an empty id with Clean Session 1 treats it
// as a unique id (ringmq accepts it: allow_empty_client_id).
TEST_F(ConnectTest, V311EmptyClientIdWithCleanSessionAccepted) {
  ConnectOptions o = VersionOptions(ProtocolVersion::kMqtt311);
  o.client_id = "";
  ASSERT_OK_AND_ASSIGN(auto a, Connect(o));
  ASSERT_OK_AND_ASSIGN(auto b, Connect(o));
  // Two such clients are two sessions: neither takes the other over.
  EXPECT_OK(a->Ping());
  EXPECT_OK(b->Ping());
  ASSERT_OK(a->Subscribe("empty-id/t", Qos::k0));
  ASSERT_OK(b->Publish("empty-id/t", "x", Qos::k0));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket m, a->ExpectPublish());
  EXPECT_EQ(m.publish().payload, "x");
}

// 3.1.1: [MQTT-3.1.3-8 (3.1.1)] an empty id with Clean Session 0 gets CONNACK 0x02 and the
// connection is closed; [MQTT-3.2.2-4/5 (3.1.1)] Session Present 0, then close.
TEST_F(ConnectTest, V311EmptyClientIdWithoutCleanSessionRefused) {
  ConnectOptions o = VersionOptions(ProtocolVersion::kMqtt311);
  o.client_id = "";
  o.clean_start = false;
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::ConnectRaw(port(), o));
  ASSERT_OK(c->SendConnect(o));
  ExpectV3Refused(*c, 0x02);
}

// 3.1 requires a client id of 1..23 characters: an empty one is rejected with 0x02
// (the 3.1.1 rule for rejected ids, [MQTT-3.1.3-9 (3.1.1)]), then the connection is closed.
TEST_F(ConnectTest, V31EmptyClientIdRefused) {
  for (bool clean : {true, false}) {
    SCOPED_TRACE(clean ? "clean session 1" : "clean session 0");
    ConnectOptions o = VersionOptions(ProtocolVersion::kMqtt31);
    o.client_id = "";
    o.clean_start = clean;
    ASSERT_OK_AND_ASSIGN(auto c, MqttClient::ConnectRaw(port(), o));
    ASSERT_OK(c->SendConnect(o));
    ExpectV3Refused(*c, 0x02);
  }
}

// [MQTT-3.1.3-5] ids of 1..23 alphanumeric characters are accepted, in every version.
TEST_P(ConnectVersionTest, ShortAlphanumericClientIdsAccepted) {
  for (std::string id : {"a", "Z9", "abcdefghijklmnopqrstuvw"}) {
    ConnectOptions o = Options();
    o.client_id = id;
    ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
    EXPECT_EQ(c->server().reason, ReasonCode::kSuccess);
    ASSERT_OK(c->Disconnect());
  }
}

// [MQTT-3.1.3-8] a client id the server rejects (here: longer than --max-client-id) gets
// CONNACK 0x85 in 5.0, then the close; 3.1.1: [MQTT-3.1.3-9 (3.1.1)] CONNACK 0x02, then close.
TEST_P(ConnectVersionTest, RejectedClientIdRefused) {
  if (!is_ringmq()) {
    GTEST_SKIP() << "--max-client-id is a ringmq flag";
  }
  StartBroker({"--max-client-id", "8"});
  ConnectOptions o = Options();
  o.client_id = "id-of-twelve";
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::ConnectRaw(port(), o));
  ASSERT_OK(c->SendConnect(o));
  if (mqtt::IsV5(GetParam())) {
    ExpectRefusedWith(*c, ReasonCode::kClientIdentifierNotValid, /*required=*/true);
  } else {
    ExpectV3Refused(*c, 0x02);
  }
  o.client_id = "id-of-8!";
  ASSERT_OK_AND_ASSIGN(auto ok, Connect(o));
  EXPECT_OK(ok->Disconnect());
}

// ---- refusals --------------------------------------------------------------------------------

// [MQTT-3.1.4-6] after refusing a CONNECT the server processes nothing else the client sent:
// a PUBLISH in the same write as a refused CONNECT reaches nobody; 3.1.1:
// [MQTT-3.1.4-5 (3.1.1)].
TEST_P(ConnectVersionTest, PacketsAfterRefusedConnectIgnored) {
  const ProtocolVersion v = GetParam();
  ASSERT_OK_AND_ASSIGN(auto watcher, Connect(Options()));
  ASSERT_OK(watcher->Subscribe("refused/t", Qos::k1));
  mqtt::Connect connect;
  connect.version = v;
  connect.keep_alive_s = 60;
  connect.clean_start = false;  // an empty id with Clean Session 0: refused in 3.x
  std::string bytes;
  if (mqtt::IsV5(v)) {
    // 5.0 accepts an empty id: refuse the CONNECT for its Authentication Method instead.
    connect.client_id = "refused-client";
    connect.properties.SetAuthenticationMethod("unsupported-method");
  }
  mqtt::AppendEncoded(connect, v, &bytes);
  mqtt::AppendEncoded(mqtt::Publish{.topic = "refused/t", .payload = "must not be delivered"}, v,
                      &bytes);
  mqtt::AppendEncoded(mqtt::Publish{.topic = "refused/t",
                                    .payload = "must not be delivered either",
                                    .qos = Qos::k1,
                                    .packet_id = 1},
                      v, &bytes);
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::ConnectRaw(port(), Options()));
  ASSERT_OK(c->SendRaw(bytes));
  ASSERT_OK_AND_ASSIGN(CloseResult r, c->WaitForClose(kCloseTimeout));
  EXPECT_TRUE(r.closed);
  ASSERT_LE(r.others.size(), 1u) << "at most the refusing CONNACK: " << r.others.back();
  if (!r.others.empty()) {
    EXPECT_EQ(r.others[0].type(), PacketType::kConnack) << r.others[0];
    EXPECT_TRUE(mqtt::IsFailure(r.others[0].reason())) << r.others[0];
  }
  EXPECT_OK(watcher->ExpectNoPacket(kQuiet));
}

// 3.1.1: [MQTT-3.1.2-2 (3.1.1)] an unsupported protocol level gets CONNACK 0x01, then the
// connection is closed. The CONNACK is in 3.1.1 format, which a client of any version can
// read; the rest of the CONNECT (3.1.1-shaped or 5.0-shaped) is not needed for the answer.
TEST_F(ConnectTest, UnsupportedProtocolLevelGetsV3Connack1) {
  const std::string v4_payload = Str("level-client");
  const std::string v5_props("\x00", 1);
  struct Case {
    uint8_t level;
    bool v5_body;
  };
  for (Case k : {Case{6, false}, Case{6, true}, Case{0, false}, Case{2, false}, Case{255, true}}) {
    SCOPED_TRACE(::testing::Message() << "level " << int{k.level} << (k.v5_body ? " 5.0" : ""));
    ASSERT_OK_AND_ASSIGN(auto c,
                         MqttClient::ConnectRaw(port(), VersionOptions(ProtocolVersion::kMqtt311)));
    ASSERT_OK(c->SendRaw(RawConnect("MQTT", k.level, 0x02, k.v5_body ? v5_props : "", v4_payload)));
    ExpectV3Refused(*c, 0x01);
  }
}

// [MQTT-3.1.2-1] a protocol name other than "MQTT" (or 3.1's "MQIsdp"): the connection is
// closed and not processed as MQTT (no CONNACK); 3.1.1: [MQTT-3.1.2-1 (3.1.1)].
TEST_F(ConnectTest, BadProtocolNameClosedWithoutConnack) {
  for (std::string_view name : {"MQTX", "mqtt", "MQT", "MQTTT", ""}) {
    SCOPED_TRACE(::testing::Message() << "protocol name \"" << name << "\"");
    ASSERT_OK_AND_ASSIGN(auto c,
                         MqttClient::ConnectRaw(port(), VersionOptions(ProtocolVersion::kMqtt311)));
    ASSERT_OK(c->SendRaw(RawConnect(name, 4, 0x02, "", Str("name-client"))));
    ExpectClosedSilently(*c);
  }
}

struct MalformedCase {
  const char* what;
  uint8_t flags;
  std::string props;  // 5.0 only
  std::string payload;
  ReasonCode v5_reason;
};

// The malformed CONNECTs of `v`. MQTT 3.1 did not specify the flag rules (reserved bit, Will
// QoS and Retain without Will Flag): only structural errors apply to it.
std::vector<MalformedCase> MalformedConnects(ProtocolVersion v) {
  const bool v5 = mqtt::IsV5(v);
  const bool v31 = v == ProtocolVersion::kMqtt31;
  const std::string id = Str("bad-client");
  const std::string none = v5 ? std::string("\x00", 1) : std::string();
  std::vector<MalformedCase> flag_cases = {
      // [MQTT-3.1.2-3] the reserved flag must be 0.
      {"reserved flag set", 0x03, none, id, ReasonCode::kMalformedPacket},
      // [MQTT-3.1.2-11] no Will QoS without the Will Flag.
      {"will QoS without will flag", 0x0A, none, id, ReasonCode::kMalformedPacket},
      // [MQTT-3.1.2-13] no Will Retain without the Will Flag.
      {"will retain without will flag", 0x22, none, id, ReasonCode::kMalformedPacket},
      // [MQTT-3.1.2-12] Will QoS 3.
      {"will QoS 3", 0x1E, none, id + (v5 ? std::string("\x00", 1) : "") + Str("w") + Str("p"),
       ReasonCode::kMalformedPacket},
      // [MQTT-3.1.2-17] User Name Flag set but no user name.
      {"user name flag without user name", 0x82, none, id, ReasonCode::kMalformedPacket},
  };
  std::vector<MalformedCase> cases = {
      // [MQTT-3.1.3-3] the client id is missing.
      {"no client id", 0x02, none, "", ReasonCode::kMalformedPacket},
      // [MQTT-3.1.3-4], [MQTT-1.5.4-1] the client id is not UTF-8.
      {"client id not UTF-8", 0x02, none, Str("a\xC0\x80z"), ReasonCode::kMalformedPacket},
  };
  if (!v31) {
    cases.insert(cases.begin(), flag_cases.begin(), flag_cases.end());
  }
  if (v5) {
    // §2.2.2.2: a property not allowed in CONNECT (Payload Format Indicator) is malformed.
    cases.push_back({"property not allowed in CONNECT", 0x02, std::string("\x02\x01\x01", 3), id,
                     ReasonCode::kMalformedPacket});
    // §2.2.2.2: a property twice is a Protocol Error.
    cases.push_back({"Session Expiry Interval twice", 0x02,
                     std::string("\x0A\x11\x00\x00\x00\x0A\x11\x00\x00\x00\x0A", 11), id,
                     ReasonCode::kProtocolError});
    // §3.1.2.11.3: Receive Maximum 0 is a Protocol Error.
    cases.push_back({"Receive Maximum 0", 0x02, std::string("\x03\x21\x00\x00", 4), id,
                     ReasonCode::kProtocolError});
    // §3.1.2.11.10: Authentication Data without Authentication Method is a Protocol Error.
    cases.push_back({"Authentication Data without Method", 0x02,
                     std::string("\x04\x16\x00\x01x", 5), id, ReasonCode::kProtocolError});
  }
  return cases;
}

// [MQTT-3.1.4-1] a non-conforming CONNECT closes the connection; in 5.0 the server may say
// why with a CONNACK (0x81 Malformed Packet, 0x82 Protocol Error) first [MQTT-4.13.1-1],
// with Session Present 0 [MQTT-3.2.2-6], and then closes [MQTT-3.2.2-7].
TEST_F(ConnectTest, V5MalformedConnectGetsConnackThenClose) {
  for (const MalformedCase& k : MalformedConnects(ProtocolVersion::kMqtt5)) {
    SCOPED_TRACE(k.what);
    ASSERT_OK_AND_ASSIGN(auto c,
                         MqttClient::ConnectRaw(port(), VersionOptions(ProtocolVersion::kMqtt5)));
    ASSERT_OK(c->SendRaw(RawConnect("MQTT", 5, k.flags, k.props, k.payload)));
    ExpectRefusedWith(*c, k.v5_reason, /*required=*/is_ringmq());
  }
}

// 3.1.1: [MQTT-3.1.4-1 (3.1.1)] a non-conforming CONNECT is closed without CONNACK;
// [MQTT-3.1.2-3 (3.1.1)], [MQTT-3.1.2-13/14/15 (3.1.1)], [MQTT-3.1.3-3 (3.1.1)].
TEST_F(ConnectTest, V3MalformedConnectClosedWithoutConnack) {
  for (ProtocolVersion v : {ProtocolVersion::kMqtt31, ProtocolVersion::kMqtt311}) {
    for (const MalformedCase& k : MalformedConnects(v)) {
      SCOPED_TRACE(::testing::Message() << mqtt::ProtocolVersionName(v) << ": " << k.what);
      ASSERT_OK_AND_ASSIGN(auto c, MqttClient::ConnectRaw(port(), VersionOptions(v)));
      ASSERT_OK(c->SendRaw(
          RawConnect(ProtocolName(v), static_cast<uint8_t>(v), k.flags, k.props, k.payload)));
      ExpectClosedSilently(*c);
    }
  }
}

// 3.1.1: [MQTT-3.1.2-22 (3.1.1)] a password without a user name is a violation: closed without
// CONNACK [MQTT-3.1.4-1 (3.1.1)]. 5.0 allows it (§3.1.2.9).
TEST_F(ConnectTest, PasswordWithoutUserName) {
  {
    ConnectOptions o = VersionOptions(ProtocolVersion::kMqtt311);
    o.password = "secret";
    ASSERT_OK_AND_ASSIGN(auto c, MqttClient::ConnectRaw(port(), o));
    ASSERT_OK(c->SendConnect(o));
    ExpectClosedSilently(*c);
  }
  {
    ConnectOptions o;
    o.password = "secret";
    ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
    EXPECT_EQ(c->server().reason, ReasonCode::kSuccess);
    EXPECT_OK(c->Ping());
    EXPECT_OK(c->Disconnect());
  }
}

// ---- the first packet and the second CONNECT --------------------------------------------------

// [MQTT-3.1.0-1] the first packet must be CONNECT: anything else closes the connection,
// answered by nothing; 3.1.1: [MQTT-3.1.0-1 (3.1.1)], [MQTT-4.8.0-1 (3.1.1)].
TEST_F(ConnectTest, FirstPacketNotConnectClosed) {
  const std::vector<std::pair<const char*, std::string>> firsts = {
      {"PINGREQ", std::string("\xC0\x00", 2)},
      {"PUBLISH", mqtt::EncodeToString(mqtt::Publish{.topic = "t", .payload = "x"},
                                       ProtocolVersion::kMqtt311)},
      {"SUBSCRIBE", Frame(0x82, std::string("\x00\x01", 2) + Str("t") + std::string(1, '\0'))},
      {"DISCONNECT", std::string("\xE0\x00", 2)},
      {"CONNACK", std::string("\x20\x02\x00\x00", 4)},
  };
  for (const auto& [what, bytes] : firsts) {
    SCOPED_TRACE(what);
    ASSERT_OK_AND_ASSIGN(auto c,
                         MqttClient::ConnectRaw(port(), VersionOptions(ProtocolVersion::kMqtt311)));
    ASSERT_OK(c->SendRaw(bytes));
    ExpectClosedSilently(*c);
  }
}

// [MQTT-3.1.0-2] a second CONNECT is a Protocol Error: 5.0 gets DISCONNECT 0x82
// [MQTT-4.13.1-1], 3.x is just closed; 3.1.1: [MQTT-3.1.0-2 (3.1.1)].
TEST_P(ConnectVersionTest, SecondConnectIsProtocolError) {
  ASSERT_OK_AND_ASSIGN(auto c, Connect(Options()));
  ConnectOptions again = Options();
  again.client_id = c->client_id();
  ASSERT_OK(c->SendConnect(again));
  if (mqtt::IsV5(GetParam())) {
    ExpectDisconnectedWith(*c, ReasonCode::kProtocolError, /*required=*/is_ringmq());
  } else {
    ExpectClosedSilently(*c);  // 3.x has no server DISCONNECT, and no second CONNACK
  }
}

// ---- enhanced authentication ------------------------------------------------------------------

// [MQTT-4.12.0-1] an Authentication Method the server does not support: CONNACK 0x8C (Bad
// authentication method) or 0x87 (Not authorized), and the connection is closed.
TEST_F(ConnectTest, UnsupportedAuthenticationMethodRefused) {
  ConnectOptions o;
  o.properties.SetAuthenticationMethod("SCRAM-SHA-1");
  o.properties.SetAuthenticationData("client-first");
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::ConnectRaw(port(), o));
  ASSERT_OK(c->SendConnect(o));
  ASSERT_OK_AND_ASSIGN(CloseResult r, c->WaitForClose(kCloseTimeout));
  EXPECT_TRUE(r.closed) << "[MQTT-4.12.0-1]: the connection must be closed";
  EXPECT_FALSE(r.disconnect.has_value());
  ASSERT_EQ(r.others.size(), 1u) << "expected one CONNACK";
  const ReceivedPacket& ack = r.others[0];
  ASSERT_EQ(ack.type(), PacketType::kConnack) << ack;
  EXPECT_TRUE(ack.reason() == ReasonCode::kBadAuthenticationMethod ||
              ack.reason() == ReasonCode::kNotAuthorized)
      << ack;
  EXPECT_FALSE(ack.As<mqtt::Connack>().session_present);
}

// [MQTT-4.12.0-7] without an Authentication Method in CONNECT a client sends no AUTH: the
// broker treats one as a Protocol Error (DISCONNECT 0x82, close) [MQTT-4.13.1-1].
TEST_F(ConnectTest, AuthWithoutMethodIsProtocolError) {
  ASSERT_OK_AND_ASSIGN(auto c, Connect());
  EXPECT_FALSE(c->connack()->properties().Has(PropertyId::kAuthenticationMethod))
      << "[MQTT-4.12.0-6]";
  mqtt::Auth auth;
  auth.reason = ReasonCode::kReAuthenticate;
  ASSERT_OK(c->Send(auth));
  ExpectDisconnectedWith(*c, ReasonCode::kProtocolError, /*required=*/is_ringmq());
}

// ---- the first-packet timeout -----------------------------------------------------------------

// §3.1 (unnumbered): a connection that does not send CONNECT within a reasonable time is
// closed (--connect-timeout 1): one that sends nothing, one that sent part of a CONNECT, and
// one that trickles a CONNECT a byte at a time. A connected client is not affected.
TEST_F(ConnectTest, ConnectTimeoutClosesSilentConnections) {
  if (!is_ringmq()) {
    GTEST_SKIP() << "--connect-timeout is a ringmq flag";
  }
  StartBroker({"--connect-timeout", "1"});
  ASSERT_OK_AND_ASSIGN(auto connected, Connect());
  const Clock::time_point start = Clock::now();
  ASSERT_OK_AND_ASSIGN(auto silent,
                       MqttClient::ConnectRaw(port(), VersionOptions(ProtocolVersion::kMqtt311)));
  ASSERT_OK_AND_ASSIGN(auto partial,
                       MqttClient::ConnectRaw(port(), VersionOptions(ProtocolVersion::kMqtt311)));
  ASSERT_OK_AND_ASSIGN(auto trickle,
                       MqttClient::ConnectRaw(port(), VersionOptions(ProtocolVersion::kMqtt311)));
  const std::string connect =
      RawConnect("MQTT", 4, 0x02, "", Str("trickling-client-with-a-long-id"));
  ASSERT_OK(partial->SendRaw(connect.substr(0, 5)));

  // The trickling client sends a byte every 150 ms (its CONNECT would take ~6 s to finish).
  bool trickle_closed = false;
  for (size_t i = 0; i < connect.size() && SecondsSince(start) < 4.0; ++i) {
    if (!trickle->SendRaw(connect.substr(i, 1)).ok()) {
      break;  // closed by the server
    }
    ASSERT_OK_AND_ASSIGN(CloseResult r, trickle->WaitForClose(milliseconds(150)));
    if (r.closed) {
      trickle_closed = true;
      EXPECT_TRUE(r.others.empty() && !r.disconnect) << "no CONNACK for an incomplete CONNECT";
      break;
    }
  }
  const double trickle_s = SecondsSince(start);
  EXPECT_TRUE(trickle_closed || trickle->closed_by_server())
      << "a CONNECT trickled over more than the timeout was not cut off";
  EXPECT_LE(trickle_s, 3.0) << "closed too late";
  EXPECT_GE(trickle_s, 0.9) << "closed before the timeout";

  for (MqttClient* c : {silent.get(), partial.get()}) {
    ASSERT_OK_AND_ASSIGN(CloseResult r, c->WaitForClose(milliseconds(4000)));
    const double s = SecondsSince(start);
    EXPECT_TRUE(r.closed) << "not closed after " << s << " s";
    EXPECT_TRUE(r.others.empty() && !r.disconnect) << "nothing is sent before CONNECT";
    EXPECT_LE(s, 3.0) << "closed too late";
  }
  // The timeout is about the first packet: the connected client idles on.
  EXPECT_OK(connected->Ping());
  EXPECT_OK(connected->Disconnect());
}

// The first-packet timeout runs from the accept: with --connect-timeout 2, connections that
// reach a broker idle for a while and send CONNECT after 1 s are accepted.
TEST_F(ConnectTest, ConnectTimeoutCountsFromAccept) {
  if (!is_ringmq()) {
    GTEST_SKIP() << "--connect-timeout is a ringmq flag";
  }
  StartBroker({"--connect-timeout", "2", "--sys-interval", "0"});
  std::this_thread::sleep_for(milliseconds(2500));  // the subject: a broker idle for a while
  std::vector<std::unique_ptr<MqttClient>> clients;
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK_AND_ASSIGN(auto c,
                         MqttClient::ConnectRaw(port(), VersionOptions(ProtocolVersion::kMqtt311)));
    clients.push_back(std::move(c));
  }
  const Clock::time_point start = Clock::now();
  for (size_t i = 0; i < clients.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "client " << i);
    ASSERT_OK_AND_ASSIGN(CloseResult r, clients[i]->WaitForClose(milliseconds(500)));
    EXPECT_FALSE(r.closed) << "closed " << SecondsSince(start)
                           << " s after the accept, with a 2 s timeout";
  }
  std::this_thread::sleep_until(start + milliseconds(1000));
  for (size_t i = 0; i < clients.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "client " << i);
    if (clients[i]->closed_by_server()) {
      continue;  // reported above
    }
    ConnectOptions o = VersionOptions(ProtocolVersion::kMqtt311);
    o.client_id = "after-idle-" + std::to_string(i);
    ASSERT_OK(clients[i]->SendConnect(o));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket ack, clients[i]->AwaitConnack());
    EXPECT_EQ(ack.reason(), ReasonCode::kSuccess) << ack;
  }
}

// ---- CONNACK properties (5.0) -----------------------------------------------------------------

// §3.2.2.3: Receive Maximum, Maximum Packet Size and Topic Alias Maximum announce the
// configured limits; Server Keep Alive appears only when the server lowered the client's
// keep alive [MQTT-3.1.2-21], [MQTT-3.2.2-21/22]. No CONNACK for 3.x carries properties.
TEST_F(ConnectTest, V5ConnackPropertiesAnnounceLimits) {
  if (!is_ringmq()) {
    GTEST_SKIP() << "limits set with ringmq flags";
  }
  StartBroker({"--max-inflight", "7", "--max-packet-size", "4096", "--max-topic-alias", "3",
               "--max-keepalive", "100"});
  {
    ConnectOptions o;
    o.keep_alive_s = 30;
    ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
    const mqtt::Properties& p = c->connack()->properties();
    EXPECT_TRUE(p.Has(PropertyId::kReceiveMaximum));
    EXPECT_EQ(c->server().receive_maximum, 7);
    EXPECT_TRUE(p.Has(PropertyId::kMaximumPacketSize));
    EXPECT_EQ(c->server().maximum_packet_size, 4096u);
    EXPECT_EQ(c->server().topic_alias_maximum, 3);
    EXPECT_FALSE(c->server().server_keep_alive_s.has_value())
        << "30 s is within the maximum: nothing to announce";
    EXPECT_FALSE(p.Has(PropertyId::kAssignedClientIdentifier));
    EXPECT_FALSE(p.Has(PropertyId::kAuthenticationMethod)) << "[MQTT-4.12.0-6]";
    EXPECT_FALSE(p.Has(PropertyId::kResponseInformation)) << "[MQTT-3.1.2-28]";
    ASSERT_OK(c->Disconnect());
  }
  for (uint16_t asked : {200, 0}) {
    SCOPED_TRACE(::testing::Message() << "client keep alive " << asked);
    ConnectOptions o;
    o.keep_alive_s = asked;
    ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
    ASSERT_TRUE(c->server().server_keep_alive_s.has_value()) << *c->connack();
    EXPECT_EQ(*c->server().server_keep_alive_s, 100);
    ASSERT_OK(c->Disconnect());
  }
  for (ProtocolVersion v : {ProtocolVersion::kMqtt31, ProtocolVersion::kMqtt311}) {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(VersionOptions(v)));
    EXPECT_EQ(c->connack()->bytes(), V3Connack(0));
    ASSERT_OK(c->Disconnect());
  }
}

// With no limits configured the announced values are still consistent with what the server
// accepts: the default broker announces a Maximum Packet Size at least as large as a packet
// it then accepts, and no Server Keep Alive.
TEST_F(ConnectTest, V5ConnackDefaultsAreConsistent) {
  ASSERT_OK_AND_ASSIGN(auto c, Connect());
  EXPECT_FALSE(c->server().server_keep_alive_s.has_value()) << *c->connack();
  EXPECT_GT(c->server().receive_maximum, 0);
  const std::string payload(1000, 'x');
  ASSERT_LT(payload.size() + 64, c->server().maximum_packet_size);
  ASSERT_OK_AND_ASSIGN(PublishResult r, c->Publish("defaults/t", payload, Qos::k1));
  EXPECT_FALSE(mqtt::IsFailure(r.reason())) << *r.puback;
}

// ---- pipelining --------------------------------------------------------------------------------

// CONNECT followed, in the same write, by SUBSCRIBE, PUBLISH (QoS 1 and 0), PINGREQ,
// UNSUBSCRIBE, PUBLISH and PINGREQ: nothing comes before the CONNACK [MQTT-3.2.0-1], and the
// packets take effect in order: the two PUBLISHes after the SUBSCRIBE reach the client's own
// subscription, the one after the UNSUBSCRIBE does not; each request is answered
// [MQTT-3.8.4-1], [MQTT-3.10.4-4], [MQTT-3.12.4-1], PUBACKs in PUBLISH order [MQTT-4.6.0-2].
// Parameters: version, debug deferral of CONNACK/SUBACK/PUBACK decisions (ms), and whether the
// bytes go in one write or in small pieces.
class PipelineTest : public BrokerTest,
                     public ::testing::WithParamInterface<std::tuple<ProtocolVersion, int, bool>> {
};

// Sends the pipelined packets for client `id` and checks the answers; the client is left
// connected in *out, for the check that nothing more arrives.
void CheckPipelined(uint16_t port, ProtocolVersion v, const std::string& id, bool split,
                    std::unique_ptr<MqttClient>* out) {
  std::string bytes;
  mqtt::Connect connect;
  connect.version = v;
  connect.client_id = id;
  connect.keep_alive_s = 60;
  mqtt::AppendEncoded(connect, v, &bytes);
  mqtt::Subscribe sub;
  sub.packet_id = 1;
  sub.subscriptions.push_back({"pipe/t", {.max_qos = Qos::k1}});
  mqtt::AppendEncoded(sub, v, &bytes);
  mqtt::AppendEncoded(
      mqtt::Publish{.topic = "pipe/t", .payload = "one", .qos = Qos::k1, .packet_id = 2}, v,
      &bytes);
  mqtt::AppendEncoded(mqtt::Publish{.topic = "pipe/t", .payload = "two"}, v, &bytes);
  mqtt::AppendEncoded(mqtt::Pingreq{}, v, &bytes);
  mqtt::Unsubscribe unsub;
  unsub.packet_id = 3;
  unsub.filters.push_back("pipe/t");
  mqtt::AppendEncoded(unsub, v, &bytes);
  mqtt::AppendEncoded(
      mqtt::Publish{.topic = "pipe/t", .payload = "three", .qos = Qos::k1, .packet_id = 4}, v,
      &bytes);
  mqtt::AppendEncoded(mqtt::Pingreq{}, v, &bytes);

  ASSERT_OK_AND_ASSIGN(*out, MqttClient::ConnectRaw(port, VersionOptions(v)));
  MqttClient* c = out->get();
  if (split) {
    // Pieces of 1..7 bytes, so packet boundaries fall anywhere.
    size_t off = 0;
    for (size_t k = 0; off < bytes.size(); ++k) {
      const size_t n = std::min(bytes.size() - off, 1 + (k * 5) % 7);
      ASSERT_OK(c->SendRaw(std::string_view(bytes).substr(off, n)));
      off += n;
    }
  } else {
    ASSERT_OK(c->SendRaw(bytes));
  }

  ASSERT_OK_AND_ASSIGN(ReceivedPacket first, c->Receive());
  ASSERT_EQ(first.type(), PacketType::kConnack) << "[MQTT-3.2.0-1]: " << first;
  ASSERT_EQ(first.reason(), ReasonCode::kSuccess) << first;
  // Expected: SUBACK 1, UNSUBACK 3, PUBACK 2 and 4, two PINGRESPs, two PUBLISHes.
  std::vector<ReceivedPacket> got;
  size_t acks = 0;
  size_t pingresps = 0;
  size_t publishes = 0;
  while (acks < 4 || pingresps < 2 || publishes < 2) {
    absl::StatusOr<ReceivedPacket> p = c->Receive();
    ASSERT_TRUE(p.ok()) << p.status() << "; received so far: " << got.size() << " packets";
    got.push_back(*p);
    switch (p->type()) {
      case PacketType::kSuback:
      case PacketType::kUnsuback:
      case PacketType::kPuback:
        ++acks;
        break;
      case PacketType::kPingresp:
        ++pingresps;
        break;
      case PacketType::kPublish:
        ++publishes;
        break;
      default:
        ADD_FAILURE() << "unexpected " << *p;
        return;
    }
  }
  std::vector<std::string> payloads;
  std::vector<uint16_t> puback_ids;
  for (const ReceivedPacket& p : got) {
    if (p.type() == PacketType::kPublish) {
      EXPECT_EQ(p.publish().topic, "pipe/t");
      payloads.emplace_back(p.publish().payload);
    } else if (p.type() == PacketType::kPuback) {
      puback_ids.push_back(p.As<mqtt::Puback>().packet_id);
      EXPECT_FALSE(mqtt::IsFailure(p.reason())) << p;
    } else if (p.type() == PacketType::kSuback) {
      EXPECT_EQ(p.As<mqtt::Suback>().packet_id, 1);
      ASSERT_EQ(p.As<mqtt::Suback>().reasons.size(), 1u);
      EXPECT_EQ(p.As<mqtt::Suback>().reasons[0], ReasonCode::kGrantedQos1) << p;
    } else if (p.type() == PacketType::kUnsuback) {
      EXPECT_EQ(p.As<mqtt::Unsuback>().packet_id, 3);
    }
  }
  std::sort(payloads.begin(), payloads.end());
  EXPECT_EQ(payloads, (std::vector<std::string>{"one", "two"}))
      << "the SUBSCRIBE must take effect before the PUBLISHes after it";
  EXPECT_EQ(puback_ids, (std::vector<uint16_t>{2, 4})) << "[MQTT-4.6.0-2]";
}

TEST_P(PipelineTest, PacketsAfterConnectProcessedAfterConnackInOrder) {
  const auto [v, defer_ms, split] = GetParam();
  if (defer_ms > 0) {
    StartBroker({"--debug-defer-ms", std::to_string(defer_ms)});
  }
  // Several client ids, so some sessions live on the accepting shard and some on the other
  // (the connection moves there with the bytes that followed its CONNECT).
  std::vector<std::unique_ptr<MqttClient>> clients(4);
  for (size_t i = 0; i < clients.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "client " << i);
    CheckPipelined(port(), v, "pipe-" + std::to_string(i), split, &clients[i]);
    if (::testing::Test::HasFatalFailure()) {
      return;
    }
  }
  // "three" was published after the UNSUBSCRIBE: it reaches nobody. One quiet period covers
  // every client (each had it earlier than the first one checked).
  for (size_t i = 0; i < clients.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "client " << i);
    EXPECT_OK(clients[i]->ExpectNoPacket(i == 0 ? kQuiet : milliseconds(0)));
    EXPECT_OK(clients[i]->Disconnect());
  }
}

std::string PipelineName(
    const ::testing::TestParamInfo<std::tuple<ProtocolVersion, int, bool>>& info) {
  const auto [v, defer_ms, split] = info.param;
  return VersionName(::testing::TestParamInfo<ProtocolVersion>(v, 0)) + "_defer" +
         std::to_string(defer_ms) + (split ? "_split" : "_onewrite");
}

INSTANTIATE_TEST_SUITE_P(All, PipelineTest,
                         ::testing::Combine(RINGMQ_ALL_VERSIONS, ::testing::Values(0, 50),
                                            ::testing::Bool()),
                         PipelineName);

// A client that sends CONNECT, PUBLISH and DISCONNECT back to back and then closes its side
// of the connection (fire and forget) has its packets processed in order: the server owns a
// QoS 0 message once it has received it and passes it on [MQTT-4.5.0-1], and the will is
// discarded by the DISCONNECT [MQTT-3.14.4-3]; also while the CONNECT, or a SUBSCRIBE before
// the PUBLISH, waits for its decision (--debug-defer-ms 50). Parameters: version, deferral
// (ms).
class FireAndForgetTest : public BrokerTest,
                          public ::testing::WithParamInterface<std::tuple<ProtocolVersion, int>> {};

TEST_P(FireAndForgetTest, PublishAfterConnectBeforeDisconnectAndCloseIsProcessed) {
  const auto [v, defer_ms] = GetParam();
  if (defer_ms > 0) {
    StartBroker({"--debug-defer-ms", std::to_string(defer_ms)});
  }
  ASSERT_OK_AND_ASSIGN(auto watcher, Connect());
  ASSERT_OK(watcher->Subscribe("fire/#", Qos::k0));
  // Several client ids, so that some sessions live on the accepting shard.
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(::testing::Message() << "client " << i);
    const std::string id = "fire-" + std::to_string(i);
    ConnectOptions o = VersionOptions(v);
    o.client_id = id;
    mqtt::Connect connect;
    connect.version = v;
    connect.client_id = id;
    connect.keep_alive_s = 60;
    connect.will = mqtt::Will{.topic = "fire/will", .payload = "must not be published"};
    std::string bytes;
    mqtt::AppendEncoded(connect, v, &bytes);
    mqtt::AppendEncoded(mqtt::Publish{.topic = "fire/t", .payload = id}, v, &bytes);
    ASSERT_OK_AND_ASSIGN(auto c, MqttClient::ConnectRaw(port(), o));
    ASSERT_OK(c->SendRaw(bytes));
    // DISCONNECT, then FIN; waits for the server to close.
    EXPECT_OK(c->Disconnect());
    ASSERT_OK_AND_ASSIGN(ReceivedPacket m, watcher->ExpectPublish(milliseconds(2000)));
    EXPECT_EQ(m.publish().topic, "fire/t") << m;
    EXPECT_EQ(m.publish().payload, id) << m;
  }
  EXPECT_OK(watcher->ExpectNoPacket(kQuiet));
}

// The same after the CONNACK, behind a SUBSCRIBE that waits for its decision.
TEST_P(FireAndForgetTest, PublishAfterSubscribeBeforeDisconnectAndCloseIsProcessed) {
  const auto [v, defer_ms] = GetParam();
  if (defer_ms > 0) {
    StartBroker({"--debug-defer-ms", std::to_string(defer_ms)});
  }
  ASSERT_OK_AND_ASSIGN(auto watcher, Connect());
  ASSERT_OK(watcher->Subscribe("fire/#", Qos::k0));
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(::testing::Message() << "connected client " << i);
    const std::string id = "fire-sub-" + std::to_string(i);
    ConnectOptions o = VersionOptions(v);
    o.client_id = id;
    o.will = WillOptions{.topic = "fire/will", .payload = "must not be published"};
    ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
    std::string bytes;
    mqtt::Subscribe sub;
    sub.packet_id = 1;
    sub.subscriptions.push_back({"fire/own", {}});
    mqtt::AppendEncoded(sub, v, &bytes);
    mqtt::AppendEncoded(mqtt::Publish{.topic = "fire/t", .payload = id}, v, &bytes);
    ASSERT_OK(c->SendRaw(bytes));
    EXPECT_OK(c->Disconnect());
    ASSERT_OK_AND_ASSIGN(ReceivedPacket m, watcher->ExpectPublish(milliseconds(2000)));
    EXPECT_EQ(m.publish().topic, "fire/t") << m;
    EXPECT_EQ(m.publish().payload, id) << m;
  }
  EXPECT_OK(watcher->ExpectNoPacket(kQuiet));
}

std::string FireName(const ::testing::TestParamInfo<std::tuple<ProtocolVersion, int>>& info) {
  const auto [v, defer_ms] = info.param;
  return VersionName(::testing::TestParamInfo<ProtocolVersion>(v, 0)) + "_defer" +
         std::to_string(defer_ms);
}

INSTANTIATE_TEST_SUITE_P(All, FireAndForgetTest,
                         ::testing::Combine(RINGMQ_ALL_VERSIONS, ::testing::Values(0, 50)),
                         FireName);

INSTANTIATE_TEST_SUITE_P(All, ConnectVersionTest, RINGMQ_ALL_VERSIONS, VersionName);

}  // namespace
}  // namespace ringmq::testing
