#include "core/net/reactor.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include <liburing.h>

#include "core/base/asserts.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/net/reactor_epoll.h"
#include "core/net/reactor_uring.h"

namespace ringmq::net {

std::string_view BackendName(BackendKind k) {
  switch (k) {
    case BackendKind::kAuto:
      return "auto";
    case BackendKind::kIoUring:
      return "io_uring";
    case BackendKind::kEpoll:
      return "epoll";
  }
  return "?";
}

bool ParseBackend(std::string_view text, BackendKind* out) {
  if (text == "auto") {
    *out = BackendKind::kAuto;
  } else if (text == "io_uring" || text == "uring") {
    *out = BackendKind::kIoUring;
  } else if (text == "epoll") {
    *out = BackendKind::kEpoll;
  } else {
    return false;
  }
  return true;
}

std::string UringFeatures::Describe() const {
  if (!usable) {
    return absl::StrCat("io_uring unusable: ", why_unusable);
  }
  return absl::StrCat("io_uring: SINGLE_ISSUER ", single_issuer ? "on" : "off (refused)",
                      ", DEFER_TASKRUN ", defer_taskrun ? "on" : "off (refused)", ", MSG_RING ",
                      msg_ring ? "on" : "off (eventfd wake-ups)", ", CQE_SKIP ",
                      cqe_skip ? "on" : "off");
}

namespace {

UringFeatures DoProbe() {
  UringFeatures f;
  io_uring ring;
  io_uring_params p;
  // 1. Try the flags we want, then drop them one at a time as the kernel refuses.
  const unsigned wanted[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN,
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
      IORING_SETUP_COOP_TASKRUN,
      0,
  };
  int ret = -EINVAL;
  unsigned flags = 0;
  for (unsigned w : wanted) {
    std::memset(&p, 0, sizeof p);
    p.flags = w;
    ret = io_uring_queue_init_params(8, &ring, &p);
    if (ret == 0) {
      flags = w;
      break;
    }
    if (ret == -EPERM || ret == -ENOSYS) {
      break;  // io_uring itself is forbidden (seccomp, sysctl): flags will not help
    }
  }
  if (ret != 0) {
    f.why_unusable = absl::StrCat("io_uring_setup failed: ", std::strerror(-ret));
    return f;
  }
  f.single_issuer = (flags & IORING_SETUP_SINGLE_ISSUER) != 0;
  f.defer_taskrun = (flags & IORING_SETUP_DEFER_TASKRUN) != 0;
  f.cqe_skip = (p.features & IORING_FEAT_CQE_SKIP) != 0;
  // 2. Opcodes the backend relies on.
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (probe == nullptr) {
    f.why_unusable = "the kernel cannot report its io_uring opcodes";
  } else {
    f.msg_ring = io_uring_opcode_supported(probe, IORING_OP_MSG_RING);
    const std::pair<int, const char*> needed[] = {
        {IORING_OP_ACCEPT, "ACCEPT"},
        {IORING_OP_RECV, "RECV"},
        {IORING_OP_SEND, "SEND"},
        {IORING_OP_SENDMSG, "SENDMSG"},
        {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
        {IORING_OP_READ, "READ"},
        {IORING_OP_CONNECT, "CONNECT"},
    };
    for (auto [op, name] : needed) {
      if (!io_uring_opcode_supported(probe, op)) {
        f.why_unusable = absl::StrCat("opcode ", name, " not supported");
      }
    }
    io_uring_free_probe(probe);
  }
  // 3. Provided buffer rings (5.19) and multishot recv/accept come together.
  if (f.why_unusable.empty()) {
    io_uring_buf_reg reg;
    std::memset(&reg, 0, sizeof reg);
    void* mem = nullptr;
    if (posix_memalign(&mem, 4096, 4096) == 0) {
      reg.ring_addr = reinterpret_cast<uint64_t>(mem);
      reg.ring_entries = 8;
      reg.bgid = 0;
      int r = io_uring_register_buf_ring(&ring, &reg, 0);
      if (r != 0) {
        f.why_unusable = absl::StrCat("provided buffer rings not supported: ", std::strerror(-r));
      } else {
        io_uring_unregister_buf_ring(&ring, 0);
      }
      std::free(mem);
    }
  }
  io_uring_queue_exit(&ring);
  f.usable = f.why_unusable.empty();
  return f;
}

}  // namespace

const UringFeatures& ProbeIoUring() {
  static const UringFeatures features = DoProbe();
  return features;
}

BackendKind ResolveBackend(BackendKind requested) {
  if (requested == BackendKind::kEpoll) {
    return requested;
  }
  const UringFeatures& f = ProbeIoUring();
  if (requested == BackendKind::kIoUring) {
    return f.usable ? requested : BackendKind::kEpoll;
  }
  return f.usable ? BackendKind::kIoUring : BackendKind::kEpoll;
}

absl::StatusOr<std::unique_ptr<Reactor>> Reactor::Create(const ReactorOptions& options,
                                                         IoHandler* handler) {
  switch (options.backend) {
    case BackendKind::kIoUring:
      return CreateUringReactor(options, handler);
    case BackendKind::kEpoll:
      return CreateEpollReactor(options, handler);
    case BackendKind::kAuto:
      break;
  }
  return absl::InvalidArgumentError("Reactor::Create needs a resolved backend");
}

Reactor::Reactor(const ReactorOptions& options, IoHandler* handler)
    : options_(options), handler_(handler), woke_ns_(base::MonotonicNs()) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  RINGMQ_ASSERT(wake_fd_ >= 0);
}

Reactor::~Reactor() {
  if (wake_fd_ >= 0) {
    ::close(wake_fd_);
  }
}

void Reactor::UpdateNow() {
  now_ms_ = options_.clock != nullptr ? options_.clock->NowMs() : base::MonotonicMs();
}

uint64_t Reactor::busy_ns() const {
  return busy_ns_ + static_cast<uint64_t>(base::MonotonicNs() - woke_ns_);  // busy right now
}

void Reactor::BeforeWait() {
  busy_ns_ += static_cast<uint64_t>(base::MonotonicNs() - woke_ns_);
}

void Reactor::AfterWait() {
  woke_ns_ = base::MonotonicNs();
}

void Reactor::Wake() {
  uint64_t one = 1;
  // EAGAIN means the counter is already huge: a wake-up is pending anyway.
  (void)!::write(wake_fd_, &one, sizeof one);
}

Conn* Reactor::AllocConn(int fd, uint32_t listener_id) {
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    if (allocated_ % kChunk == 0) {
      chunks_.push_back(std::unique_ptr<Conn[]>(new Conn[kChunk]));
    }
    index = allocated_++;
  }
  Conn* c = &chunks_[index / kChunk][index % kChunk];
  RINGMQ_DASSERT(!c->in_use_);
  c->reactor_ = this;
  c->index_ = index;
  ++c->generation_;
  c->in_use_ = true;
  c->fd_ = fd;
  c->listener_id_ = listener_id;
  c->user_ = nullptr;
  c->inflight_ = 0;
  c->dirty_ = false;
  c->recv_armed_ = false;
  c->send_inflight_ = false;
  c->read_paused_ = false;
  c->closing_ = false;
  c->flush_then_close_ = false;
  c->draining_ = false;
  c->detaching_ = false;
  c->connecting_ = false;
  c->congested_ = false;
  c->want_write_ = false;
  c->peer_closed_ = false;
  c->close_err_ = 0;
  c->close_notified_ = false;
  c->release_queued_ = false;
  RINGMQ_DASSERT(c->extra_ == nullptr && c->send_op_ == nullptr);
  ++live_;
  return c;
}

