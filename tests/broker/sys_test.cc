// Broker integration tests: the $SYS topics ringmq publishes (retained, every --sys-interval
// seconds, by shard 0 from every shard's counters). Run with --sys-interval 1. $SYS is not in
// the MQTT specifications beyond [MQTT-4.7.2-1] (leading wildcards do not match '$' topics);
// the topics and their meaning are ringmq's (core/broker/sys.cc), in the style of mosquitto's.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"

#include "core/mqtt/packets.h"
#include "tests/broker/broker_test_base.h"
#include "tests/broker/pubsub_test_util.h"
#include "tests/broker/sys_util.h"
#include "tests/testing/mqtt_client.h"
#include "tests/testing/status_macros.h"

namespace ringmq::testing {
namespace {

using mqtt::ProtocolVersion;
using mqtt::Qos;
using std::chrono::seconds;

// Long enough for a few $SYS rounds at --sys-interval 1.
constexpr milliseconds kSysWait{6000};

class SysTest : public BrokerVersionTest {
 protected:
  void SetUp() override {
    if (!is_ringmq_env()) {
      GTEST_SKIP() << "$SYS topics are ringmq's";
    }
    StartBroker({"--sys-interval", "1"});
  }
  static bool is_ringmq_env() {
    absl::StatusOr<BrokerKind> k = BrokerKindFromEnv();
    return k.ok() && *k == BrokerKind::kRingmq;
  }

  // Reads `c` until `topic` arrives with a value for which `pred` holds (sys_util.h), and
  // records every value seen in `last_`.
  absl::StatusOr<std::string> AwaitSys(MqttClient& c, std::string_view topic,
                                       const std::function<bool(std::string_view)>& pred,
                                       milliseconds timeout = kSysWait) {
    return testing::AwaitSys(c, topic, pred, timeout, &last_);
  }

  std::map<std::string, std::string> last_;
};

INSTANTIATE_TEST_SUITE_P(Versions, SysTest,
                         ::testing::Values(ProtocolVersion::kMqtt311, ProtocolVersion::kMqtt5),
                         VersionName);

// The $SYS topics are published periodically as retained messages: a subscription made after
// the first round gets them at once with RETAIN 1 (then refreshed every interval), and only
// through filters naming $SYS [MQTT-4.7.2-1].
TEST_P(SysTest, TopicsPublishedAsRetained) {
  ASSERT_OK_AND_ASSIGN(auto first, Connect(VersionOptions(GetParam(), SpreadId("sub", 0))));
  ASSERT_OK_AND_ASSIGN(auto everything, Connect(VersionOptions(GetParam(), SpreadId("sub", 1))));
  ASSERT_OK(SubscribeGranted(*everything, "#", Qos::k0));
  ASSERT_OK(SubscribeGranted(*first, "$SYS/#", Qos::k0));
  ASSERT_OK(AwaitSys(*first, "$SYS/broker/uptime", [](std::string_view) { return true; }));

  ASSERT_OK_AND_ASSIGN(auto late, Connect(VersionOptions(GetParam(), SpreadId("sub", 2))));
  ASSERT_OK(SubscribeGranted(*late, "$SYS/broker/+", Qos::k0));
  // The retained ones come first, each with RETAIN 1; collect until quiet.
  std::map<std::string, std::string> retained;
  for (;;) {
    absl::StatusOr<ReceivedPacket> p = late->ExpectPublish(milliseconds(200));
    if (absl::IsDeadlineExceeded(p.status())) {
      break;
    }
    ASSERT_OK(p);
    if (!p->publish().retain) {
      break;  // the next periodic round
    }
    retained[std::string(p->publish().topic)] = std::string(p->publish().payload);
  }
  for (const char* t : {"$SYS/broker/uptime", "$SYS/broker/version", "$SYS/broker/shards"}) {
    EXPECT_TRUE(retained.contains(t)) << t;
  }
  EXPECT_EQ(retained["$SYS/broker/shards"], "2");
  EXPECT_TRUE(retained["$SYS/broker/version"].starts_with("ringmq"))
      << retained["$SYS/broker/version"];
  EXPECT_GE(LeadingNumber(retained["$SYS/broker/uptime"]), 0);
  // Periodic: uptime advances.
  const int64_t up = LeadingNumber(retained["$SYS/broker/uptime"]);
  ASSERT_OK(AwaitSys(*late, "$SYS/broker/uptime",
                     [up](std::string_view v) { return LeadingNumber(v) > up; }));
  EXPECT_OK(everything->ExpectNoPacket(kQuiet));
}

// The counters follow activity: clients/connected counts the connected clients of both shards
// (and drops when they leave), the per-shard client counts add up to it, messages/received
// grows by the messages published, messages/sent by the messages delivered,
// subscriptions/count by the subscriptions made, retained messages/count by the retained
// messages stored.
TEST_P(SysTest, CountersReflectActivity) {
  ASSERT_OK_AND_ASSIGN(auto sys, Connect(VersionOptions(GetParam(), SpreadId("sys", 0))));
  ASSERT_OK(SubscribeGranted(*sys, "$SYS/#", Qos::k0));
  auto number = [](int64_t want) {
    return [want](std::string_view v) { return LeadingNumber(v) == want; };
  };
  // Baselines from the second round on: by then the first round's retained $SYS messages are
  // stored and counted.
  ASSERT_OK_AND_ASSIGN(std::string up0,
                       AwaitSys(*sys, "$SYS/broker/uptime", [](std::string_view) { return true; }));
  ASSERT_OK(AwaitSys(*sys, "$SYS/broker/uptime",
                     [&](std::string_view v) { return LeadingNumber(v) > LeadingNumber(up0); }));
  ASSERT_OK(AwaitSys(*sys, "$SYS/broker/clients/connected", number(1)));
  ASSERT_OK(AwaitSys(*sys, "$SYS/broker/subscriptions/count", number(1)));
  ASSERT_OK_AND_ASSIGN(std::string received0, AwaitSys(*sys, "$SYS/broker/messages/received",
                                                       [](std::string_view) { return true; }));
  ASSERT_OK_AND_ASSIGN(std::string sent0, AwaitSys(*sys, "$SYS/broker/messages/sent",
                                                   [](std::string_view) { return true; }));
  ASSERT_OK_AND_ASSIGN(std::string retained0, AwaitSys(*sys, "$SYS/broker/retained messages/count",
                                                       [](std::string_view) { return true; }));

  // 6 more clients over both shards, 3 subscribed; 10 messages, 2 of them retained.
  ASSERT_OK_AND_ASSIGN(auto clients,
                       ConnectAll(port(), SpreadIds("c", 6), VersionOptions(GetParam())));
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(SubscribeGranted(*clients[i], "act/t", Qos::k1));
  }
  for (int i = 0; i < 10; ++i) {
    PublishOptions o;
    o.qos = Qos::k1;
    o.retain = i < 2;
    ASSERT_OK(clients[3 + i % 3]->Publish(i < 2 ? absl::StrFormat("act/r%d", i) : "act/t", "m", o));
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(ExpectPublishes(*clients[i], 8));
  }
  ASSERT_OK(AwaitSys(*sys, "$SYS/broker/clients/connected", number(7)));
  ASSERT_OK(AwaitSys(*sys, "$SYS/broker/subscriptions/count", number(4)));
  ASSERT_OK(AwaitSys(*sys, "$SYS/broker/messages/received", number(LeadingNumber(received0) + 10)));
  // At least the 24 deliveries to the subscribers (plus the $SYS messages themselves).
  ASSERT_OK(AwaitSys(*sys, "$SYS/broker/messages/sent", [&](std::string_view v) {
    return LeadingNumber(v) >= LeadingNumber(sent0) + 24;
  }));
  ASSERT_OK(
      AwaitSys(*sys, "$SYS/broker/retained messages/count", number(LeadingNumber(retained0) + 2)));
  // Per shard: the two clients counts add up to the total.
  ASSERT_OK(
      AwaitSys(*sys, "$SYS/broker/load/shard/1/clients", [](std::string_view) { return true; }));
  ASSERT_OK(
      AwaitSys(*sys, "$SYS/broker/load/shard/0/clients", [](std::string_view) { return true; }));
  ASSERT_OK(
      AwaitSys(*sys, "$SYS/broker/load/shard/1/clients", [](std::string_view) { return true; }));
  EXPECT_EQ(LeadingNumber(last_["$SYS/broker/load/shard/0/clients"]) +
                LeadingNumber(last_["$SYS/broker/load/shard/1/clients"]),
            7);
  EXPECT_GT(LeadingNumber(last_["$SYS/broker/load/shard/0/clients"]), 0);
  EXPECT_GT(LeadingNumber(last_["$SYS/broker/load/shard/1/clients"]), 0);

