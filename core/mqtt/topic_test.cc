// Topic names, topic filters, shared subscriptions and matching (MQTT 5 §4.7, §4.8).

#include "core/mqtt/topic.h"

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace ringmq::mqtt {
namespace {

using namespace std::string_literals;

// ---- names and filters ---------------------------------------------------------------------

TEST(TopicNameTest, AcceptsOrdinaryNames) {
  for (std::string_view n : {"a", "sport/tennis/player1", "/", "//", "a//b", "/finance",
                             "$SYS/broker/uptime", "$share/g/a", "\xC3\xA9t\xC3\xA9", " "}) {
    EXPECT_EQ(ValidateTopicName(n), TopicError::kOk) << n;
  }
}

// [MQTT-4.7.3-1] Topic names are at least one character long.
TEST(TopicNameTest, RejectsEmptyName_MQTT_4_7_3_1) {
  EXPECT_EQ(ValidateTopicName(""), TopicError::kEmpty);
}

// [MQTT-3.3.2-2], [MQTT-4.7.0-1] No wildcard characters in a topic name.
TEST(TopicNameTest, RejectsWildcards_MQTT_3_3_2_2) {
  for (std::string_view n : {"+", "#", "a/+", "a/#", "a/+/b", "a+", "#a", "sport/tennis#"}) {
    EXPECT_EQ(ValidateTopicName(n), TopicError::kWildcardInName) << n;
  }
}

// [MQTT-1.5.4-1], [MQTT-4.7.3-2] Names are MQTT UTF-8 strings without U+0000.
TEST(TopicNameTest, RejectsBadUtf8AndNul_MQTT_4_7_3_2) {
  EXPECT_EQ(ValidateTopicName("a\0b"s), TopicError::kBadUtf8);
  EXPECT_EQ(ValidateTopicName("\xED\xA0\x80"), TopicError::kBadUtf8);
  EXPECT_EQ(ValidateTopicName("a/\xC0\xAF"), TopicError::kBadUtf8);
}

// [MQTT-4.7.3-3] The limit is the 16-bit length prefix: 65,535 bytes are fine.
TEST(TopicNameTest, AcceptsMaximumLength_MQTT_4_7_3_3) {
  std::string longest(65'535, 'x');
  EXPECT_EQ(ValidateTopicName(longest), TopicError::kOk);
  EXPECT_EQ(ValidateTopicFilter(longest), TopicError::kOk);
}

TEST(TopicFilterTest, AcceptsValidFilters) {
  for (std::string_view f :
       {"#", "+", "a", "a/#", "a/+", "+/+", "/+", "+/", "a/+/b", "+/#", "/", "a//b", "/#",
        "sport/tennis/#", "sport/+/player1", "$SYS/#", "+/+/+/+", "$share", "$sharefoo/a"}) {
    EXPECT_EQ(ValidateTopicFilter(f), TopicError::kOk) << f;
  }
}

// [MQTT-4.7.3-1]
TEST(TopicFilterTest, RejectsEmptyFilter_MQTT_4_7_3_1) {
  EXPECT_EQ(ValidateTopicFilter(""), TopicError::kEmpty);
}

// [MQTT-4.7.1-1] '#' stands alone in its level and is the last character of the filter.
TEST(TopicFilterTest, RejectsMisplacedMultiLevelWildcard_MQTT_4_7_1_1) {
  for (std::string_view f : {"a#", "#a", "a/#/b", "#/", "#/a", "a/b#", "##", "a/##", "a/#+"}) {
    EXPECT_EQ(ValidateTopicFilter(f), TopicError::kBadMultiLevel) << f;
  }
}

// [MQTT-4.7.1-2] '+' occupies a whole level.
TEST(TopicFilterTest, RejectsMisplacedSingleLevelWildcard_MQTT_4_7_1_2) {
  for (std::string_view f : {"a+", "+a", "a/+b", "a/b+/c", "++", "+/a+", "sport+"}) {
    EXPECT_EQ(ValidateTopicFilter(f), TopicError::kBadSingleLevel) << f;
  }
}

// [MQTT-1.5.4-1], [MQTT-4.7.3-2]
TEST(TopicFilterTest, RejectsBadUtf8AndNul_MQTT_4_7_3_2) {
  EXPECT_EQ(ValidateTopicFilter("a/\0"s), TopicError::kBadUtf8);
  EXPECT_EQ(ValidateTopicFilter("\xF4\x90\x80\x80/#"), TopicError::kBadUtf8);
}

// ---- shared subscriptions ------------------------------------------------------------------

TEST(SharedFilterTest, ParsesShareNameAndFilter) {
  SharedFilter sf;
  ASSERT_EQ(ParseSharedFilter("$share/group1/sport/tennis/+", &sf), TopicError::kOk);
  EXPECT_EQ(sf.share_name, "group1");
  EXPECT_EQ(sf.filter, "sport/tennis/+");
  ASSERT_EQ(ParseSharedFilter("$share/g/#", &sf), TopicError::kOk);
  EXPECT_EQ(sf.share_name, "g");
  EXPECT_EQ(sf.filter, "#");
  // The inner filter may itself start with '/' (an empty first level).
  ASSERT_EQ(ParseSharedFilter("$share/g//a", &sf), TopicError::kOk);
  EXPECT_EQ(sf.filter, "/a");
  EXPECT_TRUE(IsSharedFilter("$share/g/a"));
  EXPECT_FALSE(IsSharedFilter("$share"));
  EXPECT_FALSE(IsSharedFilter("$sharex/g/a"));
  EXPECT_FALSE(IsSharedFilter("a/$share/g"));
}

// [MQTT-4.8.2-1] The ShareName is at least one character long.
TEST(SharedFilterTest, RejectsEmptyShareName_MQTT_4_8_2_1) {
  EXPECT_EQ(ValidateTopicFilter("$share//a"), TopicError::kBadShareName);
  EXPECT_EQ(ValidateTopicFilter("$share/"), TopicError::kBadShareName);
}

// [MQTT-4.8.2-2] The ShareName holds no '/', '+' or '#' and is followed by '/' and a filter.
TEST(SharedFilterTest, RejectsBadShareNameOrMissingFilter_MQTT_4_8_2_2) {
  EXPECT_EQ(ValidateTopicFilter("$share/g+/a"), TopicError::kBadShareName);
  EXPECT_EQ(ValidateTopicFilter("$share/+/a"), TopicError::kBadShareName);
  EXPECT_EQ(ValidateTopicFilter("$share/#/a"), TopicError::kBadShareName);
  EXPECT_EQ(ValidateTopicFilter("$share/g#"), TopicError::kBadShareName);
  EXPECT_EQ(ValidateTopicFilter("$share/group"), TopicError::kBadShareName);
  EXPECT_EQ(ValidateTopicFilter("$share/group/"), TopicError::kEmptySharedFilter);
  // The filter after the ShareName follows the ordinary rules.
  EXPECT_EQ(ValidateTopicFilter("$share/g/a#"), TopicError::kBadMultiLevel);
  EXPECT_EQ(ValidateTopicFilter("$share/g/a+"), TopicError::kBadSingleLevel);
  EXPECT_EQ(ValidateTopicFilter("$share/\xC0\xAF/a"), TopicError::kBadUtf8);
}

TEST(TopicErrorTextTest, NamesTheStatement) {
  EXPECT_NE(TopicErrorText(TopicError::kEmpty).find("MQTT-4.7.3-1"), std::string_view::npos);
  EXPECT_NE(TopicErrorText(TopicError::kBadMultiLevel).find("MQTT-4.7.1-1"),
            std::string_view::npos);
  EXPECT_NE(TopicErrorText(TopicError::kBadSingleLevel).find("MQTT-4.7.1-2"),
            std::string_view::npos);
  EXPECT_NE(TopicErrorText(TopicError::kWildcardInName).find("MQTT-3.3.2-2"),
            std::string_view::npos);
  EXPECT_NE(TopicErrorText(TopicError::kBadShareName).find("MQTT-4.8.2"), std::string_view::npos);
}

TEST(TopicHelpersTest, LevelCountAndWildcards) {
  EXPECT_EQ(TopicLevelCount("a"), 1u);
  EXPECT_EQ(TopicLevelCount("a/b"), 2u);
  EXPECT_EQ(TopicLevelCount("/"), 2u);
  EXPECT_EQ(TopicLevelCount("a//b/"), 4u);
  EXPECT_TRUE(HasWildcard("a/+"));
  EXPECT_TRUE(HasWildcard("#"));
  EXPECT_FALSE(HasWildcard("a/b"));
  EXPECT_FALSE(HasWildcard("$SYS/x"));
}

// ---- matching ------------------------------------------------------------------------------

struct MatchCase {
  std::string_view filter;
  std::string_view name;
  bool matches;
};

void ExpectMatches(std::initializer_list<MatchCase> cases) {
  for (const MatchCase& c : cases) {
    EXPECT_EQ(TopicMatches(c.filter, c.name), c.matches)
        << "filter '" << c.filter << "' name '" << c.name << "'";
  }
}

// The examples of MQTT 5 §4.7.1.2 (multi-level wildcard).
TEST(TopicMatchTest, MultiLevelWildcardExamples) {
  ExpectMatches({
      {"sport/tennis/player1/#", "sport/tennis/player1", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
      {"sport/tennis/player1/#", "sport/tennis/player2", false},
      {"sport/tennis/player1/#", "sport/tennis", false},
      {"sport/#", "sport", true},  // '#' includes the parent level
      {"a/#", "a", true},
      {"a/#", "a/", true},
      {"a/#", "ab", false},
      {"a/#", "b", false},
      {"a/b/#", "a", false},
      {"#", "a", true},
      {"#", "a/b/c", true},
      {"#", "/", true},
      {"+/#", "a", true},
  });
}

// The examples of MQTT 5 §4.7.1.3 (single-level wildcard).
TEST(TopicMatchTest, SingleLevelWildcardExamples) {
  ExpectMatches({
      {"sport/tennis/+", "sport/tennis/player1", true},
      {"sport/tennis/+", "sport/tennis/player2", true},
      {"sport/tennis/+", "sport/tennis/player1/ranking", false},
      {"sport/+", "sport", false},
      {"sport/+", "sport/", true},
      {"+/+", "/finance", true},
      {"/+", "/finance", true},
      {"+", "/finance", false},
      {"+/tennis/#", "sport/tennis/player1", true},
      {"sport/+/player1", "sport/tennis/player1", true},
      {"sport/+/player1", "sport/tennis/player2", false},
      {"+", "a", true},
      {"a/+", "a", false},
      {"a/+/c", "a/b/c", true},
      {"a/+/c", "a/b/d", false},
  });
}

// [MQTT-4.7.2-1] A filter starting with a wildcard does not match a name starting with '$';
// a filter that spells out the '$' level does.
TEST(TopicMatchTest, LeadingWildcardDoesNotMatchDollarTopics_MQTT_4_7_2_1) {
  ExpectMatches({
      {"#", "$SYS/x", false},
      {"#", "$SYS", false},
      {"+", "$SYS", false},
      {"+/monitor/Clients", "$SYS/monitor/Clients", false},
      {"+/#", "$SYS/x", false},
      {"$SYS/#", "$SYS/x", true},
      {"$SYS/#", "$SYS", true},
      {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
      {"$SYS/x", "$SYS/x", true},
      {"#", "a/$SYS", true},  // only the first character of the name counts
      {"a/+", "a/$x", true},
      {"+", "$", false},
      {"$", "$", true},
  });
}

TEST(TopicMatchTest, EmptyLevels) {
  ExpectMatches({
      {"/", "/", true},
      {"+/+", "/", true},
      {"+", "/", false},
      {"/+", "/", true},
      {"+/", "/", true},
      {"/#", "/", true},
      {"a//b", "a//b", true},
      {"a/+/b", "a//b", true},
      {"a//b", "a/b", false},
      {"a/b", "a//b", false},
      {"a/b/", "a/b", false},
      {"a/b", "a/b/", false},
      {"a/b/+", "a/b/", true},
      {"//", "//", true},
      {"+/+/+", "//", true},
      {"+/+", "//", false},
  });
}

// [MQTT-4.7.3-4] Matching compares bytes: no case folding, no Unicode normalisation, no
// trimming.
TEST(TopicMatchTest, ExactByteComparison_MQTT_4_7_3_4) {
  ExpectMatches({
      {"ACCOUNTS", "Accounts", false},
      {"accounts", "ACCOUNTS", false},
      {"Accounts", "Accounts", true},
      {"a", "a ", false},
      {" a", "a", false},
      {"\xC3\xA9", "e\xCC\x81", false},  // precomposed vs decomposed e-acute
      {"\xC3\xA9", "\xC3\xA9", true},
      {"caf\xC3\xA9/+", "cafe\xCC\x81/x", false},
      {"\xEF\xBB\xBFx", "x", false},  // a BOM is a character too [MQTT-1.5.4-3]
  });
}

// ---- randomized comparison with a naive matcher --------------------------------------------

std::vector<std::string_view> SplitLevels(std::string_view s) {
  std::vector<std::string_view> levels;
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      levels.push_back(s.substr(start));
      return levels;
    }
    levels.push_back(s.substr(start, slash - start));
    start = slash + 1;
  }
}

// The rules of §4.7 applied to level lists, as directly as possible.
bool NaiveMatches(std::string_view filter, std::string_view name) {
  const std::vector<std::string_view> f = SplitLevels(filter);
  const std::vector<std::string_view> n = SplitLevels(name);
  if (name.starts_with('$') && (f[0] == "+" || f[0] == "#")) {
    return false;
  }
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == "#") {
      return true;  // this level and everything below, including nothing
    }
    if (i >= n.size()) {
      return false;
    }
    if (f[i] != "+" && f[i] != n[i]) {
      return false;
    }
  }
  return f.size() == n.size();
}

std::string JoinLevels(const std::vector<std::string>& levels) {
  std::string out;
  for (size_t i = 0; i < levels.size(); ++i) {
    if (i > 0) {
      out += '/';
    }
    out += levels[i];
  }
  return out;
}

TEST(TopicMatchTest, NaiveMatcherAgreesOnSpecExamples) {
  // Guards the reference itself, so that the randomized test compares against something
  // known to be right.
  EXPECT_TRUE(NaiveMatches("sport/#", "sport"));
  EXPECT_TRUE(NaiveMatches("+/+", "/"));
  EXPECT_FALSE(NaiveMatches("+", "/"));
  EXPECT_FALSE(NaiveMatches("#", "$SYS/x"));
  EXPECT_TRUE(NaiveMatches("$SYS/#", "$SYS/x"));
  EXPECT_FALSE(NaiveMatches("sport/+", "sport"));
}

TEST(TopicMatchTest, RandomizedAgainstNaiveMatcher) {
  constexpr uint32_t kSeed = 0x70B1C5;
  SCOPED_TRACE(testing::Message() << "seed " << kSeed);
  std::mt19937 rng(kSeed);
  auto pick = [&rng](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  const std::vector<std::string> kLevels = {"a", "b", "ab", "", "c", "$s", "A", "a$"};
  const std::vector<std::string> kFirstLevels = {"a", "b", "", "$s", "$SYS", "ab"};
  // Assigned from a std::string rather than a literal: GCC 12 reports a false -Wrestrict
  // for `str = "+"` at -O3 (GCC bug 105329).
  const std::string kPlus = "+";

  auto random_name = [&]() {
    std::vector<std::string> levels;
    const size_t count = 1 + pick(5);
    for (size_t i = 0; i < count; ++i) {
      levels.push_back(i == 0 ? kFirstLevels[pick(kFirstLevels.size())]
                              : kLevels[pick(kLevels.size())]);
    }
    return levels;
  };

  size_t matched = 0;
  constexpr int kIterations = 100'000;
  for (int iter = 0; iter < kIterations; ++iter) {
    const std::vector<std::string> name_levels = random_name();
    std::vector<std::string> filter_levels;
    if (pick(2) == 0) {
      // Derive the filter from the name so that matches are common.
      filter_levels = name_levels;
      for (std::string& l : filter_levels) {
        if (pick(4) == 0) {
          l = kPlus;
        } else if (pick(10) == 0) {
          l = kLevels[pick(kLevels.size())];
        }
      }
      if (pick(3) == 0) {
        filter_levels.resize(pick(filter_levels.size() + 1));
        filter_levels.push_back("#");
      } else if (pick(6) == 0) {
        filter_levels.push_back(kLevels[pick(kLevels.size())]);
      }
    } else {
      filter_levels = random_name();
      for (std::string& l : filter_levels) {
        if (pick(3) == 0) {
          l = kPlus;
        }
      }
      if (pick(4) == 0) {
        filter_levels.push_back("#");
      }
    }
    const std::string name = JoinLevels(name_levels);
    const std::string filter = JoinLevels(filter_levels);
    if (name.empty() || filter.empty()) {
      continue;  // a single empty level is not a valid name or filter [MQTT-4.7.3-1]
    }
    ASSERT_EQ(ValidateTopicFilter(filter), TopicError::kOk) << filter;
    const bool want = NaiveMatches(filter, name);
    ASSERT_EQ(TopicMatches(filter, name), want)
        << "filter '" << filter << "' name '" << name << "'";
    matched += want ? 1 : 0;
  }
  // Both outcomes were exercised in quantity.
  EXPECT_GT(matched, static_cast<size_t>(kIterations / 10));
  EXPECT_LT(matched, static_cast<size_t>(kIterations * 9 / 10));
}

}  // namespace
}  // namespace ringmq::mqtt
