// Sessions: Clean Start and resumption, 3.1.1 persistent sessions, 5.0 Session Expiry Interval
// (CONNECT, DISCONNECT, the server's cap), retransmission of unacknowledged messages on
// resumption, takeover by a second connection with the same client id, the server's packet
// identifiers and the client's Receive Maximum. Each test names the statements of
// /work/shared/mqtt-normative.md it covers; "(3.1.1)" marks a 3.1.1 statement id.
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
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

ConnectOptions V5Persistent(std::string id, uint32_t expiry_s) {
  return Persistent(ProtocolVersion::kMqtt5, std::move(id), expiry_s);
}

// MQTT 3.1 has no Session Present flag (that CONNACK byte is reserved): there the resumption
// shows only in what the session still holds.
bool HasSessionPresentFlag(ProtocolVersion v) {
  return v != ProtocolVersion::kMqtt31;
}

void SleepUntil(Clock::time_point t) {
  std::this_thread::sleep_until(t);
}

class SessionTest : public BrokerTest {};
class SessionVersionTest : public BrokerVersionTest {};

// ---- Clean Start, resumption ------------------------------------------------------------------

// [MQTT-3.1.2-4] Clean Start 1 discards the existing session: Session Present 0
// [MQTT-3.2.2-2], its subscriptions and queued messages are gone; that session then ends with
// its connection; 3.1.1: [MQTT-3.1.2-6 (3.1.1)], [MQTT-3.2.2-1 (3.1.1)].
TEST_P(SessionVersionTest, CleanStartDiscardsSession) {
  const ProtocolVersion v = GetParam();
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(Options()));
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(Persistent(v, "clean")));
    ASSERT_OK(c->Subscribe("clean/t", Qos::k1));
    ASSERT_OK(c->Disconnect());
  }
  ASSERT_OK(pub->Publish("clean/t", "queued while away", Qos::k1));
  {
    ConnectOptions o = Persistent(v, "clean");
    o.clean_start = true;
    if (mqtt::IsV5(v)) {
      o.properties = {};  // Session Expiry 0: this session ends with the connection
    }
    ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
    EXPECT_FALSE(c->server().session_present);
    ASSERT_OK(pub->Publish("clean/t", "after the clean start", Qos::k1));
    // Neither the old session's queue nor its subscription survived.
    EXPECT_OK(c->ExpectNoPacket(kQuiet));
    ASSERT_OK(c->Subscribe("clean/other", Qos::k1));
    ASSERT_OK(c->Disconnect());
  }
  // The clean session ended with its connection: nothing to resume.
  ASSERT_OK_AND_ASSIGN(auto c, Connect(Persistent(v, "clean")));
  EXPECT_FALSE(c->server().session_present);
  ASSERT_OK(pub->Publish("clean/other", "x", Qos::k1));
  ASSERT_OK(pub->Publish("clean/t", "y", Qos::k1));
  EXPECT_OK(c->ExpectNoPacket(kQuiet));
}

// [MQTT-3.1.2-5] Clean Start 0 with a session: it is resumed, with Session Present 1
// [MQTT-3.2.2-3], its subscriptions, and the QoS 1/2 messages that arrived while the client
// was away [MQTT-4.5.0-1], first transmissions with DUP 0 [MQTT-4.3.2-2, MQTT-4.3.3-2], in order
// per topic and QoS [MQTT-4.6.0-5]; 3.1.1: [MQTT-3.1.2-4/5 (3.1.1)], [MQTT-3.2.2-2 (3.1.1)].
TEST_P(SessionVersionTest, ResumeKeepsSubscriptionsAndQueuedMessages) {
  const ProtocolVersion v = GetParam();
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(Options()));
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(Persistent(v, "resume")));
    ASSERT_OK(c->Subscribe("resume/q1", Qos::k1));
    ASSERT_OK(c->Subscribe("resume/q2", Qos::k2));
    ASSERT_OK(c->Disconnect());
  }
  for (const char* p : {"1a", "1b", "1c"}) {
    ASSERT_OK(pub->Publish("resume/q1", p, Qos::k1));
  }
  for (const char* p : {"2a", "2b"}) {
    ASSERT_OK(pub->Publish("resume/q2", p, Qos::k2));
  }
  ASSERT_OK_AND_ASSIGN(auto c, Connect(Persistent(v, "resume")));
  if (HasSessionPresentFlag(v)) {
    EXPECT_TRUE(c->server().session_present);
  }
  std::vector<std::string> q1;
  std::vector<std::string> q2;
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(ReceivedPacket m, c->ExpectPublish());
    EXPECT_FALSE(m.publish().dup) << "never sent before, so not a retransmission: " << m;
    if (m.publish().topic == "resume/q1") {
      EXPECT_EQ(m.publish().qos, Qos::k1) << m;
      q1.emplace_back(m.publish().payload);
    } else {
      EXPECT_EQ(m.publish().topic, "resume/q2") << m;
      EXPECT_EQ(m.publish().qos, Qos::k2) << m;
      q2.emplace_back(m.publish().payload);
    }
  }
  EXPECT_EQ(q1, (std::vector<std::string>{"1a", "1b", "1c"}));
  EXPECT_EQ(q2, (std::vector<std::string>{"2a", "2b"}));
  EXPECT_OK(c->ExpectNoPacket(kQuiet));
  // The subscriptions are live again.
  ASSERT_OK(pub->Publish("resume/q1", "live", Qos::k1));
  ExpectMessage(*c, "resume/q1", "live", Qos::k1);
}

