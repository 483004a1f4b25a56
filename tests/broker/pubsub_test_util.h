// Helpers shared by the publish/subscribe integration tests (publish_test, subscribe_test,
// retained_test, v5_features_test, shared_test, sys_test, multishard_test).
//
// Shards. The broker under test runs two shards and a client's session lives on its home
// shard, HomeShard(client id, 2) (core/broker/shard_hash.h). Tests that must cross shards use
// client ids from SpreadIds(): the i-th id lives on shard i mod 2, so any two neighbours are on
// different shards. Tests assert for every id and every publisher/subscriber pair, so both
// same-shard and cross-shard pairs are covered.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

#include "core/broker/shard_hash.h"
#include "core/mqtt/packets.h"
#include "core/mqtt/properties.h"
#include "core/mqtt/reason_code.h"
#include "tests/broker/broker_test_base.h"
#include "tests/testing/mqtt_client.h"
#include "tests/testing/spread_id.h"

namespace ringmq::mqtt {

// Readable reason codes and QoS in GoogleTest failure messages.
inline void PrintTo(ReasonCode rc, std::ostream* os) {
  *os << absl::StrFormat("0x%02X (%s)", static_cast<unsigned>(rc), ReasonCodeName(rc));
}
inline void PrintTo(Qos q, std::ostream* os) {
  *os << "QoS " << static_cast<int>(q);
}
inline void PrintTo(ProtocolVersion v, std::ostream* os) {
  *os << ProtocolVersionName(v);
}
inline void PrintTo(PacketType t, std::ostream* os) {
  *os << PacketTypeName(t);
}

}  // namespace ringmq::mqtt

namespace ringmq::testing {

using std::chrono::milliseconds;

inline ConnectOptions V5(std::optional<std::string> client_id = std::nullopt) {
  return VersionOptions(mqtt::ProtocolVersion::kMqtt5, std::move(client_id));
}

// The broker arguments of a run with every SUBACK and PUBACK/PUBREC decision held for 50 ms
// (--debug-defer-ms), the way a store or an authorisation plugin will hold them, or none.
inline std::vector<std::string> DeferArgs(bool defer) {
  if (!defer) {
    return {};
  }
  return {"--debug-defer-ms", "50"};
}

// Fixture for tests run twice, parameter false ("direct") and true ("defer", see DeferArgs).
class DeferBrokerTest : public BrokerTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override { StartBroker(DeferArgs(GetParam())); }
};
inline std::string DeferParamName(const ::testing::TestParamInfo<bool>& i) {
  return i.param ? std::string("defer") : std::string("direct");
}

// Every filter-matching rule at once: [MQTT-4.7.1-1], [MQTT-4.7.1-2] ("a/#" includes "a"; '+'
// matches an empty level), [MQTT-4.7.2-1] (no '$' topics for a leading wildcard),
// [MQTT-4.7.3-4] (no case folding). kMatchingTopics are published; each case names a filter
// and exactly the topics of kMatchingTopics it must receive.
inline const std::vector<std::string>& MatchingTopics() {
  static const auto* const topics = new std::vector<std::string>{
      "a",     "a/b",     "a/b/c",   "ab",      "b/a", "a/", "/b", "a//c",
      "a/b/d", "a/b/c/d", "x/b/c/d", "$test/x", "A/b", "/",  "b/x"};
  return *topics;
}
inline const std::vector<std::pair<std::string, std::set<std::string>>>& MatchingCases() {
  static const auto* const cases = new std::vector<std::pair<std::string, std::set<std::string>>>{
      {"a/#", {"a", "a/b", "a/b/c", "a/", "a//c", "a/b/d", "a/b/c/d"}},
      {"a/+", {"a/b", "a/"}},
      {"+/+", {"a/b", "b/a", "a/", "/b", "A/b", "/", "b/x"}},
      {"+", {"a", "ab"}},
      {"#",
       {"a", "a/b", "a/b/c", "ab", "b/a", "a/", "/b", "a//c", "a/b/d", "a/b/c/d", "x/b/c/d", "A/b",
        "/", "b/x"}},
      {"a/+/c", {"a/b/c", "a//c"}},
      {"+/b/#", {"a/b", "a/b/c", "/b", "a/b/d", "a/b/c/d", "x/b/c/d", "A/b"}},
      {"$test/#", {"$test/x"}},
      {"$test/+", {"$test/x"}},
      {"+/x", {"b/x"}},
      {"A/b", {"A/b"}},
      {"a/b", {"a/b"}},
      {"a/+/#", {"a/b", "a/b/c", "a/", "a//c", "a/b/d", "a/b/c/d"}},
  };
  return *cases;
}

