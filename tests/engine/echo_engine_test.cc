// Engine tests over real loopback sockets: the echo service (examples/minimal_engine) runs
// in its own process with 2 shards; this process is the client. Every test runs on both
// backends (io_uring and epoll).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "tests/testing/echo_load.h"
#include "tests/testing/subprocess.h"

namespace ringmq::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::map<std::string, uint64_t> ParseStats(const std::string& line) {
  std::map<std::string, uint64_t> out;
  size_t pos = 0;
  while (pos < line.size()) {
    size_t end = line.find(' ', pos);
    std::string word = line.substr(pos, end == std::string::npos ? end : end - pos);
    size_t eq = word.find('=');
    if (eq != std::string::npos) {
      out[word.substr(0, eq)] = std::strtoull(word.c_str() + eq + 1, nullptr, 10);
    }
    if (end == std::string::npos) {
      break;
    }
    pos = end + 1;
  }
  return out;
}

int ConnectLoopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Round trip of `msg` on a blocking socket; returns what came back.
std::string EchoOnce(int fd, const std::string& msg) {
  if (send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size())) {
    return "<send failed>";
  }
  std::string got;
  char buf[4096];
  while (got.size() < msg.size()) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      break;
    }
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

class EchoEngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  void StartServer(std::vector<std::string> extra = {}) {
    const char* exe = std::getenv("RINGMQ_ECHO_SERVER");
    ASSERT_NE(exe, nullptr) << "RINGMQ_ECHO_SERVER is not set";
    std::vector<std::string> argv = {exe, "--listen",     "127.0.0.1:0", "--threads",
                                     "2", "--io_backend", GetParam()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto p = Subprocess::Start(argv);
    ASSERT_TRUE(p.ok()) << p.status();
    server_ = std::move(*p);
    auto line = server_->WaitForLine("listening", seconds(20));
    ASSERT_TRUE(line.has_value()) << "the echo server did not start";
    ASSERT_NE(line->find("backend " + GetParam()), std::string::npos) << *line;
    auto port = PortFromListeningLine(*line);
    ASSERT_TRUE(port.has_value()) << *line;
    port_ = *port;
  }

  // SIGTERM, then the stats line and a clean exit within `limit`.
  std::map<std::string, uint64_t> StopServer(milliseconds limit = seconds(15)) {
    server_->Signal(SIGTERM);
    auto line = server_->WaitForLine("stats", limit);
    EXPECT_TRUE(line.has_value()) << "no stats line after SIGTERM";
    auto status = server_->Wait(limit);
    EXPECT_TRUE(status.has_value()) << "the server did not exit after SIGTERM";
    if (status) {
      EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "status " << *status;
    }
    return line ? ParseStats(*line) : std::map<std::string, uint64_t>{};
  }

  std::unique_ptr<Subprocess> server_;
  uint16_t port_ = 0;
};

