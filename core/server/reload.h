// Reloader: what SIGHUP does. The --config file is read again with the same command-line
// flags over it (flags.h). An invalid file keeps the running configuration and the log says
// why. Otherwise what a running broker can take is applied, and said in the log:
//   - the log level;
//   - the broker's limits: every shard takes a copy (BrokerConfig, ConfigMsg) at its next
//     loop; what a limit already let in stays, what comes next obeys the new value;
//   - the TLS listeners' certificates, keys and CAs: read again from the same files, even when
//     the config file is invalid (new handshakes use them, established connections keep
//     theirs; a file that does not load keeps the running certificate);
//   - the plugins' options (same plugins in the same order): each plugin's reload runs
//     (password and ACL files are read again even when the options did not change), and a
//     plugin that refuses keeps its running options and says why.
// Changes that need a restart (listeners, threads, the store, which plugins load) are logged
// and not applied: the running configuration keeps the old values, so they stay reported at
// each reload until the restart. Existing connections stay up. Main thread only.
#pragma once

#include "core/broker/completions.h"
#include "core/config/server_config.h"
#include "core/plugin/plugin_host.h"
#include "core/server/transports.h"

namespace ringmq::server {

class Reloader {
 public:
  Reloader(config::ServerConfig running, plugin::PluginHost* plugins,
           broker::CompletionRouter* shards, ListenerTransports* transports)
      : running_(std::move(running)), plugins_(plugins), shards_(shards), transports_(transports) {}

  void Reload();

 private:
  void ReloadPlugins(const config::ServerConfig& next);

  config::ServerConfig running_;
  plugin::PluginHost* plugins_;
  broker::CompletionRouter* shards_;
  ListenerTransports* transports_;
};

}  // namespace ringmq::server
