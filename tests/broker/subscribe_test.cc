// Broker integration tests: SUBSCRIBE and UNSUBSCRIBE against the MQTT 3.1.1 and 5.0
// specifications: SUBACK/UNSUBACK codes, topic filter matching, overlapping subscriptions,
// subscription options (No Local, Retain As Published), and subscriptions taking effect across
// shards. Tests named "..._defer" run the broker with --debug-defer-ms 50, which holds every
// SUBACK (and PUBACK) decision and releases it through the asynchronous path.
//
// Statement ids are named per test; the list is in /work/shared/mqtt-normative.md.
#include <poll.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

#include "core/mqtt/encoder.h"
#include "core/mqtt/packets.h"
#include "core/mqtt/properties.h"
#include "tests/broker/broker_test_base.h"
#include "tests/broker/pubsub_test_util.h"
#include "tests/testing/mqtt_client.h"
#include "tests/testing/status_macros.h"

namespace ringmq::testing {
namespace {

using mqtt::PacketType;
using mqtt::ProtocolVersion;
using mqtt::Qos;
using mqtt::ReasonCode;

// Properties of a SUBSCRIBE with one Subscription Identifier; `b` owns the bytes.
PacketOptions WithSubscriptionId(uint32_t id, mqtt::PropertyBuilder* b) {
  b->clear();
  b->AddSubscriptionIdentifier(id);
  PacketOptions o;
  o.properties.subscription_ids = b->subscription_ids();
  return o;
}

std::multiset<std::string> Payloads(const std::vector<ReceivedPacket>& v) {
  std::multiset<std::string> out;
  for (const ReceivedPacket& p : v) {
    out.insert(std::string(p.publish().payload));
  }
  return out;
}

// ---- every version, with and without the deferral -------------------------------------------

class SubscribeTest : public VersionDeferTest {};

INSTANTIATE_TEST_SUITE_P(Versions, SubscribeTest,
                         ::testing::Combine(RINGMQ_ALL_VERSIONS, ::testing::Bool()),
                         VersionDeferName);

// [MQTT-3.8.4-1/2] one SUBACK with the SUBSCRIBE's packet id; [MQTT-3.8.4-5], [MQTT-3.8.4-6],
// [MQTT-3.9.3-1] one code per filter, in the filters' order; [MQTT-3.8.4-7] each the granted
// QoS (every QoS is supported [MQTT-3.2.2-10]) or a failure: 0x8F for a filter ringmq does not
// accept (more levels than --max-topic-levels), 0x80 in 3.1.1 [MQTT-3.9.3-2 (3.1.1)]. The
// granted subscriptions work, and deliver at the granted QoS.
TEST_P(SubscribeTest, OneCodePerFilterInOrder) {
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 2), Options()));
  std::string deep = "deep";  // more levels than the default --max-topic-levels (256)
  for (int i = 0; i < 300; ++i) {
    deep += "/x";
  }
  // MQTT 3.1 has no failure return code in SUBACK: only granted QoS there.
  const bool with_refusal = is_ringmq() && version() != ProtocolVersion::kMqtt31;
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    mqtt::Subscribe sub;
    sub.packet_id = 0x1234;
    std::vector<std::string> filters = {"s/a", "s/b", "s/c"};
    std::vector<Qos> qos = {Qos::k2, Qos::k0, Qos::k1};
    if (with_refusal) {
      filters.insert(filters.begin() + 2, deep);
      qos.insert(qos.begin() + 2, Qos::k1);
    }
    for (size_t i = 0; i < filters.size(); ++i) {
      mqtt::SubscriptionOptions o;
      o.max_qos = qos[i];
      sub.subscriptions.push_back({filters[i], o});
    }
    ASSERT_OK(s->Send(sub));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket ack, s->AwaitAck(PacketType::kSuback, 0));
    EXPECT_EQ(ack.As<mqtt::Suback>().packet_id, 0x1234);
    std::vector<ReasonCode> want = {ReasonCode::kGrantedQos2, ReasonCode::kSuccess,
                                    ReasonCode::kGrantedQos1};
    if (with_refusal) {
      want.insert(want.begin() + 2,
                  v5() ? ReasonCode::kTopicFilterInvalid : ReasonCode::kUnspecifiedError);
    }
    EXPECT_EQ(SubackCodes(ack), want);
  }
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 2), Options()));
  for (auto& p : pubs) {
    for (const char* t : {"s/a", "s/b", "s/c"}) {
      ASSERT_OK(p->Publish(t, t, Qos::k2));
    }
  }
  const std::map<std::string, Qos> granted = {{"s/a", Qos::k2}, {"s/b", Qos::k0}, {"s/c", Qos::k1}};
  for (auto& s : subs) {
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 6));
    for (const ReceivedPacket& m : got) {
      EXPECT_EQ(m.publish().qos, granted.at(std::string(m.publish().topic))) << m;
    }
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// [MQTT-3.10.4-4], [MQTT-3.10.4-5] UNSUBACK with the UNSUBSCRIBE's id even when nothing
// existed; [MQTT-3.10.4-6] several filters in one UNSUBSCRIBE, one UNSUBACK; 5.0
// [MQTT-3.11.3-1]: codes in order, 0x00 removed / 0x11 No subscription existed; [MQTT-3.10.4-1]
// filters are compared literally ("u/x" does not remove "u/+"); [MQTT-3.10.4-2] afterwards no
// message for the removed filters, from publishers on either shard.
TEST_P(SubscribeTest, UnsubscribeRemovesExactFiltersAndIsAnswered) {
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 4), Options()));
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 4), Options()));
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    // Nothing to remove at all.
    mqtt::Unsubscribe none;
    none.packet_id = 0x4321;
    none.filters.push_back("never/subscribed");
    ASSERT_OK(s->Send(none));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket ack0, s->AwaitAck(PacketType::kUnsuback, 0));
    EXPECT_EQ(ack0.As<mqtt::Unsuback>().packet_id, 0x4321);
    if (v5()) {
      EXPECT_EQ(UnsubackCodes(ack0), std::vector<ReasonCode>{ReasonCode::kNoSubscriptionExisted});
    }
    ASSERT_OK(SubscribeGranted(
        *s, {Entry("u/a", Qos::k1), Entry("u/b", Qos::k1), Entry("u/+", Qos::k1)}));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket ack,
                         s->Unsubscribe({"u/a", "u/nothing", "u/b", "u/x", "u/a"}));
    if (v5()) {
      EXPECT_EQ(UnsubackCodes(ack),
                (std::vector<ReasonCode>{ReasonCode::kSuccess, ReasonCode::kNoSubscriptionExisted,
                                         ReasonCode::kSuccess, ReasonCode::kNoSubscriptionExisted,
                                         ReasonCode::kNoSubscriptionExisted}));
    }
  }
  // "u/+" remains: one copy of each message, through it alone.
  for (auto& p : pubs) {
    ASSERT_OK(p->Publish("u/a", "a from " + p->client_id(), Qos::k1));
    ASSERT_OK(p->Publish("u/b", "b from " + p->client_id(), Qos::k1));
  }
  for (auto& s : subs) {
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 2 * pubs.size()));
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
  // All gone.
  for (auto& s : subs) {
    ASSERT_OK_AND_ASSIGN(ReceivedPacket ack, s->Unsubscribe({"u/+"}));
    if (v5()) {
      EXPECT_EQ(UnsubackCodes(ack), std::vector<ReasonCode>{ReasonCode::kSuccess});
    }
  }
  for (auto& p : pubs) {
    ASSERT_OK(p->Publish("u/a", "late", Qos::k1));
    ASSERT_OK(p->Publish("u/x", "late", Qos::k0));
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// A subscription is in effect once its SUBACK has arrived, on every shard: a message
// published right after the SUBACK from a client on any shard is delivered; and after the
// UNSUBACK it no longer is [MQTT-3.10.4-2]. Several rounds of subscribe / publish from 8
// publishers (both shards) / unsubscribe for 8 subscribers (both shards); QoS 0, so nothing
// but the subscription makes the delivery happen.
TEST_P(SubscribeTest, SubscriptionEffectiveOnAllShardsOnceAcknowledged) {
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 8), Options()));
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 8), Options()));
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    for (size_t i = 0; i < subs.size(); ++i) {
      const std::string topic = absl::StrFormat("x/%d", i);
      ASSERT_OK(SubscribeGranted(*subs[i], topic, Qos::k0));
      for (auto& p : pubs) {
        ASSERT_OK(p->Publish(topic, p->client_id(), Qos::k0));
      }
    }
    for (size_t i = 0; i < subs.size(); ++i) {
      SCOPED_TRACE(subs[i]->client_id());
      ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*subs[i], pubs.size()));
      std::set<std::string> from;
      for (const ReceivedPacket& m : got) {
        from.insert(std::string(m.publish().payload));
      }
      EXPECT_EQ(from.size(), pubs.size());
      ASSERT_OK(subs[i]->Unsubscribe({absl::StrFormat("x/%d", i)}));
      for (auto& p : pubs) {
        ASSERT_OK(p->Publish(absl::StrFormat("x/%d", i), "after unsubscribe", Qos::k0));
      }
    }
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// [MQTT-3.8.4-3] a SUBSCRIBE with a filter the session already has replaces the subscription:
// the new QoS applies and there is still one copy per message; [MQTT-3.8.4-4] (3.1.1:
// [MQTT-3.8.4-3]) the retained message is sent again (Retain Handling 0), and no message is
// lost because of the swap: messages published while the replacement happens all arrive.
TEST_P(SubscribeTest, ResubscribeReplacesSubscription) {
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 2), Options()));
  PublishOptions keep;
  keep.qos = Qos::k2;
  keep.retain = true;
  ASSERT_OK(pubs[0]->Publish("rs/t", "retained", keep));
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 2), Options()));
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK(SubscribeGranted(*s, "rs/t", Qos::k0));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket r0, s->ExpectPublish());
    EXPECT_EQ(r0.publish().payload, "retained");
    EXPECT_EQ(r0.publish().qos, Qos::k0);
    EXPECT_TRUE(r0.publish().retain);
    ASSERT_OK(SubscribeGranted(*s, "rs/t", Qos::k1));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket r1, s->ExpectPublish());
    EXPECT_EQ(r1.publish().payload, "retained");
    EXPECT_EQ(r1.publish().qos, Qos::k1);
    EXPECT_TRUE(r1.publish().retain);
  }
  for (auto& p : pubs) {
    ASSERT_OK(p->Publish("rs/t", "live", Qos::k2));
  }
  for (auto& s : subs) {
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, pubs.size()));
    for (const ReceivedPacket& m : got) {
      EXPECT_EQ(m.publish().payload, "live");
      EXPECT_EQ(m.publish().qos, Qos::k1);  // the new subscription's QoS, one copy
      EXPECT_FALSE(m.publish().retain);
    }
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));

  // The swap under traffic: 40 QoS 1 messages pipelined from each publisher while each
  // subscriber replaces its subscription (QoS 1 -> 2, RH 2 so no retained copy).
  constexpr int kMessages = 40;
  for (auto& p : pubs) {
    for (int i = 0; i < kMessages; ++i) {
      mqtt::Publish pub;
      pub.topic = "rs/t";
      pub.qos = Qos::k1;
      pub.packet_id = p->NextPacketId();
      const std::string payload = absl::StrFormat("%s %d", p->client_id(), i);
      pub.payload = payload;
      ASSERT_OK(p->Send(pub));
    }
  }
  for (auto& s : subs) {
    ASSERT_OK(SubscribeGranted(
        *s, {Entry("rs/t", Qos::k2, false, false, mqtt::RetainHandling::kDoNotSend)}));
  }
  for (auto& p : pubs) {
    for (int i = 0; i < kMessages; ++i) {
      ASSERT_OK(p->AwaitAck(PacketType::kPuback, 0));
    }
  }
  // 3.x has no Retain Handling: the retained message comes once more.
  const size_t retained_copy = v5() ? 0 : 1;
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, kMessages * pubs.size() + retained_copy));
    std::multiset<std::string> payloads = Payloads(got);
    EXPECT_EQ(payloads.count("retained"), retained_copy);
    EXPECT_EQ(std::set<std::string>(payloads.begin(), payloads.end()).size(), payloads.size());
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// ---- every version -------------------------------------------------------------------------

