#include "core/shard/shard.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "core/base/asserts.h"
#include "core/base/log.h"
#include "core/shard/shard_set.h"

namespace ringmq::shard {
namespace {

thread_local Shard* current_shard = nullptr;

// Marks a connection refused over the global limit: the app never saw it.
int refused_marker;

// A connection in transit between shards.
struct AdoptMsg {
  int fd = -1;
  uint32_t listener_id = 0;
  uint64_t app_data = 0;
  std::string bytes;                          // application bytes not consumed yet
  std::unique_ptr<net::Transport> transport;  // the connection's, in its current state
};

}  // namespace

Shard::Shard(ShardSet* set, uint32_t index, const ShardOptions& options)
    : set_(set), index_(index), options_(options) {}

Shard::~Shard() = default;

Shard* Shard::Current() {
  return current_shard;
}

uint32_t Shard::count() const {
  return set_->size();
}

absl::Status Shard::Init() {
  current_shard = this;
  base::SetLogShard(static_cast<int>(index_));
  net::ReactorOptions ro = options_.reactor;
  ro.shard_index = static_cast<int>(index_);
  auto reactor = net::Reactor::Create(ro, this);
  if (!reactor.ok()) {
    return reactor.status();
  }
  reactor_ = std::move(*reactor);
  reactor_->UpdateNow();
  timers_ = std::make_unique<net::TimerWheel>(now_ms(), options_.timer_tick_ms);
  return absl::OkStatus();
}

void Shard::Send(uint32_t target, Envelope e) {
  e.from = index_;
  ++stats_.messages_out;
  if (target == index_) {
    self_queue_.push_back(e);
    return;
  }
  std::deque<Envelope>& q = overflow_[target];
  if (q.empty() && set_->Mailbox(index_, target).TryPush(e)) {
    wake_needed_[target] = 1;
    return;
  }
  q.push_back(e);
  ++overflow_count_;
  ++stats_.overflowed;
}

void Shard::DrainOverflow() {
  if (overflow_count_ == 0) {
    return;
  }
  DrainOverflowQueues();
  if (overflow_count_ == 0) {
    app_->OnBacklogCleared();  // may send again (and fill the overflow again)
  }
}

void Shard::DrainOverflowQueues() {
  for (uint32_t t = 0; t < overflow_.size(); ++t) {
    std::deque<Envelope>& q = overflow_[t];
    if (q.empty()) {
      continue;
    }
    SpscRing<Envelope>& ring = set_->Mailbox(index_, t);
    while (!q.empty() && ring.TryPush(q.front())) {
      q.pop_front();
      --overflow_count_;
      wake_needed_[t] = 1;
    }
  }
}

void Shard::SendWakeups() {
  for (uint32_t t = 0; t < wake_needed_.size(); ++t) {
    if (!wake_needed_[t]) {
      continue;
    }
    wake_needed_[t] = 0;
    // Step 2 of the sleeping protocol (see shard.h): the pushes are ordered before the
    // look at the receiver's flag.
    set_->Mailbox(index_, t).PublishSeqCst();
    Shard& target = set_->shard(t);
    if (target.sleeping_.load(std::memory_order_seq_cst) &&
        target.sleeping_.exchange(false, std::memory_order_seq_cst)) {
      reactor_->QueueWake(*target.reactor_);
    }
  }
}

void Shard::PostExternal(Envelope e) {
  e.from = kExternalSender;
  {
    base::MutexLock lock(&external_mu_);
    external_.push_back(e);
  }
  // Only the post that finds the inbox marked empty wakes the shard: a later one finds the
  // mark set, and the drain that clears it (before it takes the queue, under the lock) takes
  // this envelope too. A wake per post cost the store's writer half its time (one eventfd
  // write per committed write).
  if (!external_pending_.exchange(true, std::memory_order_acq_rel)) {
    reactor_->Wake();
  }
}

bool Shard::InboundPending() const {
  if (!self_queue_.empty() || external_pending_.load(std::memory_order_acquire) ||
      stop_requested_.load(std::memory_order_acquire)) {
    return true;
  }
  for (uint32_t s = 0; s < inbound_.size(); ++s) {
    if (s != index_ && !inbound_[s]->EmptySeqCst()) {
      return true;
    }
  }
  return false;
}

bool Shard::DrainInbound() {
  bool any = false;
  // Self-sends first (swap so handlers may send to themselves again).
  if (!self_queue_.empty()) {
    self_draining_.swap(self_queue_);
    for (const Envelope& e : self_draining_) {
      Dispatch(e);
    }
    self_draining_.clear();
    any = true;
  }
  for (uint32_t s = 0; s < inbound_.size(); ++s) {
    if (s == index_) {
      continue;
    }
    SpscRing<Envelope>& ring = *inbound_[s];
    Envelope e;
    for (uint32_t n = 0; n < options_.max_messages_per_source && ring.TryPop(&e); ++n) {
      Dispatch(e);
      any = true;
    }
  }
  if (external_pending_.exchange(false, std::memory_order_acq_rel)) {
    std::vector<Envelope> batch;
    {
      base::MutexLock lock(&external_mu_);
      batch.swap(external_);
    }
    for (const Envelope& e : batch) {
      Dispatch(e);
    }
    any = true;
  }
  return any;
}

void Shard::Dispatch(const Envelope& e) {
  ++stats_.messages_in;
  if (e.kind == internal::kAdoptConnection) {
    std::unique_ptr<AdoptMsg> m(static_cast<AdoptMsg*>(e.ptr));
    if (stopping_) {
      ::close(m->fd);
      set_->RemoveConnection();
      return;
    }
    ++stats_.handoffs_in;
    net::Conn* c = reactor_->Adopt(m->fd, m->listener_id, {}, std::move(m->transport));
    app_->OnAdopted(*c, m->app_data);
    if (!c->closing() && !m->bytes.empty()) {
      app_->OnData(*c,
                   std::span(reinterpret_cast<const uint8_t*>(m->bytes.data()), m->bytes.size()));
    }
    return;
  }
  app_->OnMessage(e);
}

void Shard::HandOff(net::Conn& c, uint32_t target, std::span<const uint8_t> unread,
                    uint64_t app_data) {
  RINGMQ_ASSERT(target < count());
  PendingHandOff p;
  p.target = target;
  p.app_data = app_data;
  p.unread.assign(reinterpret_cast<const char*>(unread.data()), unread.size());
  handoffs_.emplace_back(c.id(), std::move(p));
  ++stats_.handoffs_out;
  reactor_->Detach(c);
}

void Shard::OnDetached(net::Conn& c, net::DetachedSocket socket) {
  auto it = std::find_if(handoffs_.begin(), handoffs_.end(),
                         [&](const auto& h) { return h.first == c.id(); });
  RINGMQ_ASSERT(it != handoffs_.end());
  auto m = std::make_unique<AdoptMsg>();
  m->fd = socket.fd;
  m->listener_id = socket.listener_id;
  m->app_data = it->second.app_data;
  m->bytes = std::move(it->second.unread);
  m->bytes += socket.unread;  // what arrived while the socket was being released
  m->transport = std::move(socket.transport);
  uint32_t target = it->second.target;
  handoffs_.erase(it);
  Envelope e;
  e.kind = internal::kAdoptConnection;
  e.ptr = m.release();
  Send(target, e);
}

void Shard::OnAccepted(net::Conn& c) {
  if (!set_->TryAddConnection()) {
    const absl::StatusOr<net::Endpoint> peer = net::PeerEndpoint(c.fd());
    RINGMQ_LOG_EVENT(kWarning, "connect_refused", "refusing a connection",
                     {{"client_id", ""},
                      {"address", peer.ok() ? peer->ToString() : std::string()},
                      {"reason", "none"},
                      {"why", "over --max-connections"}});
    c.set_user(&refused_marker);
    reactor_->Close(c, net::CloseMode::kNow, -EMFILE);
    return;
  }
  app_->OnAccepted(c);
}

void Shard::OnConnected(net::Conn& c, uint64_t tag, int err) {
  app_->OnConnected(c, tag, err);
}

void Shard::OnData(net::Conn& c, std::span<const uint8_t> data) {
  app_->OnData(c, data);
}

void Shard::OnClosed(net::Conn& c, int err) {
  if (c.user() == &refused_marker) {
    return;  // refused over the global limit: never counted, never shown to the app
  }
  if (c.listener_id() != net::Conn::kOutbound) {
    set_->RemoveConnection();
  }
  app_->OnClosed(c, err);
}

int Shard::SleepTimeoutMs() const {
  int timeout = -1;
  if (auto next = timers_->NextExpiryMs()) {
    int64_t d = *next - now_ms();
    timeout = static_cast<int>(std::clamp<int64_t>(d, 0, 60'000));
  }
  if (stopping_) {
    timeout = timeout < 0 ? 20 : std::min(timeout, 20);
  }
  return timeout;
}

void Shard::BeginStop() {
  stopping_ = true;
  stop_deadline_ms_ = now_ms() + options_.shutdown_grace_ms;
  reactor_->StopListening();
  app_->OnStop();
}

void Shard::Run() {
  app_->OnStart();
  while (RunOnce(/*may_sleep=*/true)) {
  }
  current_shard = nullptr;
}

bool Shard::RunOnce(bool may_sleep) {
  ++stats_.loops;
  reactor_->UpdateNow();
  bool worked = timers_->Advance(now_ms()) > 0;
  worked |= DrainInbound();
  if (!stopping_ && stop_requested_.load(std::memory_order_acquire)) {
    BeginStop();
    hard_deadline_ms_ = stop_deadline_ms_ + 3000;
  }
  app_->OnLoopEnd();
  DrainOverflow();
  reactor_->Flush();
  SendWakeups();
  if (stopping_ && StopFinished()) {
    loop_ended_.store(true, std::memory_order_release);
    return false;
  }
  release_due_ |= worked;  // before a release this iteration may make: it covers this work
  int timeout = 0;
  if (may_sleep && !InboundPending() && overflow_count_ == 0) {
    // Step 1 of the sleeping protocol (see shard.h).
    sleeping_.store(true, std::memory_order_seq_cst);
    if (InboundPending()) {
      sleeping_.store(false, std::memory_order_relaxed);
    } else {
      timeout = SleepTimeoutMs();
      ++stats_.sleeps;
      ReleaseMemoryIfDue(&timeout);
    }
  }
  release_due_ |= reactor_->Poll(timeout) > 0;
  sleeping_.store(false, std::memory_order_relaxed);
  return true;
}

void Shard::ReleaseMemoryIfDue(int* timeout) {
  if (options_.release_memory == nullptr || !release_due_) {
    return;
  }
  int64_t wait = last_release_ms_ + options_.release_interval_ms - now_ms();
  if (wait <= 0) {
    options_.release_memory();  // idle: a good moment to give freed memory back
    last_release_ms_ = now_ms();
    release_due_ = false;
    return;
  }
  // Released a moment ago: sleep no longer than until the next release may run.
  *timeout = *timeout < 0 ? static_cast<int>(wait) : std::min(*timeout, static_cast<int>(wait));
}

bool Shard::StopFinished() {
  if (!closed_all_ && (now_ms() >= stop_deadline_ms_ || reactor_->ConnectionsWithOutput() == 0)) {
    reactor_->CloseAll(0);
    reactor_->Flush();  // delivers OnClosed for everything just closed
    closed_all_ = true;
  }
  if (closed_all_ && reactor_->PendingOps() == 0 && handoffs_.empty() &&
      !OverflowWaitsForRunningShard()) {
    return true;
  }
  if (now_ms() >= hard_deadline_ms_) {
    RINGMQ_LOG(kWarning,
               "shutdown: giving up (%d operations still busy in the kernel, %zu hand-offs, "
               "%zu messages waiting for a full mailbox)",
               reactor_->PendingOps(), handoffs_.size(), overflow_count_);
    return true;
  }
  return false;
}

bool Shard::OverflowWaitsForRunningShard() const {
  for (uint32_t t = 0; t < overflow_.size(); ++t) {
    // A shard that ended its loop reads no more; what waits for it is freed by
    // DiscardInbound once every thread has ended.
    if (!overflow_[t].empty() && !set_->shard(t).loop_ended_.load(std::memory_order_acquire)) {
      return true;
    }
  }
  return false;
}

void Shard::EnterForStep() {
  current_shard = this;
  base::SetLogShard(static_cast<int>(index_));
}

void Shard::AdoptForTest(int fd) {
  EnterForStep();
  auto m = std::make_unique<AdoptMsg>();
  m->fd = fd;
  Envelope e;
  e.kind = internal::kAdoptConnection;
  e.ptr = m.release();
  e.from = kExternalSender;
  if (!set_->TryAddConnection()) {
    std::unique_ptr<AdoptMsg> refused(static_cast<AdoptMsg*>(e.ptr));
    ::close(refused->fd);
    return;
  }
  Dispatch(e);
}

void Shard::DiscardInbound() {
  auto discard = [this](const Envelope& e) {
    if (e.kind == internal::kAdoptConnection) {
      std::unique_ptr<AdoptMsg> m(static_cast<AdoptMsg*>(e.ptr));
      ::close(m->fd);
      return;
    }
    app_->OnDiscard(e);
  };
  for (const Envelope& e : self_queue_) {
    discard(e);
  }
  self_queue_.clear();
  for (uint32_t s = 0; s < inbound_.size(); ++s) {
    if (s == index_) {
      continue;
    }
    Envelope e;
    while (inbound_[s]->TryPop(&e)) {
      discard(e);
    }
  }
  for (auto& q : overflow_) {
    // Overflow of this shard is destined elsewhere; the target cannot take it anymore.
    for (const Envelope& e : q) {
      discard(e);
    }
    q.clear();
  }
  overflow_count_ = 0;
  base::MutexLock lock(&external_mu_);
  for (const Envelope& e : external_) {
    discard(e);
  }
  external_.clear();
}

}  // namespace ringmq::shard
