// plugins/auth_file/topic_filter.h: topic names and filters as sets of topics, for the ACL.
//
// MQTT's matching rules (§4.7): levels split at '/', '+' matches one level, '#' (last) the
// parent level and any number below it, and a topic starting with '$' is matched only by a
// filter whose first level is not a wildcard (§4.7.2), so `#` never reaches $SYS.
// On top of matching, the ACL needs two relations between filters:
//   FilterCovers(rule, f)    every topic f matches, rule matches too (subscribe: allow)
//   FiltersOverlap(a, b)     some topic is matched by both (subscribe: a deny rule refuses)
// Both are exact: acl_property_test.cc compares them with brute force over generated topics.
//
// Threads: pure functions, any thread.
#ifndef RINGMQ_PLUGINS_AUTH_FILE_TOPIC_FILTER_H
#define RINGMQ_PLUGINS_AUTH_FILE_TOPIC_FILTER_H

#include <string_view>
#include <vector>

namespace ringmq::auth_file {

// The levels of a topic or filter ("a//b" -> {"a", "", "b"}); views into `s`.
std::vector<std::string_view> SplitLevels(std::string_view s);

// A non-empty filter whose '+' and '#' fill whole levels, '#' only as the last level.
bool IsValidFilter(std::string_view filter);
// A non-empty topic name without '+' or '#'.
bool IsValidTopicName(std::string_view topic);

// Whether `filter` (valid) matches `topic` (valid).
bool FilterMatches(std::string_view filter, std::string_view topic);
// Whether every topic `filter` matches is matched by `rule` (both valid).
bool FilterCovers(std::string_view rule, std::string_view filter);
// Whether some topic is matched by both `a` and `b` (both valid).
bool FiltersOverlap(std::string_view a, std::string_view b);

// The filter a subscription reads: "$share/GROUP/FILTER" -> FILTER; other filters unchanged.
// Returns false for a malformed share ("$share/", an empty group, a group with a wildcard).
bool SubscriptionFilter(std::string_view subscription, std::string_view* filter);

}  // namespace ringmq::auth_file

#endif  // RINGMQ_PLUGINS_AUTH_FILE_TOPIC_FILTER_H
