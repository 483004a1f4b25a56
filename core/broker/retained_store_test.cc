// RetainedStore on its own: limits, expiry (sweep and match), pruning of emptied nodes.
#include "core/broker/retained_store.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ringmq::broker {
namespace {

MessageRef Retained(std::string_view topic, std::string_view payload, int64_t expiry_ms = 0) {
  MessageInit init;
  init.topic = topic;
  init.payload = payload;
  init.retain = true;
  init.expiry_deadline_ms = expiry_ms;
  return Message::Create(init);
}

std::vector<std::string> Topics(RetainedStore& s, std::string_view filter, int64_t now_ms = 0) {
  std::vector<MessageRef> out;
  s.Match(filter, now_ms, &out);
  std::vector<std::string> topics;
  for (const MessageRef& m : out) {
    topics.emplace_back(m->topic());
  }
  std::sort(topics.begin(), topics.end());
  return topics;
}

TEST(RetainedStoreTest, CountLimitRefusesNewTopicsButReplacesExisting) {
  RetainedStore s({.max_count = 2});
  EXPECT_EQ(s.Set(Retained("a", "1")), RetainedStore::SetResult::kStored);
  EXPECT_EQ(s.Set(Retained("b", "1")), RetainedStore::SetResult::kStored);
  EXPECT_EQ(s.Set(Retained("c", "1")), RetainedStore::SetResult::kRefused);
  EXPECT_EQ(s.Set(Retained("a", "2")), RetainedStore::SetResult::kStored);  // a replacement
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(Topics(s, "#"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s.Set(Retained("b", "")), RetainedStore::SetResult::kDeleted);
  EXPECT_EQ(s.Set(Retained("c", "1")), RetainedStore::SetResult::kStored);  // room again
}

TEST(RetainedStoreTest, ByteLimitCountsFootprints) {
  const size_t one = Retained("t/1", std::string(100, 'x'))->footprint();
  RetainedStore s({.max_bytes = 2 * one});
  EXPECT_EQ(s.Set(Retained("t/1", std::string(100, 'x'))), RetainedStore::SetResult::kStored);
  EXPECT_EQ(s.Set(Retained("t/2", std::string(100, 'x'))), RetainedStore::SetResult::kStored);
  EXPECT_EQ(s.bytes(), 2 * one);
  EXPECT_EQ(s.Set(Retained("t/3", std::string(100, 'x'))), RetainedStore::SetResult::kRefused);
  // A larger replacement that does not fit is refused and the old value stays.
  EXPECT_EQ(s.Set(Retained("t/1", std::string(200, 'x'))), RetainedStore::SetResult::kRefused);
  EXPECT_EQ(s.bytes(), 2 * one);
}

// [MQTT-3.3.2-5] an expired retained message is removed by the periodic sweep, whether or not
// a subscription ever matches it, and its nodes go with it.
TEST(RetainedStoreTest, SweepRemovesExpiredAndPrunes) {
  RetainedStore s;
  s.Set(Retained("deep/a/b/c", "soon", /*expiry_ms=*/100));
  s.Set(Retained("deep/a/x", "later", /*expiry_ms=*/1000));
  s.Set(Retained("keep", "never"));
  const size_t nodes = s.nodes();
  EXPECT_EQ(s.SweepExpired(50), 0u);
  EXPECT_EQ(s.SweepExpired(100), 1u);
  EXPECT_EQ(s.size(), 2u);
  EXPECT_LT(s.nodes(), nodes);
  EXPECT_EQ(s.SweepExpired(5000), 1u);
  EXPECT_EQ(Topics(s, "#", 5000), (std::vector<std::string>{"keep"}));
  EXPECT_EQ(s.nodes(), 1u);  // only "keep"
}

// A replaced message's expiry entry is stale: the sweep leaves the new value alone.
TEST(RetainedStoreTest, SweepIgnoresReplacedMessages) {
  RetainedStore s;
  s.Set(Retained("t", "old", /*expiry_ms=*/100));
  s.Set(Retained("t", "new", /*expiry_ms=*/0));
  EXPECT_EQ(s.SweepExpired(1000), 0u);
  EXPECT_EQ(Topics(s, "t", 1000), (std::vector<std::string>{"t"}));
}

// Heavy replacement with expiries does not grow the expiry heap without bound.
TEST(RetainedStoreTest, ReplacementsDoNotAccumulate) {
  RetainedStore s;
  for (int i = 0; i < 100'000; ++i) {
    s.Set(Retained("t", "v", /*expiry_ms=*/1'000'000 + i));
  }
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.SweepExpired(2'000'000), 1u);
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.nodes(), 0u);
}

// A match that finds an expired message drops it and prunes its nodes.
TEST(RetainedStoreTest, MatchDropsExpiredAndPrunes) {
  RetainedStore s;
  s.Set(Retained("x/y/z", "gone", /*expiry_ms=*/10));
  EXPECT_TRUE(Topics(s, "x/#", 20).empty());
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.nodes(), 0u);
}

}  // namespace
}  // namespace ringmq::broker
