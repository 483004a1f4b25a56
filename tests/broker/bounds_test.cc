// Every state a client can create is bounded: each bound is a flag, reached here over real
// sockets, and counted in $SYS/broker/limits/<name> when hit. (Receive Maximum, queued
// messages per session, packet size, topic levels and connections are in limits_test.cc; the
// slow consumer's output buffer too.)
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

#include "core/mqtt/packets.h"
#include "tests/broker/broker_test_base.h"
#include "tests/broker/pubsub_test_util.h"
#include "tests/broker/sys_util.h"
#include "tests/testing/status_macros.h"

namespace ringmq::testing {
namespace {

using mqtt::PropertyId;
using mqtt::ProtocolVersion;
using mqtt::Qos;
using mqtt::ReasonCode;
using std::chrono::milliseconds;

class BoundsTest : public BrokerTest {
 protected:
  void SetUp() override {
    if (!is_ringmq_env()) {
      GTEST_SKIP() << "ringmq's flags";
    }
  }
  static bool is_ringmq_env() {
    absl::StatusOr<BrokerKind> k = BrokerKindFromEnv();
    return k.ok() && *k == BrokerKind::kRingmq;
  }
  // A client watching $SYS/broker/# (values arrive every --sys-interval, 1 s here).
  std::unique_ptr<MqttClient> SysWatcher() {
    auto c = Connect(V5());
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) {
      return nullptr;
    }
    EXPECT_OK(SubscribeGranted(**c, "$SYS/broker/#", Qos::k0));
    return std::move(*c);
  }
};

// Retained messages in all (--max-retained-messages; one shard here, so the partition holds
// them all): beyond the bound a new topic is not retained (the message is still delivered
// live), a replacement of a stored topic still is, and each refusal is counted.
TEST_F(BoundsTest, RetainedMessagesBounded) {
  StartBroker({"--threads", "1", "--max-retained-messages", "3", "--sys-interval", "1"});
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5()));
  PublishOptions o;
  o.qos = Qos::k1;
  o.retain = true;
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(pub->Publish("r/" + std::to_string(i), "v1", o));
  }
  ASSERT_OK(pub->Publish("r/0", "v2", o));  // a replacement: allowed
  ASSERT_OK_AND_ASSIGN(auto late, Connect(V5()));
  ASSERT_OK(SubscribeGranted(*late, "r/#", Qos::k1));
  ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*late, 3));
  std::set<std::string> topics;
  for (const ReceivedPacket& m : got) {
    topics.insert(std::string(m.publish().topic));
    if (m.publish().topic == "r/0") {
      EXPECT_EQ(m.publish().payload, "v2");
    }
  }
  EXPECT_EQ(topics, (std::set<std::string>{"r/0", "r/1", "r/2"}));
  EXPECT_OK(late->ExpectNoPacket(kQuiet));
  auto sys = SysWatcher();
  ASSERT_NE(sys, nullptr);
  EXPECT_OK(AwaitSysNumber(*sys, "$SYS/broker/limits/retained", 2));
}

// The same in bytes (--max-retained-bytes).
TEST_F(BoundsTest, RetainedBytesBounded) {
  StartBroker({"--threads", "1", "--max-retained-bytes", "3000", "--sys-interval", "1"});
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5()));
  PublishOptions o;
  o.qos = Qos::k1;
  o.retain = true;
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(pub->Publish("b/" + std::to_string(i), std::string(1000, 'x'), o));
  }
  ASSERT_OK_AND_ASSIGN(auto late, Connect(V5()));
  ASSERT_OK(SubscribeGranted(*late, "b/#", Qos::k1));
  ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*late, 2));  // about 1,100 bytes each
  EXPECT_OK(late->ExpectNoPacket(kQuiet));
  auto sys = SysWatcher();
  ASSERT_NE(sys, nullptr);
  EXPECT_OK(AwaitSysNumber(*sys, "$SYS/broker/limits/retained", 2));
}

// [MQTT-3.3.2-5] an expired retained message is removed by a periodic sweep
// (--retained-sweep-interval), not only when a subscription happens to match it: the
// retained count in $SYS drops by one after its expiry, with no subscriber to its topic.
TEST_F(BoundsTest, ExpiredRetainedMessagesAreSwept) {
  StartBroker({"--retained-sweep-interval", "1", "--sys-interval", "1"});
  auto sys = SysWatcher();
  ASSERT_NE(sys, nullptr);
  // The count once $SYS itself is all retained (a few rounds in, it no longer changes).
  ASSERT_OK(AwaitSys(
                *sys, "$SYS/broker/uptime",
                [](std::string_view v) { return LeadingNumber(v) >= 3; }, milliseconds(8000))
                .status());
  ASSERT_OK_AND_ASSIGN(std::string count,
                       AwaitSys(
                           *sys, "$SYS/broker/retained messages/count",
                           [](std::string_view) { return true; }, milliseconds(3000)));
  const int64_t before = LeadingNumber(count);
  ASSERT_GT(before, 0);
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5()));
  PublishOptions o;
  o.qos = Qos::k1;
  o.retain = true;
  o.properties.SetMessageExpiryInterval(3);
  ASSERT_OK(pub->Publish("soon/gone", "x", o));
  ASSERT_OK(AwaitSysNumber(*sys, "$SYS/broker/retained messages/count", before + 1));
  EXPECT_OK(AwaitSysNumber(*sys, "$SYS/broker/retained messages/count", before));
}

