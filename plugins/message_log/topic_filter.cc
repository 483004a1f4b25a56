#include "topic_filter.h"

namespace ringmq::message_log {
namespace {

bool LevelsMatch(const std::vector<std::string>& levels, std::string_view topic) {
  // A wildcard in the first level does not match topics beginning with '$' (MQTT 4.7.2).
  if (!topic.empty() && topic[0] == '$' && (levels[0] == "+" || levels[0] == "#")) {
    return false;
  }
  size_t pos = 0;
  bool topic_done = false;
  for (const std::string& level : levels) {
    if (level == "#") {
      return true;  // the rest, including none: "a/#" matches "a"
    }
    if (topic_done) {
      return false;
    }
    const size_t end = topic.find('/', pos);
    const std::string_view topic_level =
        topic.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (end == std::string_view::npos) {
      topic_done = true;
    } else {
      pos = end + 1;
    }
    if (level != "+" && level != topic_level) {
      return false;
    }
  }
  return topic_done;
}

}  // namespace

bool TopicFilterSet::Add(std::string_view filter, std::string* error) {
  if (filter.empty()) {
    *error = "an empty topic filter";
    return false;
  }
  std::vector<std::string> levels;
  size_t pos = 0;
  while (true) {
    const size_t end = filter.find('/', pos);
    std::string_view level =
        filter.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    const bool wildcard_inside = level.size() > 1 && level.find_first_of("+#") != level.npos;
    const bool hash_not_last = level == "#" && end != std::string_view::npos;
    if (wildcard_inside || hash_not_last || level.find('\0') != level.npos) {
      *error = "'" + std::string(filter) +
               "' is not a topic filter ('+' and '#' fill a whole level; '#' only the last)";
      return false;
    }
    levels.emplace_back(level);
    if (end == std::string_view::npos) {
      break;
    }
    pos = end + 1;
  }
  filters_.push_back(std::move(levels));
  return true;
}

bool TopicFilterSet::Matches(std::string_view topic) const {
  for (const std::vector<std::string>& levels : filters_) {
    if (LevelsMatch(levels, topic)) {
      return true;
    }
  }
  return false;
}

}  // namespace ringmq::message_log
