// Variable Byte Integer encoding (MQTT 5 §1.5.5, MQTT 3.1.1 §2.2.3).

#include "core/mqtt/varint.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/mqtt/types.h"

namespace ringmq::mqtt {
namespace {

using Bytes = std::vector<uint8_t>;

struct VarintExample {
  uint32_t value;
  Bytes encoding;
};

// The boundary values of the table in MQTT 5 §1.5.5 (3.1.1 §2.2.3, Table 2.4), with the
// encodings written out by hand from the specification.
const VarintExample kSpecExamples[] = {
    {0, {0x00}},
    {127, {0x7F}},
    {128, {0x80, 0x01}},
    {16'383, {0xFF, 0x7F}},
    {16'384, {0x80, 0x80, 0x01}},
    {2'097'151, {0xFF, 0xFF, 0x7F}},
    {2'097'152, {0x80, 0x80, 0x80, 0x01}},
    {268'435'455, {0xFF, 0xFF, 0xFF, 0x7F}},
};

class VarintSpecExampleTest : public testing::TestWithParam<VarintExample> {};

TEST_P(VarintSpecExampleTest, EncodesToTheBytesOfTheSpecification) {
  const VarintExample& ex = GetParam();
  uint8_t buf[8];
  std::fill(std::begin(buf), std::end(buf), 0xA5);
  uint8_t* end = EncodeVarint(buf, ex.value);
  EXPECT_EQ(Bytes(buf, end), ex.encoding);
  EXPECT_EQ(VarintSize(ex.value), ex.encoding.size());
  // Nothing written past the encoding.
  for (uint8_t* p = end; p != std::end(buf); ++p) {
    EXPECT_EQ(*p, 0xA5);
  }
}

TEST_P(VarintSpecExampleTest, DecodesTheBytesOfTheSpecification) {
  const VarintExample& ex = GetParam();
  uint32_t value = 0xDEADBEEF;
  uint8_t size = 0;
  ASSERT_EQ(DecodeVarint(ex.encoding.data(), ex.encoding.size(), &value, &size), VarintStatus::kOk);
  EXPECT_EQ(value, ex.value);
  EXPECT_EQ(size, ex.encoding.size());
}

TEST_P(VarintSpecExampleTest, EveryShorterPrefixNeedsMore) {
  const VarintExample& ex = GetParam();
  for (size_t len = 0; len < ex.encoding.size(); ++len) {
    uint32_t value = 0;
    uint8_t size = 0;
    EXPECT_EQ(DecodeVarint(ex.encoding.data(), len, &value, &size), VarintStatus::kNeedMore)
        << "prefix of " << len << " bytes";
  }
}

TEST_P(VarintSpecExampleTest, StopsAtTheLastByteAndIgnoresWhatFollows) {
  const VarintExample& ex = GetParam();
  Bytes with_tail = ex.encoding;
  with_tail.push_back(0xFF);
  with_tail.push_back(0x80);
  uint32_t value = 0;
  uint8_t size = 0;
  ASSERT_EQ(DecodeVarint(with_tail.data(), with_tail.size(), &value, &size), VarintStatus::kOk);
  EXPECT_EQ(value, ex.value);
  EXPECT_EQ(size, ex.encoding.size());
}

INSTANTIATE_TEST_SUITE_P(Section155, VarintSpecExampleTest, testing::ValuesIn(kSpecExamples));

TEST(VarintTest, LargestValueIsTheWireLimit) {
  EXPECT_EQ(kMaxVarint, 268'435'455u);
  EXPECT_EQ(VarintSize(kMaxVarint), 4u);
  EXPECT_EQ(kMaxPacketSize, 1u + 4u + 268'435'455u);
}

// [MQTT-1.5.5-1] A value needing a fifth byte does not exist: four bytes with the
// continuation bit set are malformed, whatever follows.
TEST(VarintTest, FiveByteEncodingIsMalformed_MQTT_1_5_5_1) {
  const Bytes cases[] = {
      {0x80, 0x80, 0x80, 0x80, 0x01},
      {0xFF, 0xFF, 0xFF, 0xFF, 0x7F},
      {0xFF, 0xFF, 0xFF, 0xFF},  // malformed as soon as the fourth byte says "more"
      {0x80, 0x80, 0x80, 0x80, 0x00},
  };
  for (const Bytes& b : cases) {
    uint32_t value = 0;
    uint8_t size = 0;
    EXPECT_EQ(DecodeVarint(b.data(), b.size(), &value, &size), VarintStatus::kMalformed)
        << testing::PrintToString(b);
  }
}

// [MQTT-1.5.5-1] The encoding must use the minimum number of bytes: a final byte of 0 after
// a continuation byte means a shorter form existed.
TEST(VarintTest, NonMinimalEncodingIsMalformed_MQTT_1_5_5_1) {
  const Bytes cases[] = {
      {0x80, 0x00},              // 0 in two bytes
      {0x81, 0x00},              // 1 in two bytes
      {0xFF, 0x00},              // 127 in two bytes
      {0x80, 0x80, 0x00},        // 0 in three bytes
      {0xFF, 0xFF, 0x00},        // 16383 in three bytes
      {0x80, 0x80, 0x80, 0x00},  // 0 in four bytes
      {0x80, 0x81, 0x80, 0x00},  // 128 in four bytes
  };
  for (const Bytes& b : cases) {
    uint32_t value = 0;
    uint8_t size = 0;
    EXPECT_EQ(DecodeVarint(b.data(), b.size(), &value, &size), VarintStatus::kMalformed)
        << testing::PrintToString(b);
  }
}

TEST(VarintTest, EmptyInputNeedsMore) {
  uint32_t value = 0;
  uint8_t size = 0;
  EXPECT_EQ(DecodeVarint(nullptr, 0, &value, &size), VarintStatus::kNeedMore);
}

TEST(VarintTest, SizeChangesExactlyAtTheBoundaries) {
  EXPECT_EQ(VarintSize(0), 1u);
  EXPECT_EQ(VarintSize(127), 1u);
  EXPECT_EQ(VarintSize(128), 2u);
  EXPECT_EQ(VarintSize(16'383), 2u);
  EXPECT_EQ(VarintSize(16'384), 3u);
  EXPECT_EQ(VarintSize(2'097'151), 3u);
  EXPECT_EQ(VarintSize(2'097'152), 4u);
  EXPECT_EQ(VarintSize(268'435'455), 4u);
}

// A reference encoder written from the definition in §1.5.5, independent of EncodeVarint.
Bytes ReferenceEncode(uint32_t x) {
  Bytes out;
  do {
    uint8_t b = x % 128;
    x /= 128;
    if (x > 0) {
      b = b | 128;
    }
    out.push_back(b);
  } while (x > 0);
  return out;
}

TEST(VarintTest, RoundTripsValuesAroundEveryBoundaryAndRandomValues) {
  std::vector<uint32_t> values;
  for (uint32_t edge : {0u, 128u, 16'384u, 2'097'152u, 268'435'455u}) {
    for (int d = -3; d <= 3; ++d) {
      int64_t v = static_cast<int64_t>(edge) + d;
      if (v >= 0 && v <= kMaxVarint) {
        values.push_back(static_cast<uint32_t>(v));
      }
    }
  }
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<uint32_t> dist(0, kMaxVarint);
  for (int i = 0; i < 20'000; ++i) {
    values.push_back(dist(rng));
  }
  for (uint32_t v : values) {
    uint8_t buf[4];
    uint8_t* end = EncodeVarint(buf, v);
    const Bytes expected = ReferenceEncode(v);
    ASSERT_EQ(Bytes(buf, end), expected) << v;
    ASSERT_EQ(VarintSize(v), expected.size()) << v;
    uint32_t back = 0;
    uint8_t size = 0;
    ASSERT_EQ(DecodeVarint(buf, static_cast<size_t>(end - buf), &back, &size), VarintStatus::kOk)
        << v;
    ASSERT_EQ(back, v);
    ASSERT_EQ(size, expected.size());
  }
}

// Every 1- and 2-byte input either decodes to a value whose minimal encoding is exactly
// those bytes, needs more, or is malformed: no byte string is accepted in two ways.
TEST(VarintTest, ExhaustiveShortInputsAcceptOnlyMinimalEncodings) {
  for (int b0 = 0; b0 < 256; ++b0) {
    for (int b1 = 0; b1 < 256; ++b1) {
      const uint8_t in[2] = {static_cast<uint8_t>(b0), static_cast<uint8_t>(b1)};
      uint32_t value = 0;
      uint8_t size = 0;
      VarintStatus s = DecodeVarint(in, 2, &value, &size);
      if (b0 < 0x80) {
        ASSERT_EQ(s, VarintStatus::kOk);
        ASSERT_EQ(value, static_cast<uint32_t>(b0));
        ASSERT_EQ(size, 1);
      } else if (b1 >= 0x80) {
        ASSERT_EQ(s, VarintStatus::kNeedMore) << b0 << " " << b1;
      } else if (b1 == 0) {
        ASSERT_EQ(s, VarintStatus::kMalformed) << b0 << " " << b1;
      } else {
        ASSERT_EQ(s, VarintStatus::kOk);
        ASSERT_EQ(value, static_cast<uint32_t>((b0 & 0x7F) + 128 * b1));
        ASSERT_EQ(size, 2);
        ASSERT_EQ(ReferenceEncode(value), Bytes(in, in + 2));
      }
    }
  }
}

}  // namespace
}  // namespace ringmq::mqtt
