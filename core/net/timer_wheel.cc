#include "core/net/timer_wheel.h"

#include <algorithm>
#include <bit>

#include "core/base/asserts.h"

namespace ringmq::net {

Timer::~Timer() {
  if (wheel_ != nullptr) {
    wheel_->Cancel(this);
  }
}

TimerWheel::TimerWheel(int64_t now_ms, uint32_t tick_ms, uint32_t slots)
    : tick_ms_(tick_ms == 0 ? 1 : tick_ms),
      mask_(std::bit_ceil(std::max<uint32_t>(slots, 64)) - 1),
      slots_(mask_ + 1),
      occupied_((mask_ + 1) / 64, 0),
      current_tick_(TickOf(now_ms)) {
  for (Slot& s : slots_) {
    s.head.prev_ = s.head.next_ = &s.head;
  }
}

TimerWheel::~TimerWheel() {
  for (Slot& s : slots_) {
    while (s.head.next_ != &s.head) {
      Timer* t = s.head.next_;
      Unlink(t);
      t->wheel_ = nullptr;
    }
  }
}

void TimerWheel::Link(Timer* sentinel, Timer* t) {
  t->prev_ = sentinel->prev_;
  t->next_ = sentinel;
  sentinel->prev_->next_ = t;
  sentinel->prev_ = t;
}

void TimerWheel::Unlink(Timer* t) {
  t->prev_->next_ = t->next_;
  t->next_->prev_ = t->prev_;
  t->prev_ = t->next_ = nullptr;
}

void TimerWheel::MarkSlot(size_t slot) {
  occupied_[slot / 64] |= uint64_t{1} << (slot % 64);
}

void TimerWheel::UpdateSlotBit(size_t slot) {
  if (slots_[slot].head.next_ == &slots_[slot].head) {
    occupied_[slot / 64] &= ~(uint64_t{1} << (slot % 64));
  }
}

void TimerWheel::Schedule(Timer* t, int64_t deadline_ms) {
  if (t->wheel_ != nullptr) {
    Cancel(t);
  }
  uint64_t tick = TickOf(deadline_ms < 0 ? 0 : deadline_ms);
  // A deadline in the past or in the tick being processed fires on the next Advance.
  if (tick <= current_tick_) {
    tick = current_tick_ + 1;
  }
  t->tick_ = tick;
  t->seq_ = next_seq_++;
  t->wheel_ = this;
  size_t slot = tick & mask_;
  Link(&slots_[slot].head, t);
  MarkSlot(slot);
  ++size_;
}

void TimerWheel::Cancel(Timer* t) {
  if (t->wheel_ != this) {
    return;
  }
  size_t slot = t->tick_ & mask_;
  Unlink(t);
  t->wheel_ = nullptr;
  --size_;
  UpdateSlotBit(slot);
}

size_t TimerWheel::FireSlot(uint64_t tick, uint64_t due_until) {
  // 1. Move the slot's timers to a local list, so callbacks that schedule into this slot
  //    (a later revolution) or cancel timers of it cannot disturb the iteration.
  Timer local;
  local.prev_ = local.next_ = &local;
  Slot& s = slots_[tick & mask_];
  if (s.head.next_ == &s.head) {
    return 0;
  }
  local.next_ = s.head.next_;
  local.prev_ = s.head.prev_;
  local.next_->prev_ = &local;
  local.prev_->next_ = &local;
  s.head.next_ = s.head.prev_ = &s.head;
  // 2. Put back the ones not due yet (later revolutions), keeping their order.
  size_t fired = 0;
  while (local.next_ != &local) {
    Timer* t = local.next_;
    Unlink(t);
    if (t->tick_ > due_until) {
      Link(&s.head, t);
      continue;
    }
    // 3. Fire. The timer is disarmed first so the callback may re-arm it.
    t->wheel_ = nullptr;
    --size_;
    ++fired;
    if (t->cb_ != nullptr) {
      t->cb_(t);
    }
  }
  UpdateSlotBit(tick & mask_);
  return fired;
}

size_t TimerWheel::FireSweep(uint64_t due_until) {
  // More than a revolution passed: fire everything due, in (tick, seq) order.
  // 1. Collect the due timers and sort them. No callback runs yet, so the pointers are live.
  std::vector<Timer*> due;
  for (Slot& s : slots_) {
    for (Timer* t = s.head.next_; t != &s.head; t = t->next_) {
      if (t->tick_ <= due_until) {
        due.push_back(t);
      }
    }
  }
  std::sort(due.begin(), due.end(), [](const Timer* a, const Timer* b) {
    return a->tick_ != b->tick_ ? a->tick_ < b->tick_ : a->seq_ < b->seq_;
  });
  // 2. Move them, in that order, onto a local list. They stay armed (wheel_ == this), so a
  //    callback that cancels, re-arms or destroys one of them unlinks it from this list
  //    through the usual Cancel(); the raw pointers above are not used again.
  Timer local;
  local.prev_ = local.next_ = &local;
  for (Timer* t : due) {
    Unlink(t);
    Link(&local, t);
  }
  for (Slot& s : slots_) {
    UpdateSlotBit(static_cast<size_t>(&s - slots_.data()));
  }
  // 3. Fire from the head of the list until it is empty.
  size_t fired = 0;
  while (local.next_ != &local) {
    Timer* t = local.next_;
    Unlink(t);
    t->wheel_ = nullptr;
    --size_;
    ++fired;
    if (t->cb_ != nullptr) {
      t->cb_(t);
    }
  }
  return fired;
}

size_t TimerWheel::Advance(int64_t now_ms) {
  const uint64_t target = TickOf(now_ms);
  if (target <= current_tick_) {
    return 0;
  }
  size_t fired = 0;
  if (target - current_tick_ > mask_) {
    current_tick_ = target;
    return FireSweep(target);
  }
  // Visit each elapsed tick's slot, skipping empty slots through the bitmap.
  uint64_t tick = current_tick_ + 1;
  while (tick <= target) {
    size_t slot = tick & mask_;
    uint64_t word = occupied_[slot / 64] >> (slot % 64);
    if (word == 0) {
      tick += 64 - (slot % 64);  // jump to the next bitmap word
      continue;
    }
    tick += static_cast<uint64_t>(std::countr_zero(word));
    if (tick > target) {
      break;
    }
    current_tick_ = tick;  // timers scheduled by callbacks land after this tick
    fired += FireSlot(tick, tick);
    ++tick;
  }
  current_tick_ = target;
  return fired;
}

std::optional<int64_t> TimerWheel::NextExpiryMs() const {
  if (size_ == 0) {
    return std::nullopt;
  }
  // The first occupied slot after the current tick (one revolution at most).
  uint64_t tick = current_tick_ + 1;
  const uint64_t end = tick + mask_ + 1;
  while (tick < end) {
    size_t slot = tick & mask_;
    uint64_t word = occupied_[slot / 64] >> (slot % 64);
    if (word == 0) {
      tick += 64 - (slot % 64);
      continue;
    }
    tick += static_cast<uint64_t>(std::countr_zero(word));
    break;
  }
  return static_cast<int64_t>(std::min(tick, end - 1) * tick_ms_);
}

}  // namespace ringmq::net
