#include "core/broker/exact_interest.h"

#include "gtest/gtest.h"

namespace ringmq::broker {
namespace {

TEST(ExactInterestTest, ShardsComeAndGoWithTheirFilters) {
  ExactInterest x;
  const uint64_t h = ExactInterest::Hash("devices/4711/cmd");
  x.Apply(h, 1, true);
  x.Apply(h, 3, true);
  EXPECT_EQ(x.Shards("devices/4711/cmd"), 0b1010u);
  EXPECT_EQ(x.Shards("devices/4712/cmd"), 0u);
  x.Apply(h, 1, false);
  EXPECT_EQ(x.Shards("devices/4711/cmd"), 0b1000u);
  x.Apply(h, 3, false);
  EXPECT_EQ(x.Shards("devices/4711/cmd"), 0u);
  EXPECT_TRUE(x.empty());
}

TEST(ExactInterestTest, TheHashIsTheTopicsExactText) {
  EXPECT_EQ(ExactInterest::Hash("a/b"), ExactInterest::Hash(std::string("a/b")));
  EXPECT_NE(ExactInterest::Hash("a/b"), ExactInterest::Hash("a/b/"));
  EXPECT_NE(ExactInterest::Hash("a/b"), ExactInterest::Hash("A/b"));
}

// Two filters of one shard with the same hash: the shard stays wanted until both are gone,
// whichever goes first.
TEST(ExactInterestTest, ACollisionKeepsTheShardUntilTheLastFilterGoes) {
  ExactInterest x;
  const uint64_t h = 42;
  x.Apply(h, 2, true);   // filter A
  x.Apply(h, 2, true);   // filter B, same hash
  x.Apply(h, 0, true);   // another shard
  x.Apply(h, 2, false);  // A (or B) goes
  EXPECT_EQ(x.ShardsOf(h), 0b101u);
  x.Apply(h, 2, false);  // the other goes
  EXPECT_EQ(x.ShardsOf(h), 0b001u);
  x.Apply(h, 2, true);  // and one comes back
  EXPECT_EQ(x.ShardsOf(h), 0b101u);
  x.Apply(h, 2, false);
  x.Apply(h, 0, false);
  EXPECT_TRUE(x.empty());
}

TEST(ExactInterestTest, TheTableShrinksAsFiltersGo) {
  ExactInterest x;
  for (uint64_t h = 0; h < 100'000; ++h) {
    x.Apply(h, 1, true);
  }
  const size_t full = x.capacity();
  for (uint64_t h = 0; h < 99'990; ++h) {
    x.Apply(h, 1, false);
  }
  EXPECT_EQ(x.size(), 10u);
  EXPECT_LT(x.capacity(), full / 100);
  EXPECT_EQ(x.ShardsOf(99'995), 0b10u);
}

TEST(ExactInterestTest, ARemoveWithoutAnAddChangesNothing) {
  ExactInterest x;
  x.Apply(7, 1, false);
  EXPECT_TRUE(x.empty());
  x.Apply(7, 0, true);
  x.Apply(7, 1, false);
  EXPECT_EQ(x.ShardsOf(7), 1u);
}

}  // namespace
}  // namespace ringmq::broker