TEST_P(EchoEngineTest, TenThousandConnectionsHandedBetweenShards) {
  StartServer({"--handoff"});
  EchoLoadOptions o;
  o.port = port_;
  o.connections = 10'000;
  o.bytes_per_connection = 2000;
  o.timeout = seconds(90);
  EchoLoadResult r = RunEchoLoad(o);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.connected, 10'000);
  EXPECT_EQ(r.verified, 10'000);
  EXPECT_EQ(r.bytes_echoed, 10'000u * 2000u);
  std::printf("10k connections: connect %.3f s, transfer %.3f s\n", r.connect_s, r.transfer_s);
  auto stats = StopServer();
  EXPECT_EQ(stats["accepted"], 10'000u);
  EXPECT_EQ(stats["handoffs_out"], 10'000u);
  EXPECT_EQ(stats["handoffs_in"], 10'000u);
  EXPECT_EQ(stats["bytes_out"], 10'000u * 2000u);
}

TEST_P(EchoEngineTest, TinyBufferRingForcesEnobufsAndLosesNothing) {
  StartServer({"--recv_buffers", "2", "--recv_buffer_size", "64"});
  EchoLoadOptions o;
  o.port = port_;
  o.connections = 200;
  o.bytes_per_connection = 64 << 10;
  EchoLoadResult r = RunEchoLoad(o);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.verified, 200);
  auto stats = StopServer();
  if (GetParam() == "io_uring") {
    EXPECT_GT(stats["enobufs"], 0u) << "two 64-byte buffers should run dry under this load";
  }
}

TEST_P(EchoEngineTest, LargeTransfersSurvivePartialSends) {
  StartServer();
  EchoLoadOptions o;
  o.port = port_;
  o.connections = 8;
  o.bytes_per_connection = 16 << 20;
  o.write_chunk = 256 << 10;
  EchoLoadResult r = RunEchoLoad(o);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.verified, 8);
  auto stats = StopServer();
  EXPECT_EQ(stats["bytes_out"], 8u * (16u << 20));
}

TEST_P(EchoEngineTest, SlowReaderIsBackPressuredAndOthersAreServed) {
  StartServer();
  // A peer that sends a lot and reads nothing: the server's output for it fills up, the
  // server stops reading from it, and the peer's own sends stall. Memory stays bounded by
  // the socket buffers plus the output high watermark, not by what the peer tries to send.
  int hog = ConnectLoopback(port_);
  ASSERT_GE(hog, 0);
  int flags = 1 << 20;
  setsockopt(hog, SOL_SOCKET, SO_RCVBUF, &flags, sizeof flags);
  timeval tv{0, 200'000};
  setsockopt(hog, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string chunk(64 << 10, 'x');
  size_t sent = 0;
  int stalls = 0;
  while (sent < (256u << 20) && stalls < 5) {
    ssize_t n = send(hog, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else {
      ++stalls;  // 200 ms without progress
    }
  }
  EXPECT_LT(sent, 64u << 20) << "the server kept reading from a peer that never reads";
  // Another client is still served promptly.
  int other = ConnectLoopback(port_);
  ASSERT_GE(other, 0);
  EXPECT_EQ(EchoOnce(other, "still alive"), "still alive");
  close(other);
  close(hog);
  StopServer();
}

TEST_P(EchoEngineTest, ShutdownWithConnectionsOpen) {
  StartServer({"--handoff"});
  std::vector<int> fds;
  for (int i = 0; i < 500; ++i) {
    int fd = ConnectLoopback(port_);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  // Half of them did a round trip (and were handed to the other shard); half are idle.
  for (size_t i = 0; i < fds.size(); i += 2) {
    ASSERT_EQ(EchoOnce(fds[i], "ping " + std::to_string(i)), "ping " + std::to_string(i));
  }
  auto stats = StopServer(seconds(10));
  EXPECT_EQ(stats["accepted"], 500u);
  // Every client sees the connection end.
  char c;
  for (int fd : fds) {
    EXPECT_LE(recv(fd, &c, 1, 0), 0);
    close(fd);
  }
}

TEST_P(EchoEngineTest, GlobalConnectionLimitRefusesTheExcess) {
  StartServer({"--max_connections", "10"});
  std::vector<int> fds;
  for (int i = 0; i < 10; ++i) {
    int fd = ConnectLoopback(port_);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(EchoOnce(fd, "x"), "x");
    fds.push_back(fd);
  }
  int extra = ConnectLoopback(port_);
  ASSERT_GE(extra, 0);  // the kernel completes the handshake; the server then closes it
  char c;
  EXPECT_LE(recv(extra, &c, 1, 0), 0);
  close(extra);
  for (int fd : fds) {
    close(fd);
  }
  auto stats = StopServer();
  EXPECT_EQ(stats["accepted"], 11u);
}

INSTANTIATE_TEST_SUITE_P(Backends, EchoEngineTest, ::testing::Values("io_uring", "epoll"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace ringmq::testing
