// Stop signals for a process that runs a ShardSet: SIGINT and SIGTERM are taken by the main
// thread alone (with sigwait), SIGPIPE is ignored (a peer that vanished is an error code).
#pragma once

#include <signal.h>

namespace ringmq::shard {

class StopSignals {
 public:
  // Call before any shard thread exists: threads inherit the mask, so no shard is
  // interrupted by a signal meant for the process.
  StopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    signal(SIGPIPE, SIG_IGN);
  }

  // Blocks until SIGINT or SIGTERM arrives; returns its number.
  int Wait() {
    int sig = 0;
    sigwait(&set_, &sig);
    return sig;
  }

 private:
  sigset_t set_;
};

}  // namespace ringmq::shard
