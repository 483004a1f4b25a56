#include "core/net/reactor_uring.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include <liburing.h>

#include "core/base/asserts.h"
#include "core/base/log.h"

namespace ringmq::net {
namespace {

// user_data layout: op (8 bits) | generation (low 24 bits) | connection or listener index.
enum class Op : uint8_t {
  kNone = 0,
  kAccept = 1,
  kRecv = 2,
  kSend = 3,
  kCancel = 4,
  kWake = 5,      // a MSG_RING wake-up from another shard (target side)
  kWakeSent = 6,  // our own MSG_RING submission (only reported on failure)
  kEventfd = 7,
  kConnect = 8,
};

constexpr uint64_t Tag(Op op, uint32_t index, uint32_t generation) {
  return (uint64_t{static_cast<uint8_t>(op)} << 56) | (uint64_t{generation & 0xFFFFFFu} << 32) |
         index;
}
constexpr Op TagOp(uint64_t t) {
  return static_cast<Op>(t >> 56);
}
constexpr uint32_t TagIndex(uint64_t t) {
  return static_cast<uint32_t>(t);
}
constexpr uint32_t TagGeneration(uint64_t t) {
  return static_cast<uint32_t>(t >> 32) & 0xFFFFFF;
}

constexpr uint16_t kBufferGroup = 1;
constexpr size_t kMaxSendBytes = 1 << 20;

struct SendOp {
  msghdr msg;
  iovec iov[1];  // really options.max_iov entries (allocated with the right size)
};

struct ConnectOp {
  Endpoint to;
};

}  // namespace

class UringReactor final : public Reactor {
 public:
  UringReactor(const ReactorOptions& options, IoHandler* handler) : Reactor(options, handler) {}
  ~UringReactor() override;

  absl::Status Init();

  BackendKind kind() const override { return BackendKind::kIoUring; }
  absl::Status Listen(int listen_fd, uint32_t listener_id) override;
  void StopListening() override;
  absl::Status Connect(const Endpoint& to, uint64_t connect_tag) override;
  Conn* Adopt(int fd, uint32_t listener_id, std::span<const uint8_t> unread,
              std::unique_ptr<Transport> transport) override;
  void PauseRead(Conn& c) override;
  void ResumeRead(Conn& c) override;
  void ReadToDrain(Conn& c) override;
  void Detach(Conn& c) override;
  void Flush() override;
  int Poll(int timeout_ms) override;
  void QueueWake(Reactor& target) override;
  void CloseAll(int err) override;
  size_t PendingOps() const override;

 private:
  struct Listener {
    int fd = -1;
    uint32_t id = 0;
    bool armed = false;
    int64_t rearm_at_ms = 0;
  };

  io_uring_sqe* GetSqe();
  void SubmitPending();
  void ArmAccept(uint32_t listener_index);
  // The multishot receive into provided buffers; nothing once the peer has closed.
  void ArmRecv(Conn& c);
  void ArmEventfd();
  void Cancel(uint64_t target_tag);
  // Closes `fd` once every operation prepared so far has been submitted (see BeginClose).
  void CloseAfterSubmit(int fd);
  // Submits what is prepared, then closes the descriptors waiting for that.
  void SubmitAndClose();
  void StartSend(Conn& c);
  void BeginClose(Conn& c, int err) override;
  void MaybeFinish(Conn& c);
  void DeliverDeferred();
  Conn* ConnOf(uint64_t tag) const;

  void HandleCqe(const io_uring_cqe* cqe);
  void OnAcceptCqe(uint32_t listener_index, const io_uring_cqe* cqe);
  void OnRecvCqe(const io_uring_cqe* cqe);
  void OnSendCqe(const io_uring_cqe* cqe);
  void OnConnectCqe(const io_uring_cqe* cqe);

  SendOp* GetSendOp();
  void PutSendOp(SendOp* op);

