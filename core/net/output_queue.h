// OutputQueue: the bytes waiting to be sent on one connection. Shard-local (not thread-safe).
//
// A FIFO of segments, each a range of a Buffer. Small writes (acknowledgements, small
// PUBLISHes) are copied into a private chunk at the tail, so a burst of packets produced for
// a connection in one loop iteration usually forms one contiguous range and leaves in a
// single send. Large shared payloads are referenced, not copied (AppendShared). Gather()
// describes the head of the queue as iovecs for one send/writev; Consume() drops what the
// kernel took, so a partial send continues exactly where it stopped.
//
// An empty queue holds no heap memory: idle connections cost nothing here.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/net/buffer.h"

namespace ringmq::net {

class OutputQueue {
 public:
  // Size of the private chunks small writes are copied into.
  static constexpr size_t kChunkSize = 4096;

  OutputQueue() = default;
  OutputQueue(const OutputQueue&) = delete;
  OutputQueue& operator=(const OutputQueue&) = delete;
  ~OutputQueue() { Clear(); }

  // Copies `bytes` to the tail.
  void Append(std::span<const uint8_t> bytes);
  // Reserves `n` contiguous bytes at the tail and returns where to write them; the caller
  // must fill all `n` before the next call on this queue. Saves a copy when encoding.
  uint8_t* AppendUninitialized(size_t n);
  // Appends a reference to bytes [offset, offset+len) of a shared buffer.
  void AppendShared(const BufferRef& buf, size_t offset, size_t len);

  size_t bytes() const { return bytes_; }
  bool empty() const { return count_ == 0; }
  size_t segments() const { return count_; }

  // Describes up to `max_iov` leading segments (at most `max_bytes` bytes). Returns the number
  // of iovecs written; *total gets their byte count.
  int Gather(iovec* iov, int max_iov, size_t max_bytes, size_t* total) const;
  // The first segment alone (for a single send without an iovec array).
  std::span<const uint8_t> Front() const;
  // Drops `n` bytes from the head (n <= bytes()).
  void Consume(size_t n);
  void Clear();

 private:
  struct Segment {
    Buffer* buf;
    uint32_t offset;
    uint32_t len;
  };
  Segment& At(size_t i) const { return segs_[(head_ + i) & (cap_ - 1)]; }
  void PushSegment(Buffer* buf, uint32_t offset, uint32_t len);
  void Grow();

  Segment* segs_ = nullptr;  // ring of cap_ (power of two) segments; null when empty
  uint32_t cap_ = 0;
  uint32_t head_ = 0;
  uint32_t count_ = 0;
  // True if the tail segment's buffer is a private chunk of this queue that may still take
  // bytes after the segment's end.
  bool tail_private_ = false;
  size_t bytes_ = 0;
};

}  // namespace ringmq::net
