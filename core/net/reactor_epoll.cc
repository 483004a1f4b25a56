#include "core/net/reactor_epoll.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "core/base/asserts.h"
#include "core/base/log.h"

namespace ringmq::net {
namespace {

// epoll_data.u64: kind (8 bits) | generation (24 bits) | index (32 bits).
enum class Kind : uint8_t { kConn = 1, kListener = 2, kWake = 3 };

constexpr uint64_t Key(Kind k, uint32_t index, uint32_t generation) {
  return (uint64_t{static_cast<uint8_t>(k)} << 56) | (uint64_t{generation & 0xFFFFFFu} << 32) |
         index;
}
constexpr Kind KeyKind(uint64_t k) {
  return static_cast<Kind>(k >> 56);
}
constexpr uint32_t KeyIndex(uint64_t k) {
  return static_cast<uint32_t>(k);
}
constexpr uint32_t KeyGeneration(uint64_t k) {
  return static_cast<uint32_t>(k >> 32) & 0xFFFFFF;
}

constexpr size_t kMaxSendBytes = 1 << 20;
constexpr int kReadsPerEvent = 4;  // fairness: at most this many reads per readiness
constexpr int kAcceptsPerEvent = 64;

}  // namespace

class EpollReactor final : public Reactor {
 public:
  EpollReactor(const ReactorOptions& options, IoHandler* handler) : Reactor(options, handler) {}
  ~EpollReactor() override;

  absl::Status Init();

  BackendKind kind() const override { return BackendKind::kEpoll; }
  absl::Status Listen(int listen_fd, uint32_t listener_id) override;
  void StopListening() override;
  absl::Status Connect(const Endpoint& to, uint64_t connect_tag) override;
  Conn* Adopt(int fd, uint32_t listener_id, std::span<const uint8_t> unread,
              std::unique_ptr<Transport> transport) override;
  void PauseRead(Conn& c) override;
  void ResumeRead(Conn& c) override;
  void ReadToDrain(Conn& c) override;
  void Detach(Conn& c) override;
  void FinishDetach(Conn& c);
  void Flush() override;
  int Poll(int timeout_ms) override;
  void QueueWake(Reactor& target) override;
  void CloseAll(int err) override;
  size_t PendingOps() const override { return live_; }

 private:
  struct Listener {
    int fd = -1;
    uint32_t id = 0;
  };

  void Register(Conn& c);
  void UpdateInterest(Conn& c);
  void OnListenerReady(uint32_t index);
  void OnConnReady(Conn& c, uint32_t events);
  void ReadFrom(Conn& c);
  void WriteTo(Conn& c);
  void BeginClose(Conn& c, int err) override;
  void DeliverDeferred();

  int epfd_ = -1;
  std::vector<Listener> listeners_;
  std::vector<uint8_t> read_buf_;
  std::vector<iovec> iov_;
  std::vector<Conn*> deferred_;
  std::vector<Reactor*> wake_targets_;
  std::vector<epoll_event> events_;
};

absl::StatusOr<std::unique_ptr<Reactor>> CreateEpollReactor(const ReactorOptions& options,
                                                            IoHandler* handler) {
  auto r = std::make_unique<EpollReactor>(options, handler);
  absl::Status s = r->Init();
  if (!s.ok()) {
    return s;
  }
  return std::unique_ptr<Reactor>(std::move(r));
}

absl::Status EpollReactor::Init() {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) {
    return absl::ErrnoToStatus(errno, "epoll_create1");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = Key(Kind::kWake, 0, 0);
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    return absl::ErrnoToStatus(errno, "epoll_ctl(eventfd)");
  }
  read_buf_.resize(options_.recv_buffer_size);
  iov_.resize(options_.max_iov == 0 ? 1 : options_.max_iov);
  events_.resize(1024);
  return absl::OkStatus();
}

EpollReactor::~EpollReactor() {
  ForEachConn([](Conn& c) {
    if (c.fd_ >= 0) {
      ::close(c.fd_);
      c.fd_ = -1;
    }
  });
  for (Listener& l : listeners_) {
    if (l.fd >= 0) {
      ::close(l.fd);
    }
  }
  if (epfd_ >= 0) {
    ::close(epfd_);
  }
}

