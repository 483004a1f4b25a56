// The transports under each listener's connections: TLS for mqtts:// and wss:// (core/tls,
// one TlsContext per TLS listener), and the plugin serving a listener's protocol (plugin.h
// 1.1): every listener whose protocol is not plain MQTT needs a loaded plugin serving it;
// the websocket plugin is loaded by name, with its defaults, when a ws:// or wss:// listener
// asks for it and the configuration does not load it. For wss:// the WebSocket transport
// runs over TLS (net::StackedTransport). Main thread: Serve after the configured plugins were
// loaded and before the shards start; ReloadTls on SIGHUP. Outlives the shards.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

#include "core/broker/broker_shard.h"
#include "core/config/listener.h"
#include "core/plugin/plugin_host.h"
#include "core/tls/tls_context.h"

namespace ringmq::server {

class ListenerTransports {
 public:
  // Sets shared->attach_transport for `listeners` (listener id = index), or fails naming the
  // listener whose protocol no plugin serves or whose certificate cannot be used.
  absl::Status Serve(const std::vector<config::Listener>& listeners, plugin::PluginHost& plugins,
                     broker::BrokerShared* shared);
  // Reads every TLS listener's certificate, key and CA again; one that fails keeps its
  // running certificate. Logs each.
  void ReloadTls();
  // The TLS counters summed over the listeners ($SYS/broker/tls/..., ringmq_tls_..._total).
  // Any thread.
  std::vector<broker::OutsideFigure> TlsFigures() const;

 private:
  std::vector<std::unique_ptr<tls::TlsContext>> tls_;  // written by Serve only
  std::atomic<bool> has_tls_{false};  // set (release) once tls_ is final and holds a context
};

}  // namespace ringmq::server
