// A client whose host vanishes without a word (a phone that lost its network): with MQTT
// keep alive 0 nothing in MQTT ever notices, so the broker's TCP keep-alive probes must
// (--tcp-keepalive-*). The test runs in a network namespace of its own (unshare), where an
// nftables rule drops every packet of the client's connection, as a vanished host would.
// Needs root (CAP_NET_ADMIN) and nft; both are there in CI (scripts/setup.sh --tests).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

#include "tests/broker/broker_test_base.h"

namespace ringmq::testing {
namespace {

using mqtt::ProtocolVersion;
using mqtt::Qos;
using std::chrono::milliseconds;

uint16_t LocalPort(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    return 0;
  }
  return ntohs(a.sin_port);
}

int Shell(const std::string& cmd) {
  return std::system((cmd + " >&2").c_str());
}

class VanishedClientTest : public BrokerTest {
 protected:
  void SetUp() override {
    // Our own network namespace: the rules below touch nobody else's traffic, and the
    // broker (a child process) inherits it.
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0)
        << "unshare(CLONE_NEWNET): " << std::strerror(errno) << " (needs root)";
    ASSERT_EQ(Shell("ip link set lo up"), 0);
    ASSERT_EQ(Shell("nft --version"), 0) << "nft is missing: scripts/setup.sh --tests installs it";
  }
};

// [MQTT-3.1.2-8] the will is published when the network connection is lost; with keep alive
// 0 [MQTT-3.1.2-10 (keep alive off)] only TCP itself can tell that the client is gone.
TEST_F(VanishedClientTest, KeepAliveZeroClientWhoseHostVanishesIsDroppedAndItsWillPublished) {
  StartBroker({"--tcp-keepalive-idle=1", "--tcp-keepalive-interval=1", "--tcp-keepalive-count=2"});
  ASSERT_OK_AND_ASSIGN(auto watcher, Connect(VersionOptions(ProtocolVersion::kMqtt311)));
  ASSERT_OK(watcher->Subscribe("vanished/will", Qos::k1).status());

  ConnectOptions o = VersionOptions(ProtocolVersion::kMqtt311, "vanishing-client");
  o.keep_alive_s = 0;
  o.will = WillOptions{"vanished/will", "gone", Qos::k1, false, {}, {}};
  ASSERT_OK_AND_ASSIGN(auto victim, Connect(o));
  const uint16_t port = LocalPort(victim->fd());
  ASSERT_NE(port, 0);

  // Every packet to or from the client's port is dropped from now on.
  ASSERT_EQ(Shell("nft add table inet vanish"), 0);
  ASSERT_EQ(Shell("nft add chain inet vanish out '{ type filter hook output priority 0; }'"), 0);
  ASSERT_EQ(Shell(absl::StrFormat("nft add rule inet vanish out tcp sport %d drop", port)), 0);
  ASSERT_EQ(Shell(absl::StrFormat("nft add rule inet vanish out tcp dport %d drop", port)), 0);

  // Probes after 1 s of silence, then 2 more at 1 s intervals: gone after about 3 s.
  const Clock::time_point since = Clock::now();
  ASSERT_OK_AND_ASSIGN(ReceivedPacket will, watcher->ExpectPublish(milliseconds(15000)));
  EXPECT_EQ(will.publish().topic, "vanished/will");
  EXPECT_EQ(will.publish().payload, "gone");
  EXPECT_LT(SecondsSince(since), 10.0);
}

}  // namespace
}  // namespace ringmq::testing
