// Tests of the MQTT test client (mqtt_client.h) against the broker StartBrokerForTest()
// selects (meson runs them against mosquitto, the reference), plus a scripted in-process
// server for what no real broker does on request (Topic Aliases towards the client,
// malformed packets, Receive Maximum violations).
#include "tests/testing/mqtt_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

#include "core/mqtt/decoder.h"
#include "core/mqtt/encoder.h"
#include "tests/testing/broker_process.h"
#include "tests/testing/status_macros.h"

namespace ringmq::testing {
namespace {

using mqtt::PacketType;
using mqtt::ProtocolVersion;
using mqtt::Qos;
using mqtt::ReasonCode;
using std::chrono::milliseconds;

// How long "nothing arrives" is watched for. Long enough for a loopback round trip through
// the broker many times over.
constexpr milliseconds kQuiet{300};

std::string VersionName(ProtocolVersion v) {
  switch (v) {
    case ProtocolVersion::kMqtt31:
      return "v31";
    case ProtocolVersion::kMqtt311:
      return "v311";
    case ProtocolVersion::kMqtt5:
      return "v5";
  }
  return "unknown";
}

ConnectOptions Opts(ProtocolVersion v) {
  ConnectOptions o;
  o.version = v;
  return o;
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(broker_, StartBrokerForTest());
    port_ = broker_->port();
  }
  void TearDown() override {
    if (broker_) {
      EXPECT_OK(broker_->Stop());
    }
  }
  // A unique topic prefix per test.
  std::string Topic(std::string_view leaf) const {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "/" + info->name();
    for (char& c : name) {
      if (c == '#' || c == '+') {
        c = '_';
      }
    }
    return "test/" + name + "/" + std::string(leaf);
  }

  std::unique_ptr<BrokerProcess> broker_;
  uint16_t port_ = 0;
};

// ---- connecting, per version -------------------------------------------------------------------

class VersionTest : public ClientTest, public ::testing::WithParamInterface<ProtocolVersion> {};

TEST_P(VersionTest, ConnectPingDisconnect) {
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::Connect(port_, Opts(GetParam())));
  ASSERT_TRUE(c->connack().has_value());
  EXPECT_EQ(c->connack()->reason(), ReasonCode::kSuccess);
  EXPECT_FALSE(c->server().session_present);
  EXPECT_EQ(c->version(), GetParam());
  EXPECT_OK(c->Ping());
  EXPECT_OK(c->ExpectNoPacket(milliseconds(50)));
  EXPECT_OK(c->Disconnect());
  EXPECT_TRUE(c->closed_by_server());
}

TEST_P(VersionTest, QosRoundTrips) {
  const ProtocolVersion v = GetParam();
  ASSERT_OK_AND_ASSIGN(auto sub, MqttClient::Connect(port_, Opts(v)));
  ASSERT_OK_AND_ASSIGN(auto pub, MqttClient::Connect(port_, Opts(v)));
  for (Qos qos : {Qos::k0, Qos::k1, Qos::k2}) {
    SCOPED_TRACE(static_cast<int>(qos));
    const std::string topic = Topic("qos" + std::to_string(static_cast<int>(qos)));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket suback, sub->Subscribe(topic, qos));
    ASSERT_EQ(suback.As<mqtt::Suback>().reasons.size(), 1u);
    EXPECT_EQ(static_cast<int>(suback.As<mqtt::Suback>().reasons[0]), static_cast<int>(qos));
    // Twice: the second message shows the first QoS 2 flow was completed (PUBREL answered).
    for (int i = 0; i < 2; ++i) {
      const std::string payload = "payload " + std::to_string(i);
      ASSERT_OK_AND_ASSIGN(PublishResult r, pub->Publish(topic, payload, qos));
      EXPECT_EQ(r.reason(), ReasonCode::kSuccess);
      EXPECT_EQ(r.puback.has_value(), qos == Qos::k1);
      EXPECT_EQ(r.pubcomp.has_value(), qos == Qos::k2);
      ASSERT_OK_AND_ASSIGN(ReceivedPacket m, sub->ExpectPublish());
      EXPECT_EQ(m.publish().topic, topic);
      EXPECT_EQ(m.publish().payload, payload);
      EXPECT_EQ(m.publish().qos, qos);
      EXPECT_FALSE(m.publish().retain);
    }
  }
  EXPECT_OK(sub->ExpectNoPacket(kQuiet));
  EXPECT_OK(pub->Disconnect());
  EXPECT_OK(sub->Disconnect());
}

