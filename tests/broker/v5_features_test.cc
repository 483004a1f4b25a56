// Broker integration tests: MQTT 5 features of PUBLISH and delivery, against the 5.0
// specification: properties forwarded unchanged, Message Expiry, Topic Aliases in both
// directions, the client's Maximum Packet Size, and Request Problem Information. Tests named
// "..._defer" run the broker with --debug-defer-ms 50 (every PUBACK/PUBREC decision held).
//
// Statement ids are named per test; the list is in /work/shared/mqtt-normative.md.
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

#include "core/mqtt/packets.h"
#include "core/mqtt/properties.h"
#include "tests/broker/broker_test_base.h"
#include "tests/broker/message_test_util.h"
#include "tests/broker/pubsub_test_util.h"
#include "tests/testing/mqtt_client.h"
#include "tests/testing/status_macros.h"

namespace ringmq::testing {
namespace {

using mqtt::PacketType;
using mqtt::PropertyId;
using mqtt::ProtocolVersion;
using mqtt::Qos;
using mqtt::ReasonCode;

ConnectOptions V5WithAliasMaximum(std::string id, uint16_t maximum) {
  ConnectOptions o = V5(std::move(id));
  o.properties.SetTopicAliasMaximum(maximum);
  return o;
}

// Sends `p` and expects the server to answer with DISCONNECT `rc` and close.
void ExpectDisconnectFor(MqttClient& c, const mqtt::Publish& p, ReasonCode rc) {
  ASSERT_OK(c.Send(p));
  ExpectClosedWith(c, rc);
}

class V5FeaturesTest : public BrokerTest {};

class V5FeaturesDeferTest : public DeferBrokerTest {};

INSTANTIATE_TEST_SUITE_P(Defer, V5FeaturesDeferTest, ::testing::Bool(), DeferParamName);

// ---- properties ------------------------------------------------------------------------------

// [MQTT-3.3.2-4] Payload Format Indicator, [MQTT-3.3.2-15] Response Topic, [MQTT-3.3.2-16]
// Correlation Data, [MQTT-3.3.2-20] Content Type and [MQTT-3.3.2-17] every User Property reach
// every subscriber unchanged, [MQTT-3.3.2-18] the User Properties in their order (repeated
// names and pairs included), at every QoS, across shards. A message without properties
// arrives without them (and without a Message Expiry Interval).
TEST_P(V5FeaturesDeferTest, PropertiesForwardedUnchanged) {
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 4), V5()));
  for (auto& s : subs) {
    ASSERT_OK(SubscribeGranted(*s, "props/t", Qos::k2));
  }
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 2), V5()));
  const UserProperties user = {{"z", "1"}, {"a", "2"}, {"z", "0"},
                               {"a", "2"}, {"", ""},   {"k\xc3\xa9y", "v\xc3\xa1lue"}};
  const std::string correlation("\x00\x01\xfe\xff", 4);
  for (auto& p : pubs) {
    for (Qos qos : {Qos::k0, Qos::k1, Qos::k2}) {
      PublishOptions o;
      o.qos = qos;
      o.properties.SetPayloadFormatIndicator(1);
      o.properties.SetContentType("application/json; charset=utf-8");
      o.properties.SetResponseTopic("resp/\xc3\xa4");
      o.properties.SetCorrelationData(correlation);
      o.user_properties = user;
      ASSERT_OK(p->Publish("props/t", "{\"k\": 1}", o));
      ASSERT_OK(p->Publish("props/t", "bare", qos));
    }
  }
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 2 * 3 * pubs.size()));
    for (const ReceivedPacket& m : got) {
      const mqtt::Properties& p = m.properties();
      if (m.publish().payload == "bare") {
        EXPECT_FALSE(p.Has(PropertyId::kPayloadFormatIndicator)) << m;
        EXPECT_FALSE(p.Has(PropertyId::kContentType)) << m;
        EXPECT_FALSE(p.Has(PropertyId::kResponseTopic)) << m;
        EXPECT_FALSE(p.Has(PropertyId::kCorrelationData)) << m;
        EXPECT_FALSE(p.Has(PropertyId::kMessageExpiryInterval)) << m;
        EXPECT_TRUE(m.user_properties().empty()) << m;
        continue;
      }
      ASSERT_TRUE(p.Has(PropertyId::kPayloadFormatIndicator)) << m;
      EXPECT_EQ(p.payload_format_indicator, 1);
      ASSERT_TRUE(p.Has(PropertyId::kContentType)) << m;
      EXPECT_EQ(p.content_type, "application/json; charset=utf-8");
      ASSERT_TRUE(p.Has(PropertyId::kResponseTopic)) << m;
      EXPECT_EQ(p.response_topic, "resp/\xc3\xa4");
      ASSERT_TRUE(p.Has(PropertyId::kCorrelationData)) << m;
      EXPECT_EQ(p.correlation_data, correlation);
      EXPECT_EQ(m.user_properties(), user);
      EXPECT_FALSE(p.Has(PropertyId::kMessageExpiryInterval)) << m;
    }
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// [MQTT-3.3.2-6] the Message Expiry Interval a subscriber receives is the publisher's minus
// the time the message waited in the broker (about 0 for a connected subscriber, at least the
// time away for one that was disconnected); [MQTT-3.3.2-5] a message that expires while queued
// for a disconnected subscriber is not sent to it. Messages without the property never expire.
TEST_F(V5FeaturesTest, MessageExpiryDecrementedAndExpiredDropped) {
  ConnectOptions persistent = V5();
  persistent.clean_start = true;
  persistent.properties.SetSessionExpiryInterval(300);
  ASSERT_OK_AND_ASSIGN(auto away, ConnectAll(port(), SpreadIds("away", 2), persistent));
  for (auto& s : away) {
    ASSERT_OK(SubscribeGranted(*s, "exp/t", Qos::k1));
    ASSERT_OK(s->Disconnect());
  }
  ASSERT_OK_AND_ASSIGN(auto online, ConnectAll(port(), SpreadIds("sub", 2), V5()));
  for (auto& s : online) {
    ASSERT_OK(SubscribeGranted(*s, "exp/t", Qos::k1));
  }
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5(SpreadId("pub", 0))));
  for (auto [payload, expiry] :
       std::vector<std::pair<std::string, uint32_t>>{{"short", 1}, {"long", 60}, {"never", 0}}) {
    PublishOptions o;
    o.qos = Qos::k1;
    if (expiry > 0) {
      o.properties.SetMessageExpiryInterval(expiry);
    }
    ASSERT_OK(pub->Publish("exp/t", payload, o));
  }
  for (auto& s : online) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 3));
    EXPECT_EQ(got[0].publish().payload, "short");
    EXPECT_EQ(got[0].properties().message_expiry_interval_s, 1u);
    EXPECT_EQ(got[1].publish().payload, "long");
    EXPECT_GE(got[1].properties().message_expiry_interval_s, 59u);
    EXPECT_LE(got[1].properties().message_expiry_interval_s, 60u);
    EXPECT_EQ(got[2].publish().payload, "never");
    EXPECT_FALSE(got[2].properties().Has(PropertyId::kMessageExpiryInterval));
  }
  // The subject is the passing of time: "short" expires while its subscribers are away.
  EXPECT_OK(pub->ExpectNoPacket(milliseconds(1500)));
  ConnectOptions resume = persistent;
  resume.clean_start = false;
  ASSERT_OK_AND_ASSIGN(auto back, ConnectAll(port(), SpreadIds("away", 2), resume));
  for (auto& s : back) {
    SCOPED_TRACE(s->client_id());
    EXPECT_TRUE(s->server().session_present);
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 2));
    EXPECT_EQ(got[0].publish().payload, "long");
    ASSERT_TRUE(got[0].properties().Has(PropertyId::kMessageExpiryInterval)) << got[0];
    EXPECT_LE(got[0].properties().message_expiry_interval_s, 59u);
    EXPECT_GE(got[0].properties().message_expiry_interval_s, 50u);
    EXPECT_EQ(got[1].publish().payload, "never");
    EXPECT_FALSE(got[1].properties().Has(PropertyId::kMessageExpiryInterval));
  }
  EXPECT_OK(ExpectAllQuiet(Raw(back)));
}

