// Subprocess: starts a program (the broker, the echo server) for a test, reads its stdout
// line by line with timeouts, signals it, waits for it, and kills it by PID if the test
// ends first. Its stderr goes to the test's stderr, so server logs land in the test log.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ringmq::testing {

struct SubprocessOptions {
  // The child gets SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG), so a
  // test that crashes leaves no server behind holding its ports and output pipes. Start
  // such children from a thread that outlives them (the test's main thread).
  bool die_with_parent = false;
};

class Subprocess {
 public:
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv,
                                                           const SubprocessOptions& options = {});
  ~Subprocess();  // SIGKILL and reap if still running

  pid_t pid() const { return pid_; }
  // The next stdout line (without '\n'), or nullopt on timeout or EOF.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);
  // Reads lines until one starts with `prefix`; returns it (nullopt on timeout/EOF).
  std::optional<std::string> WaitForLine(const std::string& prefix,
                                         std::chrono::milliseconds timeout);
  void Signal(int sig);
  // Waits for exit; returns the wait status, or nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool running();

 private:
  Subprocess() = default;
  static absl::StatusOr<std::unique_ptr<Subprocess>> StartDyingWithParent(
      const std::vector<std::string>& argv, const int pipe_fds[2]);
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string pending_;
  bool reaped_ = false;
  int status_ = 0;
};

// Parses "listening HOST:PORT ..." (the echo server and the broker print it) into a port.
std::optional<uint16_t> PortFromListeningLine(const std::string& line);

}  // namespace ringmq::testing
