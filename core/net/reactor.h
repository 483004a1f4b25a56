// Reactor: one shard's event loop backend, and Conn, one TCP connection on it. Shard-local:
// a Reactor and its Conns are used only by the thread that created the Reactor.
//
// Two backends implement this interface and pass the same tests:
//   - io_uring (reactor_uring.cc): multishot accept, multishot recv into a provided-buffer
//     ring, one send/sendmsg in flight per connection, MSG_RING wake-ups between shards;
//     the ring is set up with SINGLE_ISSUER and DEFER_TASKRUN where the kernel allows.
//   - epoll (reactor_epoll.cc): for hosts whose container runtime forbids io_uring.
//
// Data flow for a connection:
//   accept -> IoHandler::OnAccepted -> bytes -> OnData(span valid during the call only)
//   -> the handler writes replies with Conn::Write*() -> the shard calls Flush() once per
//   loop iteration, which starts one send (or writev) per connection with new output ->
//   partial sends continue from where they stopped -> Close() / peer close -> OnClosed.
// The handler never sees a Conn again after OnClosed (or OnDetached) returns.
//
// Back-pressure: a connection whose queued output exceeds output_high_watermark is
// "congested"; the handler is told (OnOutputCongested) so it can stop producing for it, and
// told again (OnOutputDrained) when the queue falls under output_low_watermark.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

#include "core/base/clock.h"
#include "core/net/buffer.h"
#include "core/net/output_queue.h"
#include "core/net/socket_ops.h"
#include "core/net/transport.h"

namespace ringmq::net {

class Reactor;

enum class BackendKind : uint8_t { kAuto, kIoUring, kEpoll };
std::string_view BackendName(BackendKind k);
// Parses "auto", "io_uring"/"uring", "epoll".
bool ParseBackend(std::string_view text, BackendKind* out);

// A stable reference to a connection that survives the Conn's reuse: (index, generation).
struct ConnId {
  uint32_t index = 0;
  uint32_t generation = 0;
  bool operator==(const ConnId&) const = default;
  uint64_t Pack() const { return (uint64_t{generation} << 32) | index; }
  static ConnId Unpack(uint64_t v) {
    return {static_cast<uint32_t>(v), static_cast<uint32_t>(v >> 32)};
  }
};

enum class CloseMode : uint8_t {
  kNow,  // discard queued output and close
  // Stop handing input to the handler, send what is queued, shut down the write side (the
  // peer reads everything, then EOF), read and discard until the peer closes too, then close.
  // All of it bounded by close_linger_ms. Closing with unread input would make the kernel
  // answer with a reset, which destroys what the peer had not read yet (a DISCONNECT with its
  // reason, say) while it is still sending.
  kAfterFlush,
};

class Conn {
 public:
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  ConnId id() const { return {index_, generation_}; }
  int fd() const { return fd_; }
  // The listener it came in on (ListenerId given to Listen), or kOutbound for Connect().
  uint32_t listener_id() const { return listener_id_; }
  static constexpr uint32_t kOutbound = UINT32_MAX;

  // The handler's per-connection state.
  void* user() const { return user_; }
  void set_user(void* p) { user_ = p; }

