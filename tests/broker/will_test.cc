// Will messages: when they are published (abnormal close, reset, keep-alive timeout, protocol
// error, takeover, 5.0 DISCONNECT 0x04) and when not (normal DISCONNECT), Will Retain and Will
// QoS, the 5.0 Will Delay Interval against reconnection and session end, and the will
// properties. Each test names the statements of /work/shared/mqtt-normative.md it covers;
// "(3.1.1)" marks a 3.1.1 statement id.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

#include "tests/broker/broker_test_base.h"
#include "tests/broker/message_test_util.h"

namespace ringmq::testing {
namespace {

using mqtt::PacketType;
using mqtt::PropertyId;
using mqtt::ProtocolVersion;
using mqtt::Qos;
using mqtt::ReasonCode;
using std::chrono::milliseconds;

// `o` with a will on `topic`.
ConnectOptions WithWill(ConnectOptions o, std::string topic, std::string payload, Qos qos = Qos::k0,
                        bool retain = false) {
  WillOptions w;
  w.topic = std::move(topic);
  w.payload = std::move(payload);
  w.qos = qos;
  w.retain = retain;
  o.will = std::move(w);
  return o;
}

// 5.0 options with a session that outlives the connection by `expiry_s` and a will delayed by
// `delay_s`.
ConnectOptions V5DelayedWill(std::string id, uint32_t expiry_s, uint32_t delay_s,
                             std::string topic) {
  ConnectOptions o;
  o.client_id = std::move(id);
  o.clean_start = false;
  if (expiry_s > 0) {
    o.properties.SetSessionExpiryInterval(expiry_s);
  }
  o = WithWill(o, std::move(topic), "delayed will");
  o.will->properties.SetWillDelayInterval(delay_s);
  return o;
}

class WillTest : public BrokerTest {
 protected:
  // A client subscribed to every will topic ("will/#", QoS 2).
  std::unique_ptr<MqttClient> Watcher(ProtocolVersion v = ProtocolVersion::kMqtt5) {
    return SubscribedClient(port(), VersionOptions(v), "will/#", Qos::k2);
  }
};

class WillVersionTest : public BrokerVersionTest {
 protected:
  // The same, in the version under test.
  std::unique_ptr<MqttClient> Watcher() {
    return SubscribedClient(port(), Options(), "will/#", Qos::k2);
  }
};

// ---- when the will is published -----------------------------------------------------------------

// A will obeys exactly the rules of a PUBLISH from its client: $SYS topics are the broker's
// (see PublishToSysIsRefused), so a CONNECT whose will is on one is refused up front (5.0:
// CONNACK 0x87 Not authorized; 3.x: return code 5, not authorized) rather than accepted
// with a will that could never be published. Nothing reaches a $SYS subscriber, and nothing
// is retained there. (The will used to be published, and retained with Will Retain.)
TEST_P(WillVersionTest, WillOnSysTopicIsRefused) {
  ASSERT_OK_AND_ASSIGN(auto sys, Connect(Options()));
  ASSERT_OK(sys->Subscribe("$SYS/broker/alert", Qos::k1).status());
  ConnectOptions o = Options();
  o.will = WillOptions{"$SYS/broker/alert", "forged", Qos::k1, /*retain=*/true, {}, {}};
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::TryConnect(port(), o));
  ASSERT_TRUE(c->connack().has_value());
  EXPECT_EQ(c->connack()->reason(), ReasonCode::kNotAuthorized);
  c->ResetSocket();
  EXPECT_OK(sys->ExpectNoPacket(kQuiet));
  ASSERT_OK_AND_ASSIGN(auto late, Connect(Options()));
  ASSERT_OK(late->Subscribe("$SYS/broker/alert", Qos::k1).status());
  EXPECT_OK(late->ExpectNoPacket(kQuiet));  // nothing retained
}

// [MQTT-3.1.2-8] the will is published when the connection closes without DISCONNECT: an
// orderly close (FIN) and a reset (RST); Will Retain 0 publishes it non-retained
// [MQTT-3.1.2-14]; 3.1.1: [MQTT-3.1.2-8 (3.1.1)], [MQTT-3.1.2-16 (3.1.1)].
TEST_P(WillVersionTest, PublishedOnAbnormalClose) {
  auto watcher = Watcher();
  ASSERT_NE(watcher, nullptr);
  for (bool reset : {false, true}) {
    SCOPED_TRACE(reset ? "reset" : "close");
    const std::string topic = reset ? "will/reset" : "will/close";
    ASSERT_OK_AND_ASSIGN(auto c, Connect(WithWill(Options(), topic, "gone")));
    if (reset) {
      c->ResetSocket();
    } else {
      c->CloseSocket();
    }
    std::optional<ReceivedPacket> m;
    ExpectMessage(*watcher, topic, "gone", Qos::k0, &m);
    ASSERT_TRUE(m.has_value());
    EXPECT_FALSE(m->publish().retain) << *m;
  }
  EXPECT_OK(watcher->ExpectNoPacket(kQuiet));
}

// [MQTT-3.1.2-22] a keep-alive timeout is a network failure: the will is published (after
// 1.5 x the keep alive of silence); 3.1.1: [MQTT-3.1.2-24 (3.1.1)], [MQTT-3.1.2-8 (3.1.1)].
TEST_P(WillVersionTest, PublishedOnKeepAliveTimeout) {
  auto watcher = Watcher();
  ASSERT_NE(watcher, nullptr);
  ConnectOptions o = WithWill(Options(), "will/keepalive", "timed out");
  o.keep_alive_s = 1;
  ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
  const Clock::time_point start = Clock::now();
  ExpectMessage(*watcher, "will/keepalive", "timed out", Qos::k0, nullptr, milliseconds(5000));
  const double s = SecondsSince(start);
  EXPECT_GE(s, 1.4) << "published before the keep alive expired";
  EXPECT_LE(s, 3.5) << "published too long after the keep alive expired";
}

// 3.1.1 §3.1.2.5: "the Server closes the Network Connection because of a protocol error" is a
// case where the will is published (5.0 §3.1.2.5 likewise): a second CONNECT
// [MQTT-3.1.0-2]; 3.1.1: [MQTT-3.1.2-8 (3.1.1)].
TEST_P(WillVersionTest, PublishedOnProtocolError) {
  auto watcher = Watcher();
  ASSERT_NE(watcher, nullptr);
  ConnectOptions o = WithWill(Options(), "will/violation", "protocol error");
  ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
  ConnectOptions again = Options();
  again.client_id = c->client_id();
  ASSERT_OK(c->SendConnect(again));
  ExpectMessage(*watcher, "will/violation", "protocol error", Qos::k0);
  ASSERT_OK_AND_ASSIGN(CloseResult r, c->WaitForClose(kCloseTimeout));
  EXPECT_TRUE(r.closed);
}

// [MQTT-3.14.4-3] DISCONNECT with reason 0x00 discards the will, and [MQTT-3.1.2-10] it is
// deleted: a later abnormal close of the same session (reconnected without a will) publishes
// nothing; 3.1.1: [MQTT-3.14.4-3 (3.1.1)], [MQTT-3.1.2-10 (3.1.1)] (any DISCONNECT).
TEST_P(WillVersionTest, NotPublishedOnNormalDisconnect) {
  auto watcher = Watcher();
  ASSERT_NE(watcher, nullptr);
  ConnectOptions o = Options();
  o.client_id = "will-normal";
  o.clean_start = false;
  if (mqtt::IsV5(GetParam())) {
    o.properties.SetSessionExpiryInterval(300);
  }
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(WithWill(o, "will/normal", "must not be published")));
    ASSERT_OK(c->Disconnect());
  }
  EXPECT_OK(watcher->ExpectNoPacket(kQuiet));
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
    c->ResetSocket();
  }
  EXPECT_OK(watcher->ExpectNoPacket(kQuiet));
}