void Reactor::FreeConn(Conn* c) {
  RINGMQ_ASSERT(c->in_use_ && c->inflight_ == 0 && !c->dirty_);
  c->out_.Clear();
  c->transport_.reset();
  c->extra_.reset();
  c->in_use_ = false;
  c->user_ = nullptr;
  c->fd_ = -1;
  --live_;
  free_.push_back(c->index_);
}

void Reactor::QueueRelease(Conn* c) {
  if (!c->release_queued_) {
    c->release_queued_ = true;
    release_.push_back(c);
  }
}

void Reactor::ReleaseQueued() {
  for (Conn* c : release_) {
    FreeConn(c);
  }
  release_.clear();
}

Conn* Reactor::Slot(uint32_t index) const {
  if (index >= allocated_) {
    return nullptr;
  }
  Conn* c = &chunks_[index / kChunk][index % kChunk];
  return c->in_use_ ? c : nullptr;
}

Conn* Reactor::Find(ConnId id) const {
  if (id.index >= allocated_) {
    return nullptr;
  }
  Conn* c = &chunks_[id.index / kChunk][id.index % kChunk];
  return c->in_use_ && c->generation_ == id.generation && !c->closing_ ? c : nullptr;
}

size_t Reactor::ConnectionsWithOutput() {
  size_t n = 0;
  ForEachConn([&n](Conn& c) {
    if (!c.closing_ && !c.output_empty()) {
      ++n;
    }
  });
  return n;
}

