// SpscRing: a bounded, lock-free single-producer/single-consumer ring, the mailbox between
// one ordered pair of shards. Exactly one thread pushes and exactly one other thread pops.
//
// Ordering argument:
//   1. The producer writes the slot, then publishes it with a release store of tail_.
//   2. The consumer reads tail_ with acquire, so the slot's contents are visible, reads the
//      slot, then frees it with a release store of head_.
//   3. The producer reads head_ with acquire before reusing a slot, so the consumer's read
//      of that slot happened before the overwrite.
// Each side caches the other's index and re-reads the shared atomic only when the cached
// value says the ring is full (producer) or empty (consumer), so in steady state a push or a
// pop touches no cache line written by the other core.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/base/asserts.h"

namespace ringmq::shard {

inline constexpr size_t kCacheLine = 64;

template <typename T>
class SpscRing {
  static_assert(std::is_trivially_copyable_v<T>, "slots are copied as bytes");

 public:
  // `capacity` is rounded up to a power of two.
  explicit SpscRing(size_t capacity)
      : mask_(std::bit_ceil(capacity < 2 ? size_t{2} : capacity) - 1),
        slots_(std::make_unique<T[]>(mask_ + 1)) {}

  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  size_t capacity() const { return mask_ + 1; }

  // Producer side. Returns false if the ring is full.
  bool TryPush(const T& v) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - producer_cached_head_ > mask_) {
      producer_cached_head_ = head_.load(std::memory_order_acquire);
      if (tail - producer_cached_head_ > mask_) {
        return false;
      }
    }
    slots_[tail & mask_] = v;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer side. Returns false if the ring is empty.
  bool TryPop(T* out) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (head == consumer_cached_tail_) {
      consumer_cached_tail_ = tail_.load(std::memory_order_acquire);
      if (head == consumer_cached_tail_) {
        return false;
      }
    }
    *out = slots_[head & mask_];
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Producer side: a sequentially consistent read-modify-write of tail_ (value unchanged).
  // Orders every earlier push before the producer's following seq_cst loads: step 2 of the
  // sleeping protocol in shard.h. A fence would do, but ThreadSanitizer does not model
  // fences, and this costs one locked instruction per destination per loop iteration.
  void PublishSeqCst() { tail_.fetch_add(0, std::memory_order_seq_cst); }

  // Consumer side, sequentially consistent: step 1 of the sleeping protocol.
  bool EmptySeqCst() const {
    return head_.load(std::memory_order_relaxed) == tail_.load(std::memory_order_seq_cst);
  }

  // Either side, approximate: true if nothing is waiting (exact for the consumer).
  bool Empty() const {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire);
  }
  size_t SizeApprox() const {
    return static_cast<size_t>(tail_.load(std::memory_order_acquire) -
                               head_.load(std::memory_order_acquire));
  }

 private:
  const uint64_t mask_;
  std::unique_ptr<T[]> slots_;
  // Consumer-owned line.
  alignas(kCacheLine) std::atomic<uint64_t> head_{0};
  uint64_t consumer_cached_tail_ = 0;
  // Producer-owned line.
  alignas(kCacheLine) std::atomic<uint64_t> tail_{0};
  uint64_t producer_cached_head_ = 0;
  char pad_[kCacheLine - sizeof(std::atomic<uint64_t>) - sizeof(uint64_t)];
};

}  // namespace ringmq::shard
