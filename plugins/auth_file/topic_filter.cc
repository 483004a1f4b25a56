#include "topic_filter.h"

namespace ringmq::auth_file {
namespace {

bool IsWild(std::string_view level) {
  return level == "+" || level == "#";
}

// A filter level that matches only topics starting with '$' (a literal "$...").
bool IsDollarLiteral(std::string_view level) {
  return !IsWild(level) && level.starts_with('$');
}

}  // namespace

std::vector<std::string_view> SplitLevels(std::string_view s) {
  std::vector<std::string_view> levels;
  while (true) {
    const size_t slash = s.find('/');
    levels.push_back(s.substr(0, slash));
    if (slash == std::string_view::npos) {
      return levels;
    }
    s.remove_prefix(slash + 1);
  }
}

bool IsValidFilter(std::string_view filter) {
  if (filter.empty() || filter.find('\0') != std::string_view::npos) {
    return false;
  }
  const std::vector<std::string_view> levels = SplitLevels(filter);
  for (size_t i = 0; i < levels.size(); ++i) {
    const std::string_view l = levels[i];
    if (l == "#" && i + 1 != levels.size()) {
      return false;
    }
    if (!IsWild(l) && l.find_first_of("+#") != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool IsValidTopicName(std::string_view topic) {
  return !topic.empty() && topic.find_first_of(std::string_view("+#\0", 3)) == topic.npos;
}

bool FilterMatches(std::string_view filter, std::string_view topic) {
  const std::vector<std::string_view> f = SplitLevels(filter);
  const std::vector<std::string_view> t = SplitLevels(topic);
  if (topic.starts_with('$') && IsWild(f[0])) {
    return false;
  }
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == "#") {
      return true;  // this level and everything below, or nothing (the parent)
    }
    if (i >= t.size() || (f[i] != "+" && f[i] != t[i])) {
      return false;
    }
  }
  return f.size() == t.size();
}

bool FilterCovers(std::string_view rule, std::string_view filter) {
  const std::vector<std::string_view> r = SplitLevels(rule);
  const std::vector<std::string_view> f = SplitLevels(filter);
  // 1. Topics of `filter` start with '$' only when its first level is a literal "$..."; a rule
  //    starting with a wildcard matches none of them.
  if (IsDollarLiteral(f[0]) && IsWild(r[0])) {
    return false;
  }
  // 2. Level by level: the rule's level must match whatever the filter's level can be.
  for (size_t i = 0; i < f.size(); ++i) {
    if (i >= r.size()) {
      return false;  // the filter reaches deeper than the rule
    }
    if (r[i] == "#") {
      return true;
    }
    if (f[i] == "#") {
      // The filter reaches any depth, the rule a bounded one; except that a '#' whose parent
      // would be the empty topic (filters "#" and "/#") means "one level or more", which a
      // rule may also spell "+/#" at the same place.
      const bool parent_impossible = i == 0 || (i == 1 && f[0].empty());
      return parent_impossible && r[i] == "+" && r.size() == i + 2 && r[i + 1] == "#";
    }
    if (r[i] == "+") {
      continue;
    }
    if (f[i] == "+" || f[i] != r[i]) {
      return false;
    }
  }
  // 3. The filter's topics have exactly f.size() levels: the rule must end here, or go on
  //    with a '#' that also matches its parent level.
  return r.size() == f.size() || (r.size() == f.size() + 1 && r.back() == "#");
}

bool FiltersOverlap(std::string_view a, std::string_view b) {
  const std::vector<std::string_view> x = SplitLevels(a);
  const std::vector<std::string_view> y = SplitLevels(b);
  // A topic starting with '$' is matched only through a literal first level.
  if ((IsWild(x[0]) && IsDollarLiteral(y[0])) || (IsWild(y[0]) && IsDollarLiteral(x[0]))) {
    return false;
  }
  for (size_t i = 0;; ++i) {
    const bool x_done = i >= x.size();
    const bool y_done = i >= y.size();
    if (x_done && y_done) {
      return true;
    }
    if (x_done || y_done) {
      // A topic with exactly i levels: the longer one matches it only through '#' (parent);
      // and not at all when that topic would be empty (one level that must be "").
      const bool empty_topic = i == 1 && (x[0].empty() || y[0].empty());
      return !empty_topic && (x_done ? y[i] == "#" : x[i] == "#");
    }
    if (x[i] == "#" || y[i] == "#") {
      return true;  // the other's remaining levels can always be filled in
    }
    if (x[i] != "+" && y[i] != "+" && x[i] != y[i]) {
      return false;
    }
  }
}

bool SubscriptionFilter(std::string_view subscription, std::string_view* filter) {
  constexpr std::string_view kShare = "$share/";
  if (!subscription.starts_with(kShare)) {
    *filter = subscription;
    return true;
  }
  const std::string_view rest = subscription.substr(kShare.size());
  const size_t slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos ||
      rest.substr(0, slash).find_first_of("+#") != std::string_view::npos) {
    return false;
  }
  *filter = rest.substr(slash + 1);
  return true;
}

}  // namespace ringmq::auth_file
