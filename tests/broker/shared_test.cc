// Broker integration tests: MQTT 5 shared subscriptions ($share/{group}/{filter}), against the
// 5.0 specification §4.8.2: each message to one member of a group, members and publishers on
// both shards; QoS per member; unacknowledged messages of a member that leaves; several groups
// and plain subscriptions on the same filter. Tests named "..._defer" run the broker with
// --debug-defer-ms 50 (every SUBACK and PUBACK/PUBREC decision held).
//
// Statement ids are named per test; the list is in /work/shared/mqtt-normative.md.
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

std::vector<std::pair<std::string, std::string>> Numbered(std::string_view topic, int n,
                                                          std::string_view prefix = "") {
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < n; ++i) {
    out.emplace_back(std::string(topic), absl::StrFormat("%s%d", prefix, i));
  }
  return out;
}

// Checks that the members got `n` distinct payloads altogether, none twice; returns how many
// each member got.
std::vector<size_t> CheckOnceEach(const std::vector<std::vector<ReceivedPacket>>& per_member,
                                  size_t n) {
  std::set<std::string> seen;
  std::vector<size_t> counts;
  size_t total = 0;
  for (const auto& got : per_member) {
    counts.push_back(got.size());
    for (const ReceivedPacket& m : got) {
      EXPECT_TRUE(seen.insert(std::string(m.publish().payload)).second) << "delivered twice: " << m;
      ++total;
    }
  }
  EXPECT_EQ(total, n);
  EXPECT_EQ(seen.size(), n);
  return counts;
}

class SharedTest : public DeferBrokerTest {};

INSTANTIATE_TEST_SUITE_P(Defer, SharedTest, ::testing::Bool(), DeferParamName);

// 5.0 §4.8.2: each message published to a shared subscription's filter goes to exactly one
// member of the group. 4 members on both shards, 40 QoS 1 messages from a publisher on each
// shard: every message arrives once, every member gets some (ringmq distributes round robin
// over all members, wherever they are), and the group's member Subscription Identifier
// travels with it.
TEST_P(SharedTest, EachMessageToExactlyOneMemberAcrossShards) {
  constexpr int kMessages = 40;
  ASSERT_OK_AND_ASSIGN(auto members, ConnectAll(port(), SpreadIds("member", 4), V5()));
  mqtt::PropertyBuilder b;
  b.AddSubscriptionIdentifier(9);
  PacketOptions with_id;
  with_id.properties.subscription_ids = b.subscription_ids();
  for (auto& m : members) {
    ASSERT_OK_AND_ASSIGN(ReceivedPacket ack,
                         m->Subscribe({Entry("$share/g/sh/t", Qos::k1)}, with_id));
    EXPECT_EQ(SubackCodes(ack), std::vector<ReasonCode>{ReasonCode::kGrantedQos1});
  }
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 2), V5()));
  for (auto& p : pubs) {
    SCOPED_TRACE(p->client_id());
    ASSERT_OK_AND_ASSIGN(
        auto reasons, PublishMany(*p, Numbered("sh/t", kMessages, p->client_id() + ":"), Qos::k1));
    for (ReasonCode rc : reasons) {
      EXPECT_EQ(rc, ReasonCode::kSuccess);
    }
    ASSERT_OK_AND_ASSIGN(auto got, CollectPublishes(Raw(members), kMessages));
    std::vector<size_t> counts = CheckOnceEach(got, kMessages);
    for (size_t i = 0; i < counts.size(); ++i) {
      EXPECT_GT(counts[i], 0u) << members[i]->client_id() << " got nothing";
    }
    for (const auto& per : got) {
      for (const ReceivedPacket& m : per) {
        EXPECT_EQ(m.publish().topic, "sh/t");
        EXPECT_EQ(m.publish().qos, Qos::k1);
        EXPECT_EQ(SubscriptionIds(m), std::vector<uint32_t>{9}) << m;
      }
    }
    EXPECT_OK(ExpectAllQuiet(Raw(members)));
  }
}

