// ringmq: the broker executable. Wiring only: flags -> BrokerConfig and ShardSetOptions ->
// ShardSet of BrokerShards; signals stop it.
//
// Flags may be written with dashes or underscores (--max-keepalive or --max_keepalive).
// With no flags it listens on 127.0.0.1:1883 with the defaults of BrokerConfig.

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/broker/broker_shard.h"
#include "core/shard/shard_set.h"
#include "core/shard/stop_signals.h"
#include "persistence/offline_store.h"

#ifdef RINGMQ_HAVE_MIMALLOC
#include <mimalloc.h>
#endif

ABSL_FLAG(std::vector<std::string>, listen, {"127.0.0.1:1883"},
          "address to listen on, HOST:PORT or mqtt://HOST:PORT, [IPV6]:PORT; comma-separated or "
          "repeated");
ABSL_FLAG(uint32_t, threads, 0, "shards, one thread each (0: one per CPU)");
ABSL_FLAG(std::string, io_backend, "auto", "auto, io_uring or epoll");
ABSL_FLAG(bool, pin_threads, true, "pin each shard's thread to its own CPU");
ABSL_FLAG(uint64_t, max_connections, 0,
          "connections accepted at once (0: as many as the open file limit allows)");
ABSL_FLAG(uint32_t, max_keepalive, 0,
          "seconds; a larger or zero client keep alive is lowered to it (5.0: announced as "
          "Server Keep Alive); 0: no cap");
ABSL_FLAG(uint32_t, max_packet_size, 1 << 20, "bytes; larger packets are refused");
ABSL_FLAG(uint32_t, max_inflight, 100, "QoS 1/2 messages in flight per session, each way");
ABSL_FLAG(uint32_t, max_queued_messages, 1000, "messages queued per session beyond in-flight");
ABSL_FLAG(uint64_t, max_queued_bytes, 16ull << 20, "bytes queued per session beyond in-flight");
ABSL_FLAG(uint32_t, max_session_expiry, UINT32_MAX, "seconds; cap on the session expiry asked");
ABSL_FLAG(uint32_t, max_topic_alias, 64, "topic aliases a 5.0 client may use (0: none)");
ABSL_FLAG(bool, topic_alias_outbound, true, "use topic aliases towards 5.0 clients that allow");
ABSL_FLAG(uint32_t, max_topic_levels, 32, "levels in a topic name or filter");
ABSL_FLAG(uint32_t, max_client_id, 256, "bytes in a client id");
ABSL_FLAG(bool, allow_empty_client_id, true, "assign ids to clients that send none");
ABSL_FLAG(uint32_t, connect_timeout, 10, "seconds a new connection has to send CONNECT");
ABSL_FLAG(uint32_t, sys_interval, 10, "seconds between $SYS updates (0: none)");
ABSL_FLAG(uint32_t, recv_buffers, 256, "receive buffers per shard (io_uring, power of two)");
ABSL_FLAG(uint32_t, recv_buffer_size, 16384, "bytes per receive buffer");
ABSL_FLAG(uint64_t, max_output_buffer, 1 << 20,
          "bytes of unsent output per connection beyond which it counts as a slow consumer "
          "(QoS 0 dropped, QoS 1/2 queued, reading paused); resumes under a quarter of it");
ABSL_FLAG(uint32_t, tcp_keepalive_idle, 60,
          "seconds of silence before TCP keep-alive probes start on a client connection (0: no "
          "probes); catches clients with MQTT keep alive 0 whose host vanished");
ABSL_FLAG(uint32_t, tcp_keepalive_interval, 10, "seconds between TCP keep-alive probes");
ABSL_FLAG(uint32_t, tcp_keepalive_count, 5,
          "unanswered TCP keep-alive probes before the connection is dropped");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning, error or off");
ABSL_FLAG(uint32_t, debug_defer_ms, 0,
          "testing: hold every CONNACK/SUBACK/PUBACK decision this long (asynchronous path)");

