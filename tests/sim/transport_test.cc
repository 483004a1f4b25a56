// The transport seam (core/net/transport.h) with a test double (FramingTransport: a handshake,
// then records of random sizes in both directions): every MQTT behaviour over it is the
// same, the handshake completes before the first MQTT byte, and a connection keeps its
// transport, in the state it is in, when it moves to its session's home shard.
#include <fcntl.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "tests/sim/sim_test_util.h"
#include "tests/testing/status_macros.h"

namespace ringmq::testing {
namespace {

using mqtt::PacketType;
using mqtt::Qos;

std::vector<std::string> Collect(SteppedBroker& b, SimClient& c, size_t n) {
  std::vector<std::string> got;
  for (int r = 0; r < 200 && got.size() < n; ++r) {
    b.StepAll();
    auto packets = c.Read();
    EXPECT_TRUE(packets.ok()) << packets.status();
    if (!packets.ok()) {
      break;
    }
    for (const ReceivedPacket& p : *packets) {
      if (p.type() == PacketType::kPublish) {
        got.emplace_back(p.publish().payload);
      }
    }
  }
  return got;
}

// Clients on both shards, each CONNECT landing on the shard that is not its session's (so
// every connection moves, with its transport), publish at every QoS, a retained message and
// one far larger than a record; each subscriber gets everything, in order, intact.
TEST(TransportTest, EverythingWorksOverAFramingTransportAcrossHandOffs) {
  SteppedBrokerOptions o;
  o.framing = true;
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  auto sub0 = ConnectClient(*b, 1, SpreadId("sub", 0));  // moves to shard 0
  auto sub1 = ConnectClient(*b, 0, SpreadId("sub", 1));  // moves to shard 1
  SubscribeClient(*b, *sub0, "x/#", Qos::k2);
  SubscribeClient(*b, *sub1, "x/#", Qos::k2);
  auto pub = ConnectClient(*b, 1, SpreadId("pub", 0));
  const std::string big(50'000, 'b');
  std::vector<std::string> want;
  uint16_t id = 1;
  for (Qos qos : {Qos::k0, Qos::k1, Qos::k2}) {
    for (int i = 0; i < 5; ++i) {
      const std::string payload = std::to_string(static_cast<int>(qos)) + "-" + std::to_string(i);
      pub->Send(PublishPacket("x/t", payload, qos, qos == Qos::k0 ? 0 : id++));
      want.push_back(payload);
    }
  }
  pub->Send(PublishPacket("x/big", big, Qos::k1, id++));
  want.push_back(big);
  for (SimClient* s : {sub0.get(), sub1.get()}) {
    std::vector<std::string> got = Collect(*b, *s, want.size());
    EXPECT_EQ(got, want);
  }
  mqtt::Publish retained = PublishPacket("x/r", "kept", Qos::k1, id++);
  retained.retain = true;
  pub->Send(retained);
  b->StepAll(5);
  auto late = ConnectClient(*b, 0, SpreadId("late", 1));
  mqtt::Subscribe s;
  s.packet_id = 1;
  s.subscriptions.push_back({"x/r", {}});
  late->Send(s);
  std::vector<ReceivedPacket> with_suback;
  ASSERT_TRUE(StepUntil(*b, *late, PacketType::kSuback, &with_suback).has_value());
  std::vector<std::string> r = Collect(*b, *late, with_suback.empty() ? 1 : 0);
  if (!with_suback.empty()) {
    r.emplace_back(with_suback[0].publish().payload);
  }
  EXPECT_EQ(r, std::vector<std::string>{"kept"});
}

// Nothing of MQTT passes before the handshake: a client that sends a CONNECT where the hello
// belongs is closed, and never gets a CONNACK.
TEST(TransportTest, NoMqttByteBeforeTheHandshake) {
  SteppedBrokerOptions o;
  o.framing = true;
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  int p[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), 0);
  ::fcntl(p[0], F_SETFL, ::fcntl(p[0], F_GETFL) | O_NONBLOCK);
  b->set().shard(0).AdoptForTest(p[0]);
  SimClient raw(p[1], mqtt::ProtocolVersion::kMqtt5);  // no framing: talks MQTT at once
  const std::string id = SpreadId("eager", 0);
  raw.Send(ConnectPacket(id));
  b->StepAll(5);
  ASSERT_OK_AND_ASSIGN(auto got, raw.Read());
  EXPECT_TRUE(got.empty());
  EXPECT_TRUE(raw.closed());
}

}  // namespace
}  // namespace ringmq::testing
