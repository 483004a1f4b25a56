// Cross-shard orderings set up step by step: what a subscriber sees when messages, retained
// replies and interest updates between shards interleave in the ways threads allow.
#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "core/broker/shard_hash.h"
#include "tests/sim/sim_test_util.h"
#include "tests/testing/status_macros.h"

namespace ringmq::testing {
namespace {

using mqtt::PacketType;
using mqtt::Qos;

// A topic whose retained message lives on `shard` of 2.
std::string TopicOnShard(uint32_t shard) {
  for (int i = 0;; ++i) {
    std::string t = "retained/" + std::to_string(i);
    if (broker::RetainShard(t, 2) == shard) {
      return t;
    }
  }
}

// The PUBLISH payloads `c` received, in order (other packets are dropped).
std::vector<std::string> Payloads(const std::vector<ReceivedPacket>& packets) {
  std::vector<std::string> out;
  for (const ReceivedPacket& p : packets) {
    if (p.type() == PacketType::kPublish) {
      out.emplace_back(p.publish().payload);
    }
  }
  return out;
}

// A subscriber on shard 1 subscribes to a topic whose retained message ("old") lives on
// shard 0; right after, a client on shard 1 publishes "new", retained, on that topic. The
// live "new" reaches the subscriber at once; the retained reply from shard 0 was taken
// before "new" was stored there and still says "old". The subscriber must end with "new":
// the retained "old" is not sent after it. (It used to be, leaving the stale value last.)
TEST(OrderingTest, RetainedReplyNeverOvertakesANewerLiveMessage) {
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start());
  const std::string topic = TopicOnShard(0);
  auto pub = ConnectClient(*b, 1, SpreadId("pub", 1));
  mqtt::Publish old_value = PublishPacket(topic, "old");
  old_value.retain = true;
  pub->Send(old_value);
  b->StepAll(5);
  auto sub = ConnectClient(*b, 1, SpreadId("sub", 1));

  // 1. SUBSCRIBE: shard 1 asks shard 0 for the retained message and waits for its interest
  //    to be acknowledged.
  mqtt::Subscribe s;
  s.packet_id = 1;
  s.subscriptions.push_back({topic, {}});
  sub->Send(s);
  b->Step(1);
  // 2. "new", retained, from shard 1: delivered live to the subscriber, and sent to shard 0
  //    to be stored, behind the retained query.
  mqtt::Publish new_value = PublishPacket(topic, "new");
  new_value.retain = true;
  pub->Send(new_value);
  b->Step(1);
  // 3. Shard 0 answers the query ("old"), then stores "new"; shard 1 sends SUBACK and the
  //    retained messages.
  std::vector<ReceivedPacket> seen;
  for (int r = 0; r < 20; ++r) {
    b->StepAll();
    ASSERT_OK_AND_ASSIGN(auto got, sub->Read());
    seen.insert(seen.end(), got.begin(), got.end());
  }
  std::vector<std::string> payloads = Payloads(seen);
  ASSERT_FALSE(payloads.empty());
  EXPECT_EQ(payloads.back(), "new") << ::testing::PrintToString(payloads);
}

// A session subscribes to F, then unsubscribes and subscribes again before shard 0 has
// applied any of those interest updates; shard 0 then acknowledges the first one only.
// Another client subscribes to F on shard 1: its SUBACK must wait until shard 0 routes F to
// shard 1 again, so that a message published on shard 0 after that SUBACK reaches it. (The
// acknowledgement of the first update used to confirm the re-subscription: the SUBACK went
// out while shard 0 was about to apply the unsubscribe, and the message was lost.)
TEST(OrderingTest, SubackWaitsForTheInterestUpdateItDependsOn) {
  SteppedBrokerOptions o;
  o.max_messages_per_source = 1;  // shard 0 applies one interest update per step
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  auto a = ConnectClient(*b, 1, SpreadId("a", 1));
  auto c = ConnectClient(*b, 1, SpreadId("c", 1));
  auto pub = ConnectClient(*b, 0, SpreadId("pub", 0));
  b->StepAll(5);  // nothing left in flight
  // Its retained messages live on shard 1: shard 1 sends shard 0 nothing but the updates.
  const std::string f = TopicOnShard(1);

  // 1. a: SUBSCRIBE f (update 1: count 1), UNSUBSCRIBE f (update 2: count 0), SUBSCRIBE f
  //    (update 3: count 1), all read by shard 1 before shard 0 runs.
  mqtt::Subscribe s1;
  s1.packet_id = 1;
  s1.subscriptions.push_back({f, {}});
  a->Send(s1);
  b->Step(1);
  mqtt::Unsubscribe u;
  u.packet_id = 2;
  u.filters.push_back(f);
  a->Send(u);
  mqtt::Subscribe s2 = s1;
  s2.packet_id = 3;
  a->Send(s2);
  b->Step(1);
  // 2. Shard 0 applies update 1 only, and acknowledges it.
  b->Step(0);
  // 3. c subscribes to f on shard 1, which first takes the acknowledgement of update 1; one
  //    more step flushes what it wrote (shard 0 sends nothing meanwhile).
  c->Send(s1);
  b->Step(1);
  b->Step(1);
  ASSERT_OK_AND_ASSIGN(auto c_early, c->Read());
  const bool early_suback = !c_early.empty() && c_early[0].type() == PacketType::kSuback;
  // 4. Shard 0 applies update 2 (no route to shard 1 for f), then routes a PUBLISH to f,
  //    and only later update 3.
  pub->Send(PublishPacket(f, "after suback"));
  b->Step(0);
  std::vector<ReceivedPacket> seen = c_early;
  for (int r = 0; r < 20; ++r) {
    b->StepAll();
    ASSERT_OK_AND_ASSIGN(auto got, c->Read());
    seen.insert(seen.end(), got.begin(), got.end());
  }
  EXPECT_FALSE(early_suback) << "SUBACK before every shard applied the update it needs; seen "
                             << ::testing::PrintToString(Payloads(seen));
  if (early_suback) {
    EXPECT_EQ(Payloads(seen), std::vector<std::string>{"after suback"})
        << "a message published after the SUBACK was lost";
  }
}

}  // namespace
}  // namespace ringmq::testing
