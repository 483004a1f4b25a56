// In-process tests of the shard loop: cross-shard messages, wake-ups of sleeping shards,
// mailbox overflow, and shutdown with messages in flight. No sockets: the shards' apps only
// talk through mailboxes (and PostExternal).
#include "core/shard/shard_set.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "gtest/gtest.h"

#include "core/base/clock.h"

namespace ringmq::shard {
namespace {

constexpr uint32_t kPing = 1;
constexpr uint32_t kOwned = 2;  // ptr -> heap uint64_t the receiver must free

struct Shared {
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> owned_freed{0};
  std::atomic<uint64_t> discarded{0};
  std::atomic<bool> done{false};
  uint64_t target = 0;
  uint64_t per_source_seq_errors = 0;
};

// Bounces a counter between shards until it reaches `target` (ping-pong: each hop must wake
// a shard that is normally asleep, since nothing else happens).
class PingApp final : public ShardApp {
 public:
  PingApp(Shard& s, Shared* shared) : shard_(s), shared_(shared) {}
  void OnAccepted(net::Conn&) override {}
  void OnAdopted(net::Conn&, uint64_t) override {}
  void OnData(net::Conn&, std::span<const uint8_t>) override {}
  void OnClosed(net::Conn&, int) override {}
  void OnMessage(const Envelope& e) override {
    if (e.kind == kOwned) {
      delete static_cast<uint64_t*>(e.ptr);
      shared_->owned_freed.fetch_add(1);
      return;
    }
    uint64_t n = e.u64 + 1;
    shared_->received.fetch_add(1);
    if (n >= shared_->target) {
      shared_->done.store(true);
      return;
    }
    Envelope next;
    next.kind = kPing;
    next.u64 = n;
    shard_.Send((shard_.index() + 1) % shard_.count(), next);
  }
  void OnDiscard(const Envelope& e) override {
    if (e.kind == kOwned) {
      delete static_cast<uint64_t*>(e.ptr);
      shared_->discarded.fetch_add(1);
    }
  }

