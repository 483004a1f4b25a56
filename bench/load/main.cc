// ringmq-bench: the MQTT load tool (issue 5). See bench/load/README.md for the scenarios and
// the output, and runner.h for the phases of a run.
//
//   ringmq-bench --scenario pairs --pairs 100 --qos 1 --duration 5 --broker-pid $(pidof mosquitto)
//
// Flags may be written with dashes or underscores (--broker-pid = --broker_pid).
// Progress goes to stderr once a second; the result is one JSON object on stdout.
// Exit status: 0 clean, 1 the run lost what it must not lose or failed, 2 bad usage.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"

#include "bench/load/config.h"
#include "bench/load/runner.h"
#include "core/base/flags_normalize.h"
#include "core/base/log.h"

ABSL_FLAG(std::string, scenario, "pairs",
          "pairs, fanout, fanin, shared, connect, echo, offline or handshake");
ABSL_FLAG(std::string, host, "127.0.0.1", "broker address (numeric; localhost allowed)");
ABSL_FLAG(uint32_t, port, 1883, "broker port");
ABSL_FLAG(std::string, transport, "tcp",
          "tcp; websocket: MQTT in WebSocket frames (RFC 6455; to a ws:// listener); tls: MQTT "
          "in TLS (mqtts://); wss: WebSocket in TLS (wss://)");
ABSL_FLAG(std::string, tls_ca, "",
          "tls/wss: PEM CA file; verify the broker's certificate (chain, and that it names "
          "--host); empty: no verification");
ABSL_FLAG(std::string, tls_cert, "", "tls/wss: PEM client certificate (mTLS; with --tls-key)");
ABSL_FLAG(std::string, tls_key, "", "tls/wss: PEM private key of --tls-cert");
ABSL_FLAG(std::string, ws_path, "/mqtt", "websocket: the path of the upgrade request");
ABSL_FLAG(std::string, mqtt_version, "3.1.1", "3.1, 3.1.1 or 5");
ABSL_FLAG(uint32_t, qos, 0, "0, 1 or 2");
ABSL_FLAG(uint32_t, payload, 64, "payload bytes (>= 24: the header)");
ABSL_FLAG(double, duration, 5, "measured seconds (connect: seconds held idle)");
ABSL_FLAG(double, warmup, 1, "seconds of publishing before the measured window");
ABSL_FLAG(uint32_t, pairs, 0, "pairs: number of publisher/subscriber pairs (default 100)");
ABSL_FLAG(uint32_t, publishers, 0,
          "publishers (default: pairs 100, fanout 1, fanin 100, shared 10, offline 100)");
ABSL_FLAG(uint32_t, subscribers, 0,
          "subscribers (default: fanout 100, fanin 1, shared 10, offline 10)");
ABSL_FLAG(uint32_t, connections, 0,
          "connect/echo/handshake: connections (default 1000 / 100 / 100; handshake: clients "
          "reconnecting in a loop, all at once)");
ABSL_FLAG(double, rate, 0, "messages/s per publisher; 0: as fast as the windows allow");
ABSL_FLAG(uint64_t, messages, 0,
          "messages per publisher, then it stops (the run ends when all have); 0: no limit");
ABSL_FLAG(uint32_t, inflight, 16, "unacknowledged QoS>0 PUBLISHes per publisher");
ABSL_FLAG(int64_t, e2e_window, -1,
          "with --rate 0: messages per publisher and subscriber sent but not yet received "
          "(-1: --inflight, 0: off)");
