#include "plugins/websocket/codec/mask.h"

#include <cstring>

namespace ringmq::websocket {

size_t ApplyMask(uint8_t* data, size_t size, const MaskKey& key, size_t key_offset) {
  // The key repeats every 4 bytes, so 8 bytes of it (rotated to the starting offset) cover any
  // 8-byte block, and byte i of the payload uses pattern[i % 8]. memcpy keeps the loads and
  // stores unaligned-safe; compilers turn the loop into 8- or 16-byte XORs.
  uint8_t pattern[8];
  for (size_t i = 0; i < sizeof(pattern); ++i) {
    pattern[i] = key[(key_offset + i) & 3];
  }
  uint64_t mask64 = 0;
  std::memcpy(&mask64, pattern, sizeof(mask64));
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t block = 0;
    std::memcpy(&block, data + i, sizeof(block));
    block ^= mask64;
    std::memcpy(data + i, &block, sizeof(block));
  }
  for (; i < size; ++i) {
    data[i] ^= pattern[i & 7];
  }
  return (key_offset + size) & 3;
}

}  // namespace ringmq::websocket