TEST_P(VersionTest, RetainedMessageGoesToLaterSubscribers) {
  const ProtocolVersion v = GetParam();
  const std::string topic = Topic("retained");
  ASSERT_OK_AND_ASSIGN(auto early, MqttClient::Connect(port_, Opts(v)));
  ASSERT_OK(early->Subscribe(topic, Qos::k1));
  ASSERT_OK_AND_ASSIGN(auto pub, MqttClient::Connect(port_, Opts(v)));
  PublishOptions po;
  po.qos = Qos::k1;
  po.retain = true;
  ASSERT_OK(pub->Publish(topic, "kept", po));
  // An existing subscription gets it as a normal message [MQTT-3.3.1-9 (3.1.1 -12)].
  ASSERT_OK_AND_ASSIGN(ReceivedPacket live, early->ExpectPublish());
  EXPECT_EQ(live.publish().payload, "kept");
  EXPECT_FALSE(live.publish().retain);
  // A new one gets it with RETAIN set [MQTT-3.3.1-6 (3.1.1 -8)].
  ASSERT_OK_AND_ASSIGN(auto late, MqttClient::Connect(port_, Opts(v)));
  ASSERT_OK(late->Subscribe(topic, Qos::k1));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket kept, late->ExpectPublish());
  EXPECT_EQ(kept.publish().topic, topic);
  EXPECT_EQ(kept.publish().payload, "kept");
  EXPECT_TRUE(kept.publish().retain);
  EXPECT_EQ(kept.publish().qos, Qos::k1);
  // An empty retained message clears it [MQTT-3.3.1-10 (3.1.1)].
  ASSERT_OK(pub->Publish(topic, "", po));
  ASSERT_OK(early->ExpectPublish());
  ASSERT_OK_AND_ASSIGN(auto later, MqttClient::Connect(port_, Opts(v)));
  ASSERT_OK(later->Subscribe(topic, Qos::k1));
  EXPECT_OK(later->ExpectNoPacket(kQuiet));
}

TEST_P(VersionTest, WillOnAbnormalCloseOnly) {
  const ProtocolVersion v = GetParam();
  const std::string will_topic = Topic("will");
  ASSERT_OK_AND_ASSIGN(auto watcher, MqttClient::Connect(port_, Opts(v)));
  ASSERT_OK(watcher->Subscribe(will_topic, Qos::k1));

  ConnectOptions o = Opts(v);
  o.will = WillOptions{.topic = will_topic, .payload = "gone", .qos = Qos::k1};
  // A normal DISCONNECT discards the will [MQTT-3.14.4-3].
  ASSERT_OK_AND_ASSIGN(auto polite, MqttClient::Connect(port_, o));
  ASSERT_OK(polite->Disconnect());
  EXPECT_OK(watcher->ExpectNoPacket(kQuiet));
  // A connection closed without DISCONNECT publishes it [MQTT-3.1.2-8].
  ASSERT_OK_AND_ASSIGN(auto crashing, MqttClient::Connect(port_, o));
  crashing->ResetSocket();
  ASSERT_OK_AND_ASSIGN(ReceivedPacket will, watcher->ExpectPublish());
  EXPECT_EQ(will.publish().topic, will_topic);
  EXPECT_EQ(will.publish().payload, "gone");
  EXPECT_EQ(will.publish().qos, Qos::k1);
  EXPECT_FALSE(will.publish().retain);
  // The same after an orderly TCP close without DISCONNECT.
  ASSERT_OK_AND_ASSIGN(auto closing, MqttClient::Connect(port_, o));
  closing->CloseSocket();
  ASSERT_OK_AND_ASSIGN(ReceivedPacket will2, watcher->ExpectPublish());
  EXPECT_EQ(will2.publish().payload, "gone");
}

