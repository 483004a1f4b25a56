// Broker integration tests: retained messages against the MQTT 3.1.1 and 5.0 specifications:
// storing, replacing and deleting them, sending them to new subscriptions (Retain Handling,
// QoS, RETAIN flag, Message Expiry), and gathering them from the retained partitions of both
// shards (a retained message lives on the shard its topic hashes to). Tests named "..._defer"
// run the broker with --debug-defer-ms 50, which holds every SUBACK and PUBACK/PUBREC decision.
//
// Statement ids are named per test; the list is in /work/shared/mqtt-normative.md. Where 3.1.1
// numbers a rule differently, the 3.1.1 id is marked "(3.1.1)".
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

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
using mqtt::RetainHandling;

absl::Status PublishRetained(MqttClient& c, std::string_view topic, std::string_view payload,
                             Qos qos, const mqtt::Properties& props = {}) {
  PublishOptions o;
  o.qos = qos;
  o.retain = true;
  o.properties = props;
  return c.Publish(topic, payload, o).status();
}

// topic -> payload of PUBLISHes.
std::map<std::string, std::string> ByTopic(const std::vector<ReceivedPacket>& v) {
  std::map<std::string, std::string> out;
  for (const ReceivedPacket& p : v) {
    out[std::string(p.publish().topic)] = std::string(p.publish().payload);
  }
  return out;
}

// Sends a SUBSCRIBE and checks that the SUBACK is the first packet that comes back (the
// retained messages follow it); returns the SUBACK.
absl::StatusOr<ReceivedPacket> SubscribeExpectingSubackFirst(MqttClient& c,
                                                             const std::vector<SubscribeEntry>& e,
                                                             const PacketOptions& options = {}) {
  mqtt::Subscribe sub;
  sub.packet_id = c.NextPacketId();
  sub.properties = options.properties;
  for (const SubscribeEntry& x : e) {
    sub.subscriptions.push_back({x.filter, x.options});
  }
  if (absl::Status s = c.Send(sub); !s.ok()) {
    return s;
  }
  absl::StatusOr<ReceivedPacket> first = c.Receive();
  if (!first.ok()) {
    return first.status();
  }
  if (first->type() != PacketType::kSuback) {
    return absl::FailedPreconditionError("received before the SUBACK: " + first->DebugString());
  }
  return first;
}

// ---- every version, with and without the deferral -------------------------------------------

class RetainedTest : public VersionDeferTest {};

INSTANTIATE_TEST_SUITE_P(Versions, RetainedTest,
                         ::testing::Combine(RINGMQ_ALL_VERSIONS, ::testing::Bool()),
                         VersionDeferName);

