// MakePlan: roles, topics, filters and fan-out factors of every scenario.
#include "bench/load/config.h"

#include "gtest/gtest.h"

#include "bench/load/payload.h"

namespace ringmq::bench {
namespace {

BenchConfig Config(Scenario s) {
  BenchConfig c;
  c.scenario = s;
  c.client_prefix = "t";
  return c;
}

TEST(PlanTest, PairsSubscribersFirstThenPublishersOnMatchingTopics) {
  BenchConfig c = Config(Scenario::kPairs);
  c.pairs = 3;
  c.threads = 2;
  auto plan = MakePlan(c);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->clients.size(), 6u);
  EXPECT_EQ(plan->fan, 1u);
  EXPECT_FALSE(plan->shared);
  for (uint32_t i = 0; i < 3; ++i) {
    const ClientSpec& s = plan->clients[i];
    const ClientSpec& p = plan->clients[plan->first_publisher + i];
    EXPECT_EQ(s.role, Role::kSubscriber);
    EXPECT_EQ(p.role, Role::kPublisher);
    EXPECT_EQ(s.filter, p.topic);
    EXPECT_FALSE(s.receives_all);
    EXPECT_EQ(p.index, i);
  }
  EXPECT_EQ(plan->clients[0].client_id, "ts0");
  EXPECT_EQ(plan->clients[3].client_id, "tp0");
  EXPECT_EQ(plan->ShardOfPublisher(0), 1u);  // client 3 on 2 shards
}

TEST(PlanTest, FanoutFaninShared) {
  BenchConfig c = Config(Scenario::kFanout);
  c.publishers = 2;
  c.subscribers = 5;
  auto fanout = MakePlan(c);
  ASSERT_TRUE(fanout.ok());
  EXPECT_EQ(fanout->fan, 5u);
  EXPECT_EQ(fanout->clients[0].filter, "bench/fanout");
  EXPECT_EQ(fanout->clients[5].topic, "bench/fanout");
  EXPECT_TRUE(fanout->clients[0].receives_all);

  c.scenario = Scenario::kFanin;
  auto fanin = MakePlan(c);
  ASSERT_TRUE(fanin.ok());
  EXPECT_EQ(fanin->fan, 5u);
  EXPECT_EQ(fanin->clients[0].filter, "bench/#");
  EXPECT_EQ(fanin->clients[5].topic, "bench/0");
  EXPECT_EQ(fanin->clients[6].topic, "bench/1");

  c.scenario = Scenario::kShared;
  auto shared = MakePlan(c);
  ASSERT_TRUE(shared.ok());
  EXPECT_EQ(shared->fan, 1u);
  EXPECT_TRUE(shared->shared);
  EXPECT_EQ(shared->clients[0].filter, "$share/g/bench/shared");
  EXPECT_EQ(shared->clients[5].topic, "bench/shared");
}

TEST(PlanTest, ConnectAndEcho) {
  BenchConfig c = Config(Scenario::kConnect);
  c.connections = 10;
  auto plan = MakePlan(c);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->clients.size(), 10u);
  EXPECT_EQ(plan->publishers, 0u);
  EXPECT_EQ(plan->clients[9].role, Role::kIdle);

  c.scenario = Scenario::kEcho;
  auto echo = MakePlan(c);
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(echo->publishers, 10u);
  EXPECT_EQ(echo->clients[4].role, Role::kEcho);
}

TEST(PlanTest, RejectsBadConfigurations) {
  BenchConfig c = Config(Scenario::kPairs);
  c.payload_bytes = kPayloadHeaderSize - 1;
  EXPECT_FALSE(MakePlan(c).ok());
  c = Config(Scenario::kPairs);
  c.inflight = 0;
  EXPECT_FALSE(MakePlan(c).ok());
  c = Config(Scenario::kPairs);
  c.publishers = 3;
  c.subscribers = 4;
  EXPECT_FALSE(MakePlan(c).ok());
}

TEST(PlanTest, OfflineSubscribersTakeEveryPublisherByDefault) {
  BenchConfig c = Config(Scenario::kOffline);
  c.qos = mqtt::Qos::k1;
  auto plan = MakePlan(c);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->subscribers, 10u);  // the scenario's defaults
  EXPECT_EQ(plan->publishers, 100u);
  EXPECT_TRUE(plan->offline);
  EXPECT_EQ(plan->fan, 10u);  // every message queued for every subscriber
  const ClientSpec& s = plan->clients[0];
  EXPECT_EQ(s.role, Role::kSubscriber);
  EXPECT_TRUE(s.offline);
  EXPECT_TRUE(s.receives_all);
  EXPECT_EQ(s.filter, "bench/offline/#");
  EXPECT_EQ(plan->clients[plan->first_publisher + 7].topic, "bench/offline/7");
  EXPECT_FALSE(plan->clients[plan->first_publisher].offline);
  // Nobody receives while the publishers publish: the acknowledgements pace them.
  EXPECT_EQ(EffectiveE2eWindow(c), 0u);
}

TEST(PlanTest, OfflineGroupsSplitSubscribersAndPublishers) {
  BenchConfig c = Config(Scenario::kOffline);
  c.qos = mqtt::Qos::k2;
  c.subscribers = 6;
  c.publishers = 4;
  c.offline_groups = 3;
  auto plan = MakePlan(c);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->fan, 2u);
  EXPECT_EQ(plan->groups, 3u);
  EXPECT_EQ(plan->clients[4].filter, "bench/offline/1/#");  // subscriber 4: group 1
  EXPECT_EQ(plan->clients[4].group, 1u);
  EXPECT_EQ(plan->clients[6 + 2].topic, "bench/offline/2/2");  // publisher 2: group 2
  EXPECT_EQ(plan->clients[6 + 3].topic, "bench/offline/0/3");
}

