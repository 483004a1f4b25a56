// Short runs of the load tool against a real broker that the test starts itself on a free
// 127.0.0.1 port, and of the echo scenario against the engine's echo server. Every run is
// bounded (about a second of traffic); the whole file takes well under a minute.
//
// The broker under test is the one every broker test uses (tests/testing/broker_process.h):
// RINGMQ_TEST_BROKER=ringmq (default; the binary RINGMQ_BROKER, which meson sets to
// build/ringmq) or mosquitto. A missing binary skips the tests.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "bench/load/config.h"
#include "bench/load/runner.h"
#include "tests/testing/broker_process.h"
#include "tests/testing/status_macros.h"
#include "tests/testing/subprocess.h"

namespace ringmq::bench {
namespace {

using std::chrono::seconds;
using testing::BrokerProcess;
using testing::Subprocess;

std::string Env(const char* name, const std::string& dflt) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : dflt;
}

bool Executable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

// Whether something accepts TCP connections on 127.0.0.1:port within `timeout`.
bool WaitAccepting(uint16_t port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  while (std::chrono::steady_clock::now() < deadline) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool ok =
        fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    if (fd >= 0) {
      ::close(fd);
    }
    if (ok) {
      return true;
    }
    ::usleep(5000);
  }
  return false;
}