  io_uring ring_{};
  bool ring_ok_ = false;
  bool cqe_skip_ = false;
  bool msg_ring_ = false;
  io_uring_buf_ring* buf_ring_ = nullptr;
  size_t buf_ring_bytes_ = 0;
  uint8_t* buffers_ = nullptr;
  size_t buffers_bytes_ = 0;
  uint32_t buf_mask_ = 0;
  int pending_recycles_ = 0;
  std::vector<Listener> listeners_;
  std::vector<ConnId> rearm_;
  std::vector<Conn*> deferred_;  // connections whose OnClosed/OnDetached is due
  std::vector<int> wake_targets_;
  // Descriptors to close after the next submission: a prepared SQE names its descriptor
  // by number, so closing it before the SQE reaches the kernel would let the operation act
  // on whatever socket takes that number next (another shard's accept, say).
  std::vector<int> close_after_submit_;
  std::vector<SendOp*> send_pool_;
  uint64_t eventfd_value_ = 0;
  bool eventfd_armed_ = false;
  bool stopped_listening_ = false;
};

absl::StatusOr<std::unique_ptr<Reactor>> CreateUringReactor(const ReactorOptions& options,
                                                            IoHandler* handler) {
  auto r = std::make_unique<UringReactor>(options, handler);
  absl::Status s = r->Init();
  if (!s.ok()) {
    return s;
  }
  return std::unique_ptr<Reactor>(std::move(r));
}

absl::Status UringReactor::Init() {
  const UringFeatures& f = ProbeIoUring();
  if (!f.usable) {
    return absl::FailedPreconditionError(f.Describe());
  }
  io_uring_params p;
  std::memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN;
  if (f.single_issuer) {
    p.flags |= IORING_SETUP_SINGLE_ISSUER;
  }
  if (f.defer_taskrun) {
    p.flags |= IORING_SETUP_DEFER_TASKRUN;
  }
  p.cq_entries = options_.ring_entries * 4;
  int ret = io_uring_queue_init_params(options_.ring_entries, &ring_, &p);
  if (ret < 0) {
    return absl::ErrnoToStatus(-ret, "io_uring_queue_init_params");
  }
  ring_ok_ = true;
  cqe_skip_ = f.cqe_skip;
  msg_ring_ = f.msg_ring;

  // Provided buffer ring: entries, then the buffers themselves. Both are mapped lazily, so
  // pages a shard never receives into are never touched.
  uint32_t count = options_.recv_buffer_count;
  if (count == 0 || (count & (count - 1)) != 0 || count > 32768) {
    return absl::InvalidArgumentError("recv_buffer_count must be a power of two <= 32768");
  }
  buf_mask_ = count - 1;
  buf_ring_bytes_ = count * sizeof(io_uring_buf);
  void* ring_mem =
      ::mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (ring_mem == MAP_FAILED) {
    return absl::ErrnoToStatus(errno, "mmap(buffer ring)");
  }
  buf_ring_ = static_cast<io_uring_buf_ring*>(ring_mem);
  io_uring_buf_ring_init(buf_ring_);
  io_uring_buf_reg reg;
  std::memset(&reg, 0, sizeof reg);
  reg.ring_addr = reinterpret_cast<uint64_t>(buf_ring_);
  reg.ring_entries = count;
  reg.bgid = kBufferGroup;
  ret = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (ret != 0) {
    return absl::ErrnoToStatus(-ret, "io_uring_register_buf_ring");
  }
  buffers_bytes_ = size_t{count} * options_.recv_buffer_size;
  void* bufs = ::mmap(nullptr, buffers_bytes_, PROT_READ | PROT_WRITE,
                      MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE, -1, 0);
  if (bufs == MAP_FAILED) {
    return absl::ErrnoToStatus(errno, "mmap(receive buffers)");
  }
  buffers_ = static_cast<uint8_t*>(bufs);
  for (uint32_t i = 0; i < count; ++i) {
    io_uring_buf_ring_add(buf_ring_, buffers_ + size_t{i} * options_.recv_buffer_size,
                          options_.recv_buffer_size, static_cast<unsigned short>(i),
                          static_cast<int>(buf_mask_), static_cast<int>(i));
  }
  io_uring_buf_ring_advance(buf_ring_, static_cast<int>(count));
  ArmEventfd();
  return absl::OkStatus();
}

UringReactor::~UringReactor() {
  if (ring_ok_) {
    SubmitAndClose();
  }
  for (Listener& l : listeners_) {
    if (l.fd >= 0) {
      ::close(l.fd);
    }
  }
  for (SendOp* op : send_pool_) {
    std::free(op);
  }
  // queue_exit releases the registered buffer ring with the ring itself (the kernel pinned
  // its pages, so unmapping afterwards is safe). No unregister call: with SINGLE_ISSUER that
  // would be refused when the reactor is destroyed by a thread other than its shard's.
  if (ring_ok_) {
    io_uring_queue_exit(&ring_);
  }
  if (buf_ring_ != nullptr) {
    ::munmap(buf_ring_, buf_ring_bytes_);
  }
  if (buffers_ != nullptr) {
    ::munmap(buffers_, buffers_bytes_);
  }
}

io_uring_sqe* UringReactor::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
    RINGMQ_ASSERT(sqe != nullptr);
  }
  return sqe;
}