// ---- topic aliases, client -> server ---------------------------------------------------------

// [MQTT-3.3.2-12] the server accepts every alias from 1 to the Topic Alias Maximum it announced:
// an alias is set by a PUBLISH with topic and alias, used by one with an empty topic, and can
// be mapped again. Subscribers (which allow no aliases) get the topic names.
TEST_P(V5FeaturesDeferTest, InboundTopicAliasesResolved) {
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 4), V5()));
  for (auto& s : subs) {
    ASSERT_OK(SubscribeGranted(*s, "ta/#", Qos::k1));
  }
  ConnectOptions po = V5(SpreadId("pub", 0));
  po.auto_ack = false;
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(po));
  const uint16_t maximum = pub->server().topic_alias_maximum;
  ASSERT_GE(maximum, 2) << "the broker announces Topic Alias Maximum " << maximum;
  struct Step {
    std::string topic;  // empty: alias only
    uint16_t alias;
    std::string expected_topic;
  };
  const std::vector<Step> steps = {
      {"ta/one", 1, "ta/one"}, {"", 1, "ta/one"},           {"ta/max", maximum, "ta/max"},
      {"", maximum, "ta/max"}, {"ta/two", 1, "ta/two"},     {"", 1, "ta/two"},
      {"", maximum, "ta/max"}, {"ta/plain", 0, "ta/plain"}, {"", 1, "ta/two"},
  };
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& st = steps[i];
    const std::string payload = std::to_string(i);
    mqtt::Publish p =
        MakePublish(st.topic, payload, i % 2 == 0 ? Qos::k1 : Qos::k0, pub->NextPacketId());
    if (st.alias != 0) {
      p.properties.SetTopicAlias(st.alias);
    }
    ASSERT_OK(pub->Send(p));
    if (p.qos == Qos::k1) {
      ASSERT_OK_AND_ASSIGN(ReceivedPacket ack, pub->Expect(PacketType::kPuback));
      EXPECT_EQ(ack.reason(), ReasonCode::kSuccess) << "step " << i;
    }
  }
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, steps.size()));
    for (size_t i = 0; i < steps.size(); ++i) {
      EXPECT_EQ(got[i].publish().payload, std::to_string(i));
      EXPECT_EQ(got[i].publish().topic, steps[i].expected_topic) << "step " << i;
      EXPECT_EQ(got[i].wire_topic(), steps[i].expected_topic) << "step " << i;
      EXPECT_FALSE(got[i].properties().Has(PropertyId::kTopicAlias)) << got[i];
    }
  }
}

