#include "core/mqtt/utf8.h"

#include <cstdint>
#include <cstring>

namespace ringmq::mqtt {
namespace {

constexpr uint64_t kOnes = 0x0101010101010101ull;
constexpr uint64_t kHighs = 0x8080808080808080ull;

// Non-zero if any byte of `w` is zero (the classic SWAR test; exact, no false positives,
// when used only as "any" over bytes below 0x80).
inline uint64_t HasZeroByte(uint64_t w) {
  return (w - kOnes) & ~w & kHighs;
}

inline uint64_t Load64(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// Validates one multi-byte sequence starting at s[i] (s[i] >= 0x80); returns its length or 0.
inline size_t MultiByteLength(const unsigned char* s, size_t i, size_t n) {
  unsigned char c = s[i];
  auto cont = [&](size_t k) { return i + k < n && (s[i + k] & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) {
    return cont(1) ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) {
      return 0;
    }
    unsigned char c1 = s[i + 1];
    if (c == 0xE0 && c1 < 0xA0) {
      return 0;  // overlong
    }
    if (c == 0xED && c1 >= 0xA0) {
      return 0;  // surrogate U+D800..U+DFFF [MQTT-1.5.4-1]
    }
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) {
      return 0;
    }
    unsigned char c1 = s[i + 1];
    if (c == 0xF0 && c1 < 0x90) {
      return 0;  // overlong
    }
    if (c == 0xF4 && c1 >= 0x90) {
      return 0;  // above U+10FFFF
    }
    return 4;
  }
  return 0;  // continuation byte without a lead, 0xC0/0xC1 (overlong), or 0xF5..0xFF
}

template <bool kRejectWildcards>
TopicNameCheck Check(std::string_view sv) {
  const auto* s = reinterpret_cast<const unsigned char*>(sv.data());
  const size_t n = sv.size();
  size_t i = 0;
  while (i < n) {
    // Fast path: 8 ASCII bytes at a time.
    if (i + 8 <= n) {
      uint64_t w = Load64(sv.data() + i);
      if ((w & kHighs) == 0) {
        uint64_t bad = HasZeroByte(w);
        if constexpr (kRejectWildcards) {
          uint64_t wild = HasZeroByte(w ^ (kOnes * '+')) | HasZeroByte(w ^ (kOnes * '#'));
          if (wild != 0 && bad == 0) {
            return TopicNameCheck::kWildcard;
          }
        }
        if (bad != 0) {
          return TopicNameCheck::kBadUtf8;
        }
        i += 8;
        continue;
      }
    }
    unsigned char c = s[i];
    if (c < 0x80) {
      if (c == 0) {
        return TopicNameCheck::kBadUtf8;  // U+0000 [MQTT-1.5.4-2]
      }
      if constexpr (kRejectWildcards) {
        if (c == '+' || c == '#') {
          return TopicNameCheck::kWildcard;
        }
      }
      ++i;
      continue;
    }
    size_t len = MultiByteLength(s, i, n);
    if (len == 0) {
      return TopicNameCheck::kBadUtf8;
    }
    i += len;
  }
  return TopicNameCheck::kOk;
}

}  // namespace

bool IsValidMqttUtf8(std::string_view s) {
  return Check<false>(s) == TopicNameCheck::kOk;
}

TopicNameCheck CheckTopicNameChars(std::string_view s) {
  // Both a zero byte and a wildcard can sit in one 8-byte word; the rule is that bad UTF-8
  // (malformed) wins over a wildcard, so the fast path reports a wildcard only when the
  // word has no zero byte.
  return Check<true>(s);
}

}  // namespace ringmq::mqtt