TEST_P(VersionTest, PersistentSessionQueuesWhileOffline) {
  const ProtocolVersion v = GetParam();
  const std::string topic = Topic("queued");
  ConnectOptions o = Opts(v);
  o.client_id = VersionName(v) + "-persistent";
  o.clean_start = false;
  if (IsV5(v)) {
    o.properties.SetSessionExpiryInterval(60);
  }
  {
    // The broker is fresh, so there is no session yet. (Clean Start 1 would do in 5.0, but
    // in 3.x Clean Session 1 also ends the session with the connection [MQTT-3.1.2-6 (3.1.1)].)
    ASSERT_OK_AND_ASSIGN(auto c, MqttClient::Connect(port_, o));
    EXPECT_FALSE(c->server().session_present);  // [MQTT-3.2.2-3 (3.1.1)], [MQTT-3.2.2-3]
    ASSERT_OK(c->Subscribe(topic, Qos::k1));
    ASSERT_OK(c->Disconnect());
  }
  ASSERT_OK_AND_ASSIGN(auto pub, MqttClient::Connect(port_, Opts(v)));
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(pub->Publish(topic, "m" + std::to_string(i), Qos::k1));
  }
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::Connect(port_, o));
  // MQTT 3.1's CONNACK has no Session Present flag.
  EXPECT_EQ(c->server().session_present, v != ProtocolVersion::kMqtt31);
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(ReceivedPacket m, c->ExpectPublish());
    EXPECT_EQ(m.publish().payload, "m" + std::to_string(i));
    EXPECT_EQ(m.publish().qos, Qos::k1);
  }
  EXPECT_OK(c->ExpectNoPacket(kQuiet));
}

TEST_P(VersionTest, UnsubscribeStopsDelivery) {
  const ProtocolVersion v = GetParam();
  const std::string topic = Topic("unsub");
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::Connect(port_, Opts(v)));
  ASSERT_OK(c->Subscribe(topic, Qos::k1));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket unsuback, c->Unsubscribe({topic}));
  EXPECT_EQ(unsuback.type(), PacketType::kUnsuback);
  ASSERT_OK_AND_ASSIGN(auto pub, MqttClient::Connect(port_, Opts(v)));
  ASSERT_OK(pub->Publish(topic, "x", Qos::k1));
  EXPECT_OK(c->ExpectNoPacket(kQuiet));
}

TEST_P(VersionTest, OwnPublishArrivingBeforeItsAckStaysQueued) {
  // The client publishes to a topic it subscribes to: the broker may send the message before
  // or after the PUBACK. Publish() takes the PUBACK; the PUBLISH waits for ExpectPublish().
  const ProtocolVersion v = GetParam();
  const std::string topic = Topic("self");
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::Connect(port_, Opts(v)));
  ASSERT_OK(c->Subscribe(topic, Qos::k1));
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(c->Publish(topic, std::to_string(i), Qos::k1));
  }
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(ReceivedPacket m, c->ExpectPublish());
    EXPECT_EQ(m.publish().payload, std::to_string(i));
  }
  EXPECT_OK(c->ExpectNoPacket(kQuiet));
}