// [MQTT-3.2.2-17] (client rule; broker: 0x94) an alias above the Topic Alias Maximum in the
// CONNACK, and [MQTT-3.3.2-8] alias 0, are "Topic Alias invalid": DISCONNECT 0x94 and close.
// With --max-topic-alias 0 the CONNACK announces none and any alias is invalid
// [MQTT-3.2.2-18].
TEST_F(V5FeaturesTest, TopicAliasAboveMaximumIsInvalid) {
  for (Qos qos : {Qos::k0, Qos::k1}) {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(V5()));
    mqtt::Publish p = MakePublish("ta/t", "x", qos, 1);
    p.properties.SetTopicAlias(static_cast<uint16_t>(c->server().topic_alias_maximum + 1));
    ExpectDisconnectFor(*c, p, ReasonCode::kTopicAliasInvalid);
  }
  {
    // Alias 0 cannot be encoded with the client's encoder checks in the way; send the bytes.
    ASSERT_OK_AND_ASSIGN(auto c, Connect(V5()));
    // PUBLISH QoS 0, topic "t", properties: Topic Alias (0x23) = 0, payload "x".
    const std::string raw("\x30\x08\x00\x01t\x03\x23\x00\x00x", 10);
    ASSERT_OK(c->SendRaw(raw));
    ASSERT_OK_AND_ASSIGN(CloseResult r, c->WaitForClose());
    EXPECT_TRUE(r.closed);
    ASSERT_TRUE(r.disconnect.has_value());
    EXPECT_EQ(r.disconnect->reason(), ReasonCode::kTopicAliasInvalid);
  }
  if (!is_ringmq()) {
    return;
  }
  StartBroker({"--max-topic-alias", "0"});
  ASSERT_OK_AND_ASSIGN(auto c, Connect(V5()));
  EXPECT_FALSE(c->connack()->properties().Has(PropertyId::kTopicAliasMaximum));
  EXPECT_EQ(c->server().topic_alias_maximum, 0);
  mqtt::Publish p = MakePublish("ta/t", "x", Qos::k1, 1);
  p.properties.SetTopicAlias(1);
  ExpectDisconnectFor(*c, p, ReasonCode::kTopicAliasInvalid);
}

