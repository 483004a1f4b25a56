#include "core/net/output_queue.h"

#include <cstdlib>
#include <cstring>

#include "core/base/asserts.h"

namespace ringmq::net {

void OutputQueue::Grow() {
  uint32_t cap = cap_ == 0 ? 4 : cap_ * 2;
  auto* segs = static_cast<Segment*>(std::malloc(cap * sizeof(Segment)));
  RINGMQ_ASSERT(segs != nullptr);
  for (uint32_t i = 0; i < count_; ++i) {
    segs[i] = At(i);
  }
  std::free(segs_);
  segs_ = segs;
  cap_ = cap;
  head_ = 0;
}

void OutputQueue::PushSegment(Buffer* buf, uint32_t offset, uint32_t len) {
  if (count_ == cap_) {
    Grow();
  }
  At(count_) = Segment{buf, offset, len};
  ++count_;
}

uint8_t* OutputQueue::AppendUninitialized(size_t n) {
  RINGMQ_DASSERT(n > 0);
  bytes_ += n;
  if (tail_private_) {
    Segment& tail = At(count_ - 1);
    Buffer* chunk = tail.buf;
    // The tail segment always ends at the chunk's size: append in place.
    if (chunk->available() >= n) {
      uint8_t* p = chunk->data() + chunk->size();
      chunk->set_size(chunk->size() + n);
      tail.len += static_cast<uint32_t>(n);
      return p;
    }
  }
  Buffer* chunk = Buffer::Allocate(n > kChunkSize ? n : kChunkSize);
  chunk->set_size(n);
  PushSegment(chunk, 0, static_cast<uint32_t>(n));
  tail_private_ = true;
  return chunk->data();
}

void OutputQueue::Append(std::span<const uint8_t> bytes) {
  if (bytes.empty()) {
    return;
  }
  std::memcpy(AppendUninitialized(bytes.size()), bytes.data(), bytes.size());
}

void OutputQueue::AppendShared(const BufferRef& buf, size_t offset, size_t len) {
  RINGMQ_DASSERT(offset + len <= buf->size());
  if (len == 0) {
    return;
  }
  buf->Ref();
  PushSegment(buf.get(), static_cast<uint32_t>(offset), static_cast<uint32_t>(len));
  tail_private_ = false;
  bytes_ += len;
}

int OutputQueue::Gather(iovec* iov, int max_iov, size_t max_bytes, size_t* total) const {
  int n = 0;
  size_t sum = 0;
  for (uint32_t i = 0; i < count_ && n < max_iov && sum < max_bytes; ++i) {
    const Segment& s = At(i);
    size_t len = s.len;
    if (sum + len > max_bytes) {
      len = max_bytes - sum;
    }
    iov[n].iov_base = s.buf->data() + s.offset;
    iov[n].iov_len = len;
    sum += len;
    ++n;
  }
  *total = sum;
  return n;
}

std::span<const uint8_t> OutputQueue::Front() const {
  if (count_ == 0) {
    return {};
  }
  const Segment& s = At(0);
  return {s.buf->data() + s.offset, s.len};
}

void OutputQueue::Consume(size_t n) {
  RINGMQ_ASSERT(n <= bytes_);
  bytes_ -= n;
  while (n > 0) {
    Segment& s = At(0);
    if (n < s.len) {
      s.offset += static_cast<uint32_t>(n);
      s.len -= static_cast<uint32_t>(n);
      return;
    }
    n -= s.len;
    s.buf->Unref();
    head_ = (head_ + 1) & (cap_ - 1);
    --count_;
    if (count_ == 0) {
      tail_private_ = false;
    }
  }
  if (count_ == 0) {
    // Free the segment ring too: an idle connection keeps no heap memory.
    std::free(segs_);
    segs_ = nullptr;
    cap_ = 0;
    head_ = 0;
  }
}

void OutputQueue::Clear() {
  for (uint32_t i = 0; i < count_; ++i) {
    At(i).buf->Unref();
  }
  std::free(segs_);
  segs_ = nullptr;
  cap_ = 0;
  head_ = 0;
  count_ = 0;
  bytes_ = 0;
  tail_private_ = false;
}

}  // namespace ringmq::net
