// LatencyHistogram: durations (µs) counted in fixed buckets, as Prometheus histograms show
// them. One thread records (Record: relaxed load + store per field, no locked instruction);
// any thread reads a Snapshot (relaxed loads: each figure is exact, the set of them may be
// a few records apart, which a scraper cannot tell from a moment later).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace ringmq::base {

// Upper bounds of the buckets (µs, inclusive); a last bucket holds everything above.
inline constexpr std::array<uint64_t, 14> kLatencyBucketsUs = {
    100,    250,    500,     1'000,   2'500,   5'000,     10'000,
    25'000, 50'000, 100'000, 250'000, 500'000, 1'000'000, 5'000'000};

struct LatencySnapshot {
  std::array<uint64_t, kLatencyBucketsUs.size() + 1> buckets{};  // not cumulative; last: +Inf
  uint64_t count = 0;
  uint64_t sum_us = 0;
};

class LatencyHistogram {
 public:
  // The recording thread only.
  void Record(uint64_t us) {
    size_t i = 0;
    while (i < kLatencyBucketsUs.size() && us > kLatencyBucketsUs[i]) {
      ++i;
    }
    Bump(buckets_[i], 1);
    Bump(sum_us_, us);
    Bump(count_, 1);
  }

  // Any thread.
  LatencySnapshot Snapshot() const {
    LatencySnapshot s;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    }
    s.count = count_.load(std::memory_order_relaxed);
    s.sum_us = sum_us_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  static void Bump(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  std::array<std::atomic<uint64_t>, kLatencyBucketsUs.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_us_{0};
};

}  // namespace ringmq::base
