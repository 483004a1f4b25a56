#include "core/net/timer_wheel.h"

#include <map>
#include <memory>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace ringmq::net {
namespace {

// A timer that records the order in which it fired.
struct Probe;
std::map<const Timer*, Probe*>& Registry() {
  static std::map<const Timer*, Probe*> registry;
  return registry;
}

struct Probe {
  explicit Probe(int id_in) : id(id_in) {
    Registry()[&timer] = this;
    timer.set_callback([](Timer* t) {
      Probe* p = Registry().at(t);
      p->log->push_back(p->id);
    });
  }
  ~Probe() { Registry().erase(&timer); }
  Timer timer;
  int id;
  std::vector<int>* log = nullptr;
};

TEST(TimerWheelTest, FiresInDeadlineOrderAndFifoWithinATick) {
  TimerWheel w(/*now_ms=*/0, /*tick_ms=*/10, /*slots=*/64);
  std::vector<int> log;
  std::vector<std::unique_ptr<Probe>> probes;
  const int64_t deadlines[] = {55, 15, 35, 15, 100, 12, 250};
  for (int i = 0; i < 7; ++i) {
    probes.push_back(std::make_unique<Probe>(i));
    probes.back()->log = &log;
    w.Schedule(&probes.back()->timer, deadlines[i]);
  }
  EXPECT_EQ(w.size(), 7u);
  EXPECT_EQ(w.Advance(9), 0u);
  EXPECT_TRUE(log.empty());
  // 12, 15, 15 share tick 1: scheduling order 1, 3, 5.
  EXPECT_EQ(w.Advance(19), 3u);
  EXPECT_EQ(log, (std::vector<int>{1, 3, 5}));
  EXPECT_EQ(w.Advance(300), 4u);
  EXPECT_EQ(log, (std::vector<int>{1, 3, 5, 2, 0, 4, 6}));
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheelTest, CancelAndReschedule) {
  TimerWheel w(0, 10, 64);
  std::vector<int> log;
  Probe a(1), b(2), c(3);
  a.log = b.log = c.log = &log;
  w.Schedule(&a.timer, 50);
  w.Schedule(&b.timer, 50);
  w.Schedule(&c.timer, 60);
  w.Cancel(&b.timer);
  EXPECT_FALSE(b.timer.armed());
  w.Schedule(&c.timer, 20);  // reschedule earlier
  w.Advance(100);
  EXPECT_EQ(log, (std::vector<int>{3, 1}));
  w.Cancel(&a.timer);  // cancelling a fired timer is a no-op
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheelTest, WrapAroundBeyondOneRevolution) {
  // 64 slots x 10 ms = 640 ms per revolution; deadlines several revolutions out must wait
  // for their own revolution, not fire when their slot first comes round.
  TimerWheel w(0, 10, 64);
  std::vector<int> log;
  Probe near(1), far(2), farther(3);
  near.log = far.log = farther.log = &log;
  w.Schedule(&near.timer, 50);
  w.Schedule(&far.timer, 50 + 640);
  w.Schedule(&farther.timer, 50 + 3 * 640);
  for (int64_t t = 0; t <= 700; t += 7) {
    w.Advance(t);
  }
  EXPECT_EQ(log, (std::vector<int>{1, 2}));
  w.Advance(1000);
  EXPECT_EQ(log, (std::vector<int>{1, 2}));
  w.Advance(50 + 3 * 640);
  EXPECT_EQ(log, (std::vector<int>{1, 2, 3}));
}

TEST(TimerWheelTest, LongJumpFiresEverythingDueInOrder) {
  TimerWheel w(0, 10, 64);
  std::vector<int> log;
  std::vector<std::unique_ptr<Probe>> probes;
  std::mt19937 rng(42);
  std::vector<std::pair<int64_t, int>> expected;
  for (int i = 0; i < 200; ++i) {
    int64_t d = std::uniform_int_distribution<int64_t>(1, 5000)(rng);
    probes.push_back(std::make_unique<Probe>(i));
    probes.back()->log = &log;
    w.Schedule(&probes.back()->timer, d);
    expected.emplace_back(d / 10, i);  // by tick, then scheduling order
  }
  std::stable_sort(expected.begin(), expected.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  EXPECT_EQ(w.Advance(10'000), 200u);  // far more than a revolution at once
  ASSERT_EQ(log.size(), 200u);
  for (size_t i = 0; i < 200; ++i) {
    EXPECT_EQ(log[i], expected[i].second) << "position " << i;
  }
}

TEST(TimerWheelTest, CallbacksMayScheduleAndCancel) {
  TimerWheel w(0, 10, 64);
  static TimerWheel* wheel;
  static Timer* victim;
  static int fired_victim;
  static int rearmed;
  wheel = &w;
  fired_victim = 0;
  rearmed = 0;
  Timer v([](Timer*) { ++fired_victim; });
  victim = &v;
  // Due in the same tick as the killer, scheduled after it: the killer cancels it first.
  Timer killer([](Timer*) { wheel->Cancel(victim); });
  Timer again([](Timer* t) {
    if (++rearmed < 3) {
      wheel->Schedule(t, 0);  // in the past: fires on the next Advance
    }
  });
  w.Schedule(&killer, 30);
  w.Schedule(&v, 30);
  w.Schedule(&again, 30);
  w.Advance(30);
  EXPECT_EQ(fired_victim, 0);
  EXPECT_EQ(rearmed, 1);
  w.Advance(40);
  w.Advance(50);
  EXPECT_EQ(rearmed, 3);
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheelTest, NextExpiryTracksTheEarliestSlot) {
  TimerWheel w(1000, 10, 64);
  EXPECT_FALSE(w.NextExpiryMs().has_value());
  Timer a, b;
  w.Schedule(&a, 1500);
  w.Schedule(&b, 1200);
  ASSERT_TRUE(w.NextExpiryMs().has_value());
  EXPECT_EQ(*w.NextExpiryMs(), 1200);
  w.Cancel(&b);
  EXPECT_EQ(*w.NextExpiryMs(), 1500);
  // Beyond a revolution the wheel may wake early (at the slot), never late.
  Timer c;
  w.Cancel(&a);
  w.Schedule(&c, 1000 + 5000);
  EXPECT_LE(*w.NextExpiryMs(), 6000);
}

TEST(TimerWheelTest, DestroyingAnArmedTimerUnlinksIt) {
  TimerWheel w(0, 10, 64);
  {
    Timer t;
    w.Schedule(&t, 100);
    EXPECT_EQ(w.size(), 1u);
  }
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.Advance(1000), 0u);
}

}  // namespace
}  // namespace ringmq::net

namespace ringmq::net {
namespace {

// After a jump of more than a revolution (a process stopped for a while), a callback may
// destroy another timer that is due in the same sweep: a session's expiry ending a session
// whose will-delay timer is due too. The destroyed timer must not be touched again (ASan
// reports the use after free this once was) nor fired.
struct Owner {
  Timer first;
  std::unique_ptr<Timer> second = std::make_unique<Timer>();
  int fired_first = 0;
  int fired_second = 0;
};
Owner* g_owner = nullptr;

TEST(TimerWheelTest, SweepCallbackMayDestroyAnotherDueTimer) {
  TimerWheel w(/*now_ms=*/0, /*tick_ms=*/10, /*slots=*/64);
  Owner o;
  g_owner = &o;
  o.first.set_callback([](Timer*) {
    ++g_owner->fired_first;
    g_owner->second.reset();  // destroys a timer collected for this same sweep
  });
  o.second->set_callback([](Timer*) { ++g_owner->fired_second; });
  w.Schedule(&o.first, 100);
  w.Schedule(o.second.get(), 200);
  EXPECT_EQ(w.Advance(100'000), 1u);  // 64 slots x 10 ms: this is many revolutions
  EXPECT_EQ(o.fired_first, 1);
  EXPECT_EQ(o.fired_second, 0);
  EXPECT_EQ(w.size(), 0u);
  g_owner = nullptr;
}

// A sweep callback may also re-arm a timer that was collected for the sweep: it then
// fires at its new deadline, not in this sweep.
TEST(TimerWheelTest, SweepCallbackMayRescheduleAnotherDueTimer) {
  TimerWheel w(/*now_ms=*/0, /*tick_ms=*/10, /*slots=*/64);
  static Timer* later = nullptr;
  static TimerWheel* wheel = nullptr;
  static int fired_later = 0;
  Timer first([](Timer*) { wheel->Schedule(later, 200'000); });
  Timer second([](Timer*) { ++fired_later; });
  later = &second;
  wheel = &w;
  fired_later = 0;
  w.Schedule(&first, 100);
  w.Schedule(&second, 200);
  EXPECT_EQ(w.Advance(100'000), 1u);
  EXPECT_EQ(fired_later, 0);
  EXPECT_TRUE(second.armed());
  EXPECT_EQ(w.Advance(200'000), 1u);
  EXPECT_EQ(fired_later, 1);
}

}  // namespace
}  // namespace ringmq::net