TEST_P(VersionTest, HandDrivenFlows) {
  const ProtocolVersion v = GetParam();
  const std::string topic = Topic("manual");
  ConnectOptions o = Opts(v);
  o.auto_ack = false;
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::Connect(port_, o));
  ASSERT_OK(c->Subscribe(topic, Qos::k2));

  // Outgoing QoS 2 step by step; the broker's PUBLISH to us interleaves with the acks.
  mqtt::Publish p;
  p.topic = topic;
  p.payload = "by hand";
  p.qos = Qos::k2;
  p.packet_id = c->NextPacketId();
  ASSERT_OK(c->Send(p));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket rec, c->AwaitAck(PacketType::kPubrec, p.packet_id));
  EXPECT_EQ(rec.reason(), ReasonCode::kSuccess);
  mqtt::Pubrel rel;
  rel.packet_id = p.packet_id;
  ASSERT_OK(c->Send(rel));
  ASSERT_OK(c->AwaitAck(PacketType::kPubcomp, p.packet_id));

  // Incoming QoS 2: PUBLISH, our PUBREC, the broker's PUBREL (visible: auto_ack is off),
  // our PUBCOMP.
  ASSERT_OK_AND_ASSIGN(ReceivedPacket in, c->ExpectPublish());
  EXPECT_EQ(in.publish().payload, "by hand");
  EXPECT_EQ(in.publish().qos, Qos::k2);
  mqtt::Pubrec our_rec;
  our_rec.packet_id = in.publish().packet_id;
  ASSERT_OK(c->Send(our_rec));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket their_rel, c->Expect(PacketType::kPubrel));  // or fails
  EXPECT_EQ(their_rel.As<mqtt::Pubrel>().packet_id, in.publish().packet_id);
  mqtt::Pubcomp comp;
  comp.packet_id = in.publish().packet_id;
  ASSERT_OK(c->Send(comp));
  EXPECT_OK(c->ExpectNoPacket(kQuiet));
}

TEST_P(VersionTest, ExpectPublishReportsAndKeepsOtherPackets) {
  ConnectOptions o = Opts(GetParam());
  o.auto_ack = false;
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::Connect(port_, o));
  const std::string topic = Topic("nobody");
  mqtt::Publish p;
  p.topic = topic;
  p.qos = Qos::k1;
  p.packet_id = c->NextPacketId();
  ASSERT_OK(c->Send(p));
  absl::StatusOr<ReceivedPacket> wrong = c->ExpectPublish();
  ASSERT_FALSE(wrong.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(wrong.status())) << wrong.status();
  EXPECT_NE(wrong.status().message().find("PUBACK"), std::string_view::npos) << wrong.status();
  ASSERT_OK_AND_ASSIGN(ReceivedPacket ack, c->Receive());
  ASSERT_EQ(ack.type(), PacketType::kPuback) << ack;
  EXPECT_EQ(ack.As<mqtt::Puback>().packet_id, p.packet_id);
  // Nothing else: a timeout, reported as such.
  absl::StatusOr<ReceivedPacket> none = c->Receive(milliseconds(50));
  EXPECT_TRUE(absl::IsDeadlineExceeded(none.status())) << none.status();
}

TEST_P(VersionTest, MalformedBytesCloseTheConnection) {
  std::vector<std::pair<std::string, std::string>> cases = {
      // A Remaining Length of five bytes [MQTT-1.5.5-1 (3.1.1: 2.2.3)].
      {"bad Remaining Length", std::string("\x10\xff\xff\xff\xff\x7f", 6)},
  };
  if (GetParam() != ProtocolVersion::kMqtt31) {
    // The reserved CONNECT flag set [MQTT-3.1.2-3]. MQTT 3.1 only calls the bit unused.
    mqtt::Connect connect;
    connect.version = GetParam();
    connect.client_id = "raw";
    std::string bytes = mqtt::EncodeToString(connect, GetParam());
    // Fixed header (2 bytes), protocol name "MQTT" (2 + 4), level, then the flags.
    bytes[2 + 2 + 4 + 1] |= 0x01;
    cases.emplace_back("reserved CONNECT flag", bytes);
  }
  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    ASSERT_OK_AND_ASSIGN(auto c, MqttClient::ConnectRaw(port_, Opts(GetParam())));
    ASSERT_OK(c->SendRaw(bytes));
    ASSERT_OK_AND_ASSIGN(CloseResult r, c->WaitForClose());
    EXPECT_TRUE(r.closed);
    // 3.x closes without CONNACK [MQTT-3.1.4-1 (3.1.1)]; 5.0 may first send a CONNACK with
    // a failure code [MQTT-3.1.4-1], §4.13.
    if (IsV5(GetParam()) && r.others.size() == 1 && r.others[0].Is<mqtt::Connack>()) {
      EXPECT_TRUE(mqtt::IsFailure(r.others[0].reason())) << r.others[0];
    } else {
      EXPECT_TRUE(r.others.empty()) << r.others.front();
    }
  }
}