 private:
  Shard& shard_;
  Shared* shared_;
};

bool WaitUntil(const std::atomic<bool>& flag, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!flag.load()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

class ShardSetTest : public ::testing::TestWithParam<net::BackendKind> {
 protected:
  ShardSetOptions Options(uint32_t threads) {
    ShardSetOptions o;
    o.threads = threads;
    o.pin_threads = false;
    o.shard.reactor.backend = GetParam();
    return o;
  }
};

TEST_P(ShardSetTest, PingPongWakesSleepingShards) {
  Shared shared;
  shared.target = 20'000;
  ShardSet set(Options(2));
  ASSERT_TRUE(set.Start([&](Shard& s) { return std::make_unique<PingApp>(s, &shared); }).ok());
  Envelope first;
  first.kind = kPing;
  set.shard(0).PostExternal(first);
  // 20,000 hops, each needing the other shard to wake: a lost wake-up stalls forever.
  EXPECT_TRUE(WaitUntil(shared.done, std::chrono::seconds(60)))
      << "stalled after " << shared.received.load() << " hops";
  set.Stop();
  set.Wait();
  EXPECT_EQ(shared.received.load(), 20'000u);
  EXPECT_EQ(set.backend(), GetParam());
}

// A sender floods a receiver through a tiny mailbox: the overflow queue takes the excess and
// drains in order; nothing is lost.
class FloodApp final : public ShardApp {
 public:
  FloodApp(Shard& s, Shared* shared, uint64_t count) : shard_(s), shared_(shared), count_(count) {}
  void OnAccepted(net::Conn&) override {}
  void OnAdopted(net::Conn&, uint64_t) override {}
  void OnData(net::Conn&, std::span<const uint8_t>) override {}
  void OnClosed(net::Conn&, int) override {}
  void OnMessage(const Envelope& e) override {
    if (e.from == kExternalSender) {  // start flooding
      for (uint64_t i = 0; i < count_; ++i) {
        Envelope m;
        m.kind = kPing;
        m.u64 = i;
        shard_.Send(1, m);
      }
      max_overflow_ = shard_.overflow_count();
      return;
    }
    if (e.u64 != next_) {
      ++shared_->per_source_seq_errors;
    }
    next_ = e.u64 + 1;
    if (shared_->received.fetch_add(1) + 1 == count_) {
      shared_->done.store(true);
    }
  }
  size_t max_overflow_ = 0;

 private:
  Shard& shard_;
  Shared* shared_;
  uint64_t count_;
  uint64_t next_ = 0;
};

TEST_P(ShardSetTest, MailboxOverflowKeepsOrderAndLosesNothing) {
  Shared shared;
  ShardSetOptions o = Options(2);
  o.shard.mailbox_capacity = 16;
  ShardSet set(o);
  FloodApp* sender = nullptr;
  ASSERT_TRUE(set.Start([&](Shard& s) {
                   auto app = std::make_unique<FloodApp>(s, &shared, 100'000);
                   if (s.index() == 0) {
                     sender = app.get();
                   }
                   return app;
                 })
                  .ok());
  Envelope go;
  go.kind = kPing;
  set.shard(0).PostExternal(go);
  EXPECT_TRUE(WaitUntil(shared.done, std::chrono::seconds(60)));
  set.Stop();
  set.Wait();
  EXPECT_EQ(shared.received.load(), 100'000u);
  EXPECT_EQ(shared.per_source_seq_errors, 0u);
  EXPECT_GT(set.TotalStats().shard.overflowed, 0u) << "a 16-slot mailbox must overflow";
  (void)sender;
}

TEST_P(ShardSetTest, StopFreesMessagesStillInFlight) {
  Shared shared;
  ShardSet set(Options(2));
  ASSERT_TRUE(set.Start([&](Shard& s) { return std::make_unique<PingApp>(s, &shared); }).ok());
  // Messages owning heap memory, posted while the set stops: every one is either handled
  // (freed by OnMessage) or discarded (freed by OnDiscard). ASan reports any leak.
  std::thread poster([&] {
    for (int i = 0; i < 2000; ++i) {
      Envelope e;
      e.kind = kOwned;
      e.ptr = new uint64_t(static_cast<uint64_t>(i));
      set.shard(static_cast<uint32_t>(i) % 2).PostExternal(e);
    }
  });
  poster.join();
  set.Stop();
  set.Wait();
  EXPECT_EQ(shared.owned_freed.load() + shared.discarded.load(), 2000u);
}

// Sends `count` owned messages to shard 1 when it begins to stop (more than its mailbox holds).
class SendOnStopApp final : public ShardApp {
 public:
  SendOnStopApp(Shard& s, Shared* shared, uint64_t count)
      : shard_(s), shared_(shared), count_(count) {}
  void OnAccepted(net::Conn&) override {}
  void OnAdopted(net::Conn&, uint64_t) override {}
  void OnData(net::Conn&, std::span<const uint8_t>) override {}
  void OnClosed(net::Conn&, int) override {}
  void OnStop() override {
    for (uint64_t i = 0; shard_.index() == 0 && i < count_; ++i) {
      Envelope e;
      e.kind = kOwned;
      e.ptr = new uint64_t(i);
      shard_.Send(1, e);
    }
  }
  void OnMessage(const Envelope& e) override {
    delete static_cast<uint64_t*>(e.ptr);
    shared_->owned_freed.fetch_add(1);
  }
  void OnDiscard(const Envelope& e) override {
    delete static_cast<uint64_t*>(e.ptr);
    shared_->discarded.fetch_add(1);
  }

 private:
  Shard& shard_;
  Shared* shared_;
  uint64_t count_;
};

// A shard whose overflow waits for a shard that has already ended its loop stops at once
// (the messages are freed with the rest) instead of waiting out the hard deadline.
TEST(ShardSetStopTest, OverflowToAnEndedShardDoesNotHoldUpTheStop) {
  Shared shared;
  base::FakeClock clock;
  ShardSetOptions o;
  o.threads = 2;
  o.pin_threads = false;
  o.stepped = true;
  o.shard.mailbox_capacity = 4;
  o.shard.reactor.backend = net::BackendKind::kEpoll;
  o.shard.reactor.clock = &clock;
  ShardSet set(o);
  ASSERT_TRUE(
      set.Start([&](Shard& s) { return std::make_unique<SendOnStopApp>(s, &shared, 100); }).ok());
  set.Stop();
  EXPECT_FALSE(set.Step(1)) << "an idle shard ends its loop on the first step after Stop()";
  int64_t start = clock.NowMs();
  while (set.Step(0) && clock.NowMs() - start < 60'000) {
    clock.AdvanceMs(10);
  }
  EXPECT_LT(clock.NowMs() - start, 100) << "shard 0 waited for a deadline";
  set.Wait();
  EXPECT_EQ(shared.owned_freed.load() + shared.discarded.load(), 100u);
}

std::atomic<int> releases{0};
void CountRelease() {
  releases.fetch_add(1);
}

// Memory freed by work done shortly after a release is still given back: the shard going idle
// within release_interval_ms of the last release sleeps at most until the interval is over
// and releases then, rather than sleeping on with the memory held.
TEST_P(ShardSetTest, IdleShardReleasesMemoryAgainAfterTheInterval) {
  Shared shared;
  ShardSetOptions o = Options(1);
  o.shard.release_memory = &CountRelease;
  o.shard.release_interval_ms = 300;
  ShardSet set(o);
  releases = 0;
  ASSERT_TRUE(set.Start([&](Shard& s) { return std::make_unique<PingApp>(s, &shared); }).ok());
  auto post_work = [&] {
    Envelope e;
    e.kind = kOwned;
    e.ptr = new uint64_t(0);
    set.shard(0).PostExternal(e);
  };
  auto wait_releases = [&](int n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (releases.load() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return releases.load() >= n;
  };
  post_work();
  ASSERT_TRUE(wait_releases(1)) << "no release when the shard first went idle";
  post_work();  // within the interval: no release at once, one when it is over
  EXPECT_TRUE(wait_releases(2)) << "the memory freed by the second piece of work stays held";
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_EQ(releases.load(), 2) << "an idle shard with nothing new to give back released again";
  set.Stop();
  set.Wait();
}

// A shard that frees memory from a timer callback (a session expiring) and has nothing else to
// do gives it back too: the release must not wait for some later event that may never come.
class TimerApp final : public ShardApp {
 public:
  explicit TimerApp(Shard& s) : shard_(s), timer_(&Fired) {}
  void OnAccepted(net::Conn&) override {}
  void OnAdopted(net::Conn&, uint64_t) override {}
  void OnData(net::Conn&, std::span<const uint8_t>) override {}
  void OnClosed(net::Conn&, int) override {}
  void OnMessage(const Envelope& e) override {  // arms the timer `e.u64` ms ahead
    shard_.timers().Schedule(&timer_, shard_.now_ms() + static_cast<int64_t>(e.u64));
  }
  void OnDiscard(const Envelope&) override {}
  static std::atomic<int> fired;
  static std::atomic<int> releases_when_fired;

 private:
  static void Fired(net::Timer*) {
    releases_when_fired = releases.load();
    fired.fetch_add(1);
  }
  Shard& shard_;
  net::Timer timer_;
};
std::atomic<int> TimerApp::fired{0};
std::atomic<int> TimerApp::releases_when_fired{0};

TEST_P(ShardSetTest, MemoryFreedByATimerIsReleasedWithoutAnotherEvent) {
  ShardSetOptions o = Options(1);
  o.shard.release_memory = &CountRelease;
  o.shard.release_interval_ms = 100;
  ShardSet set(o);
  releases = 0;
  TimerApp::fired = 0;
  ASSERT_TRUE(set.Start([&](Shard& s) { return std::make_unique<TimerApp>(s); }).ok());
  Envelope e;
  e.kind = kPing;
  e.u64 = 400;  // the timer fires well after the first release's interval is over
  set.shard(0).PostExternal(e);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto released_since_fired = [] {
    return TimerApp::fired.load() == 1 && releases.load() > TimerApp::releases_when_fired.load();
  };
  while (!released_since_fired() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(TimerApp::fired.load(), 1);
  EXPECT_GE(TimerApp::releases_when_fired.load(), 1) << "no release before the timer";
  EXPECT_TRUE(released_since_fired()) << "what the timer freed stays held until another event";
  set.Stop();
  set.Wait();
}

INSTANTIATE_TEST_SUITE_P(Backends, ShardSetTest,
                         ::testing::Values(net::BackendKind::kIoUring, net::BackendKind::kEpoll),
                         [](const auto& param_info) {
                           return std::string(param_info.param == net::BackendKind::kIoUring
                                                  ? "io_uring"
                                                  : "epoll");
                         });

}  // namespace
}  // namespace ringmq::shard
