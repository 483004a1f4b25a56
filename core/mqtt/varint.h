// MQTT Variable Byte Integer (MQTT 5 §1.5.5): 1 to 4 bytes, 7 bits each, least significant
// group first, high bit = "more bytes follow". Pure functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/mqtt/types.h"

namespace ringmq::mqtt {

enum class VarintStatus : uint8_t {
  kOk,
  kNeedMore,   // the input ends inside the integer
  kMalformed,  // a 5th byte would be needed, or a non-minimal encoding [MQTT-1.5.5-1]
};

// Decodes a Variable Byte Integer at `p` (at most `len` bytes available).
// On kOk sets *value and *size (1..4).
inline VarintStatus DecodeVarint(const uint8_t* p, size_t len, uint32_t* value, uint8_t* size) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) {
    if (i == len) {
      return VarintStatus::kNeedMore;
    }
    uint8_t b = p[i];
    v |= static_cast<uint32_t>(b & 0x7F) << (7 * i);
    if ((b & 0x80) == 0) {
      // A final byte of 0 after a continuation byte means a shorter encoding existed.
      if (b == 0 && i > 0) {
        return VarintStatus::kMalformed;
      }
      *value = v;
      *size = static_cast<uint8_t>(i + 1);
      return VarintStatus::kOk;
    }
  }
  return VarintStatus::kMalformed;
}

// Bytes needed to encode `v` (v <= kMaxVarint).
inline constexpr size_t VarintSize(uint32_t v) {
  return v < 128u ? 1 : v < 16'384u ? 2 : v < 2'097'152u ? 3 : 4;
}

// Writes `v` (v <= kMaxVarint) at `out`; returns the byte after it.
inline uint8_t* EncodeVarint(uint8_t* out, uint32_t v) {
  do {
    uint8_t b = v & 0x7F;
    v >>= 7;
    if (v != 0) {
      b |= 0x80;
    }
    *out++ = b;
  } while (v != 0);
  return out;
}

}  // namespace ringmq::mqtt