// Sessions in all (--max-sessions): one more is refused (5.0 CONNACK 0x97 Quota exceeded;
// 3.1.1 return code 3, server unavailable) and counted; resuming an existing session is not a
// new one; when a session ends there is room again.
TEST_F(BoundsTest, SessionsBounded) {
  StartBroker({"--max-sessions", "3", "--sys-interval", "1"});
  auto sys = SysWatcher();  // one session
  ASSERT_NE(sys, nullptr);
  ASSERT_OK_AND_ASSIGN(auto a, Connect(Persistent(ProtocolVersion::kMqtt5, "s-a")));
  ASSERT_OK_AND_ASSIGN(auto b, Connect(VersionOptions(ProtocolVersion::kMqtt311, "s-b")));
  for (ProtocolVersion v : {ProtocolVersion::kMqtt5, ProtocolVersion::kMqtt311}) {
    ASSERT_OK_AND_ASSIGN(auto refused, MqttClient::TryConnect(port(), VersionOptions(v)));
    ASSERT_TRUE(refused->connack().has_value());
    EXPECT_EQ(refused->connack()->reason(),
              mqtt::IsV5(v) ? ReasonCode::kQuotaExceeded : ReasonCode::kServerUnavailable);
  }
  EXPECT_OK(AwaitSysNumber(*sys, "$SYS/broker/limits/sessions", 2));
  // A takeover resumes "s-a": no new session, so it is not refused.
  ASSERT_OK_AND_ASSIGN(auto again, Connect(Persistent(ProtocolVersion::kMqtt5, "s-a")));
  EXPECT_TRUE(again->server().session_present);
  // "s-b" had a clean session: it ends with its connection, making room.
  ASSERT_OK(b->Disconnect());
  EXPECT_OK(Connect(VersionOptions(ProtocolVersion::kMqtt5)).status());
}

// Bytes queued over all sessions (--max-queued-bytes-total; one shard, so it holds all of the
// bound): an offline persistent subscriber's queue fills up to it, then messages nobody can
// take are refused (5.0 PUBACK 0x97) and counted.
TEST_F(BoundsTest, QueuedBytesOverAllSessionsBounded) {
  StartBroker({"--threads", "1", "--max-queued-bytes-total", "20000", "--sys-interval", "1"});
  for (const char* id : {"q-1", "q-2"}) {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(Persistent(ProtocolVersion::kMqtt5, id)));
    ASSERT_OK(SubscribeGranted(*c, "q/t", Qos::k1));
    c->ResetSocket();
  }
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5()));
  const std::string payload(1000, 'q');
  int accepted = 0;
  for (int i = 0; i < 30; ++i) {
    ASSERT_OK_AND_ASSIGN(PublishResult r, pub->Publish("q/t", payload, Qos::k1));
    if (r.reason() == ReasonCode::kQuotaExceeded) {
      break;
    }
    ASSERT_EQ(r.reason(), ReasonCode::kSuccess);
    ++accepted;
  }
  // Two queues of ~1.1 KB messages share 20,000 bytes: about nine messages each.
  EXPECT_GE(accepted, 8);
  EXPECT_LE(accepted, 10);
  auto sys = SysWatcher();
  ASSERT_NE(sys, nullptr);
  EXPECT_OK(AwaitSys(
                *sys, "$SYS/broker/limits/queued-bytes-total",
                [](std::string_view v) { return LeadingNumber(v) >= 1; }, milliseconds(6000))
                .status());
  EXPECT_OK(AwaitSys(
                *sys, "$SYS/broker/messages/queued bytes",
                [](std::string_view v) { return LeadingNumber(v) <= 20000; }, milliseconds(6000))
                .status());
}

// A 3.1.1 session with clean session 0 never says how long to keep it: --session-expiry-v3
// does (default 7 days, docs/configuration.md). After it, the session is gone.
TEST_F(BoundsTest, V3PersistentSessionsExpire) {
  StartBroker({"--session-expiry-v3", "1"});
  ConnectOptions o = Persistent(ProtocolVersion::kMqtt311, "v3-expiring");
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
    ASSERT_OK(c->Disconnect());
  }
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
    EXPECT_TRUE(c->server().session_present) << "expired before its time";
    ASSERT_OK(c->Disconnect());
  }
  std::this_thread::sleep_for(milliseconds(1600));  // the expiry itself is what is tested
  ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
  EXPECT_FALSE(c->server().session_present);
}

