// The broker's limits, set by flags: Maximum Packet Size (--max-packet-size), connections
// (--max-connections), topic levels (--max-topic-levels), messages queued per session
// (--max-queued-messages) and the Receive Maximum it announces (--max-inflight). Each test
// names the statements of /work/shared/mqtt-normative.md it covers; "(3.1.1)" marks a 3.1.1
// statement id.
#include <sys/wait.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

#include "core/base/proc_stats.h"
#include "core/base/strings.h"
#include "core/mqtt/encoder.h"
#include "tests/broker/broker_test_base.h"
#include "tests/broker/pubsub_test_util.h"
#include "tests/testing/subprocess.h"

namespace ringmq::testing {
namespace {

using mqtt::PacketType;
using mqtt::PropertyId;
using mqtt::ProtocolVersion;
using mqtt::Qos;
using mqtt::ReasonCode;
using std::chrono::milliseconds;

// A QoS 1 PUBLISH whose encoding is exactly `size` bytes.
mqtt::Publish PublishOfSize(ProtocolVersion v, std::string_view topic, std::string* payload,
                            size_t size, uint16_t packet_id) {
  mqtt::Publish p;
  p.topic = topic;
  p.qos = Qos::k1;
  p.packet_id = packet_id;
  payload->clear();
  p.payload = *payload;
  const size_t empty = mqtt::EncodedSize(p, v);
  // The Remaining Length grows by a byte at 128 and 16384: adjust until exact.
  size_t n = size - empty;
  for (int i = 0; i < 4; ++i) {
    payload->assign(n, 'x');
    p.payload = *payload;
    const size_t got = mqtt::EncodedSize(p, v);
    if (got == size) {
      break;
    }
    n = static_cast<size_t>(static_cast<int64_t>(n) -
                            (static_cast<int64_t>(got) - static_cast<int64_t>(size)));
  }
  return p;
}

// The limits are set with ringmq flags: the tests skip other brokers.
class LimitsTest : public BrokerTest {
 protected:
  void SetUp() override {
    BrokerTest::SetUp();
    if (!is_ringmq()) {
      GTEST_SKIP() << "limits are set with ringmq flags";
    }
  }
};

class LimitsVersionTest : public BrokerVersionTest {
 protected:
  void SetUp() override {
    BrokerVersionTest::SetUp();
    if (!is_ringmq()) {
      GTEST_SKIP() << "limits are set with ringmq flags";
    }
  }
};

// ---- Maximum Packet Size ------------------------------------------------------------------------

// §3.2.2.3.6: the server announces its Maximum Packet Size (1024) in CONNACK; a packet of
// exactly that size is accepted; a larger one [MQTT-3.2.2-15] is a Packet Too Large error:
// 5.0 gets DISCONNECT 0x95 and the connection is closed [MQTT-4.13.2-1], 3.x is closed; the
// packet is not processed (its message reaches nobody).
TEST_P(LimitsVersionTest, MaxPacketSizeAnnouncedAndEnforced) {
  StartBroker({"--max-packet-size", "1024"});
  const ProtocolVersion v = GetParam();
  ASSERT_OK_AND_ASSIGN(auto watcher, Connect());
  ASSERT_OK(watcher->Subscribe("size/#", Qos::k1));
  ASSERT_OK_AND_ASSIGN(auto c, Connect(Options()));
  if (mqtt::IsV5(v)) {
    ASSERT_TRUE(c->connack()->properties().Has(PropertyId::kMaximumPacketSize)) << *c->connack();
    EXPECT_EQ(c->server().maximum_packet_size, 1024u);
  }
  std::string payload;
  mqtt::Publish fits = PublishOfSize(v, "size/fits", &payload, 1024, 1);
  ASSERT_EQ(mqtt::EncodedSize(fits, v), 1024u);
  ASSERT_OK(c->Send(fits));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket ack, c->AwaitAck(PacketType::kPuback, 1));
  EXPECT_FALSE(mqtt::IsFailure(ack.reason())) << ack;
  ASSERT_OK_AND_ASSIGN(ReceivedPacket m, watcher->ExpectPublish());
  EXPECT_EQ(m.publish().topic, "size/fits");

