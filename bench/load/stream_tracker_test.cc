// StreamTracker: loss, duplicate and reorder accounting fed with sequences that have gaps,
// repeats and swaps.
#include "bench/load/stream_tracker.h"

#include <vector>

#include "gtest/gtest.h"

namespace ringmq::bench {
namespace {

struct Fed {
  StreamTracker t;
  std::vector<Arrival> kinds;
  uint64_t advanced = 0;
};

Fed Feed(const std::vector<uint64_t>& seqs) {
  Fed f;
  for (uint64_t s : seqs) {
    Arrival k;
    f.advanced += f.t.Add(s, &k);
    f.kinds.push_back(k);
  }
  return f;
}

TEST(StreamTrackerTest, InOrderStreamHasNothingToReport) {
  std::vector<uint64_t> seqs;
  for (uint64_t i = 0; i < 10'000; ++i) {
    seqs.push_back(i);
  }
  Fed f = Feed(seqs);
  EXPECT_EQ(f.t.unique(), 10'000u);
  EXPECT_EQ(f.t.duplicated(), 0u);
  EXPECT_EQ(f.t.reordered(), 0u);
  EXPECT_EQ(f.t.missing(), 0u);
  EXPECT_EQ(f.advanced, 10'000u);
}

TEST(StreamTrackerTest, GapsAreMissing) {
  Fed f = Feed({0, 1, 2, 5, 6, 10});  // 3, 4, 7, 8, 9 lost
  EXPECT_EQ(f.t.unique(), 6u);
  EXPECT_EQ(f.t.missing(), 5u);
  EXPECT_EQ(f.t.duplicated(), 0u);
  EXPECT_EQ(f.t.reordered(), 0u);
  // A gap still advances the stream (flow control must not wait for what was lost).
  EXPECT_EQ(f.advanced, 11u);
}

TEST(StreamTrackerTest, LossAtTheStartCounts) {
  Fed f = Feed({3, 4});
  EXPECT_EQ(f.t.missing(), 3u);
  EXPECT_EQ(f.advanced, 5u);
}

TEST(StreamTrackerTest, RepeatsAreDuplicates) {
  Fed f = Feed({0, 1, 1, 2, 0, 2, 3});
  EXPECT_EQ(f.t.unique(), 4u);
  EXPECT_EQ(f.t.duplicated(), 3u);
  EXPECT_EQ(f.t.reordered(), 0u);
  EXPECT_EQ(f.t.missing(), 0u);
  EXPECT_EQ(f.kinds[2], Arrival::kDuplicate);
  EXPECT_EQ(f.kinds[4], Arrival::kDuplicate);
}

TEST(StreamTrackerTest, SwapsAreReorderedNotLost) {
  Fed f = Feed({0, 2, 1, 3, 5, 4});
  EXPECT_EQ(f.t.unique(), 6u);
  EXPECT_EQ(f.t.reordered(), 2u);
  EXPECT_EQ(f.t.duplicated(), 0u);
  EXPECT_EQ(f.t.missing(), 0u);
  EXPECT_EQ(f.kinds[2], Arrival::kReordered);
  EXPECT_EQ(f.kinds[5], Arrival::kReordered);
  EXPECT_EQ(f.advanced, 6u);  // late arrivals do not advance the stream twice
}

TEST(StreamTrackerTest, LateArrivalThenItsDuplicate) {
  Fed f = Feed({0, 3, 1, 1, 2, 3});
  EXPECT_EQ(f.t.unique(), 4u);
  EXPECT_EQ(f.t.reordered(), 2u);
  EXPECT_EQ(f.t.duplicated(), 2u);
  EXPECT_EQ(f.t.missing(), 0u);
}

TEST(StreamTrackerTest, WindowSlidesAndForgetsOldBits) {
  // Jump far ahead, then repeat a number inside the window (duplicate) and one far behind
  // it (too old to tell: counted as late, not as a duplicate).
  const uint64_t far = 10 * StreamTracker::kWindow;
  Fed f = Feed({0, 1, far, far - 1, far, 1});
  EXPECT_EQ(f.kinds[2], Arrival::kInOrder);
  EXPECT_EQ(f.kinds[3], Arrival::kReordered);
  EXPECT_EQ(f.kinds[4], Arrival::kDuplicate);
  EXPECT_EQ(f.kinds[5], Arrival::kTooOld);
  EXPECT_EQ(f.t.duplicated(), 1u);
}

TEST(StreamTrackerTest, BitsOfSkippedNumbersAreClearedWhenTheWindowMoves) {
  // Numbers k and k + kWindow share a bit; after a jump past k + kWindow, k + kWindow must
  // not look "seen" because k was.
  const uint64_t w = StreamTracker::kWindow;
  Fed f = Feed({5, w + 10, w + 5});
  EXPECT_EQ(f.kinds[2], Arrival::kReordered);
  EXPECT_EQ(f.t.duplicated(), 0u);
  // Small jumps clear exactly the skipped bits.
  Fed g = Feed({0, 1, 2, w + 1, w + 2, w + 3, 3 + w});
  EXPECT_EQ(g.kinds[3], Arrival::kInOrder);
  EXPECT_EQ(g.kinds[6], Arrival::kDuplicate);
  EXPECT_EQ(g.t.duplicated(), 1u);
}

TEST(StreamTrackerTest, MixedPattern) {
  // 0..99 with: 10 lost, 20 and 21 swapped, 30 repeated twice, 40 arriving 50 places late.
  std::vector<uint64_t> seqs;
  for (uint64_t i = 0; i < 100; ++i) {
    if (i == 10 || i == 40) {
      continue;
    }
    if (i == 20) {
      seqs.push_back(21);
      seqs.push_back(20);
      continue;
    }
    if (i == 21) {
      continue;
    }
    seqs.push_back(i);
    if (i == 30) {
      seqs.push_back(30);
      seqs.push_back(30);
    }
    if (i == 90) {
      seqs.push_back(40);
    }
  }
  Fed f = Feed(seqs);
  EXPECT_EQ(f.t.unique(), 99u);
  EXPECT_EQ(f.t.missing(), 1u);
  EXPECT_EQ(f.t.duplicated(), 2u);
  EXPECT_EQ(f.t.reordered(), 2u);  // 20 and 40
}

}  // namespace
}  // namespace ringmq::bench
