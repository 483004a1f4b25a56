// InitGuard: while a plugin's init runs, a crash in it (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
// SIGABRT) first writes "ringmq: plugin NAME crashed in PHASE (signal N)" to stderr, then
// dies of the signal as it would have. Scoped per thread (shards run core_init at once);
// the handlers are installed by a CrashNotes object around the whole start-up, so that the
// sanitizers' own handlers are back once the broker runs.
#pragma once

#include <csignal>

namespace ringmq::plugin {

class CrashNotes {
 public:
  CrashNotes();   // installs the handlers (main thread)
  ~CrashNotes();  // restores what was there
  CrashNotes(const CrashNotes&) = delete;
  CrashNotes& operator=(const CrashNotes&) = delete;

 private:
  static constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
  struct sigaction old_[sizeof kSignals / sizeof kSignals[0]];
};

class InitGuard {
 public:
  // `note` must live until the guard ends (e.g. "plugin auth_file crashed in global_init").
  explicit InitGuard(const char* note);
  ~InitGuard();
  InitGuard(const InitGuard&) = delete;
  InitGuard& operator=(const InitGuard&) = delete;

 private:
  const char* previous_;
};

}  // namespace ringmq::plugin
