// Bounds-checked reading and unchecked writing of MQTT wire primitives (§1.5): bytes, 16-
// and 32-bit big-endian integers, Variable Byte Integers, and length-prefixed strings and
// binary data. Internal to core/mqtt.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/base/bytes.h"
#include "core/mqtt/varint.h"

namespace ringmq::mqtt::internal {

class WireReader {
 public:
  WireReader(const uint8_t* p, size_t len) : p_(p), end_(p + len) {}

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool empty() const { return p_ == end_; }
  const uint8_t* pos() const { return p_; }
  void Skip(size_t n) { p_ += n; }

  bool ReadU8(uint8_t* v) {
    if (p_ == end_) {
      return false;
    }
    *v = *p_++;
    return true;
  }
  bool ReadU16(uint16_t* v) {
    if (remaining() < 2) {
      return false;
    }
    *v = base::LoadBe16(p_);
    p_ += 2;
    return true;
  }
  bool ReadU32(uint32_t* v) {
    if (remaining() < 4) {
      return false;
    }
    *v = base::LoadBe32(p_);
    p_ += 4;
    return true;
  }
  // Inside a packet a truncated varint is malformed too, so NeedMore is reported as false.
  bool ReadVarint(uint32_t* v) {
    uint8_t size;
    if (DecodeVarint(p_, remaining(), v, &size) != VarintStatus::kOk) {
      return false;
    }
    p_ += size;
    return true;
  }
  // A 16-bit length followed by that many bytes (UTF-8 string or binary data).
  bool ReadLengthPrefixed(std::string_view* v) {
    uint16_t n;
    if (!ReadU16(&n) || remaining() < n) {
      return false;
    }
    *v = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  std::string_view Rest() const {
    return std::string_view(reinterpret_cast<const char*>(p_), remaining());
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

inline uint8_t* WriteU16(uint8_t* out, uint16_t v) {
  return base::StoreBe16(out, v);
}
inline uint8_t* WriteU32(uint8_t* out, uint32_t v) {
  return base::StoreBe32(out, v);
}
inline uint8_t* WriteBytes(uint8_t* out, std::string_view s) {
  if (!s.empty()) {
    std::memcpy(out, s.data(), s.size());
  }
  return out + s.size();
}
// Length-prefixed string or binary data; s.size() <= 65535.
inline uint8_t* WriteLengthPrefixed(uint8_t* out, std::string_view s) {
  out = base::StoreBe16(out, static_cast<uint16_t>(s.size()));
  return WriteBytes(out, s);
}
inline size_t LengthPrefixedSize(std::string_view s) {
  return 2 + s.size();
}

}  // namespace ringmq::mqtt::internal