namespace {

// Abseil flags are C identifiers; accept --max-keepalive for --max_keepalive. And a repeated
// --listen adds addresses (Abseil would keep only the last): every occurrence is merged into
// one comma-separated --listen.
std::vector<char*> NormalizeFlags(int argc, char** argv, std::vector<std::string>* storage) {
  std::vector<std::string> args;
  std::string listens;
  bool any_listen = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (i > 0 && a.size() > 2 && a.rfind("--", 0) == 0) {
      size_t end = a.find('=');
      for (size_t k = 2; k < (end == std::string::npos ? a.size() : end); ++k) {
        if (a[k] == '-') {
          a[k] = '_';
        }
      }
      std::string value;
      bool is_listen = false;
      if (a == "--listen" && i + 1 < argc) {
        value = argv[++i];
        is_listen = true;
      } else if (a.rfind("--listen=", 0) == 0) {
        value = a.substr(9);
        is_listen = true;
      }
      if (is_listen) {
        listens += (any_listen ? "," : "") + value;
        any_listen = true;
        continue;
      }
    }
    args.push_back(std::move(a));
  }
  if (any_listen) {
    args.push_back("--listen=" + listens);
  }
  *storage = std::move(args);
  std::vector<char*> out;
  for (std::string& s : *storage) {
    out.push_back(s.data());
  }
  return out;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "ringmq: %s\n", what.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "ringmq: an MQTT 3.1/3.1.1/5.0 broker.\n  ringmq [--listen 127.0.0.1:1883] [--threads N] "
      "[limits...]");
  std::vector<std::string> storage;
  std::vector<char*> args = NormalizeFlags(argc, argv, &storage);
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());

  ringmq::base::LogLevel level;
  if (!ringmq::base::ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    return Fail("--log-level: expected debug, info, warning, error or off");
  }
  ringmq::base::SetLogLevel(level);

  ringmq::broker::BrokerShared shared;
  ringmq::broker::BrokerConfig& cfg = shared.config;
  const uint32_t max_keepalive = absl::GetFlag(FLAGS_max_keepalive);
  if (max_keepalive > 65535) {
    return Fail("--max-keepalive: at most 65535 seconds");
  }
  cfg.max_keepalive_s = static_cast<uint16_t>(max_keepalive);
  cfg.max_packet_size = absl::GetFlag(FLAGS_max_packet_size);
  const uint32_t max_inflight = absl::GetFlag(FLAGS_max_inflight);
  if (max_inflight == 0 || max_inflight > 65535) {
    return Fail("--max-inflight: 1..65535");
  }
  cfg.max_inflight = static_cast<uint16_t>(max_inflight);
  cfg.max_queued_messages = absl::GetFlag(FLAGS_max_queued_messages);
  cfg.max_queued_bytes = absl::GetFlag(FLAGS_max_queued_bytes);
  cfg.max_session_expiry_s = absl::GetFlag(FLAGS_max_session_expiry);
  const uint32_t max_alias = absl::GetFlag(FLAGS_max_topic_alias);
  if (max_alias > 65535) {
    return Fail("--max-topic-alias: at most 65535");
  }
  cfg.max_topic_alias = static_cast<uint16_t>(max_alias);
  cfg.topic_alias_outbound = absl::GetFlag(FLAGS_topic_alias_outbound);
  cfg.max_topic_levels = absl::GetFlag(FLAGS_max_topic_levels);
  cfg.max_client_id_bytes = absl::GetFlag(FLAGS_max_client_id);
  cfg.allow_empty_client_id = absl::GetFlag(FLAGS_allow_empty_client_id);
  cfg.connect_timeout_s = absl::GetFlag(FLAGS_connect_timeout);
  cfg.sys_interval_s = absl::GetFlag(FLAGS_sys_interval);
  cfg.debug_defer_ms = absl::GetFlag(FLAGS_debug_defer_ms);
  if (absl::Status s = cfg.Validate(); !s.ok()) {
    return Fail(std::string(s.message()));
  }

  ringmq::shard::ShardSetOptions opts;
  opts.threads = ringmq::shard::ShardSet::ResolveThreads(absl::GetFlag(FLAGS_threads));
  if (opts.threads > 64) {
    return Fail("--threads: at most 64 shards");
  }
  opts.max_connections = absl::GetFlag(FLAGS_max_connections);
  opts.pin_threads = absl::GetFlag(FLAGS_pin_threads);
  if (!ringmq::net::ParseBackend(absl::GetFlag(FLAGS_io_backend), &opts.shard.reactor.backend)) {
    return Fail("--io-backend: expected auto, io_uring or epoll");
  }
  opts.shard.reactor.recv_buffer_count = absl::GetFlag(FLAGS_recv_buffers);
  opts.shard.reactor.recv_buffer_size = absl::GetFlag(FLAGS_recv_buffer_size);
  const uint64_t max_output = absl::GetFlag(FLAGS_max_output_buffer);
  if (max_output < 4096 || max_output > (uint64_t{1} << 32)) {
    return Fail("--max-output-buffer: between 4096 bytes and 4 GiB");
  }
  opts.shard.reactor.tcp_keepalive.idle_s = absl::GetFlag(FLAGS_tcp_keepalive_idle);
  opts.shard.reactor.tcp_keepalive.interval_s = absl::GetFlag(FLAGS_tcp_keepalive_interval);
  opts.shard.reactor.tcp_keepalive.count = absl::GetFlag(FLAGS_tcp_keepalive_count);
  if (opts.shard.reactor.tcp_keepalive.idle_s > 0 &&
      (opts.shard.reactor.tcp_keepalive.interval_s == 0 ||
       opts.shard.reactor.tcp_keepalive.count == 0 ||
       opts.shard.reactor.tcp_keepalive.idle_s > 32767 ||
       opts.shard.reactor.tcp_keepalive.interval_s > 32767 ||
       opts.shard.reactor.tcp_keepalive.count > 127)) {
    return Fail("--tcp-keepalive-*: idle and interval 1..32767 s, count 1..127");
  }
  opts.shard.reactor.output_high_watermark = max_output;
  opts.shard.reactor.output_low_watermark = max_output / 4;
  for (const std::string& text : absl::GetFlag(FLAGS_listen)) {
    std::string scheme;
    auto ep = ringmq::net::ParseEndpoint(text, &scheme);
    if (!ep.ok()) {
      return Fail(absl::StrFormat("--listen: %s", std::string(ep.status().message())));
    }
    if (!scheme.empty() && scheme != "mqtt" && scheme != "tcp") {
      return Fail(absl::StrFormat("--listen %s: no transport for '%s://' (only mqtt:// so far)",
                                  text, scheme));
    }
    opts.listeners.push_back({*ep, 0, "mqtt"});
  }

  // In memory until the SQLite store exists: a restart loses sessions and queued messages.
  ringmq::persistence::MemoryStore store;
  shared.store = &store;
  shared.shards = opts.threads;
  shared.version = "ringmq 0.1.0";
  shared.start_ms = ringmq::base::MonotonicMs();
  for (uint32_t i = 0; i < opts.threads; ++i) {
    shared.counters.push_back(std::make_unique<ringmq::broker::ShardCounters>());
  }
#ifdef RINGMQ_HAVE_MIMALLOC
  RINGMQ_LOG(kInfo, "%s, allocator mimalloc %d", shared.version, mi_version());
#else
  RINGMQ_LOG(kInfo, "%s, system allocator", shared.version);
#endif

  ringmq::shard::StopSignals stop_signals;  // before any shard thread exists

  ringmq::shard::ShardSet set(opts);
  absl::Status s = set.Start([&shared](ringmq::shard::Shard& sh) {
    return std::make_unique<ringmq::broker::BrokerShard>(sh, shared);
  });
  if (!s.ok()) {
    std::fprintf(stderr, "ringmq: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  for (const auto& b : set.bound()) {
    std::printf("listening %s %s backend %s shards %u\n", b.name.c_str(),
                b.endpoint.ToString().c_str(),
                std::string(ringmq::net::BackendName(set.backend())).c_str(), set.size());
  }
  std::fflush(stdout);

  const int sig = stop_signals.Wait();
  RINGMQ_LOG(kInfo, "signal %d: shutting down", sig);
  set.Stop();
  set.Wait();
  RINGMQ_LOG(kInfo, "stopped");
  return 0;
}
