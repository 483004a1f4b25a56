// Engine benchmark: the echo service (examples/minimal_engine) on each backend, measured in
// the same run, alternating backends round by round (A B A B ...), medians reported.
//
//   engine_bench --echo_server build/examples/minimal_engine/echo_server
//                [--connections 1000] [--payload 64] [--window 16] [--duration 5] [--rounds 3]
//                [--server_threads 1] [--idle 10000]
//
// Throughput phase: `connections` clients each keep `window` messages of `payload` bytes in
// flight; every echoed message is counted and timed (the send time travels in the payload).
// The client is one thread with epoll, reading and re-sending in batches, so it spends
// few syscalls per message. Memory phase: `idle` connections each do one round trip and then
// sit idle; the server's RSS growth divided by their number is the memory per connection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"

#include "core/base/clock.h"
#include "core/base/proc_stats.h"
#include "tests/testing/subprocess.h"

ABSL_FLAG(std::string, echo_server, "build/examples/minimal_engine/echo_server", "echo server");
ABSL_FLAG(int, connections, 1000, "connections in the throughput phase");
ABSL_FLAG(int, payload, 64, "bytes per message (>= 16)");
ABSL_FLAG(int, window, 16, "messages in flight per connection");
ABSL_FLAG(double, duration, 5, "seconds measured per round");
ABSL_FLAG(double, warmup, 1, "seconds of warm-up per round");
ABSL_FLAG(int, rounds, 3, "rounds per backend");
ABSL_FLAG(int, server_threads, 1, "shards of the echo server");
ABSL_FLAG(int, idle, 10000, "idle connections in the memory phase (0: skip)");