TEST_P(VersionTest, RawConnectThenPackets) {
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::ConnectRaw(port_, Opts(GetParam())));
  EXPECT_FALSE(c->connack().has_value());
  ConnectOptions o = Opts(GetParam());
  o.client_id = "raw-" + VersionName(GetParam());
  ASSERT_OK(c->SendConnect(o));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket ack, c->AwaitConnack());
  EXPECT_EQ(ack.reason(), ReasonCode::kSuccess);
  EXPECT_EQ(c->client_id(), "raw-" + VersionName(GetParam()));
  // A second CONNECT is a Protocol Error: the server closes [MQTT-3.1.0-2].
  ASSERT_OK(c->SendConnect(o));
  ASSERT_OK_AND_ASSIGN(CloseResult r, c->WaitForClose());
  EXPECT_TRUE(r.closed);
}

INSTANTIATE_TEST_SUITE_P(Versions, VersionTest,
                         ::testing::Values(ProtocolVersion::kMqtt31, ProtocolVersion::kMqtt311,
                                           ProtocolVersion::kMqtt5),
                         [](const auto& p) { return VersionName(p.param); });

// ---- MQTT 5 ------------------------------------------------------------------------------------

using V5Test = ClientTest;

TEST_F(V5Test, AssignedClientIdAndServerInfo) {
  ConnectOptions o = Opts(ProtocolVersion::kMqtt5);
  o.client_id = "";
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::Connect(port_, o));
  EXPECT_FALSE(c->server().assigned_client_id.empty());
  EXPECT_EQ(c->client_id(), c->server().assigned_client_id);
  // The assigned id is usable: reconnect with it.
  std::string id = c->client_id();
  ASSERT_OK(c->Disconnect());
  o.client_id = id;
  ASSERT_OK_AND_ASSIGN(auto again, MqttClient::Connect(port_, o));
  EXPECT_EQ(again->client_id(), id);
  EXPECT_TRUE(again->server().assigned_client_id.empty());
}

TEST_F(V5Test, UserPropertiesRoundTripInOrder) {
  const std::string topic = Topic("props");
  ASSERT_OK_AND_ASSIGN(auto sub, MqttClient::Connect(port_));
  ASSERT_OK(sub->Subscribe(topic, Qos::k1));
  ASSERT_OK_AND_ASSIGN(auto pub, MqttClient::Connect(port_));
  PublishOptions po;
  po.qos = Qos::k1;
  po.user_properties = {{"a", "1"}, {"b", "2"}, {"a", "3"}, {"", ""}, {"k\xc3\xa9", "v"}};
  po.properties.SetContentType("text/plain");
  po.properties.SetCorrelationData(std::string_view("\x00\x01", 2));
  ASSERT_OK(pub->Publish(topic, "with properties", po));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket m, sub->ExpectPublish());
  // [MQTT-3.3.2-17/18]: forwarded unaltered and in order.
  EXPECT_EQ(m.user_properties(), po.user_properties);
  EXPECT_EQ(m.publish().properties.content_type, "text/plain");
  EXPECT_EQ(m.publish().properties.correlation_data, std::string_view("\x00\x01", 2));

  // User properties on SUBSCRIBE, UNSUBSCRIBE and DISCONNECT are accepted too.
  PacketOptions with_props;
  with_props.user_properties = {{"x", "y"}};
  ASSERT_OK(sub->Subscribe({{Topic("other"), {}}}, with_props));
  ASSERT_OK(sub->Unsubscribe({Topic("other")}, with_props));
  EXPECT_OK(sub->Disconnect(ReasonCode::kSuccess, with_props));
}