class SubscribeVersionTest : public BrokerVersionTest {};

INSTANTIATE_TEST_SUITE_P(Versions, SubscribeVersionTest, RINGMQ_ALL_VERSIONS, VersionName);

// The same guarantee when several clients subscribe to the same new filter at once: of four
// clients at least two share a shard, and the second of them finds the filter already
// subscribed on its shard while the first one's announcement to the other shard may still be
// on its way. Each client's SUBACK must still mean that a publish from any shard reaches it.
// To make "on its way" last, the mailboxes between the shards are kept busy: two flooders
// (one per shard) stream QoS 0 messages to a topic with a subscriber on each shard, so each
// shard has thousands of messages queued for the other. The four SUBSCRIBEs are pipelined; as
// soon as a SUBACK arrives, publishers on both shards publish (QoS 0), and that subscriber
// must get those messages.
TEST_P(SubscribeVersionTest, ConcurrentFirstSubscriptionsEffectiveOnceAcknowledged) {
  constexpr int kRounds = 5;
  constexpr int kFlood = 20'000;  // QoS 0 PUBLISHes per flooder per round
  const ConnectOptions o = VersionOptions(GetParam());
  ASSERT_OK_AND_ASSIGN(auto sinks, ConnectAll(port(), SpreadIds("sink", 2), o));
  for (auto& s : sinks) {
    ASSERT_OK(SubscribeGranted(*s, "flood/t", Qos::k0));  // never read: drops are fine
  }
  ASSERT_OK_AND_ASSIGN(auto flooders, ConnectAll(port(), SpreadIds("flood", 2), o));
  std::string flood;
  {
    mqtt::Publish f;
    f.topic = "flood/t";
    f.payload = "x";
    const std::string one = mqtt::EncodeToString(mqtt::Packet(f), GetParam());
    for (int i = 0; i < kFlood; ++i) {
      flood += one;
    }
  }
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 4), o));
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 2), o));
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(round);
    const std::string topic = absl::StrFormat("race/%d", round);
    for (auto& f : flooders) {
      ASSERT_OK(f->SendRaw(flood));
    }
    std::vector<uint16_t> ids;
    for (auto& s : subs) {
      mqtt::Subscribe sub;
      sub.packet_id = s->NextPacketId();
      sub.subscriptions.push_back({topic, {}});
      ASSERT_OK(s->Send(sub));
      ids.push_back(sub.packet_id);
    }
    // Whichever SUBACK comes first: publish at once, from both shards.
    std::vector<size_t> order;  // subscribers in the order their SUBACKs arrived
    std::vector<bool> acked(subs.size(), false);
    while (order.size() < subs.size()) {
      std::vector<pollfd> fds;
      std::vector<size_t> which;
      for (size_t k = 0; k < subs.size(); ++k) {
        if (!acked[k]) {
          fds.push_back({subs[k]->fd(), POLLIN, 0});
          which.push_back(k);
        }
      }
      ASSERT_GT(::poll(fds.data(), fds.size(), static_cast<int>(kDefaultTimeout.count())), 0);
      for (size_t i = 0; i < fds.size(); ++i) {
        const size_t k = which[i];
        if (fds[i].revents == 0) {
          continue;
        }
        absl::StatusOr<ReceivedPacket> ack =
            subs[k]->AwaitAck(PacketType::kSuback, ids[k], milliseconds(0));
        if (absl::IsDeadlineExceeded(ack.status())) {
          continue;  // something else arrived
        }
        ASSERT_OK(ack);
        acked[k] = true;
        order.push_back(k);
        for (auto& p : pubs) {
          ASSERT_OK(
              p->Publish(topic, absl::StrFormat("%s after SUBACK %d", p->client_id(), k), Qos::k0));
        }
      }
    }
    // Subscriber order[i] must get what was published after its SUBACK: the messages that
    // followed the SUBACKs of order[i], order[i+1], ...
    for (size_t i = 0; i < order.size(); ++i) {
      MqttClient& s = *subs[order[i]];
      SCOPED_TRACE(s.client_id());
      std::set<std::string> need;
      for (size_t j = i; j < order.size(); ++j) {
        for (auto& p : pubs) {
          need.insert(absl::StrFormat("%s after SUBACK %d", p->client_id(), order[j]));
        }
      }
      while (!need.empty()) {
        absl::StatusOr<ReceivedPacket> m = s.ExpectPublish();
        ASSERT_TRUE(m.ok()) << m.status() << "; still missing \"" << *need.begin() << "\" and "
                            << need.size() - 1 << " more";
        need.erase(std::string(m->publish().payload));
      }
    }
    // Unsubscribe (pipelined) and drain the copies published before a subscriber's SUBACK.
    for (size_t k = 0; k < subs.size(); ++k) {
      mqtt::Unsubscribe u;
      u.packet_id = ids[k];
      u.filters.push_back(topic);
      ASSERT_OK(subs[k]->Send(u));
    }
    for (size_t k = 0; k < subs.size(); ++k) {
      ASSERT_OK(subs[k]->AwaitAck(PacketType::kUnsuback, ids[k]));
      while (subs[k]->ExpectPublish(milliseconds(0)).ok()) {
      }
    }
  }
}

