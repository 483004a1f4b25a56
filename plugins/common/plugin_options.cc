#include "plugins/common/plugin_options.h"

#include <charconv>

namespace ringmq::plugins {
namespace {

std::string_view View(ringmq_str s) {
  return s.len == 0 ? std::string_view() : std::string_view(s.ptr, s.len);
}

std::string_view Trim(std::string_view s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

std::string Quoted(std::string_view key) {
  return "option '" + std::string(key) + "'";
}

}  // namespace

PluginOptions::PluginOptions(const ringmq_plugin_config& config) {
  for (size_t i = 0; i < config.option_count; ++i) {
    entries_.push_back({std::string(View(config.options[i].key)),
                        std::string(View(config.options[i].value)), false});
  }
}

const std::string* PluginOptions::Find(std::string_view key) {
  const std::string* found = nullptr;
  for (Entry& e : entries_) {
    if (e.key == key) {
      e.known = true;
      found = &e.value;
    }
  }
  return found;
}

bool PluginOptions::String(std::string_view key, std::string* out, std::string* error) {
  (void)error;
  if (const std::string* v = Find(key)) {
    *out = *v;
  }
  return true;
}

bool PluginOptions::Uint(std::string_view key, uint64_t min, uint64_t max, uint64_t* out,
                         std::string* error) {
  const std::string* v = Find(key);
  if (v == nullptr) {
    return true;
  }
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || ec != std::errc() || end != v->data() + v->size() || n < min || n > max) {
    *error = Quoted(key) + ": expected an integer from " + std::to_string(min) + " to " +
             std::to_string(max) + ", got '" + *v + "'";
    return false;
  }
  *out = n;
  return true;
}

bool PluginOptions::Bool(std::string_view key, bool* out, std::string* error) {
  const std::string* v = Find(key);
  if (v == nullptr) {
    return true;
  }
  if (*v != "true" && *v != "false") {
    *error = Quoted(key) + ": expected true or false, got '" + *v + "'";
    return false;
  }
  *out = *v == "true";
  return true;
}

bool PluginOptions::List(std::string_view key, std::vector<std::string>* out, std::string* error) {
  const std::string* v = Find(key);
  if (v == nullptr) {
    return true;
  }
  out->clear();
  std::string_view rest = *v;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view item = Trim(rest.substr(0, comma));
    if (item.empty()) {
      *error = Quoted(key) + ": an empty item in '" + *v + "'";
      return false;
    }
    out->emplace_back(item);
    if (comma == std::string_view::npos) {
      return true;
    }
    rest.remove_prefix(comma + 1);
  }
}

bool PluginOptions::NoUnknown(std::string_view known, std::string* error) const {
  for (const Entry& e : entries_) {
    if (!e.known) {
      *error = "unknown " + Quoted(e.key) + " (known: " + std::string(known) + ")";
      return false;
    }
  }
  return true;
}

}  // namespace ringmq::plugins
