// Broker integration tests: PUBLISH and the QoS 0/1/2 flows in both directions, in every
// protocol version, against the MQTT 3.1.1 and 5.0 specifications. The QoS 1/2 tests also run
// with --debug-defer-ms 50 (suffix "_defer"), where every PUBACK/PUBREC decision is held and
// released through the broker's asynchronous acknowledgement path.
//
// Statement ids are named per test; the list is in /work/shared/mqtt-normative.md.
#include <algorithm>
#include <cstdint>
#include <deque>
#include <set>
#include <string>
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
using mqtt::ProtocolVersion;
using mqtt::Qos;
using mqtt::ReasonCode;

constexpr Qos kAllQos[] = {Qos::k0, Qos::k1, Qos::k2};

// The receiving side of a QoS 1/2 flow, answered by hand: PUBACK; or PUBREC, then the
// server's PUBREL (same id [MQTT-2.2.1-5], [MQTT-4.3.3-4]) and our PUBCOMP.
absl::Status CompleteIncoming(MqttClient& c, const ReceivedPacket& m) {
  const mqtt::Publish& p = m.publish();
  if (p.qos == Qos::k1) {
    return c.Send(AckFor<mqtt::Puback>(p.packet_id));
  }
  if (p.qos == Qos::k2) {
    if (absl::Status s = c.Send(AckFor<mqtt::Pubrec>(p.packet_id)); !s.ok()) {
      return s;
    }
    absl::StatusOr<ReceivedPacket> rel = c.AwaitAck(PacketType::kPubrel, p.packet_id);
    if (!rel.ok()) {
      return rel.status();
    }
    if (IdOf<mqtt::Pubrel>(*rel) != p.packet_id) {
      return absl::InternalError(
          absl::StrFormat("PUBREL %s for PUBLISH id %u", rel->DebugString(), p.packet_id));
    }
    return c.Send(AckFor<mqtt::Pubcomp>(p.packet_id));
  }
  return absl::OkStatus();
}

// ---- every version, with and without the deferred acknowledgement path -----------------------

class PublishTest : public VersionDeferTest {};

INSTANTIATE_TEST_SUITE_P(Versions, PublishTest,
                         ::testing::Combine(RINGMQ_ALL_VERSIONS, ::testing::Bool()),
                         VersionDeferName);

// [MQTT-3.3.4-1] the server answers a PUBLISH as its QoS requires; [MQTT-4.3.1-1],
// [MQTT-4.3.2-1..4], [MQTT-4.3.3-1..5], [MQTT-4.3.3-8], [MQTT-4.3.3-11]: the exact flows in
// both directions (client -> server and server -> subscribers on both shards), with the ids of
// the packets they answer [MQTT-2.2.1-5]; DUP 0 on first transmissions; and nothing more: no
// retransmission outside a session resumption [MQTT-4.4.0-1], no PUBLISH after the PUBREL
// [MQTT-4.3.3-6].
TEST_P(PublishTest, ExactFlowsInBothDirections) {
  ConnectOptions so = Options();
  so.auto_ack = false;
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 4), so));
  for (auto& s : subs) {
    ASSERT_OK(SubscribeGranted(*s, "flow/t", Qos::k2));
  }
  ConnectOptions po = Options(SpreadId("pub", 0));
  po.auto_ack = false;
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(po));

  for (Qos qos : kAllQos) {
    SCOPED_TRACE(::testing::PrintToString(qos));
    const std::string payload = "payload at " + ::testing::PrintToString(qos);
    const mqtt::Publish p = MakePublish("flow/t", payload, qos, pub->NextPacketId());
    ASSERT_OK(pub->Send(p));
    if (qos == Qos::k1) {
      ASSERT_OK_AND_ASSIGN(ReceivedPacket ack, pub->Expect(PacketType::kPuback));
      EXPECT_EQ(IdOf<mqtt::Puback>(ack), p.packet_id);
      EXPECT_EQ(ack.reason(), ReasonCode::kSuccess);
    } else if (qos == Qos::k2) {
      ASSERT_OK_AND_ASSIGN(ReceivedPacket rec, pub->Expect(PacketType::kPubrec));
      EXPECT_EQ(IdOf<mqtt::Pubrec>(rec), p.packet_id);
      EXPECT_EQ(rec.reason(), ReasonCode::kSuccess);
      ASSERT_OK(pub->Send(AckFor<mqtt::Pubrel>(p.packet_id)));
      ASSERT_OK_AND_ASSIGN(ReceivedPacket comp, pub->Expect(PacketType::kPubcomp));
      EXPECT_EQ(IdOf<mqtt::Pubcomp>(comp), p.packet_id);
      EXPECT_EQ(comp.reason(), ReasonCode::kSuccess);
    }
    for (auto& s : subs) {
      SCOPED_TRACE(s->client_id());
      ASSERT_OK_AND_ASSIGN(ReceivedPacket m, s->ExpectPublish());
      const mqtt::Publish& got = m.publish();
      EXPECT_EQ(got.topic, "flow/t");
      EXPECT_EQ(got.payload, payload);
      EXPECT_EQ(got.qos, qos);
      EXPECT_FALSE(got.dup);  // [MQTT-4.3.1-1], [MQTT-4.3.2-2], [MQTT-4.3.3-2]
      if (qos == Qos::k0) {
        EXPECT_EQ(got.packet_id, 0);
      } else {
        EXPECT_NE(got.packet_id, 0);  // [MQTT-2.2.1-4]
      }
      ASSERT_OK(CompleteIncoming(*s, m));
    }
  }
  // Anything more (a retransmission, a second copy) would also have failed the ExpectPublish
  // and Expect calls above.
  std::vector<MqttClient*> all = Raw(subs);
  all.push_back(pub.get());
  EXPECT_OK(ExpectAllQuiet(all));
}

