// Short runs of the load tool against a real broker that the test starts itself on a free
// 127.0.0.1 port, and of the echo scenario against the engine's echo server. Every run is
// bounded (about a second of traffic); the whole file takes well under a minute.
//
// The broker under test: RINGMQ_BENCH_BROKER=mosquitto (default; /usr/sbin/mosquitto or
// RINGMQ_MOSQUITTO_BIN) or ringmq (RINGMQ_BROKER_BIN or RINGMQ_BROKER, default
// $RINGMQ_BUILD_ROOT/ringmq, started as `ringmq --listen 127.0.0.1:PORT`). A missing binary
// skips the tests.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

#include "bench/load/config.h"
#include "bench/load/runner.h"
#include "tests/testing/subprocess.h"

namespace ringmq::bench {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Subprocess;

std::string Env(const char* name, const std::string& dflt) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : dflt;
}

bool Executable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

// A port nobody listens on right now: bind port 0, read it, close. Another process could
// take it before the broker binds it; the broker then fails to start and the test says so.
uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

bool Accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// Waits for `cond` with a deadline, checking every few milliseconds.
template <typename F>
bool WaitFor(F cond, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

// One broker process on 127.0.0.1, stopped (SIGTERM, then SIGKILL) by PID at the end.
class Broker {
 public:
  // Starts the broker RINGMQ_BENCH_BROKER names. On nullptr, *skip says why the test should
  // be skipped (binary missing) or *error why it failed.
  static std::unique_ptr<Broker> Start(std::string* skip, std::string* error) {
    const std::string kind = Env("RINGMQ_BENCH_BROKER", "mosquitto");
    auto b = std::make_unique<Broker>();
    b->port_ = FreePort();
    std::vector<std::string> argv;
    if (kind == "mosquitto") {
      const std::string bin = Env("RINGMQ_MOSQUITTO_BIN", "/usr/sbin/mosquitto");
      if (!Executable(bin)) {
        *skip = bin + " not installed";
        return nullptr;
      }
      char dir[] = "/tmp/ringmq-bench-test-XXXXXX";
      if (::mkdtemp(dir) == nullptr) {
        *error = "mkdtemp failed";
        return nullptr;
      }
      b->dir_ = dir;
      const std::string conf = b->dir_ + "/mosquitto.conf";
      std::ofstream f(conf);
      f << "listener " << b->port_ << " 127.0.0.1\n"
        << "allow_anonymous true\n"
        << "set_tcp_nodelay true\n"
        << "persistence false\n"
        << "log_dest stderr\n"
        << "log_type error\n"
        << "log_type warning\n"
        << "connection_messages false\n";
      f.close();
      argv = {bin, "-c", conf};
    } else if (kind == "ringmq") {
      const std::string bin = Env(
          "RINGMQ_BROKER_BIN", Env("RINGMQ_BROKER", Env("RINGMQ_BUILD_ROOT", "build") + "/ringmq"));
      if (!Executable(bin)) {
        *skip = bin + " not built";
        return nullptr;
      }
      argv = {bin, "--listen", "127.0.0.1:" + std::to_string(b->port_)};
    } else {
      *error = "RINGMQ_BENCH_BROKER must be mosquitto or ringmq, not " + kind;
      return nullptr;
    }
    auto p = Subprocess::Start(argv);
    if (!p.ok()) {
      *error = std::string(p.status().message());
      return nullptr;
    }
    b->proc_ = std::move(*p);
    Subprocess* proc = b->proc_.get();
    const uint16_t port = b->port_;
    if (!WaitFor([&] { return !proc->running() || Accepts(port); }, seconds(10)) ||
        !proc->running()) {
      *error = kind + " did not start accepting on port " + std::to_string(port);
      return nullptr;
    }
    return b;
  }

  ~Broker() {
    if (proc_ != nullptr) {
      proc_->Signal(SIGTERM);
      if (!proc_->Wait(seconds(10))) {
        proc_->Signal(SIGKILL);
        proc_->Wait(seconds(5));
      }
    }
    if (!dir_.empty()) {
      std::remove((dir_ + "/mosquitto.conf").c_str());
      ::rmdir(dir_.c_str());
    }
  }

  uint16_t port() const { return port_; }
  pid_t pid() const { return proc_->pid(); }

 private:
  std::unique_ptr<Subprocess> proc_;
  uint16_t port_ = 0;
  std::string dir_;
};

class LoadRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string skip;
    std::string error;
    broker_ = Broker::Start(&skip, &error);
    if (!skip.empty()) {
      GTEST_SKIP() << skip;
    }
    ASSERT_NE(broker_, nullptr) << error;
  }

  BenchConfig Short(Scenario s) const {
    BenchConfig c;
    c.scenario = s;
    c.port = broker_->port();
    c.broker_pid = broker_->pid();
    c.duration_s = 1.0;
    c.warmup_s = 0.3;
    c.drain_s = 5;
    c.connect_timeout_s = 20;
    c.progress = false;
    return c;
  }

  // Runs and checks what every clean run must satisfy.
  BenchResult RunClean(const BenchConfig& c) {
    absl::StatusOr<BenchResult> r = RunBench(c);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) {
      return {};
    }
    const std::string json = ToJson(c, *r);
    EXPECT_EQ(r->errors, 0u) << json;
    EXPECT_EQ(r->connect_failures, 0u) << json;
    EXPECT_FALSE(r->interrupted);
    EXPECT_EQ(r->misrouted, 0u) << json;
    EXPECT_EQ(r->foreign, 0u) << json;
    EXPECT_TRUE(r->have_broker);
    if (c.scenario != Scenario::kConnect) {
      EXPECT_GT(r->sent, 0u) << json;
      EXPECT_EQ(r->lost, 0u) << json;
      EXPECT_EQ(r->received, r->expected) << json;
      EXPECT_TRUE(r->drained) << json;
      EXPECT_GT(r->throughput, 0) << json;
      EXPECT_GT(r->p50_us, 0) << json;
      EXPECT_LE(r->p50_us, r->p99_us);
      EXPECT_LE(r->p99_us, r->max_us * (1 + 1e-9) + 0.001);
      if (c.qos != mqtt::Qos::k1) {
        EXPECT_EQ(r->duplicated, 0u) << json;
      }
      EXPECT_EQ(ExitCode(c, *r), 0) << json;
    }
    return *r;
  }

  std::unique_ptr<Broker> broker_;
};

