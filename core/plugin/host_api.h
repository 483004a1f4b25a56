// The host's side of include/ringmq/plugin.h: what its opaque handles are (a client, a core,
// an enhanced-authentication reply) and the table of host functions each plugin gets. The
// functions find their plugin and host through the table they were called with (each plugin
// has its own table, inside its PluginSlot).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "core/broker/hooks.h"
#include "core/net/timer_wheel.h"
#include "core/plugin/call_counts.h"

#include "ringmq/plugin.h"

namespace ringmq::plugin {
class PluginHost;
struct PendingChain;
}  // namespace ringmq::plugin

// The client a hook is about: views of the broker's ClientInfo, valid during the call.
struct ringmq_client {
  const ringmq::broker::ClientInfo* info = nullptr;
  std::string_view known_address;  // set when the connection may be gone (a chain resumed)
  mutable std::string address;     // read from the socket on the first ask
  mutable bool address_read = false;
};

struct ringmq_auth_reply {
  std::string data;
};

// One shard as the plugins see it. Touched only on that shard's thread (after core_init).
struct ringmq_core {
  // A timer a plugin started with host->timer_start.
  struct PluginTimer : ringmq::net::Timer {
    ringmq_core* core = nullptr;
    uint64_t id = 0;
    void (*fn)(void*) = nullptr;
    void* arg = nullptr;
  };
  // One plugin's on_tick on this shard.
  struct TickTimer : ringmq::net::Timer {
    ringmq_core* core = nullptr;
    size_t plugin = 0;
  };

  ringmq::plugin::PluginHost* host = nullptr;
  ringmq::broker::ShardServices* services = nullptr;
  uint32_t index = 0;
  bool ready = false;         // every plugin's core_init succeeded: hooks may be called
  bool stopped = false;       // core_fini was called: no more hooks
  std::vector<void*> states;  // core_init's answer, per plugin
  absl::flat_hash_map<uint64_t, std::unique_ptr<ringmq::plugin::PendingChain>> chains;
  absl::flat_hash_map<uint64_t, std::unique_ptr<PluginTimer>> timers;
  uint64_t last_timer_id = 0;
  std::vector<std::unique_ptr<TickTimer>> ticks;
  ringmq::plugin::CallCounts calls;  // this shard's calls of each plugin's hooks
};

namespace ringmq::plugin {

// A plugin's host function table and who it belongs to (first member: the table's address
// is the slot's).
struct HostTable {
  ringmq_host_api api;
  PluginHost* host = nullptr;
  size_t plugin = 0;
};

// "IP:PORT" or "[IPv6]:PORT" of a socket's peer; empty when it has none.
std::string PeerAddress(int fd);

// Fills `t`'s function table (host and plugin index must be set).
void FillHostApi(HostTable* t);

// A plugin's table from the pointer the plugin passes back.
inline const HostTable& TableOf(const ringmq_host_api* api) {
  return *reinterpret_cast<const HostTable*>(api);
}

}  // namespace ringmq::plugin
