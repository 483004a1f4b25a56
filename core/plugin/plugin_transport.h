// PluginTransport: a net::Transport served by a plugin's transport hooks (plugin.h 1.1): the
// reactor's byte transformer under one connection, calling the plugin's transport_inbound,
// transport_outbound, transport_closing and, when the connection goes, transport_close.
// Also what the opaque ringmq_bytes handle is: an OutputQueue (wire) or a std::string (the
// application's input), appended to through host->bytes_append / bytes_reserve.
// Shard-local like every transport: called on the thread of the shard the connection is on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/net/output_queue.h"
#include "core/net/transport.h"

#include "ringmq/plugin.h"

struct ringmq_bytes {
  ringmq::net::OutputQueue* queue = nullptr;  // one of the two
  std::string* text = nullptr;
};

namespace ringmq::plugin {

class PluginTransport final : public net::Transport {
 public:
  // `hooks` outlives every connection (the plugin is unloaded after the shards stopped);
  // `state` is what its transport_open returned (not null).
  PluginTransport(const ringmq_plugin_hooks* hooks, void* state) : hooks_(hooks), state_(state) {}
  ~PluginTransport() override;
  PluginTransport(const PluginTransport&) = delete;
  PluginTransport& operator=(const PluginTransport&) = delete;

  Status OnInbound(std::span<const uint8_t> in, std::string* app, net::OutputQueue* wire) override;
  Status OnOutbound(net::OutputQueue* app, net::OutputQueue* wire) override;
  void OnClosing(net::OutputQueue* wire) override;

 private:
  const ringmq_plugin_hooks* hooks_;
  void* state_;
};

// host->bytes_append and host->bytes_reserve.
void BytesAppend(ringmq_bytes* b, const void* data, size_t len);
uint8_t* BytesReserve(ringmq_bytes* b, size_t len);

}  // namespace ringmq::plugin