inline SubscribeEntry Entry(std::string filter, mqtt::Qos qos, bool no_local = false,
                            bool retain_as_published = false,
                            mqtt::RetainHandling rh = mqtt::RetainHandling::kSendOnSubscribe) {
  SubscribeEntry e;
  e.filter = std::move(filter);
  e.options.max_qos = qos;
  e.options.no_local = no_local;
  e.options.retain_as_published = retain_as_published;
  e.options.retain_handling = rh;
  return e;
}

// One client per id, all with `base` options (client_id replaced). The CONNECTs are sent
// first and the CONNACKs awaited after, so a broker that holds its decisions (as with
// --debug-defer-ms) costs one delay, not one per client.
inline absl::StatusOr<std::vector<std::unique_ptr<MqttClient>>> ConnectAll(
    uint16_t port, const std::vector<std::string>& ids, ConnectOptions base) {
  std::vector<std::unique_ptr<MqttClient>> out;
  for (const std::string& id : ids) {
    base.client_id = id;
    absl::StatusOr<std::unique_ptr<MqttClient>> c = MqttClient::ConnectRaw(port, base);
    if (!c.ok()) {
      return absl::Status(c.status().code(),
                          absl::StrFormat("connecting %s: %s", id, c.status().message()));
    }
    if (absl::Status s = (*c)->SendConnect(base); !s.ok()) {
      return absl::Status(s.code(), absl::StrFormat("CONNECT of %s: %s", id, s.message()));
    }
    out.push_back(std::move(*c));
  }
  for (auto& c : out) {
    absl::StatusOr<ReceivedPacket> ack = c->AwaitConnack(base.timeout);
    if (!ack.ok()) {
      return absl::Status(ack.status().code(), absl::StrFormat("CONNACK for %s: %s", c->client_id(),
                                                               ack.status().message()));
    }
    if (c->server().reason != mqtt::ReasonCode::kSuccess) {
      return absl::FailedPreconditionError(
          absl::StrFormat("%s refused: %s", c->client_id(), ack->DebugString()));
    }
  }
  return out;
}

// SUBSCRIBE `entries` on every client (all sent first, then every SUBACK awaited); fails
// unless every filter was granted the QoS asked.
inline absl::Status SubscribeAll(const std::vector<std::unique_ptr<MqttClient>>& clients,
                                 const std::vector<SubscribeEntry>& entries) {
  std::vector<uint16_t> ids;
  for (const auto& c : clients) {
    mqtt::Subscribe sub;
    sub.packet_id = c->NextPacketId();
    for (const SubscribeEntry& e : entries) {
      sub.subscriptions.push_back({e.filter, e.options});
    }
    if (absl::Status s = c->Send(sub); !s.ok()) {
      return s;
    }
    ids.push_back(sub.packet_id);
  }
  for (size_t i = 0; i < clients.size(); ++i) {
    absl::StatusOr<ReceivedPacket> ack = clients[i]->AwaitAck(mqtt::PacketType::kSuback, ids[i]);
    if (!ack.ok()) {
      return ack.status();
    }
    const auto& reasons = ack->As<mqtt::Suback>().reasons;
    for (size_t k = 0; k < entries.size(); ++k) {
      if (k >= reasons.size() ||
          static_cast<uint8_t>(reasons[k]) != static_cast<uint8_t>(entries[k].options.max_qos)) {
        return absl::InternalError(absl::StrFormat(
            "%s: %s: filter %s not granted QoS %d", clients[i]->client_id(), ack->DebugString(),
            entries[k].filter, static_cast<int>(entries[k].options.max_qos)));
      }
    }
  }
  return absl::OkStatus();
}

// A SUBACK's reason codes.
inline std::vector<mqtt::ReasonCode> SubackCodes(const ReceivedPacket& p) {
  const auto& r = p.As<mqtt::Suback>().reasons;
  return {r.begin(), r.end()};
}
inline std::vector<mqtt::ReasonCode> UnsubackCodes(const ReceivedPacket& p) {
  const auto& r = p.As<mqtt::Unsuback>().reasons;
  return {r.begin(), r.end()};
}