// [MQTT-3.3.1-5] RETAIN 1 stores the message, replacing the previous one of the topic
// (3.1.1: [MQTT-3.3.1-5], and [MQTT-3.3.1-7 (3.1.1)] for a QoS 0 one); a new subscription gets
// it [MQTT-3.3.1-9] with RETAIN 1 [MQTT-3.3.1-8 (3.1.1)], at its stored QoS when granted more.
// Topics on both retained partitions, publishers and subscribers on both shards.
TEST_P(RetainedTest, StoredReplacedAndSentToNewSubscriptions) {
  constexpr int kTopics = 8;
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 2), Options()));
  for (int i = 0; i < kTopics; ++i) {
    ASSERT_OK(PublishRetained(*pubs[i % 2], absl::StrFormat("r/%d", i), "old", Qos::k1));
  }
  // Replaced, from the other publisher, at QoS 0 (even topics) or 2 (odd).
  for (int i = 0; i < kTopics; ++i) {
    ASSERT_OK(PublishRetained(*pubs[(i + 1) % 2], absl::StrFormat("r/%d", i),
                              absl::StrFormat("new %d", i), i % 2 == 0 ? Qos::k0 : Qos::k2));
  }
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 4), Options()));
  std::vector<SubscribeEntry> exact;
  for (int i = 0; i < kTopics; ++i) {
    exact.push_back(Entry(absl::StrFormat("r/%d", i), Qos::k2));
  }
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK(SubscribeGranted(*s, exact));
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, kTopics));
    std::set<std::string> topics;
    for (const ReceivedPacket& m : got) {
      const std::string topic(m.publish().topic);
      const int i = topic.back() - '0';
      EXPECT_EQ(m.publish().payload, absl::StrFormat("new %d", i)) << m;
      EXPECT_TRUE(m.publish().retain) << m;
      EXPECT_EQ(m.publish().qos, i % 2 == 0 ? Qos::k0 : Qos::k2) << m;
      topics.insert(topic);
    }
    EXPECT_EQ(topics.size(), static_cast<size_t>(kTopics));
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// [MQTT-3.3.1-6] (3.1.1: [MQTT-3.3.1-10]) a retained PUBLISH with an empty payload is forwarded
// to current subscribers as usual and deletes the topic's retained message; [MQTT-3.3.1-7]
// (3.1.1: [MQTT-3.3.1-11]) it is not stored itself: a later subscription gets nothing.
TEST_P(RetainedTest, EmptyPayloadDeletesRetainedAndIsForwarded) {
  constexpr int kTopics = 4;
  ASSERT_OK_AND_ASSIGN(auto current, ConnectAll(port(), SpreadIds("sub", 2), Options()));
  for (auto& s : current) {
    ASSERT_OK(SubscribeGranted(*s, "d/#", Qos::k1));
  }
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 2), Options()));
  for (int i = 0; i < kTopics; ++i) {
    ASSERT_OK(PublishRetained(*pubs[i % 2], absl::StrFormat("d/%d", i), "x", Qos::k1));
  }
  for (int i = 0; i < kTopics; ++i) {
    ASSERT_OK(PublishRetained(*pubs[(i + 1) % 2], absl::StrFormat("d/%d", i), "", Qos::k1));
  }
  // Also for a topic that has no retained message.
  ASSERT_OK(PublishRetained(*pubs[0], "d/none", "", Qos::k0));
  for (auto& s : current) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 2 * kTopics + 1));
    int empty = 0;
    for (const ReceivedPacket& m : got) {
      empty += m.publish().payload.empty() ? 1 : 0;
      EXPECT_FALSE(m.publish().retain) << m;  // established subscription
    }
    EXPECT_EQ(empty, kTopics + 1);
  }
  ASSERT_OK_AND_ASSIGN(auto late, ConnectAll(port(), SpreadIds("late", 2), Options()));
  for (auto& s : late) {
    ASSERT_OK(SubscribeGranted(*s, {Entry("d/#", Qos::k1), Entry("d/0", Qos::k1)}));
  }
  std::vector<MqttClient*> all = Raw(current);
  for (auto& s : late) {
    all.push_back(s.get());
  }
  EXPECT_OK(ExpectAllQuiet(all));
}

