// Base fixtures for broker integration tests. Each test starts its own broker process (the
// one RINGMQ_TEST_BROKER selects; build/ringmq by default, with --threads 2 so publishers
// and subscribers land on different shards) on an ephemeral 127.0.0.1 port, talks to it with
// MqttClient over real sockets, and stops it at the end: a broker that does not exit cleanly
// after SIGTERM (a crash, a sanitizer report, a leak) fails the test.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "core/mqtt/reason_code.h"
#include "tests/testing/broker_process.h"
#include "tests/testing/mqtt_client.h"
#include "tests/testing/status_macros.h"

namespace ringmq::testing {

using Clock = std::chrono::steady_clock;

// How long "nothing arrives" is watched for: many loopback round trips through the broker.
inline constexpr std::chrono::milliseconds kQuiet{300};
// For the server to close a connection it refused or ended.
inline constexpr std::chrono::milliseconds kCloseTimeout{3000};

inline double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Waits for the server to close `c` and expects nothing before the close but a DISCONNECT
// with reason `rc` (none at all when `rc` is nullopt, as a 3.x server closes silently).
inline void ExpectClosedWith(MqttClient& c, std::optional<mqtt::ReasonCode> rc) {
  ASSERT_OK_AND_ASSIGN(CloseResult r, c.WaitForClose(kCloseTimeout));
  EXPECT_TRUE(r.closed);
  for (const ReceivedPacket& other : r.others) {
    ADD_FAILURE() << "unexpected " << other;
  }
  if (!rc.has_value()) {
    EXPECT_FALSE(r.disconnect.has_value()) << *r.disconnect;
    return;
  }
  ASSERT_TRUE(r.disconnect.has_value());
  EXPECT_EQ(r.disconnect->reason(), *rc) << *r.disconnect;
}

inline ConnectOptions VersionOptions(mqtt::ProtocolVersion v,
                                     std::optional<std::string> client_id = std::nullopt) {
  ConnectOptions o;
  o.version = v;
  o.client_id = std::move(client_id);
  return o;
}

// Options for a session that outlives its connection: Clean Start 0 and, in 5.0, a Session
// Expiry Interval of `expiry_s`.
inline ConnectOptions Persistent(mqtt::ProtocolVersion v, std::string id, uint32_t expiry_s = 300) {
  ConnectOptions o = VersionOptions(v, std::move(id));
  o.clean_start = false;
  if (mqtt::IsV5(v)) {
    o.properties.SetSessionExpiryInterval(expiry_s);
  }
  return o;
}

class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override { StartBroker(); }
  void TearDown() override { StopBroker(); }

  // (Re)starts the broker with extra command-line arguments (ringmq only).
  void StartBroker(std::vector<std::string> ringmq_args = {}) {
    StopBroker();
    BrokerOptions o;
    o.ringmq_args = std::move(ringmq_args);
    auto b = StartBrokerForTest(o);
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = std::move(*b);
  }
  void StopBroker() {
    if (broker_ != nullptr) {
      EXPECT_OK(broker_->Stop());
      broker_.reset();
    }
  }
  // 0 when the broker did not start (the failed assertion is reported; connecting fails).
  uint16_t port() const { return broker_ != nullptr ? broker_->port() : 0; }
  bool is_ringmq() const { return broker_ != nullptr && broker_->kind() == BrokerKind::kRingmq; }

  absl::StatusOr<std::unique_ptr<MqttClient>> Connect(const ConnectOptions& o = {}) {
    return MqttClient::Connect(port(), o);
  }

  std::unique_ptr<BrokerProcess> broker_;
};

// The same test for each protocol version.
class BrokerVersionTest : public BrokerTest,
                          public ::testing::WithParamInterface<mqtt::ProtocolVersion> {
 protected:
  ConnectOptions Options() const {
    ConnectOptions o;
    o.version = GetParam();
    return o;
  }
};

inline std::string VersionName(const ::testing::TestParamInfo<mqtt::ProtocolVersion>& info) {
  switch (info.param) {
    case mqtt::ProtocolVersion::kMqtt31:
      return "v3_1";
    case mqtt::ProtocolVersion::kMqtt311:
      return "v3_1_1";
    case mqtt::ProtocolVersion::kMqtt5:
      return "v5";
  }
  return "unknown";
}

#define RINGMQ_ALL_VERSIONS                                    \
  ::testing::Values(::ringmq::mqtt::ProtocolVersion::kMqtt31,  \
                    ::ringmq::mqtt::ProtocolVersion::kMqtt311, \
                    ::ringmq::mqtt::ProtocolVersion::kMqtt5)

}  // namespace ringmq::testing
