// StreamTracker: loss, duplicate and reorder accounting for one (publisher, subscriber)
// stream of sequence numbers. Single-threaded (owned by the subscriber's shard).
//
// A publisher numbers its messages 0, 1, 2, ...; a subscriber feeds every number it
// receives. The tracker remembers the highest number seen and which of the kWindow numbers
// below it have been seen (a ring of bits), so each arrival is exactly one of:
//   - new and in order (above everything seen so far),
//   - new but late: below the highest seen, not seen before ("reordered"),
//   - a duplicate: seen before (QoS 1 may legitimately deliver twice; QoS 0/2 must not),
//   - too old to tell: more than kWindow below the highest; counted as reordered and
//     unique (the broker would have to hold a message back across thousands of others).
// Numbers start at 0, so missing() = highest + 1 - unique() is this stream's loss so far.
// The load tool counts only messages sent inside the measured window, so it takes each
// arrival's kind from Add() and computes loss as expected - unique over the window itself.
// Memory: 72 bytes per stream; no allocation.
#pragma once

#include <array>
#include <cstdint>

namespace ringmq::bench {

enum class Arrival : uint8_t { kInOrder, kReordered, kDuplicate, kTooOld };

class StreamTracker {
 public:
  static constexpr uint64_t kWindow = 256;  // bits remembered below the highest seen

  // Feeds one received sequence number. Returns how far the stream advanced (the highest
  // seen grew by that much, counting from -1 before the first arrival; 0 unless kInOrder),
  // which flow control uses as progress: a gap counts as progress, since ordered delivery
  // means what was skipped is lost, not late.
  uint64_t Add(uint64_t seq, Arrival* kind = nullptr);

  uint64_t unique() const { return unique_; }
  uint64_t duplicated() const { return duplicated_; }
  uint64_t reordered() const { return reordered_; }
  uint64_t missing() const { return started_ ? highest_ + 1 - unique_ : 0; }
  bool empty() const { return !started_; }
  uint64_t highest() const { return highest_; }

 private:
  bool Test(uint64_t seq) const { return (bits_[(seq / 64) % kWords] >> (seq % 64)) & 1; }
  void Set(uint64_t seq) { bits_[(seq / 64) % kWords] |= uint64_t{1} << (seq % 64); }
  void ClearBit(uint64_t seq) { bits_[(seq / 64) % kWords] &= ~(uint64_t{1} << (seq % 64)); }

  static constexpr uint64_t kWords = kWindow / 64;
  std::array<uint64_t, kWords> bits_{};
  uint64_t highest_ = 0;
  uint64_t unique_ = 0;
  uint64_t duplicated_ = 0;
  uint64_t reordered_ = 0;
  bool started_ = false;
};

}  // namespace ringmq::bench
