// Mutex: std::mutex with clang thread-safety annotations. Any thread.
//
// Why not absl::Mutex: Debian's Abseil is not built with ThreadSanitizer, so TSan cannot see
// absl::Mutex's futex-based locking and reports false races; pthread mutexes (std::mutex)
// are intercepted by TSan. And why not plain std::mutex: libstdc++ does not annotate it, so
// clang's -Wthread-safety cannot check ABSL_GUARDED_BY fields against it.
// Locks are for control paths only (external inboxes, start-up); the data plane has none.
#pragma once

#include <mutex>

#include "absl/base/thread_annotations.h"

namespace ringmq::base {

class ABSL_LOCKABLE Mutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* mu_;
};

}  // namespace ringmq::base
