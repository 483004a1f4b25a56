// The shard hashes decide where sessions and retained messages live, also after a restart
// from the store: they must be fixed functions, spread well over any shard count, and spread
// sessions and retained topics independently.

#include "core/broker/shard_hash.h"

#include <array>
#include <string>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

namespace ringmq::broker {
namespace {

// Changing these values moves every stored session and retained message to another shard:
// a store migration, not a refactoring. Update them only together with one.
TEST(ShardHashTest, ValuesAreFixed) {
  static_assert(HomeShard("sensor-1", 64) == HomeShard("sensor-1", 64));
  EXPECT_EQ(HomeShard("", 8), HomeShard("", 8));
  const std::array<uint32_t, 6> home = {HomeShard("a", 16),        HomeShard("client-1", 16),
                                        HomeShard("client-2", 16), HomeShard("sensor-1", 16),
                                        HomeShard("x", 16),        HomeShard("", 16)};
  const std::array<uint32_t, 6> want_home = {5, 10, 5, 1, 11, 2};
  EXPECT_EQ(home, want_home);
  EXPECT_EQ(RetainShard("sensors/room42/temperature", 16), 2u);
}

TEST(ShardHashTest, InRange) {
  for (uint32_t n : {1u, 2u, 3u, 7u, 64u}) {
    for (int i = 0; i < 1000; ++i) {
      const std::string id = absl::StrFormat("c%d", i);
      EXPECT_LT(HomeShard(id, n), n);
      EXPECT_LT(RetainShard(id, n), n);
    }
  }
}

// Client ids that differ only in a counter (how fleets name devices) spread evenly, over
// power-of-two shard counts too (plain FNV-1a mod 2 puts "dev-0", "dev-2", ... on one shard).
TEST(ShardHashTest, SequentialIdsSpreadEvenly) {
  constexpr int kIds = 40000;
  for (uint32_t n : {2u, 3u, 4u, 8u}) {
    std::array<int, 8> count{};
    std::array<int, 8> even_count{};
    for (int i = 0; i < kIds; ++i) {
      const uint32_t s = HomeShard(absl::StrFormat("dev-%d", i), n);
      ++count[s];
      if (i % 2 == 0) {
        ++even_count[s];
      }
    }
    for (uint32_t s = 0; s < n; ++s) {
      const double expect = static_cast<double>(kIds) / n;
      EXPECT_NEAR(count[s], expect, expect * 0.05) << "shard " << s << " of " << n;
      EXPECT_NEAR(even_count[s], expect / 2, expect * 0.05) << "shard " << s << " of " << n;
    }
  }
}

// The retained partition of a string is independent of its home shard: over two shards the
// four combinations each take about a quarter.
TEST(ShardHashTest, HomeAndRetainAreIndependent) {
  constexpr int kKeys = 40000;
  std::array<int, 4> combo{};
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = absl::StrFormat("k/%d", i);
    ++combo[HomeShard(key, 2) * 2 + RetainShard(key, 2)];
  }
  for (int c : combo) {
    EXPECT_NEAR(c, kKeys / 4, kKeys / 4 * 0.05);
  }
}

}  // namespace
}  // namespace ringmq::broker