// 5.0 §3.3.2.3.4: an empty Topic Name with an alias the connection never mapped is a Protocol
// Error (DISCONNECT 0x82); [MQTT-3.3.2-7] mappings do not carry over to a new connection of the
// same session.
TEST_F(V5FeaturesTest, UnknownOrStaleInboundAliasIsProtocolError) {
  ASSERT_OK_AND_ASSIGN(auto sub, Connect(V5(SpreadId("sub", 0))));
  ASSERT_OK(SubscribeGranted(*sub, "ta/#", Qos::k1));
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(V5(SpreadId("pub", 0))));
    mqtt::Publish p = MakePublish("", "x", Qos::k1, 1);
    p.properties.SetTopicAlias(5);
    ExpectDisconnectFor(*c, p, ReasonCode::kProtocolError);
  }
  ConnectOptions persistent = V5(SpreadId("pub", 1));
  persistent.properties.SetSessionExpiryInterval(60);
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(persistent));
    mqtt::Publish p = MakePublish("ta/set", "first", Qos::k1, 1);
    p.properties.SetTopicAlias(3);
    ASSERT_OK(c->Send(p));
    ASSERT_OK(c->AwaitAck(PacketType::kPuback, 1));
    ASSERT_OK(c->Disconnect());
  }
  ASSERT_OK_AND_ASSIGN(ReceivedPacket first, sub->ExpectPublish());
  EXPECT_EQ(first.publish().topic, "ta/set");
  persistent.clean_start = false;
  ASSERT_OK_AND_ASSIGN(auto again, Connect(persistent));
  EXPECT_TRUE(again->server().session_present);
  mqtt::Publish p = MakePublish("", "stale", Qos::k1, 2);
  p.properties.SetTopicAlias(3);
  ExpectDisconnectFor(*again, p, ReasonCode::kProtocolError);
  EXPECT_OK(sub->ExpectNoPacket(kQuiet));
}

// ---- topic aliases, server -> client ---------------------------------------------------------

