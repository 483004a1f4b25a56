// ServerConfig: everything the ringmq executable is told, as typed values: the broker's
// limits (BrokerConfig), the listeners, the engine's settings and the plugins to load. Filled
// from a TOML file (config_file.h) and command-line flags over it (core/server/flags.h);
// Validate() checks every value once, in one place, and names the setting in its message.
// Main thread only.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "core/base/log.h"
#include "core/broker/config.h"
#include "core/config/listener.h"
#include "core/net/socket_ops.h"
#include "core/shard/shard_set.h"

namespace ringmq::config {

// One [[plugin]] of the config file: the plugin host loads them in this order, which is also
// the order their hooks are called in.
struct PluginSpec {
  std::string name;
  std::string path;  // empty: found by name
  // [plugin.options] in file order, TOML scalars as text: strings unquoted, integers in
  // decimal, booleans true/false, floats and dates as written.
  std::vector<std::pair<std::string, std::string>> options;
  std::string origin;  // "FILE:LINE" of its [[plugin]] header, for messages

  bool operator==(const PluginSpec&) const = default;
};

struct ServerConfig {
  broker::BrokerConfig broker;

  // HOST:PORT, mqtt://HOST:PORT or [V6]:PORT; ws://HOST:PORT for MQTT over WebSocket;
  // mqtts:// and wss:// over TLS (listener.h).
  std::vector<std::string> listen = {"127.0.0.1:1883"};
  // [tls]: the settings of every TLS listener that does not override them.
  tls::TlsSettings tls;
  uint32_t threads = 0;  // 0: one per CPU
  std::string io_backend = "auto";
  bool pin_threads = true;
  uint64_t max_connections = 0;  // 0: as the open file limit allows
  uint32_t recv_buffers = 256;
  uint32_t recv_buffer_size = 16384;
  uint64_t max_output_buffer = 1 << 20;
  uint32_t mailbox_capacity = 4096;
  net::TcpKeepAlive tcp_keepalive;
  std::string log_level = "info";
  std::string log_format = "text";  // text, logfmt or json (core/base/log_format.h)
  // The admin HTTP listener (/metrics, /healthz, /readyz; core/server/admin_server.h):
  // HOST:PORT, empty: none.
  std::string admin_listen;

  // The offline store (persistence/): "sqlite" (durable, in data_dir) or "memory" (keeps
  // nothing across a restart; for benchmarks).
  struct Store {
    std::string persistence = "sqlite";
    std::string data_dir = "data";
    std::string sync = "normal";  // normal or full
    uint32_t batch_max_ops = 50'000;
    uint64_t max_pending_bytes = 256ull << 20;
    uint32_t retry_ms = 500;
    bool full_check = false;
  } store;

  std::vector<PluginSpec> plugins;  // in load (and call) order
  std::string config_path;          // the file read (--config), empty: none
  // Static files served on the WebSocket listeners' HTTP side: the websocket plugin's
  // http_root option, handed to it by HandHttpRootToWebsocket. Empty: as the plugin says.
  std::string http_root;

  // Checks every value (the broker's too); the message names the setting and its range.
  absl::Status Validate() const;
  // The shard set's options (listeners resolved). Call after Validate().
  absl::StatusOr<shard::ShardSetOptions> ShardSetOptions() const;
  // The listeners of `listen`, parsed (listener id = index), TLS ones with their settings.
  absl::StatusOr<std::vector<Listener>> Listeners() const;
  base::LogLevel ParsedLogLevel() const;
  base::LogFormat ParsedLogFormat() const;
};

// Gives config->http_root (when set) to the websocket plugin as its http_root option: over
// the option of a configured [[plugin]] named "websocket", or in a websocket plugin added
// (loaded by name) when none is configured. Validate() then checks a ws:// listener exists.
// Without http_root nothing is added: another plugin may serve the ws:// listeners.
void HandHttpRootToWebsocket(ServerConfig* config);

}  // namespace ringmq::config