  std::string big_payload;
  mqtt::Publish big = PublishOfSize(v, "size/big", &big_payload, 1025, 2);
  ASSERT_EQ(mqtt::EncodedSize(big, v), 1025u);
  ASSERT_OK(c->Send(big));
  ASSERT_OK_AND_ASSIGN(CloseResult r, c->WaitForClose(kCloseTimeout));
  EXPECT_TRUE(r.closed) << "a packet over the Maximum Packet Size must close the connection";
  for (const ReceivedPacket& p : r.others) {
    ADD_FAILURE() << "unexpected packet (the big PUBLISH must not be acknowledged): " << p;
  }
  if (mqtt::IsV5(v)) {
    ASSERT_TRUE(r.disconnect.has_value()) << "expected DISCONNECT 0x95";
    EXPECT_EQ(r.disconnect->reason(), ReasonCode::kPacketTooLarge) << *r.disconnect;
  } else {
    EXPECT_FALSE(r.disconnect.has_value());
  }
  EXPECT_OK(watcher->ExpectNoPacket(kQuiet));

  // A packet is too large as soon as its Remaining Length says so: the server does not wait
  // for (or buffer) a body it will refuse.
  ASSERT_OK_AND_ASSIGN(auto d, Connect(Options()));
  ASSERT_OK(d->SendRaw(std::string("\x32\xD0\x0F", 3)));  // PUBLISH QoS 1, 2000 bytes follow
  ASSERT_OK_AND_ASSIGN(CloseResult early, d->WaitForClose(kCloseTimeout));
  EXPECT_TRUE(early.closed) << "the server waited for the body of an oversized packet";
  EXPECT_EQ(early.disconnect.has_value(), mqtt::IsV5(v));
  if (early.disconnect.has_value()) {
    EXPECT_EQ(early.disconnect->reason(), ReasonCode::kPacketTooLarge) << *early.disconnect;
  }
}

// ---- connections ------------------------------------------------------------------------------

// A second broker told to listen on a port the first one uses refuses to start (exit status
// not 0) instead of silently joining the first one's SO_REUSEPORT group and taking a share of
// its connections; the first keeps serving.
TEST_F(LimitsTest, SecondBrokerOnAPortInUseRefusesToStart) {
  const char* exe = std::getenv("RINGMQ_BROKER");
  ASSERT_NE(exe, nullptr) << "RINGMQ_BROKER is not set";
  ASSERT_OK_AND_ASSIGN(auto second,
                       Subprocess::Start({exe, "--listen", absl::StrCat("127.0.0.1:", port()),
                                          "--threads", "1", "--log_level", "warning"}));
  const std::optional<int> status = second->Wait(std::chrono::seconds(20));
  ASSERT_TRUE(status.has_value()) << "the second broker is still running";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0) << "wait status " << *status;
  for (int i = 0; i < 4; ++i) {  // several connections: none may land on the second one
    ASSERT_OK_AND_ASSIGN(auto c, Connect());
    ASSERT_OK(c->Disconnect());
  }
}

// --max-connections 3: while three connections are open a fourth is refused (closed, no
// CONNACK); once one of them closes a new one is accepted again.
TEST_F(LimitsTest, MaxConnections) {
  StartBroker({"--max-connections", "3"});
  std::vector<std::unique_ptr<MqttClient>> open;
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(auto c, Connect());
    open.push_back(std::move(c));
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    SCOPED_TRACE(::testing::Message() << "over the limit, attempt " << attempt);
    ConnectOptions o;
    ASSERT_OK_AND_ASSIGN(auto extra, MqttClient::ConnectRaw(port(), o));
    absl::Status sent = extra->SendConnect(o);  // may fail: the server may have closed already
    EXPECT_TRUE(sent.ok() || absl::IsUnavailable(sent)) << sent;
    ASSERT_OK_AND_ASSIGN(CloseResult r, extra->WaitForClose(kCloseTimeout));
    EXPECT_TRUE(r.closed) << "a fourth connection was kept";
    EXPECT_TRUE(r.others.empty() && !r.disconnect.has_value())
        << "the refused connection got " << (r.others.empty() ? *r.disconnect : r.others[0]);
  }
  for (auto& c : open) {
    EXPECT_OK(c->Ping());  // the three connections are served
  }
  ASSERT_OK(open.back()->Disconnect());
  open.pop_back();
  // The server counts the closed connection out once it has processed the close: retry for a
  // while until a new connection is accepted.
  const Clock::time_point deadline = Clock::now() + milliseconds(3000);
  absl::StatusOr<std::unique_ptr<MqttClient>> again = Connect();
  while (!again.ok() && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
    again = Connect();
  }
  ASSERT_TRUE(again.ok()) << "no connection accepted after one of three closed: " << again.status();
  EXPECT_OK((*again)->Ping());
}