// The Subscription Identifiers of a received PUBLISH, in wire order.
inline std::vector<uint32_t> SubscriptionIds(const ReceivedPacket& p) {
  std::vector<uint32_t> ids;
  for (uint32_t id : p.properties().subscription_ids) {
    ids.push_back(id);
  }
  return ids;
}

// Subscribe() that fails unless every filter was granted the QoS asked.
inline absl::Status SubscribeGranted(MqttClient& c, const std::vector<SubscribeEntry>& entries,
                                     const PacketOptions& options = {}) {
  absl::StatusOr<ReceivedPacket> ack = c.Subscribe(entries, options);
  if (!ack.ok()) {
    return ack.status();
  }
  const auto& reasons = ack->As<mqtt::Suback>().reasons;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (static_cast<uint8_t>(reasons[i]) != static_cast<uint8_t>(entries[i].options.max_qos)) {
      return absl::InternalError(absl::StrFormat("%s: filter %s not granted QoS %d",
                                                 ack->DebugString(), entries[i].filter,
                                                 static_cast<int>(entries[i].options.max_qos)));
    }
  }
  return absl::OkStatus();
}
inline absl::Status SubscribeGranted(MqttClient& c, std::string filter, mqtt::Qos qos) {
  return SubscribeGranted(c, {Entry(std::move(filter), qos)});
}

// The next `n` packets, each of which must be a PUBLISH, within `timeout` altogether.
inline absl::StatusOr<std::vector<ReceivedPacket>> ExpectPublishes(
    MqttClient& c, size_t n, milliseconds timeout = kDefaultTimeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<ReceivedPacket> out;
  while (out.size() < n) {
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    absl::StatusOr<ReceivedPacket> p = c.ExpectPublish(std::max(left, milliseconds(1)));
    if (!p.ok()) {
      return absl::Status(p.status().code(),
                          absl::StrFormat("%s: PUBLISH %u of %u: %s", c.client_id(), out.size() + 1,
                                          n, p.status().message()));
    }
    out.push_back(*p);
  }
  return out;
}

// Publishes (topic, payload) pairs at `qos`, pipelined: up to `window` PUBLISHes wait for their
// PUBACK/PUBREC at once (so a broker that holds acknowledgements, as with --debug-defer-ms,
// costs one delay per window, not per message), and completes every flow (PUBREL/PUBCOMP).
// Returns the PUBACK (QoS 1) or PUBREC (QoS 2) reason code of each message, in order; an
// error if a PUBCOMP is not Success.
inline absl::StatusOr<std::vector<mqtt::ReasonCode>> PublishMany(
    MqttClient& c, const std::vector<std::pair<std::string, std::string>>& messages, mqtt::Qos qos,
    size_t window = 32) {
  std::vector<mqtt::ReasonCode> reasons;
  std::deque<uint16_t> await_ack;
  std::deque<uint16_t> await_comp;
  auto complete_oldest = [&]() -> absl::Status {
    const uint16_t id = await_ack.front();
    await_ack.pop_front();
    if (qos == mqtt::Qos::k1) {
      absl::StatusOr<ReceivedPacket> ack = c.AwaitAck(mqtt::PacketType::kPuback, id);
      if (!ack.ok()) {
        return ack.status();
      }
      reasons.push_back(ack->reason());
      return absl::OkStatus();
    }
    absl::StatusOr<ReceivedPacket> rec = c.AwaitAck(mqtt::PacketType::kPubrec, id);
    if (!rec.ok()) {
      return rec.status();
    }
    reasons.push_back(rec->reason());
    if (mqtt::IsFailure(rec->reason())) {
      return absl::OkStatus();
    }
    mqtt::Pubrel rel;
    rel.packet_id = id;
    await_comp.push_back(id);
    return c.Send(rel);
  };
  for (const auto& [topic, payload] : messages) {
    mqtt::Publish p;
    p.topic = topic;
    p.payload = payload;
    p.qos = qos;
    if (qos != mqtt::Qos::k0) {
      p.packet_id = c.NextPacketId();
      await_ack.push_back(p.packet_id);
    }
    if (absl::Status s = c.Send(p); !s.ok()) {
      return s;
    }
    if (await_ack.size() >= window) {
      if (absl::Status s = complete_oldest(); !s.ok()) {
        return s;
      }
    }
  }
  while (!await_ack.empty()) {
    if (absl::Status s = complete_oldest(); !s.ok()) {
      return s;
    }
  }
  for (uint16_t id : await_comp) {
    absl::StatusOr<ReceivedPacket> comp = c.AwaitAck(mqtt::PacketType::kPubcomp, id);
    if (!comp.ok()) {
      return comp.status();
    }
    if (comp->reason() != mqtt::ReasonCode::kSuccess) {
      return absl::InternalError("PUBCOMP not Success: " + comp->DebugString());
    }
  }
  return reasons;
}

