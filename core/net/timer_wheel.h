// TimerWheel: a hashed timing wheel for one shard (keepalive, first-packet timeouts, will
// delay, expiry). Shard-local (not thread-safe).
//
// Timers are intrusive (a Timer lives inside its owner: no allocation to schedule one) and
// may be cancelled or rescheduled in O(1). Time is cut into ticks of tick_ms; slot =
// tick mod slot count, and a timer more than one revolution away simply waits in its slot
// until its tick comes round. Timers fire in order of their deadline tick, and in scheduling
// order within a tick. One wait timeout per loop iteration drives the wheel: NextExpiryMs()
// tells the shard how long it may sleep, found through a bitmap of non-empty slots.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace ringmq::net {

class TimerWheel;

class Timer {
 public:
  using Callback = void (*)(Timer* timer);

  explicit Timer(Callback cb = nullptr) : cb_(cb) {}
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  ~Timer();  // cancels

  void set_callback(Callback cb) { cb_ = cb; }
  bool armed() const { return wheel_ != nullptr; }

 private:
  friend class TimerWheel;
  Timer* prev_ = nullptr;
  Timer* next_ = nullptr;
  TimerWheel* wheel_ = nullptr;
  Callback cb_;
  uint64_t tick_ = 0;  // expiry tick
  uint64_t seq_ = 0;   // scheduling order, for FIFO within a tick
};

class TimerWheel {
 public:
  // `slots` is rounded up to a power of two (at least 64).
  explicit TimerWheel(int64_t now_ms, uint32_t tick_ms = 10, uint32_t slots = 1024);
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;
  ~TimerWheel();  // disarms every timer (callbacks do not run)

  // Arms `t` to fire at `deadline_ms` (or as soon as possible if that has passed);
  // re-arms it if it was armed.
  void Schedule(Timer* t, int64_t deadline_ms);
  void Cancel(Timer* t);

  // Fires every timer whose deadline tick is <= now_ms's tick. Callbacks may schedule and
  // cancel timers, including ones due in this same call. Returns the number fired.
  size_t Advance(int64_t now_ms);

  // The earliest time at which Advance() could fire a timer, or nullopt when empty.
  std::optional<int64_t> NextExpiryMs() const;

  size_t size() const { return size_; }
  uint32_t tick_ms() const { return tick_ms_; }

 private:
  struct Slot {
    Timer head;  // sentinel of a circular list
  };
  static void Link(Timer* sentinel, Timer* t);
  static void Unlink(Timer* t);
  uint64_t TickOf(int64_t ms) const { return static_cast<uint64_t>(ms) / tick_ms_; }
  void MarkSlot(size_t slot);
  void UpdateSlotBit(size_t slot);
  size_t FireSlot(uint64_t tick, uint64_t due_until);
  size_t FireSweep(uint64_t due_until);

  const uint32_t tick_ms_;
  const uint64_t mask_;
  std::vector<Slot> slots_;
  std::vector<uint64_t> occupied_;  // bit per slot
  uint64_t current_tick_;           // every tick <= current_tick_ has been processed
  uint64_t next_seq_ = 0;
  size_t size_ = 0;
};

}  // namespace ringmq::net