// ---- topic levels
// --------------------------------------------------------------------------------

// --max-topic-levels 3: a PUBLISH to a topic with more levels is refused (well-formed, but not
// accepted): 5.0 QoS 1 gets PUBACK 0x90 (Topic Name invalid), QoS 2 PUBREC 0x90 [MQTT-3.4.2-1,
// MQTT-3.5.2-1]; 3.x gets a plain acknowledgement or is disconnected [MQTT-3.3.5-2 (3.1.1)];
// the message reaches nobody. A SUBSCRIBE gets 0x8F (Topic Filter invalid; 3.x 0x80) for
// such a filter and the granted QoS for the others, in order [MQTT-3.8.4-6/7], [MQTT-3.9.3-1].
// The default level limit lets real users' deep topics through (other brokers accept at least
// 200 levels): a 200-level topic and filter work without any flag. (The default used to be
// 32.) The tries follow topics level by level, so --max-topic-levels keeps their work bounded.
TEST_P(LimitsVersionTest, DefaultTopicLevelsAcceptDeepTopics) {
  std::string deep = "l0";
  for (int i = 1; i < 200; ++i) {
    deep += "/l" + std::to_string(i);
  }
  ASSERT_OK_AND_ASSIGN(auto sub, Connect(Options()));
  ASSERT_OK(SubscribeGranted(*sub, deep.substr(0, deep.rfind('/')) + "/+", Qos::k1));
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(Options()));
  ASSERT_OK(pub->Publish(deep, "deep", Qos::k1));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket m, sub->ExpectPublish());
  EXPECT_EQ(m.publish().topic, deep);
}

TEST_P(LimitsVersionTest, MaxTopicLevels) {
  StartBroker({"--max-topic-levels", "3"});
  const ProtocolVersion v = GetParam();
  const bool v5 = mqtt::IsV5(v);
  ASSERT_OK_AND_ASSIGN(auto watcher, Connect());
  ASSERT_OK(watcher->Subscribe("#", Qos::k2));

  ASSERT_OK_AND_ASSIGN(auto c, Connect(Options()));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket suback, c->Subscribe({{"a/b/c/d", {.max_qos = Qos::k1}},
                                                            {"a/+/c", {.max_qos = Qos::k1}},
                                                            {"x/y/z/#", {.max_qos = Qos::k0}},
                                                            {"+/+/+", {.max_qos = Qos::k2}}}));
  const auto& codes = suback.As<mqtt::Suback>().reasons;
  ASSERT_EQ(codes.size(), 4u);
  const ReasonCode refused = v5 ? ReasonCode::kTopicFilterInvalid : ReasonCode::kUnspecifiedError;
  EXPECT_EQ(codes[0], refused) << suback;
  EXPECT_EQ(codes[1], ReasonCode::kGrantedQos1) << suback;
  EXPECT_EQ(codes[2], refused) << suback;
  EXPECT_EQ(codes[3], ReasonCode::kGrantedQos2) << suback;

  ASSERT_OK_AND_ASSIGN(auto pub, Connect(Options()));
  ASSERT_OK_AND_ASSIGN(PublishResult ok, pub->Publish("a/b/c", "three levels", Qos::k1));
  EXPECT_FALSE(mqtt::IsFailure(ok.reason())) << *ok.puback;
  ASSERT_OK_AND_ASSIGN(ReceivedPacket m, watcher->ExpectPublish());
  EXPECT_EQ(m.publish().topic, "a/b/c");

  for (Qos qos : {Qos::k1, Qos::k2}) {
    SCOPED_TRACE(::testing::Message() << "QoS " << static_cast<int>(qos));
    absl::StatusOr<PublishResult> r = pub->Publish("a/b/c/d", "four levels", qos);
    if (v5) {
      ASSERT_OK(r);
      EXPECT_EQ(r->reason(), ReasonCode::kTopicNameInvalid)
          << (qos == Qos::k1 ? *r->puback : *r->pubrec);
      EXPECT_FALSE(r->pubcomp.has_value()) << "the flow ends at a failing PUBREC [MQTT-4.3.3-9]";
    } else if (!r.ok()) {
      EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();  // disconnected: allowed
      break;
    }
  }
  EXPECT_OK(watcher->ExpectNoPacket(kQuiet));

  // A will topic with too many levels: the CONNECT is refused (5.0: CONNACK 0x90; 3.x has no
  // return code for it and closes, with or without a refusing CONNACK [MQTT-3.2.2-6 (3.1.1)]).
  ConnectOptions wo = Options();
  wo.will = WillOptions{.topic = "w/x/y/z", .payload = "will"};
  ASSERT_OK_AND_ASSIGN(auto w, MqttClient::ConnectRaw(port(), wo));
  ASSERT_OK(w->SendConnect(wo));
  ASSERT_OK_AND_ASSIGN(CloseResult r, w->WaitForClose(kCloseTimeout));
  EXPECT_TRUE(r.closed);
  if (v5) {
    ASSERT_EQ(r.others.size(), 1u);
    EXPECT_EQ(r.others[0].reason(), ReasonCode::kTopicNameInvalid) << r.others[0];
  } else {
    for (const ReceivedPacket& p : r.others) {
      EXPECT_TRUE(p.type() == PacketType::kConnack && mqtt::IsFailure(p.reason())) << p;
    }
  }
}