// [MQTT-4.7.1-1], [MQTT-4.7.1-2] '#' and '+' (including '+' matching an empty level and "a/#"
// matching "a"); [MQTT-4.7.2-1] filters starting with a wildcard do not match topics starting
// with '$', "$test/#" does; [MQTT-4.7.3-4] no case folding; [MQTT-3.3.2-3] the topic name sent
// is the one published.
TEST_P(SubscribeVersionTest, WildcardMatching) {
  const auto& cases = MatchingCases();
  const auto& topics = MatchingTopics();
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("f", static_cast<int>(cases.size())),
                                             VersionOptions(GetParam())));
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_OK(SubscribeGranted(*subs[i], cases[i].first, Qos::k1));
  }
  ASSERT_OK_AND_ASSIGN(auto pubs,
                       ConnectAll(port(), SpreadIds("pub", 2), VersionOptions(GetParam())));
  for (const std::string& t : topics) {
    ASSERT_OK(pubs[t.size() % 2]->Publish(t, t, Qos::k1));
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("filter " + cases[i].first);
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*subs[i], cases[i].second.size()));
    std::multiset<std::string> topics_got;
    for (const ReceivedPacket& m : got) {
      EXPECT_EQ(m.publish().topic, m.publish().payload);
      topics_got.insert(std::string(m.publish().topic));
    }
    EXPECT_EQ(topics_got,
              std::multiset<std::string>(cases[i].second.begin(), cases[i].second.end()));
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// [MQTT-4.7.1-1], [MQTT-4.7.1-2], [MQTT-4.7.3-1]: a malformed filter ('#' not last or not a
// whole level, '+' not a whole level, empty) makes the SUBSCRIBE malformed: 5.0 DISCONNECT
// 0x81 and close [MQTT-4.13.1-1]; 3.x close without SUBACK. Nothing is subscribed.
TEST_P(SubscribeVersionTest, MalformedFilterClosesConnection) {
  for (const char* filter : {"a/#/b", "a+", "+a/b", "a/b#", "#/a", "a/#b", ""}) {
    SCOPED_TRACE(absl::StrFormat("filter \"%s\"", filter));
    ASSERT_OK_AND_ASSIGN(auto c, Connect(VersionOptions(GetParam())));
    mqtt::Subscribe sub;
    sub.packet_id = 1;
    sub.subscriptions.push_back({"ok/t", {}});
    sub.subscriptions.push_back({filter, {}});
    ASSERT_OK(c->Send(sub));
    ExpectClosedWith(
        *c, mqtt::IsV5(GetParam()) ? std::optional(ReasonCode::kMalformedPacket) : std::nullopt);
  }
}

