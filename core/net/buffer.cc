#include "core/net/buffer.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/base/asserts.h"

namespace ringmq::net {
Buffer* Buffer::Allocate(size_t capacity) {
  RINGMQ_ASSERT(capacity <= UINT32_MAX);
  void* mem = std::malloc(sizeof(Buffer) + capacity);
  RINGMQ_ASSERT(mem != nullptr);  // out of memory is fatal
  return new (mem) Buffer(static_cast<uint32_t>(capacity));
}

Buffer* Buffer::Copy(std::span<const uint8_t> bytes) {
  Buffer* b = Allocate(bytes.size());
  if (!bytes.empty()) {
    std::memcpy(b->data(), bytes.data(), bytes.size());
  }
  b->size_ = static_cast<uint32_t>(bytes.size());
  return b;
}

void Buffer::Free(Buffer* b) {
  b->~Buffer();
  std::free(b);
}

}  // namespace ringmq::net
