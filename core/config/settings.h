// The one table of ringmq's settings: for each, its key in the config file, its command-line
// flag, where it lives in ServerConfig and whether a reload can apply it live. The file
// reader (config_file.h), the flags (core/server/flags.h) and the reload plan (reload_plan.h)
// all walk this table, so a setting added here is known to all three; a unit test fails when
// a flag of core/server has no entry. Read-only data: any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/config/server_config.h"

namespace ringmq::config {

enum class Reload {
  kLive,     // a reload applies it to the running broker
  kRestart,  // a change takes effect at the next start only
};

// Where a setting lives in a ServerConfig, by its type.
using FieldPtr = std::variant<uint32_t*, uint64_t*, bool*, std::string*, std::vector<std::string>*>;

struct Setting {
  std::string_view key;   // in the file: "threads", "limits.max_inflight", "listener"
  std::string_view flag;  // on the command line, as Abseil names it: "max_inflight"
  Reload reload;
  FieldPtr (*field)(ServerConfig&);
};

// Every setting, in the order of docs/configuration.md.
std::span<const Setting> AllSettings();
// nullptr when none.
const Setting* FindSettingByKey(std::string_view key);
const Setting* FindSettingByFlag(std::string_view flag);
// The value as text, for messages and reload plans: numbers in decimal, booleans true/false,
// strings as they are, lists comma-separated.
std::string FieldText(FieldPtr field);

}  // namespace ringmq::config