  for (auto& c : clients) {
    ASSERT_OK(c->Disconnect());
  }
  ASSERT_OK(AwaitSys(*sys, "$SYS/broker/clients/connected", number(1)));
  ASSERT_OK(AwaitSys(*sys, "$SYS/broker/subscriptions/count", number(1)));
}

// [MQTT-3.3.2-5] a retained message whose Message Expiry Interval has passed is not sent to
// a new subscription; it is then gone from the store, and retained messages/count says so.
TEST_P(SysTest, ExpiredRetainedMessageLeavesTheCount) {
  if (!mqtt::IsV5(GetParam())) {
    GTEST_SKIP() << "Message Expiry Interval is 5.0";
  }
  ASSERT_OK_AND_ASSIGN(auto sys, Connect(VersionOptions(GetParam(), SpreadId("sys", 0))));
  ASSERT_OK(SubscribeGranted(*sys, "$SYS/#", Qos::k0));
  // The baseline from the second round on: by then the first round's retained $SYS messages
  // are stored and counted.
  ASSERT_OK_AND_ASSIGN(std::string up0,
                       AwaitSys(*sys, "$SYS/broker/uptime", [](std::string_view) { return true; }));
  ASSERT_OK(AwaitSys(*sys, "$SYS/broker/uptime",
                     [&](std::string_view v) { return LeadingNumber(v) > LeadingNumber(up0); }));
  ASSERT_OK_AND_ASSIGN(std::string before, AwaitSys(*sys, "$SYS/broker/retained messages/count",
                                                    [](std::string_view) { return true; }));
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(VersionOptions(GetParam(), SpreadId("pub", 1))));
  PublishOptions o;
  o.qos = Qos::k1;
  o.retain = true;
  o.properties.SetMessageExpiryInterval(1);
  ASSERT_OK(pub->Publish("exp/r", "soon gone", o));
  ASSERT_OK(AwaitSys(*sys, "$SYS/broker/retained messages/count", [&](std::string_view v) {
    return LeadingNumber(v) == LeadingNumber(before) + 1;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // the subject: expiry passes
  ASSERT_OK_AND_ASSIGN(auto late, Connect(VersionOptions(GetParam(), SpreadId("late", 0))));
  ASSERT_OK(SubscribeGranted(*late, "exp/#", Qos::k1));
  EXPECT_OK(late->ExpectNoPacket(kQuiet));
  ASSERT_OK(AwaitSys(*sys, "$SYS/broker/retained messages/count", [&](std::string_view v) {
    return LeadingNumber(v) == LeadingNumber(before);
  }));
}

}  // namespace
}  // namespace ringmq::testing