  // Queues bytes for sending (copied). Sent at the end of the loop iteration.
  void Write(std::span<const uint8_t> bytes);
  void Write(std::string_view bytes) {
    Write(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  }
  // Reserves n bytes at the tail of the output queue to encode into directly.
  uint8_t* WriteUninitialized(size_t n);
  // Queues a reference to bytes of a shared buffer (no copy).
  void WriteShared(const BufferRef& buf, size_t offset, size_t len);

  size_t output_bytes() const {
    return out_.bytes() + (transport_ != nullptr ? transport_->wire.bytes() : 0);
  }
  bool output_empty() const {
    return out_.empty() && (transport_ == nullptr || transport_->wire.empty());
  }

  // Puts `t` under this connection (transport.h): from now on the bytes read go through it
  // before OnData, and the output through it at each flush. For the handler's OnAccepted,
  // before any data flowed; a connection handed to another shard keeps its transport.
  void SetTransport(std::unique_ptr<Transport> t);
  bool has_transport() const { return transport_ != nullptr; }
  // nullptr without one.
  const Transport* transport() const {
    return transport_ != nullptr ? transport_->transport.get() : nullptr;
  }
  bool congested() const { return congested_; }
  bool closing() const { return closing_; }
  bool read_paused() const { return read_paused_; }
  bool peer_closed() const { return peer_closed_; }

 private:
  friend class Reactor;
  friend class UringReactor;
  friend class EpollReactor;
  friend class ConnTable;
  Conn() = default;

  void MarkDirty();

  // State only some connections need (closing with linger, detaching, connecting): kept out
  // of line so an idle connection stays small.
  struct Extra {
    int64_t linger_started_ms = 0;
    int64_t linger_deadline_ms = 0;
    std::string detach_bytes;    // data received while detaching
    void* backend_op = nullptr;  // io_uring: the in-flight connect state
    uint64_t connect_tag = 0;
  };
  Extra& extra() {
    if (!extra_) {
      extra_ = std::make_unique<Extra>();
    }
    return *extra_;
  }

  // A transport's state: the transport, the framed bytes waiting to be sent, and scratch for
  // the application bytes it hands on.
  struct TransportState {
    std::unique_ptr<Transport> transport;
    OutputQueue wire;
    std::string inbound;
    // The transport gave its last answer (kCloseAfterSend) or its closing bytes: no more
    // input goes through it, and the application's output is dropped, not framed.
    bool finished = false;
  };
  // What a send takes its bytes from: the framed queue under a transport, else out_ itself.
  OutputQueue& send_queue() { return transport_ != nullptr ? transport_->wire : out_; }

  Reactor* reactor_ = nullptr;
  void* user_ = nullptr;
  OutputQueue out_;
  std::unique_ptr<TransportState> transport_;
  Conn* next_dirty_ = nullptr;  // intrusive list of connections with output to flush
  std::unique_ptr<Extra> extra_;
  void* send_op_ = nullptr;  // io_uring: the in-flight sendmsg
  int fd_ = -1;
  uint32_t index_ = 0;
  uint32_t generation_ = 0;
  uint32_t listener_id_ = 0;
  int close_err_ = 0;
  // Backend state.
  uint8_t inflight_ = 0;  // kernel operations still referring to this Conn
  bool in_use_ = false;
  bool dirty_ = false;
  bool recv_armed_ = false;
  bool send_inflight_ = false;
  bool read_paused_ = false;
  bool closing_ = false;  // Close() called or peer gone: no more handler callbacks
  bool flush_then_close_ = false;
  bool draining_ = false;  // kAfterFlush: written side shut down, input read and discarded
  bool detaching_ = false;
  bool connecting_ = false;
  bool congested_ = false;
  bool want_write_ = false;      // epoll: EPOLLOUT registered
  bool peer_closed_ = false;     // EOF seen: nothing more to read
  bool close_notified_ = false;  // OnClosed / OnDetached delivered
  bool release_queued_ = false;
};

// A socket released by Detach(), with the bytes that were received but not consumed.
struct DetachedSocket {
  int fd = -1;
  uint32_t listener_id = 0;
  std::string unread;                    // application bytes (after the transport)
  std::unique_ptr<Transport> transport;  // moves with the socket (null: none)
};

// Connection events. Called on the reactor's thread, from inside Poll().
class IoHandler {
 public:
  virtual ~IoHandler() = default;
  virtual void OnAccepted(Conn& c) = 0;
  // An outbound Connect() finished: err == 0 on success (then data may follow), else -errno
  // and the Conn is closed right after this returns.
  virtual void OnConnected(Conn& c, uint64_t connect_tag, int err) = 0;
  // Bytes received. `data` is valid only during the call.
  virtual void OnData(Conn& c, std::span<const uint8_t> data) = 0;
  // The peer finished sending (TCP FIN): no more data will come, but the connection can
  // still be written to. Return false to close it now (OnClosed(c, 0) follows), true to keep
  // it until the handler calls Close() itself (e.g. after finishing work on what it read).
  virtual bool OnPeerClosed(Conn& /*c*/) { return false; }
  // The connection is gone (peer closed: err 0, error: -errno, or Close() was called: the
  // err given to Close). The Conn is reused after this returns.
  virtual void OnClosed(Conn& c, int err) = 0;
  // Output went over the high watermark / back under the low watermark.
  virtual void OnOutputCongested(Conn& /*c*/) {}
  virtual void OnOutputDrained(Conn& /*c*/) {}
  // Detach() finished: the socket and its unread bytes now belong to the handler.
  virtual void OnDetached(Conn& c, DetachedSocket socket) = 0;
  // Another thread called Wake() or a cross-shard wake-up arrived.
  virtual void OnWake() {}
};

struct ReactorOptions {
  BackendKind backend = BackendKind::kAuto;
  int shard_index = 0;
  uint32_t ring_entries = 4096;        // io_uring SQ size (CQ is 4x)
  uint32_t recv_buffer_count = 256;    // provided buffers per shard (power of two)
  uint32_t recv_buffer_size = 16384;   // bytes each
  uint32_t max_connections = 100'000;  // per reactor; more accepts are closed at once
  size_t output_high_watermark = 1 << 20;
  size_t output_low_watermark = 256 << 10;
  uint32_t close_linger_ms = 2000;  // CloseMode::kAfterFlush gives up after this without
                                    // progress (at most kLingerProgressFactor x it in all)
  uint32_t max_iov = 64;            // iovecs per send
  TcpKeepAlive tcp_keepalive;       // on every accepted or connected socket
  // Where the loop reads its time (not owned; must outlive the reactor). nullptr: the real
  // monotonic clock. Simulations step a base::FakeClock.
  const base::Clock* clock = nullptr;
};

// What the io_uring probe found, decided once per process (see ProbeIoUring()).
struct UringFeatures {
  bool usable = false;         // everything the io_uring backend needs is there
  bool single_issuer = false;  // IORING_SETUP_SINGLE_ISSUER accepted
  bool defer_taskrun = false;  // IORING_SETUP_DEFER_TASKRUN accepted
  bool msg_ring = false;       // IORING_OP_MSG_RING supported
  bool cqe_skip = false;       // IOSQE_CQE_SKIP_SUCCESS
  std::string why_unusable;    // when !usable
  std::string Describe() const;
};

// Probes the kernel once (creates and destroys a throw-away ring) and caches the result.
const UringFeatures& ProbeIoUring();

// Resolves kAuto: io_uring when usable, else epoll (logged once with the reason).
BackendKind ResolveBackend(BackendKind requested);

class Reactor {
 public:
  // Creates the backend options.backend names (kAuto must be resolved first).
  static absl::StatusOr<std::unique_ptr<Reactor>> Create(const ReactorOptions& options,
                                                         IoHandler* handler);
  virtual ~Reactor();

