// A plugin's [plugin.options] (ringmq_plugin_config) read by key, with errors that name the
// option: "option 'max_frame_bytes': expected an integer from 125 to 16777216, got 'x'". For
// the shipped plugins; built against include/ringmq/plugin.h only. Main thread (global_init,
// reload), no shared state.
#pragma once

#include <ringmq/plugin.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringmq::plugins {

class PluginOptions {
 public:
  explicit PluginOptions(const ringmq_plugin_config& config);

  // The value of `key` (the last one if given twice), or nullptr. Marks the key as known.
  const std::string* Find(std::string_view key);

  // Each reads `key` when present (leaving *out as it is otherwise); false with *error set on
  // a bad value.
  bool String(std::string_view key, std::string* out, std::string* error);
  bool Uint(std::string_view key, uint64_t min, uint64_t max, uint64_t* out, std::string* error);
  bool Bool(std::string_view key, bool* out, std::string* error);
  // A comma-separated list; items trimmed of blanks, empty items refused.
  bool List(std::string_view key, std::vector<std::string>* out, std::string* error);

  // After every key was read: false naming the first option no reader asked for, with the
  // known ones ("unknown option 'pth' (known: path, http_root, ...)").
  bool NoUnknown(std::string_view known, std::string* error) const;

 private:
  struct Entry {
    std::string key, value;
    bool known = false;
  };
  std::vector<Entry> entries_;
};

}  // namespace ringmq::plugins