// [MQTT-4.3.2-5] after PUBACK, a PUBLISH reusing the id is a new message; [MQTT-4.3.3-12]
// likewise after PUBCOMP.
TEST_P(PublishTest, PacketIdReusedAfterFlowIsNewMessage) {
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 2), Options()));
  for (auto& s : subs) {
    ASSERT_OK(SubscribeGranted(*s, "reuse/t", Qos::k2));
  }
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(Options(SpreadId("pub", 0))));
  for (Qos qos : {Qos::k1, Qos::k2}) {
    for (int i = 0; i < 2; ++i) {
      PublishOptions o;
      o.qos = qos;
      o.packet_id = 7;
      ASSERT_OK_AND_ASSIGN(PublishResult r, pub->Publish("reuse/t", absl::StrFormat("m%d", i), o));
      EXPECT_EQ(r.reason(), ReasonCode::kSuccess);
    }
    for (auto& s : subs) {
      ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 2));
      EXPECT_EQ(got[0].publish().payload, "m0");
      EXPECT_EQ(got[1].publish().payload, "m1");
    }
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// [MQTT-3.8.4-8] delivered QoS = min(published QoS, granted QoS), for every combination, to
// subscribers on both shards.
TEST_P(PublishTest, DeliveredQosIsMinimumOfPublishedAndGranted) {
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 2), Options()));
  for (auto& s : subs) {
    ASSERT_OK(SubscribeGranted(
        *s, {Entry("qd/0", Qos::k0), Entry("qd/1", Qos::k1), Entry("qd/2", Qos::k2)}));
  }
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(Options(SpreadId("pub", 0))));
  for (int granted = 0; granted < 3; ++granted) {
    for (Qos qos : kAllQos) {
      ASSERT_OK(pub->Publish(absl::StrFormat("qd/%d", granted),
                             absl::StrFormat("%d%d", granted, static_cast<int>(qos)), qos));
    }
  }
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 9));
    std::set<std::string> seen;
    for (const ReceivedPacket& m : got) {
      const std::string payload(m.publish().payload);
      ASSERT_EQ(payload.size(), 2u) << m;
      const int granted = payload[0] - '0';
      const int published = payload[1] - '0';
      EXPECT_EQ(static_cast<int>(m.publish().qos), std::min(granted, published)) << m;
      EXPECT_EQ(m.publish().topic, absl::StrFormat("qd/%d", granted));
      seen.insert(payload);
    }
    EXPECT_EQ(seen.size(), 9u);
  }
}

// [MQTT-3.3.1-3] the DUP flag of an incoming PUBLISH is not propagated: each outgoing
// PUBLISH has DUP 0 unless it is itself a retransmission.
TEST_P(PublishTest, DupIsNotPropagated) {
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 2), Options()));
  for (auto& s : subs) {
    ASSERT_OK(SubscribeGranted(*s, "dup/t", Qos::k2));
  }
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(Options(SpreadId("pub", 0))));
  for (Qos qos : {Qos::k1, Qos::k2}) {
    PublishOptions o;
    o.qos = qos;
    o.dup = true;
    ASSERT_OK_AND_ASSIGN(PublishResult r, pub->Publish("dup/t", "d", o));
    EXPECT_EQ(r.reason(), ReasonCode::kSuccess);
    for (auto& s : subs) {
      ASSERT_OK_AND_ASSIGN(ReceivedPacket m, s->ExpectPublish());
      EXPECT_EQ(m.publish().qos, qos);
      EXPECT_FALSE(m.publish().dup) << m;
    }
  }
}

