// message_log's topic filters: MQTT topic filters ('+' one level, '#' the rest, '$' topics
// matched only by filters that name their first level) deciding which messages are logged.
// Built on the main thread (options), then read-only: any thread may call Matches().
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ringmq::message_log {

class TopicFilterSet {
 public:
  // Adds one filter; false with a message when it is not a valid MQTT topic filter.
  [[nodiscard]] bool Add(std::string_view filter, std::string* error);
  // True when any filter matches `topic` (an empty set matches nothing).
  bool Matches(std::string_view topic) const;
  bool empty() const { return filters_.empty(); }

 private:
  std::vector<std::vector<std::string>> filters_;  // each filter split into its levels
};

}  // namespace ringmq::message_log