// ---- slow consumers ----------------------------------------------------------------------------

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

// Resident memory of a process in KiB (VmRSS), -1 if unknown.
long RssKb(pid_t pid) {
  absl::StatusOr<base::ProcessMemory> m = base::ProcessMemoryKb(pid);
  return m.ok() ? static_cast<long>(m->rss_kb) : -1;
}

// --max-output-buffer 64 KiB: a QoS 0 subscriber that stops reading gets its messages dropped
// once its socket buffers and 64 KiB of output are full, counted in
// $SYS/broker/messages/dropped, instead of having all 48 MiB published to it buffered: the
// broker's resident memory grows by far less (not checked under ASan, whose quarantine keeps
// freed memory). The publisher is not slowed down or disconnected. When the subscriber reads
// again it gets an in-order subset of the messages, and then new ones.
TEST_F(LimitsTest, SlowQos0ConsumerBoundedByMaxOutputBuffer) {
  StartBroker({"--max-output-buffer", "65536", "--sys-interval", "1"});
  // The probe shares the slow subscriber's shard (SpreadId(.., 0): shard 0), so once the
  // probe has the barrier message that shard has handled every message published before it.
  ConnectOptions so;
  so.client_id = SpreadId("slow", 0);
  ASSERT_OK_AND_ASSIGN(auto slow, Connect(so));
  ASSERT_OK(slow->Subscribe("slow/t", Qos::k0));
  so.client_id = SpreadId("probe", 0);
  ASSERT_OK_AND_ASSIGN(auto probe, Connect(so));
  ASSERT_OK(probe->Subscribe("slow/barrier", Qos::k0));
  ASSERT_OK_AND_ASSIGN(auto pub, Connect());
  const long rss0 = RssKb(broker_->pid());
  constexpr int kMessages = 3072;
  std::string payload(16 * 1024, 'x');
  for (int i = 0; i < kMessages; ++i) {
    const std::string index = absl::StrFormat("%08d", i);
    payload.replace(0, index.size(), index);
    ASSERT_OK(pub->Publish("slow/t", payload, Qos::k0));
  }
  ASSERT_OK(pub->Publish("slow/barrier", "", Qos::k0));
  ASSERT_OK(probe->ExpectPublish().status());
  const long rss1 = RssKb(broker_->pid());
  if (!kAsan) {
    ASSERT_GT(rss0, 0);
    EXPECT_LT(rss1 - rss0, 16 * 1024) << "KiB of RSS growth for 48 MiB sent to a slow consumer";
  }

  int received = 0;
  int last = -1;
  for (;;) {
    absl::StatusOr<ReceivedPacket> m = slow->ExpectPublish(std::chrono::seconds(1));
    if (!m.ok()) {
      break;
    }
    int index = -1;
    ASSERT_TRUE(absl::SimpleAtoi(base::ToAbsl(m->publish().payload.substr(0, 8)), &index)) << *m;
    EXPECT_GT(index, last) << "out of order";
    last = index;
    ++received;
  }
  EXPECT_GT(received, 0);
  EXPECT_LT(received, kMessages);
  // Every message not received is counted as dropped. $SYS is a snapshot published every
  // second: wait (bounded) for the one that has them all.
  const uint64_t not_received = static_cast<uint64_t>(kMessages - received);
  ASSERT_OK_AND_ASSIGN(auto mon, Connect());
  ASSERT_OK(mon->Subscribe("$SYS/broker/messages/dropped", Qos::k0));
  uint64_t dropped = 0;
  for (int attempt = 0; attempt < 5 && dropped != not_received; ++attempt) {
    ASSERT_OK_AND_ASSIGN(ReceivedPacket m, mon->ExpectPublish(std::chrono::seconds(3)));
    ASSERT_TRUE(absl::SimpleAtoi(base::ToAbsl(m.publish().payload), &dropped)) << m;
  }
  EXPECT_EQ(dropped, not_received);
  ASSERT_OK(pub->Publish("slow/t", "after", Qos::k0));
  ASSERT_OK_AND_ASSIGN(ReceivedPacket after, slow->ExpectPublish());
  EXPECT_EQ(after.publish().payload, "after");
}

