#include "plugins/websocket/codec/mask.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

namespace ringmq::websocket {
namespace {

std::vector<uint8_t> Pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) {
    v[i] = static_cast<uint8_t>(i * 31 + 7);
  }
  return v;
}

std::vector<uint8_t> NaiveMask(std::vector<uint8_t> v, const MaskKey& key) {
  for (size_t i = 0; i < v.size(); ++i) {
    v[i] ^= key[i % 4];
  }
  return v;
}

constexpr MaskKey kKey = {0x01, 0x80, 0xFE, 0x5A};

TEST(MaskTest, MatchesTheBytewiseDefinition) {
  for (size_t n = 0; n < 70; ++n) {
    std::vector<uint8_t> v = Pattern(n);
    const std::vector<uint8_t> want = NaiveMask(v, kKey);
    EXPECT_EQ(ApplyMask(v.data(), v.size(), kKey, 0), n % 4);
    EXPECT_EQ(v, want) << n;
  }
}

TEST(MaskTest, MaskingTwiceRestores) {
  std::vector<uint8_t> v = Pattern(1000);
  ApplyMask(v.data(), v.size(), kKey, 0);
  EXPECT_NE(v, Pattern(1000));
  ApplyMask(v.data(), v.size(), kKey, 0);
  EXPECT_EQ(v, Pattern(1000));
}

TEST(MaskTest, PiecesAtAnyOffsetEqualTheWhole) {
  const std::vector<uint8_t> want = NaiveMask(Pattern(41), kKey);
  for (size_t a = 0; a <= 41; ++a) {
    for (size_t b = a; b <= 41; ++b) {
      std::vector<uint8_t> v = Pattern(41);
      size_t offset = ApplyMask(v.data(), a, kKey, 0);
      offset = ApplyMask(v.data() + a, b - a, kKey, offset);
      ApplyMask(v.data() + b, 41 - b, kKey, offset);
      ASSERT_EQ(v, want) << a << " " << b;
    }
  }
}

TEST(MaskTest, UnalignedData) {
  std::vector<uint8_t> v = Pattern(100);
  std::vector<uint8_t> want = v;
  for (size_t i = 3; i < 100; ++i) {
    want[i] ^= kKey[(i - 3 + 2) % 4];
  }
  ApplyMask(v.data() + 3, 97, kKey, 2);
  EXPECT_EQ(v, want);
}

}  // namespace
}  // namespace ringmq::websocket
