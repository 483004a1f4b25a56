#include "verifier_pool.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "test_util.h"

namespace ringmq::auth_file {
namespace {

// Collects completions; can hold the worker inside the completion until released.
class Completions {
 public:
  static void Complete(void* context, uint64_t ticket, ringmq_decision d) {
    static_cast<Completions*>(context)->Add(ticket, d);
  }

  void Add(uint64_t ticket, ringmq_decision d) {
    std::unique_lock<std::mutex> lock(mu_);
    decisions_[ticket] = d;
    threads_[ticket] = std::this_thread::get_id();
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return !hold_; });
  }

  // Waits until `count` completions have been entered (with a limit); returns whether they were.
  bool WaitFor(size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return entered_ >= count; });
  }

  void Hold(bool hold) {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = hold;
    changed_.notify_all();
  }

  ringmq_decision decision(uint64_t ticket) {
    std::lock_guard<std::mutex> lock(mu_);
    return decisions_.at(ticket);
  }
  std::thread::id thread(uint64_t ticket) {
    std::lock_guard<std::mutex> lock(mu_);
    return threads_.at(ticket);
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<uint64_t, ringmq_decision> decisions_;
  std::map<uint64_t, std::thread::id> threads_;
  size_t entered_ = 0;
  bool hold_ = false;
};

std::shared_ptr<const PasswordFile> Passwords() {
  std::string error;
  auto file = PasswordFile::Parse("alice:" + testing::CheapHash("right") + "\n", "pw", &error);
  EXPECT_NE(file, nullptr) << error;
  return file;
}

PasswordCheck Check(uint64_t ticket, std::shared_ptr<const PasswordFile> passwords,
                    std::string user, std::string_view password) {
  return {ticket, std::move(passwords), std::move(user), SecretCopy(password)};
}

TEST(VerifierPoolTest, CompletesEachCheckOnAWorkerThread) {
  Completions done;
  VerifierPool pool;
  pool.Start(2, 16, &Completions::Complete, &done);
  const auto passwords = Passwords();
  ASSERT_TRUE(pool.TrySubmit(Check(1, passwords, "alice", "right")));
  ASSERT_TRUE(pool.TrySubmit(Check(2, passwords, "alice", "wrong")));
  ASSERT_TRUE(pool.TrySubmit(Check(3, passwords, "mallory", "right")));
  ASSERT_TRUE(done.WaitFor(3));
  EXPECT_EQ(done.decision(1).verdict, RINGMQ_ALLOW);
  EXPECT_EQ(done.decision(2).verdict, RINGMQ_DENY);
  EXPECT_EQ(done.decision(2).reason, 0x86u);
  EXPECT_EQ(done.decision(3).verdict, RINGMQ_DENY);
  EXPECT_EQ(done.decision(3).reason, 0x86u);
  for (uint64_t t : {1, 2, 3}) {
    EXPECT_NE(done.thread(t), std::this_thread::get_id());
  }
  pool.Stop();
}

// One worker, held inside the completion of check 1, with check 2 queued behind it.
class HeldWorkerTest : public ::testing::Test {
 protected:
  void StartHeld(size_t queue_max) {
    pool_.Start(1, queue_max, &Completions::Complete, &done_);
    done_.Hold(true);
    ASSERT_TRUE(pool_.TrySubmit(Check(1, passwords_, "alice", "right")));
    ASSERT_TRUE(done_.WaitFor(1));
    ASSERT_TRUE(pool_.TrySubmit(Check(2, passwords_, "alice", "right")));
  }
  void TearDown() override {
    done_.Hold(false);
    pool_.Stop();
  }

  Completions done_;
  VerifierPool pool_;
  const std::shared_ptr<const PasswordFile> passwords_ = Passwords();
};

TEST_F(HeldWorkerTest, RefusesWhenTheQueueIsFull) {
  StartHeld(/*queue_max=*/1);
  auto& pool = pool_;
  auto& done = done_;
  const auto& passwords = passwords_;
  // Check 2 fills the queue (max 1); check 3 is refused at once.
  EXPECT_FALSE(pool.TrySubmit(Check(3, passwords, "alice", "right")));
  // Released, the worker runs check 2; the queue takes checks again.
  done.Hold(false);
  ASSERT_TRUE(done.WaitFor(2));
  EXPECT_EQ(done.decision(2).verdict, RINGMQ_ALLOW);
  EXPECT_TRUE(pool.TrySubmit(Check(4, passwords, "alice", "right")));
  ASSERT_TRUE(done.WaitFor(3));
}

TEST_F(HeldWorkerTest, StopCompletesQueuedChecksWithServerUnavailable) {
  StartHeld(/*queue_max=*/2);
  auto& pool = pool_;
  auto& done = done_;
  const auto& passwords = passwords_;
  std::thread stopper([&] { pool.Stop(); });
  while (!pool.StoppingForTest()) {  // Stop() takes the queue in the same step
    std::this_thread::yield();
  }
  EXPECT_FALSE(pool.TrySubmit(Check(3, passwords, "alice", "right")));
  done.Hold(false);
  stopper.join();
  ASSERT_TRUE(done.WaitFor(2));
  EXPECT_EQ(done.decision(2).verdict, RINGMQ_DENY);
  EXPECT_EQ(done.decision(2).reason, 0x88u);
}

TEST(VerifierPoolTest, SecretsAreHeapAllocatedAndWiped) {
  std::string s = SecretCopy("pw");
  EXPECT_EQ(s, "pw");
  EXPECT_GE(s.capacity(), 64u);  // beyond the inline buffer: moves do not copy the bytes
  const char* bytes = s.data();
  std::string moved = std::move(s);
  EXPECT_EQ(moved.data(), bytes);
  WipeString(&moved);
  EXPECT_TRUE(moved.empty());
  EXPECT_EQ(bytes[0], '\0');
  EXPECT_EQ(bytes[1], '\0');
}

}  // namespace
}  // namespace ringmq::auth_file
