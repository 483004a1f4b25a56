// Broker integration tests: routing across the broker's two shards. A client's session lives
// on shard hash(client id) mod 2 and a publish is routed to the other shard through its
// mailbox; these tests use fixed client ids spread over both shards (SpreadIds) and check
// every publisher/subscriber pair, so that same-shard and cross-shard pairs are both covered.
// Tests named "..._defer" run the broker with --debug-defer-ms 50 (every PUBACK/PUBREC held).
//
// Statement ids are named per test; the list is in /work/shared/mqtt-normative.md.
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

#include "core/mqtt/packets.h"
#include "core/mqtt/properties.h"
#include "tests/broker/broker_test_base.h"
#include "tests/broker/pubsub_test_util.h"
#include "tests/testing/mqtt_client.h"
#include "tests/testing/status_macros.h"

namespace ringmq::testing {
namespace {

using mqtt::ProtocolVersion;
using mqtt::Qos;
using mqtt::ReasonCode;

// ---- QoS x version x deferral ------------------------------------------------------------------

class MultiShardTest
    : public BrokerTest,
      public ::testing::WithParamInterface<std::tuple<ProtocolVersion, Qos, bool>> {
 protected:
  void SetUp() override { StartBroker(DeferArgs(defer())); }
  ProtocolVersion version() const { return std::get<0>(GetParam()); }
  Qos qos() const { return std::get<1>(GetParam()); }
  bool defer() const { return std::get<2>(GetParam()); }
  ConnectOptions Options() const { return VersionOptions(version()); }
};

std::string MultiShardName(
    const ::testing::TestParamInfo<std::tuple<ProtocolVersion, Qos, bool>>& info) {
  std::string name =
      VersionName(::testing::TestParamInfo<ProtocolVersion>(std::get<0>(info.param), info.index));
  name += absl::StrFormat("_qos%d", static_cast<int>(std::get<1>(info.param)));
  return std::get<2>(info.param) ? name + "_defer" : name;
}

INSTANTIATE_TEST_SUITE_P(
    Pairs, MultiShardTest,
    ::testing::Combine(::testing::Values(ProtocolVersion::kMqtt311, ProtocolVersion::kMqtt5),
                       ::testing::Values(Qos::k0, Qos::k1, Qos::k2), ::testing::Bool()),
    MultiShardName);

// 8 publishers and 8 subscribers spread over both shards; every subscriber subscribes to every
// publisher's topic; the publishers publish interleaved. Every subscriber gets every message
// exactly once ([MQTT-4.3.3-10] for QoS 2; no redelivery happens here, so QoS 1 has no reason
// for a duplicate either; QoS 0 on an idle loopback loses nothing), at the published QoS, and
// each publisher's messages in order [MQTT-4.6.0-5].
TEST_P(MultiShardTest, EveryPairDeliversExactlyOnceInOrder) {
  constexpr int kEach = 20;
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("sub", 8), Options()));
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 8), Options()));
  ASSERT_OK(SubscribeAll(subs, {Entry("pairs/+", Qos::k2)}));
  // Interleaved: message k of every publisher before message k + 1 of any; each publisher
  // pipelines its batch (the acknowledgements of a batch are awaited together).
  for (int k = 0; k < kEach; k += 5) {
    for (auto& p : pubs) {
      std::vector<std::pair<std::string, std::string>> batch;
      for (int j = k; j < k + 5; ++j) {
        batch.emplace_back("pairs/" + p->client_id(), absl::StrFormat("%s %d", p->client_id(), j));
      }
      ASSERT_OK_AND_ASSIGN(auto reasons, PublishMany(*p, batch, qos()));
      for (ReasonCode rc : reasons) {
        EXPECT_EQ(rc, ReasonCode::kSuccess);
      }
    }
  }
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, kEach * pubs.size()));
    std::map<std::string, int> next;  // publisher -> next expected index
    for (const ReceivedPacket& m : got) {
      const std::string payload(m.publish().payload);
      const std::string from = payload.substr(0, payload.find(' '));
      const int index = std::stoi(payload.substr(payload.find(' ') + 1));
      EXPECT_EQ(m.publish().topic, "pairs/" + from);
      EXPECT_EQ(m.publish().qos, qos());
      EXPECT_FALSE(m.publish().dup);
      EXPECT_EQ(index, next[from]) << "out of order or duplicated: " << m;
      next[from] = index + 1;
    }
    EXPECT_EQ(next.size(), pubs.size());
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// Messages fanned out to 50 subscribers on both shards, from a publisher on each shard, small
// and large (above the size from which the broker shares one encoding among receivers and
// stamps each receiver's packet id into its own header): each subscriber gets exactly one copy
// of each, intact, at the published QoS, with a packet id of its own [MQTT-2.2.1-4]; 5.0
// PUBACK/PUBREC 0x00.
TEST_P(MultiShardTest, FanOutToFiftySubscribers) {
  ASSERT_OK_AND_ASSIGN(auto subs, ConnectAll(port(), SpreadIds("fan", 50), Options()));
  ASSERT_OK(SubscribeAll(subs, {Entry("fan/t", Qos::k2)}));
  ASSERT_OK_AND_ASSIGN(auto pubs, ConnectAll(port(), SpreadIds("pub", 2), Options()));
  std::set<std::string> sent;
  for (auto& p : pubs) {
    std::string large = "large from " + p->client_id() + ":";
    for (int i = 0; large.size() < 5000; ++i) {
      large += static_cast<char>('a' + i % 26);
    }
    for (const std::string& payload : {"small from " + p->client_id(), large}) {
      ASSERT_OK_AND_ASSIGN(PublishResult r, p->Publish("fan/t", payload, qos()));
      EXPECT_EQ(r.reason(), ReasonCode::kSuccess);
      if (qos() == Qos::k2) {
        EXPECT_EQ(r.pubrec->reason(), ReasonCode::kSuccess);
      }
      sent.insert(payload);
    }
  }
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, sent.size()));
    std::set<std::string> payloads;
    std::set<uint16_t> ids;
    for (const ReceivedPacket& m : got) {
      EXPECT_EQ(m.publish().qos, qos());
      EXPECT_FALSE(m.publish().dup);
      payloads.insert(std::string(m.publish().payload));
      ids.insert(m.publish().packet_id);
    }
    EXPECT_EQ(payloads, sent);
    if (qos() != Qos::k0) {
      EXPECT_EQ(ids.size(), sent.size());
      EXPECT_FALSE(ids.contains(0));
    }
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