// [MQTT-4.3.3-10] until PUBREL, a repeated QoS 2 PUBLISH with the same id (DUP 1) gets
// another PUBREC and is not delivered onward a second time, whether it follows the first
// PUBREC or is pipelined right behind the original; [MQTT-4.3.3-11] PUBCOMP follows PUBREL.
TEST_P(PublishTest, Qos2RepeatBeforePubrelIsAcknowledgedNotForwarded) {
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 4), Options()));
  for (auto& s : subs) {
    ASSERT_OK(SubscribeGranted(*s, "once/t", Qos::k2));
  }
  ConnectOptions po = Options(SpreadId("pub", 0));
  po.auto_ack = false;
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(po));

  // 1. The repeat after the first PUBREC.
  ASSERT_OK(pub->Send(MakePublish("once/t", "first", Qos::k2, 42)));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket rec1, pub->Expect(PacketType::kPubrec));
  EXPECT_EQ(IdOf<mqtt::Pubrec>(rec1), 42);
  EXPECT_EQ(rec1.reason(), ReasonCode::kSuccess);
  ASSERT_OK(pub->Send(MakePublish("once/t", "first", Qos::k2, 42, /*dup=*/true)));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket rec2, pub->Expect(PacketType::kPubrec));
  EXPECT_EQ(IdOf<mqtt::Pubrec>(rec2), 42);
  // The repeat is the same message: it still has its subscribers. 0x10 ("No matching
  // subscribers", 5.0 §3.5.2.1) would be untrue here.
  EXPECT_EQ(rec2.reason(), ReasonCode::kSuccess);

  // 2. The repeat pipelined behind the original, before any PUBREC.
  ASSERT_OK(pub->Send(MakePublish("once/t", "second", Qos::k2, 43)));
  ASSERT_OK(pub->Send(MakePublish("once/t", "second", Qos::k2, 43, /*dup=*/true)));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket rec3, pub->Expect(PacketType::kPubrec));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket rec4, pub->Expect(PacketType::kPubrec));
  EXPECT_EQ(IdOf<mqtt::Pubrec>(rec3), 43);
  EXPECT_EQ(IdOf<mqtt::Pubrec>(rec4), 43);
  EXPECT_FALSE(mqtt::IsFailure(rec3.reason())) << rec3;
  EXPECT_FALSE(mqtt::IsFailure(rec4.reason())) << rec4;

  for (uint16_t id : {42, 43}) {
    ASSERT_OK(pub->Send(AckFor<mqtt::Pubrel>(id)));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket comp, pub->Expect(PacketType::kPubcomp));
    EXPECT_EQ(IdOf<mqtt::Pubcomp>(comp), id);
    EXPECT_EQ(comp.reason(), ReasonCode::kSuccess);
  }
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 2));
    EXPECT_EQ(got[0].publish().payload, "first");
    EXPECT_EQ(got[1].publish().payload, "second");
  }
  std::vector<MqttClient*> all = Raw(subs);
  all.push_back(pub.get());
  EXPECT_OK(ExpectAllQuiet(all));  // exactly once: no second copy
}

// [MQTT-4.3.3-11] a PUBREL for an id the server does not know is answered with PUBCOMP with
// that id: 5.0 reason 0x92 (Packet Identifier not found); the connection stays up.
TEST_P(PublishTest, PubrelForUnknownIdGetsPubcomp) {
  ASSERT_OK_AND_ASSIGN(auto c, Connect(Options(SpreadId("pub", 0))));
  ASSERT_OK(c->Send(AckFor<mqtt::Pubrel>(777)));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket comp, c->Expect(PacketType::kPubcomp));
  EXPECT_EQ(IdOf<mqtt::Pubcomp>(comp), 777);
  if (v5()) {
    EXPECT_EQ(comp.reason(), ReasonCode::kPacketIdentifierNotFound);
  }
  EXPECT_OK(c->Ping());
  // The same for a QoS 2 flow already completed: its id is unknown again.
  PublishOptions o;
  o.qos = Qos::k2;
  o.packet_id = 5;
  ASSERT_OK(c->Publish("unknown/t", "x", o));
  ASSERT_OK(c->Send(AckFor<mqtt::Pubrel>(5)));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket comp2, c->Expect(PacketType::kPubcomp));
  EXPECT_EQ(IdOf<mqtt::Pubcomp>(comp2), 5);
  if (v5()) {
    EXPECT_EQ(comp2.reason(), ReasonCode::kPacketIdentifierNotFound);
  }
  EXPECT_OK(c->Ping());
}

