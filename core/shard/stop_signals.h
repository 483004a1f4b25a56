// Stop signals for a process that runs a ShardSet: SIGINT and SIGTERM are taken by the main
// thread alone (with sigwait), SIGPIPE is ignored (a peer that vanished is an error code).
// The thread that starts the shard threads only.
//
// A program (the broker, the echo server) keeps the signals blocked until it exits. A
// library call that runs shards and returns (the load tool's RunBench, called many times by
// its tests) restores the signal mask and SIGPIPE's action when it is done.
#pragma once

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <cstdint>

namespace ringmq::shard {

class StopSignals {
 public:
  enum class OnExit { kKeepBlocked, kRestore };

  // Call before any shard thread exists: threads inherit the mask, so no shard is
  // interrupted by a signal meant for the process.
  // With `hangup`, SIGHUP is taken the same way and Wait() returns it too (a reload).
  explicit StopSignals(OnExit on_exit = OnExit::kKeepBlocked, bool hangup = false)
      : on_exit_(on_exit) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    if (hangup) {
      sigaddset(&set_, SIGHUP);
    }
    pthread_sigmask(SIG_BLOCK, &set_, &old_mask_);
    struct sigaction ignore = {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, &old_sigpipe_);
  }
  // With OnExit::kRestore, call after the shard threads have ended. A SIGINT or SIGTERM that
  // arrived but was not waited for is delivered then, with the process's old disposition.
  ~StopSignals() {
    if (on_exit_ == OnExit::kRestore) {
      sigaction(SIGPIPE, &old_sigpipe_, nullptr);
      pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    }
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Blocks until SIGINT or SIGTERM (or SIGHUP, if taken) arrives; returns its number.
  int Wait() {
    int sig = 0;
    sigwait(&set_, &sig);
    return sig;
  }

  // Waits at most `timeout_ns` for SIGINT or SIGTERM: returns its number, or 0 if none came
  // (or another signal's handler interrupted the wait).
  int WaitFor(uint64_t timeout_ns) {
    constexpr uint64_t kNsPerS = 1'000'000'000;
    const timespec ts{static_cast<time_t>(timeout_ns / kNsPerS),
                      static_cast<long>(timeout_ns % kNsPerS)};
    const int sig = sigtimedwait(&set_, nullptr, &ts);
    return sig > 0 ? sig : 0;
  }

 private:
  OnExit on_exit_;
  sigset_t set_;
  sigset_t old_mask_;
  struct sigaction old_sigpipe_ = {};
};

}  // namespace ringmq::shard
