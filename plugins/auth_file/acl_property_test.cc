// Property tests: the ACL's filter algebra against brute force. For random filters over a small
// alphabet, every topic up to one level longer than the filters is generated (over the filters'
// literals, an empty level, a '$' level and one fresh name); any topic that separates two
// filters is among them, so the brute-force answers are exact. Every failure prints its seed.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "acl.h"
#include "topic_filter.h"

namespace ringmq::auth_file {
namespace {

const std::vector<std::string> kTopicLevels = {"a", "b", "", "$s", "fresh"};
const std::vector<std::string> kFilterLevels = {"a", "b", "", "$s", "+", "#"};
constexpr size_t kDepthMax = 3;

// The reference: MQTT matching written as plainly as possible, on split levels.
bool NaiveMatch(const std::vector<std::string>& f, const std::vector<std::string>& t, size_t i) {
  if (i == f.size()) {
    return i == t.size();
  }
  if (f[i] == "#") {
    return true;
  }
  return i < t.size() && (f[i] == "+" || f[i] == t[i]) && NaiveMatch(f, t, i + 1);
}

bool NaiveMatches(const std::vector<std::string>& f, const std::vector<std::string>& t) {
  if (t[0].starts_with('$') && (f[0] == "+" || f[0] == "#")) {
    return false;
  }
  return NaiveMatch(f, t, 0);
}

std::vector<std::string> SplitLevelsCopy(std::string_view s) {
  std::vector<std::string> out;
  for (std::string_view l : SplitLevels(s)) {
    out.emplace_back(l);
  }
  return out;
}

std::string Join(const std::vector<std::string>& levels) {
  std::string out;
  for (size_t i = 0; i < levels.size(); ++i) {
    out += (i ? "/" : "") + levels[i];
  }
  return out;
}

std::vector<std::vector<std::string>> AllTopics() {
  std::vector<std::vector<std::string>> topics;
  std::vector<std::vector<std::string>> layer = {{}};
  for (size_t depth = 1; depth <= kDepthMax + 1; ++depth) {
    std::vector<std::vector<std::string>> next;
    for (const auto& prefix : layer) {
      for (const std::string& l : kTopicLevels) {
        next.push_back(prefix);
        next.back().push_back(l);
      }
    }
    for (const auto& t : next) {
      if (Join(t) != "") {  // the empty topic name is not a topic
        topics.push_back(t);
      }
    }
    layer = std::move(next);
  }
  return topics;
}

std::vector<std::string> RandomFilter(std::mt19937_64& rng) {
  std::vector<std::string> f(1 + rng() % kDepthMax);
  for (size_t i = 0; i < f.size(); ++i) {
    do {
      f[i] = kFilterLevels[rng() % kFilterLevels.size()];
    } while (f[i] == "#" && i + 1 != f.size());
  }
  return Join(f).empty() ? std::vector<std::string>{"a"} : f;
}

class AclPropertyTest : public ::testing::Test {
 protected:
  const std::vector<std::vector<std::string>> topics_ = AllTopics();
};

TEST_F(AclPropertyTest, CoverAndOverlapAgreeWithBruteForce) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 3000; ++round) {
    const auto r = RandomFilter(rng);
    const auto f = RandomFilter(rng);
    bool covered = true;
    bool overlap = false;
    for (const auto& t : topics_) {
      const bool in_f = NaiveMatches(f, t);
      const bool in_r = NaiveMatches(r, t);
      covered &= !in_f || in_r;
      overlap |= in_f && in_r;
    }
    ASSERT_TRUE(IsValidFilter(Join(r)) && IsValidFilter(Join(f))) << Join(r) << " " << Join(f);
    ASSERT_EQ(FilterCovers(Join(r), Join(f)), covered)
        << "rule '" << Join(r) << "' covers filter '" << Join(f) << "'";
    ASSERT_EQ(FiltersOverlap(Join(r), Join(f)), overlap)
        << "'" << Join(r) << "' overlaps '" << Join(f) << "'";
  }
}

TEST_F(AclPropertyTest, CompiledMatcherAgreesWithBruteForce) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const ClientIdentity who{true, "u", "c"};
  for (int round = 0; round < 300; ++round) {
    const std::string filter = Join(RandomFilter(rng));
    std::string error;
    // The same filter as a user rule and, through %u = "a", as a pattern.
    std::string as_pattern = filter;
    for (size_t at = as_pattern.find('a'); at != std::string::npos; at = as_pattern.find('a')) {
      as_pattern.replace(at, 1, "%u");
    }
    const auto acl = Acl::Parse("user u\ntopic " + filter + "\n", "acl", &error);
    const auto pattern = Acl::Parse("pattern " + as_pattern + "\n", "acl", &error);
    ASSERT_NE(acl, nullptr) << error;
    ASSERT_NE(pattern, nullptr) << error;
    const ClientIdentity user_a{true, "a", "c"};
    for (const auto& t : topics_) {
      const bool want = NaiveMatches(SplitLevelsCopy(filter), t);
      ASSERT_EQ(acl->MayPublish(who, Join(t)), want) << filter << " vs " << Join(t);
      ASSERT_EQ(FilterMatches(filter, Join(t)), want) << filter << " vs " << Join(t);
      ASSERT_EQ(pattern->MayPublish(user_a, Join(t)), want) << as_pattern << " vs " << Join(t);
      // A subscription to the topic itself is the same question for read.
      ASSERT_EQ(acl->MaySubscribe(who, Join(t)), want) << filter << " vs " << Join(t);
    }
  }
}

}  // namespace
}  // namespace ringmq::auth_file