  virtual BackendKind kind() const = 0;
  const ReactorOptions& options() const { return options_; }

  // Takes ownership of a listening socket and starts accepting on it.
  virtual absl::Status Listen(int listen_fd, uint32_t listener_id) = 0;
  // Stops accepting and closes every listening socket.
  virtual void StopListening() = 0;

  // Starts an outbound connection; OnConnected(tag) reports the outcome.
  virtual absl::Status Connect(const Endpoint& to, uint64_t connect_tag) = 0;

  // Adopts an accepted socket handed over from another reactor, with its transport (null:
  // none): OnData is called with `unread` (application bytes) first (inside this call), then
  // reading starts.
  virtual Conn* Adopt(int fd, uint32_t listener_id, std::span<const uint8_t> unread,
                      std::unique_ptr<Transport> transport = nullptr) = 0;

  // Closes a connection. OnClosed(err) follows at the next safe point (never inside this
  // call): after the current completion round or flush.
  void Close(Conn& c, CloseMode mode, int err);
  // Stops/restarts delivering data for one connection. Bytes already in flight may still
  // arrive after PauseRead.
  virtual void PauseRead(Conn& c) = 0;
  virtual void ResumeRead(Conn& c) = 0;
  // Stops reading `c` and, once its queued output is sent, hands its socket over (OnDetached)
  // when the kernel no longer refers to the Conn. Bytes read meanwhile travel with it.
  virtual void Detach(Conn& c) = 0;

  // Starts sends for every connection with new output. Called once per loop iteration.
  virtual void Flush() = 0;
  // Submits pending work, waits up to timeout_ms for events (0: do not wait, -1: no limit)
  // and dispatches them to the handler. Returns the number of events handled.
  virtual int Poll(int timeout_ms) = 0;

  // Queues a wake-up of `target` (another reactor of the same kind) to be sent with this
  // reactor's next submission. Shard thread only.
  virtual void QueueWake(Reactor& target) = 0;
  // Wakes this reactor from any thread (eventfd).
  void Wake();

  // Closes every connection (kNow) and the listeners. For shutdown.
  virtual void CloseAll(int err) = 0;
  // Kernel operations still outstanding (shutdown waits for 0).
  virtual size_t PendingOps() const = 0;

