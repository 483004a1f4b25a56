#include "core/config/server_config.h"

#include <algorithm>

#include "absl/strings/str_format.h"

#include "core/base/range_check.h"
#include "core/net/reactor.h"

namespace ringmq::config {

absl::Status ServerConfig::Validate() const {
  if (absl::Status s = broker.Validate(); !s.ok()) {
    return s;
  }
  base::LogLevel level;
  if (!base::ParseLogLevel(log_level, &level)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("log-level: '%s' is not debug, info, warning, error or off", log_level));
  }
  base::LogFormat format;
  if (!base::ParseLogFormat(log_format, &format)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("log-format: '%s' is not text, logfmt or json", log_format));
  }
  if (!admin_listen.empty()) {
    std::string scheme;
    auto ep = net::ParseEndpoint(admin_listen, &scheme);
    if (!ep.ok() || !scheme.empty()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "admin-listen: '%s' is not HOST:PORT (e.g. 127.0.0.1:9100)", admin_listen));
    }
  }
  net::BackendKind backend;
  if (!net::ParseBackend(io_backend, &backend)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("io-backend: '%s' is not auto, io_uring or epoll", io_backend));
  }
  if (store.persistence != "sqlite" && store.persistence != "memory") {
    return absl::InvalidArgumentError(
        absl::StrFormat("persistence: '%s' is not sqlite or memory", store.persistence));
  }
  if (store.sync != "normal" && store.sync != "full") {
    return absl::InvalidArgumentError(
        absl::StrFormat("sync: '%s' is not normal or full", store.sync));
  }
  if (store.data_dir.empty()) {
    return absl::InvalidArgumentError("data-dir: a folder (created if missing)");
  }
  if (listen.empty()) {
    return absl::InvalidArgumentError("listen: at least one address");
  }
  absl::StatusOr<std::vector<Listener>> listeners = Listeners();
  if (!listeners.ok()) {
    return listeners.status();
  }
  bool websocket_listener = false;
  for (const Listener& l : *listeners) {
    websocket_listener = websocket_listener || l.protocol == "websocket";
    if (!l.tls) {
      continue;
    }
    const std::string where = absl::StrFormat("listen %s", l.endpoint.ToString());
    if (absl::Status s = tls::CheckTlsSettings(l.tls_settings, where); !s.ok()) {
      return s;
    }
  }
  if (!http_root.empty() && !websocket_listener) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "http-root: no WebSocket listener (ws://HOST:PORT) to serve '%s' on", http_root));
  }
  const struct {
    std::string_view name;
    uint64_t value, min, max;
  } checks[] = {
      {"threads", threads, 0, 64},
      {"recv-buffers", recv_buffers, 1, 32768},
      {"recv-buffer-size", recv_buffer_size, 512, 1 << 20},
      {"max-output-buffer", max_output_buffer, 4096, uint64_t{1} << 32},
      {"mailbox-capacity", mailbox_capacity, 2, 1 << 20},
      {"store-batch-max", store.batch_max_ops, 1, 10'000'000},
      {"store-max-pending-bytes", store.max_pending_bytes, 1 << 20, uint64_t{1} << 40},
      {"store-retry-ms", store.retry_ms, 10, 60'000},
  };
  for (const auto& c : checks) {
    if (absl::Status s = base::CheckRange(c.name, c.value, c.min, c.max); !s.ok()) {
      return s;
    }
  }
  if ((recv_buffers & (recv_buffers - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("recv-buffers: %d is not a power of two", recv_buffers));
  }
  if (tcp_keepalive.idle_s > 0) {
    const struct {
      std::string_view name;
      uint64_t value, min, max;
    } ka[] = {
        {"tcp-keepalive-idle", tcp_keepalive.idle_s, 1, 32767},
        {"tcp-keepalive-interval", tcp_keepalive.interval_s, 1, 32767},
        {"tcp-keepalive-count", tcp_keepalive.count, 1, 127},
    };
    for (const auto& c : ka) {
      if (absl::Status s = base::CheckRange(c.name, c.value, c.min, c.max); !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<shard::ShardSetOptions> ServerConfig::ShardSetOptions() const {
  shard::ShardSetOptions o;
  o.threads = shard::ShardSet::ResolveThreads(threads);
  o.max_connections = max_connections;
  o.pin_threads = pin_threads;
  (void)net::ParseBackend(io_backend, &o.shard.reactor.backend);
  o.shard.reactor.recv_buffer_count = recv_buffers;
  o.shard.reactor.recv_buffer_size = recv_buffer_size;
  o.shard.reactor.output_high_watermark = max_output_buffer;
  o.shard.reactor.output_low_watermark = max_output_buffer / 4;
  o.shard.reactor.tcp_keepalive = tcp_keepalive;
  o.shard.mailbox_capacity = mailbox_capacity;
  absl::StatusOr<std::vector<Listener>> listeners = Listeners();
  if (!listeners.ok()) {
    return listeners.status();
  }
  for (const Listener& l : *listeners) {
    // The listener's id is its place in the list: what a transport is chosen by.
    o.listeners.push_back({l.endpoint, static_cast<uint32_t>(o.listeners.size()), l.Name()});
  }
  return o;
}

absl::StatusOr<std::vector<Listener>> ServerConfig::Listeners() const {
  std::vector<Listener> out;
  for (const std::string& text : listen) {
    absl::StatusOr<Listener> l = ParseListener(text, tls);
    if (!l.ok()) {
      return l.status();
    }
    out.push_back(*std::move(l));
  }
  return out;
}

void HandHttpRootToWebsocket(ServerConfig* config) {
  if (config->http_root.empty()) {
    return;  // another plugin may serve ws:// listeners; the websocket plugin is not forced
  }
  auto plugin = std::find_if(config->plugins.begin(), config->plugins.end(),
                             [](const PluginSpec& p) { return p.name == "websocket"; });
  if (plugin == config->plugins.end()) {
    config->plugins.push_back({.name = "websocket", .origin = "http_root"});
    plugin = config->plugins.end() - 1;
  }
  auto option = std::find_if(plugin->options.begin(), plugin->options.end(),
                             [](const auto& o) { return o.first == "http_root"; });
  if (option != plugin->options.end()) {
    option->second = config->http_root;
  } else {
    plugin->options.emplace_back("http_root", config->http_root);
  }
}

base::LogLevel ServerConfig::ParsedLogLevel() const {
  base::LogLevel level = base::LogLevel::kInfo;
  (void)base::ParseLogLevel(log_level, &level);
  return level;
}

base::LogFormat ServerConfig::ParsedLogFormat() const {
  base::LogFormat format = base::LogFormat::kText;
  (void)base::ParseLogFormat(log_format, &format);
  return format;
}

}  // namespace ringmq::config