void UringReactor::ArmEventfd() {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_read(sqe, wake_fd_, &eventfd_value_, sizeof eventfd_value_, 0);
  io_uring_sqe_set_data64(sqe, Tag(Op::kEventfd, 0, 0));
  eventfd_armed_ = true;
}

void UringReactor::Cancel(uint64_t target_tag) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_cancel(sqe, reinterpret_cast<void*>(target_tag), 0);
  io_uring_sqe_set_data64(sqe, Tag(Op::kCancel, 0, 0));
  if (cqe_skip_) {
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  }
}

absl::Status UringReactor::Listen(int listen_fd, uint32_t listener_id) {
  listeners_.push_back(Listener{listen_fd, listener_id, false, 0});
  ArmAccept(static_cast<uint32_t>(listeners_.size() - 1));
  return absl::OkStatus();
}

void UringReactor::ArmAccept(uint32_t listener_index) {
  Listener& l = listeners_[listener_index];
  io_uring_sqe* sqe = GetSqe();
  // Blocking sockets: io_uring waits on them itself; nothing here needs O_NONBLOCK.
  io_uring_prep_multishot_accept(sqe, l.fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, Tag(Op::kAccept, listener_index, 0));
  l.armed = true;
}

void UringReactor::StopListening() {
  stopped_listening_ = true;
  for (uint32_t i = 0; i < listeners_.size(); ++i) {
    Listener& l = listeners_[i];
    if (l.armed) {
      Cancel(Tag(Op::kAccept, i, 0));
    }
    if (l.fd >= 0) {
      CloseAfterSubmit(l.fd);
      l.fd = -1;
    }
  }
}

void UringReactor::CloseAfterSubmit(int fd) {
  close_after_submit_.push_back(fd);
}

void UringReactor::SubmitAndClose() {
  if (close_after_submit_.empty()) {
    return;
  }
  // 1. Every SQE naming one of these descriptors was prepared before it was queued here.
  // 2. io_uring_submit hands them all to the kernel, which takes its own reference to each
  //    file as it issues the operation.
  // 3. Only then does the descriptor number become free for reuse. A submission the kernel
  //    refused in part (-EBUSY while completions overflow) leaves SQEs prepared: the
  //    descriptors wait for the next round.
  io_uring_submit(&ring_);
  if (io_uring_sq_ready(&ring_) > 0) {
    return;
  }
  for (int fd : close_after_submit_) {
    ::close(fd);
  }
  close_after_submit_.clear();
}

absl::Status UringReactor::Connect(const Endpoint& to, uint64_t connect_tag) {
  int fd = ::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, "socket()");
  }
  Conn* c = AllocConn(fd, Conn::kOutbound);
  c->connecting_ = true;
  c->extra().connect_tag = connect_tag;
  auto* op = new ConnectOp{to};
  c->extra().backend_op = op;
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_connect(sqe, fd, reinterpret_cast<const sockaddr*>(&op->to.addr), op->to.addr_len);
  io_uring_sqe_set_data64(sqe, Tag(Op::kConnect, c->index_, c->generation_));
  ++c->inflight_;
  return absl::OkStatus();
}

