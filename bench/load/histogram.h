// LogHistogram: a latency histogram with bounded relative error, in the manner of
// HdrHistogram. Single-threaded (each shard keeps its own; they are merged at the end).
//
// Values are non-negative integers (nanoseconds here). Values below 2^kSubBits are counted
// exactly; above, each power-of-two range [2^e, 2^(e+1)) is cut into 2^kSubBits equal
// buckets, so a bucket is at most 1/2^kSubBits of its lower bound wide. Quantiles report
// the middle of the bucket the rank falls in, hence a relative error of at most
// 1/2^(kSubBits+1) = 0.39% with kSubBits = 7 (stated by kMaxRelativeError and tested).
// Recording is a few shifts and one increment: no allocation, no branch on a lookup table.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ringmq::bench {

class LogHistogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr uint64_t kSubCount = uint64_t{1} << kSubBits;
  // Largest value kept apart; larger values land in the last bucket (and in max()).
  static constexpr int kMaxExponent = 40;  // 2^40 ns is about 18 minutes
  static constexpr size_t kBuckets = (kMaxExponent - kSubBits + 1) * kSubCount + kSubCount;
  static constexpr double kMaxRelativeError = 1.0 / (2.0 * kSubCount);

  void Record(uint64_t v) {
    ++counts_[Index(v)];
    ++count_;
    sum_ += v;
    if (v > max_) {
      max_ = v;
    }
    if (v < min_) {
      min_ = v;
    }
  }
  void Merge(const LogHistogram& other);
  void Clear();

  uint64_t count() const { return count_; }
  uint64_t max() const { return count_ == 0 ? 0 : max_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  double mean() const {
    return count_ == 0 ? 0 : static_cast<double>(sum_) / static_cast<double>(count_);
  }

  // The value at quantile q in [0, 1]: the smallest recorded value v such that at least
  // q * count() values are <= v, within kMaxRelativeError (exact below 2^kSubBits, and
  // never above max() or below min()). 0 when empty.
  uint64_t Quantile(double q) const;

  // Bucket arithmetic, public for tests.
  static size_t Index(uint64_t v) {
    if (v < kSubCount) {
      return static_cast<size_t>(v);
    }
    int e = 63 - __builtin_clzll(v);  // v in [2^e, 2^(e+1)), e >= kSubBits
    if (e > kMaxExponent) {
      return kBuckets - 1;
    }
    const int shift = e - kSubBits;
    const uint64_t sub = (v >> shift) & (kSubCount - 1);
    return static_cast<size_t>((shift + 1) * kSubCount + sub);
  }
  static uint64_t BucketLow(size_t index);
  static uint64_t BucketWidth(size_t index);

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
};

}  // namespace ringmq::bench