// [MQTT-4.6.0-5], [MQTT-4.6.0-6]: 1,000 QoS 1 messages from one publisher to one topic arrive
// in order at every subscriber, on both shards; the PUBACKs come back in PUBLISH order (the
// server side of [MQTT-4.6.0-2]).
TEST_P(PublishTest, ThousandQos1MessagesKeepOrderOnBothShards) {
  constexpr int kMessages = 1000;
  constexpr size_t kWindow = 64;  // PUBLISHes in flight, below the announced Receive Maximum
  constexpr int kBatch = 250;     // subscribers read after every batch
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 8), Options()));
  for (auto& s : subs) {
    ASSERT_OK(SubscribeGranted(*s, "order/t", Qos::k1));
  }
  ConnectOptions po = Options(SpreadId("pub", 0));
  po.auto_ack = false;
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(po));
  std::vector<int> next(subs.size(), 0);
  std::deque<uint16_t> outstanding;
  auto await_oldest = [&]() -> absl::Status {
    absl::StatusOr<ReceivedPacket> ack = pub->Expect(PacketType::kPuback);
    if (!ack.ok()) {
      return ack.status();
    }
    if (IdOf<mqtt::Puback>(*ack) != outstanding.front()) {
      return absl::InternalError(absl::StrFormat("PUBACK out of order: %s, expected id %u",
                                                 ack->DebugString(), outstanding.front()));
    }
    outstanding.pop_front();
    return absl::OkStatus();
  };
  for (int i = 0; i < kMessages; ++i) {
    const uint16_t id = pub->NextPacketId();
    ASSERT_OK(pub->Send(MakePublish("order/t", std::to_string(i), Qos::k1, id)));
    outstanding.push_back(id);
    if (outstanding.size() == kWindow) {
      ASSERT_OK(await_oldest());
    }
    if ((i + 1) % kBatch == 0) {
      while (!outstanding.empty()) {
        ASSERT_OK(await_oldest());
      }
      for (size_t k = 0; k < subs.size(); ++k) {
        SCOPED_TRACE(subs[k]->client_id());
        ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*subs[k], kBatch));
        for (const ReceivedPacket& m : got) {
          ASSERT_EQ(m.publish().payload, std::to_string(next[k])) << m;
          ASSERT_EQ(m.publish().qos, Qos::k1);
          ++next[k];
        }
      }
    }
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// The acknowledgements of pipelined QoS 1 and QoS 2 PUBLISHes come back in the order the
// PUBLISHes were sent (the server side of [MQTT-4.6.0-2], [MQTT-4.6.0-3]), also when the
// messages go to subscribers on the publisher's own shard (acknowledged at once) and on the
// other shard (acknowledged after that shard reports), interleaved.
TEST_P(PublishTest, AcknowledgementsKeepPublishOrder) {
  constexpr int kMessages = 64;
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 4), Options()));
  for (size_t i = 0; i < subs.size(); ++i) {
    ASSERT_OK(SubscribeGranted(*subs[i], absl::StrFormat("ack/%d", i), Qos::k2));
  }
  ConnectOptions po = Options(SpreadId("pub", 0));
  po.auto_ack = false;
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(po));
  for (Qos qos : {Qos::k1, Qos::k2}) {
    SCOPED_TRACE(::testing::PrintToString(qos));
    std::vector<uint16_t> ids;
    for (int i = 0; i < kMessages; ++i) {
      // Topics 0..3 cycle, plus one nobody subscribes to.
      const std::string topic = i % 5 == 4 ? "ack/none" : absl::StrFormat("ack/%d", i % 5);
      ids.push_back(pub->NextPacketId());
      ASSERT_OK(pub->Send(MakePublish(topic, std::to_string(i), qos, ids.back())));
    }
    const PacketType type = qos == Qos::k1 ? PacketType::kPuback : PacketType::kPubrec;
    for (int i = 0; i < kMessages; ++i) {
      ASSERT_OK_AND_ASSIGN(ReceivedPacket ack, pub->Expect(type));
      const uint16_t id = qos == Qos::k1 ? IdOf<mqtt::Puback>(ack) : IdOf<mqtt::Pubrec>(ack);
      ASSERT_EQ(id, ids[i]) << "acknowledgement " << i << " out of order: " << ack;
    }
    if (qos == Qos::k2) {
      for (uint16_t id : ids) {
        ASSERT_OK(pub->Send(AckFor<mqtt::Pubrel>(id)));
      }
      for (uint16_t id : ids) {
        ASSERT_OK_AND_ASSIGN(ReceivedPacket comp, pub->Expect(PacketType::kPubcomp));
        ASSERT_EQ(IdOf<mqtt::Pubcomp>(comp), id) << comp;
      }
    }
    for (size_t k = 0; k < subs.size(); ++k) {
      ASSERT_OK(ExpectPublishes(*subs[k], kMessages / 5 + (static_cast<int>(k) < kMessages % 5)));
    }
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// [MQTT-2.2.1-4] every QoS 1/2 PUBLISH the server sends has a non-zero packet id that no
// other unacknowledged PUBLISH of the session uses. The subscriber acknowledges nothing until
// the server stops sending (all 60, or as many as the server keeps in flight), so every
// PUBLISH of such a batch is unacknowledged at once.
TEST_P(PublishTest, ServerPacketIdsAreNonZeroAndUnique) {
  constexpr int kEach = 30;
  ConnectOptions so = Options();
  so.auto_ack = false;
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 2), so));
  for (auto& s : subs) {
    ASSERT_OK(SubscribeGranted(*s, {Entry("ids/1", Qos::k1), Entry("ids/2", Qos::k2)}));
  }
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(Options(SpreadId("pub", 0))));
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    using Messages = std::vector<std::pair<std::string, std::string>>;
    ASSERT_OK(PublishMany(*pub, Messages(kEach, {"ids/1", "a"}), Qos::k1));
    ASSERT_OK(PublishMany(*pub, Messages(kEach, {"ids/2", "b"}), Qos::k2));
    for (auto& s : subs) {
      SCOPED_TRACE(s->client_id());
      size_t received = 0;
      while (received < 2 * kEach) {
        std::vector<ReceivedPacket> batch;
        while (received + batch.size() < 2 * kEach) {
          absl::StatusOr<ReceivedPacket> p =
              s->ExpectPublish(batch.empty() ? kDefaultTimeout : kQuiet);
          if (!p.ok() && !batch.empty() && absl::IsDeadlineExceeded(p.status())) {
            break;  // the server waits for acknowledgements
          }
          ASSERT_OK(p);
          batch.push_back(*p);
        }
        std::set<uint16_t> ids;
        for (const ReceivedPacket& m : batch) {
          EXPECT_NE(m.publish().packet_id, 0) << m;
          EXPECT_TRUE(ids.insert(m.publish().packet_id).second) << "id in use twice: " << m;
        }
        for (const ReceivedPacket& m : batch) {
          ASSERT_OK(CompleteIncoming(*s, m));
        }
        received += batch.size();
      }
    }
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// A session that outlives its connection (3.x: Clean Session 0; 5.0: Session Expiry 60 s),
// acknowledged by hand; in 5.0 Clean Start as given.
ConnectOptions PersistentManualAck(ProtocolVersion v, std::string id, bool clean_start) {
  ConnectOptions o = Persistent(v, std::move(id), 60);
  o.auto_ack = false;
  if (mqtt::IsV5(v)) {
    o.clean_start = clean_start;
  }
  return o;
}