// [MQTT-3.1.2-10] a published will is deleted: the session continues (Clean Start 0) on a new
// connection without a will, whose abnormal end publishes nothing more; 3.1.1:
// [MQTT-3.1.2-10 (3.1.1)].
TEST_P(WillVersionTest, PublishedOnlyOnce) {
  auto watcher = Watcher();
  ASSERT_NE(watcher, nullptr);
  ConnectOptions o = Options();
  o.client_id = "will-once";
  o.clean_start = false;
  if (mqtt::IsV5(GetParam())) {
    o.properties.SetSessionExpiryInterval(300);
  }
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(WithWill(o, "will/once", "first")));
    c->ResetSocket();
  }
  ExpectMessage(*watcher, "will/once", "first", Qos::k0);
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
    c->ResetSocket();
  }
  EXPECT_OK(watcher->ExpectNoPacket(kQuiet));
}

// [MQTT-3.14.4-3] only reason 0x00 discards the will: DISCONNECT 0x04 (Disconnect with Will
// Message) and an error code publish it [MQTT-3.1.2-8].
TEST_F(WillTest, V5DisconnectWithWillPublishesIt) {
  auto watcher = Watcher();
  ASSERT_NE(watcher, nullptr);
  for (ReasonCode rc : {ReasonCode::kDisconnectWithWill, ReasonCode::kUnspecifiedError}) {
    SCOPED_TRACE(mqtt::ReasonCodeName(rc));
    ASSERT_OK_AND_ASSIGN(auto c, Connect(WithWill({}, "will/with-will", "asked for")));
    ASSERT_OK(c->Disconnect(rc));
    ExpectMessage(*watcher, "will/with-will", "asked for", Qos::k0);
  }
}