  Conn* Find(ConnId id) const;
  // Open connections that still have output queued (used while shutting down).
  size_t ConnectionsWithOutput();
  size_t connections() const { return live_; }
  // Calls f(Conn&) for every in-use Conn (closing ones included).
  template <typename F>
  void ForEachConn(F&& f) {
    for (uint32_t i = 0; i < allocated_; ++i) {
      Conn* c = &chunks_[i / kChunk][i % kChunk];
      if (c->in_use_) {
        f(*c);
      }
    }
  }
  // The loop's clock (options.clock, CLOCK_MONOTONIC by default; ms): read once per loop iteration
  // and again by Poll() after every wait, so events handled after a sleep see the time they happen
  // at.
  int64_t now_ms() const { return now_ms_; }
  void UpdateNow();

  // Time the loop spent not waiting in the kernel for events (ns since the reactor was made):
  // everything but the blocking wait of Poll(). The reactor's thread only.
  uint64_t busy_ns() const;

  // Counters.
  struct Stats {
    uint64_t accepted = 0;
    uint64_t refused_over_limit = 0;
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    uint64_t sends = 0;
    uint64_t partial_sends = 0;
    uint64_t enobufs = 0;
    uint64_t wakeups_sent = 0;
  };
  const Stats& stats() const { return stats_; }

 protected:
  Reactor(const ReactorOptions& options, IoHandler* handler);

  // Around the blocking wait of Poll() (not called for a wait of 0 ms): busy_ns.
  void BeforeWait();
  void AfterWait();

  // Starts closing now: stop every operation, close the descriptor, queue OnClosed.
  virtual void BeginClose(Conn& c, int err) = 0;
  // Force-closes connections whose kAfterFlush linger deadline has passed.
  void CheckLingering();
  // kAfterFlush: everything queued is sent; shut down the write side and drain the input.
  void StartDrain(Conn& c);
  // Bytes read from `c`'s socket: through its transport, then to the handler (or, while
  // detaching, kept for the next shard; while draining, dropped).
  void DeliverInput(Conn& c, std::span<const uint8_t> data);
  // Before a send: the application's new output through the transport. False if the
  // transport failed (the connection is then closing).
  bool FrameOutput(Conn& c);
  // A transport answered kClose or kCloseAfterSend.
  void TransportClose(Conn& c, Transport::Status st);
  // Close(kAfterFlush) of a connection with a transport: frames the last output, then the
  // transport's closing bytes.
  void FinishTransport(Conn& c);
  // Input for the application (after its transport, if any): to the handler, or kept for the
  // shard a detaching connection goes to.
  void DeliverApplicationBytes(Conn& c, std::span<const uint8_t> data);
  void DeliverApplicationBytes(Conn& c, const std::string& data);
  // Starts reading again on a draining connection (input is discarded from now on).
  virtual void ReadToDrain(Conn& c) = 0;

  Conn* AllocConn(int fd, uint32_t listener_id);
  // Returns the Conn to the free list (after OnClosed/OnDetached and with no kernel ops).
  void FreeConn(Conn* c);
  // The in-use Conn at `index` (closing or not), or nullptr.
  Conn* Slot(uint32_t index) const;
  // Queues `c` to be freed at the end of the next Flush(), when it is on no list.
  void QueueRelease(Conn* c);
  void ReleaseQueued();
  // Connections with output to flush, in the order they became dirty.
  Conn* TakeDirtyList();
  void AfterWrite(Conn& c);
  void AfterSend(Conn& c, size_t sent);

  ReactorOptions options_;
  IoHandler* handler_;
  Stats stats_;
  int wake_fd_ = -1;  // eventfd for wake-ups from any thread
  int64_t now_ms_ = 0;
  // Busy time (busy_ns): what was counted up to the last wait, and when that wait ended.
  uint64_t busy_ns_ = 0;
  int64_t woke_ns_ = 0;
  size_t live_ = 0;

 private:
  friend class Conn;
  static constexpr size_t kChunk = 1024;
  // A lingering close that keeps making progress ends after at most this many close_linger_ms.
  static constexpr int64_t kLingerProgressFactor = 15;
  std::vector<std::unique_ptr<Conn[]>> chunks_;
  std::vector<uint32_t> free_;
  uint32_t allocated_ = 0;
  Conn* dirty_head_ = nullptr;
  Conn* dirty_tail_ = nullptr;
  std::vector<Conn*> release_;
  std::vector<ConnId> lingering_;
};

}  // namespace ringmq::net
