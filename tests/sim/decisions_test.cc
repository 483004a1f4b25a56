// The decision port (core/broker/hooks.h) with test doubles: a decider that refuses, one that
// answers later from another thread, one that never answers; and an observer of message
// events. Proven here before the plugin host (its real user) exists.
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

#include "core/broker/hooks.h"
#include "tests/sim/sim_test_util.h"
#include "tests/testing/status_macros.h"

namespace ringmq::testing {
namespace {

using broker::Decision;
using mqtt::PacketType;
using mqtt::ProtocolVersion;
using mqtt::Qos;
using mqtt::ReasonCode;

// Refuses what it is told to (by client id prefix, topic prefix, filter prefix).
class Refuser final : public broker::BrokerHooks {
 public:
  std::string deny_client = "\x01";  // never, unless set
  std::string deny_topic = "\x01";
  std::string deny_filter = "\x01";
  Decision OnConnect(const broker::ConnectRequest& r, uint64_t) override {
    return r.client.client_id.starts_with(deny_client) ? Decision::Deny() : Decision::Allow();
  }
  Decision OnPublish(const broker::PublishRequest& r, uint64_t) override {
    return r.topic.starts_with(deny_topic) ? Decision::Deny() : Decision::Allow();
  }
  Decision OnSubscribe(const broker::SubscribeRequest& r, uint64_t) override {
    return r.filter.starts_with(deny_filter) ? Decision::Deny() : Decision::Allow();
  }
};

// Answers every decision about one client later (Pending), keeping the tickets.
class Deferrer final : public broker::BrokerHooks {
 public:
  explicit Deferrer(std::string client) : client_(std::move(client)) {}
  Decision OnConnect(const broker::ConnectRequest& r, uint64_t t) override {
    return Maybe(r.client, t);
  }
  Decision OnPublish(const broker::PublishRequest& r, uint64_t t) override {
    return Maybe(r.client, t);
  }
  Decision OnSubscribe(const broker::SubscribeRequest& r, uint64_t t) override {
    return Maybe(r.client, t);
  }
  std::vector<uint64_t> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(tickets_, {});
  }
  bool connect_pending = true;  // also CONNECTs (else they are allowed at once)

 private:
  Decision Maybe(const broker::ClientInfo& c, uint64_t t) {
    if (c.client_id != client_) {
      return Decision::Allow();
    }
    std::lock_guard<std::mutex> lock(mu_);
    tickets_.push_back(t);
    return Decision::Pending();
  }
  std::string client_;
  std::mutex mu_;
  std::vector<uint64_t> tickets_;
};

mqtt::Connect V(const std::string& id, ProtocolVersion v) {
  return ConnectPacket(id, v);
}

// A CONNECT refused by the decider: 5.0 CONNACK 0x87 Not authorized, 3.1.1 return code 5.
TEST(DecisionsTest, RefusedConnect) {
  Refuser hooks;
  hooks.deny_client = "mallory";
  SteppedBrokerOptions o;
  o.hooks = &hooks;
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  for (ProtocolVersion v : {ProtocolVersion::kMqtt5, ProtocolVersion::kMqtt311}) {
    const std::string id = SpreadId("mallory", 1);
    auto c = b->Accept(0, v);
    c->Send(V(id, v));
    auto ack = StepUntil(*b, *c, PacketType::kConnack);
    ASSERT_TRUE(ack.has_value());
    EXPECT_EQ(ack->reason(), ReasonCode::kNotAuthorized);
    b->StepAll(3);
    ASSERT_OK(c->Read().status());
    EXPECT_TRUE(c->closed());
  }
}

// A refused PUBLISH is not delivered (5.0 PUBACK 0x87; 3.1.1 a plain PUBACK); a refused filter
// gets 0x87 (3.1.1 0x80) in its SUBACK; a will the decider refuses refuses its CONNECT.
TEST(DecisionsTest, RefusedPublishSubscribeAndWill) {
  Refuser hooks;
  hooks.deny_topic = "secret/";
  hooks.deny_filter = "secret/";
  SteppedBrokerOptions o;
  o.hooks = &hooks;
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  auto watcher = ConnectClient(*b, 1, SpreadId("watcher", 1));
  SubscribeClient(*b, *watcher, "#", Qos::k1);
  for (ProtocolVersion v : {ProtocolVersion::kMqtt5, ProtocolVersion::kMqtt311}) {
    SCOPED_TRACE(mqtt::ProtocolVersionName(v));
    auto c = ConnectClient(*b, 0, SpreadId(mqtt::IsV5(v) ? "pub5" : "pub3", 0), v);
    c->Send(PublishPacket("secret/plans", "x", Qos::k1, 1));
    auto ack = StepUntil(*b, *c, PacketType::kPuback);
    ASSERT_TRUE(ack.has_value());
    if (mqtt::IsV5(v)) {
      EXPECT_EQ(ack->reason(), ReasonCode::kNotAuthorized);
    }
    mqtt::Subscribe s;
    s.packet_id = 2;
    s.subscriptions.push_back({"public/#", {}});
    s.subscriptions.push_back({"secret/#", {}});
    c->Send(s);
    auto suback = StepUntil(*b, *c, PacketType::kSuback);
    ASSERT_TRUE(suback.has_value());
    EXPECT_EQ(suback->As<mqtt::Suback>().reasons[0], ReasonCode::kSuccess);
    EXPECT_EQ(suback->As<mqtt::Suback>().reasons[1],
              mqtt::IsV5(v) ? ReasonCode::kNotAuthorized : ReasonCode::kUnspecifiedError);
  }
  b->StepAll(5);
  ASSERT_OK_AND_ASSIGN(auto seen, watcher->Read());
  for (const ReceivedPacket& p : seen) {
    ADD_FAILURE() << "delivered although refused: " << p;
  }
  // The will is a PUBLISH of its client's, decided with the CONNECT.
  const std::string id = SpreadId("will", 0);
  mqtt::Connect with_will = V(id, ProtocolVersion::kMqtt5);
  with_will.will = mqtt::Will{"secret/will", "bye", Qos::k0, false, {}};
  auto w = b->Accept(0);
  w->Send(with_will);
  auto ack = StepUntil(*b, *w, PacketType::kConnack);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->reason(), ReasonCode::kNotAuthorized);
}