// ---- queued messages
// -------------------------------------------------------------------------------

// --max-queued-messages 5 with an offline persistent QoS 1 subscriber: the first five
// messages are queued for it [MQTT-4.5.0-1], further ones are dropped for it; a 5.0 publisher
// is told "Quota exceeded" (PUBACK 0x97) when no subscriber could take the message, and
// success when another (online) subscriber took it. On reconnection exactly the first five
// arrive, in order [MQTT-4.6.0-5].
TEST_P(LimitsVersionTest, MaxQueuedMessages) {
  StartBroker({"--max-queued-messages", "5"});
  const ProtocolVersion v = GetParam();
  ConnectOptions so = Options();
  so.client_id = "queued";
  so.clean_start = false;
  if (mqtt::IsV5(v)) {
    so.properties.SetSessionExpiryInterval(300);
  }
  {
    ASSERT_OK_AND_ASSIGN(auto sub, Connect(so));
    ASSERT_OK(sub->Subscribe("queue/t", Qos::k1));
    ASSERT_OK(sub->Disconnect());
  }
  ASSERT_OK_AND_ASSIGN(auto pub, Connect(Options()));
  for (int i = 0; i < 8; ++i) {
    SCOPED_TRACE(::testing::Message() << "message " << i);
    ASSERT_OK_AND_ASSIGN(PublishResult r,
                         pub->Publish("queue/t", "m" + std::to_string(i), Qos::k1));
    if (mqtt::IsV5(v)) {
      EXPECT_EQ(r.reason(), i < 5 ? ReasonCode::kSuccess : ReasonCode::kQuotaExceeded) << *r.puback;
    } else {
      EXPECT_EQ(r.reason(), ReasonCode::kSuccess) << *r.puback;
    }
  }
  {
    ASSERT_OK_AND_ASSIGN(auto online, Connect(Options()));
    ASSERT_OK(online->Subscribe("queue/t", Qos::k1));
    ASSERT_OK_AND_ASSIGN(PublishResult r, pub->Publish("queue/t", "m8", Qos::k1));
    EXPECT_EQ(r.reason(), ReasonCode::kSuccess) << "the online subscriber took it: " << *r.puback;
    ASSERT_OK_AND_ASSIGN(ReceivedPacket m, online->ExpectPublish());
    EXPECT_EQ(m.publish().payload, "m8");
  }
  ASSERT_OK_AND_ASSIGN(auto sub, Connect(so));
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(ReceivedPacket m, sub->ExpectPublish());
    EXPECT_EQ(m.publish().payload, "m" + std::to_string(i)) << m;
  }
  EXPECT_OK(sub->ExpectNoPacket(kQuiet));
}