// [MQTT-3.1.2-6] Clean Start 0 without a session: a new one, Session Present 0
// [MQTT-3.2.2-3], holding nothing; it is kept after the connection [MQTT-3.1.2-23];
// 3.1.1: [MQTT-3.1.2-4 (3.1.1)], [MQTT-3.2.2-3 (3.1.1)].
TEST_P(SessionVersionTest, NewSessionWhenNoneExists) {
  const ProtocolVersion v = GetParam();
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(Options()));
  ASSERT_OK(pub->Publish("fresh/t", "before", Qos::k1));
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(Persistent(v, "fresh")));
    EXPECT_FALSE(c->server().session_present);
    ASSERT_OK(c->Subscribe("fresh/t", Qos::k1));
    EXPECT_OK(c->ExpectNoPacket(milliseconds(100)));
    ASSERT_OK(c->Disconnect());
  }
  ASSERT_OK(pub->Publish("fresh/t", "kept", Qos::k1));
  ASSERT_OK_AND_ASSIGN(auto c, Connect(Persistent(v, "fresh")));
  if (HasSessionPresentFlag(v)) {
    EXPECT_TRUE(c->server().session_present);
  }
  ExpectMessage(*c, "fresh/t", "kept", Qos::k1);
}

// ---- Session Expiry Interval (5.0)
// ---------------------------------------------------------------

// §3.1.2.11.2: Session Expiry Interval 0 (or absent): the session ends when the connection
// closes [MQTT-4.1.0-2]; nothing is queued for it.
TEST_F(SessionTest, V5SessionExpiryZeroEndsWithConnection) {
  ASSERT_OK_AND_ASSIGN(auto pub, Connect());
  for (bool abnormal : {false, true}) {
    SCOPED_TRACE(abnormal ? "connection reset" : "DISCONNECT");
    ConnectOptions o = V5Persistent("zero", 0);
    o.properties = {};  // absent means 0
    {
      ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
      ASSERT_OK(c->Subscribe("zero/t", Qos::k1));
      if (abnormal) {
        c->ResetSocket();
      } else {
        ASSERT_OK(c->Disconnect());
      }
    }
    ASSERT_OK(pub->Publish("zero/t", "while away", Qos::k1));
    ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
    EXPECT_FALSE(c->server().session_present);
    EXPECT_OK(c->ExpectNoPacket(kQuiet));
    ASSERT_OK(c->Disconnect());
  }
}

// [MQTT-3.1.2-23] with a Session Expiry Interval > 0 the session is kept after the connection
// closes, and discarded once the interval has passed [MQTT-4.1.0-2]: interval 2 s, still there
// after 1 s, gone 4 s after the close. 0xFFFFFFFF never expires (§3.1.2.11.2).
TEST_F(SessionTest, V5SessionExpiryIntervalElapses) {
  ASSERT_OK_AND_ASSIGN(auto pub, Connect());
  struct Client {
    std::string id;
    uint32_t expiry_s;
    Clock::time_point closed;
  };
  std::vector<Client> clients = {
      {"expiry-early", 2, {}}, {"expiry-late", 2, {}}, {"expiry-never", 0xFFFFFFFF, {}}};
  for (Client& k : clients) {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(V5Persistent(k.id, k.expiry_s)));
    ASSERT_OK(c->Subscribe("expiry/t", Qos::k1));
    ASSERT_OK(c->Disconnect());
    k.closed = Clock::now();
  }
  ASSERT_OK(pub->Publish("expiry/t", "while away", Qos::k1));

  // Half the interval: still there, with the queued message.
  SleepUntil(clients[0].closed + milliseconds(1000));
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(V5Persistent(clients[0].id, 2)));
    EXPECT_TRUE(c->server().session_present) << "the session expired early";
    ExpectMessage(*c, "expiry/t", "while away", Qos::k1);
    ASSERT_OK(c->Disconnect());
  }
  // Twice the interval: gone.
  SleepUntil(clients[1].closed + milliseconds(4000));
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(V5Persistent(clients[1].id, 2)));
    EXPECT_FALSE(c->server().session_present) << "the session outlived its expiry interval";
    EXPECT_OK(c->ExpectNoPacket(kQuiet));
    ASSERT_OK(c->Disconnect());
  }
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(V5Persistent(clients[2].id, 0xFFFFFFFF)));
    EXPECT_TRUE(c->server().session_present) << "0xFFFFFFFF does not expire";
    ExpectMessage(*c, "expiry/t", "while away", Qos::k1);
    ASSERT_OK(c->Disconnect());
  }
}

