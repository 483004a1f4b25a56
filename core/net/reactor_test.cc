// Reactor tests on socket pairs, without shards: what a backend does with a connection's
// descriptor when it is closed. Every test runs on both backends (io_uring is
// skipped where the kernel or the container forbids it).
#include "core/net/reactor.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace ringmq::net {
namespace {

// Records what the reactor reports.
class RecordingHandler final : public IoHandler {
 public:
  void OnAccepted(Conn&) override {}
  void OnConnected(Conn&, uint64_t, int) override {}
  void OnData(Conn&, std::span<const uint8_t> data) override {
    received_.append(reinterpret_cast<const char*>(data.data()), data.size());
  }
  bool OnPeerClosed(Conn&) override {
    ++peer_closed_;
    return keep_after_peer_closed_;
  }
  void OnClosed(Conn&, int) override { ++closed_; }
  void OnDetached(Conn&, DetachedSocket s) override { ::close(s.fd); }

  std::string received_;
  int closed_ = 0;
  int peer_closed_ = 0;
  bool keep_after_peer_closed_ = false;  // what OnPeerClosed answers
};

class ReactorTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    if (GetParam() == BackendKind::kIoUring && !ProbeIoUring().usable) {
      GTEST_SKIP() << ProbeIoUring().Describe();
    }
    ReactorOptions o;
    o.backend = GetParam();
    o.recv_buffer_count = 8;
    o.recv_buffer_size = 4096;
    auto r = Reactor::Create(o, &handler_);
    ASSERT_TRUE(r.ok()) << r.status();
    reactor_ = std::move(*r);
  }
  void TearDown() override {
    if (reactor_ != nullptr) {
      reactor_->CloseAll(0);
      for (int i = 0; i < 100 && reactor_->PendingOps() > 0; ++i) {
        reactor_->Flush();
        reactor_->Poll(10);
      }
    }
  }

  // Runs a few loop iterations without waiting.
  void Spin() {
    for (int i = 0; i < 5; ++i) {
      reactor_->Flush();
      reactor_->Poll(0);
    }
  }

  RecordingHandler handler_;
  std::unique_ptr<Reactor> reactor_;
};

// A non-blocking read of whatever `fd` holds.
std::string ReadAvailable(int fd) {
  std::string out;
  char buf[256];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) {
      return out;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

// A socket pair whose first end will take a descriptor number: made before the test closes
// anything, so that its descriptors are not the lowest free ones.
struct OtherSocket {
  int ours = -1;
  int peer = -1;
  OtherSocket() {
    int p[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) == 0) {
      ours = p[0];
      peer = p[1];
    }
  }
  // Moves `ours` to the lowest free number at or above `number`: `number` itself if the
  // backend already let it go.
  int TakeNumberFrom(int number) {
    const int moved = ::fcntl(ours, F_DUPFD_CLOEXEC, number);
    ::close(ours);
    ours = moved;
    return moved;
  }
  ~OtherSocket() {
    ::close(ours);
    ::close(peer);
  }
};

// A connection adopted (its recv armed) and closed by the handler in the same iteration, as
// when the CONNECT that came with a hand-off is refused at once: the armed recv must not act
// on whatever socket takes the descriptor number next. (Before the fix, io_uring closed the
// descriptor while the recv was still waiting to be submitted; the recv then consumed the
// next socket's bytes.)
TEST_P(ReactorTest, ClosedConnectionsOperationsNeverReachTheNextSocketWithItsNumber) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  OtherSocket other;
  ASSERT_GE(other.ours, 0);
  const int number = pair[0];
  Conn* c = reactor_->Adopt(pair[0], 0, {});
  ASSERT_NE(c, nullptr);
  reactor_->Close(*c, CloseMode::kNow, 0);

  const int next = other.TakeNumberFrom(number);
  ASSERT_GE(next, 0);
  const std::string theirs = "bytes for another connection";
  ASSERT_EQ(::send(other.peer, theirs.data(), theirs.size(), 0),
            static_cast<ssize_t>(theirs.size()));

  Spin();

  EXPECT_EQ(ReadAvailable(next), theirs) << "descriptor " << next << ", closed " << number;
  EXPECT_EQ(handler_.closed_, 1);
  ::close(pair[1]);
}