TEST(PlanTest, OfflineRejectsQos0UnevenGroupsAndStrayDrain) {
  BenchConfig c = Config(Scenario::kOffline);
  EXPECT_FALSE(MakePlan(c).ok()) << "QoS 0 is never queued";
  c.qos = mqtt::Qos::k1;
  c.subscribers = 10;
  c.offline_groups = 3;
  EXPECT_FALSE(MakePlan(c).ok()) << "3 groups do not split 10 subscribers";
  c.offline_groups = 0;
  EXPECT_FALSE(MakePlan(c).ok());
  c.offline_groups = 20;
  EXPECT_FALSE(MakePlan(c).ok()) << "more groups than subscribers";
  c.offline_groups = 5;
  EXPECT_TRUE(MakePlan(c).ok());
  c.drain_offline = true;
  c.drain_offline_timeout_s = 0;
  EXPECT_FALSE(MakePlan(c).ok());
  c = Config(Scenario::kPairs);
  c.drain_offline = true;
  EXPECT_FALSE(MakePlan(c).ok()) << "--drain_offline belongs to the offline scenario";
}

TEST(PlanTest, EndToEndWindowOnlyWhenUnthrottled) {
  BenchConfig c = Config(Scenario::kPairs);
  c.inflight = 8;
  EXPECT_EQ(EffectiveE2eWindow(c), 8u);
  c.e2e_window = 0;
  EXPECT_EQ(EffectiveE2eWindow(c), 0u);
  c.e2e_window = 100;
  EXPECT_EQ(EffectiveE2eWindow(c), 100u);
  c.rate = 10;
  EXPECT_EQ(EffectiveE2eWindow(c), 0u);
}

TEST(ParseTest, VersionsAndScenarios) {
  mqtt::ProtocolVersion v;
  ASSERT_TRUE(ParseMqttVersion("5", &v));
  EXPECT_EQ(v, mqtt::ProtocolVersion::kMqtt5);
  ASSERT_TRUE(ParseMqttVersion("3.1.1", &v));
  EXPECT_EQ(v, mqtt::ProtocolVersion::kMqtt311);
  EXPECT_FALSE(ParseMqttVersion("6", &v));
  Scenario s;
  ASSERT_TRUE(ParseScenario("fanin", &s));
  EXPECT_EQ(s, Scenario::kFanin);
  ASSERT_TRUE(ParseScenario("offline", &s));
  EXPECT_EQ(s, Scenario::kOffline);
  EXPECT_FALSE(ParseScenario("nope", &s));
  ClientTransport t;
  ASSERT_TRUE(ParseClientTransport("websocket", &t));
  EXPECT_EQ(t, ClientTransport::kWebSocket);
  ASSERT_TRUE(ParseClientTransport("tcp", &t));
  EXPECT_EQ(t, ClientTransport::kTcp);
  ASSERT_TRUE(ParseClientTransport("tls", &t));
  EXPECT_EQ(t, ClientTransport::kTls);
  ASSERT_TRUE(ParseClientTransport("wss", &t));
  EXPECT_EQ(t, ClientTransport::kWss);
  EXPECT_FALSE(ParseClientTransport("quic", &t));
  ASSERT_TRUE(ParseScenario("handshake", &s));
  EXPECT_EQ(s, Scenario::kHandshake);
}

TEST(PlanTest, HandshakeClientsAreIdleConnections) {
  BenchConfig c = Config(Scenario::kHandshake);
  auto plan = MakePlan(c);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->clients.size(), 100u);  // the default
  EXPECT_EQ(plan->publishers, 0u);
  EXPECT_EQ(plan->clients[99].role, Role::kIdle);
  c.connect_rate = 10;  // its clients reconnect at once
  EXPECT_FALSE(MakePlan(c).ok());
}

TEST(PlanTest, TlsFilesOnlyWithTlsAndCertWithKey) {
  BenchConfig c = Config(Scenario::kPairs);
  c.tls_ca = "ca.pem";
  EXPECT_FALSE(MakePlan(c).ok()) << "not over tcp";
  c.transport = ClientTransport::kTls;
  EXPECT_TRUE(MakePlan(c).ok());
  c.tls_cert = "client.pem";
  EXPECT_FALSE(MakePlan(c).ok()) << "a certificate without its key";
  c.tls_key = "client.key";
  EXPECT_TRUE(MakePlan(c).ok());
  c.transport = ClientTransport::kWss;
  EXPECT_TRUE(MakePlan(c).ok());
  c.ws_path = "no slash";
  EXPECT_FALSE(MakePlan(c).ok()) << "wss checks the path as websocket does";
  c.ws_path = "/mqtt";
  c.scenario = Scenario::kEcho;
  EXPECT_FALSE(MakePlan(c).ok());
}

TEST(PlanTest, WebSocketNeedsAnMqttScenarioAndAPath) {
  BenchConfig c = Config(Scenario::kPairs);
  c.transport = ClientTransport::kWebSocket;
  EXPECT_TRUE(MakePlan(c).ok());
  c.ws_path = "/mqtt?x=1";
  EXPECT_TRUE(MakePlan(c).ok());
  for (const char* bad : {"", "mqtt", "/a b", "/a\r\n"}) {
    c.ws_path = bad;
    EXPECT_FALSE(MakePlan(c).ok()) << bad;
  }
  c.ws_path = "/mqtt";
  c.scenario = Scenario::kEcho;
  EXPECT_FALSE(MakePlan(c).ok());
  c.transport = ClientTransport::kTcp;
  c.ws_path = "not checked without websocket";
  EXPECT_TRUE(MakePlan(c).ok());
}

}  // namespace
}  // namespace ringmq::bench