// §3.14.2.2.2: a DISCONNECT with a non-zero Session Expiry Interval after 0 in CONNECT is not a
// valid DISCONNECT (Protocol Error): the will is published as for any abnormal end
// [MQTT-3.1.2-8].
TEST_F(WillTest, V5InvalidDisconnectPublishesWill) {
  auto watcher = Watcher();
  ASSERT_NE(watcher, nullptr);
  ASSERT_OK_AND_ASSIGN(auto c, Connect(WithWill({}, "will/invalid", "not a valid DISCONNECT")));
  mqtt::Disconnect d;
  d.properties.SetSessionExpiryInterval(60);
  ASSERT_OK(c->Send(d));
  ExpectMessage(*watcher, "will/invalid", "not a valid DISCONNECT", Qos::k0);
  ASSERT_OK_AND_ASSIGN(CloseResult r, c->WaitForClose(kCloseTimeout));
  EXPECT_TRUE(r.closed);
}

// [MQTT-3.1.4-3] on takeover the old connection's will is published as described in §3.1.2.5:
// at once with Will Delay 0; with a delay and Clean Start 0 the session continues, so not
// [MQTT-3.1.3-9]; with a delay and Clean Start 1 the session ends, so at once [MQTT-3.1.2-8].
TEST_F(WillTest, V5WillOnTakeover) {
  auto watcher = Watcher();
  ASSERT_NE(watcher, nullptr);
  {
    ConnectOptions o;
    o.client_id = "will-takeover-0";
    ASSERT_OK_AND_ASSIGN(auto old, Connect(WithWill(o, "will/takeover0", "taken over")));
    ASSERT_OK_AND_ASSIGN(auto fresh, Connect(o));
    ExpectMessage(*watcher, "will/takeover0", "taken over", Qos::k0);
  }
  {
    ConnectOptions o = V5DelayedWill("will-takeover-d", 300, 30, "will/takeover-delayed");
    ASSERT_OK_AND_ASSIGN(auto old, Connect(o));
    ConnectOptions again = o;
    again.will.reset();
    ASSERT_OK_AND_ASSIGN(auto fresh, Connect(again));
    EXPECT_TRUE(fresh->server().session_present);
    EXPECT_OK(watcher->ExpectNoPacket(kQuiet));
    ASSERT_OK(fresh->Disconnect());
  }
  {
    ConnectOptions o = V5DelayedWill("will-takeover-c", 300, 30, "will/takeover-clean");
    ASSERT_OK_AND_ASSIGN(auto old, Connect(o));
    ConnectOptions again = o;
    again.will.reset();
    again.clean_start = true;
    ASSERT_OK_AND_ASSIGN(auto fresh, Connect(again));
    ExpectMessage(*watcher, "will/takeover-clean", "delayed will", Qos::k0);
  }
}

// A client that comes back on a new connection and continues its session (Clean Start 0 /
// Clean Session 0) takes over its own half-open connection: the old connection's will is not
// published, in 3.1.1 as in 5.0, with or without a Will Delay. The client is back; announcing
// it "offline" would flash in its contacts' apps each time a phone changes networks. 5.0:
// [MQTT-3.1.3-9] (a new connection to the session before the delay passed); 3.1.1: a
// departure from the letter of [MQTT-3.1.2-8], as EMQX and HiveMQ do (docs/architecture.md,
// "Takeover"); --takeover-publishes-will restores the letter. (The will used to be published.)
TEST_P(WillVersionTest, TakeoverThatContinuesTheSessionPublishesNoWill) {
  auto watcher = Watcher();
  ASSERT_NE(watcher, nullptr);
  const std::string id = "will-continue-" + std::string(VersionName({GetParam(), 0}));
  ConnectOptions o = Persistent(GetParam(), id);
  ASSERT_OK_AND_ASSIGN(auto old, Connect(WithWill(o, "will/continue", "offline")));
  ASSERT_OK_AND_ASSIGN(auto fresh, Connect(WithWill(o, "will/continue", "offline again")));
  if (GetParam() != ProtocolVersion::kMqtt31) {  // 3.1 has no Session Present flag
    EXPECT_TRUE(fresh->server().session_present);
  }
  EXPECT_OK(watcher->ExpectNoPacket(kQuiet));
  // The new connection's own will still works.
  fresh->ResetSocket();
  ExpectMessage(*watcher, "will/continue", "offline again", Qos::k0);
}