Conn* Reactor::TakeDirtyList() {
  Conn* head = dirty_head_;
  dirty_head_ = dirty_tail_ = nullptr;
  return head;
}

void Reactor::AfterWrite(Conn& c) {
  if (!c.dirty_) {
    c.dirty_ = true;
    c.next_dirty_ = nullptr;
    if (dirty_tail_ == nullptr) {
      dirty_head_ = &c;
    } else {
      dirty_tail_->next_dirty_ = &c;
    }
    dirty_tail_ = &c;
  }
  if (!c.congested_ && c.output_bytes() > options_.output_high_watermark) {
    c.congested_ = true;
    handler_->OnOutputCongested(c);
  }
}

void Reactor::AfterSend(Conn& c, size_t sent) {
  c.send_queue().Consume(sent);
  stats_.bytes_out += sent;
  if (c.flush_then_close_ && sent > 0) {
    // A closing connection whose peer still reads (a large last answer to a slow reader)
    // keeps lingering while it does, up to kLingerProgressFactor x close_linger_ms in all.
    Conn::Extra& x = c.extra();
    x.linger_deadline_ms =
        std::min<int64_t>(now_ms_ + options_.close_linger_ms,
                          x.linger_started_ms + kLingerProgressFactor * options_.close_linger_ms);
  }
  if (c.congested_ && c.output_bytes() <= options_.output_low_watermark) {
    c.congested_ = false;
    if (!c.closing_) {
      handler_->OnOutputDrained(c);
    }
  }
}

void Reactor::Close(Conn& c, CloseMode mode, int err) {
  if (c.closing_) {
    return;
  }
  if (mode == CloseMode::kNow || c.connecting_ || c.detaching_) {
    BeginClose(c, err);
    return;
  }
  if (c.flush_then_close_) {
    return;  // already on its way
  }
  c.flush_then_close_ = true;
  c.close_err_ = err;
  if (c.transport_ != nullptr && !c.transport_->finished) {
    FinishTransport(c);
  }
  c.extra().linger_started_ms = now_ms_;
  c.extra().linger_deadline_ms = now_ms_ + options_.close_linger_ms;
  PauseRead(c);
  lingering_.push_back(c.id());
  if (c.output_empty() && !c.send_inflight_) {
    StartDrain(c);
  }
}

void Reactor::DeliverInput(Conn& c, std::span<const uint8_t> data) {
  stats_.bytes_in += data.size();
  if (c.draining_) {
    return;  // closing: the input is read only to be discarded
  }
  if (c.transport_ != nullptr) {
    Conn::TransportState& ts = *c.transport_;
    if (ts.finished) {
      return;  // the transport gave its last answer: nothing more goes through it
    }
    ts.inbound.clear();
    const Transport::Status st = ts.transport->OnInbound(data, &ts.inbound, &ts.wire);
    if (!ts.wire.empty()) {
      c.MarkDirty();  // a handshake answer or a control frame to send
    }
    if (st == Transport::Status::kClose) {
      TransportClose(c, st);
      return;
    }
    if (st == Transport::Status::kCloseAfterSend) {
      // What came before the transport's end (a DISCONNECT before a WebSocket Close in the
      // same read) still reaches the application; its answers are not framed any more.
      ts.finished = true;
      DeliverApplicationBytes(c, ts.inbound);
      TransportClose(c, st);
      return;
    }
    data = std::span(reinterpret_cast<const uint8_t*>(ts.inbound.data()), ts.inbound.size());
    if (data.empty()) {
      return;
    }
  }
  DeliverApplicationBytes(c, data);
}