// [MQTT-4.3.3-10] the QoS 2 receiver state survives a reconnection to the session: a PUBLISH
// repeated (DUP 1) on the new connection before PUBREL is acknowledged with PUBREC and not
// delivered again, and the PUBREL sent on the new connection completes the flow with PUBCOMP
// 0x00 [MQTT-4.3.3-11] (the id was known).
TEST_P(PublishTest, Qos2ReceiverStateSurvivesReconnection) {
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 2), Options()));
  for (auto& s : subs) {
    ASSERT_OK(SubscribeGranted(*s, "resume/in", Qos::k2));
  }
  for (const std::string& id : SpreadIds("pub", 2)) {
    SCOPED_TRACE(id);
    ASSERT_OK_AND_ASSIGN(auto pub, Connect(PersistentManualAck(version(), id, true)));
    ASSERT_OK(pub->Send(MakePublish("resume/in", "once " + id, Qos::k2, 11)));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket rec, pub->Expect(PacketType::kPubrec));
    EXPECT_EQ(IdOf<mqtt::Pubrec>(rec), 11);
    pub->CloseSocket();
    ASSERT_OK_AND_ASSIGN(auto again, Connect(PersistentManualAck(version(), id, false)));
    if (version() != ProtocolVersion::kMqtt31) {  // 3.1's CONNACK has no Session Present
      EXPECT_TRUE(again->server().session_present);
    }
    ASSERT_OK(again->Send(MakePublish("resume/in", "once " + id, Qos::k2, 11, /*dup=*/true)));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket rec2, again->Expect(PacketType::kPubrec));
    EXPECT_EQ(IdOf<mqtt::Pubrec>(rec2), 11);
    EXPECT_FALSE(mqtt::IsFailure(rec2.reason())) << rec2;
    ASSERT_OK(again->Send(AckFor<mqtt::Pubrel>(11)));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket comp, again->Expect(PacketType::kPubcomp));
    EXPECT_EQ(IdOf<mqtt::Pubcomp>(comp), 11);
    EXPECT_EQ(comp.reason(), ReasonCode::kSuccess);
    ASSERT_OK(again->Disconnect());
    for (auto& s : subs) {
      ASSERT_OK_AND_ASSIGN(ReceivedPacket m, s->ExpectPublish());
      EXPECT_EQ(m.publish().payload, "once " + id);
    }
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// [MQTT-4.3.3-6] once the server has sent PUBREL it never sends that PUBLISH again; on a
// resumed session it re-sends the unacknowledged PUBREL with its id [MQTT-4.4.0-1] (and a
// QoS 1/2 PUBLISH not acknowledged at all again, DUP 1, same id).
TEST_P(PublishTest, ResumedSenderSendsPubrelNotPublish) {
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(Options(SpreadId("pub", 0))));
  for (const std::string& id : SpreadIds("sub", 2)) {
    SCOPED_TRACE(id);
    ASSERT_OK_AND_ASSIGN(auto s, Connect(PersistentManualAck(version(), id, true)));
    ASSERT_OK(SubscribeGranted(*s, "resume/out/" + id, Qos::k2));
    ASSERT_OK(pub->Publish("resume/out/" + id, "released", Qos::k2));
    // Large: the broker shares the encoding and stamps id and DUP into a copied header.
    const std::string unanswered = "unanswered " + std::string(3000, 'u');
    ASSERT_OK(pub->Publish("resume/out/" + id, unanswered, Qos::k2));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket m1, s->ExpectPublish());
    ASSERT_OK_AND_ASSIGN(ReceivedPacket m2, s->ExpectPublish());
    EXPECT_EQ(m1.publish().payload, "released");
    EXPECT_EQ(m2.publish().payload, unanswered);
    ASSERT_OK(s->Send(AckFor<mqtt::Pubrec>(m1.publish().packet_id)));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket rel, s->Expect(PacketType::kPubrel));
    EXPECT_EQ(IdOf<mqtt::Pubrel>(rel), m1.publish().packet_id);
    s->CloseSocket();  // no PUBCOMP, and no PUBREC for m2
    ASSERT_OK_AND_ASSIGN(auto back, Connect(PersistentManualAck(version(), id, false)));
    if (version() != ProtocolVersion::kMqtt31) {  // 3.1's CONNACK has no Session Present
      EXPECT_TRUE(back->server().session_present);
    }
    std::vector<ReceivedPacket> resent;
    for (int i = 0; i < 2; ++i) {
      ASSERT_OK_AND_ASSIGN(ReceivedPacket p, back->Receive());
      resent.push_back(p);
    }
    int pubrels = 0;
    int publishes = 0;
    for (const ReceivedPacket& p : resent) {
      if (p.Is<mqtt::Pubrel>()) {
        ++pubrels;
        EXPECT_EQ(IdOf<mqtt::Pubrel>(p), m1.publish().packet_id);
        ASSERT_OK(back->Send(AckFor<mqtt::Pubcomp>(m1.publish().packet_id)));
      } else {
        ASSERT_TRUE(p.Is<mqtt::Publish>()) << p;
        ++publishes;
        EXPECT_EQ(p.publish().payload, unanswered) << p;  // never "released" again
        EXPECT_EQ(p.publish().packet_id, m2.publish().packet_id);
        EXPECT_TRUE(p.publish().dup);
        ASSERT_OK(CompleteIncoming(*back, p));
      }
    }
    EXPECT_EQ(pubrels, 1);
    EXPECT_EQ(publishes, 1);
    EXPECT_OK(back->ExpectNoPacket(kQuiet));
    ASSERT_OK(back->Disconnect());
  }
}

