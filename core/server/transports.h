// Listener protocols served by transport plugins (plugin.h 1.1): every listener whose
// protocol is not plain MQTT needs a loaded plugin serving that protocol. The websocket
// plugin is loaded by name, with its defaults, when a ws:// listener asks for it and the
// configuration does not load it. Main thread, after the configured plugins were loaded and
// before the shards start.
#pragma once

#include "absl/status/status.h"

#include "core/broker/broker_shard.h"
#include "core/plugin/plugin_host.h"
#include "core/shard/shard_set.h"

namespace ringmq::server {

// Sets shared->attach_transport for the listeners of `opts` (listener id = its index), or
// fails naming the listener whose protocol no plugin serves.
absl::Status ServeListenerProtocols(const shard::ShardSetOptions& opts, plugin::PluginHost& plugins,
                                    broker::BrokerShared* shared);

}  // namespace ringmq::server
