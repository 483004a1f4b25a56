#include "settings.h"

#include <algorithm>
#include <charconv>
#include <string_view>
#include <vector>

namespace ringmq::message_log {
namespace {

std::string_view View(ringmq_str s) {
  return s.len == 0 ? std::string_view() : std::string_view(s.ptr, s.len);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// Calls fn(item) for each trimmed item of a comma-separated list; false if fn fails or an
// item is empty.
template <typename Fn>
bool ForEachListItem(std::string_view list, std::string_view key, std::string* error, Fn&& fn) {
  while (true) {
    const size_t comma = list.find(',');
    const std::string_view item = Trim(list.substr(0, comma));
    if (item.empty()) {
      *error = "option '" + std::string(key) + "': an empty item in '" + std::string(list) + "'";
      return false;
    }
    if (!fn(item)) {
      return false;
    }
    if (comma == std::string_view::npos) {
      return true;
    }
    list.remove_prefix(comma + 1);
  }
}

template <typename T>
bool ParseUint(std::string_view key, std::string_view value, uint64_t min, uint64_t max, T* out,
               std::string* error) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || v < min ||
      v > max) {
    *error = "option '" + std::string(key) + "': expected an integer from " + std::to_string(min) +
             " to " + std::to_string(max) + ", got '" + std::string(value) + "'";
    return false;
  }
  *out = static_cast<T>(v);
  return true;
}

bool ParseEvents(std::string_view value, uint32_t* events, std::string* error) {
  *events = 0;
  return ForEachListItem(value, "events", error, [&](std::string_view item) {
    if (item == "published") {
      *events |= kEventPublished;
    } else if (item == "delivered") {
      *events |= kEventDelivered;
    } else if (item == "dropped") {
      *events |= kEventDropped;
    } else {
      *error = "option 'events': unknown event '" + std::string(item) +
               "' (known: published, delivered, dropped)";
      return false;
    }
    return true;
  });
}

bool ParsePayload(std::string_view value, PayloadMode* mode, std::string* error) {
  if (value == "none") {
    *mode = PayloadMode::kNone;
  } else if (value == "utf8") {
    *mode = PayloadMode::kUtf8;
  } else if (value == "base64") {
    *mode = PayloadMode::kBase64;
  } else if (value == "auto") {
    *mode = PayloadMode::kAuto;
  } else {
    *error =
        "option 'payload': expected none, utf8, base64 or auto, got '" + std::string(value) + "'";
    return false;
  }
  return true;
}

bool ParseTopics(std::string_view value, TopicFilterSet* topics, std::string* error) {
  return ForEachListItem(value, "topics", error, [&](std::string_view item) {
    std::string why;
    if (!topics->Add(item, &why)) {
      *error = "option 'topics': " + why;
      return false;
    }
    return true;
  });
}

bool ParseOne(std::string_view key, std::string_view value, Settings* s, std::string* error) {
  if (key == "file") {
    if (value.empty()) {
      *error = "option 'file': a path is needed";
      return false;
    }
    s->file = std::string(value);
    return true;
  }
  if (key == "events") {
    return ParseEvents(value, &s->events, error);
  }
  if (key == "payload") {
    return ParsePayload(value, &s->payload, error);
  }
  if (key == "payload_max") {
    return ParseUint(key, value, 0, 16u << 20, &s->payload_max_bytes, error);
  }
  if (key == "max_queue") {
    return ParseUint(key, value, 1, 1u << 20, &s->max_queue, error);
  }
  if (key == "max_queue_bytes") {
    return ParseUint(key, value, 4096, 1ull << 36, &s->max_queue_bytes, error);
  }
  if (key == "rotate_bytes") {
    return ParseUint(key, value, 0, 1ull << 50, &s->rotate_bytes, error);
  }
  if (key == "rotate_keep") {
    return ParseUint(key, value, 1, 1000, &s->rotate_keep, error);
  }
  if (key == "flush_ms") {
    return ParseUint(key, value, 1, 60'000, &s->flush_ms, error);
  }
  if (key == "topics") {
    return ParseTopics(value, &s->topics, error);
  }
  *error = "unknown option '" + std::string(key) + "' (known: " + kOptionNames + ")";
  return false;
}

}  // namespace

bool ParseSettings(const ringmq_plugin_config& config, Settings* settings, std::string* error) {
  Settings s;
  std::vector<std::string_view> seen;
  for (size_t i = 0; i < config.option_count; ++i) {
    const std::string_view key = View(config.options[i].key);
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      *error = "option '" + std::string(key) + "' is given twice";
      return false;
    }
    seen.push_back(key);
    if (!ParseOne(key, View(config.options[i].value), &s, error)) {
      return false;
    }
  }
  if (s.file.empty()) {
    *error = "option 'file' is required (the path of the log file)";
    return false;
  }
  if (s.events == 0) {
    *error = "option 'events': no event";
    return false;
  }
  if (s.topics.empty() && !s.topics.Add("#", error)) {
    return false;
  }
  *settings = std::move(s);
  return true;
}

}  // namespace ringmq::message_log