Conn* UringReactor::Adopt(int fd, uint32_t listener_id, std::span<const uint8_t> unread,
                          std::unique_ptr<Transport> transport) {
  Conn* c = AllocConn(fd, listener_id);
  c->SetTransport(std::move(transport));
  if (!unread.empty()) {
    stats_.bytes_in += unread.size();
    handler_->OnData(*c, unread);  // application bytes already: not through the transport
  }
  if (!c->closing_ && !c->detaching_ && !c->read_paused_) {
    ArmRecv(*c);
  }
  return c;
}

void UringReactor::ArmRecv(Conn& c) {
  if (c.peer_closed_) {
    return;  // after the end of stream a receive would only complete with 0 again
  }
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_recv_multishot(sqe, c.fd_, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, Tag(Op::kRecv, c.index_, c.generation_));
  c.recv_armed_ = true;
  ++c.inflight_;
}

void UringReactor::PauseRead(Conn& c) {
  if (c.read_paused_ || c.closing_) {
    return;
  }
  c.read_paused_ = true;
  if (c.recv_armed_) {
    Cancel(Tag(Op::kRecv, c.index_, c.generation_));
  }
}

void UringReactor::ResumeRead(Conn& c) {
  if (!c.read_paused_ || c.closing_ || c.flush_then_close_) {
    return;
  }
  c.read_paused_ = false;
  // If the cancelled recv has not ended yet, its final completion re-arms it.
  if (!c.recv_armed_ && !c.detaching_) {
    ArmRecv(c);
  }
}

void UringReactor::ReadToDrain(Conn& c) {
  c.read_paused_ = false;
  // If the cancelled recv has not ended yet, its final completion re-arms it.
  if (!c.recv_armed_) {
    ArmRecv(c);
  }
}

void UringReactor::Detach(Conn& c) {
  RINGMQ_ASSERT(!c.closing_ && !c.detaching_);
  c.detaching_ = true;
  if (c.recv_armed_) {
    Cancel(Tag(Op::kRecv, c.index_, c.generation_));
  }
  if (!c.output_empty()) {
    c.MarkDirty();  // what is queued (a transport's handshake answer) goes out first
  }
  MaybeFinish(c);
}

void UringReactor::BeginClose(Conn& c, int err) {
  if (c.closing_) {
    return;
  }
  c.closing_ = true;
  c.close_err_ = err;
  // Stop every kernel operation; the Conn is released when the last one has completed.
  if (c.recv_armed_) {
    Cancel(Tag(Op::kRecv, c.index_, c.generation_));
  }
  if (c.send_inflight_) {
    Cancel(Tag(Op::kSend, c.index_, c.generation_));
  }
  if (c.connecting_) {
    Cancel(Tag(Op::kConnect, c.index_, c.generation_));
  }
  // The kernel holds its own reference to the socket for operations in flight, so the
  // descriptor can go once the operations prepared so far (and the cancels above) are
  // submitted; the connection itself ends when those complete.
  CloseAfterSubmit(c.fd_);
  c.fd_ = -1;
  deferred_.push_back(&c);
}

void UringReactor::MaybeFinish(Conn& c) {
  if (c.detaching_ && !c.closing_ && c.inflight_ == 0 && c.output_empty() && !c.close_notified_) {
    // All kernel operations are over and the output is sent: the socket can change hands.
    deferred_.push_back(&c);
    c.close_notified_ = true;  // reused as "OnDetached queued"
    return;
  }
  if (c.closing_ && c.close_notified_ && c.inflight_ == 0) {
    QueueRelease(&c);
  }
}

void UringReactor::DeliverDeferred() {
  // Handlers may close or detach more connections while we deliver: index, not iterate.
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
      handler_->OnDetached(*c, std::move(s));
      QueueRelease(c);
      continue;
    }
    if (!c->close_notified_) {
      c->close_notified_ = true;
      handler_->OnClosed(*c, c->close_err_);
    }
    MaybeFinish(*c);
  }
  deferred_.clear();
}

