// The config file's arrays of tables: [[listener]] (the addresses the broker listens on) and
// [[plugin]] (the plugins to load, in order). Errors are "FILE:LINE: KEY: problem" with KEY
// such as "listener[1].port" or "plugin[0].options.users". Any thread; no shared state.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

#include "core/config/server_config.h"
#include "core/config/toml_tree.h"

namespace ringmq::config {

// The listener protocols this build serves; a [[listener]] asking for another is refused
// with this list.
// "websocket" needs a plugin that serves it (plugins/websocket).
inline constexpr const char* kListenerProtocols[] = {"mqtt", "websocket"};

// [[listener]] address = "127.0.0.1", port = 1883, protocol = "mqtt" -> "HOST:PORT" (IPv6:
// "[::1]:PORT"; protocol "websocket": "ws://HOST:PORT") each, replacing *listen.
absl::Status ReadListeners(const TomlNode& node, std::string_view file,
                           std::vector<std::string>* listen);

// [[plugin]] name = "...", path = "...", [plugin.options] k = scalar, ... -> *plugins in file
// order (replacing it).
absl::Status ReadPlugins(const TomlNode& node, std::string_view file,
                         std::vector<PluginSpec>* plugins);

}  // namespace ringmq::config