absl::Status EpollReactor::Listen(int listen_fd, uint32_t listener_id) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = Key(Kind::kListener, static_cast<uint32_t>(listeners_.size()), 0);
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
    return absl::ErrnoToStatus(errno, "epoll_ctl(listener)");
  }
  listeners_.push_back(Listener{listen_fd, listener_id});
  return absl::OkStatus();
}

void EpollReactor::StopListening() {
  for (Listener& l : listeners_) {
    if (l.fd >= 0) {
      ::epoll_ctl(epfd_, EPOLL_CTL_DEL, l.fd, nullptr);
      ::close(l.fd);
      l.fd = -1;
    }
  }
}

void EpollReactor::Register(Conn& c) {
  epoll_event ev{};
  ev.events = (c.read_paused_ ? 0u : static_cast<uint32_t>(EPOLLIN)) | EPOLLRDHUP |
              (c.want_write_ ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  ev.data.u64 = Key(Kind::kConn, c.index_, c.generation_);
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd_, &ev) != 0) {
    BeginClose(c, -errno);
  }
}

void EpollReactor::UpdateInterest(Conn& c) {
  epoll_event ev{};
  const bool reading = !c.read_paused_ && !c.connecting_ && !c.peer_closed_ && !c.detaching_;
  ev.events = (reading ? static_cast<uint32_t>(EPOLLIN | EPOLLRDHUP) : 0u) |
              (c.want_write_ || c.connecting_ ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  ev.data.u64 = Key(Kind::kConn, c.index_, c.generation_);
  ::epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd_, &ev);
}

absl::Status EpollReactor::Connect(const Endpoint& to, uint64_t connect_tag) {
  int fd = ::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, "socket()");
  }
  Conn* c = AllocConn(fd, Conn::kOutbound);
  c->extra().connect_tag = connect_tag;
  int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&to.addr), to.addr_len);
  if (r == 0) {
    ConfigureConnection(fd, options_.tcp_keepalive);
    Register(*c);
    handler_->OnConnected(*c, connect_tag, 0);
    return absl::OkStatus();
  }
  if (errno != EINPROGRESS) {
    int err = errno;
    FreeConn(c);
    ::close(fd);
    return absl::ErrnoToStatus(err, "connect()");
  }
  c->connecting_ = true;
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.u64 = Key(Kind::kConn, c->index_, c->generation_);
  ::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
  return absl::OkStatus();
}

Conn* EpollReactor::Adopt(int fd, uint32_t listener_id, std::span<const uint8_t> unread,
                          std::unique_ptr<Transport> transport) {
  Conn* c = AllocConn(fd, listener_id);
  c->SetTransport(std::move(transport));
  if (!unread.empty()) {
    stats_.bytes_in += unread.size();
    handler_->OnData(*c, unread);  // application bytes already: not through the transport
  }
  if (!c->closing_ && !c->detaching_) {
    Register(*c);
  }
  return c;
}

void EpollReactor::PauseRead(Conn& c) {
  if (c.read_paused_ || c.closing_) {
    return;
  }
  c.read_paused_ = true;
  if (!c.detaching_) {
    UpdateInterest(c);
  }
}

void EpollReactor::ResumeRead(Conn& c) {
  if (!c.read_paused_ || c.closing_ || c.flush_then_close_) {
    return;
  }
  c.read_paused_ = false;
  if (!c.detaching_) {
    UpdateInterest(c);
  }
}

void EpollReactor::ReadToDrain(Conn& c) {
  c.read_paused_ = false;
  UpdateInterest(c);
}

void EpollReactor::Detach(Conn& c) {
  RINGMQ_ASSERT(!c.closing_ && !c.detaching_);
  c.detaching_ = true;
  if (!c.output_empty()) {
    WriteTo(c);  // what is queued (a transport's handshake answer) goes out first
    if (c.closing_ || !c.output_empty()) {
      return;  // the rest when the socket can take it (WriteTo finishes the detach)
    }
  }
  FinishDetach(c);
}

