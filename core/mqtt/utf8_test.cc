// MQTT UTF-8 string rules (MQTT 5 §1.5.4, MQTT 3.1.1 §1.5.3): well-formed UTF-8 per RFC 3629,
// no surrogates, nothing above U+10FFFF, no U+0000; U+FEFF is an ordinary character.

#include "core/mqtt/utf8.h"

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace ringmq::mqtt {
namespace {

using namespace std::string_literals;

// A validator written from RFC 3629 §3-4 by decoding code points, independent of the
// byte-range tables in utf8.cc: rejects bad lead or continuation bytes, truncation,
// overlong forms, surrogates, values above U+10FFFF, and (for MQTT) U+0000.
bool ReferenceValid(std::string_view s) {
  static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    uint32_t cp;
    size_t n;
    if (c < 0x80) {
      cp = c;
      n = 1;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1Fu;
      n = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0Fu;
      n = 3;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07u;
      n = 4;
    } else {
      return false;
    }
    if (i + n > s.size()) {
      return false;
    }
    for (size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    if (cp < kMinForLength[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0) {
      return false;
    }
    i += n;
  }
  return true;
}

// Encodes a code point (any value up to 0x1FFFFF, surrogates included) in the usual UTF-8
// bit layout, so tests can build both valid and invalid sequences.
std::string EncodeCodePoint(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// Checks `s` alone and embedded at several alignments in ASCII, so both the 8-byte fast
// path and the byte-at-a-time path of the validator see it.
void ExpectValidity(const std::string& s, bool valid) {
  const std::string contexts[] = {
      s, "a" + s, "abcdefg" + s, "abcdefgh" + s + "ijklmnop", "0123456789abcde" + s + "z",
  };
  for (const std::string& c : contexts) {
    EXPECT_EQ(IsValidMqttUtf8(c), valid) << testing::PrintToString(c);
    EXPECT_EQ(CheckTopicNameChars(c), valid ? TopicNameCheck::kOk : TopicNameCheck::kBadUtf8)
        << testing::PrintToString(c);
  }
}

TEST(Utf8Test, AcceptsWellFormedStrings) {
  ExpectValidity("", true);
  ExpectValidity("sport/tennis/player1", true);
  ExpectValidity("\xC3\xA9", true);          // U+00E9
  ExpectValidity("\xC2\x80", true);          // U+0080, smallest 2-byte
  ExpectValidity("\xDF\xBF", true);          // U+07FF
  ExpectValidity("\xE0\xA0\x80", true);      // U+0800, smallest 3-byte
  ExpectValidity("\xE2\x82\xAC", true);      // U+20AC
  ExpectValidity("\xED\x9F\xBF", true);      // U+D7FF, just below the surrogates
  ExpectValidity("\xEE\x80\x80", true);      // U+E000, just above them
  ExpectValidity("\xEF\xBF\xBF", true);      // U+FFFF (a non-character: allowed)
  ExpectValidity("\xF0\x90\x80\x80", true);  // U+10000, smallest 4-byte
  ExpectValidity("\xF0\x9F\x98\x80", true);  // U+1F600
  ExpectValidity("\xF4\x8F\xBF\xBF", true);  // U+10FFFF, the largest
  ExpectValidity("\x01\x1F\x7F", true);      // control characters: SHOULD NOT only
  ExpectValidity("\xC2\x9F", true);          // U+009F, a C1 control
  ExpectValidity("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z", true);
}

// [MQTT-1.5.4-1] Ill-formed UTF-8: stray continuation bytes, bytes that never occur, and
// truncated sequences.
TEST(Utf8Test, RejectsIllFormedSequences_MQTT_1_5_4_1) {
  ExpectValidity("\x80", false);  // continuation without a lead
  ExpectValidity("\xBF", false);
  ExpectValidity("\xC3", false);              // truncated 2-byte
  ExpectValidity("\xE2\x82", false);          // truncated 3-byte
  ExpectValidity("\xF0\x9F\x98", false);      // truncated 4-byte
  ExpectValidity("\xC3\x41", false);          // lead followed by ASCII
  ExpectValidity("\xE2\x28\xA1", false);      // bad second byte
  ExpectValidity("\xE2\x82\x28", false);      // bad third byte
  ExpectValidity("\xF0\x9F\x98\x28", false);  // bad fourth byte
  ExpectValidity("\xFE", false);
  ExpectValidity("\xFF", false);
  ExpectValidity("\xF8\x88\x80\x80\x80", false);  // old 5-byte form
}

// [MQTT-1.5.4-1] Overlong encodings are not well-formed UTF-8 (RFC 3629: shortest form).
TEST(Utf8Test, RejectsOverlongEncodings_MQTT_1_5_4_1) {
  ExpectValidity("\xC0\xAF", false);          // '/' in two bytes
  ExpectValidity("\xC1\xBF", false);          // U+007F in two bytes
  ExpectValidity("\xE0\x80\xAF", false);      // '/' in three bytes
  ExpectValidity("\xE0\x9F\xBF", false);      // U+07FF in three bytes
  ExpectValidity("\xF0\x80\x80\xAF", false);  // '/' in four bytes
  ExpectValidity("\xF0\x8F\xBF\xBF", false);  // U+FFFF in four bytes
}

// [MQTT-1.5.4-1] The surrogates U+D800..U+DFFF must not be encoded.
TEST(Utf8Test, RejectsSurrogates_MQTT_1_5_4_1) {
  ExpectValidity("\xED\xA0\x80", false);              // U+D800
  ExpectValidity("\xED\xAD\xBF", false);              // U+DB7F
  ExpectValidity("\xED\xB0\x80", false);              // U+DC00
  ExpectValidity("\xED\xBF\xBF", false);              // U+DFFF
  ExpectValidity("\xED\xA0\xBD\xED\xB8\x80", false);  // CESU-8 pair for U+1F600
  for (uint32_t cp = 0xD800; cp <= 0xDFFF; ++cp) {
    ASSERT_FALSE(IsValidMqttUtf8(EncodeCodePoint(cp))) << std::hex << cp;
  }
}

// [MQTT-1.5.4-1] Nothing above U+10FFFF.
TEST(Utf8Test, RejectsCodePointsAboveU10FFFF_MQTT_1_5_4_1) {
  ExpectValidity("\xF4\x90\x80\x80", false);  // U+110000
  ExpectValidity("\xF4\xBF\xBF\xBF", false);
  ExpectValidity("\xF5\x80\x80\x80", false);
  ExpectValidity("\xF7\xBF\xBF\xBF", false);  // U+1FFFFF
}

// [MQTT-1.5.4-2] U+0000 is not allowed anywhere in the string; checked at every position so
// that the 8-byte fast path is covered at every offset.
TEST(Utf8Test, RejectsNulAtEveryPosition_MQTT_1_5_4_2) {
  for (size_t len = 1; len <= 24; ++len) {
    for (size_t at = 0; at < len; ++at) {
      std::string s(len, 'x');
      s[at] = '\0';
      ASSERT_FALSE(IsValidMqttUtf8(s)) << "len " << len << " at " << at;
      ASSERT_EQ(CheckTopicNameChars(s), TopicNameCheck::kBadUtf8) << "len " << len << " at " << at;
    }
  }
  // Modified UTF-8's two-byte NUL is overlong, so it is rejected as well.
  ExpectValidity("\xC0\x80", false);
}

// [MQTT-1.5.4-3] EF BB BF is U+FEFF (ZERO WIDTH NO-BREAK SPACE), a valid character wherever
// it occurs; the validator must accept it (and the decoders keep it, see conformance_test).
TEST(Utf8Test, AcceptsByteOrderMarkAnywhere_MQTT_1_5_4_3) {
  ExpectValidity("\xEF\xBB\xBF", true);
  ExpectValidity("\xEF\xBB\xBFx/b", true);
  ExpectValidity("a/\xEF\xBB\xBF/b", true);
  ExpectValidity("a/b\xEF\xBB\xBF", true);
}

TEST(Utf8Test, AllValidCodePointsAreAccepted) {
  for (uint32_t cp = 1; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      continue;
    }
    ASSERT_TRUE(IsValidMqttUtf8(EncodeCodePoint(cp))) << std::hex << cp;
  }
}

// Every 2-byte string, and every 3- and 4-byte string over the interesting byte values,
// agrees with the reference validator, alone and after 7 ASCII bytes.
TEST(Utf8Test, ShortSequencesAgreeWithReference) {
  auto check = [](const std::string& s) {
    const bool want = ReferenceValid(s);
    ASSERT_EQ(IsValidMqttUtf8(s), want) << testing::PrintToString(s);
    const std::string shifted = "abcdefg" + s + "hijklmnopq";
    ASSERT_EQ(IsValidMqttUtf8(shifted), want) << testing::PrintToString(shifted);
  };
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      check(std::string{static_cast<char>(a), static_cast<char>(b)});
    }
  }
  const int kTails[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
  for (int a = 0xE0; a < 0x100; ++a) {
    for (int b = 0; b < 256; ++b) {
      for (int c : kTails) {
        check(std::string{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
        check(std::string{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                          static_cast<char>(0x80)});
      }
    }
  }
}

// Random strings built from ASCII, valid and invalid multi-byte pieces, NULs and wildcards,
// compared with the reference at every length and alignment. Seeded; the seed is printed.
TEST(Utf8Test, RandomStringsAgreeWithReference) {
  constexpr uint32_t kSeed = 0x5EED0001;
  SCOPED_TRACE(testing::Message() << "seed " << kSeed);
  std::mt19937 rng(kSeed);
  auto pick = [&rng](uint32_t lo, uint32_t hi) {
    return std::uniform_int_distribution<uint32_t>(lo, hi)(rng);
  };
  for (int iter = 0; iter < 50'000; ++iter) {
    std::string s;
    const uint32_t pieces = pick(0, 24);
    for (uint32_t p = 0; p < pieces; ++p) {
      switch (pick(0, 9)) {
        case 0:
        case 1:
        case 2:
        case 3:
          s += static_cast<char>(pick(0x20, 0x7E));
          break;
        case 4:
          s += EncodeCodePoint(pick(0x80, 0x10FFFF));  // may be a surrogate
          break;
        case 5:
          s += EncodeCodePoint(pick(0x110000, 0x1FFFFF));  // out of range
          break;
        case 6:
          s += static_cast<char>(pick(0x80, 0xFF));  // any non-ASCII byte
          break;
        case 7: {
          std::string cp = EncodeCodePoint(pick(0x80, 0xFFFF));
          cp.pop_back();  // truncated sequence
          s += cp;
          break;
        }
        case 8:
          s += "\xC0\xAF";  // overlong
          break;
        default: {
          const char kSpecial[] = {'\0', '+', '#', '/'};
          s += kSpecial[pick(0, 3)];
          break;
        }
      }
    }
    const bool valid = ReferenceValid(s);
    ASSERT_EQ(IsValidMqttUtf8(s), valid) << testing::PrintToString(s);
    const bool has_wildcard = s.find_first_of("+#") != std::string::npos;
    const TopicNameCheck got = CheckTopicNameChars(s);
    if (valid) {
      ASSERT_EQ(got, has_wildcard ? TopicNameCheck::kWildcard : TopicNameCheck::kOk)
          << testing::PrintToString(s);
    } else if (!has_wildcard) {
      ASSERT_EQ(got, TopicNameCheck::kBadUtf8) << testing::PrintToString(s);
    } else {
      // Both faults present: either report is a rejection, which is all that matters.
      ASSERT_NE(got, TopicNameCheck::kOk) << testing::PrintToString(s);
    }
  }
}

// [MQTT-3.3.2-2], [MQTT-4.7.0-1] Topic names hold no wildcards: '+' and '#' are found at
// every position, in both the word-at-a-time and the byte-at-a-time paths.
TEST(Utf8Test, CheckTopicNameCharsFindsWildcardsAtEveryPosition) {
  for (char w : {'+', '#'}) {
    for (size_t len = 1; len <= 24; ++len) {
      for (size_t at = 0; at < len; ++at) {
        std::string s(len, 'a');
        s[at] = w;
        ASSERT_EQ(CheckTopicNameChars(s), TopicNameCheck::kWildcard)
            << "'" << w << "' len " << len << " at " << at;
        // The plain UTF-8 check does not care about wildcards.
        ASSERT_TRUE(IsValidMqttUtf8(s));
      }
    }
  }
  EXPECT_EQ(CheckTopicNameChars("\xC3\xA9+"), TopicNameCheck::kWildcard);
  EXPECT_EQ(CheckTopicNameChars("sport/tennis/player1"), TopicNameCheck::kOk);
  EXPECT_EQ(CheckTopicNameChars("$SYS/broker/uptime"), TopicNameCheck::kOk);
}

TEST(Utf8Test, CheckTopicNameCharsPrefersBadUtf8InTheSameWord) {
  // A NUL and a wildcard in one 8-byte word: the header documents that bad UTF-8 wins.
  EXPECT_EQ(CheckTopicNameChars("ab+d\0fgh"s), TopicNameCheck::kBadUtf8);
  EXPECT_EQ(CheckTopicNameChars("\xED\xA0\x80+"), TopicNameCheck::kBadUtf8);
}

}  // namespace
}  // namespace ringmq::mqtt
