#include "verifier_pool.h"

#include <sodium.h>

#include <utility>

namespace ringmq::auth_file {

std::string SecretCopy(std::string_view secret) {
  std::string copy;
  // Larger than any inline (small string) buffer, so the bytes are on the heap from the start.
  copy.reserve(secret.size() < 64 ? 64 : secret.size());
  copy.assign(secret);
  return copy;
}

void WipeString(std::string* s) {
  sodium_memzero(s->data(), s->capacity());
  s->clear();
}

void VerifierPool::Start(size_t thread_count, size_t queue_max, CompleteFn complete,
                         void* context) {
  complete_ = complete;
  context_ = context;
  queue_max_ = queue_max;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  workers_.reserve(thread_count);
  for (size_t i = 0; i < thread_count; ++i) {
    workers_.emplace_back([this] { Run(); });
  }
}

void VerifierPool::Stop() {
  std::deque<PasswordCheck> abandoned;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    abandoned.swap(queue_);
  }
  ready_.notify_all();
  for (std::thread& t : workers_) {
    t.join();
  }
  workers_.clear();
  for (PasswordCheck& check : abandoned) {
    WipeString(&check.password);
    complete_(context_, check.ticket, ringmq_deny(0x88));
  }
}

bool VerifierPool::TrySubmit(PasswordCheck&& check) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_ && queue_.size() < queue_max_) {
      queue_.push_back(std::move(check));
      ready_.notify_one();
      return true;
    }
  }
  WipeString(&check.password);
  return false;
}

void VerifierPool::Run() {
  while (true) {
    PasswordCheck check;
    {
      std::unique_lock<std::mutex> lock(mu_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        return;  // Stop() completes what is left in the queue
      }
      check = std::move(queue_.front());
      queue_.pop_front();
    }
    const bool ok = check.passwords->Verify(check.username, check.password);
    WipeString(&check.password);
    complete_(context_, check.ticket, ok ? ringmq_allow() : ringmq_deny(0x86));
  }
}

}  // namespace ringmq::auth_file