// --max-queued-messages counts the messages waiting beyond the in-flight window of an online
// client too: with Receive Maximum 1 and nothing acknowledged, one message is in flight, five
// wait, and the rest are refused (5.0 publisher: PUBACK 0x97); acknowledging then delivers
// exactly the six, in order [MQTT-4.6.0-5], each after the previous one's PUBACK
// [MQTT-3.3.4-9].
TEST_F(LimitsTest, V5MaxQueuedMessagesBeyondInflightWindow) {
  StartBroker({"--max-queued-messages", "5"});
  ConnectOptions so;
  so.auto_ack = false;
  so.properties.SetReceiveMaximum(1);
  ASSERT_OK_AND_ASSIGN(auto sub, Connect(so));
  ASSERT_OK(sub->Subscribe("window/t", Qos::k1));
  ASSERT_OK_AND_ASSIGN(auto pub, Connect());
  for (int i = 0; i < 8; ++i) {
    SCOPED_TRACE(::testing::Message() << "message " << i);
    ASSERT_OK_AND_ASSIGN(PublishResult r,
                         pub->Publish("window/t", "m" + std::to_string(i), Qos::k1));
    EXPECT_EQ(r.reason(), i < 6 ? ReasonCode::kSuccess : ReasonCode::kQuotaExceeded) << *r.puback;
  }
  for (int i = 0; i < 6; ++i) {
    ASSERT_OK_AND_ASSIGN(ReceivedPacket m, sub->ExpectPublish());
    EXPECT_EQ(m.publish().payload, "m" + std::to_string(i)) << m;
    ASSERT_OK(sub->Send(mqtt::Puback{.packet_id = m.publish().packet_id}));
  }
  EXPECT_OK(sub->ExpectNoPacket(kQuiet));
}

// ---- Receive Maximum (server side)
// -------------------------------------------------------------------

// §3.2.2.3.3: the server announces its Receive Maximum (--max-inflight 2) in CONNACK;
// [MQTT-3.3.4-7] a client with more unacknowledged QoS 2 PUBLISHes than that (no PUBREL sent,
// so the first two are still unacknowledged) is disconnected with 0x93 (Receive Maximum
// exceeded) [MQTT-4.13.2-1]. A client that stays within it, with PUBCOMP returning quota
// [MQTT-4.9.0-2], is served.
TEST_F(LimitsTest, V5ReceiveMaximumExceededQos2) {
  StartBroker({"--max-inflight", "2"});
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect());
    EXPECT_EQ(c->server().receive_maximum, 2);
    for (uint16_t id = 1; id <= 2; ++id) {
      ASSERT_OK(
          c->Send(mqtt::Publish{.topic = "rm/t", .payload = "x", .qos = Qos::k2, .packet_id = id}));
      ASSERT_OK_AND_ASSIGN(ReceivedPacket rec, c->AwaitAck(PacketType::kPubrec, id));
      EXPECT_FALSE(mqtt::IsFailure(rec.reason())) << rec;
    }
    // Completing one returns its quota: a third is then within the limit.
    ASSERT_OK(c->Send(mqtt::Pubrel{.packet_id = 1}));
    ASSERT_OK(c->AwaitAck(PacketType::kPubcomp, 1));
    ASSERT_OK(
        c->Send(mqtt::Publish{.topic = "rm/t", .payload = "x", .qos = Qos::k2, .packet_id = 3}));
    ASSERT_OK_AND_ASSIGN(ReceivedPacket rec, c->AwaitAck(PacketType::kPubrec, 3));
    EXPECT_FALSE(mqtt::IsFailure(rec.reason())) << rec;
    EXPECT_OK(c->Ping());
  }
  ASSERT_OK_AND_ASSIGN(auto c, Connect());
  for (uint16_t id = 1; id <= 3; ++id) {
    ASSERT_OK(
        c->Send(mqtt::Publish{.topic = "rm/t", .payload = "x", .qos = Qos::k2, .packet_id = id}));
  }
  ASSERT_OK_AND_ASSIGN(CloseResult r, c->WaitForClose(kCloseTimeout));
  EXPECT_TRUE(r.closed);
  ASSERT_TRUE(r.disconnect.has_value()) << "expected DISCONNECT 0x93";
  EXPECT_EQ(r.disconnect->reason(), ReasonCode::kReceiveMaximumExceeded) << *r.disconnect;
  for (const ReceivedPacket& p : r.others) {
    EXPECT_TRUE(p.type() == PacketType::kPubrec && p.As<mqtt::Pubrec>().packet_id <= 2) << p;
  }
}

