#include "core/shard/shard_set.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "absl/strings/str_format.h"

#include "core/base/asserts.h"
#include "core/base/log.h"

namespace ringmq::shard {

ShardSet::ShardSet(ShardSetOptions options) : options_(std::move(options)) {}

ShardSet::~ShardSet() {
  if (running_) {
    Stop();
    Wait();
  }
  for (auto& fds : listen_fds_) {
    for (int fd : fds) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  }
}

namespace {
std::vector<int> AllowedCpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) {
        cpus.push_back(cpu);
      }
    }
  }
  if (cpus.empty()) {
    cpus.push_back(0);
  }
  return cpus;
}
}  // namespace

uint32_t ShardSet::ResolveThreads(uint32_t requested) {
  return requested != 0 ? requested : static_cast<uint32_t>(AllowedCpus().size());
}

bool ShardSet::TryAddConnection() {
  uint64_t limit = options_.max_connections;
  uint64_t now = connections_.fetch_add(1, std::memory_order_relaxed);
  if (limit != 0 && now >= limit) {
    connections_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void ShardSet::RemoveConnection() {
  connections_.fetch_sub(1, std::memory_order_relaxed);
}

absl::Status ShardSet::OpenListeners(uint32_t shards) {
  listen_fds_.assign(shards, std::vector<int>(options_.listeners.size(), -1));
  for (size_t l = 0; l < options_.listeners.size(); ++l) {
    const ListenerConfig& cfg = options_.listeners[l];
    net::Endpoint ep = cfg.endpoint;
    if (ep.port() != 0) {
      if (absl::Status free = net::CheckAddressFree(ep); !free.ok()) {
        return free;
      }
    }
    for (uint32_t s = 0; s < shards; ++s) {
      auto fd = net::ListenTcp(ep, /*reuse_port=*/true, options_.listen_backlog);
      if (!fd.ok()) {
        return fd.status();
      }
      listen_fds_[s][l] = *fd;
      if (s == 0) {
        // Port 0 means "any": the first socket picks it, the other shards share it.
        auto bound = net::LocalEndpoint(*fd);
        if (!bound.ok()) {
          return bound.status();
        }
        ep = *bound;
        bound_.push_back(BoundListener{cfg.id, cfg.name, ep});
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ShardSet::Start(const AppFactory& make_app) {
  RINGMQ_ASSERT(!running_);
  // 1. The backend, decided once for all shards (they wake each other through it).
  backend_ = net::ResolveBackend(options_.shard.reactor.backend);
  const net::UringFeatures& uring = net::ProbeIoUring();
  if (backend_ == net::BackendKind::kIoUring) {
    RINGMQ_LOG(kInfo, "%s", uring.Describe());
  } else if (options_.shard.reactor.backend == net::BackendKind::kEpoll) {
    RINGMQ_LOG(kInfo, "epoll backend (requested)");
  } else {
    RINGMQ_LOG(kWarning, "falling back to the epoll backend: %s", uring.Describe());
  }
  options_.shard.reactor.backend = backend_;

  // 2. Threads and cores.
  cpus_ = AllowedCpus();
  uint32_t n = ResolveThreads(options_.threads);

  // 3. File descriptors: every connection is one.
  file_limit_ = net::RaiseFileLimit();
  // Every connection is a descriptor; keep a few for listeners, rings, eventfds and logs.
  const uint64_t reserve = 16 + 4ull * n * (1 + options_.listeners.size());
  const uint64_t fd_cap = file_limit_ > reserve ? file_limit_ - reserve : 0;
  if (options_.max_connections == 0 || options_.max_connections > fd_cap) {
    if (options_.max_connections > fd_cap) {
      RINGMQ_LOG(kWarning, "max connections %d lowered to %d: the open file limit is %d",
                 options_.max_connections, fd_cap, file_limit_);
    }
    options_.max_connections = fd_cap;
  }
  RINGMQ_LOG(kInfo, "open file limit %d, max connections %d, %d shard%s", file_limit_,
             options_.max_connections, n, n == 1 ? "" : "s");

  absl::Status s = options_.stepped ? absl::OkStatus() : OpenListeners(n);
  if (!s.ok()) {
    return s;
  }

  // 4. Shards and their mailboxes (one ring per ordered pair).
  for (uint32_t i = 0; i < n; ++i) {
    shards_.push_back(std::make_unique<Shard>(this, i, options_.shard));
  }
  for (uint32_t to = 0; to < n; ++to) {
    Shard& sh = *shards_[to];
    sh.inbound_.resize(n);
    for (uint32_t from = 0; from < n; ++from) {
      sh.inbound_[from] =
          std::make_unique<SpscRing<Envelope>>(from == to ? 2 : options_.shard.mailbox_capacity);
    }
    sh.overflow_.resize(n);
    sh.wake_needed_.assign(n, 0);
  }

  running_ = true;
  make_app_ = make_app;
  if (options_.stepped) {
    return StartStepped();
  }
  // 5. Threads. Each creates its own reactor (io_uring's SINGLE_ISSUER wants the creating
  //    thread to be the submitting one) and reports back.
  for (uint32_t i = 0; i < n; ++i) {
    threads_.emplace_back([this, i] { ThreadMain(i); });
  }
  std::unique_lock<std::mutex> lock(start_mu_);
  start_cv_.wait(lock, [&] { return started_ == n || !start_error_.ok(); });
  if (!start_error_.ok()) {
    absl::Status err = start_error_;
    lock.unlock();
    Stop();
    Wait();
    return err;
  }
  for (const BoundListener& b : bound_) {
    RINGMQ_LOG(kInfo, "listening %s %s", b.name, b.endpoint.ToString());
  }
  return absl::OkStatus();
}

absl::Status ShardSet::StartStepped() {
  stepped_running_.assign(size(), 0);
  for (uint32_t i = 0; i < size(); ++i) {
    Shard& sh = *shards_[i];
    sh.EnterForStep();
    absl::Status s = sh.Init();
    if (!s.ok()) {
      Stop();
      Wait();
      return s;
    }
  }
  for (uint32_t i = 0; i < size(); ++i) {
    Shard& sh = *shards_[i];
    sh.EnterForStep();
    sh.app_ = make_app_(sh);
    sh.app_->OnStart();
    stepped_running_[i] = 1;
  }
  return absl::OkStatus();
}

bool ShardSet::Step(uint32_t i) {
  RINGMQ_ASSERT(options_.stepped && i < size());
  if (!stepped_running_[i]) {
    return false;
  }
  Shard& sh = *shards_[i];
  sh.EnterForStep();
  stepped_running_[i] = sh.RunOnce(/*may_sleep=*/false) ? 1 : 0;
  return stepped_running_[i] != 0;
}

void ShardSet::ThreadMain(uint32_t index) {
  Shard& sh = *shards_[index];
  if (options_.pin_threads) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpus_[index % cpus_.size()], &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  }
  char name[16];
  std::snprintf(name, sizeof name, "ringmq-shard%u", index);
  pthread_setname_np(pthread_self(), name);

  absl::Status s = sh.Init();
  if (s.ok()) {
    sh.app_ = make_app_(sh);
    for (size_t l = 0; l < options_.listeners.size() && s.ok(); ++l) {
      s = sh.reactor_->Listen(listen_fds_[index][l], options_.listeners[l].id);
      if (s.ok()) {
        listen_fds_[index][l] = -1;  // the reactor owns it now
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(start_mu_);
    if (s.ok()) {
      ++started_;
    } else if (start_error_.ok()) {
      start_error_ =
          absl::Status(s.code(), absl::StrFormat("shard %d: %s", index, std::string(s.message())));
    }
  }
  start_cv_.notify_all();
  if (!s.ok()) {
    return;
  }
  // Wait for every shard to be ready: a shard must not post to one that has no reactor.
  {
    std::unique_lock<std::mutex> lock(start_mu_);
    start_cv_.wait(lock, [&] { return started_ == size() || !start_error_.ok(); });
    if (!start_error_.ok()) {
      return;
    }
  }
  sh.Run();
}

ShardStats ShardSet::TotalStats() const {
  ShardStats t;
  for (const ShardStats& s : final_stats_) {
    t.io.accepted += s.io.accepted;
    t.io.refused_over_limit += s.io.refused_over_limit;
    t.io.bytes_in += s.io.bytes_in;
    t.io.bytes_out += s.io.bytes_out;
    t.io.sends += s.io.sends;
    t.io.partial_sends += s.io.partial_sends;
    t.io.enobufs += s.io.enobufs;
    t.io.wakeups_sent += s.io.wakeups_sent;
    t.shard.loops += s.shard.loops;
    t.shard.messages_in += s.shard.messages_in;
    t.shard.messages_out += s.shard.messages_out;
    t.shard.overflowed += s.shard.overflowed;
    t.shard.handoffs_out += s.shard.handoffs_out;
    t.shard.handoffs_in += s.shard.handoffs_in;
    t.shard.sleeps += s.shard.sleeps;
  }
  return t;
}

void ShardSet::Stop() {
  for (auto& sh : shards_) {
    sh->stop_requested_.store(true, std::memory_order_release);
    if (sh->reactor_ != nullptr) {
      sh->reactor_->Wake();
    }
  }
}

void ShardSet::Wait() {
  if (waited_) {
    return;
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
  threads_.clear();
  if (options_.stepped) {
    // Stepped shards stop when stepped: round after round, bounded (a shard gives up on its
    // connections 3 s after its grace period, by its clock).
    for (int round = 0; round < 100'000; ++round) {
      bool any = false;
      for (uint32_t i = 0; i < size(); ++i) {
        any |= Step(i);
      }
      if (!any) {
        break;
      }
    }
  }
  // Every thread has ended: what is left in mailboxes goes back to the apps to free.
  for (auto& sh : shards_) {
    if (sh->app_ != nullptr) {
      sh->DiscardInbound();
    }
  }
  for (auto& sh : shards_) {
    ShardStats st;
    if (sh->reactor_ != nullptr) {
      st.io = sh->reactor_->stats();
    }
    st.shard = sh->stats();
    final_stats_.push_back(st);
    sh->app_.reset();
  }
  for (auto& sh : shards_) {
    sh->reactor_.reset();
    sh->timers_.reset();
  }
  running_ = false;
  waited_ = true;
}

}  // namespace ringmq::shard