// [MQTT-3.1.2-26], [MQTT-3.3.2-11] the server's aliases stay within the client's Topic Alias
// Maximum (the test client rejects any alias above it, and an alias-only PUBLISH for an alias
// never mapped); [MQTT-3.3.2-3] the (resolved) topic is the one published. ringmq uses aliases
// when the client allows them, reusing them for repeated topics.
TEST_F(V5FeaturesTest, OutboundAliasesWithinClientMaximum) {
  ASSERT_OK_AND_ASSIGN(auto subs,
                       ConnectAll(port(), SpreadIds("sub", 4), V5WithAliasMaximum("", 2)));
  for (auto& s : subs) {
    ASSERT_OK(SubscribeGranted(*s, "oa/#", Qos::k1));
  }
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 2), V5()));
  std::vector<std::string> sent;
  for (int round = 0; round < 3; ++round) {
    for (int t = 0; t < 5; ++t) {
      const std::string topic = absl::StrFormat("oa/%d", t);
      ASSERT_OK(pubs[t % 2]->Publish(topic, topic, t % 2 == 0 ? Qos::k1 : Qos::k0));
      sent.push_back(topic);
    }
  }
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, sent.size()));
    std::multiset<std::string> topics;
    int with_alias = 0;
    int alias_only = 0;
    for (const ReceivedPacket& m : got) {
      EXPECT_EQ(m.publish().topic, m.publish().payload) << m;
      topics.insert(std::string(m.publish().topic));
      if (m.properties().Has(PropertyId::kTopicAlias)) {
        ++with_alias;
        EXPECT_GE(m.properties().topic_alias, 1);
        EXPECT_LE(m.properties().topic_alias, 2);
        alias_only += m.wire_topic().empty() ? 1 : 0;
      }
    }
    EXPECT_EQ(topics, std::multiset<std::string>(sent.begin(), sent.end()));
    if (is_ringmq()) {
      EXPECT_GT(with_alias, 0);
      EXPECT_GT(alias_only, 0);
    }
  }
}

// [MQTT-3.1.2-27] a client that announced no Topic Alias Maximum, or 0, gets no aliases; and
// none with --topic-alias-outbound=false whatever it announced.
TEST_F(V5FeaturesTest, NoOutboundAliasesUnlessAllowed) {
  auto check = [&](std::vector<std::unique_ptr<MqttClient>>& subs) {
    for (auto& s : subs) {
      ASSERT_OK(SubscribeGranted(*s, "na/#", Qos::k1));
    }
    ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5(SpreadId("pub", 0))));
    for (int i = 0; i < 6; ++i) {
      ASSERT_OK(pub->Publish(absl::StrFormat("na/%d", i % 2), "x", Qos::k1));
    }
    for (auto& s : subs) {
      ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 6));
      for (const ReceivedPacket& m : got) {
        EXPECT_FALSE(m.properties().Has(PropertyId::kTopicAlias)) << s->client_id() << ": " << m;
        EXPECT_FALSE(m.wire_topic().empty()) << m;
      }
    }
  };
  {
    ASSERT_OK_AND_ASSIGN(auto absent, ConnectAll(port(), SpreadIds("absent", 2), V5()));
    ASSERT_OK_AND_ASSIGN(auto zero,
                         ConnectAll(port(), SpreadIds("zero", 2), V5WithAliasMaximum("", 0)));
    check(absent);
    check(zero);
  }
  if (!is_ringmq()) {
    return;
  }
  StartBroker({"--topic-alias-outbound=false"});
  ASSERT_OK_AND_ASSIGN(auto allowed,
                       ConnectAll(port(), SpreadIds("sub", 2), V5WithAliasMaximum("", 10)));
  check(allowed);
}

