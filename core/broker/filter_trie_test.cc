// FilterTrie against the specification's matching rules (mqtt::TopicMatches, tested on its own
// in core/mqtt/topic_test.cc): every filter the trie reports for a topic, and no other.

#include "core/broker/filter_trie.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "core/mqtt/topic.h"

namespace ringmq::broker {
namespace {

struct Value {
  std::string filter;
};

std::vector<std::string> Matches(FilterTrie<Value>& t, std::string_view topic) {
  std::vector<std::string> out;
  t.Match(topic, [&](Value& v) { out.push_back(v.filter); });
  std::sort(out.begin(), out.end());
  return out;
}

FilterTrie<Value> Build(const std::vector<std::string>& filters) {
  FilterTrie<Value> t;
  for (const std::string& f : filters) {
    t.Insert(f).filter = f;
  }
  return t;
}

TEST(FilterTrieTest, WildcardsAndMultiLevelParent) {
  auto t = Build({"a/b", "a/+", "a/#", "+/b", "#", "a/b/c", "+/+/c"});
  EXPECT_EQ(Matches(t, "a/b"), (std::vector<std::string>{"#", "+/b", "a/#", "a/+", "a/b"}));
  // [MQTT-4.7.1-2] "a/#" also matches the parent level "a".
  EXPECT_EQ(Matches(t, "a"), (std::vector<std::string>{"#", "a/#"}));
  EXPECT_EQ(Matches(t, "a/b/c"), (std::vector<std::string>{"#", "+/+/c", "a/#", "a/b/c"}));
  EXPECT_EQ(Matches(t, "x/y"), (std::vector<std::string>{"#"}));
}

// [MQTT-4.7.2-1] a topic starting with '$' is not matched by a filter starting with a
// wildcard; it is matched by one that names its first level.
TEST(FilterTrieTest, DollarTopicsNeedAnExplicitFirstLevel_MQTT_4_7_2_1) {
  auto t = Build({"#", "+/info", "$SYS/#", "$SYS/+", "$SYS/info"});
  EXPECT_EQ(Matches(t, "$SYS/info"), (std::vector<std::string>{"$SYS/#", "$SYS/+", "$SYS/info"}));
  EXPECT_EQ(Matches(t, "x/info"), (std::vector<std::string>{"#", "+/info"}));
}

TEST(FilterTrieTest, EmptyLevelsAreLevels) {
  auto t = Build({"/", "+/+", "/+", "a//b", "a/+/b"});
  EXPECT_EQ(Matches(t, "/"), (std::vector<std::string>{"+/+", "/", "/+"}));
  EXPECT_EQ(Matches(t, "a//b"), (std::vector<std::string>{"a/+/b", "a//b"}));
}

TEST(FilterTrieTest, FindEraseAndPrune) {
  auto t = Build({"a/b", "a/#", "a/+/c"});
  ASSERT_NE(t.Find("a/#"), nullptr);
  EXPECT_EQ(t.Find("a/#")->filter, "a/#");
  EXPECT_EQ(t.Find("a"), nullptr);      // a path node, no value
  EXPECT_EQ(t.Find("a/+"), nullptr);    // a path node, no value
  EXPECT_EQ(t.Find("x/y/z"), nullptr);  // no such path
  t.Erase("a/b");
  EXPECT_EQ(t.Find("a/b"), nullptr);
  EXPECT_EQ(Matches(t, "a/b"), (std::vector<std::string>{"a/#"}));
  t.Erase("a/#");
  t.Erase("a/+/c");
  t.Erase("never/inserted");
  EXPECT_TRUE(t.empty());  // every node pruned
}

TEST(FilterTrieTest, ForEachRebuildsEveryFilter) {
  const std::vector<std::string> filters = {"#", "a", "/a", "a/+/#", "+", "$SYS/x", "a//"};
  auto t = Build(filters);
  std::vector<std::string> seen;
  t.ForEach([&](std::string_view f, Value& v) {
    EXPECT_EQ(f, v.filter);
    seen.emplace_back(f);
  });
  std::sort(seen.begin(), seen.end());
  std::vector<std::string> want = filters;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(seen, want);
}

// Random filters and topics over a small alphabet (so that they collide often): the trie
// reports exactly the filters TopicMatches accepts, before and after erasing half of them.
TEST(FilterTrieTest, AgreesWithTopicMatches) {
  std::mt19937 rng(20261124);
  const std::vector<std::string> levels = {"a", "b", "", "$x"};
  auto random_topic = [&](bool filter) {
    std::string s;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      if (i > 0) {
        s += '/';
      }
      const unsigned r = rng() % 10;
      if (filter && r == 0 && i == n - 1) {
        s += '#';
      } else if (filter && r < 3) {
        s += '+';
      } else {
        const std::string& l = levels[rng() % levels.size()];
        s += (l[0] == '$' && i > 0) ? "x" : l;
      }
    }
    return s;
  };
  std::vector<std::string> filters;
  for (int i = 0; i < 300; ++i) {
    std::string f = random_topic(true);
    if (mqtt::ValidateTopicFilter(f) == mqtt::TopicError::kOk &&
        std::find(filters.begin(), filters.end(), f) == filters.end()) {
      filters.push_back(f);
    }
  }
  auto t = Build(filters);
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 500; ++i) {
      const std::string topic = random_topic(false);
      if (mqtt::ValidateTopicName(topic) != mqtt::TopicError::kOk) {
        continue;
      }
      std::vector<std::string> want;
      for (const std::string& f : filters) {
        if (mqtt::TopicMatches(f, topic)) {
          want.push_back(f);
        }
      }
      std::sort(want.begin(), want.end());
      ASSERT_EQ(Matches(t, topic), want) << "topic '" << topic << "'";
    }
    // Erase every other filter and check again.
    std::vector<std::string> kept;
    for (size_t i = 0; i < filters.size(); ++i) {
      if (i % 2 == 0) {
        t.Erase(filters[i]);
      } else {
        kept.push_back(filters[i]);
      }
    }
    filters = kept;
  }
}

}  // namespace
}  // namespace ringmq::broker
