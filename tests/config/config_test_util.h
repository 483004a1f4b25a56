// Helpers for the config tests: temporary config files and the example file's path.
// Test thread only.
#pragma once

#include <string>
#include <string_view>

namespace ringmq::config::testing {

// Writes `text` to a fresh file under $TMPDIR named NAME (removed when the object goes).
class TempConfigFile {
 public:
  TempConfigFile(std::string_view name, std::string_view text);
  ~TempConfigFile();
  TempConfigFile(const TempConfigFile&) = delete;
  TempConfigFile& operator=(const TempConfigFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

// $RINGMQ_EXAMPLE_CONFIG (meson passes examples/ringmq.toml); empty when unset.
std::string ExampleConfigPath();

}  // namespace ringmq::config::testing