// The same for a send: output flushed (its send prepared) and then the connection closed
// in the same iteration. The bytes must not go out on another socket with the same number.
TEST_P(ReactorTest, SendPreparedBeforeCloseNeverReachesTheNextSocketWithItsNumber) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  OtherSocket other;
  ASSERT_GE(other.ours, 0);
  const int number = pair[0];
  Conn* c = reactor_->Adopt(pair[0], 0, {});
  ASSERT_NE(c, nullptr);
  c->Write(std::string_view("goodbye"));
  reactor_->Flush();  // prepares (io_uring) or performs (epoll) the send
  reactor_->Close(*c, CloseMode::kNow, 0);

  const int next = other.TakeNumberFrom(number);
  ASSERT_GE(next, 0);

  Spin();

  EXPECT_EQ(ReadAvailable(other.peer), "") << "descriptor " << next << ", closed " << number;
  ::close(pair[1]);
}

// The peer ends its stream and the handler keeps the connection (as the broker does to finish
// the packets it read): no receive is armed again after the end of stream, not even when
// reading is paused and resumed, so the end is reported once; the connection can still be
// written to.
TEST_P(ReactorTest, NoReceiveAfterThePeerClosed) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  handler_.keep_after_peer_closed_ = true;
  Conn* c = reactor_->Adopt(pair[0], 0, {});
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(::send(pair[1], "last", 4, 0), 4);
  ASSERT_EQ(::shutdown(pair[1], SHUT_WR), 0);
  Spin();
  EXPECT_EQ(handler_.received_, "last");
  EXPECT_EQ(handler_.peer_closed_, 1);
  EXPECT_TRUE(c->peer_closed());

  reactor_->PauseRead(*c);
  Spin();
  reactor_->ResumeRead(*c);
  Spin();
  EXPECT_EQ(handler_.peer_closed_, 1) << "a receive was armed after the end of stream";
  EXPECT_EQ(handler_.closed_, 0);
  c->Write(std::string_view("still open"));
  Spin();
  EXPECT_EQ(ReadAvailable(pair[1]), "still open");
  ::close(pair[1]);
}

std::string BackendParamName(const ::testing::TestParamInfo<BackendKind>& p) {
  return std::string(p.param == BackendKind::kIoUring ? "io_uring" : "epoll");
}

INSTANTIATE_TEST_SUITE_P(Backends, ReactorTest,
                         ::testing::Values(BackendKind::kIoUring, BackendKind::kEpoll),
                         BackendParamName);

}  // namespace
}  // namespace ringmq::net