// [MQTT-3.1.2-23] the Session Expiry Interval runs from the close of the connection, however
// long the connection was idle before: a client idle for 2.5 s that then disconnects (expiry
// 2 s) still has its session 1 s later.
TEST_F(SessionTest, V5SessionExpiryCountedFromCloseAfterIdle) {
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(V5Persistent("idle-expiry", 2)));
    ASSERT_OK(c->Subscribe("idle-expiry/t", Qos::k1));
    std::this_thread::sleep_for(milliseconds(2500));  // the subject: an idle connection
    ASSERT_OK(c->Disconnect());
  }
  const Clock::time_point closed = Clock::now();
  SleepUntil(closed + milliseconds(1000));
  ASSERT_OK_AND_ASSIGN(auto c, Connect(V5Persistent("idle-expiry", 2)));
  EXPECT_TRUE(c->server().session_present)
      << "the session expired less than its interval after the DISCONNECT";
}

// §3.2.2.3.2: a server that uses another Session Expiry Interval than the client asked for
// announces it in CONNACK (--max-session-expiry 1), and the session then expires by it
// [MQTT-4.1.0-2].
TEST_F(SessionTest, V5MaxSessionExpiryCapsAndIsAnnounced) {
  if (!is_ringmq()) {
    GTEST_SKIP() << "--max-session-expiry is a ringmq flag";
  }
  StartBroker({"--max-session-expiry", "1"});
  ASSERT_OK_AND_ASSIGN(auto pub, Connect());
  Clock::time_point last_close;
  for (uint32_t asked : {3600u, 0xFFFFFFFFu}) {
    SCOPED_TRACE(::testing::Message() << "asked " << asked);
    ASSERT_OK_AND_ASSIGN(auto c, Connect(V5Persistent("capped-" + std::to_string(asked), asked)));
    ASSERT_TRUE(c->connack()->properties().Has(PropertyId::kSessionExpiryInterval))
        << *c->connack();
    EXPECT_EQ(c->connack()->properties().session_expiry_interval_s, 1u);
    ASSERT_OK(c->Subscribe("capped/t", Qos::k1));
    ASSERT_OK(c->Disconnect());
    last_close = Clock::now();
  }
  {
    // Within the limit: nothing to announce, or the value asked.
    ASSERT_OK_AND_ASSIGN(auto c, Connect(V5Persistent("uncapped", 1)));
    const mqtt::Properties& p = c->connack()->properties();
    EXPECT_TRUE(!p.Has(PropertyId::kSessionExpiryInterval) || p.session_expiry_interval_s == 1)
        << *c->connack();
  }
  ASSERT_OK(pub->Publish("capped/t", "while away", Qos::k1));
  SleepUntil(last_close + milliseconds(3000));
  for (uint32_t asked : {3600u, 0xFFFFFFFFu}) {
    SCOPED_TRACE(::testing::Message() << "asked " << asked);
    ASSERT_OK_AND_ASSIGN(auto c, Connect(V5Persistent("capped-" + std::to_string(asked), asked)));
    EXPECT_FALSE(c->server().session_present) << "the capped session did not expire";
    EXPECT_OK(c->ExpectNoPacket(milliseconds(100)));
  }
}

