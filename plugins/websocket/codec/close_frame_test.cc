#include "plugins/websocket/codec/close_frame.h"

#include <cstdint>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "plugins/websocket/codec/utf8.h"

namespace ringmq::websocket {
namespace {

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(CloseFrameTest, WireCodesAreTheRfcRanges) {
  for (uint32_t code = 0; code <= 0xFFFF; ++code) {
    const bool want = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
                      (code >= 3000 && code <= 4999);
    ASSERT_EQ(IsValidWireCloseCode(static_cast<uint16_t>(code)), want) << code;
  }
  EXPECT_FALSE(IsValidWireCloseCode(1005));
  EXPECT_FALSE(IsValidWireCloseCode(1006));
  EXPECT_FALSE(IsValidWireCloseCode(1015));
}

TEST(CloseFrameTest, Parse) {
  CloseFrame f;
  EXPECT_EQ(ParseClosePayload({}, &f), CloseCode::kNone);
  EXPECT_EQ(f.code, CloseCode::kNoStatus);
  EXPECT_EQ(f.reason, "");
  EXPECT_EQ(ParseClosePayload(Bytes("\x03\xE8"), &f), CloseCode::kNone);
  EXPECT_EQ(f.code, CloseCode::kNormal);
  EXPECT_EQ(ParseClosePayload(Bytes("\x0F\xA0going"), &f), CloseCode::kNone);
  EXPECT_EQ(static_cast<uint16_t>(f.code), 4000);
  EXPECT_EQ(f.reason, "going");
}

TEST(CloseFrameTest, ParseErrors) {
  CloseFrame f;
  EXPECT_EQ(ParseClosePayload(Bytes("\x03"), &f), CloseCode::kProtocolError);
  EXPECT_EQ(ParseClosePayload(Bytes("\x03\xED"), &f), CloseCode::kProtocolError);  // 1005
  EXPECT_EQ(ParseClosePayload(Bytes("\x03\xEE"), &f), CloseCode::kProtocolError);  // 1006
  EXPECT_EQ(ParseClosePayload(Bytes(std::string("\x00\x00", 2)), &f), CloseCode::kProtocolError);
  EXPECT_EQ(ParseClosePayload(Bytes("\x03\xE8\xFF"), &f), CloseCode::kInvalidPayload);
}

TEST(CloseFrameTest, AppendPayload) {
  std::string out;
  AppendClosePayload(CloseCode::kPolicyViolation, "no", &out);
  EXPECT_EQ(out, "\x03\xF0no");
  out.clear();
  AppendClosePayload(CloseCode::kAbnormal, "x", &out);
  EXPECT_EQ(out, "");
  AppendClosePayload(static_cast<CloseCode>(4999), std::string(300, 'a'), &out);
  EXPECT_EQ(out.size(), 125u);
}

TEST(Utf8Test, Valid) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xC2\x80\xDF\xBF"));                      // U+0080, U+07FF
  EXPECT_TRUE(IsValidUtf8("\xE0\xA0\x80\xED\x9F\xBF\xEF\xBF\xBF"));  // U+0800, U+D7FF, U+FFFF
  EXPECT_TRUE(IsValidUtf8("\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"));      // U+10000, U+10FFFF
  EXPECT_TRUE(IsValidUtf8(std::string_view("\0", 1)));
}

TEST(Utf8Test, Invalid) {
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation
  EXPECT_FALSE(IsValidUtf8("\xC0\x80"));          // overlong NUL
  EXPECT_FALSE(IsValidUtf8("\xC1\xBF"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xE0\x9F\xBF"));      // overlong 3-byte
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xF0\x8F\xBF\xBF"));  // overlong 4-byte
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));      // cut short
  EXPECT_FALSE(IsValidUtf8("\xE2\x28\xA1"));  // bad continuation
  EXPECT_FALSE(IsValidUtf8("\xFF"));
}

TEST(Utf8Test, PrefixNeverSplitsASequence) {
  const std::string s =
      "a\xE2\x82\xAC"
      "b\xF0\x9F\x98\x80";  // a € b 😀 (1+3+1+4 bytes)
  EXPECT_EQ(Utf8Prefix(s, 100), s);
  EXPECT_EQ(Utf8Prefix(s, 0), "");
  EXPECT_EQ(Utf8Prefix(s, 1), "a");
  EXPECT_EQ(Utf8Prefix(s, 2), "a");
  EXPECT_EQ(Utf8Prefix(s, 3), "a");
  EXPECT_EQ(Utf8Prefix(s, 4), "a\xE2\x82\xAC");
  EXPECT_EQ(Utf8Prefix(s, 5),
            "a\xE2\x82\xAC"
            "b");
  EXPECT_EQ(Utf8Prefix(s, 8),
            "a\xE2\x82\xAC"
            "b");
  EXPECT_EQ(Utf8Prefix(s, 9), s);
  for (size_t n = 0; n <= s.size(); ++n) {
    EXPECT_TRUE(IsValidUtf8(Utf8Prefix(s, n))) << n;
  }
}

}  // namespace
}  // namespace ringmq::websocket