// [MQTT-4.8.2-3] a message is delivered to the chosen member at that member's granted QoS
// (min with the published QoS).
TEST_P(SharedTest, DeliveredAtTheMembersGrantedQos) {
  constexpr int kMessages = 30;
  ASSERT_OK_AND_ASSIGN(auto members, ConnectAll(port(), SpreadIds("member", 3), V5()));
  for (size_t i = 0; i < members.size(); ++i) {
    ASSERT_OK(SubscribeGranted(*members[i], "$share/q/qos/t", static_cast<Qos>(i)));
  }
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5(SpreadId("pub", 0))));
  for (Qos published : {Qos::k2, Qos::k1}) {
    SCOPED_TRACE(::testing::PrintToString(published));
    ASSERT_OK(PublishMany(*pub, Numbered("qos/t", kMessages), published));
    ASSERT_OK_AND_ASSIGN(auto got, CollectPublishes(Raw(members), kMessages));
    CheckOnceEach(got, kMessages);
    for (size_t i = 0; i < got.size(); ++i) {
      for (const ReceivedPacket& m : got[i]) {
        EXPECT_EQ(m.publish().qos, mqtt::MinQos(published, static_cast<Qos>(i)))
            << members[i]->client_id() << ": " << m;
      }
    }
  }
  EXPECT_OK(ExpectAllQuiet(Raw(members)));
}

// 5.0 §4.8.2: when a member's session ends with QoS 1 messages unacknowledged, the server
// SHOULD send them to another member. A member that never acknowledges closes its connection
// (Session Expiry 0): the other members get every message, the unacknowledged ones included.
// Three line-ups: the leaving member alone on its shard (member-0 with member-1 and member-3
// staying, and the mirror image), and with a remaining member on each shard.
TEST_P(SharedTest, UnacknowledgedMessagesOfLeavingMemberGoToAnother) {
  constexpr int kMessages = 16;
  struct LineUp {
    int quitter;
    std::vector<int> stay;
  };
  const std::vector<LineUp> line_ups = {{0, {1, 3}}, {1, {0, 2}}, {0, {1, 2}}};
  for (size_t round = 0; round < line_ups.size(); ++round) {
    const LineUp& lu = line_ups[round];
    SCOPED_TRACE(absl::StrFormat("leaving member-%d", lu.quitter));
    const std::string filter = absl::StrFormat("$share/l%d/leave/%d", round, round);
    const std::string topic = absl::StrFormat("leave/%d", round);
    ConnectOptions silent = V5(SpreadId("member", lu.quitter));
    silent.auto_ack = false;
    ASSERT_OK_AND_ASSIGN(auto quitter, Connect(silent));
    ASSERT_OK(SubscribeGranted(*quitter, filter, Qos::k1));
    std::vector<std::string> stay_ids;
    for (int i : lu.stay) {
      stay_ids.push_back(SpreadId("member", i));
    }
    ASSERT_OK_AND_ASSIGN(auto stay, ConnectAll(port(), stay_ids, V5()));
    for (auto& m : stay) {
      ASSERT_OK(SubscribeGranted(*m, filter, Qos::k1));
    }
    ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5(SpreadId("pub", 0))));
    ASSERT_OK(PublishMany(*pub, Numbered(topic, kMessages), Qos::k1));
    // The quitter takes some and acknowledges none.
    ASSERT_OK_AND_ASSIGN(ReceivedPacket first, quitter->ExpectPublish());
    quitter->ResetSocket();
    // Everything reaches the members that stay: what they got directly and what the quitter
    // left unacknowledged ("first" at least).
    std::set<std::string> payloads;
    std::vector<MqttClient*> stayers = Raw(stay);
    while (payloads.size() < static_cast<size_t>(kMessages)) {
      absl::StatusOr<std::vector<std::vector<ReceivedPacket>>> got = CollectPublishes(stayers, 1);
      ASSERT_TRUE(got.ok()) << got.status() << "; received " << payloads.size() << " of "
                            << kMessages;
      for (const auto& per : *got) {
        for (const ReceivedPacket& m : per) {
          payloads.insert(std::string(m.publish().payload));
        }
      }
    }
    EXPECT_TRUE(payloads.contains(std::string(first.publish().payload)));
    EXPECT_OK(ExpectAllQuiet(stayers));
    for (auto& m : stay) {
      ASSERT_OK(m->Disconnect());
    }
  }
}