void Reactor::DeliverApplicationBytes(Conn& c, std::span<const uint8_t> data) {
  if (data.empty() || c.closing_) {
    return;
  }
  if (c.detaching_) {
    c.extra().detach_bytes.append(reinterpret_cast<const char*>(data.data()), data.size());
    return;
  }
  handler_->OnData(c, data);
}

void Reactor::DeliverApplicationBytes(Conn& c, const std::string& data) {
  DeliverApplicationBytes(c, std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

bool Reactor::FrameOutput(Conn& c) {
  if (c.transport_ == nullptr || c.out_.empty()) {
    return true;
  }
  Conn::TransportState& ts = *c.transport_;
  if (ts.finished) {
    c.out_.Clear();  // the transport is done: only what it queued goes out
    return true;
  }
  const Transport::Status st = ts.transport->OnOutbound(&c.out_, &ts.wire);
  if (st != Transport::Status::kOk) {
    TransportClose(c, st);
    return st == Transport::Status::kCloseAfterSend;
  }
  return true;
}

void Reactor::TransportClose(Conn& c, Transport::Status st) {
  if (c.closing_) {
    return;
  }
  if (st == Transport::Status::kClose) {
    BeginClose(c, -EPROTO);
    return;
  }
  // What the transport queued (an HTTP error, a close frame) goes out first; nothing more
  // from the application (its unframed output is dropped) and no OnClosing.
  c.out_.Clear();
  c.transport_->finished = true;
  if (!c.transport_->wire.empty()) {
    c.MarkDirty();
  }
  Close(c, CloseMode::kAfterFlush, -EPROTO);
}

// The application closes in order: its last output is framed now, so that the transport's
// closing bytes (a close frame) come after it, and nothing the application writes later goes
// out (RFC 6455: no data frame after a Close).
void Reactor::FinishTransport(Conn& c) {
  Conn::TransportState& ts = *c.transport_;
  const Transport::Status st =
      c.out_.empty() ? Transport::Status::kOk : ts.transport->OnOutbound(&c.out_, &ts.wire);
  c.out_.Clear();
  ts.finished = true;
  if (st == Transport::Status::kOk) {
    ts.transport->OnClosing(&ts.wire);
  } else if (st == Transport::Status::kClose) {
    ts.wire.Clear();  // close at once: nothing more is sent
  }
  if (!ts.wire.empty()) {
    c.MarkDirty();
  }
}

void Conn::SetTransport(std::unique_ptr<Transport> t) {
  if (t == nullptr) {
    transport_.reset();
    return;
  }
  transport_ = std::make_unique<TransportState>();
  transport_->transport = std::move(t);
}

void Reactor::StartDrain(Conn& c) {
  if (c.peer_closed_) {
    BeginClose(c, c.close_err_);  // nothing more will come: close now
    return;
  }
  ::shutdown(c.fd_, SHUT_WR);
  c.draining_ = true;
  ReadToDrain(c);
}

void Reactor::CheckLingering() {
  if (lingering_.empty()) {
    return;
  }
  size_t kept = 0;
  for (ConnId id : lingering_) {
    Conn* c = Find(id);
    if (c == nullptr) {
      continue;
    }
    if (now_ms_ >= c->extra().linger_deadline_ms) {
      BeginClose(*c, c->close_err_ != 0 ? c->close_err_ : -ETIMEDOUT);
      continue;
    }
    lingering_[kept++] = id;
  }
  lingering_.resize(kept);
}

void Conn::MarkDirty() {
  reactor_->AfterWrite(*this);
}

void Conn::Write(std::span<const uint8_t> bytes) {
  if (closing_ || draining_ || bytes.empty()) {
    return;
  }
  out_.Append(bytes);
  MarkDirty();
}

uint8_t* Conn::WriteUninitialized(size_t n) {
  uint8_t* p = out_.AppendUninitialized(n);
  if (!closing_ && !draining_) {
    MarkDirty();
  }
  return p;
}

void Conn::WriteShared(const BufferRef& buf, size_t offset, size_t len) {
  if (closing_ || draining_ || len == 0) {
    return;
  }
  out_.AppendShared(buf, offset, len);
  MarkDirty();
}

}  // namespace ringmq::net