// ---- MQTT 3.1 / 3.1.1 ------------------------------------------------------------------------

class SubscribeV3Test : public BrokerVersionTest {};

INSTANTIATE_TEST_SUITE_P(V3, SubscribeV3Test,
                         ::testing::Values(ProtocolVersion::kMqtt31, ProtocolVersion::kMqtt311),
                         VersionName);

// [MQTT-3.3.5-1 (3.1.1)] overlapping subscriptions of one client: the message is delivered at
// the highest QoS of the matching subscriptions (capped by the published QoS). The spec would
// allow further copies; ringmq sends exactly one to 3.x clients (delivery.cc), and that is
// what is checked. [MQTT-3.3.1-9 (3.1.1)] RETAIN 0
// on a message for an established subscription, even if published with RETAIN 1.
TEST_P(SubscribeV3Test, OverlappingSubscriptionsOneCopyAtHighestQos) {
  ASSERT_OK_AND_ASSIGN(auto subs,
                       ConnectAll(port(), SpreadIds("sub", 2), VersionOptions(GetParam())));
  for (auto& s : subs) {
    ASSERT_OK(SubscribeGranted(
        *s, {Entry("o/#", Qos::k0), Entry("o/+", Qos::k2), Entry("o/x", Qos::k1)}));
  }
  ASSERT_OK_AND_ASSIGN(auto pubs,
                       ConnectAll(port(), SpreadIds("pub", 2), VersionOptions(GetParam())));
  for (auto& p : pubs) {
    for (Qos qos : {Qos::k0, Qos::k1, Qos::k2}) {
      PublishOptions o;
      o.qos = qos;
      o.retain = qos == Qos::k1;
      ASSERT_OK(p->Publish("o/x", std::to_string(static_cast<int>(qos)), o));
    }
    ASSERT_OK(p->Publish("o/y/z", "deep", Qos::k2));  // only "o/#" matches: QoS 0
  }
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 4 * pubs.size()));
    for (const ReceivedPacket& m : got) {
      if (m.publish().topic == "o/y/z") {
        EXPECT_EQ(m.publish().qos, Qos::k0) << m;
      } else {
        EXPECT_EQ(std::to_string(static_cast<int>(m.publish().qos)), m.publish().payload) << m;
      }
      EXPECT_FALSE(m.publish().retain) << m;  // [MQTT-3.3.1-9 (3.1.1)]
    }
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// ---- MQTT 5 ------------------------------------------------------------------------------------