// 5.0 §4.8.2 leaves the choice of member to the server. ringmq gives messages to connected
// members while there are any, wherever they are: a member that is away (its session kept)
// gets none of them, not even QoS 0 ones that it could only lose. The away member is alone on
// its shard, the connected ones on the other, and publishers on both. Once it is back, it
// takes its share again.
TEST_P(SharedTest, ConnectedMembersTakeTheMessagesOfAnAwayMember) {
  constexpr int kMessages = 20;
  const std::string filter = "$share/away/presence/#";
  ConnectOptions ao = V5(SpreadId("member", 0));
  ao.clean_start = false;
  ao.properties.SetSessionExpiryInterval(60);
  ASSERT_OK_AND_ASSIGN(auto away, Connect(ao));
  ASSERT_OK(SubscribeGranted(*away, filter, Qos::k1));
  ASSERT_OK_AND_ASSIGN(auto here,
                       ConnectAll(port(), {SpreadId("member", 1), SpreadId("member", 3)}, V5()));
  for (auto& m : here) {
    ASSERT_OK(SubscribeGranted(*m, filter, Qos::k1));
  }
  ASSERT_OK(away->Disconnect());  // the session stays, a member of the group
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 2), V5()));
  for (Qos qos : {Qos::k0, Qos::k1}) {
    SCOPED_TRACE(::testing::PrintToString(qos));
    const std::string tag = qos == Qos::k0 ? "q0-" : "q1-";
    ASSERT_OK(PublishMany(*pubs[0], Numbered("presence/a", kMessages / 2, tag + "a"), qos));
    ASSERT_OK(PublishMany(*pubs[1], Numbered("presence/b", kMessages / 2, tag + "b"), qos));
    ASSERT_OK_AND_ASSIGN(auto got, CollectPublishes(Raw(here), kMessages));
    CheckOnceEach(got, kMessages);
  }
  // Back: nothing was queued for it, and it shares the next messages with the others.
  ASSERT_OK_AND_ASSIGN(away, Connect(ao));
  ASSERT_TRUE(away->server().session_present);
  EXPECT_OK(away->ExpectNoPacket(kQuiet));
  std::vector<MqttClient*> all = Raw(here);
  all.push_back(away.get());
  ASSERT_OK(PublishMany(*pubs[0], Numbered("presence/a", kMessages, "back-a"), Qos::k1));
  ASSERT_OK(PublishMany(*pubs[1], Numbered("presence/b", kMessages, "back-b"), Qos::k1));
  ASSERT_OK_AND_ASSIGN(auto got, CollectPublishes(all, 2 * kMessages));
  std::vector<size_t> counts = CheckOnceEach(got, 2 * kMessages);
  EXPECT_GT(counts[2], 0u) << "the member that came back got none";
  EXPECT_OK(ExpectAllQuiet(all));
}

// 5.0 §4.8.2: two groups on the same filter each get every message (once per group), and a
// plain subscription on the filter gets every message too.
TEST_P(SharedTest, GroupsAndPlainSubscriptionsEachGetEveryMessage) {
  constexpr int kMessages = 20;
  ASSERT_OK_AND_ASSIGN(auto g1, ConnectAll(port(), SpreadIds("one", 2), V5()));
  ASSERT_OK_AND_ASSIGN(auto g2, ConnectAll(port(), SpreadIds("two", 3), V5()));
  ASSERT_OK_AND_ASSIGN(auto plain, ConnectAll(port(), SpreadIds("plain", 2), V5()));
  for (auto& m : g1) {
    ASSERT_OK(SubscribeGranted(*m, "$share/one/multi/#", Qos::k1));
  }
  for (auto& m : g2) {
    ASSERT_OK(SubscribeGranted(*m, "$share/two/multi/#", Qos::k2));
  }
  for (auto& m : plain) {
    ASSERT_OK(SubscribeGranted(*m, "multi/#", Qos::k1));
  }
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 2), V5()));
  ASSERT_OK(PublishMany(*pubs[0], Numbered("multi/a", kMessages / 2, "a"), Qos::k2));
  ASSERT_OK(PublishMany(*pubs[1], Numbered("multi/b", kMessages / 2, "b"), Qos::k1));
  ASSERT_OK_AND_ASSIGN(auto got1, CollectPublishes(Raw(g1), kMessages));
  CheckOnceEach(got1, kMessages);
  ASSERT_OK_AND_ASSIGN(auto got2, CollectPublishes(Raw(g2), kMessages));
  CheckOnceEach(got2, kMessages);
  for (auto& p : plain) {
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*p, kMessages));
    CheckOnceEach({got}, kMessages);
  }
  std::vector<MqttClient*> all = Raw(g1);
  for (auto* c : Raw(g2)) {
    all.push_back(c);
  }
  for (auto* c : Raw(plain)) {
    all.push_back(c);
  }
  EXPECT_OK(ExpectAllQuiet(all));
}

