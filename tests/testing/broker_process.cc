#include "tests/testing/broker_process.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_format.h"

namespace ringmq::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

milliseconds Left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? left : milliseconds(0);
}

// True once a TCP connection to 127.0.0.1:port is accepted.
bool Accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) {
    return absl::StrFormat("exited with status %d", WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return absl::StrFormat("killed by signal %d (%s)", WTERMSIG(status),
                           strsignal(WTERMSIG(status)));
  }
  return absl::StrFormat("wait status %d", status);
}

absl::Status WriteMosquittoConfig(const std::string& path, uint16_t port,
                                  const std::vector<std::string>& extra) {
  std::ofstream f(path, std::ios::trunc);
  f << "listener " << port << " 127.0.0.1\n"
    << "allow_anonymous true\n"
    << "persistence false\n"
    << "set_tcp_nodelay true\n"
    << "log_dest stderr\n"
    << "log_timestamp_format %H:%M:%S\n";
  if (::geteuid() == 0) {
    // As root mosquitto would switch to user "mosquitto", and a change of credentials
    // cancels the SIGKILL-with-parent that keeps a crashed test from leaking it.
    f << "user root\n";
  }
  for (const std::string& line : extra) {
    f << line << "\n";
  }
  f.flush();
  if (!f) {
    return absl::InternalError("cannot write " + path);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BrokerKind> BrokerKindFromEnv() {
  std::string v = EnvOr("RINGMQ_TEST_BROKER", "ringmq");
  if (v == "ringmq") {
    return BrokerKind::kRingmq;
  }
  if (v == "mosquitto") {
    return BrokerKind::kMosquitto;
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("RINGMQ_TEST_BROKER=%s: expected ringmq or mosquitto", v));
}

std::string_view BrokerKindName(BrokerKind kind) {
  return kind == BrokerKind::kRingmq ? "ringmq" : "mosquitto";
}

absl::StatusOr<uint16_t> PickFreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, "socket");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    ::close(fd);
    return absl::ErrnoToStatus(err, "bind 127.0.0.1:0");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

absl::StatusOr<std::unique_ptr<BrokerProcess>> BrokerProcess::Start(BrokerKind kind,
                                                                    const BrokerOptions& options) {
  std::unique_ptr<BrokerProcess> b(new BrokerProcess());
  b->kind_ = kind;
  b->timeout_ = options.timeout;
  absl::Status s =
      kind == BrokerKind::kRingmq ? b->StartRingmq(options) : b->StartMosquitto(options);
  if (!s.ok()) {
    return s;
  }
  return b;
}

absl::Status BrokerProcess::StartRingmq(const BrokerOptions& options) {
  const Clock::time_point deadline = Clock::now() + options.timeout;
  const char* exe = std::getenv("RINGMQ_BROKER");
  if (exe == nullptr || *exe == '\0') {
    return absl::FailedPreconditionError(
        "RINGMQ_TEST_BROKER=ringmq but RINGMQ_BROKER (the path of build/ringmq) is not set");
  }
  if (::access(exe, X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("RINGMQ_BROKER=%s is not an executable (is the broker built? or run "
                        "with RINGMQ_TEST_BROKER=mosquitto)",
                        exe));
  }
  std::string data_dir = options.data_dir;
  if (data_dir.empty()) {
    if (absl::Status s = MakeTempDir("ringmq-store"); !s.ok()) {
      return s;
    }
    data_dir = temp_dir_ + "/data";
  }
  std::vector<std::string> argv = {exe,           "--listen", "127.0.0.1:0", "--threads", "2",
                                   "--log-level", "warning",  "--data-dir",  data_dir};
  argv.insert(argv.end(), options.ringmq_args.begin(), options.ringmq_args.end());
  absl::StatusOr<std::unique_ptr<Subprocess>> p =
      Subprocess::Start(argv, {.die_with_parent = true});
  if (!p.ok()) {
    return p.status();
  }
  process_ = std::move(*p);
  std::optional<std::string> line = process_->WaitForLine("listening", Left(deadline));
  if (!line) {
    std::string why = process_->running()
                          ? absl::StrFormat("no \"listening\" line on stdout within %d ms",
                                            static_cast<int>(options.timeout.count()))
                          : "it " + DescribeWaitStatus(*process_->Wait(milliseconds(0)));
    return absl::UnavailableError("ringmq did not start: " + why);
  }
  std::optional<uint16_t> port = PortFromListeningLine(*line);
  if (!port || *port == 0) {
    return absl::InternalError("no port in ringmq's line: " + *line);
  }
  port_ = *port;
  return absl::OkStatus();
}

absl::Status BrokerProcess::StartMosquitto(const BrokerOptions& options) {
  const Clock::time_point deadline = Clock::now() + options.timeout;
  const std::string exe = EnvOr("MOSQUITTO", "/usr/sbin/mosquitto");
  if (::access(exe.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s is not an executable (is mosquitto installed? or run with "
                        "RINGMQ_TEST_BROKER=ringmq)",
                        exe));
  }
  // The config file lives in a fresh temporary directory, removed by the destructor.
  if (absl::Status s = MakeTempDir("ringmq-mosquitto"); !s.ok()) {
    return s;
  }
  const std::string conf = temp_dir_ + "/mosquitto.conf";
  // Another process may take the port between PickFreePort() and mosquitto's bind: then
  // mosquitto exits at once, and we try again with another port.
  std::string last_error = "did not start in time";
  for (int attempt = 0; attempt < 5 && Clock::now() < deadline; ++attempt) {
    absl::StatusOr<uint16_t> port = PickFreePort();
    if (!port.ok()) {
      return port.status();
    }
    if (absl::Status s = WriteMosquittoConfig(conf, *port, options.mosquitto_config); !s.ok()) {
      return s;
    }
    absl::StatusOr<std::unique_ptr<Subprocess>> p =
        Subprocess::Start({exe, "-c", conf}, {.die_with_parent = true});
    if (!p.ok()) {
      return p.status();
    }
    // Ready when it accepts a connection; retried every 5 ms until the deadline.
    bool up = false;
    while (Clock::now() < deadline && (*p)->running()) {
      if (Accepts(*port)) {
        up = (*p)->running();  // not someone else's listener on a port we lost
        break;
      }
      ::poll(nullptr, 0, 5);
    }
    if (up) {
      process_ = std::move(*p);
      port_ = *port;
      return absl::OkStatus();
    }
    if ((*p)->running()) {
      return absl::DeadlineExceededError(
          absl::StrFormat("mosquitto did not accept connections on 127.0.0.1:%u within %d ms",
                          *port, static_cast<int>(options.timeout.count())));
    }
    std::optional<int> status = (*p)->Wait(milliseconds(1000));
    last_error = status ? DescribeWaitStatus(*status) : "exited";
  }
  return absl::UnavailableError("mosquitto did not start: it " + last_error);
}

absl::Status BrokerProcess::MakeTempDir(const std::string& prefix) {
  std::string dir_template = EnvOr("TMPDIR", "/tmp") + "/" + prefix + "-XXXXXX";
  if (::mkdtemp(dir_template.data()) == nullptr) {
    return absl::ErrnoToStatus(errno, "mkdtemp " + dir_template);
  }
  temp_dir_ = dir_template;
  return absl::OkStatus();
}

BrokerProcess::~BrokerProcess() {
  process_.reset();  // SIGKILL and reap if still running
  if (!temp_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(temp_dir_, ignored);
  }
}

absl::Status BrokerProcess::Stop() {
  if (!process_->running()) {
    std::optional<int> status = process_->Wait(milliseconds(0));
    return absl::InternalError(absl::StrFormat("%s had already ended: it %s", name(),
                                               DescribeWaitStatus(status.value_or(0))));
  }
  const Clock::time_point deadline = Clock::now() + timeout_;
  process_->Signal(SIGTERM);
  // Drain stdout until it closes, so a broker that prints at exit never blocks on the pipe.
  while (std::optional<std::string> line = process_->ReadLine(Left(deadline))) {
    stdout_tail_.push_back(*line);
  }
  std::optional<int> status = process_->Wait(Left(deadline));
  if (!status) {
    process_->Signal(SIGKILL);
    (void)process_->Wait(milliseconds(5000));
    return absl::DeadlineExceededError(
        absl::StrFormat("%s (pid %d) did not exit within %d ms of SIGTERM; killed", name(),
                        static_cast<int>(process_->pid()), static_cast<int>(timeout_.count())));
  }
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return absl::InternalError(
        absl::StrFormat("%s %s after SIGTERM", name(), DescribeWaitStatus(*status)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<BrokerProcess>> StartBrokerForTest(const BrokerOptions& options) {
  absl::StatusOr<BrokerKind> kind = BrokerKindFromEnv();
  if (!kind.ok()) {
    return kind.status();
  }
  return BrokerProcess::Start(*kind, options);
}

}  // namespace ringmq::testing