ABSL_FLAG(double, connect_rate, 0, "new connections per second; 0: as fast as allowed");
ABSL_FLAG(uint32_t, connect_concurrency, 100, "connections in progress at once");
ABSL_FLAG(double, connect_timeout, 60, "seconds for every connection to be ready");
ABSL_FLAG(uint32_t, threads, 1, "shards (threads) of the tool");
ABSL_FLAG(bool, pin, false, "pin each shard thread to a CPU");
ABSL_FLAG(std::string, io_backend, "auto", "auto, io_uring or epoll");
ABSL_FLAG(uint32_t, recv_buffer_size, 65536, "bytes per receive buffer");
ABSL_FLAG(int32_t, broker_pid, 0, "broker process: report its CPU time and memory");
ABSL_FLAG(bool, clean, true, "clean sessions; --noclean: persistent sessions");
ABSL_FLAG(uint32_t, session_expiry, 3600, "MQTT 5 session expiry (s) with --noclean");
ABSL_FLAG(uint32_t, keepalive, 60, "keep-alive (s); PINGREQ after half of it idle; 0: none");
ABSL_FLAG(std::string, topic_prefix, "bench", "first topic level");
ABSL_FLAG(std::string, client_prefix, "", "client id prefix (default rb<pid>)");
ABSL_FLAG(std::string, username, "", "user name every client sends in CONNECT (empty: none)");
ABSL_FLAG(std::string, password, "",
          "password every client sends (empty: none; RINGMQ_BENCH_PASSWORD if set)");
ABSL_FLAG(bool, strict, false, "QoS 0 loss and any reordering also fail the run");
ABSL_FLAG(double, drain, 5, "seconds to wait after the window for messages sent in it");
ABSL_FLAG(bool, progress, true, "a progress line per second on stderr");
ABSL_FLAG(std::string, log_level, "warning", "engine log level");
ABSL_FLAG(uint32_t, offline_groups, 1,
          "offline: subscriber and publisher i in group i % N; a message is queued for the "
          "subscribers of its publisher's group (N must divide --subscribers)");
ABSL_FLAG(bool, drain_offline, false,
          "offline: afterwards reconnect the subscribers and count what their queues held");
ABSL_FLAG(double, drain_offline_timeout, 60, "offline: seconds the queues may take to drain");