class SubscribeV5Test : public BrokerTest {};

// [MQTT-3.3.4-2] [MQTT-3.3.4-3] 5.0 overlapping subscriptions: ringmq sends ONE copy, at the
// highest QoS of the matching subscriptions, carrying the Subscription Identifier of every
// matching subscription that has one (their order is not significant). A later SUBSCRIBE
// without an identifier removes the identifier from that subscription. (ringmq used to send
// one copy per subscription, which the spec allows too [MQTT-3.3.4-4/5], but it doubles the
// bytes on a weak link and is not what users of other brokers expect.)
TEST_F(SubscribeV5Test, OverlappingSubscriptionsCarryTheirIdentifiers) {
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 2), V5()));
  mqtt::PropertyBuilder b;
  for (auto& s : subs) {
    ASSERT_OK(s->Subscribe({Entry("o/#", Qos::k0)}, WithSubscriptionId(1, &b)));
    ASSERT_OK(s->Subscribe({Entry("o/+", Qos::k1)}, WithSubscriptionId(268'435'455, &b)));
    ASSERT_OK(SubscribeGranted(*s, "o/x", Qos::k2));
  }
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 2), V5()));
  for (auto& p : pubs) {
    ASSERT_OK(p->Publish("o/x", "m", Qos::k2));
  }
  using Copy = std::pair<std::multiset<uint32_t>, Qos>;
  auto copy_of = [](const ReceivedPacket& m) {
    std::vector<uint32_t> ids = SubscriptionIds(m);
    return Copy{std::multiset<uint32_t>(ids.begin(), ids.end()), m.publish().qos};
  };
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    for (size_t k = 0; k < pubs.size(); ++k) {
      ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 1));
      EXPECT_EQ(copy_of(got[0]), (Copy{{1, 268'435'455}, Qos::k2}));
    }
  }
  // Replaced without an identifier: copies from "o/#" carry none any more.
  for (auto& s : subs) {
    ASSERT_OK(SubscribeGranted(*s, "o/#", Qos::k0));
  }
  ASSERT_OK(pubs[1]->Publish("o/x", "m", Qos::k2));
  for (auto& s : subs) {
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 1));
    EXPECT_EQ(copy_of(got[0]), (Copy{{268'435'455}, Qos::k2}));
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// [MQTT-3.8.3-3] No Local 1: the client's own messages are not sent back to it; other
// clients' messages are; No Local 0 gets its own messages back.
TEST_F(SubscribeV5Test, NoLocal) {
  ASSERT_OK_AND_ASSIGN(auto clients, ConnectAll(port(), SpreadIds("c", 4), V5()));
  for (size_t i = 0; i < clients.size(); ++i) {
    // Even ids: No Local; odd ids: not.
    ASSERT_OK(SubscribeGranted(*clients[i], {Entry("nl/t", Qos::k1, /*no_local=*/i % 2 == 0)}));
  }
  for (auto& c : clients) {
    ASSERT_OK(c->Publish("nl/t", c->client_id(), Qos::k1));
  }
  for (size_t i = 0; i < clients.size(); ++i) {
    SCOPED_TRACE(clients[i]->client_id());
    const bool no_local = i % 2 == 0;
    ASSERT_OK_AND_ASSIGN(auto got,
                         ExpectPublishes(*clients[i], clients.size() - (no_local ? 1 : 0)));
    std::multiset<std::string> from = Payloads(got);
    EXPECT_EQ(from.count(clients[i]->client_id()), no_local ? 0u : 1u);
  }
  EXPECT_OK(ExpectAllQuiet(Raw(clients)));
}

