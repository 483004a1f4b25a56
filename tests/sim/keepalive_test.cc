// Keep alive with a fake clock: what counts as hearing from the client, and time during which
// the broker itself does not read from it.
#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "tests/sim/sim_test_util.h"
#include "tests/testing/status_macros.h"

namespace ringmq::testing {
namespace {

using mqtt::PacketType;
using mqtt::ReasonCode;

// [MQTT-3.1.2-22] keep alive is about Control Packets: a client that trickles one byte of a
// PUBLISH every half second, never completing it, is silent; the broker ends it 1.5 keep
// alive periods after its last complete packet (5.0: DISCONNECT 0x8D). (Any byte used to
// reset the clock, so such a client held its connection for ever.)
TEST(KeepAliveSimTest, TricklingBytesWithoutAPacketIsSilence) {
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start());
  auto c = b->Accept(0);
  const std::string id = SpreadId("trickle", 0);
  mqtt::Connect connect = ConnectPacket(id);
  connect.keep_alive_s = 1;
  c->Send(connect);
  ASSERT_TRUE(StepUntil(*b, *c, PacketType::kConnack).has_value());
  const std::string publish = mqtt::EncodeToString(PublishPacket("t", std::string(100, 'x')),
                                                   mqtt::ProtocolVersion::kMqtt5);
  std::vector<ReceivedPacket> seen;
  for (int i = 0; i < 10 && !c->closed(); ++i) {
    c->SendRaw(publish.substr(i, 1));
    b->clock().AdvanceMs(500);
    b->StepAll(2);
    ASSERT_OK_AND_ASSIGN(auto got, c->Read());
    seen.insert(seen.end(), got.begin(), got.end());
    if (c->closed()) {
      // Closed once 1.5 s passed without a packet: at 1.5 s (step 3), not before.
      EXPECT_GE(i, 2) << "closed after " << (i + 1) * 500 << " ms";
      EXPECT_LE(i, 3) << "closed after " << (i + 1) * 500 << " ms";
    }
  }
  EXPECT_TRUE(c->closed()) << "a client that never completes a packet kept its connection";
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].type(), PacketType::kDisconnect);
  EXPECT_EQ(seen[0].reason(), ReasonCode::kKeepAliveTimeout);
}

// A slow consumer (it reads, but less than it is sent) makes the broker stop reading from it
// (output congestion). It keeps sending PINGREQ every keep alive period; the broker reads
// them only once its output drains. Time during which the broker refused to read is not the
// client's silence: it is not disconnected. (It used to get DISCONNECT 0x8D, and its will.)
TEST(KeepAliveSimTest, TimeTheBrokerDidNotReadIsNotCharged) {
  SteppedBrokerOptions o;
  o.output_high_watermark = 64 << 10;
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  auto slow = b->Accept(0);
  const std::string id = SpreadId("slow", 0);
  mqtt::Connect connect = ConnectPacket(id);
  connect.keep_alive_s = 2;
  slow->Send(connect);
  ASSERT_TRUE(StepUntil(*b, *slow, PacketType::kConnack).has_value());
  SubscribeClient(*b, *slow, "flood");
  auto pub = ConnectClient(*b, 0, SpreadId("pub", 0));

  // Enough to fill the socket and keep the broker's output above its watermark for a while.
  const std::string payload(32 << 10, 'p');
  for (int i = 0; i < 16; ++i) {
    pub->Send(PublishPacket("flood", payload));
    b->StepAll();
  }
  std::vector<ReceivedPacket> seen;
  for (int second = 0; second < 8; ++second) {
    slow->Send(mqtt::Pingreq{});
    b->clock().AdvanceMs(1000);
    b->StepAll(2);
    ASSERT_OK_AND_ASSIGN(auto got, slow->Read(8 << 10));  // a slow reader
    seen.insert(seen.end(), got.begin(), got.end());
  }
  for (int r = 0; r < 50; ++r) {
    b->StepAll();
    ASSERT_OK_AND_ASSIGN(auto got, slow->Read());
    seen.insert(seen.end(), got.begin(), got.end());
  }
  int pingresps = 0;
  for (const ReceivedPacket& p : seen) {
    EXPECT_NE(p.type(), PacketType::kDisconnect) << p;
    pingresps += p.type() == PacketType::kPingresp;
  }
  EXPECT_FALSE(slow->closed());
  EXPECT_EQ(pingresps, 8);
}

}  // namespace
}  // namespace ringmq::testing