TEST_F(V5Test, ClientTopicAlias) {
  const std::string topic = Topic("aliased");
  ASSERT_OK_AND_ASSIGN(auto sub, MqttClient::Connect(port_));
  ASSERT_OK(sub->Subscribe(topic, Qos::k1));
  ASSERT_OK_AND_ASSIGN(auto pub, MqttClient::Connect(port_));
  ASSERT_GE(pub->server().topic_alias_maximum, 1) << "the broker accepts no topic aliases";
  // Set the alias, then use it alone.
  PublishOptions po;
  po.qos = Qos::k1;
  po.properties.SetTopicAlias(1);
  ASSERT_OK(pub->Publish(topic, "first", po));
  ASSERT_OK(pub->Publish("", "second", po));
  for (const char* payload : {"first", "second"}) {
    ASSERT_OK_AND_ASSIGN(ReceivedPacket m, sub->ExpectPublish());
    EXPECT_EQ(m.publish().topic, topic);
    EXPECT_EQ(m.publish().payload, payload);
    // The alias is between the publisher and the broker, not forwarded [MQTT-3.3.2-7].
    EXPECT_FALSE(m.publish().properties.Has(mqtt::PropertyId::kTopicAlias));
  }
  // An alias above the broker's maximum: DISCONNECT 0x94 Topic Alias invalid, then close.
  po.properties.SetTopicAlias(static_cast<uint16_t>(pub->server().topic_alias_maximum + 1));
  ASSERT_OK(pub->Send(mqtt::Publish{.topic = topic,
                                    .payload = "bad",
                                    .qos = Qos::k1,
                                    .packet_id = pub->NextPacketId(),
                                    .properties = po.properties}));
  ASSERT_OK_AND_ASSIGN(CloseResult r, pub->WaitForClose());
  EXPECT_TRUE(r.closed);
  ASSERT_TRUE(r.disconnect.has_value());
  EXPECT_EQ(r.disconnect->reason(), ReasonCode::kTopicAliasInvalid) << *r.disconnect;
  EXPECT_OK(sub->ExpectNoPacket(kQuiet));
}

TEST_F(V5Test, SessionTakeoverIsReportedByWaitForClose) {
  ConnectOptions o = Opts(ProtocolVersion::kMqtt5);
  o.client_id = "takeover";
  ASSERT_OK_AND_ASSIGN(auto first, MqttClient::Connect(port_, o));
  ASSERT_OK_AND_ASSIGN(auto second, MqttClient::Connect(port_, o));
  ASSERT_OK_AND_ASSIGN(CloseResult r, first->WaitForClose());
  EXPECT_TRUE(r.closed);
  EXPECT_FALSE(r.reset);
  EXPECT_TRUE(r.others.empty()) << r.others.front();
  // mosquitto 2.0.11 closes the old connection without the DISCONNECT 0x8E that 5.0 asks for
  // (§3.1.4 step 2, [MQTT-3.1.4-3]); ringmq must send it.
  if (broker_->kind() != BrokerKind::kMosquitto || r.disconnect.has_value()) {
    ASSERT_TRUE(r.disconnect.has_value());
    EXPECT_EQ(r.disconnect->reason(), ReasonCode::kSessionTakenOver);
  }
  EXPECT_OK(second->Ping());
}

TEST_F(V5Test, WillWithPropertiesAndDisconnectWithWill) {
  const std::string will_topic = Topic("will");
  ASSERT_OK_AND_ASSIGN(auto watcher, MqttClient::Connect(port_));
  ASSERT_OK(watcher->Subscribe(will_topic, Qos::k0));
  ConnectOptions o;
  o.will = WillOptions{.topic = will_topic, .payload = "bye", .retain = true};
  o.will->user_properties = {{"why", "asked"}};
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::Connect(port_, o));
  // 0x04 Disconnect with Will Message keeps the will [MQTT-3.14.4-3].
  ASSERT_OK(c->Disconnect(ReasonCode::kDisconnectWithWill));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket m, watcher->ExpectPublish());
  EXPECT_EQ(m.publish().payload, "bye");
  EXPECT_EQ(m.user_properties(), (UserProperties{{"why", "asked"}}));
  // Published retained [MQTT-3.1.2-15]: a later subscriber gets it.
  ASSERT_OK_AND_ASSIGN(auto late, MqttClient::Connect(port_));
  ASSERT_OK(late->Subscribe(will_topic, Qos::k0));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket kept, late->ExpectPublish());
  EXPECT_TRUE(kept.publish().retain);
}

