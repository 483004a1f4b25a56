#include "plugins/websocket/codec/frame_encoder.h"

#include <cstdint>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace ringmq::websocket {
namespace {

std::string Hex(std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

std::string BinaryHeader(size_t n) {
  std::string out;
  AppendBinaryHeader(n, &out);
  return out;
}

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(FrameEncoderTest, BinaryHeaderIsTheShortestForm) {
  EXPECT_EQ(Hex(BinaryHeader(0)), "8200");
  EXPECT_EQ(Hex(BinaryHeader(125)), "827d");
  EXPECT_EQ(Hex(BinaryHeader(126)), "827e007e");
  EXPECT_EQ(Hex(BinaryHeader(65535)), "827effff");
  EXPECT_EQ(Hex(BinaryHeader(65536)), "827f0000000000010000");
  EXPECT_EQ(Hex(BinaryHeader(size_t{1} << 40)), "827f0000010000000000");
}

TEST(FrameEncoderTest, WriteBinaryHeaderMatchesItsSize) {
  for (size_t n : {0, 1, 125, 126, 65535, 65536, 1 << 20}) {
    uint8_t out[kUnmaskedHeaderBytesMax];
    const size_t written = WriteBinaryHeader(n, out);
    EXPECT_EQ(written, BinaryHeaderSize(n)) << n;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(out), written), BinaryHeader(n)) << n;
  }
  EXPECT_EQ(BinaryHeaderSize(125), 2u);
  EXPECT_EQ(BinaryHeaderSize(126), 4u);
  EXPECT_EQ(BinaryHeaderSize(65536), 10u);
}

TEST(FrameEncoderTest, ControlFrames) {
  std::string out;
  ASSERT_TRUE(AppendControl(Opcode::kPong, Bytes("abc"), &out));
  EXPECT_EQ(Hex(out), "8a03616263");
  out.clear();
  ASSERT_TRUE(AppendControl(Opcode::kPing, {}, &out));
  EXPECT_EQ(Hex(out), "8900");
  out.clear();
  ASSERT_TRUE(AppendControl(Opcode::kPong, Bytes(std::string(125, 'x')), &out));
  EXPECT_EQ(out.size(), 127u);
}

TEST(FrameEncoderTest, ControlFrameRulesRefuseAndAppendNothing) {
  std::string out = "keep";
  EXPECT_FALSE(AppendControl(Opcode::kPong, Bytes(std::string(126, 'x')), &out));
  EXPECT_FALSE(AppendControl(Opcode::kBinary, Bytes("a"), &out));
  EXPECT_FALSE(AppendControl(Opcode::kContinuation, {}, &out));
  EXPECT_EQ(out, "keep");
}

TEST(FrameEncoderTest, CloseFrames) {
  std::string out;
  AppendClose(CloseCode::kNormal, "bye", &out);
  EXPECT_EQ(Hex(out), "880503e8627965");
  out.clear();
  AppendClose(CloseCode::kMessageTooBig, "", &out);
  EXPECT_EQ(Hex(out), "880203f1");
  out.clear();
  AppendClose(CloseCode::kNoStatus, "ignored", &out);  // may not be sent: an empty Close
  EXPECT_EQ(Hex(out), "8800");
}

TEST(FrameEncoderTest, CloseReasonIsCutToFitAtAUtf8Boundary) {
  std::string out;
  AppendClose(CloseCode::kNormal, std::string(200, 'r'), &out);
  EXPECT_EQ(out.size(), 2u + 125u);
  // 122 ASCII bytes then a 2-byte sequence that would end at byte 124 of the reason (> 123).
  out.clear();
  AppendClose(CloseCode::kNormal, std::string(122, 'r') + "\xC3\xA9", &out);
  EXPECT_EQ(out.size(), 2u + 2u + 122u);
  out.clear();
  AppendClose(CloseCode::kNormal, std::string(121, 'r') + "\xC3\xA9", &out);
  EXPECT_EQ(out.size(), 2u + 2u + 123u);
}

TEST(FrameEncoderTest, MaskedFrames) {
  std::string out;
  const MaskKey key = {0x37, 0xFA, 0x21, 0x3D};
  // RFC 6455 5.7: a single-frame masked text message "Hello".
  AppendMaskedFrame(Opcode::kText, Fin::kFinal, Bytes("Hello"), key, &out);
  EXPECT_EQ(Hex(out), "818537fa213d7f9f4d5158");
  out.clear();
  AppendMaskedFrame(Opcode::kBinary, Fin::kMore, Bytes(std::string(300, 'a')), key, &out);
  EXPECT_EQ(Hex(out.substr(0, 8)), "02fe012c37fa213d");
  EXPECT_EQ(out.size(), 8u + 300u);
  out.clear();
  AppendMaskedClose(CloseCode::kNormal, "", key, &out);
  EXPECT_EQ(Hex(out), "888237fa213d3412");
}

TEST(FrameEncoderTest, AppendsAfterExistingBytes) {
  std::string out = "xy";
  AppendBinaryHeader(3, &out);
  AppendMaskedFrame(Opcode::kBinary, Fin::kFinal, Bytes("Hello"), {0x37, 0xFA, 0x21, 0x3D}, &out);
  EXPECT_EQ(Hex(out),
            "78798203"
            "828537fa213d7f9f4d5158");
}

}  // namespace
}  // namespace ringmq::websocket