namespace {

using ringmq::base::MonotonicNs;
using ringmq::testing::Subprocess;

struct Server {
  std::unique_ptr<Subprocess> proc;
  uint16_t port = 0;
};

Server StartServer(const std::string& backend) {
  Server s;
  auto p = Subprocess::Start({absl::GetFlag(FLAGS_echo_server), "--listen", "127.0.0.1:0",
                              "--threads", std::to_string(absl::GetFlag(FLAGS_server_threads)),
                              "--io_backend", backend, "--log_level", "error"});
  if (!p.ok()) {
    std::fprintf(stderr, "cannot start the echo server: %s\n", p.status().ToString().c_str());
    std::exit(1);
  }
  s.proc = std::move(*p);
  auto line = s.proc->WaitForLine("listening", std::chrono::seconds(10));
  if (!line) {
    std::fprintf(stderr, "the echo server did not start\n");
    std::exit(1);
  }
  s.port = *ringmq::testing::PortFromListeningLine(*line);
  return s;
}

void StopServer(Server& s) {
  s.proc->Signal(SIGTERM);
  s.proc->Wait(std::chrono::seconds(20));
}

int Connect(uint16_t port, bool nonblocking) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

struct RoundResult {
  double msgs_per_s = 0;
  double msgs_per_cpu_s = 0;  // echoed messages per second of server CPU (user + system)
  double mbytes_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  double p999_us = 0;
};

// Latency histogram: 1 us buckets up to 100 ms.
struct Histogram {
  std::vector<uint64_t> buckets = std::vector<uint64_t>(100'001, 0);
  uint64_t count = 0;
  void Add(int64_t ns) {
    size_t us = static_cast<size_t>(std::clamp<int64_t>(ns / 1000, 0, 100'000));
    ++buckets[us];
    ++count;
  }
  double Quantile(double q) const {
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count));
    uint64_t seen = 0;
    for (size_t i = 0; i < buckets.size(); ++i) {
      seen += buckets[i];
      if (seen > rank) {
        return static_cast<double>(i);
      }
    }
    return 100'000;
  }
};

// utime + stime of a process, in seconds; 0 if it cannot be read.
double CpuSeconds(pid_t pid) {
  return ringmq::base::ProcessCpuSeconds(pid).value_or(0);
}

RoundResult Throughput(uint16_t port, pid_t server_pid) {
  const int n = absl::GetFlag(FLAGS_connections);
  const size_t payload = static_cast<size_t>(std::max(16, absl::GetFlag(FLAGS_payload)));
  const int window = absl::GetFlag(FLAGS_window);
  std::vector<int> fds(static_cast<size_t>(n));
  std::vector<size_t> partial(static_cast<size_t>(n), 0);  // bytes of an incomplete message
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < n; ++i) {
    fds[static_cast<size_t>(i)] = Connect(port, /*nonblocking=*/false);
    if (fds[static_cast<size_t>(i)] < 0) {
      std::fprintf(stderr, "connect failed\n");
      std::exit(1);
    }
  }
  std::vector<uint8_t> out(payload * static_cast<size_t>(window));
  std::vector<uint8_t> in(1 << 16);
  auto stamp = [&](size_t count) {
    int64_t now = MonotonicNs();
    for (size_t m = 0; m < count; ++m) {
      std::memcpy(out.data() + m * payload, &now, sizeof now);
    }
  };
  for (int i = 0; i < n; ++i) {
    int fd = fds[static_cast<size_t>(i)];
    int flags = 1;
    ioctl(fd, FIONBIO, &flags);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    stamp(static_cast<size_t>(window));
    send(fd, out.data(), payload * static_cast<size_t>(window), MSG_NOSIGNAL);
  }
  Histogram hist;
  uint64_t messages = 0;
  const int64_t start = MonotonicNs();
  const int64_t measure_from = start + static_cast<int64_t>(absl::GetFlag(FLAGS_warmup) * 1e9);
  const int64_t end = measure_from + static_cast<int64_t>(absl::GetFlag(FLAGS_duration) * 1e9);
  std::vector<epoll_event> events(1024);
  double cpu_start = -1;
  for (;;) {
    int64_t now = MonotonicNs();
    if (now >= end) {
      break;
    }
    if (cpu_start < 0 && now >= measure_from) {
      cpu_start = CpuSeconds(server_pid);
    }
    int k = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int e = 0; e < k; ++e) {
      size_t i = events[static_cast<size_t>(e)].data.u32;
      int fd = fds[i];
      ssize_t r = recv(fd, in.data(), in.size(), 0);
      if (r <= 0) {
        continue;
      }
      // Complete messages: the timestamp is in each message's first 8 bytes. A message
      // split across reads is timed by its first part (kept in `partial`).
      size_t off = 0;
      size_t done = 0;
      const int64_t t = MonotonicNs();
      size_t have = partial[i];
      while (off < static_cast<size_t>(r)) {
        size_t need = payload - have;
        size_t take = std::min(need, static_cast<size_t>(r) - off);
        if (have == 0 && take >= sizeof(int64_t)) {
          int64_t sent;
          std::memcpy(&sent, in.data() + off, sizeof sent);
          if (t >= measure_from) {
            hist.Add(t - sent);
          }
        } else if (have == 0) {
          // Timestamp split: ignore this one's latency (rare with 64 KiB reads).
        }
        have += take;
        off += take;
        if (have == payload) {
          have = 0;
          ++done;
        }
      }
      partial[i] = have;
      if (t >= measure_from) {
        messages += done;
      }
      if (done > 0) {
        stamp(done);
        send(fd, out.data(), payload * done, MSG_NOSIGNAL);
      }
    }
  }
  const double secs = static_cast<double>(end - measure_from) / 1e9;
  const double cpu = CpuSeconds(server_pid) - cpu_start;
  RoundResult r;
  r.msgs_per_s = static_cast<double>(messages) / secs;
  r.msgs_per_cpu_s = cpu > 0 ? static_cast<double>(messages) / cpu : 0;
  r.mbytes_per_s = r.msgs_per_s * static_cast<double>(payload) / 1e6;
  r.p50_us = hist.Quantile(0.50);
  r.p99_us = hist.Quantile(0.99);
  r.p999_us = hist.Quantile(0.999);
  for (int fd : fds) {
    close(fd);
  }
  close(ep);
  return r;
}

// Resident memory of a process in KiB; 0 if it cannot be read.
uint64_t RssKb(pid_t pid) {
  absl::StatusOr<ringmq::base::ProcessMemory> m = ringmq::base::ProcessMemoryKb(pid);
  return m.ok() ? m->rss_kb : 0;
}