SendOp* UringReactor::GetSendOp() {
  if (!send_pool_.empty()) {
    SendOp* op = send_pool_.back();
    send_pool_.pop_back();
    return op;
  }
  size_t bytes = sizeof(SendOp) + sizeof(iovec) * (options_.max_iov - 1);
  auto* op = static_cast<SendOp*>(std::malloc(bytes));
  RINGMQ_ASSERT(op != nullptr);
  return op;
}

void UringReactor::PutSendOp(SendOp* op) {
  if (send_pool_.size() < 1024) {
    send_pool_.push_back(op);
  } else {
    std::free(op);
  }
}

void UringReactor::StartSend(Conn& c) {
  if (c.send_inflight_ || c.closing_ || c.connecting_ || !FrameOutput(c)) {
    return;
  }
  OutputQueue& q = c.send_queue();
  if (q.empty()) {
    return;
  }
  io_uring_sqe* sqe = GetSqe();
  if (q.segments() == 1 || options_.max_iov <= 1) {
    std::span<const uint8_t> front = q.Front();
    size_t len = front.size() < kMaxSendBytes ? front.size() : kMaxSendBytes;
    io_uring_prep_send(sqe, c.fd_, front.data(), len, MSG_NOSIGNAL);
  } else {
    SendOp* op = GetSendOp();
    std::memset(&op->msg, 0, sizeof op->msg);
    size_t total;
    int n = q.Gather(op->iov, static_cast<int>(options_.max_iov), kMaxSendBytes, &total);
    op->msg.msg_iov = op->iov;
    op->msg.msg_iovlen = static_cast<size_t>(n);
    io_uring_prep_sendmsg(sqe, c.fd_, &op->msg, MSG_NOSIGNAL);
    c.send_op_ = op;
  }
  io_uring_sqe_set_data64(sqe, Tag(Op::kSend, c.index_, c.generation_));
  c.send_inflight_ = true;
  ++c.inflight_;
  ++stats_.sends;
}

void UringReactor::Flush() {
  CheckLingering();
  for (Conn* c = TakeDirtyList(); c != nullptr;) {
    Conn* next = c->next_dirty_;
    c->next_dirty_ = nullptr;
    c->dirty_ = false;
    StartSend(*c);
    c = next;
  }
  DeliverDeferred();
  ReleaseQueued();
}

void UringReactor::QueueWake(Reactor& target) {
  auto& t = static_cast<UringReactor&>(target);
  if (msg_ring_) {
    wake_targets_.push_back(t.ring_.ring_fd);
  } else {
    t.Wake();
  }
  ++stats_.wakeups_sent;
}

void UringReactor::SubmitPending() {
  if (pending_recycles_ > 0) {
    io_uring_buf_ring_advance(buf_ring_, pending_recycles_);
    pending_recycles_ = 0;
  }
  for (ConnId id : rearm_) {
    Conn* c = Find(id);
    if (c != nullptr && !c->recv_armed_ && !c->read_paused_ && !c->detaching_) {
      ArmRecv(*c);
    }
  }
  rearm_.clear();
  if (!stopped_listening_) {
    for (uint32_t i = 0; i < listeners_.size(); ++i) {
      Listener& l = listeners_[i];
      if (!l.armed && l.fd >= 0 && now_ms_ >= l.rearm_at_ms) {
        ArmAccept(i);
      }
    }
  }
  if (!eventfd_armed_) {
    ArmEventfd();
  }
  for (int fd : wake_targets_) {
    io_uring_sqe* sqe = GetSqe();
    io_uring_prep_msg_ring(sqe, fd, 0, Tag(Op::kWake, 0, 0), 0);
    io_uring_sqe_set_data64(sqe, Tag(Op::kWakeSent, 0, 0));
    if (cqe_skip_) {
      sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    }
  }
  wake_targets_.clear();
}

