// Connections handed to their session's home shard, in orderings a threaded broker reaches
// only by chance: set up step by step on a SteppedBroker.
#include <string>

#include "gtest/gtest.h"

#include "tests/sim/sim_test_util.h"
#include "tests/testing/status_macros.h"

namespace ringmq::testing {
namespace {

using mqtt::PacketType;
using mqtt::Qos;

// A new client lands on a shard whose mailboxes are backlogged, and its client id belongs to
// the other shard: its Connection is handed off (and freed on this shard) inside OnData, and
// the back-pressure that follows must not touch it. (Before the fix the backlog check wrote
// `read_paused_backlog` into the freed Connection: a use after free that ASan reports.)
TEST(HandoffTest, ClientHandedOffWhileTheShardIsBacklogged) {
  SteppedBrokerOptions o;
  o.mailbox_capacity = 2;  // two envelopes fill a mailbox
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  auto sub = ConnectClient(*b, 1, SpreadId("sub", 1));
  SubscribeClient(*b, *sub, "t");
  auto pub = ConnectClient(*b, 0, SpreadId("pub", 0));

  // 1. Twenty messages for shard 1 in one read: two fit its mailbox, the rest overflow, and
  //    shard 0 is backlogged until shard 1 drains.
  std::string burst;
  for (int i = 0; i < 20; ++i) {
    burst += mqtt::EncodeToString(PublishPacket("t", "m"), mqtt::ProtocolVersion::kMqtt5);
  }
  pub->SendRaw(burst);
  b->Step(0);
  ASSERT_TRUE(b->set().shard(0).backlogged());

  // 2. A CONNECT for a session of shard 1 arrives on shard 0 while it is still backlogged.
  auto moving = b->Accept(0);
  moving->Send(ConnectPacket(SpreadId("moving", 1)));
  b->Step(0);
  ASSERT_TRUE(b->set().shard(0).backlogged());

  // 3. The client is served by shard 1, and every message reaches the subscriber.
  EXPECT_TRUE(StepUntil(*b, *moving, PacketType::kConnack).has_value());
  int received = 0;
  for (int r = 0; r < 50 && received < 20; ++r) {
    b->StepAll();
    ASSERT_OK_AND_ASSIGN(auto got, sub->Read());
    for (const ReceivedPacket& p : got) {
      received += p.type() == PacketType::kPublish;
    }
  }
  EXPECT_EQ(received, 20);
}

}  // namespace
}  // namespace ringmq::testing