// [MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error: DISCONNECT 0x82 and
// close, whatever else the SUBSCRIBE holds; no SUBACK.
TEST_F(SubscribeV5Test, NoLocalOnSharedSubscriptionIsProtocolError) {
  ASSERT_OK_AND_ASSIGN(auto c, Connect(V5(SpreadId("sub", 0))));
  mqtt::Subscribe sub;
  sub.packet_id = 3;
  mqtt::SubscriptionOptions plain;
  mqtt::SubscriptionOptions nl;
  nl.no_local = true;
  sub.subscriptions.push_back({"nl/plain", plain});
  sub.subscriptions.push_back({"$share/g/nl/t", nl});
  ASSERT_OK(c->Send(sub));
  ExpectClosedWith(*c, ReasonCode::kProtocolError);
}

// [MQTT-3.3.1-12] Retain As Published 0: forwarded with RETAIN 0; [MQTT-3.3.1-13] Retain As
// Published 1: RETAIN as published. For subscribers on both shards.
TEST_F(SubscribeV5Test, RetainAsPublished) {
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 4), V5()));
  for (size_t i = 0; i < subs.size(); ++i) {
    ASSERT_OK(SubscribeGranted(*subs[i], {Entry("rap/t", Qos::k1, false, /*rap=*/i % 2 == 1)}));
  }
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5(SpreadId("pub", 0))));
  PublishOptions o;
  o.qos = Qos::k1;
  o.retain = true;
  ASSERT_OK(pub->Publish("rap/t", "retained", o));
  o.retain = false;
  ASSERT_OK(pub->Publish("rap/t", "plain", o));
  for (size_t i = 0; i < subs.size(); ++i) {
    SCOPED_TRACE(subs[i]->client_id());
    const bool rap = i % 2 == 1;
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*subs[i], 2));
    EXPECT_EQ(got[0].publish().payload, "retained");
    EXPECT_EQ(got[0].publish().retain, rap);
    EXPECT_EQ(got[1].publish().payload, "plain");
    EXPECT_FALSE(got[1].publish().retain);
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// "$SYS/#" receives the broker's $SYS topics; "#" and "+/..." never do [MQTT-4.7.2-1].
TEST_F(SubscribeV5Test, SysTopicsOnlyThroughExplicitDollarFilter) {
  if (!is_ringmq()) {
    GTEST_SKIP() << "needs ringmq's --sys-interval";
  }
  StartBroker({"--sys-interval", "1"});
  ASSERT_OK_AND_ASSIGN(auto all, Connect(V5(SpreadId("sub", 0))));
  ASSERT_OK(SubscribeGranted(*all, {Entry("#", Qos::k0), Entry("+/broker/uptime", Qos::k0)}));
  ASSERT_OK_AND_ASSIGN(auto sys, Connect(V5(SpreadId("sub", 1))));
  ASSERT_OK(SubscribeGranted(*sys, "$SYS/#", Qos::k0));
  bool uptime = false;
  while (!uptime) {
    ASSERT_OK_AND_ASSIGN(ReceivedPacket m, sys->ExpectPublish(std::chrono::seconds(5)));
    EXPECT_TRUE(m.publish().topic.starts_with("$SYS/")) << m;
    uptime = m.publish().topic == "$SYS/broker/uptime";
  }
  EXPECT_OK(all->ExpectNoPacket(kQuiet));
}