// A member that unsubscribes gets nothing more [MQTT-3.10.4-2]; the remaining members get
// every message. When the last member leaves, nobody matches (PUBACK 0x10).
TEST_P(SharedTest, UnsubscribedMemberGetsNoMore) {
  constexpr int kMessages = 12;
  ASSERT_OK_AND_ASSIGN(auto members, ConnectAll(port(), SpreadIds("member", 4), V5()));
  for (auto& m : members) {
    ASSERT_OK(SubscribeGranted(*m, "$share/u/unsub/t", Qos::k1));
  }
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5(SpreadId("pub", 0))));
  for (size_t leaving = 0; leaving < members.size(); ++leaving) {
    SCOPED_TRACE(members[leaving]->client_id());
    ASSERT_OK_AND_ASSIGN(ReceivedPacket ack, members[leaving]->Unsubscribe({"$share/u/unsub/t"}));
    EXPECT_EQ(UnsubackCodes(ack), std::vector<ReasonCode>{ReasonCode::kSuccess});
    ASSERT_OK_AND_ASSIGN(
        auto reasons,
        PublishMany(*pub, Numbered("unsub/t", kMessages, absl::StrFormat("%d-", leaving)),
                    Qos::k1));
    std::vector<MqttClient*> rest;
    for (size_t i = leaving + 1; i < members.size(); ++i) {
      rest.push_back(members[i].get());
    }
    if (rest.empty()) {
      for (ReasonCode rc : reasons) {
        EXPECT_EQ(rc, ReasonCode::kNoMatchingSubscribers);
      }
    } else {
      ASSERT_OK_AND_ASSIGN(auto got, CollectPublishes(rest, kMessages));
      CheckOnceEach(got, kMessages);
    }
    EXPECT_OK(ExpectAllQuiet(Raw(members)));
  }
}

// [MQTT-4.8.2-4] a member that disconnects in the middle of a QoS 2 delivery gets it
// completed when it comes back to its session (the PUBLISH again, DUP 1, same packet id
// [MQTT-4.4.0-1]); no other member gets that message meanwhile. [MQTT-4.8.2-5] if instead the
// member's session ends first, the message is not given to another member either.
TEST_P(SharedTest, Qos2InFlightStaysWithItsMember) {
  constexpr int kMessages = 6;
  for (int ends = 0; ends < 2; ++ends) {
    SCOPED_TRACE(ends ? "session ends" : "member comes back");
    const std::string filter = absl::StrFormat("$share/q2/q2/%d", ends);
    const std::string topic = absl::StrFormat("q2/%d", ends);
    ConnectOptions ao = V5(SpreadId("member", 0));
    ao.auto_ack = false;
    ao.properties.SetSessionExpiryInterval(ends ? 0 : 60);
    // Receive Maximum 1: exactly one QoS 2 delivery in flight to A; A's other messages wait
    // in its queue, and queued messages do go to other members once A is gone.
    ao.properties.SetReceiveMaximum(1);
    ASSERT_OK_AND_ASSIGN(auto a, Connect(ao));
    ASSERT_OK(SubscribeGranted(*a, filter, Qos::k2));
    ASSERT_OK_AND_ASSIGN(auto others,
                         ConnectAll(port(), {SpreadId("member", 1), SpreadId("member", 2)}, V5()));
    for (auto& m : others) {
      ASSERT_OK(SubscribeGranted(*m, filter, Qos::k2));
    }
    ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5(SpreadId("pub", 0))));
    ASSERT_OK(PublishMany(*pub, Numbered(topic, kMessages), Qos::k2));
    // A has one QoS 2 delivery in flight (no PUBREC sent), and no other.
    ASSERT_OK_AND_ASSIGN(ReceivedPacket held, a->ExpectPublish());
    EXPECT_OK(a->ExpectNoPacket(kQuiet));
    const std::set<std::string> held_payloads = {std::string(held.publish().payload)};
    a->ResetSocket();
    // The others get exactly the rest.
    const size_t rest = kMessages - held_payloads.size();
    ASSERT_OK_AND_ASSIGN(auto got, CollectPublishes(Raw(others), rest));
    for (const auto& per : got) {
      for (const ReceivedPacket& m : per) {
        EXPECT_FALSE(held_payloads.contains(std::string(m.publish().payload)))
            << "given to another member: " << m;
      }
    }
    EXPECT_OK(ExpectAllQuiet(Raw(others)));
    if (!ends) {
      ao.clean_start = false;
      ASSERT_OK_AND_ASSIGN(auto back, Connect(ao));
      EXPECT_TRUE(back->server().session_present);
      ASSERT_OK_AND_ASSIGN(ReceivedPacket again, back->ExpectPublish());
      EXPECT_EQ(again.publish().payload, held.publish().payload);
      EXPECT_EQ(again.publish().packet_id, held.publish().packet_id);
      EXPECT_TRUE(again.publish().dup);
      EXPECT_EQ(again.publish().qos, Qos::k2);
      ASSERT_OK(back->Disconnect());
    }
    for (auto& m : others) {
      ASSERT_OK(m->Disconnect());
    }
  }
}

