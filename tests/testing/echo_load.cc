#include "tests/testing/echo_load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace ringmq::testing {
namespace {

struct Client {
  int fd = -1;
  size_t sent = 0;
  size_t received = 0;
  bool connected = false;
  bool failed = false;
};

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

EchoLoadResult RunEchoLoad(const EchoLoadOptions& o) {
  EchoLoadResult result;
  rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  const auto deadline = std::chrono::steady_clock::now() + o.timeout;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<Client> clients(static_cast<size_t>(o.connections));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(o.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<epoll_event> events(1024);
  auto fail = [&](int i, const std::string& why) {
    if (result.error.empty()) {
      result.error = "connection " + std::to_string(i) + ": " + why;
    }
    clients[static_cast<size_t>(i)].failed = true;
  };

  // 1. Connect everything, at most connect_batch in flight, and keep them all open.
  const auto t0 = std::chrono::steady_clock::now();
  int next = 0;
  int in_flight = 0;
  while ((next < o.connections || in_flight > 0) && result.error.empty()) {
    while (next < o.connections && in_flight < o.connect_batch) {
      Client& c = clients[static_cast<size_t>(next)];
      c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c.fd < 0) {
        fail(next, std::string("socket: ") + std::strerror(errno));
        break;
      }
      int r = connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      if (r != 0 && errno != EINPROGRESS) {
        fail(next, std::string("connect: ") + std::strerror(errno));
        break;
      }
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.u32 = static_cast<uint32_t>(next);
      epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
      ++in_flight;
      ++next;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      result.error = "timed out connecting";
      break;
    }
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int k = 0; k < n; ++k) {
      int i = static_cast<int>(events[static_cast<size_t>(k)].data.u32);
      Client& c = clients[static_cast<size_t>(i)];
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      --in_flight;
      if (err != 0) {
        fail(i, std::string("connect: ") + std::strerror(err));
        continue;
      }
      c.connected = true;
      ++result.connected;
      epoll_event ev{};
      ev.events = 0;  // quiet until the transfer phase
      ev.data.u32 = static_cast<uint32_t>(i);
      epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
    }
  }
  const auto t1 = std::chrono::steady_clock::now();
  result.connect_s = Seconds(t0, t1);

  // 2. Every connection sends its pattern and reads it back, all at once.
  for (int i = 0; i < o.connections && result.error.empty(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_MOD, clients[static_cast<size_t>(i)].fd, &ev);
  }
  std::vector<uint8_t> buf(std::max<size_t>(o.write_chunk, 65536));
  int done = 0;
  while (result.error.empty() && done < result.connected) {
    if (std::chrono::steady_clock::now() > deadline) {
      result.error = "timed out after " + std::to_string(done) + " connections were verified";
      break;
    }
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int k = 0; k < n && result.error.empty(); ++k) {
      int i = static_cast<int>(events[static_cast<size_t>(k)].data.u32);
      Client& c = clients[static_cast<size_t>(i)];
      const uint32_t evs = events[static_cast<size_t>(k)].events;
      if ((evs & EPOLLOUT) && c.sent < o.bytes_per_connection) {
        size_t len = std::min(o.write_chunk, o.bytes_per_connection - c.sent);
        for (size_t b = 0; b < len; ++b) {
          buf[b] = PatternByte(i, c.sent + b);
        }
        ssize_t w = send(c.fd, buf.data(), len, MSG_NOSIGNAL);
        if (w > 0) {
          c.sent += static_cast<size_t>(w);
        } else if (w < 0 && errno != EAGAIN) {
          fail(i, std::string("send: ") + std::strerror(errno));
          break;
        }
        if (c.sent == o.bytes_per_connection) {
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.u32 = static_cast<uint32_t>(i);
          epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
        }
      }
      if (evs & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t r = recv(c.fd, buf.data(), buf.size(), 0);
        if (r == 0) {
          fail(i, "closed by the server after " + std::to_string(c.received) + " bytes");
          break;
        }
        if (r < 0) {
          if (errno != EAGAIN) {
            fail(i, std::string("recv: ") + std::strerror(errno));
          }
          continue;
        }
        for (ssize_t b = 0; b < r; ++b) {
          if (buf[static_cast<size_t>(b)] != PatternByte(i, c.received + static_cast<size_t>(b))) {
            fail(i, "wrong byte at offset " + std::to_string(c.received + static_cast<size_t>(b)));
            break;
          }
        }
        c.received += static_cast<size_t>(r);
        result.bytes_echoed += static_cast<size_t>(r);
        if (c.received > o.bytes_per_connection) {
          fail(i, "more bytes came back than were sent");
        } else if (c.received == o.bytes_per_connection) {
          ++done;
          ++result.verified;
          epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
        }
      }
    }
  }
  result.transfer_s = Seconds(t1, std::chrono::steady_clock::now());
  for (Client& c : clients) {
    if (c.fd >= 0) {
      close(c.fd);
    }
  }
  close(ep);
  return result;
}

}  // namespace ringmq::testing