// §3.14.2.2.2: the Session Expiry Interval in DISCONNECT replaces the one from CONNECT: 0 ends
// the session at once; a larger one keeps it longer than CONNECT said.
TEST_F(SessionTest, V5DisconnectSessionExpiryChangesIt) {
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(V5Persistent("dis-zero", 300)));
    ASSERT_OK(c->Subscribe("dis/t", Qos::k1));
    PacketOptions po;
    po.properties.SetSessionExpiryInterval(0);
    ASSERT_OK(c->Disconnect(ReasonCode::kSuccess, po));
  }
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(V5Persistent("dis-zero", 300)));
    EXPECT_FALSE(c->server().session_present) << "DISCONNECT set the expiry to 0";
    ASSERT_OK(c->Disconnect());
  }
  Clock::time_point closed;
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(V5Persistent("dis-longer", 1)));
    ASSERT_OK(c->Subscribe("dis/t", Qos::k1));
    PacketOptions po;
    po.properties.SetSessionExpiryInterval(300);
    ASSERT_OK(c->Disconnect(ReasonCode::kSuccess, po));
    closed = Clock::now();
  }
  SleepUntil(closed + milliseconds(2500));
  ASSERT_OK_AND_ASSIGN(auto c, Connect(V5Persistent("dis-longer", 1)));
  EXPECT_TRUE(c->server().session_present) << "DISCONNECT extended the expiry to 300 s";
}

// §3.14.2.2.2: a non-zero Session Expiry Interval in DISCONNECT after 0 in CONNECT is a
// Protocol Error: the server sends DISCONNECT 0x82 and closes [MQTT-4.13.1-1]; the session
// keeps its 0 and ends.
TEST_F(SessionTest, V5DisconnectNonZeroExpiryAfterZeroIsProtocolError) {
  ConnectOptions o = V5Persistent("dis-bad", 0);
  o.properties = {};
  ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
  ASSERT_OK(c->Subscribe("dis-bad/t", Qos::k1));
  mqtt::Disconnect d;
  d.properties.SetSessionExpiryInterval(60);
  ASSERT_OK(c->Send(d));
  ASSERT_OK_AND_ASSIGN(CloseResult r, c->WaitForClose(kCloseTimeout));
  EXPECT_TRUE(r.closed);
  if (is_ringmq() || r.disconnect.has_value()) {  // the DISCONNECT is a MAY [MQTT-4.13.1-1]
    ASSERT_TRUE(r.disconnect.has_value()) << "expected DISCONNECT 0x82";
    EXPECT_EQ(r.disconnect->reason(), ReasonCode::kProtocolError) << *r.disconnect;
  }
  ASSERT_OK_AND_ASSIGN(auto again, Connect(o));
  EXPECT_FALSE(again->server().session_present) << "the session should have ended";
}

// ---- retransmission on resumption
// -----------------------------------------------------------------

// [MQTT-4.4.0-1] unacknowledged QoS 1/2 PUBLISHes are re-sent when the session is resumed,
// and only then (not while the connection lasts), with their original packet ids, DUP 1
// [MQTT-3.3.1-1] and in their original order [MQTT-4.6.0-1]; once acknowledged they are not
// sent again [MQTT-4.3.2-3]; 3.1.1: [MQTT-4.4.0-1 (3.1.1)], [MQTT-3.3.1-1 (3.1.1)],
// [MQTT-2.3.1-3 (3.1.1)].
TEST_P(SessionVersionTest, UnackedMessagesRetransmittedOnResume) {
  const ProtocolVersion v = GetParam();
  ConnectOptions so = Persistent(v, "retx");
  so.auto_ack = false;
  ASSERT_OK_AND_ASSIGN(auto sub, Connect(so));
  ASSERT_OK(sub->Subscribe("retx/t", Qos::k2));
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(Options()));
  const std::vector<std::pair<std::string, Qos>> sent = {
      {"a", Qos::k1}, {"b", Qos::k2}, {"c", Qos::k1}, {"d", Qos::k2}};
  for (const auto& [payload, qos] : sent) {
    ASSERT_OK(pub->Publish("retx/t", payload, qos));
  }
  std::vector<uint16_t> ids;
  for (const auto& [payload, qos] : sent) {
    std::optional<ReceivedPacket> m;
    ExpectMessage(*sub, "retx/t", payload, qos, &m);
    ASSERT_TRUE(m.has_value());
    EXPECT_FALSE(m->publish().dup) << *m;
    EXPECT_NE(m->publish().packet_id, 0);
    ids.push_back(m->publish().packet_id);
  }
  EXPECT_EQ(std::set<uint16_t>(ids.begin(), ids.end()).size(), ids.size()) << "[MQTT-2.2.1-4]";
  // No retransmission while the connection lasts [MQTT-4.4.0-1].
  EXPECT_OK(sub->ExpectNoPacket(kQuiet));
  sub->ResetSocket();

  ASSERT_OK_AND_ASSIGN(auto again, Connect(so));
  if (HasSessionPresentFlag(v)) {
    EXPECT_TRUE(again->server().session_present);
  }
  for (size_t i = 0; i < sent.size(); ++i) {
    std::optional<ReceivedPacket> m;
    ExpectMessage(*again, "retx/t", sent[i].first, sent[i].second, &m);
    ASSERT_TRUE(m.has_value());
    EXPECT_TRUE(m->publish().dup) << "a retransmission has DUP 1: " << *m;
    EXPECT_EQ(m->publish().packet_id, ids[i]) << "the original packet id: " << *m;
  }
  EXPECT_OK(again->ExpectNoPacket(kQuiet));
  // Acknowledge everything; then nothing is left to re-send.
  for (size_t i = 0; i < sent.size(); ++i) {
    if (sent[i].second == Qos::k1) {
      ASSERT_OK(again->Send(AckFor<mqtt::Puback>(ids[i])));
    } else {
      ASSERT_OK(again->Send(AckFor<mqtt::Pubrec>(ids[i])));
      ASSERT_OK(again->AwaitAck(PacketType::kPubrel, ids[i]));
      ASSERT_OK(again->Send(AckFor<mqtt::Pubcomp>(ids[i])));
    }
  }
  ASSERT_OK(again->Ping());  // the acknowledgements were processed before the PINGRESP
  again->ResetSocket();
  ASSERT_OK_AND_ASSIGN(auto third, Connect(so));
  EXPECT_OK(third->ExpectNoPacket(kQuiet));
}