// [MQTT-4.4.0-1] the only member of a group, with a session that outlives its connection,
// reconnects with QoS 1 messages unacknowledged: they are sent again with their original
// packet ids and DUP 1 (there is no other member to give them to).
TEST_P(SharedTest, SoleMemberGetsUnacknowledgedQos1AgainWithOriginalIds) {
  for (const std::string& id : SpreadIds("member", 2)) {
    SCOPED_TRACE(id);
    const std::string topic = "sole/" + id;
    ConnectOptions o = V5(id);
    o.auto_ack = false;
    o.properties.SetSessionExpiryInterval(60);
    ASSERT_OK_AND_ASSIGN(auto m, Connect(o));
    ASSERT_OK(SubscribeGranted(*m, "$share/sole/" + topic, Qos::k1));
    ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5(SpreadId("pub", 0))));
    ASSERT_OK(PublishMany(*pub, Numbered(topic, 3), Qos::k1));
    ASSERT_OK_AND_ASSIGN(auto first, ExpectPublishes(*m, 3));
    m->CloseSocket();
    o.clean_start = false;
    ASSERT_OK_AND_ASSIGN(auto back, Connect(o));
    EXPECT_TRUE(back->server().session_present);
    ASSERT_OK_AND_ASSIGN(auto again, ExpectPublishes(*back, 3));
    for (size_t i = 0; i < again.size(); ++i) {
      EXPECT_EQ(again[i].publish().payload, first[i].publish().payload);
      EXPECT_EQ(again[i].publish().packet_id, first[i].publish().packet_id) << again[i];
      EXPECT_TRUE(again[i].publish().dup) << again[i];
      mqtt::Puback ack;
      ack.packet_id = again[i].publish().packet_id;
      ASSERT_OK(back->Send(ack));
    }
    EXPECT_OK(back->ExpectNoPacket(kQuiet));
    ASSERT_OK(back->Disconnect());
  }
}

// [MQTT-4.8.2-6] a member that refuses a message (PUBACK or PUBREC with a reason code of 0x80
// or more) ends its delivery: it is not offered to another member.
TEST_P(SharedTest, RefusedMessageIsNotOfferedToAnotherMember) {
  ConnectOptions ro = V5(SpreadId("member", 0));
  ro.auto_ack = false;
  ASSERT_OK_AND_ASSIGN(auto refuser, Connect(ro));
  ASSERT_OK(SubscribeGranted(*refuser, "$share/r/refuse/#", Qos::k2));
  ASSERT_OK_AND_ASSIGN(auto others,
                       ConnectAll(port(), {SpreadId("member", 1), SpreadId("member", 2)}, V5()));
  for (auto& m : others) {
    ASSERT_OK(SubscribeGranted(*m, "$share/r/refuse/#", Qos::k2));
  }
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5(SpreadId("pub", 0))));
  constexpr size_t kMessages = 18;
  for (Qos qos : {Qos::k1, Qos::k2}) {
    const std::string topic = absl::StrFormat("refuse/%d", static_cast<int>(qos));
    ASSERT_OK(PublishMany(*pub, Numbered(topic, kMessages / 2, topic + ":"), qos));
  }
  // Until every message has reached some member (bounded): the refuser refuses each of its
  // own, the others acknowledge theirs.
  std::set<std::string> refused;
  std::vector<ReceivedPacket> got;
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(10);
  while (refused.size() + got.size() < kMessages && Clock::now() < deadline) {
    if (absl::StatusOr<ReceivedPacket> m = refuser->ExpectPublish(milliseconds(10)); m.ok()) {
      refused.insert(std::string(m->publish().payload));
      if (m->publish().qos == Qos::k1) {
        mqtt::Puback a;
        a.packet_id = m->publish().packet_id;
        a.reason = ReasonCode::kUnspecifiedError;
        ASSERT_OK(refuser->Send(a));
      } else {
        mqtt::Pubrec r;
        r.packet_id = m->publish().packet_id;
        r.reason = ReasonCode::kImplementationSpecificError;
        ASSERT_OK(refuser->Send(r));
      }
    }
    for (auto& o : others) {
      if (absl::StatusOr<ReceivedPacket> m = o->ExpectPublish(milliseconds(10)); m.ok()) {
        got.push_back(*std::move(m));
      }
    }
  }
  ASSERT_FALSE(refused.empty());
  EXPECT_EQ(refused.size() + got.size(), kMessages);
  std::set<std::string> delivered;
  for (const ReceivedPacket& m : got) {
    EXPECT_FALSE(refused.contains(std::string(m.publish().payload))) << "offered again: " << m;
    EXPECT_TRUE(delivered.insert(std::string(m.publish().payload)).second) << "twice: " << m;
  }
  std::vector<MqttClient*> all = Raw(others);
  all.push_back(refuser.get());
  EXPECT_OK(ExpectAllQuiet(all));
}

