// Buffer: a heap block of bytes with an atomic reference count, and BufferRef, the smart
// pointer that holds one reference. Any thread.
//
// Buffers are how bytes are shared without copying: a PUBLISH encoded once is referenced
// from the output queues of every receiver, on every shard (the count is atomic for that
// reason; one increment per queue, not per byte). Rule: once a Buffer has more than one
// reference its bytes are immutable.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

namespace ringmq::net {

class Buffer {
 public:
  // A buffer of `capacity` bytes with size() == 0 and one reference.
  static Buffer* Allocate(size_t capacity);
  // A buffer holding a copy of `bytes` (size() == bytes.size()).
  static Buffer* Copy(std::span<const uint8_t> bytes);

  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  uint8_t* data() { return reinterpret_cast<uint8_t*>(this + 1); }
  const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(this + 1); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  size_t available() const { return capacity_ - size_; }
  void set_size(size_t n) { size_ = static_cast<uint32_t>(n); }
  std::span<const uint8_t> bytes() const { return {data(), size_}; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data()), size_}; }

  void Ref() const { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() const {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      Free(const_cast<Buffer*>(this));
    }
  }
  // True if the caller holds the only reference (then the bytes may be modified).
  bool unique() const { return refs_.load(std::memory_order_acquire) == 1; }

 private:
  Buffer(uint32_t capacity) : capacity_(capacity) {}
  static void Free(Buffer* b);

  mutable std::atomic<uint32_t> refs_{1};
  uint32_t capacity_;
  uint32_t size_ = 0;
  [[maybe_unused]] uint32_t reserved_ = 0;  // keeps data() 16-byte aligned
};
static_assert(sizeof(Buffer) == 16, "Buffer header must stay 16 bytes");

// Owns one reference to a Buffer (or nothing).
class BufferRef {
 public:
  BufferRef() = default;
  // Adopts the reference the caller holds (e.g. from Buffer::Allocate).
  static BufferRef Adopt(Buffer* b) { return BufferRef(b); }
  // Takes a new reference.
  static BufferRef Share(const Buffer* b) {
    b->Ref();
    return BufferRef(const_cast<Buffer*>(b));
  }

  BufferRef(const BufferRef& o) : b_(o.b_) {
    if (b_ != nullptr) {
      b_->Ref();
    }
  }
  BufferRef(BufferRef&& o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
  BufferRef& operator=(BufferRef o) noexcept {
    std::swap(b_, o.b_);
    return *this;
  }
  ~BufferRef() {
    if (b_ != nullptr) {
      b_->Unref();
    }
  }

  Buffer* get() const { return b_; }
  Buffer* operator->() const { return b_; }
  Buffer& operator*() const { return *b_; }
  explicit operator bool() const { return b_ != nullptr; }
  // Gives up the reference without releasing it.
  Buffer* release() { return std::exchange(b_, nullptr); }

 private:
  explicit BufferRef(Buffer* b) : b_(b) {}
  Buffer* b_ = nullptr;
};

}  // namespace ringmq::net
