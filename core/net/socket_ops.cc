#include "core/net/socket_ops.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "core/base/strings.h"

namespace ringmq::net {

uint16_t Endpoint::port() const {
  if (addr.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
}

void Endpoint::set_port(uint16_t port) {
  if (addr.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(port);
  }
}

std::string Endpoint::ToString() const {
  char host[INET6_ADDRSTRLEN] = "?";
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr, host, sizeof host);
    return absl::StrCat(host, ":", port());
  }
  inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr, host, sizeof host);
  return absl::StrCat("[", host, "]:", port());
}

absl::StatusOr<Endpoint> ParseEndpoint(std::string_view text, std::string* scheme) {
  std::string_view rest = text;
  if (size_t sep = rest.find("://"); sep != std::string_view::npos) {
    if (scheme != nullptr) {
      *scheme = std::string(rest.substr(0, sep));
    }
    rest = rest.substr(sep + 3);
  }
  std::string_view host;
  std::string_view port_text;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrFormat("'%s': expected [IPV6]:PORT", text));
    }
    host = rest.substr(1, close - 1);
    port_text = rest.substr(close + 2);
  } else {
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrFormat("'%s': expected HOST:PORT", text));
    }
    host = rest.substr(0, colon);
    port_text = rest.substr(colon + 1);
  }
  uint32_t port;
  if (!absl::SimpleAtoi(base::ToAbsl(port_text), &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrFormat("'%s': bad port '%s'", text, port_text));
  }
  if (host == "localhost") {
    host = "127.0.0.1";
  }
  Endpoint ep;
  std::string host_z(host);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ep.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ep.addr);
  if (inet_pton(AF_INET, host_z.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    ep.addr_len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host_z.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    ep.addr_len = sizeof(sockaddr_in6);
  } else {
    return absl::InvalidArgumentError(
        absl::StrFormat("'%s': '%s' is not a numeric IPv4 or IPv6 address", text, host));
  }
  return ep;
}

absl::Status CheckAddressFree(const Endpoint& ep) {
  int fd = ::socket(ep.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, "socket()");
  }
  int one = 1;
  // SO_REUSEADDR as the listeners have it (TIME_WAIT leftovers of an earlier run do not
  // count), but no SO_REUSEPORT: a bind that succeeds here means nobody listens there.
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ep.family() == AF_INET6) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  const int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.addr_len);
  const int err = errno;
  ::close(fd);
  if (rc == 0) {
    return absl::OkStatus();
  }
  if (err == EADDRINUSE) {
    return absl::FailedPreconditionError(absl::StrCat(
        ep.ToString(), " is already in use (another broker or program listens on it)"));
  }
  return absl::ErrnoToStatus(err, absl::StrCat("bind(", ep.ToString(), ")"));
}

absl::StatusOr<int> ListenTcp(const Endpoint& ep, bool reuse_port, int backlog) {
  int fd = ::socket(ep.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, "socket()");
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    int err = errno;
    ::close(fd);
    return absl::ErrnoToStatus(err, "setsockopt(SO_REUSEPORT)");
  }
  if (ep.family() == AF_INET6) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.addr_len) != 0) {
    int err = errno;
    ::close(fd);
    return absl::ErrnoToStatus(err, absl::StrCat("bind(", ep.ToString(), ")"));
  }
  if (::listen(fd, backlog) != 0) {
    int err = errno;
    ::close(fd);
    return absl::ErrnoToStatus(err, absl::StrCat("listen(", ep.ToString(), ")"));
  }
  return fd;
}

absl::StatusOr<Endpoint> LocalEndpoint(int fd) {
  Endpoint ep;
  ep.addr_len = sizeof ep.addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ep.addr), &ep.addr_len) != 0) {
    return absl::ErrnoToStatus(errno, "getsockname()");
  }
  return ep;
}

absl::StatusOr<Endpoint> PeerEndpoint(int fd) {
  Endpoint ep;
  ep.addr_len = sizeof ep.addr;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ep.addr), &ep.addr_len) != 0) {
    return absl::ErrnoToStatus(errno, "getpeername()");
  }
  return ep;
}

void ConfigureConnection(int fd, const TcpKeepAlive& keepalive) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (keepalive.idle_s == 0) {
    return;
  }
  const int idle = static_cast<int>(keepalive.idle_s);
  const int interval = static_cast<int>(keepalive.interval_s);
  const int count = static_cast<int>(keepalive.count);
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

uint64_t RaiseFileLimit() {
  rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    return 0;
  }
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      rl = raised;
    }
  }
  return rl.rlim_cur;
}

}  // namespace ringmq::net