// With --takeover-publishes-will, the letter of 3.1.1 [MQTT-3.1.2-8]: the taken-over
// connection's will is published.
TEST_P(WillVersionTest, TakeoverPublishesWillWhenConfigured) {
  if (!is_ringmq()) {
    GTEST_SKIP() << "a ringmq flag";
  }
  StartBroker({"--takeover-publishes-will"});
  auto watcher = Watcher();
  ASSERT_NE(watcher, nullptr);
  ConnectOptions o = Persistent(GetParam(), "will-letter");
  ASSERT_OK_AND_ASSIGN(auto old, Connect(WithWill(o, "will/letter", "taken over")));
  ASSERT_OK_AND_ASSIGN(auto fresh, Connect(o));
  ExpectMessage(*watcher, "will/letter", "taken over", Qos::k0);
}

// ---- Will Retain and Will QoS
// --------------------------------------------------------------------

// [MQTT-3.1.2-15] Will Retain 1: the will is published as a retained message, which a later
// subscriber receives with RETAIN 1; [MQTT-3.1.2-14] Will Retain 0: not retained, so a later
// subscriber gets nothing; 3.1.1: [MQTT-3.1.2-16/17 (3.1.1)], [MQTT-3.3.1-8 (3.1.1)].
TEST_P(WillVersionTest, WillRetainFlag) {
  auto watcher = Watcher();
  ASSERT_NE(watcher, nullptr);
  ASSERT_OK_AND_ASSIGN(auto keep,
                       Connect(WithWill(Options(), "will/retained", "kept", Qos::k1, true)));
  ASSERT_OK_AND_ASSIGN(auto drop,
                       Connect(WithWill(Options(), "will/plain", "not kept", Qos::k1, false)));
  keep->CloseSocket();
  ExpectMessage(*watcher, "will/retained", "kept", Qos::k1);
  drop->CloseSocket();
  ExpectMessage(*watcher, "will/plain", "not kept", Qos::k1);

  ASSERT_OK_AND_ASSIGN(auto late, Connect(Options()));
  ASSERT_OK(late->Subscribe("will/#", Qos::k1));
  std::optional<ReceivedPacket> m;
  ExpectMessage(*late, "will/retained", "kept", Qos::k1, &m);
  ASSERT_TRUE(m.has_value());
  EXPECT_TRUE(m->publish().retain) << "a retained message sent on subscription has RETAIN 1";
  EXPECT_OK(late->ExpectNoPacket(kQuiet));
}

// [MQTT-3.1.2-9 (3.1.1)] the Will QoS is used: the will is delivered at min(Will QoS, granted
// QoS) [MQTT-3.8.4-8], to a QoS 2 subscription at its own QoS, to a QoS 1 one at most at 1.
TEST_P(WillVersionTest, WillQosHonoured) {
  auto watcher = Watcher();
  ASSERT_NE(watcher, nullptr);
  ASSERT_OK_AND_ASSIGN(auto low, Connect(Options()));
  ASSERT_OK(low->Subscribe("will/#", Qos::k1));
  for (Qos qos : {Qos::k0, Qos::k1, Qos::k2}) {
    SCOPED_TRACE(::testing::Message() << "will QoS " << static_cast<int>(qos));
    const std::string topic = "will/qos" + std::to_string(static_cast<int>(qos));
    ASSERT_OK_AND_ASSIGN(auto c, Connect(WithWill(Options(), topic, "qos", qos)));
    c->ResetSocket();
    ExpectMessage(*watcher, topic, "qos", qos);
    ExpectMessage(*low, topic, "qos", mqtt::MinQos(qos, Qos::k1));
  }
}

// ---- Will Delay Interval (5.0)
// --------------------------------------------------------------------