// [MQTT-3.3.4-9] with [MQTT-4.4.0-1]: re-sent PUBLISHes count against the Receive Maximum of
// the new connection. A client that had four messages unacknowledged and comes back with
// Receive Maximum 2 gets two of them, then one more per PUBACK, each with DUP 1 and its
// original packet id, in the original order [MQTT-4.6.0-1].
TEST_F(SessionTest, V5RetransmissionOnResumeRespectsReceiveMaximum) {
  ConnectOptions so = V5Persistent("retx-rm", 300);
  so.auto_ack = false;
  ASSERT_OK_AND_ASSIGN(auto sub, Connect(so));
  ASSERT_OK(sub->Subscribe("retx-rm/t", Qos::k1));
  ASSERT_OK_AND_ASSIGN(auto pub, Connect());
  const std::vector<std::string> payloads = {"a", "b", "c", "d"};
  std::vector<uint16_t> ids;
  for (const std::string& p : payloads) {
    ASSERT_OK(pub->Publish("retx-rm/t", p, Qos::k1));
    std::optional<ReceivedPacket> m;
    ExpectMessage(*sub, "retx-rm/t", p, Qos::k1, &m);
    ASSERT_TRUE(m.has_value());
    ids.push_back(m->publish().packet_id);
  }
  sub->ResetSocket();

  so.properties.SetReceiveMaximum(2);
  ASSERT_OK_AND_ASSIGN(auto again, Connect(so));
  EXPECT_TRUE(again->server().session_present);
  // The client reports a third unacknowledged PUBLISH as a DataLoss error.
  for (size_t i = 0; i < payloads.size(); ++i) {
    std::optional<ReceivedPacket> m;
    ExpectMessage(*again, "retx-rm/t", payloads[i], Qos::k1, &m);
    ASSERT_TRUE(m.has_value());
    EXPECT_TRUE(m->publish().dup) << *m;
    EXPECT_EQ(m->publish().packet_id, ids[i]) << *m;
    if (i >= 1) {
      ASSERT_OK(again->Send(AckFor<mqtt::Puback>(ids[i - 1])));
    }
  }
  ASSERT_OK(again->Send(AckFor<mqtt::Puback>(ids.back())));
  EXPECT_OK(again->ExpectNoPacket(kQuiet));
}