// ---- with the deferral ---------------------------------------------------------------------

class SubscribeDeferTest : public BrokerVersionTest {
 protected:
  void SetUp() override { StartBroker({"--debug-defer-ms", "50"}); }
};

INSTANTIATE_TEST_SUITE_P(Versions, SubscribeDeferTest, RINGMQ_ALL_VERSIONS, VersionName);

// While the SUBACK is held (the decision is asynchronous), a PUBLISH the same client pipelines
// right after its SUBSCRIBE takes effect after the subscription, so it matches it and comes
// back to the client; the acknowledgements keep the order of the requests. The same for
// UNSUBSCRIBE followed by a PUBLISH: no copy comes back [MQTT-3.10.4-2]. For clients on both
// shards.
TEST_P(SubscribeDeferTest, PipelinedPublishAfterHeldSubscribeMatches) {
  if (!is_ringmq()) {
    GTEST_SKIP() << "needs ringmq's --debug-defer-ms";
  }
  const bool v5 = mqtt::IsV5(GetParam());
  ASSERT_OK_AND_ASSIGN(auto clients,
                       ConnectAll(port(), SpreadIds("c", 4), VersionOptions(GetParam())));
  for (auto& c : clients) {
    SCOPED_TRACE(c->client_id());
    const std::string topic = "pipe/" + c->client_id();
    mqtt::Subscribe sub;
    sub.packet_id = c->NextPacketId();
    mqtt::SubscriptionOptions o;
    o.max_qos = Qos::k1;
    sub.subscriptions.push_back({topic, o});
    mqtt::Publish pub;
    pub.topic = topic;
    pub.payload = "echo";
    pub.qos = Qos::k1;
    pub.packet_id = c->NextPacketId();
    ASSERT_OK(c->Send(sub));
    ASSERT_OK(c->Send(pub));
    // In order: SUBACK, then the PUBLISH's PUBACK; the echo may come at any point.
    std::vector<ReceivedPacket> acks;
    std::vector<ReceivedPacket> echoes;
    while (acks.size() < 2 || echoes.empty()) {
      ASSERT_OK_AND_ASSIGN(ReceivedPacket p, c->Receive());
      (p.type() == PacketType::kPublish ? echoes : acks).push_back(p);
    }
    ASSERT_EQ(acks[0].type(), PacketType::kSuback) << acks[0];
    EXPECT_EQ(SubackCodes(acks[0]), std::vector<ReasonCode>{ReasonCode::kGrantedQos1});
    ASSERT_EQ(acks[1].type(), PacketType::kPuback) << acks[1];
    EXPECT_EQ(acks[1].As<mqtt::Puback>().packet_id, pub.packet_id);
    if (v5) {
      EXPECT_EQ(acks[1].reason(), ReasonCode::kSuccess);  // it had a subscriber: itself
    }
    EXPECT_EQ(echoes[0].publish().payload, "echo");

    mqtt::Unsubscribe unsub;
    unsub.packet_id = c->NextPacketId();
    unsub.filters.push_back(topic);
    pub.packet_id = c->NextPacketId();
    pub.payload = "gone";
    ASSERT_OK(c->Send(unsub));
    ASSERT_OK(c->Send(pub));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket a1, c->Receive());
    ASSERT_EQ(a1.type(), PacketType::kUnsuback) << a1;
    ASSERT_OK_AND_ASSIGN(ReceivedPacket a2, c->Receive());
    ASSERT_EQ(a2.type(), PacketType::kPuback) << a2;
    if (v5) {
      EXPECT_EQ(a2.reason(), ReasonCode::kNoMatchingSubscribers);
    }
  }
  EXPECT_OK(ExpectAllQuiet(Raw(clients)));
}

