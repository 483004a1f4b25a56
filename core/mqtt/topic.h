// Topic names, topic filters and shared subscriptions (MQTT 5 §4.7, §4.8). Pure functions;
// any thread.
//
// Names are what PUBLISH carries ("a/b/c"); filters are what SUBSCRIBE carries and may hold
// wildcards: '+' matches exactly one level, '#' matches the parent level and everything
// below it. Neither wildcard at the start of a filter matches a topic that begins with '$'
// [MQTT-4.7.2-1]. Matching compares bytes exactly [MQTT-4.7.3-4].
#pragma once

#include <cstddef>
#include <string_view>

namespace ringmq::mqtt {

enum class TopicError : uint8_t {
  kOk,
  kEmpty,             // [MQTT-4.7.3-1]
  kBadUtf8,           // [MQTT-1.5.4-1], [MQTT-1.5.4-2], [MQTT-4.7.3-2]
  kWildcardInName,    // [MQTT-3.3.2-2], [MQTT-4.7.0-1]
  kBadMultiLevel,     // '#' not alone in the last level [MQTT-4.7.1-1]
  kBadSingleLevel,    // '+' not alone in its level [MQTT-4.7.1-2]
  kBadShareName,      // $share/ without a valid ShareName [MQTT-4.8.2-1], [MQTT-4.8.2-2]
  kEmptySharedFilter  // $share/name/ with no filter after it [MQTT-4.8.2-2]
};

// A short human-readable explanation naming the spec statement, for reason strings and logs.
std::string_view TopicErrorText(TopicError e);

// Checks a topic name: non-empty, valid MQTT UTF-8, no wildcards.
TopicError ValidateTopicName(std::string_view name);

// Checks a topic filter, including the $share/ form when shared subscriptions are meant.
TopicError ValidateTopicFilter(std::string_view filter);

// "$share/{ShareName}/{filter}" split in its parts.
struct SharedFilter {
  std::string_view share_name;
  std::string_view filter;
};

inline constexpr std::string_view kSharePrefix = "$share/";

inline bool IsSharedFilter(std::string_view filter) {
  return filter.starts_with(kSharePrefix);
}

// Splits a shared filter. Returns kOk and fills *out, or the error; the inner filter is
// validated as a plain filter.
TopicError ParseSharedFilter(std::string_view filter, SharedFilter* out);

// True if `filter` (a valid, non-shared filter) matches `name` (a valid topic name).
bool TopicMatches(std::string_view filter, std::string_view name);

// Number of levels ("a/b" has 2, "/" has 2, "a" has 1).
size_t TopicLevelCount(std::string_view topic);

// True if the filter contains '+' or '#'.
bool HasWildcard(std::string_view filter);

// Walks the levels of a topic name or filter: the level starting at `pos`, with *next set to
// the start of the following one (npos after the last). "a//b" has the levels "a", "", "b".
inline std::string_view LevelAt(std::string_view topic, size_t pos, size_t* next) {
  const size_t slash = topic.find('/', pos);
  if (slash == std::string_view::npos) {
    *next = std::string_view::npos;
    return topic.substr(pos);
  }
  *next = slash + 1;
  return topic.substr(pos, slash - pos);
}

}  // namespace ringmq::mqtt