// The client that exceeds Receive Maximum goes on sending (it has not read anything yet):
// it must still be able to read the DISCONNECT 0x93 [MQTT-4.13.2-1]. The broker closes
// lingeringly: it shuts down its write side after the DISCONNECT and reads and discards what
// the client still sends, so the client's sends do not fail and nothing it has not read is
// destroyed by a reset. (The client used to get a broken pipe instead of the reason.)
TEST_F(LimitsTest, V5DisconnectIsReadableWhileTheClientStillSends) {
  StartBroker({"--max-inflight", "2"});
  ConnectOptions o;
  o.auto_ack = false;
  ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
  std::string bytes;
  for (uint16_t id = 1; id <= 3; ++id) {
    mqtt::AppendEncoded(
        mqtt::Publish{.topic = "rm/t", .payload = "x", .qos = Qos::k2, .packet_id = id},
        ProtocolVersion::kMqtt5, &bytes);
  }
  ASSERT_OK(c->SendRaw(bytes));
  const std::string more =
      mqtt::EncodeToString(mqtt::Publish{.topic = "rm/t", .payload = std::string(16 << 10, 'z')},
                           ProtocolVersion::kMqtt5);
  for (int i = 0; i < 40; ++i) {
    SCOPED_TRACE(::testing::Message() << "send " << i << " after the limit was exceeded");
    ASSERT_OK(c->SendRaw(more));
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_OK_AND_ASSIGN(CloseResult r, c->WaitForClose(kCloseTimeout));
  EXPECT_TRUE(r.closed);
  EXPECT_FALSE(r.reset) << "closed with a reset";
  ASSERT_TRUE(r.disconnect.has_value()) << "expected DISCONNECT 0x93";
  EXPECT_EQ(r.disconnect->reason(), ReasonCode::kReceiveMaximumExceeded) << *r.disconnect;
}

// [MQTT-3.3.4-7] the same with QoS 1 (auto_ack on, three PUBLISHes sent without waiting, the
// server's PUBACK decisions held back by --debug-defer-ms so that the first two are still
// unacknowledged when the third arrives): DISCONNECT 0x93. Sequential QoS 1 PUBLISHes that wait
// for their PUBACK stay within the limit.
TEST_F(LimitsTest, V5ReceiveMaximumExceededQos1) {
  StartBroker({"--max-inflight", "2", "--debug-defer-ms", "300"});
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect());
    for (int i = 0; i < 4; ++i) {
      ASSERT_OK_AND_ASSIGN(PublishResult r, c->Publish("rm/t", "in turn", Qos::k1));
      EXPECT_FALSE(mqtt::IsFailure(r.reason())) << *r.puback;
    }
  }
  ASSERT_OK_AND_ASSIGN(auto c, Connect());
  std::string bytes;
  for (uint16_t id = 1; id <= 3; ++id) {
    mqtt::AppendEncoded(
        mqtt::Publish{.topic = "rm/t", .payload = "x", .qos = Qos::k1, .packet_id = id},
        ProtocolVersion::kMqtt5, &bytes);
  }
  ASSERT_OK(c->SendRaw(bytes));
  ASSERT_OK_AND_ASSIGN(CloseResult r, c->WaitForClose(kCloseTimeout));
  EXPECT_TRUE(r.closed);
  ASSERT_TRUE(r.disconnect.has_value()) << "expected DISCONNECT 0x93";
  EXPECT_EQ(r.disconnect->reason(), ReasonCode::kReceiveMaximumExceeded) << *r.disconnect;
}