// ---- every version, no deferral --------------------------------------------------------------

class PublishVersionTest : public BrokerVersionTest {};

INSTANTIATE_TEST_SUITE_P(Versions, PublishVersionTest, RINGMQ_ALL_VERSIONS, VersionName);

// [MQTT-3.3.2-2], [MQTT-4.7.0-1]: a wildcard in a Topic Name makes the PUBLISH malformed: 5.0
// DISCONNECT 0x81 then close [MQTT-4.13.1-1]; 3.x close [MQTT-4.8.0-1 (3.1.1)]. Nothing is
// delivered.
TEST_P(PublishVersionTest, WildcardInTopicNameIsMalformed) {
  ASSERT_OK_AND_ASSIGN(auto sub, Connect(VersionOptions(GetParam(), SpreadId("sub", 0))));
  ASSERT_OK(SubscribeGranted(*sub, "#", Qos::k1));
  for (const char* topic : {"w/+", "w/#", "+", "#", "w/x+"}) {
    for (Qos qos : {Qos::k0, Qos::k1}) {
      SCOPED_TRACE(absl::StrFormat("topic %s %s", topic, ::testing::PrintToString(qos)));
      ASSERT_OK_AND_ASSIGN(auto c, Connect(VersionOptions(GetParam())));
      ASSERT_OK(c->Send(MakePublish(topic, "x", qos, 1)));
      ASSERT_OK_AND_ASSIGN(CloseResult r, c->WaitForClose());
      EXPECT_TRUE(r.closed);
      EXPECT_TRUE(r.others.empty()) << r.others.front();
      if (mqtt::IsV5(GetParam())) {
        ASSERT_TRUE(r.disconnect.has_value());
        EXPECT_EQ(r.disconnect->reason(), ReasonCode::kMalformedPacket);
      } else {
        EXPECT_FALSE(r.disconnect.has_value());
      }
    }
  }
  EXPECT_OK(sub->ExpectNoPacket(kQuiet));
}

// $SYS topics belong to the broker: a client's PUBLISH to one is refused (5.0: 0x87 Not
// authorized; 3.x: acknowledged and dropped, or the connection closed
// [MQTT-3.3.5-2 (3.1.1)]), is not delivered and is not stored as retained.
TEST_P(PublishVersionTest, PublishToSysIsRefused) {
  const bool v5 = mqtt::IsV5(GetParam());
  ASSERT_OK_AND_ASSIGN(auto sub, Connect(VersionOptions(GetParam(), SpreadId("sub", 0))));
  ASSERT_OK(SubscribeGranted(*sub, "$SYS/test/#", Qos::k1));
  for (Qos qos : kAllQos) {
    SCOPED_TRACE(::testing::PrintToString(qos));
    ASSERT_OK_AND_ASSIGN(auto pub, Connect(VersionOptions(GetParam(), SpreadId("pub", 0))));
    PublishOptions o;
    o.qos = qos;
    o.retain = true;
    absl::StatusOr<PublishResult> r = pub->Publish("$SYS/test/x", "forged", o);
    if (v5) {
      ASSERT_OK(r);
      if (qos != Qos::k0) {
        EXPECT_EQ(r->reason(), ReasonCode::kNotAuthorized);
      }
    } else if (!r.ok()) {
      EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
    }
  }
  EXPECT_OK(sub->ExpectNoPacket(kQuiet));
  ASSERT_OK_AND_ASSIGN(auto late, Connect(VersionOptions(GetParam(), SpreadId("sub", 1))));
  ASSERT_OK(SubscribeGranted(*late, "$SYS/test/#", Qos::k1));
  EXPECT_OK(late->ExpectNoPacket(kQuiet));  // nothing retained
}

