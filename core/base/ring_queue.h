// RingQueue<T>: a FIFO that allocates nothing while empty (std::deque allocates its map and
// a first block even when empty: ~600 bytes per instance, which idle sessions cannot afford).
// Grows by doubling; frees its storage when it empties. Single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

#include "core/base/asserts.h"

namespace ringmq::base {

template <typename T>
class RingQueue {
 public:
  RingQueue() = default;
  RingQueue(const RingQueue&) = delete;
  RingQueue& operator=(const RingQueue&) = delete;
  RingQueue(RingQueue&& o) noexcept
      : slots_(std::exchange(o.slots_, nullptr)),
        cap_(std::exchange(o.cap_, 0)),
        head_(std::exchange(o.head_, 0)),
        size_(std::exchange(o.size_, 0)) {}
  ~RingQueue() { clear(); }

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }

  T& operator[](size_t i) { return slots_[(head_ + i) & (cap_ - 1)]; }
  const T& operator[](size_t i) const { return slots_[(head_ + i) & (cap_ - 1)]; }
  T& front() { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }

  template <typename... Args>
  T& emplace_back(Args&&... args) {
    if (size_ == cap_) {
      Grow();
    }
    T* slot = &slots_[(head_ + size_) & (cap_ - 1)];
    new (slot) T(std::forward<Args>(args)...);
    ++size_;
    return *slot;
  }
  void push_back(T v) { emplace_back(std::move(v)); }

  void pop_front() {
    RINGMQ_DASSERT(size_ > 0);
    slots_[head_].~T();
    head_ = (head_ + 1) & (cap_ - 1);
    if (--size_ == 0) {
      Release();
    }
  }

  // Removes element i, keeping the order of the rest (O(size)).
  void erase(size_t i) {
    RINGMQ_DASSERT(i < size_);
    for (size_t k = i; k + 1 < size_; ++k) {
      (*this)[k] = std::move((*this)[k + 1]);
    }
    (*this)[size_ - 1].~T();
    if (--size_ == 0) {
      Release();
    }
  }

  void clear() {
    for (size_t i = 0; i < size_; ++i) {
      (*this)[i].~T();
    }
    size_ = 0;
    Release();
  }

 private:
  void Grow() {
    RINGMQ_ASSERT(cap_ < (1u << 31));
    uint32_t cap = cap_ == 0 ? 4 : cap_ * 2;
    T* fresh = static_cast<T*>(::operator new(cap * sizeof(T), std::align_val_t(alignof(T))));
    for (size_t i = 0; i < size_; ++i) {
      new (&fresh[i]) T(std::move((*this)[i]));
      (*this)[i].~T();
    }
    if (slots_ != nullptr) {
      ::operator delete(slots_, std::align_val_t(alignof(T)));
    }
    slots_ = fresh;
    cap_ = cap;
    head_ = 0;
  }
  void Release() {
    if (slots_ != nullptr) {
      ::operator delete(slots_, std::align_val_t(alignof(T)));
    }
    slots_ = nullptr;
    cap_ = 0;
    head_ = 0;
  }

  // 24 bytes: every session and connection has a few of these.
  T* slots_ = nullptr;
  uint32_t cap_ = 0;
  uint32_t head_ = 0;
  uint32_t size_ = 0;
};

}  // namespace ringmq::base
