#include "core/server/transports.h"

#include <string>
#include <vector>

#include "absl/strings/str_format.h"

namespace ringmq::server {
namespace {

// The plugin that serves `protocol`, loading the one named like it when none does yet.
absl::StatusOr<int> ServerOf(const std::string& protocol, plugin::PluginHost& plugins) {
  int server = plugins.TransportServer(protocol);
  if (server >= 0) {
    return server;
  }
  if (protocol == "websocket") {
    if (absl::Status s = plugins.Add("websocket", "", {}); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "the websocket plugin serves ws:// listeners and could not be loaded: %s", s.message()));
    }
    server = plugins.TransportServer(protocol);
  }
  if (server < 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("no loaded plugin serves protocol '%s'", protocol));
  }
  return server;
}

}  // namespace

absl::Status ServeListenerProtocols(const shard::ShardSetOptions& opts, plugin::PluginHost& plugins,
                                    broker::BrokerShared* shared) {
  std::vector<int> server_of_listener(opts.listeners.size(), -1);  // -1: plain MQTT
  bool any = false;
  for (const shard::ListenerConfig& l : opts.listeners) {
    if (l.name == "mqtt") {
      continue;
    }
    absl::StatusOr<int> server = ServerOf(l.name, plugins);
    if (!server.ok()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "listen %s (%s): %s", l.endpoint.ToString(), l.name, server.status().message()));
    }
    if (l.id >= server_of_listener.size()) {
      return absl::InternalError(absl::StrFormat("listener id %d is not its index", l.id));
    }
    server_of_listener[l.id] = *server;
    any = true;
  }
  if (!any) {
    return absl::OkStatus();
  }
  shared->attach_transport = [&plugins, server_of_listener](uint32_t shard, net::Conn& c) {
    const uint32_t id = c.listener_id();
    if (id >= server_of_listener.size() || server_of_listener[id] < 0) {
      return true;  // plain MQTT
    }
    return plugins.AttachTransport(static_cast<size_t>(server_of_listener[id]), shard, id, c);
  };
  return absl::OkStatus();
}

}  // namespace ringmq::server
