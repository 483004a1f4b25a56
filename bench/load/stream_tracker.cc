#include "bench/load/stream_tracker.h"

namespace ringmq::bench {

uint64_t StreamTracker::Add(uint64_t seq, Arrival* kind) {
  Arrival k;
  uint64_t advance = 0;
  if (!started_ || seq > highest_) {
    // 1. Ahead of everything: forget the bits the window slides past, remember this one.
    const uint64_t from = started_ ? highest_ + 1 : 0;
    advance = started_ ? seq - highest_ : seq + 1;
    if (seq - from >= kWindow) {
      bits_.fill(0);
    } else {
      for (uint64_t s = from; s < seq; ++s) {
        ClearBit(s);
      }
    }
    ClearBit(seq);
    started_ = true;
    highest_ = seq;
    Set(seq);
    ++unique_;
    k = Arrival::kInOrder;
  } else if (highest_ - seq >= kWindow) {
    // 2. Too far back for the bits: most likely a message the broker held back. Counted as
    //    unique so a late message is not reported as lost.
    ++unique_;
    ++reordered_;
    k = Arrival::kTooOld;
  } else if (Test(seq)) {
    ++duplicated_;
    k = Arrival::kDuplicate;
  } else {
    Set(seq);
    ++unique_;
    ++reordered_;
    k = Arrival::kReordered;
  }
  if (kind != nullptr) {
    *kind = k;
  }
  return advance;
}

}  // namespace ringmq::bench