// MQTT 3.1 (protocol level 3) sets DUP on a PUBREL it sends again (3.1 §3.6): the broker
// answers it with PUBCOMP like any PUBREL, and keeps the connection. (It used to close the
// connection as malformed: the reserved-flags rule of 3.1.1 [MQTT-3.6.1-1] does not apply to
// level 3.)
TEST_F(BrokerTest, Mqtt31PubrelWithDupIsAnsweredWithPubcomp) {
  ConnectOptions o = VersionOptions(ProtocolVersion::kMqtt31);
  o.auto_ack = false;
  ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
  ASSERT_OK(c->Send(MakePublish("v31/dup", "x", Qos::k2, 9)));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket rec, c->AwaitAck(PacketType::kPubrec, 9));
  // PUBREL, DUP set, QoS 1 (1010), packet id 9: a resend of the PUBREL.
  ASSERT_OK(c->SendRaw(std::string("\x6A\x02\x00\x09", 4)));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket comp, c->AwaitAck(PacketType::kPubcomp, 9));
  EXPECT_OK(c->Ping());
}

// ---- MQTT 5 only, with and without the deferral -------------------------------------------------

class PublishV5Test : public DeferBrokerTest {};

INSTANTIATE_TEST_SUITE_P(Defer, PublishV5Test, ::testing::Bool(), DeferParamName);

// 5.0 §3.4.2.1 / §3.5.2.1: a QoS 1/2 PUBLISH nobody subscribes to is acknowledged with 0x10
// (No matching subscribers, still a success); one with subscribers (here on both shards and
// from publishers on both shards) with 0x00.
TEST_P(PublishV5Test, NoMatchingSubscribersReason0x10) {
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 2), V5()));
  for (auto& p : pubs) {
    ASSERT_OK_AND_ASSIGN(PublishResult r1, p->Publish("nobody/t", "x", Qos::k1));
    EXPECT_EQ(r1.reason(), ReasonCode::kNoMatchingSubscribers);
    ASSERT_OK_AND_ASSIGN(PublishResult r2, p->Publish("nobody/t", "x", Qos::k2));
    ASSERT_TRUE(r2.pubrec.has_value());
    EXPECT_EQ(r2.pubrec->reason(), ReasonCode::kNoMatchingSubscribers);
    ASSERT_TRUE(r2.pubcomp.has_value());
    EXPECT_EQ(r2.pubcomp->reason(), ReasonCode::kSuccess);
  }
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 8), V5()));
  for (size_t i = 0; i < subs.size(); ++i) {
    ASSERT_OK(SubscribeGranted(*subs[i], absl::StrFormat("some/%d", i), Qos::k2));
  }
  std::vector<std::pair<std::string, std::string>> messages;
  for (size_t i = 0; i < subs.size(); ++i) {
    messages.emplace_back(absl::StrFormat("some/%d", i), "y");
  }
  for (auto& p : pubs) {
    for (Qos qos : {Qos::k1, Qos::k2}) {
      ASSERT_OK_AND_ASSIGN(auto reasons, PublishMany(*p, messages, qos));
      for (size_t i = 0; i < reasons.size(); ++i) {
        EXPECT_EQ(reasons[i], ReasonCode::kSuccess) << p->client_id() << " -> some/" << i;
      }
    }
  }
  for (auto& s : subs) {
    ASSERT_OK(ExpectPublishes(*s, 4));
  }
  // Unsubscribed again: nobody matches.
  for (size_t i = 0; i < subs.size(); ++i) {
    ASSERT_OK(subs[i]->Unsubscribe({absl::StrFormat("some/%d", i)}));
  }
  for (auto& p : pubs) {
    ASSERT_OK_AND_ASSIGN(PublishResult r, p->Publish("some/0", "z", Qos::k1));
    EXPECT_EQ(r.reason(), ReasonCode::kNoMatchingSubscribers);
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// [MQTT-3.3.2-4] and 5.0 §3.3.2.3.2: with Payload Format Indicator 1 the payload must be UTF-8;
// the broker checks it: QoS 1 -> PUBACK 0x99, QoS 2 -> PUBREC 0x99 (which ends the flow, so
// the id is free again [MQTT-4.3.3-9]), QoS 0 -> DISCONNECT 0x99. Nothing is delivered.
// Indicator 0 (or absent) means unspecified bytes: delivered as they are.
TEST_P(PublishV5Test, PayloadFormatInvalid0x99) {
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 2), V5()));
  for (auto& s : subs) {
    ASSERT_OK(SubscribeGranted(*s, "pfi/t", Qos::k2));
  }
  const std::string bad = "\xff\xfe not UTF-8";
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5(SpreadId("pub", 0))));
  PublishOptions o;
  o.properties.SetPayloadFormatIndicator(1);
  o.qos = Qos::k1;
  ASSERT_OK_AND_ASSIGN(PublishResult r1, pub->Publish("pfi/t", bad, o));
  EXPECT_EQ(r1.reason(), ReasonCode::kPayloadFormatInvalid);
  o.qos = Qos::k2;
  o.packet_id = 9;
  ASSERT_OK_AND_ASSIGN(PublishResult r2, pub->Publish("pfi/t", bad, o));
  ASSERT_TRUE(r2.pubrec.has_value());
  EXPECT_EQ(r2.pubrec->reason(), ReasonCode::kPayloadFormatInvalid);
  EXPECT_FALSE(r2.pubcomp.has_value());
  // Id 9 is free again: a new, valid message with it goes through.
  ASSERT_OK_AND_ASSIGN(PublishResult r3, pub->Publish("pfi/t", "valid \xc3\xa9", o));
  EXPECT_EQ(r3.reason(), ReasonCode::kSuccess);
  // Indicator 0: any bytes.
  PublishOptions raw;
  raw.qos = Qos::k1;
  raw.properties.SetPayloadFormatIndicator(0);
  ASSERT_OK_AND_ASSIGN(PublishResult r4, pub->Publish("pfi/t", bad, raw));
  EXPECT_EQ(r4.reason(), ReasonCode::kSuccess);
  for (auto& s : subs) {
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 2));
    EXPECT_EQ(got[0].publish().payload, "valid \xc3\xa9");
    EXPECT_EQ(got[0].properties().payload_format_indicator, 1);
    EXPECT_EQ(got[1].publish().payload, bad);
  }
  // QoS 0: nobody to answer but the connection.
  o.qos = Qos::k0;
  ASSERT_OK(pub->Publish("pfi/t", bad, o));
  ASSERT_OK_AND_ASSIGN(CloseResult c, pub->WaitForClose());
  EXPECT_TRUE(c.closed);
  ASSERT_TRUE(c.disconnect.has_value());
  EXPECT_EQ(c.disconnect->reason(), ReasonCode::kPayloadFormatInvalid);
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// [MQTT-4.4.0-2] a PUBLISH the receiver answered with PUBACK or PUBREC >= 0x80 is finished:
// no PUBREL follows the refusing PUBREC [MQTT-4.3.3-4], the message takes no more room in the
// receiver's Receive Maximum (the next one comes), and it is never sent again, not even to the
// resumed session, which gets only the message it did not answer.
TEST_P(PublishV5Test, RefusedDeliveryIsFinished) {
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5(SpreadId("pub", 0))));
  for (const std::string& id : SpreadIds("sub", 2)) {
    SCOPED_TRACE(id);
    ConnectOptions o = V5(id);
    o.auto_ack = false;
    o.properties.SetSessionExpiryInterval(60);
    o.properties.SetReceiveMaximum(1);
    ASSERT_OK_AND_ASSIGN(auto s, Connect(o));
    const std::string topic = "refused/" + id;
    ASSERT_OK(SubscribeGranted(*s, topic, Qos::k2));
    ASSERT_OK(pub->Publish(topic, "a", Qos::k1));
    ASSERT_OK(pub->Publish(topic, "b", Qos::k2));
    ASSERT_OK(pub->Publish(topic, "c", Qos::k1));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket a, s->ExpectPublish());
    EXPECT_EQ(a.publish().payload, "a");
    mqtt::Puback no;
    no.packet_id = a.publish().packet_id;
    no.reason = ReasonCode::kUnspecifiedError;
    ASSERT_OK(s->Send(no));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket b, s->ExpectPublish());
    EXPECT_EQ(b.publish().payload, "b");
    mqtt::Pubrec rec;
    rec.packet_id = b.publish().packet_id;
    rec.reason = ReasonCode::kNotAuthorized;
    ASSERT_OK(s->Send(rec));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket c, s->ExpectPublish());  // no PUBREL before it
    EXPECT_EQ(c.publish().payload, "c");
    EXPECT_OK(s->ExpectNoPacket(kQuiet));
    s->CloseSocket();
    o.clean_start = false;
    ASSERT_OK_AND_ASSIGN(auto back, Connect(o));
    EXPECT_TRUE(back->server().session_present);
    ASSERT_OK_AND_ASSIGN(ReceivedPacket again, back->ExpectPublish());
    EXPECT_EQ(again.publish().payload, "c");
    EXPECT_TRUE(again.publish().dup);
    EXPECT_EQ(again.publish().packet_id, c.publish().packet_id);
    ASSERT_OK(back->Send(AckFor<mqtt::Puback>(again.publish().packet_id)));
    EXPECT_OK(back->ExpectNoPacket(kQuiet));
    ASSERT_OK(back->Disconnect());
  }
}