TEST_F(LoadRunTest, PairsQos0Mqtt311) {
  BenchConfig c = Short(Scenario::kPairs);
  c.pairs = 20;
  BenchResult r = RunClean(c);
  EXPECT_EQ(r.connections, 40u);
  EXPECT_EQ(r.expected, r.sent);
  EXPECT_GT(r.broker_cpu_s, 0);
  EXPECT_GT(r.broker_rss_kb, 0u);
  EXPECT_GT(r.msgs_per_broker_cpu_s, 0);
}

TEST_F(LoadRunTest, PairsQos1And2BothVersions) {
  for (mqtt::ProtocolVersion v : {mqtt::ProtocolVersion::kMqtt311, mqtt::ProtocolVersion::kMqtt5}) {
    for (mqtt::Qos q : {mqtt::Qos::k1, mqtt::Qos::k2}) {
      SCOPED_TRACE(::testing::Message()
                   << "version " << static_cast<int>(v) << " qos " << static_cast<int>(q));
      BenchConfig c = Short(Scenario::kPairs);
      c.pairs = 10;
      c.version = v;
      c.qos = q;
      c.threads = 2;
      RunClean(c);
    }
  }
}

TEST_F(LoadRunTest, Mqtt31) {
  BenchConfig c = Short(Scenario::kPairs);
  c.pairs = 5;
  c.version = mqtt::ProtocolVersion::kMqtt31;
  c.qos = mqtt::Qos::k1;
  RunClean(c);
}

TEST_F(LoadRunTest, FanoutFaninShared) {
  BenchConfig c = Short(Scenario::kFanout);
  c.publishers = 1;
  c.subscribers = 20;
  c.qos = mqtt::Qos::k1;
  BenchResult r = RunClean(c);
  EXPECT_EQ(r.expected, 20 * r.sent);

  c = Short(Scenario::kFanin);
  c.publishers = 20;
  c.subscribers = 2;
  c.version = mqtt::ProtocolVersion::kMqtt5;
  c.threads = 2;
  r = RunClean(c);
  EXPECT_EQ(r.expected, 2 * r.sent);

  c = Short(Scenario::kShared);
  c.publishers = 4;
  c.subscribers = 4;
  c.qos = mqtt::Qos::k1;
  r = RunClean(c);
  EXPECT_EQ(r.expected, r.sent);
}

TEST_F(LoadRunTest, RateLimitedPublishersKeepTheirRate) {
  BenchConfig c = Short(Scenario::kPairs);
  c.pairs = 50;
  c.rate = 20;
  c.duration_s = 1.5;
  BenchResult r = RunClean(c);
  // 50 publishers x 20 msg/s x 1.5 s = 1500, give or take a message per publisher at the
  // window's edges.
  EXPECT_NEAR(static_cast<double>(r.sent), 1500.0, 100.0);
}

TEST_F(LoadRunTest, PersistentSessionsAcrossTwoRuns) {
  for (mqtt::ProtocolVersion v : {mqtt::ProtocolVersion::kMqtt311, mqtt::ProtocolVersion::kMqtt5}) {
    BenchConfig c = Short(Scenario::kPairs);
    c.pairs = 5;
    c.qos = mqtt::Qos::k1;
    c.clean = false;
    c.version = v;
    c.client_prefix = "persist" + std::to_string(static_cast<int>(v));
    BenchResult first = RunClean(c);
    EXPECT_EQ(first.sessions_resumed, 0u) << "a fresh prefix has no sessions yet";
    BenchResult second = RunClean(c);  // resumes the sessions the first run left
    EXPECT_EQ(second.sessions_resumed, second.connections);
    EXPECT_EQ(second.connections, 10u);
  }
}

