// Helpers for broker tests that handle single messages by hand: build a PUBLISH or an
// acknowledgement, take the next message and check it, and a client that watches a filter.
// Used by session_test, will_test, publish_test and v5_features_test. Test thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "gtest/gtest.h"

#include "core/mqtt/packets.h"
#include "tests/broker/broker_test_base.h"
#include "tests/testing/mqtt_client.h"
#include "tests/testing/status_macros.h"

namespace ringmq::testing {

// A PUBLISH by hand (what MqttClient::Publish would not send: a chosen packet id, DUP, topic
// aliases, properties). QoS 0 gets packet id 0.
inline mqtt::Publish MakePublish(std::string_view topic, std::string_view payload, mqtt::Qos qos,
                                 uint16_t packet_id, bool dup = false) {
  mqtt::Publish p;
  p.topic = topic;
  p.payload = payload;
  p.qos = qos;
  p.packet_id = qos == mqtt::Qos::k0 ? 0 : packet_id;
  p.dup = dup;
  return p;
}

// A PUBACK, PUBREC, PUBREL or PUBCOMP for `packet_id`.
template <typename Ack>
Ack AckFor(uint16_t packet_id) {
  Ack a;
  a.packet_id = packet_id;
  return a;
}

// The packet id of a received PUBACK, PUBREC, PUBREL or PUBCOMP.
template <typename Ack>
uint16_t IdOf(const ReceivedPacket& p) {
  return p.As<Ack>().packet_id;
}

// Takes the next packet, which must be a PUBLISH of `payload` on `topic` with `qos`; a copy
// goes to *out when given.
inline void ExpectMessage(MqttClient& c, std::string_view topic, std::string_view payload,
                          mqtt::Qos qos, std::optional<ReceivedPacket>* out = nullptr,
                          std::chrono::milliseconds timeout = kDefaultTimeout) {
  ASSERT_OK_AND_ASSIGN(ReceivedPacket m, c.ExpectPublish(timeout));
  EXPECT_EQ(m.publish().topic, topic) << m;
  EXPECT_EQ(m.publish().payload, payload) << m;
  EXPECT_EQ(m.publish().qos, qos) << m;
  if (out != nullptr) {
    *out = m;
  }
}

// A client connected with `options` and subscribed to `filter` at `qos`; nullptr, with the
// failure recorded, if either step fails.
inline std::unique_ptr<MqttClient> SubscribedClient(uint16_t port, const ConnectOptions& options,
                                                    std::string filter, mqtt::Qos qos) {
  absl::StatusOr<std::unique_ptr<MqttClient>> c = MqttClient::Connect(port, options);
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) {
    return nullptr;
  }
  absl::StatusOr<ReceivedPacket> ack = (*c)->Subscribe(std::move(filter), qos);
  EXPECT_TRUE(ack.ok()) << ack.status();
  return std::move(*c);
}

}  // namespace ringmq::testing