struct MemResult {
  uint64_t before_kb = 0;
  uint64_t after_kb = 0;
};

MemResult IdleMemory(Server& s, int count) {
  MemResult m;
  // Warm the server up first (buffers, first allocations), so the growth is per connection.
  {
    int fd = Connect(s.port, false);
    char c = 'w';
    send(fd, &c, 1, 0);
    recv(fd, &c, 1, 0);
    close(fd);
  }
  usleep(200'000);
  m.before_kb = RssKb(s.proc->pid());
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) {
    int fd = Connect(s.port, false);
    if (fd < 0) {
      break;
    }
    char c = 'x';
    send(fd, &c, 1, 0);  // one round trip, like an MQTT CONNECT/CONNACK, then idle
    recv(fd, &c, 1, 0);
    fds.push_back(fd);
  }
  usleep(500'000);
  m.after_kb = RssKb(s.proc->pid());
  for (int fd : fds) {
    close(fd);
  }
  return m;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  const std::vector<std::string> backends = {"io_uring", "epoll"};
  std::vector<std::vector<RoundResult>> results(2);
  const int rounds = absl::GetFlag(FLAGS_rounds);
  for (int r = 0; r < rounds; ++r) {
    for (size_t b = 0; b < 2; ++b) {
      // Alternate which backend goes first, so drift on a shared machine hits both.
      size_t which = (static_cast<size_t>(r) % 2 == 0) ? b : 1 - b;
      Server s = StartServer(backends[which]);
      RoundResult res = Throughput(s.port, s.proc->pid());
      StopServer(s);
      results[which].push_back(res);
      std::printf(
          "round %d %-8s %10.0f msg/s %8.1f MB/s %10.0f msg/cpu-s  p50 %6.0f us  p99 %6.0f us  "
          "p999 %6.0f us\n",
          r + 1, backends[which].c_str(), res.msgs_per_s, res.mbytes_per_s, res.msgs_per_cpu_s,
          res.p50_us, res.p99_us, res.p999_us);
      std::fflush(stdout);
    }
  }
  std::printf(
      "\nmedians over %d rounds (%d connections, %d-byte messages, window %d, %d server "
      "shard(s)):\n",
      rounds, absl::GetFlag(FLAGS_connections), absl::GetFlag(FLAGS_payload),
      absl::GetFlag(FLAGS_window), absl::GetFlag(FLAGS_server_threads));
  double med[2];
  double med_cpu[2];
  std::printf("| backend | msgs/s | MB/s | msgs per server CPU-s | p50 us | p99 us |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (size_t b = 0; b < 2; ++b) {
    std::vector<double> m, c, p50, p99;
    for (const RoundResult& x : results[b]) {
      m.push_back(x.msgs_per_s);
      c.push_back(x.msgs_per_cpu_s);
      p50.push_back(x.p50_us);
      p99.push_back(x.p99_us);
    }
    med[b] = Median(m);
    med_cpu[b] = Median(c);
    std::printf("| %s | %.0f | %.1f | %.0f | %.0f | %.0f |\n", backends[b].c_str(), med[b],
                med[b] * absl::GetFlag(FLAGS_payload) / 1e6, med_cpu[b], Median(p50), Median(p99));
  }
  std::printf("io_uring / epoll: throughput %.2f, per CPU-second %.2f\n",
              med[1] > 0 ? med[0] / med[1] : 0.0, med_cpu[1] > 0 ? med_cpu[0] / med_cpu[1] : 0.0);

  const int idle = absl::GetFlag(FLAGS_idle);
  if (idle > 0) {
    for (const std::string& b : backends) {
      Server s = StartServer(b);
      MemResult m = IdleMemory(s, idle);
      StopServer(s);
      double per = static_cast<double>(m.after_kb - m.before_kb) * 1024.0 / idle;
      std::printf(
          "idle memory %-8s: RSS %" PRIu64 " KiB -> %" PRIu64
          " KiB with %d idle connections: %.0f bytes per connection (RSS/%d = %.0f bytes)\n",
          b.c_str(), m.before_kb, m.after_kb, idle, per, idle,
          static_cast<double>(m.after_kb) * 1024.0 / idle);
    }
  }
  return 0;
}
