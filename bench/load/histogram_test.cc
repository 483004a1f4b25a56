// LogHistogram: quantiles within the stated relative error on known distributions.
#include "bench/load/histogram.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace ringmq::bench {
namespace {

// The exact quantile as the histogram defines it: the smallest value with at least q*n
// values <= it (rank ceil(q*n), 1-based).
uint64_t ExactQuantile(std::vector<uint64_t> v, double q) {
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  rank = std::max<size_t>(rank, 1);
  return v[rank - 1];
}

void ExpectQuantilesWithinError(const std::vector<uint64_t>& values) {
  LogHistogram h;
  for (uint64_t v : values) {
    h.Record(v);
  }
  ASSERT_EQ(h.count(), values.size());
  for (double q : {0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1.0}) {
    const double exact = static_cast<double>(ExactQuantile(values, q));
    const double got = static_cast<double>(h.Quantile(q));
    EXPECT_LE(std::abs(got - exact), exact * LogHistogram::kMaxRelativeError + 1e-9)
        << "q=" << q << " exact=" << exact << " got=" << got;
  }
  EXPECT_EQ(h.max(), *std::max_element(values.begin(), values.end()));
  EXPECT_EQ(h.min(), *std::min_element(values.begin(), values.end()));
}

TEST(LogHistogramTest, StatedErrorIsBelowOnePercent) {
  EXPECT_LT(LogHistogram::kMaxRelativeError, 0.01);
}

TEST(LogHistogramTest, SmallValuesAreExact) {
  LogHistogram h;
  for (uint64_t v = 0; v < 2 * LogHistogram::kSubCount; ++v) {
    h.Record(v);
    EXPECT_EQ(LogHistogram::BucketLow(LogHistogram::Index(v)), v);
  }
  EXPECT_EQ(h.Quantile(0), 0u);
  EXPECT_EQ(h.Quantile(0.5), LogHistogram::kSubCount - 1);
  EXPECT_EQ(h.Quantile(1), 2 * LogHistogram::kSubCount - 1);
}

TEST(LogHistogramTest, BucketsTileTheRangeWithBoundedWidth) {
  // Every value lands in the bucket whose [low, low + width) contains it, and the width is
  // at most 1/kSubCount of the low bound.
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100'000; ++i) {
    const uint64_t v = rng() >> (rng() % 40 + 24);
    const size_t idx = LogHistogram::Index(v);
    ASSERT_LT(idx, LogHistogram::kBuckets);
    const uint64_t low = LogHistogram::BucketLow(idx);
    const uint64_t width = LogHistogram::BucketWidth(idx);
    ASSERT_LE(low, v);
    ASSERT_LT(v, low + width);
    if (low >= LogHistogram::kSubCount) {
      ASSERT_LE(width * LogHistogram::kSubCount, low);
    }
  }
  // Consecutive buckets are contiguous.
  for (size_t i = 0; i + 1 < LogHistogram::kBuckets; ++i) {
    ASSERT_EQ(LogHistogram::BucketLow(i) + LogHistogram::BucketWidth(i),
              LogHistogram::BucketLow(i + 1))
        << i;
  }
}

TEST(LogHistogramTest, UniformDistribution) {
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<uint64_t> d(1'000, 10'000'000);
  std::vector<uint64_t> v(200'000);
  for (auto& x : v) {
    x = d(rng);
  }
  ExpectQuantilesWithinError(v);
}

TEST(LogHistogramTest, ExponentialDistribution) {
  std::mt19937_64 rng(2);
  std::exponential_distribution<double> d(1.0 / 50'000.0);  // mean 50 us in ns
  std::vector<uint64_t> v(200'000);
  for (auto& x : v) {
    x = static_cast<uint64_t>(d(rng));
  }
  ExpectQuantilesWithinError(v);
}

TEST(LogHistogramTest, LogNormalWithLongTail) {
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> d(11.0, 2.0);  // median ~60 us, tail to seconds
  std::vector<uint64_t> v(200'000);
  for (auto& x : v) {
    x = static_cast<uint64_t>(d(rng));
  }
  ExpectQuantilesWithinError(v);
}

TEST(LogHistogramTest, KnownQuantilesOfOneToOneMillion) {
  LogHistogram h;
  for (uint64_t v = 1; v <= 1'000'000; ++v) {
    h.Record(v);
  }
  for (auto [q, exact] :
       {std::pair{0.5, 500'000.0}, {0.9, 900'000.0}, {0.99, 990'000.0}, {0.999, 999'000.0}}) {
    EXPECT_NEAR(static_cast<double>(h.Quantile(q)), exact, exact * 0.01) << q;
  }
  EXPECT_NEAR(h.mean(), 500'000.5, 1e-6);
}

TEST(LogHistogramTest, MergeEqualsRecordingEverything) {
  LogHistogram a;
  LogHistogram b;
  LogHistogram all;
  std::mt19937_64 rng(4);
  for (int i = 0; i < 50'000; ++i) {
    const uint64_t v = rng() % 5'000'000;
    (i % 3 == 0 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_EQ(a.min(), all.min());
  for (double q : {0.1, 0.5, 0.99, 0.999}) {
    EXPECT_EQ(a.Quantile(q), all.Quantile(q));
  }
  a.Clear();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.Quantile(0.5), 0u);
  EXPECT_EQ(a.max(), 0u);
}

TEST(LogHistogramTest, HugeValuesAreClampedButMaxIsExact) {
  LogHistogram h;
  const uint64_t huge = uint64_t{1} << 50;
  h.Record(huge);
  h.Record(1);
  EXPECT_EQ(h.max(), huge);
  EXPECT_EQ(h.Quantile(1.0), huge);  // never above max(), here exactly max
  EXPECT_EQ(h.Quantile(0.5), 1u);
}

}  // namespace
}  // namespace ringmq::bench