// [MQTT-4.3.3-6] after PUBREL the sender never re-sends the PUBLISH: a QoS 2 message the
// client acknowledged with PUBREC gets its PUBREL re-sent on resumption [MQTT-4.4.0-1], with
// the same packet id [MQTT-2.2.1-5]; PUBCOMP ends it; 3.1.1: [MQTT-4.3.3-1 (3.1.1)],
// [MQTT-4.4.0-1 (3.1.1)].
TEST_P(SessionVersionTest, PubrelResentNotPublishAfterPubrec) {
  const ProtocolVersion v = GetParam();
  ConnectOptions so = Persistent(v, "pubrel");
  so.auto_ack = false;
  ASSERT_OK_AND_ASSIGN(auto sub, Connect(so));
  ASSERT_OK(sub->Subscribe("pubrel/t", Qos::k2));
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(Options()));
  ASSERT_OK(pub->Publish("pubrel/t", "exactly once", Qos::k2));
  std::optional<ReceivedPacket> m;
  ExpectMessage(*sub, "pubrel/t", "exactly once", Qos::k2, &m);
  ASSERT_TRUE(m.has_value());
  const uint16_t id = m->publish().packet_id;
  ASSERT_OK(sub->Send(AckFor<mqtt::Pubrec>(id)));
  ASSERT_OK(sub->AwaitAck(PacketType::kPubrel, id));
  sub->ResetSocket();

  ASSERT_OK_AND_ASSIGN(auto again, Connect(so));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket rel, again->Receive());
  ASSERT_EQ(rel.type(), PacketType::kPubrel) << "expected the PUBREL again, not " << rel;
  EXPECT_EQ(rel.As<mqtt::Pubrel>().packet_id, id);
  // The PUBLISH must not be re-sent.
  EXPECT_OK(again->ExpectNoPacket(kQuiet));
  ASSERT_OK(again->Send(AckFor<mqtt::Pubcomp>(id)));
  ASSERT_OK(again->Ping());
  again->ResetSocket();
  ASSERT_OK_AND_ASSIGN(auto third, Connect(so));
  // PUBCOMP ended the flow [MQTT-4.3.3-5].
  EXPECT_OK(third->ExpectNoPacket(kQuiet));
}

// ---- takeover ----------------------------------------------------------------------------------

// [MQTT-3.1.4-3] a second connection with the same client id takes over: the old connection
// gets DISCONNECT 0x8E (Session taken over) and is closed; 3.x has no server DISCONNECT: the
// old connection is just closed [MQTT-3.1.4-2 (3.1.1)]. The new one is served.
TEST_P(SessionVersionTest, TakeoverClosesOldConnection) {
  const ProtocolVersion v = GetParam();
  ConnectOptions o = Options();
  o.client_id = "taken";
  ASSERT_OK_AND_ASSIGN(auto old, Connect(o));
  ASSERT_OK_AND_ASSIGN(auto fresh, Connect(o));
  EXPECT_EQ(fresh->server().reason, ReasonCode::kSuccess);
  ASSERT_OK_AND_ASSIGN(CloseResult r, old->WaitForClose(kCloseTimeout));
  EXPECT_TRUE(r.closed) << "the old connection was not closed";
  for (const ReceivedPacket& p : r.others) {
    ADD_FAILURE() << "unexpected packet on the old connection: " << p;
  }
  if (mqtt::IsV5(v)) {
    ASSERT_TRUE(r.disconnect.has_value()) << "expected DISCONNECT 0x8E";
    EXPECT_EQ(r.disconnect->reason(), ReasonCode::kSessionTakenOver) << *r.disconnect;
    EXPECT_FALSE(r.disconnect->properties().Has(PropertyId::kSessionExpiryInterval))
        << "[MQTT-3.14.2-2]";
  } else {
    EXPECT_FALSE(r.disconnect.has_value());
  }
  EXPECT_OK(fresh->Ping());
  EXPECT_OK(fresh->ExpectNoPacket(milliseconds(100)));
  EXPECT_OK(fresh->Disconnect());
}

// [MQTT-3.1.4-3] with [MQTT-3.1.2-5]: a takeover with Clean Start 0 continues the session:
// Session Present 1 [MQTT-3.2.2-3], its subscriptions, and its unacknowledged messages
// re-sent on the new connection [MQTT-4.4.0-1]; a takeover with Clean Start 1 starts afresh
// [MQTT-3.1.2-4].
TEST_P(SessionVersionTest, TakeoverWithCleanStart0KeepsSession) {
  const ProtocolVersion v = GetParam();
  ConnectOptions o = Persistent(v, "takeover");
  o.auto_ack = false;
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(Options()));
  ASSERT_OK_AND_ASSIGN(auto old, Connect(o));
  ASSERT_OK(old->Subscribe("takeover/t", Qos::k1));
  ASSERT_OK(pub->Publish("takeover/t", "unacked", Qos::k1));
  std::optional<ReceivedPacket> m;
  ExpectMessage(*old, "takeover/t", "unacked", Qos::k1, &m);
  ASSERT_TRUE(m.has_value());

  ASSERT_OK_AND_ASSIGN(auto fresh, Connect(o));
  if (HasSessionPresentFlag(v)) {
    EXPECT_TRUE(fresh->server().session_present);
  }
  std::optional<ReceivedPacket> again;
  ExpectMessage(*fresh, "takeover/t", "unacked", Qos::k1, &again);
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->publish().dup) << *again;
  EXPECT_EQ(again->publish().packet_id, m->publish().packet_id);
  ASSERT_OK(fresh->Send(AckFor<mqtt::Puback>(m->publish().packet_id)));
  ASSERT_OK(pub->Publish("takeover/t", "live", Qos::k1));
  ExpectMessage(*fresh, "takeover/t", "live", Qos::k1);
  ASSERT_OK_AND_ASSIGN(CloseResult r, old->WaitForClose(kCloseTimeout));
  EXPECT_TRUE(r.closed);
  EXPECT_TRUE(r.others.empty()) << "the old connection got " << r.others.front();

  ConnectOptions clean = o;
  clean.clean_start = true;
  ASSERT_OK_AND_ASSIGN(auto third, Connect(clean));
  EXPECT_FALSE(third->server().session_present);
  ASSERT_OK(pub->Publish("takeover/t", "nobody", Qos::k1));
  // Clean Start 1 dropped the subscription.
  EXPECT_OK(third->ExpectNoPacket(kQuiet));
}

