// The broker's TOML config file (`ringmq --config FILE`, docs/configuration.md) read into a
// ServerConfig. Every key comes from the settings table (settings.h) or is one of the arrays
// of tables [[listener]] and [[plugin]] (file_arrays.h); an unknown key or table, a wrong
// type, a value out of range and a TOML syntax error are all InvalidArgument
// "FILE:LINE: KEY: problem", e.g. "ringmq.toml:12: limits.max_inflight: 70000 is outside
// 1..65535". Values the file does not set keep ServerConfig's defaults. Main thread (reads a
// file); no shared state.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

#include "core/config/server_config.h"

namespace ringmq::config {

// Files larger than this are refused unread.
inline constexpr size_t kMaxConfigFileBytes = 4 << 20;

// Reads and checks `path` (ServerConfig::Validate, messages placed in the file); the result's
// config_path is `path`.
absl::StatusOr<ServerConfig> ReadConfigFile(const std::string& path);

// The same for a file's contents; `file` names it in messages and in config_path.
absl::StatusOr<ServerConfig> ParseConfigText(std::string_view text, std::string_view file);

}  // namespace ringmq::config