// Reads PUBLISHes from every client until `total` arrived altogether (e.g. the members of a
// shared subscription), within `timeout`. Returns them per client. Any other packet is an
// error.
inline absl::StatusOr<std::vector<std::vector<ReceivedPacket>>> CollectPublishes(
    const std::vector<MqttClient*>& clients, size_t total, milliseconds timeout = kDefaultTimeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::vector<ReceivedPacket>> out(clients.size());
  size_t got = 0;
  while (got < total) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrFormat(
          "received %u of %u PUBLISHes in %d ms", got, total, static_cast<int>(timeout.count())));
    }
    for (size_t i = 0; i < clients.size() && got < total; ++i) {
      // A short poll per client; the loop as a whole is bounded by `deadline`.
      absl::StatusOr<ReceivedPacket> p = clients[i]->Receive(milliseconds(5));
      if (absl::IsDeadlineExceeded(p.status())) {
        continue;
      }
      if (!p.ok()) {
        return absl::Status(p.status().code(), absl::StrFormat("%s: %s", clients[i]->client_id(),
                                                               p.status().message()));
      }
      if (p->type() != mqtt::PacketType::kPublish) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "%s: expected PUBLISH, received %s", clients[i]->client_id(), p->DebugString()));
      }
      out[i].push_back(*p);
      ++got;
    }
  }
  return out;
}

// ExpectNoPacket(kQuiet) on the first client, then a short look at the others (by then
// anything sent to them has had kQuiet to arrive too).
inline absl::Status ExpectAllQuiet(const std::vector<MqttClient*>& clients,
                                   milliseconds quiet = kQuiet) {
  for (size_t i = 0; i < clients.size(); ++i) {
    absl::Status s = clients[i]->ExpectNoPacket(i == 0 ? quiet : milliseconds(5));
    if (!s.ok()) {
      return absl::Status(s.code(),
                          absl::StrFormat("%s: %s", clients[i]->client_id(), s.message()));
    }
  }
  return absl::OkStatus();
}

template <typename T>
std::vector<MqttClient*> Raw(const std::vector<std::unique_ptr<T>>& v) {
  std::vector<MqttClient*> out;
  for (const auto& c : v) {
    out.push_back(c.get());
  }
  return out;
}

// Fixture parameterized by protocol version and by the debug deferral: with `defer`, the
// broker runs with --debug-defer-ms 50, so every CONNACK, SUBACK and PUBACK/PUBREC decision
// takes the asynchronous path (ringmq only: mosquitto ignores the flag).
class VersionDeferTest
    : public BrokerTest,
      public ::testing::WithParamInterface<std::tuple<mqtt::ProtocolVersion, bool>> {
 protected:
  void SetUp() override { StartBroker(DeferArgs(defer())); }
  mqtt::ProtocolVersion version() const { return std::get<0>(GetParam()); }
  bool v5() const { return mqtt::IsV5(version()); }
  bool defer() const { return std::get<1>(GetParam()); }
  ConnectOptions Options(std::optional<std::string> client_id = std::nullopt) const {
    return VersionOptions(version(), std::move(client_id));
  }
};

inline std::string VersionDeferName(
    const ::testing::TestParamInfo<std::tuple<mqtt::ProtocolVersion, bool>>& info) {
  std::string name = VersionName(
      ::testing::TestParamInfo<mqtt::ProtocolVersion>(std::get<0>(info.param), info.index));
  return std::get<1>(info.param) ? name + "_defer" : name;
}

}  // namespace ringmq::testing