// Decisions that take time: a client whose PUBLISHes each wait for an answer made on another
// thread. Its packets take effect in the order sent (A before B, and both acknowledged in
// order), while another client on the same shard is served meanwhile.
TEST(DecisionsTest, PendingDecisionsKeepOrderAndBlockNobodyElse) {
  const std::string slow_id = SpreadId("slow", 0);
  Deferrer hooks(slow_id);
  SteppedBrokerOptions o;
  o.hooks = &hooks;
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  auto sub = ConnectClient(*b, 1, SpreadId("sub", 1));
  SubscribeClient(*b, *sub, "t/#", Qos::k1);
  auto slow = b->Accept(0);
  slow->Send(V(slow_id, ProtocolVersion::kMqtt5));
  b->StepAll(3);
  for (uint64_t t : hooks.Take()) {  // the CONNECT, answered at once here
    b->completer().Complete(t, Decision::Allow());
  }
  ASSERT_TRUE(StepUntil(*b, *slow, PacketType::kConnack).has_value());
  auto fast = ConnectClient(*b, 0, SpreadId("fast", 0));

  slow->Send(PublishPacket("t/a", "A", Qos::k1, 1));
  slow->Send(PublishPacket("t/b", "B", Qos::k1, 2));
  b->StepAll(3);
  fast->Send(PublishPacket("t/c", "C", Qos::k1, 1));  // while A waits
  std::vector<std::string> got;
  for (int r = 0; r < 20 && got.empty(); ++r) {
    b->StepAll();
    ASSERT_OK_AND_ASSIGN(auto packets, sub->Read());
    for (const ReceivedPacket& p : packets) {
      if (p.type() == PacketType::kPublish) {
        got.emplace_back(p.publish().payload);
      }
    }
  }
  EXPECT_EQ(got, std::vector<std::string>{"C"}) << "the fast client waited for the slow one";
  // Answers come from another thread, some time later, one decision at a time.
  std::vector<uint16_t> acks;
  for (int r = 0; r < 200 && (got.size() < 3 || acks.size() < 2); ++r) {
    std::vector<uint64_t> tickets = hooks.Take();
    std::thread answer([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      for (uint64_t t : tickets) {
        b->completer().Complete(t, Decision::Allow());
      }
    });
    answer.join();
    b->StepAll(2);
    ASSERT_OK_AND_ASSIGN(auto packets, sub->Read());
    for (const ReceivedPacket& p : packets) {
      if (p.type() == PacketType::kPublish) {
        got.emplace_back(p.publish().payload);
      }
    }
    ASSERT_OK_AND_ASSIGN(auto mine, slow->Read());
    for (const ReceivedPacket& p : mine) {
      if (p.type() == PacketType::kPuback) {
        acks.push_back(p.As<mqtt::Puback>().packet_id);
      }
    }
  }
  EXPECT_EQ(got, (std::vector<std::string>{"C", "A", "B"}));
  EXPECT_EQ(acks, (std::vector<uint16_t>{1, 2}));
}