// ---- packet identifiers and flow control
// ------------------------------------------------------------

// [MQTT-2.2.1-4] every QoS 1/2 PUBLISH the server sends has a non-zero packet id not in use by
// another unacknowledged one: not by a QoS 1 message before its PUBACK, nor a QoS 2 message
// before its PUBCOMP (PUBREC'd ones included); 3.1.1: [MQTT-2.3.1-1/4 (3.1.1)].
TEST_P(SessionVersionTest, ServerPacketIdsUniqueAmongInflight) {
  ConnectOptions so = Options();
  so.auto_ack = false;
  ASSERT_OK_AND_ASSIGN(auto sub, Connect(so));
  ASSERT_OK(sub->Subscribe("ids/t", Qos::k2));
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(Options()));
  std::vector<std::pair<uint16_t, Qos>> first;
  for (int i = 0; i < 20; ++i) {
    const Qos qos = i % 2 == 0 ? Qos::k1 : Qos::k2;
    ASSERT_OK(pub->Publish("ids/t", "first " + std::to_string(i), qos));
    std::optional<ReceivedPacket> m;
    ExpectMessage(*sub, "ids/t", "first " + std::to_string(i), qos, &m);
    ASSERT_TRUE(m.has_value());
    first.emplace_back(m->publish().packet_id, qos);
  }
  std::set<uint16_t> in_use;
  for (const auto& [id, qos] : first) {
    EXPECT_NE(id, 0);
    EXPECT_TRUE(in_use.insert(id).second) << "packet id " << id << " used twice";
  }
  // Finish the QoS 1 ones; take the QoS 2 ones to the PUBREL stage (still in use).
  for (const auto& [id, qos] : first) {
    if (qos == Qos::k1) {
      ASSERT_OK(sub->Send(AckFor<mqtt::Puback>(id)));
      in_use.erase(id);
    } else {
      ASSERT_OK(sub->Send(AckFor<mqtt::Pubrec>(id)));
      ASSERT_OK(sub->AwaitAck(PacketType::kPubrel, id));
    }
  }
  // More QoS 1 messages, acknowledged with a lag of 5 (few enough in flight for any server's
  // window): none may take an id still in use.
  std::deque<uint16_t> unacked;
  for (int i = 0; i < 30; ++i) {
    ASSERT_OK(pub->Publish("ids/t", "second " + std::to_string(i), Qos::k1));
    std::optional<ReceivedPacket> m;
    ExpectMessage(*sub, "ids/t", "second " + std::to_string(i), Qos::k1, &m);
    ASSERT_TRUE(m.has_value());
    const uint16_t id = m->publish().packet_id;
    EXPECT_NE(id, 0);
    EXPECT_TRUE(in_use.insert(id).second)
        << "packet id " << id << " reused while still unacknowledged";
    unacked.push_back(id);
    if (unacked.size() > 5) {
      ASSERT_OK(sub->Send(AckFor<mqtt::Puback>(unacked.front())));
      in_use.erase(unacked.front());
      unacked.pop_front();
    }
  }
}