void EpollReactor::FinishDetach(Conn& c) {
  ::epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd_, nullptr);
  deferred_.push_back(&c);
}

void EpollReactor::BeginClose(Conn& c, int err) {
  if (c.closing_) {
    return;
  }
  c.closing_ = true;
  c.close_err_ = err;
  if (c.fd_ >= 0) {
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd_, nullptr);
    ::close(c.fd_);
    c.fd_ = -1;
  }
  deferred_.push_back(&c);
}

void EpollReactor::DeliverDeferred() {
  for (size_t i = 0; i < deferred_.size(); ++i) {
    Conn* c = deferred_[i];
    if (c->detaching_ && !c->closing_) {
      DetachedSocket s;
      s.fd = c->fd_;
      s.listener_id = c->listener_id_;
      s.unread = std::move(c->extra().detach_bytes);
      if (c->transport_ != nullptr) {
        s.transport = std::move(c->transport_->transport);
      }
      c->fd_ = -1;
      c->closing_ = true;
      c->close_notified_ = true;
      handler_->OnDetached(*c, std::move(s));
      QueueRelease(c);
      continue;
    }
    if (!c->close_notified_) {
      c->close_notified_ = true;
      handler_->OnClosed(*c, c->close_err_);
    }
    QueueRelease(c);
  }
  deferred_.clear();
}

void EpollReactor::WriteTo(Conn& c) {
  // Bounded: at most a few rounds per flush so one fast reader cannot starve the rest.
  if (!FrameOutput(c)) {
    return;
  }
  OutputQueue& q = c.send_queue();
  for (int round = 0; round < 4 && !q.empty(); ++round) {
    size_t total;
    int n = q.Gather(iov_.data(), static_cast<int>(iov_.size()), kMaxSendBytes, &total);
    ssize_t w;
    if (n == 1) {
      w = ::send(c.fd_, iov_[0].iov_base, iov_[0].iov_len, MSG_NOSIGNAL);
    } else {
      msghdr msg{};
      msg.msg_iov = iov_.data();
      msg.msg_iovlen = static_cast<size_t>(n);
      w = ::sendmsg(c.fd_, &msg, MSG_NOSIGNAL);
    }
    ++stats_.sends;
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      }
      if (errno == EINTR) {
        continue;
      }
      BeginClose(c, -errno);
      return;
    }
    AfterSend(c, static_cast<size_t>(w));
    if (static_cast<size_t>(w) < total) {
      ++stats_.partial_sends;
      break;  // the socket buffer is full: wait for EPOLLOUT
    }
  }
  if (c.closing_) {
    return;
  }
  const bool want = !c.output_empty();
  if (want != c.want_write_) {
    c.want_write_ = want;
    UpdateInterest(c);
  }
  if (!want && c.flush_then_close_ && !c.draining_) {
    StartDrain(c);
  }
  if (!want && c.detaching_) {
    FinishDetach(c);
  }
}

void EpollReactor::Flush() {
  CheckLingering();
  for (Conn* c = TakeDirtyList(); c != nullptr;) {
    Conn* next = c->next_dirty_;
    c->next_dirty_ = nullptr;
    c->dirty_ = false;
    if (!c->closing_ && !c->connecting_ && !c->want_write_) {
      WriteTo(*c);
    }
    c = next;
  }
  DeliverDeferred();
  ReleaseQueued();
}

void EpollReactor::QueueWake(Reactor& target) {
  wake_targets_.push_back(&target);
  ++stats_.wakeups_sent;
}

void EpollReactor::OnListenerReady(uint32_t index) {
  Listener& l = listeners_[index];
  for (int i = 0; i < kAcceptsPerEvent && l.fd >= 0; ++i) {
    int fd = ::accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        RINGMQ_LOG_EVERY_S(kWarning, 5, "accept failed: %s", std::strerror(errno));
      }
      return;
    }
    if (live_ >= options_.max_connections) {
      ::close(fd);
      ++stats_.refused_over_limit;
      continue;
    }
    ConfigureConnection(fd, options_.tcp_keepalive);
    Conn* c = AllocConn(fd, l.id);
    ++stats_.accepted;
    handler_->OnAccepted(*c);
    if (!c->closing_ && !c->detaching_) {
      Register(*c);
    }
  }
}

