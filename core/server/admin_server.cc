#include "core/server/admin_server.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <span>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/broker/broker_shard.h"
#include "core/broker/stats.h"
#include "core/plugin/plugin_host.h"
#include "core/server/health.h"
#include "core/server/metrics_text.h"

namespace ringmq::server {

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(
    const net::Endpoint& at, const broker::BrokerShared* shared) {
  absl::StatusOr<int> fd = net::ListenTcp(at, /*reuse_port=*/false, /*backlog=*/64);
  if (!fd.ok()) {
    return fd.status();
  }
  absl::StatusOr<net::Endpoint> bound = net::LocalEndpoint(*fd);
  const int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (!bound.ok() || wake < 0) {
    ::close(*fd);
    return bound.ok() ? absl::ErrnoToStatus(errno, "eventfd()") : bound.status();
  }
  std::unique_ptr<AdminServer> s(new AdminServer(*fd, wake, *bound, shared));
  s->thread_ = std::thread([p = s.get()] { p->Run(); });
  return s;
}

AdminServer::AdminServer(int listen_fd, int wake_fd, net::Endpoint bound,
                         const broker::BrokerShared* shared)
    : listen_fd_(listen_fd), wake_fd_(wake_fd), bound_(bound), shared_(shared) {}

AdminServer::~AdminServer() {
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) {
    thread_.join();
  }
  for (Client& c : clients_) {
    ::close(c.fd);
  }
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void AdminServer::Run() {
  std::vector<pollfd> fds;
  while (true) {
    const int64_t now = base::MonotonicMs();
    const bool accepting = now >= accept_resume_ms_;
    fds.assign(
        {{wake_fd_, POLLIN, 0}, {listen_fd_, static_cast<short>(accepting ? POLLIN : 0), 0}});
    int64_t next_deadline = accepting ? INT64_MAX : accept_resume_ms_;
    for (const Client& c : clients_) {
      fds.push_back({c.fd, static_cast<short>(c.answer.empty() ? POLLIN : POLLOUT), 0});
      next_deadline = std::min(next_deadline, c.deadline_ms);
    }
    const int timeout = next_deadline == INT64_MAX
                            ? -1
                            : static_cast<int>(std::max<int64_t>(0, next_deadline - now));
    if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) {
      RINGMQ_LOG(kError, "admin listener: poll failed (errno %d); it stops", errno);
      return;
    }
    if (fds[0].revents != 0) {
      return;  // the destructor asks the thread to end
    }
    // Clients first (their indexes match fds[2...]), then new ones.
    ServeClients(std::span<const pollfd>(fds).subspan(2));
    if (fds[1].revents != 0) {
      AcceptAll();
    }
  }
}

void AdminServer::ServeClients(std::span<const pollfd> events) {
  const int64_t now = base::MonotonicMs();
  size_t kept = 0;
  for (size_t i = 0; i < clients_.size(); ++i) {
    Client& c = clients_[i];
    bool open = now < c.deadline_ms;
    if (open && events[i].revents != 0) {
      open = c.answer.empty() ? ReadFrom(c) : WriteTo(c);
    }
    if (!open) {
      ::close(c.fd);
      continue;
    }
    if (kept != i) {
      clients_[kept] = std::move(c);
    }
    ++kept;
  }
  clients_.resize(kept);
}

void AdminServer::AcceptAll() {
  while (true) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors or memory: the socket stays readable, so pause accepting for a
        // moment rather than spin.
        RINGMQ_LOG_EVERY_S(kWarning, 10, "admin listener: accept failed (errno %d)", errno);
        accept_resume_ms_ = base::MonotonicMs() + kAcceptPauseMs;
      }
      return;  // EAGAIN: none left
    }
    if (clients_.size() >= kMaxClients) {
      RINGMQ_LOG_EVERY_S(kWarning, 10, "admin listener: %d connections open; closing a new one",
                         clients_.size());
      ::close(fd);
      continue;
    }
    clients_.push_back({.fd = fd, .deadline_ms = base::MonotonicMs() + kClientTimeoutMs});
  }
}

bool AdminServer::ReadFrom(Client& c) {
  char buf[2048];
  const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    return false;
  }
  if (n > 0) {
    c.received.append(buf, static_cast<size_t>(n));
  }
  const RequestHead head = ParseRequestHead(c.received);
  if (head.status == RequestHead::Status::kNeedMore) {
    return true;
  }
  c.answer = FormatResponse(Answer(head));
  return WriteTo(c);
}

bool AdminServer::WriteTo(Client& c) {
  while (c.sent < c.answer.size()) {
    const ssize_t n = ::send(c.fd, c.answer.data() + c.sent, c.answer.size() - c.sent,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      return errno == EAGAIN || errno == EINTR;  // wait for POLLOUT, or give up
    }
    c.sent += static_cast<size_t>(n);
  }
  ::shutdown(c.fd, SHUT_WR);
  return false;
}

Response AdminServer::Answer(const RequestHead& head) const {
  switch (head.status) {
    case RequestHead::Status::kBad:
      return {.code = 400, .body = "bad request\n"};
    case RequestHead::Status::kTooLarge:
      return {.code = 431, .body = "request head too large\n"};
    case RequestHead::Status::kNeedMore:
    case RequestHead::Status::kOk:
      break;
  }
  if (head.path != "/metrics" && head.path != "/healthz" && head.path != "/readyz") {
    return {.code = 404, .body = "not found: /metrics, /healthz, /readyz\n"};
  }
  if (head.method != "GET") {
    return {.code = 405, .body = "only GET\n"};
  }
  return Route(head.path);
}

Response AdminServer::Route(std::string_view path) const {
  if (path == "/readyz") {
    return Readyz(ready_.load(std::memory_order_relaxed));
  }
  const int64_t now = base::MonotonicMs();
  const broker::BrokerStats stats = broker::GatherStats(*shared_, now);
  if (path == "/healthz") {
    return Healthz(stats, now);
  }
  std::vector<plugin::PluginCallTotal> calls;
  if (const plugin::PluginHost* p = plugins_.load(std::memory_order_acquire)) {
    calls = p->CallTotals();
  }
  return {.content_type = std::string(kMetricsContentType),
          .body = RenderMetrics(stats, calls, now)};
}

}  // namespace ringmq::server
