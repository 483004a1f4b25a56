// The websocket plugin's options ([plugin.options], README.md), parsed on the main thread
// (global_init, reload) into an immutable Settings that connections share through a
// std::shared_ptr<const Settings>: a connection keeps the settings it was opened with.
#pragma once

#include <ringmq/plugin.h>

#include <cstdint>
#include <memory>
#include <string>

#include "plugins/websocket/codec/frame_decoder.h"
#include "plugins/websocket/codec/handshake.h"
#include "plugins/websocket/codec/http_request.h"
#include "plugins/websocket/http/static_files.h"

namespace ringmq::websocket {

struct Settings {
  UpgradeOptions upgrade;                    // path, allowed_origins, subprotocols
  HttpLimits http;                           // max_head_bytes, max_headers
  DecoderLimits frames;                      // max_frame_bytes, max_message_bytes
  std::unique_ptr<http::StaticFiles> files;  // http_root and friends; null: no static files
};

inline constexpr const char* kOptionNames =
    "path, allowed_origins, max_head_bytes, max_headers, max_frame_bytes, max_message_bytes, "
    "http_root, index_file, directory_index, file_max_bytes, cache_max_age_s";

// Parses `config`'s options. nullptr with a message naming the option in *error.
std::shared_ptr<const Settings> ParseSettings(const ringmq_plugin_config& config,
                                              std::string* error);

}  // namespace ringmq::websocket