class LoadRunTest : public ::testing::Test {
 protected:
  void SetUp() override { StartBroker({}, {}); }
  void StartBroker(const std::vector<std::string>& ringmq_args,
                   const std::vector<std::string>& mosquitto_config) {
    testing::BrokerOptions o;
    o.ringmq_args = ringmq_args;
    // Mosquitto logs every connection by default: hundreds of lines per run.
    o.mosquitto_config = {"log_type error", "log_type warning", "connection_messages false"};
    o.mosquitto_config.insert(o.mosquitto_config.end(), mosquitto_config.begin(),
                              mosquitto_config.end());
    absl::StatusOr<std::unique_ptr<BrokerProcess>> b = testing::StartBrokerForTest(o);
    if (absl::IsFailedPrecondition(b.status())) {
      GTEST_SKIP() << b.status();
    }
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = std::move(*b);
  }
  // SIGTERM; the broker must exit cleanly after the runs.
  void TearDown() override {
    if (broker_ != nullptr) {
      EXPECT_OK(broker_->Stop());
    }
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
    if (c.scenario != Scenario::kConnect && c.scenario != Scenario::kHandshake) {
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

  // A run in which every one of `n` connections fails before its CONNACK, the first error
  // saying `why`.
  static void ExpectRefused(const BenchConfig& c, uint64_t n, const std::string& why) {
    absl::StatusOr<BenchResult> r = RunBench(c);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->connect_failures, n);
    ASSERT_FALSE(r->error_samples.empty());
    EXPECT_NE(r->error_samples[0].find(why), std::string::npos) << r->error_samples[0];
    EXPECT_EQ(ExitCode(c, *r), 1);
  }

  std::unique_ptr<BrokerProcess> broker_;
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

// Subscribers park (persistent sessions, offline), publishers fill their queues; then the
// subscribers come back and every acknowledged message is in every queue it belongs to.
// Rate-limited so that the queues stay under the brokers' default 1,000 messages a session.
TEST_F(LoadRunTest, OfflineQueuesAreAcknowledgedAndDrained) {
  struct Case {
    mqtt::ProtocolVersion version;
    mqtt::Qos qos;
    uint32_t groups;
  };
  for (const Case& k : {Case{mqtt::ProtocolVersion::kMqtt311, mqtt::Qos::k1, 1},
                        Case{mqtt::ProtocolVersion::kMqtt5, mqtt::Qos::k2, 2}}) {
    SCOPED_TRACE(::testing::Message() << "version " << static_cast<int>(k.version));
    BenchConfig c = Short(Scenario::kOffline);
    c.version = k.version;
    c.qos = k.qos;
    c.subscribers = 4;
    c.publishers = 6;
    c.offline_groups = k.groups;
    c.rate = 100;  // 6 x 100 x 1.3 s: ~800 messages per queue at most
    c.threads = 2;
    c.drain_offline = true;
    c.drain_offline_timeout_s = 20;
    // Parked sessions outlive the run: each case needs its own client ids.
    c.client_prefix = "offline" + std::to_string(static_cast<int>(k.version));
    BenchResult r = RunClean(c);
    EXPECT_EQ(r.connections, 10u);
    EXPECT_EQ(r.copies_per_message, 4u / k.groups);
    EXPECT_EQ(r.acked, r.sent);
    EXPECT_EQ(r.ack_failures, 0u);
    EXPECT_EQ(r.unacked, 0u);
    EXPECT_EQ(r.reconnected, 4u);
    EXPECT_EQ(r.sessions_resumed, 4u);  // the parked sessions, back
    EXPECT_TRUE(r.offline_drained);
    EXPECT_EQ(r.expected, r.acked_total * (4u / k.groups));
    EXPECT_EQ(r.received, r.expected);
    EXPECT_GT(r.offline_drain_ms, 0);
  }
}

TEST_F(LoadRunTest, MessageCountEndsTheRunEarly) {
  BenchConfig c = Short(Scenario::kPairs);
  c.pairs = 10;
  c.qos = mqtt::Qos::k1;
  c.messages = 200;
  c.warmup_s = 0;
  c.duration_s = 30;
  const auto start = std::chrono::steady_clock::now();
  BenchResult r = RunClean(c);
  EXPECT_EQ(r.sent, 2000u);
  EXPECT_EQ(r.sent_total, 2000u);
  EXPECT_EQ(r.received, 2000u);
  EXPECT_LT(r.window_s, 10);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(15));
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

// MQTT over WebSocket (--transport websocket): the broker listens on a second port too,
// ws:// for ringmq, `protocol websockets` for Mosquitto, and the tool connects there.
class LoadRunWebSocketTest : public LoadRunTest {
 protected:
  void SetUp() override {
    absl::StatusOr<uint16_t> ws = testing::PickFreePort();
    ASSERT_TRUE(ws.ok()) << ws.status();
    ws_port_ = *ws;
    const std::string port = std::to_string(ws_port_);
    StartBroker({"--listen", "ws://127.0.0.1:" + port},
                // socket_domain ipv4: without it Mosquitto 2.0.11's websockets listener binds
                // every address (*:PORT), whatever the listener line says.
                {"listener " + port + " 127.0.0.1", "protocol websockets", "socket_domain ipv4"});
    // The broker process is ready once its MQTT port accepts; Mosquitto opens its WebSocket
    // listener (libwebsockets) a little later.
    ASSERT_TRUE(WaitAccepting(ws_port_, seconds(10))) << "nothing listens on " << ws_port_;
  }
  BenchConfig ShortWs(Scenario s) const {
    BenchConfig c = Short(s);
    c.transport = ClientTransport::kWebSocket;
    c.port = ws_port_;
    return c;
  }
  uint16_t ws_port_ = 0;
};

TEST_F(LoadRunWebSocketTest, PairsAtEveryQos) {
  BenchConfig c = ShortWs(Scenario::kPairs);
  c.pairs = 20;
  BenchResult r = RunClean(c);
  EXPECT_EQ(r.connections, 40u);
  EXPECT_GT(r.connect_time_ms, 0);
  for (mqtt::Qos q : {mqtt::Qos::k1, mqtt::Qos::k2}) {
    SCOPED_TRACE(::testing::Message() << "qos " << static_cast<int>(q));
    c = ShortWs(Scenario::kPairs);
    c.pairs = 10;
    c.qos = q;
    c.version = mqtt::ProtocolVersion::kMqtt5;
    c.threads = 2;
    RunClean(c);
  }
}

TEST_F(LoadRunWebSocketTest, FanoutWithLargePayloads) {
  // 5 KiB payloads: frames longer than 64 KiB (8-byte lengths) towards the subscribers.
  BenchConfig c = ShortWs(Scenario::kFanout);
  c.publishers = 2;
  c.subscribers = 10;
  c.payload_bytes = 5000;
  c.qos = mqtt::Qos::k1;
  BenchResult r = RunClean(c);
  EXPECT_EQ(r.expected, 10 * r.sent);
}

// Parked subscribers: the broker closes the WebSocket after their DISCONNECT.
TEST_F(LoadRunWebSocketTest, OfflineQueuesAreDrained) {
  BenchConfig c = ShortWs(Scenario::kOffline);
  c.qos = mqtt::Qos::k1;
  c.subscribers = 2;
  c.publishers = 4;
  c.rate = 100;
  c.drain_offline = true;
  c.drain_offline_timeout_s = 20;
  c.client_prefix = "wsoffline";
  BenchResult r = RunClean(c);
  EXPECT_EQ(r.reconnected, 2u);
  EXPECT_TRUE(r.offline_drained);
  EXPECT_EQ(r.received, r.expected);
}

TEST_F(LoadRunWebSocketTest, PlainMqttPortFailsTheHandshake) {
  BenchConfig c = ShortWs(Scenario::kPairs);
  c.port = broker_->port();  // MQTT over TCP: no answer to the upgrade request
  c.pairs = 2;
  ExpectRefused(c, 4, "WebSocket upgrade");
}

// The handshake scenario over plain TCP: clients connect, CONNECT, DISCONNECT, in a loop.
TEST_F(LoadRunTest, HandshakeScenarioReconnectsInALoop) {
  BenchConfig c = Short(Scenario::kHandshake);
  c.connections = 10;
  c.threads = 2;
  BenchResult r = RunClean(c);
  EXPECT_EQ(r.connections, 10u);
  EXPECT_GT(r.handshakes, 10u) << ToJson(c, r);  // more than one round of reconnects
  EXPECT_GT(r.handshake_rate, 0);
  EXPECT_GT(r.handshakes_per_broker_cpu_s, 0);
  EXPECT_GT(r.p50_us, 0);
  EXPECT_EQ(ExitCode(c, r), 0);
}

// MQTT over TLS (--transport tls) and WebSocket over TLS (wss): the broker listens on
// mqtts:// (server certificate only), on a second mqtts:// port that requires a client
// certificate, and (ringmq) on wss://. Certificates from bench/tls_certs.sh (the openssl
// command line tool; the tests skip without it).
class LoadRunTlsTest : public LoadRunTest {
 protected:
  void SetUp() override {
    const std::string script = Env("RINGMQ_TLS_CERTS", "");
    char dir[] = "/tmp/ringmq-bench-tls-XXXXXX";
    if (script.empty() || ::mkdtemp(dir) == nullptr) {
      GTEST_SKIP() << "RINGMQ_TLS_CERTS not set";
    }
    dir_ = dir;
    if (std::system(("sh " + script + " " + dir_ + " >/dev/null 2>&1").c_str()) != 0) {
      GTEST_SKIP() << script << " failed (no openssl command?)";
    }
    for (uint16_t* p : {&tls_port_, &mtls_port_, &wss_port_}) {
      absl::StatusOr<uint16_t> port = testing::PickFreePort();
      ASSERT_TRUE(port.ok()) << port.status();
      *p = *port;
    }
    const std::string tls = std::to_string(tls_port_);
    const std::string mtls = std::to_string(mtls_port_);
    const std::string files = "cafile " + File("ca.pem") + "\ncertfile " + File("server.pem") +
                              "\nkeyfile " + File("server.key");
    StartBroker({"--listen", "mqtts://127.0.0.1:" + tls, "--listen",
                 "mqtts://127.0.0.1:" + mtls + "?client_certs=require", "--listen",
                 "wss://127.0.0.1:" + std::to_string(wss_port_), "--tls-cert", File("server.pem"),
                 "--tls-key", File("server.key"), "--tls-ca", File("ca.pem")},
                {"listener " + tls + " 127.0.0.1", files, "listener " + mtls + " 127.0.0.1", files,
                 "require_certificate true"});
    // Mosquitto handles SIGTERM once every listener is up.
    for (uint16_t p : {tls_port_, mtls_port_}) {
      ASSERT_TRUE(WaitAccepting(p, seconds(10))) << "nothing listens on " << p;
    }
  }
  void TearDown() override {
    LoadRunTest::TearDown();
    if (!dir_.empty()) {
      std::system(("rm -rf " + dir_).c_str());
    }
  }
  std::string File(const char* name) const { return dir_ + "/" + name; }
  // Over TLS to the first listener, verifying its certificate against the test CA.
  BenchConfig ShortTls(Scenario s) const {
    BenchConfig c = Short(s);
    c.transport = ClientTransport::kTls;
    c.port = tls_port_;
    c.tls_ca = File("ca.pem");
    return c;
  }

  std::string dir_;
  uint16_t tls_port_ = 0;
  uint16_t mtls_port_ = 0;
  uint16_t wss_port_ = 0;
};

TEST_F(LoadRunTlsTest, PairsAtQos0And1) {
  BenchConfig c = ShortTls(Scenario::kPairs);
  c.pairs = 20;
  BenchResult r = RunClean(c);
  EXPECT_EQ(r.connections, 40u);
  c = ShortTls(Scenario::kPairs);
  c.pairs = 10;
  c.qos = mqtt::Qos::k1;
  c.version = mqtt::ProtocolVersion::kMqtt5;
  c.threads = 2;
  c.payload_bytes = 20000;  // PUBLISHes spanning TLS records
  RunClean(c);
}

TEST_F(LoadRunTlsTest, HandshakeScenario) {
  BenchConfig c = ShortTls(Scenario::kHandshake);
  c.connections = 10;
  BenchResult r = RunClean(c);
  EXPECT_GT(r.handshakes, 10u) << ToJson(c, r);
  EXPECT_GT(r.handshake_rate, 0);
  EXPECT_GT(r.handshakes_per_broker_cpu_s, 0);
}

TEST_F(LoadRunTlsTest, ClientCertificate) {
  BenchConfig c = ShortTls(Scenario::kPairs);
  c.port = mtls_port_;
  c.pairs = 5;
  c.tls_cert = File("client.pem");
  c.tls_key = File("client.key");
  RunClean(c);
  // Without one: refused in the handshake.
  c.tls_cert.clear();
  c.tls_key.clear();
  absl::StatusOr<BenchResult> r = RunBench(c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->connections, 0u);
  EXPECT_GT(r->connect_failures, 0u);
  EXPECT_EQ(ExitCode(c, *r), 1);
}

TEST_F(LoadRunTlsTest, CertificateMustNameTheHost) {
  BenchConfig c = ShortTls(Scenario::kPairs);
  c.host = "localhost";  // the certificate names IP 127.0.0.1 only
  c.pairs = 1;
  ExpectRefused(c, 2, "certificate verify failed");
  // Without --tls-ca nothing is verified.
  c.tls_ca.clear();
  RunClean(c);
}

TEST_F(LoadRunTlsTest, PlainPortFailsTheHandshake) {
  BenchConfig c = ShortTls(Scenario::kPairs);
  c.port = broker_->port();  // MQTT over TCP
  c.pairs = 1;
  ExpectRefused(c, 2, "TLS handshake");
}

TEST_F(LoadRunTlsTest, WebSocketOverTls) {
  if (broker_->kind() == testing::BrokerKind::kMosquitto) {
    GTEST_SKIP() << "no wss listener configured for Mosquitto";
  }
  BenchConfig c = ShortTls(Scenario::kPairs);
  c.transport = ClientTransport::kWss;
  c.port = wss_port_;
  c.pairs = 10;
  c.qos = mqtt::Qos::k1;
  BenchResult r = RunClean(c);
  EXPECT_EQ(r.connections, 20u);
  c.scenario = Scenario::kHandshake;
  c.connections = 5;
  r = RunClean(c);
  EXPECT_GT(r.handshakes, 5u);
}

TEST(LoadRunNoBrokerTest, RefusedConnectionsFailTheRun) {
  BenchConfig c;
  absl::StatusOr<uint16_t> port = testing::PickFreePort();  // nothing listens there
  ASSERT_TRUE(port.ok()) << port.status();
  c.port = *port;
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