// [MQTT-3.3.2-7] the server's alias mappings belong to one connection: after the client
// reconnects to its session, messages queued while it was away, and an unacknowledged one
// sent again, carry their topic name again (the test client rejects an alias-only PUBLISH for
// an alias not mapped on its connection).
TEST_F(V5FeaturesTest, OutboundAliasesArePerConnection) {
  ConnectOptions o = V5WithAliasMaximum(SpreadId("sub", 0), 10);
  o.properties.SetSessionExpiryInterval(60);
  o.auto_ack = false;
  for (const std::string& id : SpreadIds("sub", 2)) {
    SCOPED_TRACE(id);
    o.client_id = id;
    o.clean_start = true;
    ASSERT_OK_AND_ASSIGN(auto sub, Connect(o));
    ASSERT_OK(SubscribeGranted(*sub, "pc/t", Qos::k1));
    ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5(SpreadId("pub", 0))));
    ASSERT_OK(pub->Publish("pc/t", "1", Qos::k1));
    ASSERT_OK(pub->Publish("pc/t", "2", Qos::k1));
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*sub, 2));
    ASSERT_OK(sub->Send([&] {
      mqtt::Puback a;
      a.packet_id = got[0].publish().packet_id;
      return a;
    }()));
    // "2" stays unacknowledged. Away, then a third message is queued.
    sub->CloseSocket();
    ASSERT_OK(pub->Publish("pc/t", "3", Qos::k1));
    o.clean_start = false;
    ASSERT_OK_AND_ASSIGN(auto back, Connect(o));
    EXPECT_TRUE(back->server().session_present);
    ASSERT_OK_AND_ASSIGN(auto again, ExpectPublishes(*back, 2));
    EXPECT_EQ(again[0].publish().payload, "2");
    EXPECT_TRUE(again[0].publish().dup);
    EXPECT_EQ(again[1].publish().payload, "3");  // DUP if it went out before the close was seen
    // The first PUBLISH of the new connection names its topic; the next may use the alias it
    // maps (the test client checks that).
    EXPECT_EQ(again[0].wire_topic(), "pc/t") << again[0];
    for (const ReceivedPacket& m : again) {
      mqtt::Puback a;
      a.packet_id = m.publish().packet_id;
      ASSERT_OK(back->Send(a));
    }
    ASSERT_OK(back->Disconnect());
  }
}

// ---- the client's Maximum Packet Size --------------------------------------------------------

// [MQTT-3.1.2-24] the server never sends a packet larger than the client's Maximum Packet
// Size; [MQTT-3.1.2-25] such a message is dropped for that client as if delivered (it takes no
// place in the QoS 1 window: the next message comes at once), and other subscribers, on both
// shards, get it. The same for a retained message sent on subscription.
TEST_F(V5FeaturesTest, MessagesOverClientMaximumPacketSizeAreSkipped) {
  constexpr uint32_t kLimit = 128;
  const std::string big(300, 'B');
  ConnectOptions small = V5();
  small.properties.SetMaximumPacketSize(kLimit);
  small.properties.SetReceiveMaximum(1);
  ASSERT_OK_AND_ASSIGN(auto limited, ConnectAll(port(), SpreadIds("small", 2), small));
  ASSERT_OK_AND_ASSIGN(auto unlimited, ConnectAll(port(), SpreadIds("sub", 2), V5()));
  for (auto* s : Raw(limited)) {
    ASSERT_OK(SubscribeGranted(*s, "mps/t", Qos::k1));
  }
  for (auto* s : Raw(unlimited)) {
    ASSERT_OK(SubscribeGranted(*s, "mps/t", Qos::k1));
  }
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5(SpreadId("pub", 0))));
  for (Qos qos : {Qos::k1, Qos::k0, Qos::k1}) {
    ASSERT_OK(pub->Publish("mps/t", big, qos));
    ASSERT_OK(pub->Publish("mps/t", "small", qos));
  }
  for (auto& s : limited) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 3));
    for (const ReceivedPacket& m : got) {
      EXPECT_EQ(m.publish().payload, "small");
      EXPECT_LE(m.bytes().size(), kLimit);
    }
  }
  for (auto& s : unlimited) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 6));
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].publish().payload, i % 2 == 0 ? big : "small");
    }
  }
  // Retained: the big one is not sent to the limited subscriber, the small one is.
  PublishOptions keep;
  keep.qos = Qos::k1;
  keep.retain = true;
  ASSERT_OK(pub->Publish("mps/r/big", big, keep));
  ASSERT_OK(pub->Publish("mps/r/small", "small", keep));
  for (auto& s : limited) {
    ASSERT_OK(SubscribeGranted(*s, "mps/r/#", Qos::k1));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket m, s->ExpectPublish());
    EXPECT_EQ(m.publish().topic, "mps/r/small");
  }
  std::vector<MqttClient*> all = Raw(limited);
  for (auto* s : Raw(unlimited)) {
    all.push_back(s);
  }
  EXPECT_OK(ExpectAllQuiet(all));
}

