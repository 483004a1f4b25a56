// A minimal service on the engine (no MQTT): echoes every byte back. Used by the engine's
// tests and benchmark, and the smallest example of a ShardApp.
//
//   echo_server --listen 127.0.0.1:0 --threads 2 [--io-backend=epoll] [--handoff]
//
// On start it prints "listening HOST:PORT" on stdout; on SIGINT/SIGTERM it shuts down
// cleanly and prints one "stats ..." line with the engine's counters.
// --handoff: a connection's first bytes make its shard hand it to the next shard, which
// echoes them and everything after (exercises Shard::HandOff with unread bytes).

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"

#include "core/base/log.h"
#include "core/shard/shard_set.h"
#include "core/shard/stop_signals.h"

ABSL_FLAG(std::vector<std::string>, listen, {"127.0.0.1:7000"}, "addresses to listen on");
ABSL_FLAG(uint32_t, threads, 0, "shards (0: one per CPU)");
ABSL_FLAG(std::string, io_backend, "auto", "auto, io_uring or epoll");
ABSL_FLAG(uint32_t, recv_buffers, 256, "provided receive buffers per shard (power of two)");
ABSL_FLAG(uint32_t, recv_buffer_size, 16384, "bytes per receive buffer");
ABSL_FLAG(bool, handoff, false, "hand every connection to the next shard after its first bytes");
ABSL_FLAG(uint64_t, max_connections, 0, "global connection limit (0: none)");
ABSL_FLAG(std::string, log_level, "warning", "debug, info, warning, error");

namespace {

using ringmq::net::Conn;
using ringmq::shard::Envelope;
using ringmq::shard::Shard;

// Per-connection state: whether it already moved (so it is handed over only once).
constexpr uintptr_t kMoved = 1;

class EchoApp final : public ringmq::shard::ShardApp {
 public:
  EchoApp(Shard& shard, bool handoff) : shard_(shard), handoff_(handoff) {}

  void OnAccepted(Conn& /*c*/) override {}
  void OnAdopted(Conn& c, uint64_t /*app_data*/) override {
    c.set_user(reinterpret_cast<void*>(kMoved));
  }
  void OnData(Conn& c, std::span<const uint8_t> data) override {
    if (handoff_ && shard_.count() > 1 && c.user() == nullptr) {
      shard_.HandOff(c, (shard_.index() + 1) % shard_.count(), data, 0);
      return;
    }
    c.Write(data);
    if (c.congested()) {
      shard_.reactor().PauseRead(c);  // back-pressure: stop reading a peer that does not read
    }
  }
  void OnOutputDrained(Conn& c) override { shard_.reactor().ResumeRead(c); }
  void OnClosed(Conn& /*c*/, int /*err*/) override {}
  void OnMessage(const Envelope& /*e*/) override {}

 private:
  Shard& shard_;
  const bool handoff_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  ringmq::base::LogLevel level;
  if (!ringmq::base::ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    std::fprintf(stderr, "bad --log_level\n");
    return 2;
  }
  ringmq::base::SetLogLevel(level);

  ringmq::shard::ShardSetOptions opts;
  opts.threads = absl::GetFlag(FLAGS_threads);
  opts.max_connections = absl::GetFlag(FLAGS_max_connections);
  if (!ringmq::net::ParseBackend(absl::GetFlag(FLAGS_io_backend), &opts.shard.reactor.backend)) {
    std::fprintf(stderr, "bad --io_backend\n");
    return 2;
  }
  opts.shard.reactor.recv_buffer_count = absl::GetFlag(FLAGS_recv_buffers);
  opts.shard.reactor.recv_buffer_size = absl::GetFlag(FLAGS_recv_buffer_size);
  for (const std::string& text : absl::GetFlag(FLAGS_listen)) {
    auto ep = ringmq::net::ParseEndpoint(text);
    if (!ep.ok()) {
      std::fprintf(stderr, "--listen: %s\n", std::string(ep.status().message()).c_str());
      return 2;
    }
    opts.listeners.push_back({*ep, 0, "echo"});
  }

  ringmq::shard::StopSignals stop_signals;  // before any shard thread exists

  const bool handoff = absl::GetFlag(FLAGS_handoff);
  ringmq::shard::ShardSet set(opts);
  absl::Status s =
      set.Start([handoff](Shard& shard) { return std::make_unique<EchoApp>(shard, handoff); });
  if (!s.ok()) {
    std::fprintf(stderr, "echo_server: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  for (const auto& b : set.bound()) {
    std::printf("listening %s backend %s shards %u\n", b.endpoint.ToString().c_str(),
                std::string(ringmq::net::BackendName(set.backend())).c_str(), set.size());
  }
  std::fflush(stdout);

  const int sig = stop_signals.Wait();
  set.Stop();
  set.Wait();
  ringmq::shard::ShardStats t = set.TotalStats();
  std::printf(
      "stats signal=%d accepted=%llu refused=%llu bytes_in=%llu bytes_out=%llu sends=%llu "
      "partial_sends=%llu enobufs=%llu handoffs_out=%llu handoffs_in=%llu wakeups=%llu\n",
      sig, static_cast<unsigned long long>(t.io.accepted),
      static_cast<unsigned long long>(t.io.refused_over_limit),
      static_cast<unsigned long long>(t.io.bytes_in),
      static_cast<unsigned long long>(t.io.bytes_out), static_cast<unsigned long long>(t.io.sends),
      static_cast<unsigned long long>(t.io.partial_sends),
      static_cast<unsigned long long>(t.io.enobufs),
      static_cast<unsigned long long>(t.shard.handoffs_out),
      static_cast<unsigned long long>(t.shard.handoffs_in),
      static_cast<unsigned long long>(t.io.wakeups_sent));
  return 0;
}
