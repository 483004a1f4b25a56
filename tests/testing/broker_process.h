// The broker under test, started in its own process on an ephemeral 127.0.0.1 port and
// stopped by PID. Test-thread only.
//
// Which broker: the environment variable RINGMQ_TEST_BROKER.
//   ringmq (default)  the binary named by RINGMQ_BROKER (meson passes build/ringmq), run as
//                     `ringmq --listen 127.0.0.1:0 --threads 2 --log-level warning
//                     --data-dir DIR <args>` (its default SQLite store; DIR see below);
//                     the port comes from the first stdout line starting with "listening"
//                     ("listening mqtt 127.0.0.1:PORT ...").
//   mosquitto         /usr/sbin/mosquitto (or $MOSQUITTO) with a temporary config
//                     `listener PORT 127.0.0.1` + `allow_anonymous true` on a port found by
//                     binding port 0; ready once it accepts a TCP connection.
// The broker's stderr goes to the test's stderr, so its log lands in the test log.
// Users: the broker tests (tests/broker), the load tool's runs (bench/load/load_run_test).
// tests/interop/interop.py implements the same selection for the Python and Node drivers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "tests/testing/subprocess.h"

namespace ringmq::testing {

enum class BrokerKind { kRingmq, kMosquitto };

// From RINGMQ_TEST_BROKER ("ringmq" when unset); an error for any other value.
absl::StatusOr<BrokerKind> BrokerKindFromEnv();
std::string_view BrokerKindName(BrokerKind kind);

struct BrokerOptions {
  // Appended to ringmq's command line (ignored for mosquitto).
  std::vector<std::string> ringmq_args;
  // ringmq's store folder (--data-dir). Empty: a fresh temporary one, removed with the
  // BrokerProcess; give one to keep the store across a restart.
  std::string data_dir;
  // Appended to mosquitto's config file, one directive per line (ignored for ringmq).
  std::vector<std::string> mosquitto_config;
  // For the broker to start listening, and for it to exit after SIGTERM.
  std::chrono::milliseconds timeout = std::chrono::seconds(20);
};

class BrokerProcess {
 public:
  // FailedPrecondition when the broker's binary is missing (RINGMQ_BROKER unset or not an
  // executable, no mosquitto installed); any other error when it did not start.
  static absl::StatusOr<std::unique_ptr<BrokerProcess>> Start(BrokerKind kind,
                                                              const BrokerOptions& options = {});
  // SIGKILL if still running; removes the temporary config.
  ~BrokerProcess();
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  BrokerKind kind() const { return kind_; }
  std::string_view name() const { return BrokerKindName(kind_); }
  uint16_t port() const { return port_; }
  pid_t pid() const { return process_->pid(); }
  bool running() { return process_->running(); }

  // SIGTERM, then waits for the exit (SIGKILL after options.timeout). OK if it exited with
  // status 0; otherwise an error with the wait status (a sanitizer report at exit, a crash).
  // The stdout lines the broker printed after the "listening" line are in stdout_tail().
  absl::Status Stop();
  const std::vector<std::string>& stdout_tail() const { return stdout_tail_; }

 private:
  BrokerProcess() = default;
  absl::Status StartRingmq(const BrokerOptions& options);
  absl::Status StartMosquitto(const BrokerOptions& options);
  // A fresh directory under $TMPDIR for this broker (config, store), removed with it.
  absl::Status MakeTempDir(const std::string& prefix);

  BrokerKind kind_ = BrokerKind::kRingmq;
  std::chrono::milliseconds timeout_{20'000};
  std::unique_ptr<Subprocess> process_;
  uint16_t port_ = 0;
  std::string temp_dir_;
  std::vector<std::string> stdout_tail_;
};

// Starts the broker RINGMQ_TEST_BROKER selects.
absl::StatusOr<std::unique_ptr<BrokerProcess>> StartBrokerForTest(
    const BrokerOptions& options = {});

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
absl::StatusOr<uint16_t> PickFreePort();

}  // namespace ringmq::testing
