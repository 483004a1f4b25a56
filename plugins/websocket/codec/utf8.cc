#include "plugins/websocket/codec/utf8.h"

#include <cstddef>

namespace ringmq::websocket {
namespace {

// The length of the sequence a lead byte starts, or 0 for a byte that cannot start one
// (continuation bytes, 0xC0/0xC1 which only start overlong forms, 0xF5 and above).
size_t SequenceLength(unsigned char c) {
  if (c < 0x80) {
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    return 4;
  }
  return 0;
}

// Whether the sequence starting with lead byte `c`, of length `len`, at `p` is well formed.
bool IsValidSequence(const unsigned char* p, size_t len) {
  // The second byte's range depends on the lead byte (overlong forms, surrogates, >10FFFF).
  const unsigned char c = p[0];
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (c == 0xE0) {
    lo = 0xA0;
  } else if (c == 0xED) {
    hi = 0x9F;
  } else if (c == 0xF0) {
    lo = 0x90;
  } else if (c == 0xF4) {
    hi = 0x8F;
  }
  for (size_t k = 1; k < len; ++k) {
    const unsigned char b = p[k];
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    const size_t len = SequenceLength(p[i]);
    if (len == 0 || len > s.size() - i || !IsValidSequence(p + i, len)) {
      return false;
    }
    i += len;
  }
  return true;
}

std::string_view Utf8Prefix(std::string_view s, size_t size_max) {
  if (s.size() <= size_max) {
    return s;
  }
  // Step back over continuation bytes (at most 3) to the start of the sequence that the cut
  // would split, and cut before it.
  size_t end = size_max;
  for (size_t back = 0; back < 4 && end > 0; ++back) {
    const auto c = static_cast<unsigned char>(s[end]);
    if ((c & 0xC0) != 0x80) {
      break;
    }
    --end;
  }
  return s.substr(0, end);
}

}  // namespace ringmq::websocket