void EpollReactor::ReadFrom(Conn& c) {
  for (int i = 0; i < kReadsPerEvent; ++i) {
    ssize_t n = ::recv(c.fd_, read_buf_.data(), read_buf_.size(), 0);
    if (n > 0) {
      DeliverInput(c, std::span<const uint8_t>(read_buf_.data(), static_cast<size_t>(n)));
      if (c.closing_ || c.detaching_ || c.read_paused_) {
        return;
      }
      if (static_cast<size_t>(n) < read_buf_.size()) {
        return;  // drained the socket (level-triggered: more readiness comes if needed)
      }
      continue;
    }
    if (n == 0) {
      // Orderly shutdown by the peer. The handler may keep the connection to finish its work:
      // then stop watching for input (EOF stays readable forever).
      c.peer_closed_ = true;
      if (c.draining_) {
        BeginClose(c, c.close_err_);  // the lingering close is complete
      } else if (c.flush_then_close_) {
        UpdateInterest(c);  // output still to send: StartDrain closes once it is sent
      } else if (handler_->OnPeerClosed(c)) {
        if (!c.closing_) {
          UpdateInterest(c);
        }
      } else {
        BeginClose(c, 0);
      }
      return;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;
    }
    if (errno == EINTR) {
      continue;
    }
    BeginClose(c, -errno);
    return;
  }
}

void EpollReactor::OnConnReady(Conn& c, uint32_t events) {
  if (c.connecting_) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c.fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    c.connecting_ = false;
    if (err != 0) {
      handler_->OnConnected(c, c.extra().connect_tag, -err);
      BeginClose(c, -err);
      return;
    }
    ConfigureConnection(c.fd_, options_.tcp_keepalive);
    c.want_write_ = false;
    UpdateInterest(c);
    handler_->OnConnected(c, c.extra().connect_tag, 0);
    if (!c.closing_ && !c.output_empty()) {
      c.MarkDirty();
    }
    return;
  }
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) && !c.read_paused_ &&
      !c.peer_closed_ && !c.detaching_) {
    ReadFrom(c);
  } else if (events & (EPOLLHUP | EPOLLERR)) {
    BeginClose(c, -ECONNRESET);
  }
  if (!c.closing_ && (events & EPOLLOUT) && c.want_write_) {
    WriteTo(c);  // a detaching connection too: its last output goes before it moves
  }
}

int EpollReactor::Poll(int timeout_ms) {
  for (Reactor* t : wake_targets_) {
    t->Wake();
  }
  wake_targets_.clear();
  if (timeout_ms != 0) {
    BeforeWait();
  }
  int n = ::epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
  if (n < 0) {
    n = 0;  // EINTR
  }
  if (timeout_ms != 0) {
    AfterWait();
    UpdateNow();  // we may have slept: events below happen now, not at the loop's start
  }
  for (int i = 0; i < n; ++i) {
    const uint64_t key = events_[i].data.u64;
    switch (KeyKind(key)) {
      case Kind::kWake: {
        uint64_t v;
        (void)!::read(wake_fd_, &v, sizeof v);
        handler_->OnWake();
        break;
      }
      case Kind::kListener:
        OnListenerReady(KeyIndex(key));
        break;
      case Kind::kConn: {
        Conn* c = Slot(KeyIndex(key));
        if (c != nullptr && (c->generation_ & 0xFFFFFFu) == KeyGeneration(key) && !c->closing_ &&
            (!c->detaching_ || c->want_write_)) {
          OnConnReady(*c, events_[i].events);
        }
        break;
      }
    }
  }
  DeliverDeferred();
  return n;
}

void EpollReactor::CloseAll(int err) {
  StopListening();
  ForEachConn([&](Conn& c) {
    if (!c.closing_ && !c.detaching_) {
      BeginClose(c, err);
    }
  });
}

}  // namespace ringmq::net