// Subscriptions per session (--max-subscriptions-per-session): a new filter beyond it is
// refused (5.0 0x97, 3.1.1 0x80) and counted; replacing one is not a new one; unsubscribing
// makes room.
TEST_F(BoundsTest, SubscriptionsPerSessionBounded) {
  StartBroker({"--max-subscriptions-per-session", "2", "--sys-interval", "1"});
  for (ProtocolVersion v : {ProtocolVersion::kMqtt5, ProtocolVersion::kMqtt311}) {
    SCOPED_TRACE(mqtt::ProtocolVersionName(v));
    ASSERT_OK_AND_ASSIGN(auto c, Connect(VersionOptions(v)));
    ASSERT_OK(SubscribeGranted(*c, "a", Qos::k1));
    ASSERT_OK(SubscribeGranted(*c, "b", Qos::k1));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket ack, c->Subscribe("c", Qos::k1));
    EXPECT_EQ(SubackCodes(ack),
              std::vector<ReasonCode>{mqtt::IsV5(v) ? ReasonCode::kQuotaExceeded
                                                    : ReasonCode::kUnspecifiedError});
    ASSERT_OK(SubscribeGranted(*c, "a", Qos::k2));  // a replacement
    ASSERT_OK(c->Unsubscribe({"b"}));
    ASSERT_OK(SubscribeGranted(*c, "c", Qos::k1));
  }
  auto sys = SysWatcher();
  ASSERT_NE(sys, nullptr);
  EXPECT_OK(AwaitSysNumber(*sys, "$SYS/broker/limits/subscriptions-per-session", 2));
}

// Filters per SUBSCRIBE (--max-filters-per-subscribe): the filters beyond it are refused,
// each with its own code in order [MQTT-3.9.3-1], and counted.
TEST_F(BoundsTest, FiltersPerSubscribeBounded) {
  StartBroker({"--max-filters-per-subscribe", "2", "--sys-interval", "1"});
  ASSERT_OK_AND_ASSIGN(auto c, Connect(V5()));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket ack,
                       c->Subscribe({Entry("f/1", Qos::k1), Entry("f/2", Qos::k0),
                                     Entry("f/3", Qos::k1), Entry("f/4", Qos::k2)}));
  EXPECT_EQ(SubackCodes(ack),
            (std::vector<ReasonCode>{ReasonCode::kGrantedQos1, ReasonCode::kSuccess,
                                     ReasonCode::kQuotaExceeded, ReasonCode::kQuotaExceeded}));
  auto sys = SysWatcher();
  ASSERT_NE(sys, nullptr);
  EXPECT_OK(AwaitSysNumber(*sys, "$SYS/broker/limits/filters-per-subscribe", 2));
}

// The outbound topic-alias table of a connection is bounded in bytes of topic text
// (--max-topic-alias-bytes), not only by the client's Topic Alias Maximum: once full, new
// topics go out without an alias (known ones keep theirs), and it is counted.
TEST_F(BoundsTest, OutboundTopicAliasTableBoundedInBytes) {
  StartBroker({"--max-topic-alias-bytes", "20", "--sys-interval", "1"});
  ConnectOptions o = V5();
  o.properties.SetTopicAliasMaximum(100);
  ASSERT_OK_AND_ASSIGN(auto sub, Connect(o));
  ASSERT_OK(SubscribeGranted(*sub, "alias/#", Qos::k0));
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(V5()));
  const std::vector<std::string> topics = {"alias/aaaa", "alias/bbbb", "alias/cccc"};  // 10 each
  for (const std::string& t : topics) {
    ASSERT_OK(pub->Publish(t, "m", Qos::k1));
  }
  ASSERT_OK(pub->Publish("alias/aaaa", "again", Qos::k1));
  ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*sub, 4));
  EXPECT_TRUE(got[0].publish().properties.Has(PropertyId::kTopicAlias)) << got[0];
  EXPECT_TRUE(got[1].publish().properties.Has(PropertyId::kTopicAlias)) << got[1];
  EXPECT_FALSE(got[2].publish().properties.Has(PropertyId::kTopicAlias)) << got[2];
  EXPECT_TRUE(got[3].wire_topic().empty()) << "a known topic keeps its alias: " << got[3];
  auto sys = SysWatcher();
  ASSERT_NE(sys, nullptr);
  EXPECT_OK(AwaitSys(
                *sys, "$SYS/broker/limits/topic-alias-bytes",
                [](std::string_view v) { return LeadingNumber(v) >= 1; }, milliseconds(6000))
                .status());
}

}  // namespace
}  // namespace ringmq::testing