// [MQTT-3.1.2-8] with a Will Delay Interval (2 s) and a session that outlives it, the will is
// published once the delay has passed: not before, and not long after.
TEST_F(WillTest, V5WillDelayPublishedAfterDelay) {
  auto watcher = Watcher();
  ASSERT_NE(watcher, nullptr);
  ASSERT_OK_AND_ASSIGN(auto c, Connect(V5DelayedWill("will-delay", 60, 2, "will/delay")));
  c->ResetSocket();
  const Clock::time_point closed = Clock::now();
  EXPECT_OK(watcher->ExpectNoPacket(milliseconds(1500)));
  ExpectMessage(*watcher, "will/delay", "delayed will", Qos::k0, nullptr, milliseconds(3000));
  const double s = SecondsSince(closed);
  EXPECT_GE(s, 1.9) << "published before the Will Delay Interval";
  EXPECT_LE(s, 3.5) << "published long after the Will Delay Interval";
}

// [MQTT-3.1.2-8] the Will Delay Interval runs from the close of the connection, however long
// the connection was idle before: a client idle for 2.5 s whose connection then breaks (delay
// 2 s) has its will published ~2 s later, not at once.
TEST_F(WillTest, V5WillDelayCountedFromCloseAfterIdle) {
  auto watcher = Watcher();
  ASSERT_NE(watcher, nullptr);
  ASSERT_OK_AND_ASSIGN(auto c, Connect(V5DelayedWill("will-idle", 60, 2, "will/idle")));
  std::this_thread::sleep_for(milliseconds(2500));  // the subject: an idle connection
  c->ResetSocket();
  const Clock::time_point closed = Clock::now();
  ExpectMessage(*watcher, "will/idle", "delayed will", Qos::k0, nullptr, milliseconds(4000));
  const double s = SecondsSince(closed);
  EXPECT_GE(s, 1.9) << "published before the Will Delay Interval";
  EXPECT_LE(s, 3.5) << "published long after the Will Delay Interval";
}

// [MQTT-3.1.3-9] a reconnection (Clean Start 0) within the Will Delay Interval: the will is
// not published, not even after the delay.
TEST_F(WillTest, V5WillDelayCancelledByReconnect) {
  auto watcher = Watcher();
  ASSERT_NE(watcher, nullptr);
  ConnectOptions o = V5DelayedWill("will-back", 60, 1, "will/back");
  ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
  c->ResetSocket();
  o.will.reset();
  ASSERT_OK_AND_ASSIGN(auto again, Connect(o));
  EXPECT_TRUE(again->server().session_present);
  EXPECT_OK(watcher->ExpectNoPacket(milliseconds(2500)));
  ASSERT_OK(again->Disconnect());
  EXPECT_OK(watcher->ExpectNoPacket(kQuiet));
}

// [MQTT-3.1.2-8] the will is published when the delay passes or the session ends, whichever is
// first: Session Expiry 1 s with Will Delay 30 s publishes it after ~1 s; Session Expiry 0
// publishes it at the close; a reconnection with Clean Start 1 ends the session at once.
TEST_F(WillTest, V5WillDelayPublishedWhenSessionEnds) {
  auto watcher = Watcher();
  ASSERT_NE(watcher, nullptr);
  ASSERT_OK_AND_ASSIGN(auto expiring, Connect(V5DelayedWill("will-exp", 1, 30, "will/expiry1")));
  ASSERT_OK_AND_ASSIGN(auto ending, Connect(V5DelayedWill("will-end", 0, 30, "will/expiry0")));
  expiring->ResetSocket();
  ending->ResetSocket();
  const Clock::time_point closed = Clock::now();
  ExpectMessage(*watcher, "will/expiry0", "delayed will", Qos::k0);
  EXPECT_LE(SecondsSince(closed), 1.5) << "Session Expiry 0: the session ended at the close";
  ExpectMessage(*watcher, "will/expiry1", "delayed will", Qos::k0);
  const double s = SecondsSince(closed);
  EXPECT_GE(s, 0.9) << "published before the session expired";
  EXPECT_LE(s, 3.0) << "published long after the session expired";

  ConnectOptions o = V5DelayedWill("will-clean", 60, 30, "will/clean");
  ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
  c->ResetSocket();
  o.will.reset();
  o.clean_start = true;
  ASSERT_OK_AND_ASSIGN(auto again, Connect(o));
  ExpectMessage(*watcher, "will/clean", "delayed will", Qos::k0);
}

// ---- Will properties (5.0)
// ------------------------------------------------------------------------

