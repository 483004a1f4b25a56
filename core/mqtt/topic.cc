#include "core/mqtt/topic.h"

#include <algorithm>

#include "core/mqtt/utf8.h"

namespace ringmq::mqtt {

std::string_view TopicErrorText(TopicError e) {
  switch (e) {
    case TopicError::kOk:
      return "ok";
    case TopicError::kEmpty:
      return "topic is empty [MQTT-4.7.3-1]";
    case TopicError::kBadUtf8:
      return "topic is not valid MQTT UTF-8 [MQTT-1.5.4-1/2]";
    case TopicError::kWildcardInName:
      return "topic name contains a wildcard [MQTT-3.3.2-2]";
    case TopicError::kBadMultiLevel:
      return "'#' must be the whole last level of a filter [MQTT-4.7.1-1]";
    case TopicError::kBadSingleLevel:
      return "'+' must be a whole level of a filter [MQTT-4.7.1-2]";
    case TopicError::kBadShareName:
      return "ShareName must be non-empty and hold no '/', '+' or '#' [MQTT-4.8.2-1/2]";
    case TopicError::kEmptySharedFilter:
      return "shared subscription has no topic filter after the ShareName [MQTT-4.8.2-2]";
  }
  return "invalid topic";
}

TopicError ValidateTopicName(std::string_view name) {
  if (name.empty()) {
    return TopicError::kEmpty;
  }
  switch (CheckTopicNameChars(name)) {
    case TopicNameCheck::kOk:
      return TopicError::kOk;
    case TopicNameCheck::kBadUtf8:
      return TopicError::kBadUtf8;
    case TopicNameCheck::kWildcard:
      return TopicError::kWildcardInName;
  }
  return TopicError::kBadUtf8;
}

namespace {

// Wildcard placement for a non-shared filter whose characters are already valid.
TopicError CheckWildcards(std::string_view f) {
  const size_t n = f.size();
  for (size_t i = 0; i < n; ++i) {
    char c = f[i];
    if (c != '+' && c != '#') {
      continue;
    }
    bool starts_level = i == 0 || f[i - 1] == '/';
    if (c == '#') {
      if (!starts_level || i + 1 != n) {
        return TopicError::kBadMultiLevel;
      }
    } else if (!starts_level || (i + 1 < n && f[i + 1] != '/')) {
      return TopicError::kBadSingleLevel;
    }
  }
  return TopicError::kOk;
}

TopicError ValidatePlainFilter(std::string_view filter) {
  if (filter.empty()) {
    return TopicError::kEmpty;
  }
  if (!IsValidMqttUtf8(filter)) {
    return TopicError::kBadUtf8;
  }
  return CheckWildcards(filter);
}

}  // namespace

TopicError ParseSharedFilter(std::string_view filter, SharedFilter* out) {
  std::string_view rest = filter.substr(kSharePrefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return TopicError::kBadShareName;
  }
  std::string_view name = rest.substr(0, slash);
  if (name.empty() || name.find_first_of("+#") != std::string_view::npos) {
    return TopicError::kBadShareName;
  }
  std::string_view inner = rest.substr(slash + 1);
  if (inner.empty()) {
    return TopicError::kEmptySharedFilter;
  }
  if (!IsValidMqttUtf8(name)) {
    return TopicError::kBadUtf8;
  }
  TopicError e = ValidatePlainFilter(inner);
  if (e != TopicError::kOk) {
    return e;
  }
  out->share_name = name;
  out->filter = inner;
  return TopicError::kOk;
}

TopicError ValidateTopicFilter(std::string_view filter) {
  if (IsSharedFilter(filter)) {
    SharedFilter unused;
    return ParseSharedFilter(filter, &unused);
  }
  return ValidatePlainFilter(filter);
}

bool TopicMatches(std::string_view filter, std::string_view name) {
  // [MQTT-4.7.2-1]: a leading wildcard never matches a '$' topic.
  if (!name.empty() && name[0] == '$' && !filter.empty() &&
      (filter[0] == '+' || filter[0] == '#')) {
    return false;
  }
  size_t fi = 0;
  size_t ni = 0;
  const size_t fn = filter.size();
  const size_t nn = name.size();
  while (fi < fn) {
    char fc = filter[fi];
    if (fc == '#') {
      return true;  // matches this level and everything below, including nothing
    }
    if (fc == '+') {
      // Consume one whole level of the name (possibly empty).
      while (ni < nn && name[ni] != '/') {
        ++ni;
      }
      ++fi;
    } else {
      // Literal level: compare up to the next '/'.
      while (fi < fn && filter[fi] != '/') {
        if (ni >= nn || name[ni] != filter[fi]) {
          return false;
        }
        ++fi;
        ++ni;
      }
      if (ni < nn && name[ni] != '/') {
        return false;  // the name's level is longer
      }
    }
    // Both sides are at a level end: either '/' or the end of the string.
    if (fi == fn) {
      return ni == nn;
    }
    // filter[fi] == '/'
    ++fi;
    if (ni == nn) {
      // The name has no more levels; only "/#" can still match (the parent level).
      return fi < fn && filter[fi] == '#' && fi + 1 == fn;
    }
    ++ni;  // name[ni] == '/'
  }
  return ni == nn;
}

size_t TopicLevelCount(std::string_view topic) {
  return 1 + static_cast<size_t>(std::count(topic.begin(), topic.end(), '/'));
}

bool HasWildcard(std::string_view filter) {
  return filter.find_first_of("+#") != std::string_view::npos;
}

}  // namespace ringmq::mqtt