// [MQTT-3.14.2-3] a DISCONNECT whose Reason String would make it larger than the client's
// Maximum Packet Size is sent without it [MQTT-3.1.2-24] (the test client rejects any packet
// over the size it announced).
TEST_F(V5FeaturesTest, ReasonStringLeftOutToFitMaximumPacketSize) {
  ConnectOptions o = V5(SpreadId("c", 0));
  o.properties.SetMaximumPacketSize(40);
  ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
  mqtt::Publish p = MakePublish("ta/t", "x", Qos::k1, 1);
  p.properties.SetTopicAlias(static_cast<uint16_t>(c->server().topic_alias_maximum + 1));
  ASSERT_OK(c->Send(p));
  ASSERT_OK_AND_ASSIGN(CloseResult r, c->WaitForClose());
  EXPECT_TRUE(r.closed);
  ASSERT_TRUE(r.disconnect.has_value());
  EXPECT_EQ(r.disconnect->reason(), ReasonCode::kTopicAliasInvalid);
  EXPECT_LE(r.disconnect->bytes().size(), 40u);
}

// ---- Request Problem Information ---------------------------------------------------------------

// [MQTT-3.1.2-29] with Request Problem Information 0 the server sends no Reason String and no
// User Properties on any packet other than PUBLISH, CONNACK and DISCONNECT: checked on
// failing PUBACK, PUBREC, PUBCOMP, SUBACK and UNSUBACK.
TEST_F(V5FeaturesTest, RequestProblemInformation0) {
  ConnectOptions o = V5(SpreadId("c", 0));
  o.properties.SetRequestProblemInformation(0);
  ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
  std::vector<ReceivedPacket> answers;
  PublishOptions bad;
  bad.properties.SetPayloadFormatIndicator(1);
  for (Qos qos : {Qos::k1, Qos::k2}) {
    bad.qos = qos;
    ASSERT_OK_AND_ASSIGN(PublishResult r, c->Publish("rpi/t", "\xff", bad));
    EXPECT_TRUE(mqtt::IsFailure(r.reason()));
    answers.push_back(qos == Qos::k1 ? *r.puback : *r.pubrec);
    ASSERT_OK_AND_ASSIGN(PublishResult sys, c->Publish("$SYS/rpi", "x", qos));
    EXPECT_TRUE(mqtt::IsFailure(sys.reason()));
    answers.push_back(qos == Qos::k1 ? *sys.puback : *sys.pubrec);
  }
  mqtt::Pubrel rel;
  rel.packet_id = 999;
  ASSERT_OK(c->Send(rel));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket comp, c->Expect(PacketType::kPubcomp));
  EXPECT_EQ(comp.reason(), ReasonCode::kPacketIdentifierNotFound);
  answers.push_back(comp);
  std::string deep = "deep";
  for (int i = 0; i < 40; ++i) {
    deep += "/x";
  }
  ASSERT_OK_AND_ASSIGN(ReceivedPacket suback,
                       c->Subscribe({Entry("rpi/ok", Qos::k1), Entry(deep, Qos::k1)}));
  answers.push_back(suback);
  ASSERT_OK_AND_ASSIGN(ReceivedPacket unsuback, c->Unsubscribe({"rpi/none"}));
  EXPECT_EQ(UnsubackCodes(unsuback), std::vector<ReasonCode>{ReasonCode::kNoSubscriptionExisted});
  answers.push_back(unsuback);
  for (const ReceivedPacket& a : answers) {
    EXPECT_FALSE(a.properties().Has(PropertyId::kReasonString)) << a;
    EXPECT_TRUE(a.user_properties().empty()) << a;
  }
}

}  // namespace
}  // namespace ringmq::testing