// Two groups are two groups, whatever their hashes. These two filters were found (by a
// Pollard-rho search) to give the same 64-bit FNV-1a hash with the share name "g": the hash
// ringmq used to identify shared groups across shards (SharedGroupHash). Each group's
// messages reach its own member only, and unsubscribing one group leaves the other working.
// (With the hash as identity, one group's member received the other's messages, and an
// unsubscribe removed the other group's entry.) Groups are now identified by their text.
TEST_P(SharedTest, GroupsWhoseHashesCollideStaySeparate) {
  const std::string a = "bf85c20f4f88c3d0";
  const std::string b = "1c3ce3c135645797";
  for (uint32_t shard_of_b : {0u, 1u}) {
    SCOPED_TRACE(::testing::Message() << "member of b on shard " << shard_of_b);
    ASSERT_OK_AND_ASSIGN(auto ma, Connect(V5(SpreadId("member-a", 0))));
    ASSERT_OK_AND_ASSIGN(auto mb, Connect(V5(SpreadId("member-b", static_cast<int>(shard_of_b)))));
    ASSERT_OK(SubscribeGranted(*ma, "$share/g/" + a, Qos::k1));
    ASSERT_OK(SubscribeGranted(*mb, "$share/g/" + b, Qos::k1));
    ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5(SpreadId("pub", 1))));
    for (int i = 0; i < 4; ++i) {
      ASSERT_OK(pub->Publish(a, "for a", Qos::k1));
      ASSERT_OK(pub->Publish(b, "for b", Qos::k1));
    }
    ASSERT_OK_AND_ASSIGN(auto got_a, ExpectPublishes(*ma, 4));
    ASSERT_OK_AND_ASSIGN(auto got_b, ExpectPublishes(*mb, 4));
    for (const ReceivedPacket& m : got_a) {
      EXPECT_EQ(m.publish().topic, a) << m;
    }
    for (const ReceivedPacket& m : got_b) {
      EXPECT_EQ(m.publish().topic, b) << m;
    }
    ASSERT_OK(mb->Unsubscribe({"$share/g/" + b}));
    ASSERT_OK(pub->Publish(a, "still for a", Qos::k1));
    ASSERT_OK_AND_ASSIGN(auto after, ExpectPublishes(*ma, 1));
    EXPECT_EQ(after[0].publish().payload, "still for a");
    EXPECT_OK(ExpectAllQuiet({ma.get(), mb.get()}));
    ASSERT_OK(ma->Disconnect());
    ASSERT_OK(mb->Disconnect());
  }
}

// [MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error: DISCONNECT 0x82.
TEST_P(SharedTest, NoLocalOnSharedSubscriptionIsProtocolError) {
  ASSERT_OK_AND_ASSIGN(auto c, Connect(V5(SpreadId("member", 0))));
  mqtt::Subscribe sub;
  sub.packet_id = 1;
  mqtt::SubscriptionOptions o;
  o.no_local = true;
  o.max_qos = Qos::k1;
  sub.subscriptions.push_back({"$share/g/nl/t", o});
  ASSERT_OK(c->Send(sub));
  ExpectClosedWith(*c, ReasonCode::kProtocolError);
}

}  // namespace
}  // namespace ringmq::testing
