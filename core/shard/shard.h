// Shard: the per-core root. One thread, one Reactor, one TimerWheel, one ShardApp, and the
// inbound end of one mailbox from every other shard. Shard-local: everything here is used
// by the shard's own thread, except the few methods marked "any thread".
//
// The loop, once per iteration:
//   1. read the clock, fire due timers;
//   2. drain the mailboxes (bounded per source) and the external inbox -> ShardApp::OnMessage;
//   3. ShardApp::OnLoopEnd (batched work), Reactor::Flush (one send per connection);
//   4. wake the shards this iteration posted to, once each, if they may be asleep;
//   5. Poll: submit and wait for I/O (not at all if work is already waiting, otherwise up to
//      the next timer) -> ShardApp::OnData/OnAccepted/...
//
// Sleeping protocol between shards (numbered because the order is the argument):
//   1. A shard about to block stores sleeping_ = true (seq_cst), then re-reads every
//      mailbox's tail (seq_cst); if any is non-empty it does not block.
//   2. A sender pushes its messages, then does a seq_cst read-modify-write of that
//      mailbox's tail, then reads the receiver's sleeping_ (seq_cst); if true it exchanges
//      it to false and sends one wake-up.
//   All four are in the single total order of seq_cst operations, so either the receiver's
//   re-read (1) sees the message, or the sender's read (2) sees the flag: a message can
//   never wait in a mailbox while its receiver sleeps.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"

#include "core/base/mutex.h"
#include "core/net/reactor.h"
#include "core/net/timer_wheel.h"
#include "core/shard/mailbox.h"
#include "core/shard/messages.h"

namespace ringmq::shard {

class Shard;
class ShardSet;

// The application running on each shard (the broker, an echo service, the load tool).
// Every method runs on the shard's thread.
class ShardApp {
 public:
  virtual ~ShardApp() = default;
  // The shard's loop is about to start (timers may be scheduled from here on).
  virtual void OnStart() {}
  virtual void OnAccepted(net::Conn& c) = 0;
  virtual void OnConnected(net::Conn& /*c*/, uint64_t /*tag*/, int /*err*/) {}
  virtual void OnData(net::Conn& c, std::span<const uint8_t> data) = 0;
  virtual void OnClosed(net::Conn& c, int err) = 0;
  // The peer finished sending; see net::IoHandler::OnPeerClosed.
  virtual bool OnPeerClosed(net::Conn& /*c*/) { return false; }
  virtual void OnOutputCongested(net::Conn& /*c*/) {}
  virtual void OnOutputDrained(net::Conn& /*c*/) {}
  // A connection handed over by Shard::HandOff on another shard. OnData with the bytes the
  // other shard had received follows immediately (unless the app closes the connection).
  virtual void OnAdopted(net::Conn& c, uint64_t app_data) = 0;
  virtual void OnMessage(const Envelope& e) = 0;
  // Once per loop iteration, after I/O and messages, before output is flushed.
  virtual void OnLoopEnd() {}
  // The messages that waited for room in full mailboxes have all gone out: backlogged() is
  // false again (what the app held back because of it can go on).
  virtual void OnBacklogCleared() {}
  // Shutdown begins: listeners are closed; say goodbye to clients. Output queued now is
  // flushed for up to the shutdown grace period before connections are closed.
  virtual void OnStop() {}
  // A message that was still queued when the process stopped: free what it owns.
  // Called on the stopping thread after every shard thread has ended.
  virtual void OnDiscard(const Envelope& /*e*/) {}
};

struct ShardOptions {
  net::ReactorOptions reactor;
  size_t mailbox_capacity = 4096;  // per ordered pair of shards
  uint32_t timer_tick_ms = 10;
  uint32_t max_messages_per_source = 1024;  // per iteration, for fairness
  uint32_t shutdown_grace_ms = 2000;
  // Called on the shard's thread when it is about to sleep after doing some work, at most
  // once per release_interval_ms (a shard going idle sooner sleeps at most until then):
  // gives the memory freed since back to the OS (the allocator's own call, e.g. mi_collect;
  // null: nothing). So a shard that held a lot for a while (a session with 100,000
  // subscriptions that ended) does not keep it resident.
  void (*release_memory)() = nullptr;
  uint32_t release_interval_ms = 5000;
};

class Shard final : public net::IoHandler {
 public:
  Shard(ShardSet* set, uint32_t index, const ShardOptions& options);
  ~Shard() override;

  // The shard running on the calling thread (nullptr elsewhere).
  static Shard* Current();

  uint32_t index() const { return index_; }
  uint32_t count() const;
  net::Reactor& reactor() { return *reactor_; }
  net::TimerWheel& timers() { return *timers_; }
  ShardApp& app() { return *app_; }
  // The loop's clock (ms, monotonic), current also for events handled after a sleep.
  int64_t now_ms() const { return reactor_->now_ms(); }