// [MQTT-3.3.4-6] a client's PUBLISH must not carry a Subscription Identifier: Protocol Error,
// DISCONNECT 0x82 and close [MQTT-4.13.1-1]; nothing is delivered.
TEST_P(PublishV5Test, SubscriptionIdentifierFromClientIsProtocolError) {
  ASSERT_OK_AND_ASSIGN(auto sub, Connect(V5(SpreadId("sub", 0))));
  ASSERT_OK(SubscribeGranted(*sub, "sid/t", Qos::k1));
  for (Qos qos : {Qos::k0, Qos::k1}) {
    ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5(SpreadId("pub", 0))));
    mqtt::PropertyBuilder b;
    b.AddSubscriptionIdentifier(5);
    mqtt::Publish p = MakePublish("sid/t", "x", qos, 3);
    p.properties.subscription_ids = b.subscription_ids();
    ASSERT_OK(pub->Send(p));
    ASSERT_OK_AND_ASSIGN(CloseResult c, pub->WaitForClose());
    EXPECT_TRUE(c.closed);
    ASSERT_TRUE(c.disconnect.has_value());
    EXPECT_EQ(c.disconnect->reason(), ReasonCode::kProtocolError);
  }
  EXPECT_OK(sub->ExpectNoPacket(kQuiet));
}

}  // namespace
}  // namespace ringmq::testing