int UringReactor::Poll(int timeout_ms) {
  SubmitPending();
  SubmitAndClose();
  if (timeout_ms == 0) {
    io_uring_submit_and_get_events(&ring_);
  } else {
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec ts;
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1'000'000;
    // Returns -ETIME on timeout and -EINTR on a signal: both just end the wait.
    BeforeWait();
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, timeout_ms < 0 ? nullptr : &ts, nullptr);
    AfterWait();
    UpdateNow();  // we may have slept: events below happen now, not at the loop's start
  }
  int handled = 0;
  unsigned head;
  unsigned n = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    HandleCqe(cqe);
    ++n;
  }
  io_uring_cq_advance(&ring_, n);
  handled += static_cast<int>(n);
  if (pending_recycles_ > 0) {
    io_uring_buf_ring_advance(buf_ring_, pending_recycles_);
    pending_recycles_ = 0;
  }
  DeliverDeferred();
  return handled;
}

Conn* UringReactor::ConnOf(uint64_t tag) const {
  // The tag keeps only 24 bits of the generation. A Conn is never reused while a kernel
  // operation refers to it (inflight_ > 0 keeps it), so matching those bits is exact.
  Conn* c = Slot(TagIndex(tag));
  if (c == nullptr || (c->generation_ & 0xFFFFFFu) != TagGeneration(tag)) {
    return nullptr;
  }
  return c;
}

void UringReactor::HandleCqe(const io_uring_cqe* cqe) {
  const uint64_t tag = cqe->user_data;
  switch (TagOp(tag)) {
    case Op::kAccept:
      OnAcceptCqe(TagIndex(tag), cqe);
      break;
    case Op::kRecv:
      OnRecvCqe(cqe);
      break;
    case Op::kSend:
      OnSendCqe(cqe);
      break;
    case Op::kConnect:
      OnConnectCqe(cqe);
      break;
    case Op::kEventfd:
      eventfd_armed_ = false;
      handler_->OnWake();
      break;
    case Op::kWake:
      handler_->OnWake();
      break;
    case Op::kWakeSent:
      if (cqe->res < 0) {
        RINGMQ_LOG_EVERY_S(kWarning, 10, "MSG_RING wake-up failed: %s", std::strerror(-cqe->res));
      }
      break;
    case Op::kCancel:
    case Op::kNone:
      break;
  }
}

void UringReactor::OnAcceptCqe(uint32_t listener_index, const io_uring_cqe* cqe) {
  Listener& l = listeners_[listener_index];
  if (!(cqe->flags & IORING_CQE_F_MORE)) {
    l.armed = false;
  }
  if (cqe->res < 0) {
    if (cqe->res != -ECANCELED) {
      RINGMQ_LOG_EVERY_S(kWarning, 5, "accept failed: %s", std::strerror(-cqe->res));
      // Out of descriptors or memory: back off instead of spinning on the error.
      l.rearm_at_ms = now_ms_ + 100;
    }
    return;
  }
  int fd = cqe->res;
  if (stopped_listening_ || live_ >= options_.max_connections) {
    ::close(fd);
    ++stats_.refused_over_limit;
    return;
  }
  ConfigureConnection(fd, options_.tcp_keepalive);
  Conn* c = AllocConn(fd, l.id);
  ++stats_.accepted;
  handler_->OnAccepted(*c);
  if (!c->closing_ && !c->detaching_ && !c->read_paused_) {
    ArmRecv(*c);
  }
}

