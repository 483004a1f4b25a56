#include "core/shard/mailbox.h"

#include <thread>

#include "gtest/gtest.h"

namespace ringmq::shard {
namespace {

// ThreadSanitizer makes every atomic access ~20x slower: keep its run short.
#if defined(__SANITIZE_THREAD__)
constexpr uint64_t kScale = 10;
#else
constexpr uint64_t kScale = 1;
#endif

struct Item {
  uint64_t seq;
  uint64_t check;
};

TEST(SpscRingTest, FullAndEmptySingleThreaded) {
  SpscRing<Item> ring(4);
  EXPECT_EQ(ring.capacity(), 4u);
  Item out;
  EXPECT_FALSE(ring.TryPop(&out));
  for (uint64_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(ring.TryPush({i, ~i}));
  }
  EXPECT_FALSE(ring.TryPush({99, 0})) << "a full ring must refuse";
  EXPECT_EQ(ring.SizeApprox(), 4u);
  for (uint64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(ring.TryPop(&out));
    EXPECT_EQ(out.seq, i);
  }
  EXPECT_FALSE(ring.TryPop(&out));
  EXPECT_TRUE(ring.Empty());
}

TEST(SpscRingTest, CapacityRoundsUpToPowerOfTwo) {
  EXPECT_EQ(SpscRing<Item>(5).capacity(), 8u);
  EXPECT_EQ(SpscRing<Item>(1).capacity(), 2u);
}

// One producer and one consumer on two threads: nothing lost, duplicated or reordered, and
// each item's payload is intact (a torn slot would break `check`).
void Stress(size_t capacity, uint64_t count) {
  SpscRing<Item> ring(capacity);
  std::thread producer([&] {
    for (uint64_t i = 0; i < count; ++i) {
      while (!ring.TryPush({i, i * 0x9E3779B97F4A7C15ull})) {
        std::this_thread::yield();
      }
    }
  });
  uint64_t expected = 0;
  Item out;
  while (expected < count) {
    if (!ring.TryPop(&out)) {
      continue;
    }
    ASSERT_EQ(out.seq, expected) << "lost or reordered";
    ASSERT_EQ(out.check, expected * 0x9E3779B97F4A7C15ull) << "torn slot";
    ++expected;
  }
  producer.join();
  EXPECT_FALSE(ring.TryPop(&out)) << "an extra item appeared";
}

TEST(SpscRingTest, StressTinyRing) {
  Stress(2, 200'000 / kScale);
}
TEST(SpscRingTest, StressSmallRing) {
  Stress(64, 1'000'000 / kScale);
}
TEST(SpscRingTest, StressLargeRing) {
  Stress(4096, 2'000'000 / kScale);
}

}  // namespace
}  // namespace ringmq::shard