TEST_F(LoadRunTest, IdleConnectionsPing) {
  BenchConfig c = Short(Scenario::kConnect);
  c.connections = 200;
  c.keepalive_s = 1;  // PINGREQ after 0.5 s idle
  c.duration_s = 2.5;
  BenchResult r = RunClean(c);
  EXPECT_EQ(r.connections, 200u);
  EXPECT_GT(r.connect_time_ms, 0);
  EXPECT_GE(r.pings, 200u);
  EXPECT_GE(r.pongs + 200, r.pings);  // the last round may still be in flight
  EXPECT_GT(r.broker_rss_kb, 0u);
}

TEST_F(LoadRunTest, ConnectionRateIsRespected) {
  BenchConfig c = Short(Scenario::kConnect);
  c.connections = 100;
  c.connect_rate = 200;  // 100 connections at 200/s take about half a second
  c.duration_s = 0.2;
  BenchResult r = RunClean(c);
  EXPECT_EQ(r.connections, 100u);
  EXPECT_GT(r.connect_time_ms, 400);
  EXPECT_LT(r.connect_time_ms, 2000);
}

TEST_F(LoadRunTest, EpollBackend) {
  BenchConfig c = Short(Scenario::kPairs);
  c.pairs = 10;
  c.qos = mqtt::Qos::k2;
  c.backend = net::BackendKind::kEpoll;
  BenchResult r = RunClean(c);
  EXPECT_EQ(r.backend, "epoll");
}

TEST(LoadRunNoBrokerTest, RefusedConnectionsFailTheRun) {
  BenchConfig c;
  c.port = FreePort();  // nothing listens there
  c.pairs = 2;
  c.duration_s = 0.5;
  c.progress = false;
  absl::StatusOr<BenchResult> r = RunBench(c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->connect_failures, 4u);
  EXPECT_EQ(ExitCode(c, *r), 1);
}

TEST(LoadRunEchoTest, EchoServerCeiling) {
  const std::string exe = Env("RINGMQ_ECHO_SERVER", "");
  if (!Executable(exe)) {
    GTEST_SKIP() << "RINGMQ_ECHO_SERVER not set";
  }
  auto p = Subprocess::Start({exe, "--listen", "127.0.0.1:0", "--threads", "1"});
  ASSERT_TRUE(p.ok()) << p.status();
  auto line = (*p)->WaitForLine("listening", seconds(10));
  ASSERT_TRUE(line.has_value());
  auto port = testing::PortFromListeningLine(*line);
  ASSERT_TRUE(port.has_value());
  BenchConfig c;
  c.scenario = Scenario::kEcho;
  c.port = *port;
  c.connections = 20;
  c.duration_s = 1;
  c.warmup_s = 0.2;
  c.broker_pid = (*p)->pid();
  c.progress = false;
  absl::StatusOr<BenchResult> r = RunBench(c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->errors, 0u);
  EXPECT_GT(r->sent, 0u);
  EXPECT_EQ(r->lost, 0u);
  EXPECT_EQ(r->received, r->sent);
  EXPECT_GT(r->msgs_per_broker_cpu_s, 0);
  EXPECT_EQ(ExitCode(c, *r), 0);
  (*p)->Signal(SIGTERM);
  EXPECT_TRUE((*p)->Wait(seconds(20)).has_value());
}

// The binary itself: flags with dashes, JSON on stdout, exit status.
TEST_F(LoadRunTest, BinaryPrintsJsonAndExitsZero) {
  const std::string exe = Env("RINGMQ_BUILD_ROOT", "build") + "/ringmq-bench";
  if (!Executable(exe)) {
    GTEST_SKIP() << exe << " not built";
  }
  auto p =
      Subprocess::Start({exe, "--port", std::to_string(broker_->port()), "--pairs", "5", "--qos",
                         "1", "--mqtt-version", "5", "--duration", "0.5", "--warmup", "0.1",
                         "--broker-pid", std::to_string(broker_->pid()), "--progress=false"});
  ASSERT_TRUE(p.ok()) << p.status();
  std::string out;
  while (auto line = (*p)->ReadLine(seconds(30))) {
    out += *line + "\n";
  }
  auto status = (*p)->Wait(seconds(30));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << out;
  for (const char* key : {"\"connections\": 10", "\"lost\": 0", "\"mqtt_version\": \"5.0\"",
                          "\"throughput\":", "\"latency_p99_us\":", "\"broker_cpu_s\":",
                          "\"msgs_per_broker_cpu_s\":", "\"broker_rss_kb\":"}) {
    EXPECT_NE(out.find(key), std::string::npos) << key << "\n" << out;
  }
}

}  // namespace
}  // namespace ringmq::bench