// ---- a scripted server: what a broker does not do on request ----------------------------------

// Accepts one connection on 127.0.0.1, reads the client's CONNECT, sends `script`, then
// either closes or reads until the client closes (bounded).
class ScriptedServer {
 public:
  enum class Then { kWaitForClientClose, kClose };
  explicit ScriptedServer(std::string script, Then then = Then::kWaitForClientClose)
      : script_(std::move(script)), then_(then) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    RINGMQ_ASSERT(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    RINGMQ_ASSERT(::listen(listen_fd_, 1) == 0);
    RINGMQ_ASSERT(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~ScriptedServer() {
    thread_.join();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }

 private:
  void Run() {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 5000) != 1) {
      return;
    }
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      return;
    }
    // The CONNECT: read until one whole packet is in.
    std::string in;
    char buf[4096];
    mqtt::FixedHeader h;
    while (mqtt::ParseFixedHeader(std::span(reinterpret_cast<const uint8_t*>(in.data()), in.size()),
                                  mqtt::kMaxPacketSize, &h) != mqtt::FrameStatus::kOk ||
           in.size() < h.packet_size()) {
      pollfd cp{fd, POLLIN, 0};
      if (::poll(&cp, 1, 5000) != 1) {
        ::close(fd);
        return;
      }
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        ::close(fd);
        return;
      }
      in.append(buf, static_cast<size_t>(n));
    }
    (void)::send(fd, script_.data(), script_.size(), MSG_NOSIGNAL);
    while (then_ == Then::kWaitForClientClose) {
      pollfd cp{fd, POLLIN, 0};
      if (::poll(&cp, 1, 5000) != 1 || ::recv(fd, buf, sizeof buf, 0) <= 0) {
        break;
      }
    }
    ::close(fd);
  }

  std::string script_;
  Then then_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

std::string V5(const mqtt::Packet& p) {
  return mqtt::EncodeToString(p, ProtocolVersion::kMqtt5);
}

mqtt::Publish AliasedPublish(std::string_view topic, std::string_view payload, uint16_t alias) {
  mqtt::Publish p;
  p.topic = topic;
  p.payload = payload;
  p.properties.SetTopicAlias(alias);
  return p;
}

TEST(ScriptedServerTest, ServerTopicAliasesAreResolved) {
  mqtt::Connack ack;
  ack.properties.SetTopicAliasMaximum(5);
  ack.properties.SetReceiveMaximum(7);
  ack.properties.SetAssignedClientIdentifier("given");
  std::string script = V5(ack) + V5(AliasedPublish("a/b", "1", 2)) +
                       V5(AliasedPublish("", "2", 2)) + V5(AliasedPublish("c", "3", 2)) +
                       V5(AliasedPublish("", "4", 2));
  ScriptedServer server(script);
  ConnectOptions o;
  o.client_id = "";
  o.properties.SetTopicAliasMaximum(3);
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::Connect(server.port(), o));
  EXPECT_EQ(c->server().topic_alias_maximum, 5);
  EXPECT_EQ(c->server().receive_maximum, 7);
  EXPECT_EQ(c->client_id(), "given");
  const std::pair<const char*, const char*> want[] = {
      {"a/b", "a/b"}, {"a/b", ""}, {"c", "c"}, {"c", ""}};
  for (const auto& [topic, wire] : want) {
    ASSERT_OK_AND_ASSIGN(ReceivedPacket m, c->ExpectPublish());
    EXPECT_EQ(m.publish().topic, topic);
    EXPECT_EQ(m.wire_topic(), wire);
    EXPECT_EQ(m.publish().properties.topic_alias, 2);
  }
  c->CloseSocket();
}