// [MQTT-3.3.4-7] Receive Maximum counts the session's QoS 2 flows still waiting for PUBREL,
// also those from an earlier connection of a resumed session (the client keeps them in its
// session state and must complete them [MQTT-4.4.0-1]). With --max-inflight 3: three QoS 2
// PUBLISHes left unreleased, the connection lost, the session resumed: a fourth new QoS 2
// PUBLISH exceeds the limit (DISCONNECT 0x93); releasing one of the old ones first makes
// room. (The count used to start again at 0 on each connection, so a client could hold any
// number of unreleased ids across reconnections.)
TEST_F(LimitsTest, V5ReceiveMaximumCountsUnreleasedQos2AcrossReconnection) {
  StartBroker({"--max-inflight", "3"});
  ConnectOptions o = Persistent(ProtocolVersion::kMqtt5, SpreadId("unreleased", 0));
  o.auto_ack = false;
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
    for (uint16_t id = 1; id <= 3; ++id) {
      ASSERT_OK(
          c->Send(mqtt::Publish{.topic = "rm/t", .payload = "x", .qos = Qos::k2, .packet_id = id}));
      ASSERT_OK(c->AwaitAck(PacketType::kPubrec, id));
    }
    c->ResetSocket();
  }
  o.clean_start = false;
  {
    ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
    ASSERT_TRUE(c->server().session_present);
    ASSERT_OK(c->Send(mqtt::Pubrel{.packet_id = 1}));  // completes one old flow
    ASSERT_OK(c->AwaitAck(PacketType::kPubcomp, 1));
    ASSERT_OK(
        c->Send(mqtt::Publish{.topic = "rm/t", .payload = "x", .qos = Qos::k2, .packet_id = 4}));
    ASSERT_OK(c->AwaitAck(PacketType::kPubrec, 4));  // 2, 3 and 4 unreleased: within 3
    ASSERT_OK(
        c->Send(mqtt::Publish{.topic = "rm/t", .payload = "x", .qos = Qos::k2, .packet_id = 5}));
    ASSERT_OK_AND_ASSIGN(CloseResult r, c->WaitForClose(kCloseTimeout));
    EXPECT_TRUE(r.closed);
    ASSERT_TRUE(r.disconnect.has_value()) << "expected DISCONNECT 0x93";
    EXPECT_EQ(r.disconnect->reason(), ReasonCode::kReceiveMaximumExceeded) << *r.disconnect;
  }
}

// A 3.x client is told no Receive Maximum, but the QoS 2 packet ids it leaves unreleased are
// state it makes on the broker: bounded by --max-unreleased-qos2-v3 (default 1000). One more
// closes the connection (3.x has no reason code for it). Below the bound nothing changes.
// (The ids used to accumulate without bound, each PUBLISH scanning them all.)
TEST_P(LimitsVersionTest, V3UnreleasedQos2IdsAreBounded) {
  if (mqtt::IsV5(GetParam())) {
    GTEST_SKIP() << "5.0 is bounded by Receive Maximum";
  }
  StartBroker({"--max-unreleased-qos2-v3", "50"});
  ConnectOptions o = VersionOptions(GetParam());
  o.auto_ack = false;
  ASSERT_OK_AND_ASSIGN(auto c, Connect(o));
  std::string bytes;
  for (uint16_t id = 1; id <= 50; ++id) {
    mqtt::AppendEncoded(
        mqtt::Publish{.topic = "rm/t", .payload = "x", .qos = Qos::k2, .packet_id = id}, GetParam(),
        &bytes);
  }
  ASSERT_OK(c->SendRaw(bytes));
  ASSERT_OK(c->AwaitAck(PacketType::kPubrec, 50));
  EXPECT_OK(c->Ping());
  ASSERT_OK(
      c->Send(mqtt::Publish{.topic = "rm/t", .payload = "x", .qos = Qos::k2, .packet_id = 51}));
  ASSERT_OK_AND_ASSIGN(CloseResult r, c->WaitForClose(kCloseTimeout));
  EXPECT_TRUE(r.closed);
  EXPECT_FALSE(r.disconnect.has_value());
}

INSTANTIATE_TEST_SUITE_P(All, LimitsVersionTest, RINGMQ_ALL_VERSIONS, VersionName);

}  // namespace
}  // namespace ringmq::testing