  // Posts a message to shard `target` (may be this shard: delivered next iteration). Never
  // fails: when the mailbox is full the message waits in a local overflow queue and
  // backlogged() turns true until it has drained, so the app can stop reading from the
  // connections that produce messages.
  void Send(uint32_t target, Envelope e);
  bool backlogged() const { return overflow_count_ > 0; }
  size_t overflow_count() const { return overflow_count_; }

  // Hands connection `c` to shard `target`: `unread` (bytes the app received but did not
  // consume) and anything still arriving travel with the socket. `c` is gone for the app:
  // no OnClosed will follow for it. `app_data` reaches ShardApp::OnAdopted.
  void HandOff(net::Conn& c, uint32_t target, std::span<const uint8_t> unread, uint64_t app_data);

  // Posts a message from any thread that is not a shard (plugins, workers, signals).
  void PostExternal(Envelope e);  // any thread

  // Stepped mode only (tests, simulation): `fd` (a connected, non-blocking socket) arrives on
  // this shard as an accepted connection would.
  void AdoptForTest(int fd);

  struct Stats {
    uint64_t loops = 0;
    uint64_t messages_in = 0;
    uint64_t messages_out = 0;
    uint64_t overflowed = 0;
    uint64_t handoffs_out = 0;
    uint64_t handoffs_in = 0;
    uint64_t sleeps = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  friend class ShardSet;

  // net::IoHandler
  void OnAccepted(net::Conn& c) override;
  void OnConnected(net::Conn& c, uint64_t tag, int err) override;
  void OnData(net::Conn& c, std::span<const uint8_t> data) override;
  void OnClosed(net::Conn& c, int err) override;
  bool OnPeerClosed(net::Conn& c) override { return app_->OnPeerClosed(c); }
  void OnOutputCongested(net::Conn& c) override { app_->OnOutputCongested(c); }
  void OnOutputDrained(net::Conn& c) override { app_->OnOutputDrained(c); }
  void OnDetached(net::Conn& c, net::DetachedSocket socket) override;
  void OnWake() override {}

  absl::Status Init();  // on the shard thread, before the app is made
  void Run();           // on the shard thread
  // One loop iteration (see the top of this file); sleeps in step 5 only with `may_sleep`.
  // Returns false once the shard has stopped.
  bool RunOnce(bool may_sleep);
  // Stepped mode (ShardSet): makes this shard the calling thread's current one.
  void EnterForStep();
  bool DrainInbound();
  void Dispatch(const Envelope& e);
  void DrainOverflow();
  void DrainOverflowQueues();
  void SendWakeups();
  bool InboundPending() const;
  int SleepTimeoutMs() const;
  // About to sleep: releases memory (ShardOptions::release_memory) if work was done since the
  // last release and the interval allows; else shortens *timeout to when it will.
  void ReleaseMemoryIfDue(int* timeout);
  void BeginStop();
  // Stopping: closes what is left once output drained (or the grace ran out); true when the
  // loop may end (nothing in the kernel, no hand-off, no message for a running shard, or the
  // hard deadline passed).
  bool StopFinished();
  bool OverflowWaitsForRunningShard() const;
  void DiscardInbound();  // after every thread ended

  ShardSet* const set_;
  const uint32_t index_;
  const ShardOptions options_;
  std::unique_ptr<net::Reactor> reactor_;
  std::unique_ptr<net::TimerWheel> timers_;
  std::unique_ptr<ShardApp> app_;

  // inbound_[s]: the mailbox from shard s to this one (this shard is its consumer).
  std::vector<std::unique_ptr<SpscRing<Envelope>>> inbound_;
  // Messages waiting for room in a full mailbox, per target.
  std::vector<std::deque<Envelope>> overflow_;
  size_t overflow_count_ = 0;
  std::vector<uint8_t> wake_needed_;  // per target: posted this iteration
  std::vector<Envelope> self_queue_;  // messages this shard sent to itself
  std::vector<Envelope> self_draining_;

  // Hand-offs waiting for their socket to be released by the reactor.
  struct PendingHandOff {
    uint32_t target;
    uint64_t app_data;
    std::string unread;
  };
  std::vector<std::pair<net::ConnId, PendingHandOff>> handoffs_;

  base::Mutex external_mu_;
  std::vector<Envelope> external_ ABSL_GUARDED_BY(external_mu_);
  std::atomic<bool> external_pending_{false};

  alignas(kCacheLine) std::atomic<bool> sleeping_{false};
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> loop_ended_{false};  // RunOnce returned false (read by the other shards)
  bool stopping_ = false;
  int64_t stop_deadline_ms_ = 0;
  bool closed_all_ = false;
  int64_t hard_deadline_ms_ = 0;
  int64_t last_release_ms_ = 0;
  bool release_due_ = false;  // work was done since the last release_memory call
  Stats stats_;
};

}  // namespace ringmq::shard