// [MQTT-3.3.1-8] (3.1.1: [MQTT-3.3.1-12]) a PUBLISH with RETAIN 0 is not stored and leaves the
// topic's retained message alone, even with an empty payload.
TEST_P(RetainedTest, Retain0LeavesRetainedMessageAlone) {
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 2), Options()));
  for (int i = 0; i < 4; ++i) {
    const std::string topic = absl::StrFormat("k/%d", i);
    ASSERT_OK(PublishRetained(*pubs[i % 2], topic, "keep", Qos::k1));
    ASSERT_OK(pubs[(i + 1) % 2]->Publish(topic, "transient", Qos::k1));
    ASSERT_OK(pubs[(i + 1) % 2]->Publish(topic, "", Qos::k1));
    ASSERT_OK(pubs[i % 2]->Publish(absl::StrFormat("k/never/%d", i), "not retained", Qos::k1));
  }
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 2), Options()));
  for (auto& s : subs) {
    ASSERT_OK(SubscribeGranted(*s, "k/#", Qos::k1));
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 4));
    EXPECT_EQ(ByTopic(got),
              (std::map<std::string, std::string>{
                  {"k/0", "keep"}, {"k/1", "keep"}, {"k/2", "keep"}, {"k/3", "keep"}}));
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// A wildcard subscription gathers the retained messages of every partition: 20 topics, spread
// over both shards' retained stores, stored by publishers on both shards; each arrives once,
// with RETAIN 1, and only after the SUBACK (ringmq sends retained messages after the SUBACK
// that creates the subscription, also while the SUBACK is held with --debug-defer-ms). Two
// overlapping filters in one SUBSCRIBE each get their own copies.
TEST_P(RetainedTest, WildcardGathersBothPartitionsAfterSuback) {
  constexpr int kTopics = 20;
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 2), Options()));
  std::map<std::string, std::string> stored;
  for (int i = 0; i < kTopics; ++i) {
    const std::string topic = absl::StrFormat("w/%d", i);
    stored[topic] = absl::StrFormat("value %d", i);
    ASSERT_OK(PublishRetained(*pubs[i % 2], topic, stored[topic], Qos::k1));
  }
  ASSERT_OK(PublishRetained(*pubs[0], "other/t", "not matched", Qos::k1));
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 4), Options()));
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK(SubscribeExpectingSubackFirst(*s, {Entry("w/#", Qos::k1)}));
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, kTopics));
    EXPECT_EQ(ByTopic(got), stored);
    for (const ReceivedPacket& m : got) {
      EXPECT_TRUE(m.publish().retain) << m;
    }
  }
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK(SubscribeExpectingSubackFirst(*s, {Entry("+/+", Qos::k0), Entry("w/7", Qos::k0)}));
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, kTopics + 2));
    std::map<std::string, int> count;
    for (const ReceivedPacket& m : got) {
      ++count[std::string(m.publish().topic)];
      EXPECT_TRUE(m.publish().retain) << m;
    }
    EXPECT_EQ(count.size(), static_cast<size_t>(kTopics + 1));
    EXPECT_EQ(count["w/7"], 2);
    EXPECT_EQ(count["other/t"], 1);
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// [MQTT-3.10.4-2] once a subscription is removed, no new message is added for it: a SUBSCRIBE
// followed at once by an UNSUBSCRIBE of the same filter may bring the filter's retained
// messages, but all of them before the UNSUBACK, none after. Retained messages on both
// partitions; subscribers on both shards.
TEST_P(RetainedTest, NoRetainedMessagesAfterTheUnsuback) {
  constexpr int kTopics = 10;
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 2), Options()));
  for (int i = 0; i < kTopics; ++i) {
    ASSERT_OK(PublishRetained(*pubs[i % 2], absl::StrFormat("su/%d", i), "kept", Qos::k1));
  }
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 4), Options()));
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    mqtt::Subscribe sub;
    sub.packet_id = s->NextPacketId();
    mqtt::SubscriptionOptions o;
    o.max_qos = Qos::k1;
    sub.subscriptions.push_back({"su/#", o});
    mqtt::Unsubscribe unsub;
    unsub.packet_id = s->NextPacketId();
    unsub.filters.push_back("su/#");
    ASSERT_OK(s->Send(sub));
    ASSERT_OK(s->Send(unsub));
    int before = 0;
    for (;;) {
      ASSERT_OK_AND_ASSIGN(ReceivedPacket p, s->Receive());
      if (p.type() == PacketType::kUnsuback) {
        break;
      }
      if (p.type() == PacketType::kPublish) {
        ++before;
      }
    }
    const absl::Status after = s->ExpectNoPacket(kQuiet);
    EXPECT_TRUE(after.ok()) << after << " (" << before << " retained before the UNSUBACK)";
  }
}