TEST(ScriptedServerTest, UnknownOrOutOfRangeAliasIsAnError) {
  for (uint16_t alias_max : {uint16_t{0}, uint16_t{4}}) {
    SCOPED_TRACE(alias_max);
    // With maximum 0 any alias is out of range; with 4, alias 3 was never mapped.
    ScriptedServer server(V5(mqtt::Connack{}) + V5(AliasedPublish("", "x", 3)));
    ConnectOptions o;
    if (alias_max > 0) {
      o.properties.SetTopicAliasMaximum(alias_max);
    }
    ASSERT_OK_AND_ASSIGN(auto c, MqttClient::Connect(server.port(), o));
    absl::StatusOr<ReceivedPacket> m = c->ExpectPublish();
    ASSERT_FALSE(m.ok());
    EXPECT_TRUE(absl::IsDataLoss(m.status())) << m.status();
    EXPECT_NE(m.status().message().find(alias_max == 0 ? "above our Topic Alias Maximum"
                                                       : "never mapped"),
              std::string_view::npos)
        << m.status();
    c->CloseSocket();
  }
}

TEST(ScriptedServerTest, MalformedPacketIsReportedAfterGoodOnes) {
  mqtt::Publish good;
  good.topic = "t";
  good.payload = "ok";
  // A PUBLISH whose topic holds a wildcard [MQTT-3.3.2-2].
  mqtt::Publish bad = good;
  bad.topic = "t/#";
  ScriptedServer server(V5(mqtt::Connack{}) + V5(good) + V5(bad) + V5(good));
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::Connect(server.port()));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket m, c->ExpectPublish());
  EXPECT_EQ(m.publish().payload, "ok");
  absl::StatusOr<ReceivedPacket> next = c->Receive();
  ASSERT_FALSE(next.ok());
  EXPECT_TRUE(absl::IsDataLoss(next.status())) << next.status();
  EXPECT_NE(next.status().message().find("MQTT-3.3.2-2"), std::string_view::npos) << next.status();
  c->CloseSocket();
}

TEST(ScriptedServerTest, ReceiveMaximumIsEnforcedOnTheServer) {
  std::string script = V5(mqtt::Connack{});
  for (uint16_t id = 1; id <= 3; ++id) {
    mqtt::Publish p;
    p.topic = "t";
    p.qos = Qos::k1;
    p.packet_id = id;
    script += V5(p);
  }
  ScriptedServer server(script);
  ConnectOptions o;
  o.auto_ack = false;
  o.properties.SetReceiveMaximum(2);
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::Connect(server.port(), o));
  ASSERT_OK(c->ExpectPublish());
  ASSERT_OK(c->ExpectPublish());
  absl::StatusOr<ReceivedPacket> third = c->ExpectPublish();
  ASSERT_FALSE(third.ok());
  EXPECT_NE(third.status().message().find("MQTT-3.3.4-9"), std::string_view::npos)
      << third.status();
  c->CloseSocket();
}

TEST(ScriptedServerTest, RefusedConnect) {
  mqtt::Connack refused;
  refused.reason = ReasonCode::kNotAuthorized;
  ScriptedServer server(V5(refused));
  ConnectOptions o;
  absl::StatusOr<std::unique_ptr<MqttClient>> c = MqttClient::Connect(server.port(), o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("Not authorized"), std::string_view::npos) << c.status();
}

TEST(ScriptedServerTest, TryConnectReturnsTheRefusal) {
  mqtt::Connack refused;
  refused.reason = ReasonCode::kBadUserNameOrPassword;
  ScriptedServer server(mqtt::EncodeToString(refused, ProtocolVersion::kMqtt311),
                        ScriptedServer::Then::kClose);
  ConnectOptions o = Opts(ProtocolVersion::kMqtt311);
  o.username = "u";
  o.password = "p";
  ASSERT_OK_AND_ASSIGN(auto c, MqttClient::TryConnect(server.port(), o));
  EXPECT_EQ(c->connack()->reason(), ReasonCode::kBadUserNameOrPassword);
  ASSERT_OK_AND_ASSIGN(CloseResult r, c->WaitForClose());
  EXPECT_TRUE(r.closed);
}

}  // namespace
}  // namespace ringmq::testing