// The same with the pipelined packets cut into single bytes (each its own send): packets held
// while the SUBACK waits resume exactly where they were cut.
TEST_P(SubscribeDeferTest, PipelinedPacketsSplitIntoSingleBytes) {
  if (!is_ringmq()) {
    GTEST_SKIP() << "needs ringmq's --debug-defer-ms";
  }
  ASSERT_OK_AND_ASSIGN(auto c, Connect(VersionOptions(GetParam(), SpreadId("c", 0))));
  mqtt::Subscribe sub;
  sub.packet_id = 1;
  mqtt::SubscriptionOptions o;
  o.max_qos = Qos::k1;
  sub.subscriptions.push_back({"bytes/a", o});
  sub.subscriptions.push_back({"bytes/b", o});
  mqtt::Publish pub;
  pub.topic = "bytes/b";
  pub.payload = "split";
  pub.qos = Qos::k1;
  pub.packet_id = 2;
  std::string bytes = mqtt::EncodeToString(mqtt::Packet(sub), GetParam()) +
                      mqtt::EncodeToString(mqtt::Packet(pub), GetParam()) +
                      mqtt::EncodeToString(mqtt::Packet(mqtt::Pingreq{}), GetParam());
  for (char b : bytes) {
    ASSERT_OK(c->SendRaw(std::string_view(&b, 1)));
  }
  std::vector<PacketType> acks;
  int echoes = 0;
  while (acks.size() < 3 || echoes == 0) {
    ASSERT_OK_AND_ASSIGN(ReceivedPacket p, c->Receive());
    if (p.type() == PacketType::kPublish) {
      EXPECT_EQ(p.publish().payload, "split");
      ++echoes;
    } else {
      acks.push_back(p.type());
    }
  }
  EXPECT_EQ(echoes, 1);
  // SUBACK before PUBACK (request order); the PINGRESP may come at any point.
  std::erase(acks, PacketType::kPingresp);
  EXPECT_EQ(acks, (std::vector<PacketType>{PacketType::kSuback, PacketType::kPuback}));
  EXPECT_OK(c->ExpectNoPacket(kQuiet));
}

}  // namespace
}  // namespace ringmq::testing