// [MQTT-3.8.4-8] a retained message is delivered at min(its stored QoS, the granted QoS).
TEST_P(RetainedTest, RetainedDeliveryQosIsMinimumOfStoredAndGranted) {
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(Options(SpreadId("pub", 0))));
  for (int stored = 0; stored < 3; ++stored) {
    ASSERT_OK(PublishRetained(*pub, absl::StrFormat("q/%d", stored), std::to_string(stored),
                              static_cast<Qos>(stored)));
  }
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 3), Options()));
  for (int granted = 0; granted < 3; ++granted) {
    MqttClient& s = *subs[granted];
    SCOPED_TRACE(s.client_id());
    ASSERT_OK(SubscribeGranted(s, "q/+", static_cast<Qos>(granted)));
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(s, 3));
    for (const ReceivedPacket& m : got) {
      const int stored = m.publish().payload[0] - '0';
      EXPECT_EQ(static_cast<int>(m.publish().qos), std::min(stored, granted)) << m;
      EXPECT_TRUE(m.publish().retain);
    }
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// ---- every version -------------------------------------------------------------------------

class RetainedVersionTest : public BrokerVersionTest {};

INSTANTIATE_TEST_SUITE_P(Versions, RetainedVersionTest, RINGMQ_ALL_VERSIONS, VersionName);

// The retained messages a new subscription gets are those whose topics match its filter by the
// same rules as live messages [MQTT-4.7.1-1], [MQTT-4.7.1-2] ("a/#" includes "a"; '+' matches
// an empty level), [MQTT-4.7.2-1] (no '$' topics for a leading wildcard), [MQTT-4.7.3-4] (no
// case folding); topics on both retained partitions.
TEST_P(RetainedVersionTest, RetainedMatchingFollowsFilterRules) {
  const auto& cases = MatchingCases();
  const auto& topics = MatchingTopics();
  ASSERT_OK_AND_ASSIGN(auto pubs,
                       ConnectAll(port(), SpreadIds("pub", 2), VersionOptions(GetParam())));
  for (size_t i = 0; i < topics.size(); ++i) {
    ASSERT_OK(PublishRetained(*pubs[i % 2], topics[i], topics[i], Qos::k1));
  }
  ASSERT_OK_AND_ASSIGN(auto subs,
                       ConnectAll(port(), SpreadIds("sub", 2), VersionOptions(GetParam())));
  for (const auto& [filter, want] : cases) {
    SCOPED_TRACE("filter " + filter);
    for (auto& s : subs) {
      ASSERT_OK(SubscribeGranted(*s, filter, Qos::k1));
      ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, want.size()));
      std::multiset<std::string> topics_got;
      for (const ReceivedPacket& m : got) {
        EXPECT_TRUE(m.publish().retain);
        topics_got.insert(std::string(m.publish().topic));
      }
      EXPECT_EQ(topics_got, std::multiset<std::string>(want.begin(), want.end()));
      ASSERT_OK(s->Unsubscribe({filter}));
    }
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// ---- MQTT 5 ------------------------------------------------------------------------------------

class RetainedV5Test : public DeferBrokerTest {};

INSTANTIATE_TEST_SUITE_P(Defer, RetainedV5Test, ::testing::Bool(), DeferParamName);

// [MQTT-3.3.1-9] Retain Handling 0: retained messages on every SUBSCRIBE, also when it replaces
// an existing subscription; [MQTT-3.3.1-10] Retain Handling 1: only when the subscription is
// new; [MQTT-3.3.1-11] Retain Handling 2: never. They carry RETAIN 1 whatever Retain As
// Published says, and the subscription's Subscription Identifier [MQTT-3.3.4-3].
TEST_P(RetainedV5Test, RetainHandling) {
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5(SpreadId("pub", 0))));
  ASSERT_OK(PublishRetained(*pub, "rh/a", "A", Qos::k1));
  ASSERT_OK(PublishRetained(*pub, "rh/b", "B", Qos::k1));
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 2), V5()));
  mqtt::PropertyBuilder b;
  b.AddSubscriptionIdentifier(42);
  PacketOptions with_id;
  with_id.properties.subscription_ids = b.subscription_ids();
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    for (RetainHandling rh : {RetainHandling::kSendOnSubscribe,
                              RetainHandling::kSendIfNewSubscription, RetainHandling::kDoNotSend}) {
      const int mode = static_cast<int>(rh);
      SCOPED_TRACE(absl::StrFormat("Retain Handling %d", mode));
      const std::vector<SubscribeEntry> e = {Entry("rh/+", Qos::k1, false, false, rh)};
      // New subscription.
      ASSERT_OK(s->Subscribe(e, with_id));
      if (rh == RetainHandling::kDoNotSend) {
        EXPECT_OK(s->ExpectNoPacket(kQuiet));
      } else {
        ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 2));
        EXPECT_EQ(ByTopic(got), (std::map<std::string, std::string>{{"rh/a", "A"}, {"rh/b", "B"}}));
        for (const ReceivedPacket& m : got) {
          EXPECT_TRUE(m.publish().retain) << m;
          EXPECT_EQ(SubscriptionIds(m), std::vector<uint32_t>{42}) << m;
        }
      }
      // The same filter again: replaces the subscription.
      ASSERT_OK(s->Subscribe(e, with_id));
      if (rh == RetainHandling::kSendOnSubscribe) {
        ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 2));
        EXPECT_EQ(ByTopic(got), (std::map<std::string, std::string>{{"rh/a", "A"}, {"rh/b", "B"}}));
      } else {
        EXPECT_OK(s->ExpectNoPacket(kQuiet));
      }
      ASSERT_OK(s->Unsubscribe({"rh/+"}));
    }
  }
}

