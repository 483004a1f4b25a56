// SubscriptionTrie against the specification's matching rules (mqtt::TopicMatches, tested on its
// own in core/mqtt/topic_test.cc): every filter the trie reports for a topic, and no other.

#include "core/broker/subscription_trie.h"

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "core/mqtt/topic.h"

namespace ringmq::broker {
namespace {

// A trie whose filters carry a value: a node "has a value" when its shard bits are set.
struct Trie {
  SubscriptionTrie t;
  void Add(std::string_view f) { t.Insert(f)->shards = 1; }
  void Erase(std::string_view f) {
    if (FilterNode* n = t.Find(f)) {
      n->shards = 0;
      t.Prune(n);
    }
  }
  FilterNode* Find(std::string_view f) {
    FilterNode* n = t.Find(f);
    return n != nullptr && n->has_value() ? n : nullptr;
  }
};

std::vector<std::string> Matches(Trie& t, std::string_view topic) {
  std::vector<std::string> out;
  t.t.Match(topic, [&](FilterNode& n) { out.push_back(SubscriptionTrie::FilterOf(&n)); });
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<Trie> Build(const std::vector<std::string>& filters) {
  auto t = std::make_unique<Trie>();
  for (const std::string& f : filters) {
    t->Add(f);
  }
  return t;
}

TEST(SubscriptionTrieTest, WildcardsAndMultiLevelParent) {
  auto t = Build({"a/b", "a/+", "a/#", "+/b", "#", "a/b/c", "+/+/c"});
  EXPECT_EQ(Matches(*t, "a/b"), (std::vector<std::string>{"#", "+/b", "a/#", "a/+", "a/b"}));
  // [MQTT-4.7.1-2] "a/#" also matches the parent level "a".
  EXPECT_EQ(Matches(*t, "a"), (std::vector<std::string>{"#", "a/#"}));
  EXPECT_EQ(Matches(*t, "a/b/c"), (std::vector<std::string>{"#", "+/+/c", "a/#", "a/b/c"}));
  EXPECT_EQ(Matches(*t, "x/y"), (std::vector<std::string>{"#"}));
}

// A node flagged for shared groups (kept by the Router beside the trie) is a value: matched,
// and kept by Prune until the flag goes, whatever its flags for "+" and "#" children.
TEST(SubscriptionTrieTest, GroupedNodeIsAValueUntilTheFlagGoes) {
  Trie t;
  FilterNode* n = t.t.Insert("g/+");
  n->set_grouped(true);
  t.Add("g/+/#");  // gives "+" a "#" child: flags share the byte with `grouped`
  EXPECT_TRUE(n->grouped());
  EXPECT_EQ(Matches(t, "g/x"), (std::vector<std::string>{"g/+", "g/+/#"}));
  t.Erase("g/+/#");
  t.t.Prune(n);
  ASSERT_EQ(t.t.Find("g/+"), n);  // still grouped: kept
  EXPECT_TRUE(n->grouped());
  n->set_grouped(false);
  EXPECT_FALSE(n->has_value());
  t.t.Prune(n);
  EXPECT_TRUE(t.t.empty());
}

// [MQTT-4.7.2-1] a topic starting with '$' is not matched by a filter starting with a
// wildcard; it is matched by one that names its first level.
TEST(SubscriptionTrieTest, DollarTopicsNeedAnExplicitFirstLevel_MQTT_4_7_2_1) {
  auto t = Build({"#", "+/info", "$SYS/#", "$SYS/+", "$SYS/info"});
  EXPECT_EQ(Matches(*t, "$SYS/info"), (std::vector<std::string>{"$SYS/#", "$SYS/+", "$SYS/info"}));
  EXPECT_EQ(Matches(*t, "x/info"), (std::vector<std::string>{"#", "+/info"}));
}

TEST(SubscriptionTrieTest, EmptyLevelsAreLevels) {
  auto t = Build({"/", "+/+", "/+", "a//b", "a/+/b"});
  EXPECT_EQ(Matches(*t, "/"), (std::vector<std::string>{"+/+", "/", "/+"}));
  EXPECT_EQ(Matches(*t, "a//b"), (std::vector<std::string>{"a/+/b", "a//b"}));
}

TEST(SubscriptionTrieTest, FindEraseAndPrune) {
  auto t = Build({"a/b", "a/#", "a/+/c"});
  ASSERT_NE(t->Find("a/#"), nullptr);
  EXPECT_EQ(SubscriptionTrie::FilterOf(t->Find("a/#")), "a/#");
  EXPECT_EQ(t->Find("a"), nullptr);      // a path node, no value
  EXPECT_EQ(t->Find("a/+"), nullptr);    // a path node, no value
  EXPECT_EQ(t->Find("x/y/z"), nullptr);  // no such path
  t->Erase("a/b");
  EXPECT_EQ(t->Find("a/b"), nullptr);
  EXPECT_EQ(Matches(*t, "a/b"), (std::vector<std::string>{"a/#"}));
  t->Erase("a/#");
  t->Erase("a/+/c");
  t->Erase("never/inserted");
  EXPECT_TRUE(t->t.empty());  // every node pruned
  EXPECT_EQ(t->t.nodes(), 0u);
}

TEST(SubscriptionTrieTest, FilterOfSpellsEveryFilter) {
  const std::vector<std::string> filters = {"#", "a", "/a", "a/+/#", "+", "$SYS/x", "a//"};
  auto t = Build(filters);
  for (const std::string& f : filters) {
    ASSERT_NE(t->Find(f), nullptr) << f;
    EXPECT_EQ(SubscriptionTrie::FilterOf(t->Find(f)), f);
  }
}

// Many children of one level go into a set hashed by name; when one is left it goes back to
// the inline form, and the last one leaves nothing.
TEST(SubscriptionTrieTest, ManyChildrenAndBackToOne) {
  auto t = std::make_unique<Trie>();
  for (int i = 0; i < 1000; ++i) {
    t->Add("p/" + std::to_string(i));
  }
  EXPECT_EQ(Matches(*t, "p/999"), std::vector<std::string>{"p/999"});
  for (int i = 0; i < 999; ++i) {
    t->Erase("p/" + std::to_string(i));
  }
  EXPECT_EQ(t->t.nodes(), 2u);  // "p" and "p/999": the set went back to one child
  EXPECT_EQ(Matches(*t, "p/999"), std::vector<std::string>{"p/999"});
  t->Erase("p/999");
  EXPECT_TRUE(t->t.empty());
}

// Random filters and topics over a small alphabet (so that they collide often): the trie
// reports exactly the filters TopicMatches accepts, before and after erasing half of them.
TEST(SubscriptionTrieTest, AgreesWithTopicMatches) {
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
      ASSERT_EQ(Matches(*t, topic), want) << "topic '" << topic << "'";
    }
    // Erase every other filter and check again.
    std::vector<std::string> kept;
    for (size_t i = 0; i < filters.size(); ++i) {
      if (i % 2 == 0) {
        t->Erase(filters[i]);
      } else {
        kept.push_back(filters[i]);
      }
    }
    filters = kept;
  }
}

}  // namespace
}  // namespace ringmq::broker
