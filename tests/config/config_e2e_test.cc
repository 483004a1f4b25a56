// build/ringmq started with a config file: examples/ringmq.toml with the listener and the
// store folder given by flags (as tests/testing/broker_process.h starts it: --listen
// 127.0.0.1:0 --threads 2 --log-level warning --data-dir DIR), values from the file that a
// client can see, a flag that wins over the file, and a bad file that stops it with exit 2.
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "tests/config/config_test_util.h"
#include "tests/testing/broker_process.h"
#include "tests/testing/mqtt_client.h"
#include "tests/testing/status_macros.h"
#include "tests/testing/subprocess.h"

namespace ringmq::testing {
namespace {

constexpr std::chrono::seconds kTimeout(20);

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

// Starts build/ringmq with `args` (as BrokerProcess does) and returns the CONNACK's Receive
// Maximum, which is limits.max_inflight.
uint16_t ReceiveMaximumWith(const std::vector<std::string>& args) {
  BrokerOptions options;
  options.ringmq_args = args;
  absl::StatusOr<std::unique_ptr<BrokerProcess>> broker =
      BrokerProcess::Start(BrokerKind::kRingmq, options);
  EXPECT_TRUE(broker.ok()) << broker.status();
  if (!broker.ok()) {
    return 0;
  }
  absl::StatusOr<std::unique_ptr<MqttClient>> client = MqttClient::Connect((*broker)->port());
  EXPECT_TRUE(client.ok()) << client.status();
  if (!client.ok()) {
    return 0;
  }
  const uint16_t receive_maximum = (*client)->server().receive_maximum;
  EXPECT_OK((*client)->Ping());
  EXPECT_OK((*client)->Disconnect());
  EXPECT_OK((*broker)->Stop());
  return receive_maximum;
}

TEST(ConfigE2eTest, StartsWithTheExampleFile) {
  const std::string example = Env("RINGMQ_EXAMPLE_CONFIG");
  ASSERT_FALSE(example.empty());
  // The file says 127.0.0.1:1883; --listen 127.0.0.1:0 (added by BrokerProcess) wins, so the
  // broker prints "listening mqtt 127.0.0.1:PORT" with a free port and a client connects.
  EXPECT_EQ(ReceiveMaximumWith({"--config", example}), 100);
}

TEST(ConfigE2eTest, FileValuesApplyAndFlagsWin) {
  config::testing::TempConfigFile file("ringmq.toml", "[limits]\nmax_inflight = 33\n");
  EXPECT_EQ(ReceiveMaximumWith({"--config", file.path()}), 33);
  EXPECT_EQ(ReceiveMaximumWith({"--config", file.path(), "--max-inflight", "44"}), 44);
}

TEST(ConfigE2eTest, BadFileExitsWithTwoAndNamesTheKey) {
  const std::string broker = Env("RINGMQ_BROKER");
  ASSERT_FALSE(broker.empty());
  config::testing::TempConfigFile file("bad.toml",
                                       "threads = 1\n\n[limits]\nmax_inflight = 70000\n");
  const std::string& path = file.path();
  // stderr into stdout, to read the message.
  absl::StatusOr<std::unique_ptr<Subprocess>> p = Subprocess::Start(
      {"/bin/sh", "-c", "exec \"$0\" --config \"$1\" --listen 127.0.0.1:0 2>&1", broker, path},
      {.die_with_parent = true});
  ASSERT_TRUE(p.ok()) << p.status();
  std::optional<std::string> line = (*p)->WaitForLine("ringmq: ", kTimeout);
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line, "ringmq: " + path + ":4: limits.max_inflight: 70000 is outside 1..65535");
  std::optional<int> status = (*p)->Wait(kTimeout);
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 2);
}

}  // namespace
}  // namespace ringmq::testing
