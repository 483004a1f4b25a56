#include "bench/load/histogram.h"

#include <cmath>

namespace ringmq::bench {

uint64_t LogHistogram::BucketLow(size_t index) {
  if (index < kSubCount) {
    return index;
  }
  const uint64_t shift = index / kSubCount - 1;
  const uint64_t sub = index % kSubCount;
  return (kSubCount + sub) << shift;
}

uint64_t LogHistogram::BucketWidth(size_t index) {
  if (index < kSubCount) {
    return 1;
  }
  return uint64_t{1} << (index / kSubCount - 1);
}

void LogHistogram::Merge(const LogHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) {
    counts_[i] += other.counts_[i];
  }
  count_ += other.count_;
  sum_ += other.sum_;
  if (other.count_ > 0) {
    max_ = other.max_ > max_ ? other.max_ : max_;
    min_ = other.min_ < min_ ? other.min_ : min_;
  }
}

void LogHistogram::Clear() {
  counts_.fill(0);
  count_ = 0;
  sum_ = 0;
  max_ = 0;
  min_ = UINT64_MAX;
}

uint64_t LogHistogram::Quantile(double q) const {
  if (count_ == 0) {
    return 0;
  }
  q = q < 0 ? 0 : (q > 1 ? 1 : q);
  // Rank of the value sought, 1-based: ceil(q * count), at least 1.
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = rank == 0 ? 1 : rank;
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      if (i == kBuckets - 1) {
        return max_;  // the overflow bucket: its values are only known by the maximum
      }
      uint64_t v = BucketLow(i) + BucketWidth(i) / 2;  // the middle halves the error
      v = v > max_ ? max_ : v;
      v = v < min_ ? min_ : v;
      return v;
    }
  }
  return max_;
}

}  // namespace ringmq::bench