// [MQTT-3.3.4-9] the server keeps its unacknowledged QoS 1/2 PUBLISHes within the client's
// Receive Maximum (2 here) and sends more only as PUBACKs return quota [MQTT-4.9.0-2], in
// order; [MQTT-3.3.4-10], [MQTT-4.9.0-3] with no quota left it still answers PINGREQ and
// SUBSCRIBE.
TEST_F(SessionTest, V5ServerKeepsWithinClientReceiveMaximum) {
  ConnectOptions so;
  so.auto_ack = false;
  so.properties.SetReceiveMaximum(2);
  ASSERT_OK_AND_ASSIGN(auto sub, Connect(so));
  ASSERT_OK(sub->Subscribe("rm/t", Qos::k1));
  ASSERT_OK_AND_ASSIGN(auto pub, Connect());
  for (int i = 1; i <= 5; ++i) {
    ASSERT_OK(pub->Publish("rm/t", "m" + std::to_string(i), Qos::k1));
  }
  std::vector<uint16_t> ids;
  for (int i = 1; i <= 2; ++i) {
    std::optional<ReceivedPacket> m;
    ExpectMessage(*sub, "rm/t", "m" + std::to_string(i), Qos::k1, &m);
    ASSERT_TRUE(m.has_value());
    ids.push_back(m->publish().packet_id);
  }
  // The client itself reports a third unacknowledged PUBLISH as an error.
  // No third message while two are unacknowledged.
  EXPECT_OK(sub->ExpectNoPacket(kQuiet));
  // Non-PUBLISH packets are answered with no quota left.
  EXPECT_OK(sub->Ping());
  ASSERT_OK_AND_ASSIGN(ReceivedPacket suback, sub->Subscribe("rm/other", Qos::k0));
  EXPECT_EQ(suback.As<mqtt::Suback>().reasons[0], mqtt::kGrantedQos0);

  ASSERT_OK(sub->Send(AckFor<mqtt::Puback>(ids[0])));
  {
    std::optional<ReceivedPacket> m;
    ExpectMessage(*sub, "rm/t", "m3", Qos::k1, &m);
    ASSERT_TRUE(m.has_value());
    ids.push_back(m->publish().packet_id);
  }
  EXPECT_OK(sub->ExpectNoPacket(kQuiet));
  ASSERT_OK(sub->Send(AckFor<mqtt::Puback>(ids[1])));
  ASSERT_OK(sub->Send(AckFor<mqtt::Puback>(ids[2])));
  for (int i = 4; i <= 5; ++i) {
    std::optional<ReceivedPacket> m;
    ExpectMessage(*sub, "rm/t", "m" + std::to_string(i), Qos::k1, &m);
    ASSERT_TRUE(m.has_value());
    ids.push_back(m->publish().packet_id);
  }
  ASSERT_OK(sub->Send(AckFor<mqtt::Puback>(ids[3])));
  ASSERT_OK(sub->Send(AckFor<mqtt::Puback>(ids[4])));
  EXPECT_OK(sub->ExpectNoPacket(kQuiet));
}

// [MQTT-4.9.0-2] a QoS 2 PUBLISH holds its unit of quota until PUBCOMP, not PUBREC
// [MQTT-3.3.4-9] (Receive Maximum 1).
TEST_F(SessionTest, V5ReceiveMaximumCountsQos2UntilPubcomp) {
  ConnectOptions so;
  so.auto_ack = false;
  so.properties.SetReceiveMaximum(1);
  ASSERT_OK_AND_ASSIGN(auto sub, Connect(so));
  ASSERT_OK(sub->Subscribe("rm2/t", Qos::k2));
  ASSERT_OK_AND_ASSIGN(auto pub, Connect());
  ASSERT_OK(pub->Publish("rm2/t", "q1", Qos::k2));
  ASSERT_OK(pub->Publish("rm2/t", "q2", Qos::k2));
  std::optional<ReceivedPacket> m;
  ExpectMessage(*sub, "rm2/t", "q1", Qos::k2, &m);
  ASSERT_TRUE(m.has_value());
  const uint16_t id = m->publish().packet_id;
  EXPECT_OK(sub->ExpectNoPacket(kQuiet));
  ASSERT_OK(sub->Send(AckFor<mqtt::Pubrec>(id)));
  ASSERT_OK(sub->AwaitAck(PacketType::kPubrel, id));
  // PUBREC does not return the quota.
  EXPECT_OK(sub->ExpectNoPacket(kQuiet));
  ASSERT_OK(sub->Send(AckFor<mqtt::Pubcomp>(id)));
  ExpectMessage(*sub, "rm2/t", "q2", Qos::k2);
}

INSTANTIATE_TEST_SUITE_P(All, SessionVersionTest, RINGMQ_ALL_VERSIONS, VersionName);

}  // namespace
}  // namespace ringmq::testing
