// Socket helpers for the engine: endpoints, listening sockets, per-connection options and
// the process file limit. Any thread; every function is a thin, checked wrapper around
// syscalls and returns errors as absl::Status.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringmq::net {

// A host:port to listen on or connect to. IPv4 ("127.0.0.1:1883") or IPv6 ("[::1]:1883").
struct Endpoint {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;

  int family() const { return addr.ss_family; }
  uint16_t port() const;
  void set_port(uint16_t port);
  std::string ToString() const;  // "127.0.0.1:1883" / "[::1]:1883"
};

// Parses "HOST:PORT", "[V6]:PORT" or "SCHEME://HOST:PORT" (the scheme is returned in
// *scheme when given, else left empty). HOST must be a numeric address; "localhost" is
// accepted as 127.0.0.1. PORT may be 0 (any free port).
absl::StatusOr<Endpoint> ParseEndpoint(std::string_view text, std::string* scheme = nullptr);

// A non-blocking, close-on-exec TCP socket bound to `ep` and listening, with SO_REUSEADDR,
// and SO_REUSEPORT when `reuse_port` (one socket per shard on the same port).
absl::StatusOr<int> ListenTcp(const Endpoint& ep, bool reuse_port, int backlog);

// OK when nothing listens on `ep`. SO_REUSEPORT lets any process of the same user join a
// listening port silently (and take a share of its connections), so a listener group checks
// first with a plain bind that a port in use refuses. A program starting at the same instant
// can still pass the check too.
absl::Status CheckAddressFree(const Endpoint& ep);

// The address a socket is bound to (resolves port 0).
absl::StatusOr<Endpoint> LocalEndpoint(int fd);
absl::StatusOr<Endpoint> PeerEndpoint(int fd);

// TCP keep-alive probes on accepted connections. MQTT's own keep alive needs the client to
// ask for it; a client that connects with keep alive 0 and whose host then vanishes (a phone
// losing its network) would otherwise hold its connection, and its will, forever. The
// kernel probes after `idle_s` of silence, every `interval_s`, and resets the connection
// after `count` unanswered probes. idle_s 0: no probes.
struct TcpKeepAlive {
  uint32_t idle_s = 60;
  uint32_t interval_s = 10;
  uint32_t count = 5;
};

// Options every MQTT connection gets: TCP_NODELAY (interactive messaging must not wait on
// Nagle's algorithm) and the keep-alive probes above.
void ConfigureConnection(int fd, const TcpKeepAlive& keepalive);

// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the resulting soft limit.
uint64_t RaiseFileLimit();

}  // namespace ringmq::net
