// ShardSet: starts N shards (one thread each, pinned to its core), opens their listening
// sockets, routes mailboxes between them, and stops them. Start/Stop/Wait are called from
// the main thread; Stop() may be called from any thread (it only sets flags and wakes).
//
// Listening: for every configured address, one SO_REUSEPORT socket per shard, so the
// kernel spreads new connections over the shards with no shared accept queue. Port 0 is
// resolved once (by the first shard's socket) and the same port is used for the others.
//
// Stopping (SIGINT/SIGTERM in the server): every shard closes its listeners, tells its app
// (OnStop), flushes output for up to shutdown_grace_ms, closes every connection, waits for
// the kernel to finish with them, and ends its loop. Wait() joins the threads, then offers
// messages still in mailboxes to ShardApp::OnDiscard, then destroys apps and reactors.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"

#include "core/net/socket_ops.h"
#include "core/shard/shard.h"

namespace ringmq::shard {

struct ListenerConfig {
  net::Endpoint endpoint;
  uint32_t id = 0;   // reported as Conn::listener_id() (e.g. the protocol: MQTT, WebSocket)
  std::string name;  // for logs, e.g. "mqtt"
};

struct BoundListener {
  uint32_t id = 0;
  std::string name;
  net::Endpoint endpoint;  // with the real port
};

// Counters of one shard, kept after Wait() has destroyed it.
struct ShardStats {
  net::Reactor::Stats io;
  Shard::Stats shard;
};

struct ShardSetOptions {
  uint32_t threads = 0;  // 0: one per CPU the process may run on
  bool pin_threads = true;
  ShardOptions shard;
  std::vector<ListenerConfig> listeners;
  // Across all shards; 0: as many as the open file limit allows (it is raised to its hard
  // limit at start); a larger value is lowered to that, with a warning.
  uint64_t max_connections = 0;
  int listen_backlog = 4096;
  // Tests and simulation: no threads and no listeners. Start() makes every shard on the
  // calling thread; the caller drives them with Step(), one loop iteration at a time, in any
  // order it likes (with a base::FakeClock in shard.reactor.clock, time too). Connections
  // come in through Shard::AdoptForTest.
  bool stepped = false;
};

class ShardSet {
 public:
  using AppFactory = std::function<std::unique_ptr<ShardApp>(Shard&)>;

  explicit ShardSet(ShardSetOptions options);

  // The number of shards Start() will run for `requested` (0: one per CPU the process may
  // run on).
  static uint32_t ResolveThreads(uint32_t requested);
  ~ShardSet();

  // Opens the listeners, starts every shard thread, and returns once all of them run (or
  // with the first error, after stopping what had started). `make_app` runs on each shard's
  // thread.
  absl::Status Start(const AppFactory& make_app);
  // Stepped mode: one loop iteration of shard `i` on the calling thread (nothing happens
  // once it has stopped). Returns whether it is still running.
  bool Step(uint32_t i);
  // Asks every shard to stop. Any thread; idempotent; returns at once.
  void Stop();
  // Blocks until every shard has stopped, then frees everything.
  void Wait();

  uint32_t size() const { return static_cast<uint32_t>(shards_.size()); }
  Shard& shard(uint32_t i) { return *shards_[i]; }
  const std::vector<BoundListener>& bound() const { return bound_; }
  net::BackendKind backend() const { return backend_; }
  uint64_t file_limit() const { return file_limit_; }
  // After Wait(): every shard's final counters, and their sum.
  const std::vector<ShardStats>& final_stats() const { return final_stats_; }
  ShardStats TotalStats() const;

  // Connection accounting across shards (any thread).
  bool TryAddConnection();
  void RemoveConnection();
  uint64_t connections() const { return connections_.load(std::memory_order_relaxed); }

 private:
  friend class Shard;
  SpscRing<Envelope>& Mailbox(uint32_t from, uint32_t to) { return *shards_[to]->inbound_[from]; }
  absl::Status OpenListeners(uint32_t shards);
  absl::Status StartStepped();
  void ThreadMain(uint32_t index);

  ShardSetOptions options_;
  AppFactory make_app_;
  net::BackendKind backend_ = net::BackendKind::kEpoll;
  uint64_t file_limit_ = 0;
  std::vector<int> cpus_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::thread> threads_;
  // listen_fds_[shard][listener]
  std::vector<std::vector<int>> listen_fds_;
  std::vector<BoundListener> bound_;
  std::atomic<uint64_t> connections_{0};
  std::vector<ShardStats> final_stats_;
  std::vector<uint8_t> stepped_running_;  // stepped mode: per shard

  std::mutex start_mu_;
  std::condition_variable start_cv_;
  uint32_t started_ = 0;
  absl::Status start_error_;
  bool running_ = false;
  bool waited_ = false;
};

}  // namespace ringmq::shard