// [MQTT-3.3.2-5] a retained message whose Message Expiry Interval has passed is not sent to a
// new subscription; [MQTT-3.3.2-6] one that has not is sent with the interval reduced by the
// time it was kept. Its other properties are kept [MQTT-3.3.2-4/15/16/17/20].
TEST_P(RetainedV5Test, ExpiredRetainedMessagesAreNotSent) {
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 2), V5()));
  for (int i = 0; i < 4; ++i) {
    mqtt::Properties short_lived;
    short_lived.SetMessageExpiryInterval(1);
    ASSERT_OK(PublishRetained(*pubs[i % 2], absl::StrFormat("exp/short/%d", i), "short", Qos::k1,
                              short_lived));
    mqtt::Properties long_lived;
    long_lived.SetMessageExpiryInterval(100);
    long_lived.SetContentType("text/plain");
    long_lived.SetCorrelationData("corr");
    ASSERT_OK(PublishRetained(*pubs[i % 2], absl::StrFormat("exp/long/%d", i), "long", Qos::k1,
                              long_lived));
  }
  // Let the short-lived ones expire (the subject of the test is the passing of time).
  EXPECT_OK(pubs[0]->ExpectNoPacket(milliseconds(1500)));
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 2), V5()));
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK(SubscribeGranted(*s, "exp/#", Qos::k1));
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, 4));
    for (const ReceivedPacket& m : got) {
      EXPECT_EQ(m.publish().payload, "long") << m;
      const mqtt::Properties& p = m.properties();
      ASSERT_TRUE(p.Has(mqtt::PropertyId::kMessageExpiryInterval)) << m;
      EXPECT_LE(p.message_expiry_interval_s, 99u);
      EXPECT_GE(p.message_expiry_interval_s, 90u);
      EXPECT_EQ(p.content_type, "text/plain");
      EXPECT_EQ(p.correlation_data, "corr");
    }
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// 5.0 §4.8.2: retained messages are not sent when a shared subscription is made (a plain one
// made at the same time gets them).
TEST_P(RetainedV5Test, NoRetainedMessagesForSharedSubscriptions) {
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5(SpreadId("pub", 0))));
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(PublishRetained(*pub, absl::StrFormat("sh/%d", i), "kept", Qos::k1));
  }
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 2), V5()));
  for (auto& s : subs) {
    ASSERT_OK(
        SubscribeGranted(*s, {Entry("$share/g/sh/#", Qos::k1), Entry("$share/h/sh/0", Qos::k1)}));
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
  ASSERT_OK(SubscribeGranted(*subs[0], {Entry("$share/g2/sh/+", Qos::k1), Entry("sh/1", Qos::k1)}));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket m, subs[0]->ExpectPublish());
  EXPECT_EQ(m.publish().topic, "sh/1");
  EXPECT_TRUE(m.publish().retain);
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

}  // namespace
}  // namespace ringmq::testing
