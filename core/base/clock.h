// The monotonic clock, in one place. Any thread.
//
// MonotonicNs()/MonotonicMs() read CLOCK_MONOTONIC. A Clock is what an event loop reads its
// time from: the real one by default, a FakeClock in simulations and tests that step time
// by hand (a shard loop driven from a test, a fuzz target), so that timers fire
// deterministically.
#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>

namespace ringmq::base {

inline int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline int64_t MonotonicMs() {
  return MonotonicNs() / 1'000'000;
}

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;
};

// CLOCK_MONOTONIC.
class RealClock final : public Clock {
 public:
  int64_t NowMs() const override { return MonotonicMs(); }
};

// Time that moves only when told. Readable from any thread.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'000'000) : now_ms_(start_ms) {}
  int64_t NowMs() const override { return now_ms_.load(std::memory_order_relaxed); }
  void AdvanceMs(int64_t ms) { now_ms_.fetch_add(ms, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace ringmq::base