// ---- mixed versions
// ------------------------------------------------------------------------------

class MixedVersionTest : public BrokerTest {};

// Subscribers and publishers of 3.1.1 and 5.0 on both shards, every combination: every
// subscriber gets every message once. 5.0 subscribers get the 5.0 publishers' properties
// [MQTT-3.3.2-17/18/20]; 3.1.1 subscribers get plain 3.1.1 PUBLISHes (their decoder rejects
// anything else); RETAIN follows each subscriber's rules ([MQTT-3.3.1-9 (3.1.1)]: 0;
// [MQTT-3.3.1-13]: as published with Retain As Published).
TEST_F(MixedVersionTest, SubscriberAndPublisherOfEitherVersionOnEitherShard) {
  std::vector<std::unique_ptr<MqttClient>> subs;
  std::vector<std::unique_ptr<MqttClient>> pubs;
  for (ProtocolVersion v : {ProtocolVersion::kMqtt311, ProtocolVersion::kMqtt5}) {
    const std::string tag = mqtt::IsV5(v) ? "v5" : "v311";
    ASSERT_OK_AND_ASSIGN(auto s, ConnectAll(port(), SpreadIds(tag + "sub", 4), VersionOptions(v)));
    ASSERT_OK_AND_ASSIGN(auto p, ConnectAll(port(), SpreadIds(tag + "pub", 4), VersionOptions(v)));
    for (auto& c : s) {
      subs.push_back(std::move(c));
    }
    for (auto& c : p) {
      pubs.push_back(std::move(c));
    }
  }
  for (auto& s : subs) {
    ASSERT_OK(SubscribeGranted(*s, {Entry("mixed/#", Qos::k1, false, /*rap=*/true)}));
  }
  for (auto& p : pubs) {
    PublishOptions o;
    o.qos = Qos::k1;
    o.retain = true;
    if (mqtt::IsV5(p->version())) {
      o.properties.SetContentType("text/plain");
      o.user_properties = {{"from", p->client_id()}, {"n", "1"}};
    }
    ASSERT_OK_AND_ASSIGN(PublishResult r, p->Publish("mixed/" + p->client_id(), p->client_id(), o));
    EXPECT_EQ(r.reason(), ReasonCode::kSuccess);
  }
  for (auto& s : subs) {
    SCOPED_TRACE(s->client_id());
    ASSERT_OK_AND_ASSIGN(auto got, ExpectPublishes(*s, pubs.size()));
    std::set<std::string> from;
    for (const ReceivedPacket& m : got) {
      const std::string publisher(m.publish().payload);
      from.insert(publisher);
      EXPECT_EQ(m.publish().topic, "mixed/" + publisher);
      EXPECT_EQ(m.publish().retain, mqtt::IsV5(s->version())) << m;
      const bool from_v5 = publisher.starts_with("v5");
      if (mqtt::IsV5(s->version()) && from_v5) {
        EXPECT_EQ(m.properties().content_type, "text/plain") << m;
        EXPECT_EQ(m.user_properties(), (UserProperties{{"from", publisher}, {"n", "1"}}));
      } else {
        EXPECT_TRUE(m.user_properties().empty()) << m;
        EXPECT_FALSE(m.properties().Has(mqtt::PropertyId::kContentType)) << m;
      }
    }
    EXPECT_EQ(from.size(), pubs.size());
  }
  EXPECT_OK(ExpectAllQuiet(Raw(subs)));
}

}  // namespace
}  // namespace ringmq::testing
