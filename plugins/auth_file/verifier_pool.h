// plugins/auth_file/verifier_pool.h: the worker threads that check passwords, so that a slow
// argon2id check (tens of milliseconds, tens of MiB) never runs on a shard.
//
// Flow: a shard's authenticate hook calls TrySubmit() with the ticket and the credentials and
// answers RINGMQ_PENDING; a worker takes the check from the bounded queue, runs
// PasswordFile::Verify() and hands the decision to the completion function (which calls
// host->complete; the ABI allows any thread). When the queue is full TrySubmit() refuses at
// once, and the hook answers with a deny (0x88) instead of waiting.
//
// Threads: TrySubmit() from any thread (the shards); Start() and Stop() from one owner thread
// (the main thread, in global_init and global_fini). The queue is guarded by one mutex held only
// to push or pop; a shard never waits for a check.
#ifndef RINGMQ_PLUGINS_AUTH_FILE_VERIFIER_POOL_H
#define RINGMQ_PLUGINS_AUTH_FILE_VERIFIER_POOL_H

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "password_file.h"
#include "ringmq/plugin.h"

namespace ringmq::auth_file {

// One password check. The password is wiped once checked.
struct PasswordCheck {
  uint64_t ticket = 0;
  std::shared_ptr<const PasswordFile> passwords;  // the table in force when the client connected
  std::string username;
  std::string password;  // made with SecretCopy()
};

class VerifierPool {
 public:
  // Called on a worker thread with each check's decision: ALLOW, DENY 0x86 (unknown user or
  // wrong password), or DENY 0x88 for checks still queued at Stop().
  using CompleteFn = void (*)(void* context, uint64_t ticket, ringmq_decision decision);

  VerifierPool() = default;
  VerifierPool(const VerifierPool&) = delete;
  VerifierPool& operator=(const VerifierPool&) = delete;
  ~VerifierPool() { Stop(); }

  // Starts `thread_count` workers (>= 1) behind a queue of at most `queue_max` (>= 1) checks.
  void Start(size_t thread_count, size_t queue_max, CompleteFn complete, void* context);
  // Finishes the checks being run, completes the queued ones with DENY 0x88, joins the workers.
  void Stop();

  // Queues a check; false (and the check untouched but wiped) when the queue is full or the pool
  // is stopped.
  [[nodiscard]] bool TrySubmit(PasswordCheck&& check);

  size_t queue_max() const { return queue_max_; }
  size_t thread_count() const { return workers_.size(); }
  // Whether Stop() has taken the queue (it may still be joining the workers).
  bool StoppingForTest() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  }

 private:
  void Run();

  CompleteFn complete_ = nullptr;
  void* context_ = nullptr;
  size_t queue_max_ = 0;
  std::vector<std::thread> workers_;

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<PasswordCheck> queue_;  // guarded by mu_; never longer than queue_max_
  bool stopping_ = false;            // guarded by mu_
};

// A copy of a secret that always lives on the heap (never in std::string's inline buffer), so
// moving it around leaves no copies behind; WipeString() then clears the only one.
std::string SecretCopy(std::string_view secret);
// Overwrites a string's bytes (its whole capacity) and empties it.
void WipeString(std::string* s);

}  // namespace ringmq::auth_file

#endif  // RINGMQ_PLUGINS_AUTH_FILE_VERIFIER_POOL_H