// A decision never answered is a refusal once decision_timeout_ms passes (CONNECT: 5.0 CONNACK
// 0x88 Server unavailable); the answer that comes after that is counted and dropped.
TEST(DecisionsTest, UnansweredDecisionTimesOutAndLateAnswerIsCounted) {
  const std::string id = SpreadId("never", 0);
  Deferrer hooks(id);
  SteppedBrokerOptions o;
  o.hooks = &hooks;
  o.config.decision_timeout_ms = 2000;
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  auto c = b->Accept(0);
  c->Send(V(id, ProtocolVersion::kMqtt5));
  b->StepAll(3);
  std::vector<uint64_t> tickets = hooks.Take();
  ASSERT_EQ(tickets.size(), 1u);
  b->clock().AdvanceMs(1000);
  b->StepAll(2);
  ASSERT_OK_AND_ASSIGN(auto early, c->Read());
  EXPECT_TRUE(early.empty()) << "refused before its deadline";
  b->clock().AdvanceMs(1100);
  auto ack = StepUntil(*b, *c, PacketType::kConnack);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->reason(), ReasonCode::kServerUnavailable);
  EXPECT_EQ(b->counters(0).decision_timeouts.load(), 1u);
  b->completer().Complete(tickets[0], Decision::Allow());
  b->StepAll(3);
  EXPECT_EQ(b->counters(0).late_decisions.load(), 1u);
  // Both are reported under $SYS/broker/limits/ (retained, republished every interval).
  b->clock().AdvanceMs(int64_t{o.config.sys_interval_s} * 1000);
  b->StepAll(3);
  const std::string watcher_id = SpreadId("watcher", 0);
  auto watcher = ConnectClient(*b, 0, watcher_id);
  mqtt::Subscribe sub;
  sub.packet_id = 1;
  sub.subscriptions.push_back({.filter = "$SYS/broker/limits/#"});
  watcher->Send(sub);
  std::vector<ReceivedPacket> got;
  ASSERT_TRUE(StepUntil(*b, *watcher, PacketType::kSuback, &got).has_value());
  for (int round = 0; round < 20; ++round) {
    b->StepAll();
    ASSERT_OK_AND_ASSIGN(auto more, watcher->Read());
    got.insert(got.end(), more.begin(), more.end());
  }
  std::map<std::string, std::string> limits;
  for (const ReceivedPacket& p : got) {
    if (p.type() == PacketType::kPublish) {
      limits[std::string(p.publish().topic)] = std::string(p.publish().payload);
    }
  }
  EXPECT_EQ(limits["$SYS/broker/limits/decision-timeouts"], "1");
  EXPECT_EQ(limits["$SYS/broker/limits/late-decisions"], "1");
}

// Message events, each from one place: published once per message, delivered once per copy
// written, dropped once per copy that could not be (a QoS 0 message for a session whose client
// is away).
class Recorder final : public broker::BrokerHooks {
 public:
  void OnMessagePublished(const broker::MessageEvent& e) override {
    if (!e.message.topic().starts_with("$SYS")) {
      ++published;
    }
  }
  void OnMessageDelivered(const broker::MessageEvent&) override { ++delivered; }
  void OnMessageDropped(const broker::MessageEvent&, broker::DropReason why) override {
    dropped_offline += why == broker::DropReason::kOffline;
  }
  std::atomic<int> published{0};
  std::atomic<int> delivered{0};
  std::atomic<int> dropped_offline{0};
};

TEST(DecisionsTest, MessageEventsComeOncePerMessageAndCopy) {
  Recorder hooks;
  SteppedBrokerOptions o;
  o.hooks = &hooks;
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  auto s0 = ConnectClient(*b, 0, SpreadId("s", 0));
  auto s1 = ConnectClient(*b, 1, SpreadId("s", 1));
  SubscribeClient(*b, *s0, "e/#", Qos::k1);
  SubscribeClient(*b, *s1, "e/#", Qos::k1);
  // An away session with a subscription: QoS 0 for it is dropped.
  const std::string away_id = SpreadId("away", 1);
  mqtt::Connect away = V(away_id, ProtocolVersion::kMqtt5);
  away.clean_start = false;
  away.properties.SetSessionExpiryInterval(300);
  auto a = b->Accept(1);
  a->Send(away);
  ASSERT_TRUE(StepUntil(*b, *a, PacketType::kConnack).has_value());
  SubscribeClient(*b, *a, "e/#", Qos::k0);
  a->Close();
  b->StepAll(3);
  auto pub = ConnectClient(*b, 0, SpreadId("pub", 0));
  pub->Send(PublishPacket("e/1", "x", Qos::k1, 1));
  ASSERT_TRUE(StepUntil(*b, *pub, PacketType::kPuback).has_value());
  b->StepAll(3);
  EXPECT_EQ(hooks.published.load(), 1);
  EXPECT_EQ(hooks.delivered.load(), 2);
  EXPECT_EQ(hooks.dropped_offline.load(), 1);
}

}  // namespace
}  // namespace ringmq::testing