void UringReactor::OnRecvCqe(const io_uring_cqe* cqe) {
  Conn* c = ConnOf(cqe->user_data);
  const bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
  const int res = cqe->res;
  if (cqe->flags & IORING_CQE_F_BUFFER) {
    auto bid = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    uint8_t* buf = buffers_ + size_t{bid} * options_.recv_buffer_size;
    if (res > 0 && c != nullptr && !c->closing_) {
      DeliverInput(*c, std::span<const uint8_t>(buf, static_cast<size_t>(res)));
    }
    // Back to the kernel (published in a batch after this round of completions).
    io_uring_buf_ring_add(buf_ring_, buf, options_.recv_buffer_size, bid,
                          static_cast<int>(buf_mask_), pending_recycles_++);
  }
  if (c == nullptr) {
    RINGMQ_BUG("recv completion for an unknown connection");
    return;
  }
  if (res == 0) {
    // Orderly shutdown by the peer. The handler may keep the connection to finish its work.
    c->peer_closed_ = true;
    if (c->draining_ && !c->closing_) {
      BeginClose(*c, c->close_err_);  // the lingering close is complete
    } else if (c->flush_then_close_) {
      // Closing already, with output still to send: StartDrain closes once it is sent.
    } else if (!c->closing_ && !c->detaching_ && !handler_->OnPeerClosed(*c)) {
      BeginClose(*c, 0);
    }
  } else if (res < 0) {
    if (res == -ENOBUFS) {
      // The buffer ring ran dry. The multishot ended; the bytes wait in the socket and
      // the re-arm (after this round returned its buffers) continues in order.
      ++stats_.enobufs;
      if (!more && !c->closing_ && !c->detaching_ && !c->read_paused_) {
        rearm_.push_back(c->id());
      }
    } else if (res != -ECANCELED && !c->closing_ && !c->detaching_) {
      BeginClose(*c, res);
    }
  } else if (!more && !c->closing_ && !c->detaching_ && !c->read_paused_) {
    rearm_.push_back(c->id());  // the kernel ended the multishot: keep reading
  }
  if (!more) {
    c->recv_armed_ = false;
    --c->inflight_;
    if (!c->closing_ && !c->detaching_ && !c->read_paused_ && res == -ECANCELED) {
      rearm_.push_back(c->id());  // paused and resumed before the cancel landed
    }
    MaybeFinish(*c);
  }
}

void UringReactor::OnSendCqe(const io_uring_cqe* cqe) {
  Conn* c = ConnOf(cqe->user_data);
  if (c == nullptr) {
    RINGMQ_BUG("send completion for an unknown connection");
    return;
  }
  c->send_inflight_ = false;
  --c->inflight_;
  if (c->send_op_ != nullptr) {
    PutSendOp(static_cast<SendOp*>(c->send_op_));
    c->send_op_ = nullptr;
  }
  const int res = cqe->res;
  if (!c->closing_) {
    if (res > 0) {
      const size_t requested = c->send_queue().bytes();
      AfterSend(*c, static_cast<size_t>(res));
      if (static_cast<size_t>(res) < requested && !c->send_queue().empty()) {
        ++stats_.partial_sends;
      }
      if (!c->output_empty()) {
        c->MarkDirty();  // the rest goes with the next flush, from where this one stopped
      } else if (c->flush_then_close_ && !c->draining_) {
        StartDrain(*c);
      }
    } else if (res < 0) {
      BeginClose(*c, res);
    }
  }
  MaybeFinish(*c);
}

void UringReactor::OnConnectCqe(const io_uring_cqe* cqe) {
  Conn* c = ConnOf(cqe->user_data);
  if (c == nullptr) {
    RINGMQ_BUG("connect completion for an unknown connection");
    return;
  }
  delete static_cast<ConnectOp*>(c->extra().backend_op);
  c->extra().backend_op = nullptr;
  c->connecting_ = false;
  --c->inflight_;
  if (!c->closing_) {
    if (cqe->res == 0) {
      ConfigureConnection(c->fd_, options_.tcp_keepalive);
      handler_->OnConnected(*c, c->extra().connect_tag, 0);
      if (!c->closing_ && !c->detaching_ && !c->read_paused_) {
        ArmRecv(*c);
      }
      if (!c->output_empty()) {
        c->MarkDirty();
      }
    } else {
      handler_->OnConnected(*c, c->extra().connect_tag, cqe->res);
      BeginClose(*c, cqe->res);
    }
  }
  MaybeFinish(*c);
}

void UringReactor::CloseAll(int err) {
  StopListening();
  ForEachConn([&](Conn& c) {
    if (!c.closing_ && !c.detaching_) {
      BeginClose(c, err);
    }
  });
}

size_t UringReactor::PendingOps() const {
  return live_;
}

}  // namespace ringmq::net