namespace ringmq::net {
namespace {

// A connected pair of TCP sockets on 127.0.0.1 (a reset needs TCP: a socket pair never
// resets).
bool TcpPair(int* server, int* client) {
  auto ep = ParseEndpoint("127.0.0.1:0");
  auto listener = ListenTcp(*ep, /*reuse_port=*/false, 4);
  if (!listener.ok()) {
    return false;
  }
  auto bound = LocalEndpoint(*listener);
  *client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::connect(*client, reinterpret_cast<const sockaddr*>(&bound->addr), bound->addr_len) != 0) {
    return false;
  }
  // The listener is non-blocking: the connection is already in its queue.
  *server = ::accept4(*listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  ::close(*listener);
  return *server >= 0;
}

// Close(kAfterFlush) while the peer is still sending: the peer must be able to read what was
// written before the close (a DISCONNECT with its reason, in the broker), then an orderly end
// of stream. The server shuts down its write side and drains the input until the peer closes.
// (It used to close with unread input, so the kernel sent a reset: the peer got ECONNRESET or
// EPIPE, and lost the last bytes it had not read.)
TEST_P(ReactorTest, CloseAfterFlushLetsAPeerStillSendingReadTheLastBytes) {
  int server = -1;
  int client = -1;
  ASSERT_TRUE(TcpPair(&server, &client));
  Conn* c = reactor_->Adopt(server, 0, {});
  ASSERT_NE(c, nullptr);
  // The client sends without reading; the server has unread input when it closes.
  const std::string chunk(64 << 10, 'x');
  ASSERT_EQ(::send(client, chunk.data(), chunk.size(), MSG_DONTWAIT),
            static_cast<ssize_t>(chunk.size()));
  Spin();
  reactor_->PauseRead(*c);  // as the broker does while a decision is pending
  ASSERT_EQ(::send(client, chunk.data(), chunk.size(), MSG_DONTWAIT),
            static_cast<ssize_t>(chunk.size()));
  c->Write(std::string_view("goodbye"));
  reactor_->Close(*c, CloseMode::kAfterFlush, 0);
  Spin();
  // The client goes on sending for a while (as a client does that has not read anything
  // yet), then reads. Its sends must not fail: a client that gets EPIPE or ECONNRESET on a
  // send gives up on the connection without reading what is in its receive queue.
  for (int i = 0; i < 4; ++i) {
    Spin();
    ssize_t n = ::send(client, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    EXPECT_TRUE(n > 0 || errno == EAGAIN) << "send " << i << ": " << std::strerror(errno);
  }
  ::shutdown(client, SHUT_WR);
  std::string got;
  int err = 0;
  for (int i = 0; i < 200; ++i) {
    Spin();
    char buf[256];
    ssize_t n = ::recv(client, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      break;  // orderly end of stream
    }
    if (errno != EAGAIN) {
      err = errno;
      break;
    }
    ::usleep(1000);
  }
  EXPECT_EQ(err, 0) << std::strerror(err);
  EXPECT_EQ(got, "goodbye");
  EXPECT_EQ(handler_.closed_, 1);
  ::close(client);
}

}  // namespace
}  // namespace ringmq::net

namespace ringmq::net {
namespace {

// A transport that answers a one-byte hello ('H') with 'W', then flips every byte (XOR 0x5A)
// in both directions: enough to see that bytes go through it both ways, once per flush, and
// that the handshake comes first.
class FlipTransport final : public Transport {
 public:
  Status OnInbound(std::span<const uint8_t> in, std::string* app, OutputQueue* wire) override {
    for (uint8_t b : in) {
      if (!greeted_) {
        if (b != 'H') {
          return Status::kClose;
        }
        greeted_ = true;
        const uint8_t w = 'W';
        wire->Append(std::span(&w, 1));
        continue;
      }
      app->push_back(static_cast<char>(b ^ 0x5A));
    }
    return Status::kOk;
  }
  Status OnOutbound(OutputQueue* app, OutputQueue* wire) override {
    ++flushes;
    while (!app->empty()) {
      std::span<const uint8_t> f = app->Front();
      std::string flipped(f.begin(), f.end());
      for (char& ch : flipped) {
        ch = static_cast<char>(ch ^ 0x5A);
      }
      wire->Append(std::span(reinterpret_cast<const uint8_t*>(flipped.data()), flipped.size()));
      app->Consume(f.size());
    }
    return Status::kOk;
  }
  int flushes = 0;

 private:
  bool greeted_ = false;
};

std::string Flip(std::string s) {
  for (char& ch : s) {
    ch = static_cast<char>(ch ^ 0x5A);
  }
  return s;
}

// Input goes through the transport before the handler sees it (after the handshake only);
// output goes through it once per flush, however many writes made it.
TEST_P(ReactorTest, TransportTransformsBothWaysOncePerFlush) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  ::fcntl(pair[0], F_SETFL, ::fcntl(pair[0], F_GETFL) | O_NONBLOCK);
  Conn* c = reactor_->Adopt(pair[0], 0, {});
  auto t = std::make_unique<FlipTransport>();
  FlipTransport* flip = t.get();
  c->SetTransport(std::move(t));
  const std::string hello = "H" + Flip("ping");
  ASSERT_EQ(::send(pair[1], hello.data(), hello.size(), 0), static_cast<ssize_t>(hello.size()));
  Spin();
  EXPECT_EQ(handler_.received_, "ping");
  EXPECT_EQ(ReadAvailable(pair[1]), "W");
  c->Write(std::string_view("po"));
  c->Write(std::string_view("ng"));
  Spin();
  EXPECT_EQ(ReadAvailable(pair[1]), Flip("pong"));
  EXPECT_EQ(flip->flushes, 1);
  ::close(pair[1]);
}

}  // namespace
}  // namespace ringmq::net