// The will's properties go out with it: User Properties in their original order
// [MQTT-3.1.3-10], Content Type, Response Topic, Correlation Data, Payload Format Indicator
// ([MQTT-3.3.2-4/15/16/17/18/20] for the forwarded message) and the Message Expiry Interval,
// minus the time the message waited [MQTT-3.3.2-6]. The Will Delay Interval is not a PUBLISH
// property.
TEST_F(WillTest, V5WillPropertiesForwarded) {
  auto watcher = Watcher();
  ASSERT_NE(watcher, nullptr);
  const std::string correlation("\x00\x01\xFFid", 5);
  ConnectOptions o = WithWill({}, "will/props", "{\"state\":\"offline\"}", Qos::k1);
  o.will->user_properties = {{"k", "1"}, {"a", "2"}, {"k", "3"}, {"", "empty name"}};
  o.will->properties.SetContentType("application/json");
  o.will->properties.SetResponseTopic("reply/here");
  o.will->properties.SetCorrelationData(correlation);
  o.will->properties.SetPayloadFormatIndicator(1);
  o.will->properties.SetMessageExpiryInterval(60);
  o.will->properties.SetWillDelayInterval(0);
  ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
  c->ResetSocket();
  std::optional<ReceivedPacket> m;
  ExpectMessage(*watcher, "will/props", "{\"state\":\"offline\"}", Qos::k1, &m);
  ASSERT_TRUE(m.has_value());
  const mqtt::Properties& p = m->publish().properties;
  EXPECT_EQ(UserPropertiesOf(p), o.will->user_properties);
  EXPECT_TRUE(p.Has(PropertyId::kContentType));
  EXPECT_EQ(p.content_type, "application/json");
  EXPECT_TRUE(p.Has(PropertyId::kResponseTopic));
  EXPECT_EQ(p.response_topic, "reply/here");
  EXPECT_TRUE(p.Has(PropertyId::kCorrelationData));
  EXPECT_EQ(p.correlation_data, correlation);
  EXPECT_TRUE(p.Has(PropertyId::kPayloadFormatIndicator));
  EXPECT_EQ(p.payload_format_indicator, 1);
  ASSERT_TRUE(p.Has(PropertyId::kMessageExpiryInterval)) << *m;
  EXPECT_GE(p.message_expiry_interval_s, 58u);
  EXPECT_LE(p.message_expiry_interval_s, 60u);
  EXPECT_FALSE(p.Has(PropertyId::kWillDelayInterval));
}

// [MQTT-3.3.2-5] the will's Message Expiry Interval applies: a will that expires while an
// offline subscriber's session holds it is not delivered when the subscriber returns.
TEST_F(WillTest, V5WillMessageExpiryApplies) {
  ConnectOptions so;
  so.client_id = "will-expiry-sub";
  so.clean_start = false;
  so.properties.SetSessionExpiryInterval(60);
  {
    ASSERT_OK_AND_ASSIGN(auto sub, Connect(so));
    ASSERT_OK(sub->Subscribe("will/expiring", Qos::k1));
    ASSERT_OK(sub->Subscribe("will/lasting", Qos::k1));
    ASSERT_OK(sub->Disconnect());
  }
  ConnectOptions a = WithWill({}, "will/expiring", "short-lived", Qos::k1);
  a.will->properties.SetMessageExpiryInterval(1);
  ConnectOptions b = WithWill({}, "will/lasting", "long-lived", Qos::k1);
  b.will->properties.SetMessageExpiryInterval(60);
  ASSERT_OK_AND_ASSIGN(auto ca, Connect(a));
  ASSERT_OK_AND_ASSIGN(auto cb, Connect(b));
  ca->ResetSocket();
  cb->ResetSocket();
  std::this_thread::sleep_for(milliseconds(2200));  // the subject: the 1 s expiry passes
  ASSERT_OK_AND_ASSIGN(auto sub, Connect(so));
  std::optional<ReceivedPacket> m;
  ExpectMessage(*sub, "will/lasting", "long-lived", Qos::k1, &m);
  ASSERT_TRUE(m.has_value());
  ASSERT_TRUE(m->publish().properties.Has(PropertyId::kMessageExpiryInterval));
  EXPECT_LE(m->publish().properties.message_expiry_interval_s, 58u)
      << "the time spent waiting is subtracted [MQTT-3.3.2-6]";
  EXPECT_OK(sub->ExpectNoPacket(kQuiet));
}

INSTANTIATE_TEST_SUITE_P(All, WillVersionTest, RINGMQ_ALL_VERSIONS, VersionName);

}  // namespace
}  // namespace ringmq::testing