namespace {

bool BuildConfig(ringmq::bench::BenchConfig* c) {
  using ringmq::bench::ParseMqttVersion;
  using ringmq::bench::ParseScenario;
  if (!ParseScenario(absl::GetFlag(FLAGS_scenario), &c->scenario)) {
    std::fprintf(stderr,
                 "--scenario: pairs, fanout, fanin, shared, connect, echo, offline or handshake\n");
    return false;
  }
  if (!ParseMqttVersion(absl::GetFlag(FLAGS_mqtt_version), &c->version)) {
    std::fprintf(stderr, "--mqtt-version: 3.1, 3.1.1 or 5\n");
    return false;
  }
  const uint32_t qos = absl::GetFlag(FLAGS_qos);
  if (qos > 2) {
    std::fprintf(stderr, "--qos: 0, 1 or 2\n");
    return false;
  }
  c->qos = static_cast<ringmq::mqtt::Qos>(qos);
  if (!ringmq::bench::ParseClientTransport(absl::GetFlag(FLAGS_transport), &c->transport)) {
    std::fprintf(stderr, "--transport: tcp, websocket, tls or wss\n");
    return false;
  }
  c->ws_path = absl::GetFlag(FLAGS_ws_path);
  c->tls_ca = absl::GetFlag(FLAGS_tls_ca);
  c->tls_cert = absl::GetFlag(FLAGS_tls_cert);
  c->tls_key = absl::GetFlag(FLAGS_tls_key);
  if (!ringmq::net::ParseBackend(absl::GetFlag(FLAGS_io_backend), &c->backend)) {
    std::fprintf(stderr, "--io-backend: auto, io_uring or epoll\n");
    return false;
  }
  const uint32_t port = absl::GetFlag(FLAGS_port);
  const uint32_t keepalive = absl::GetFlag(FLAGS_keepalive);
  if (port == 0 || port > 65535 || keepalive > 65535) {
    std::fprintf(stderr, "--port and --keepalive must fit 16 bits (port > 0)\n");
    return false;
  }
  c->host = absl::GetFlag(FLAGS_host);
  c->port = static_cast<uint16_t>(port);
  c->payload_bytes = absl::GetFlag(FLAGS_payload);
  c->duration_s = absl::GetFlag(FLAGS_duration);
  c->warmup_s = absl::GetFlag(FLAGS_warmup);
  c->pairs = absl::GetFlag(FLAGS_pairs);
  c->publishers = absl::GetFlag(FLAGS_publishers);
  c->subscribers = absl::GetFlag(FLAGS_subscribers);
  c->connections = absl::GetFlag(FLAGS_connections);
  c->rate = absl::GetFlag(FLAGS_rate);
  c->inflight = absl::GetFlag(FLAGS_inflight);
  c->messages = absl::GetFlag(FLAGS_messages);
  c->e2e_window = absl::GetFlag(FLAGS_e2e_window);
  c->connect_rate = absl::GetFlag(FLAGS_connect_rate);
  c->connect_concurrency = absl::GetFlag(FLAGS_connect_concurrency);
  c->connect_timeout_s = absl::GetFlag(FLAGS_connect_timeout);
  c->threads = absl::GetFlag(FLAGS_threads);
  c->pin_threads = absl::GetFlag(FLAGS_pin);
  c->recv_buffer_size = absl::GetFlag(FLAGS_recv_buffer_size);
  c->broker_pid = absl::GetFlag(FLAGS_broker_pid);
  c->clean = absl::GetFlag(FLAGS_clean);
  c->session_expiry_s = absl::GetFlag(FLAGS_session_expiry);
  c->keepalive_s = static_cast<uint16_t>(keepalive);
  c->topic_prefix = absl::GetFlag(FLAGS_topic_prefix);
  c->client_prefix = absl::GetFlag(FLAGS_client_prefix);
  if (std::string user = absl::GetFlag(FLAGS_username); !user.empty()) {
    c->username = std::move(user);
  }
  std::string password = absl::GetFlag(FLAGS_password);
  if (const char* env = std::getenv("RINGMQ_BENCH_PASSWORD"); password.empty() && env != nullptr) {
    password = env;
  }
  if (!password.empty()) {
    c->password = std::move(password);
  }
  c->strict = absl::GetFlag(FLAGS_strict);
  c->drain_s = absl::GetFlag(FLAGS_drain);
  c->progress = absl::GetFlag(FLAGS_progress);
  c->offline_groups = absl::GetFlag(FLAGS_offline_groups);
  c->drain_offline = absl::GetFlag(FLAGS_drain_offline);
  c->drain_offline_timeout_s = absl::GetFlag(FLAGS_drain_offline_timeout);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "MQTT load generator: ringmq-bench "
      "--scenario pairs|fanout|fanin|shared|connect|echo|offline|handshake "
      "[--qos N] [--payload BYTES] [--duration S] [--host H --port P] "
      "[--transport websocket|tls|wss [--tls-ca FILE]] "
      "[--broker-pid PID]");
  ringmq::base::NormalizedArgs args(argc, argv);  // --broker-pid for --broker_pid
  absl::ParseCommandLine(args.argc(), args.argv());

  ringmq::base::LogLevel level;
  if (!ringmq::base::ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    std::fprintf(stderr, "--log-level: debug, info, warning, error\n");
    return 2;
  }
  ringmq::base::SetLogLevel(level);
  ringmq::bench::BenchConfig config;
  if (!BuildConfig(&config)) {
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  absl::StatusOr<ringmq::bench::BenchResult> r = ringmq::bench::RunBench(config);
  if (!r.ok()) {
    std::fprintf(stderr, "ringmq-bench: %s\n", std::string(r.status().message()).c_str());
    return 2;
  }
  std::fputs(ringmq::bench::ToJson(config, *r).c_str(), stdout);
  std::fflush(stdout);
  return ringmq::bench::ExitCode(config, *r);
}
