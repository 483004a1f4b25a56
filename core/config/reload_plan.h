// What a reload (SIGHUP) would change: the running config compared with one read afresh,
// split into the changes a running broker can take (the log level, the broker's limits,
// the options of the same plugins) and those that wait for a restart (listeners, threads,
// I/O settings, the store, which plugins load and in what order). The caller applies the
// first list and logs Describe() for both. Pure functions; any thread.
#pragma once

#include <string>
#include <vector>

#include "core/config/server_config.h"

namespace ringmq::config {

struct SettingChange {
  std::string key;  // as in the file: "limits.max_inflight", "plugin[0].options", "listener"
  std::string old_value;
  std::string new_value;

  bool operator==(const SettingChange&) const = default;
};

struct ReloadPlan {
  std::vector<SettingChange> live;     // can be applied to the running broker
  std::vector<SettingChange> restart;  // take effect at the next start only

  bool empty() const { return live.empty() && restart.empty(); }
};

ReloadPlan PlanReload(const ServerConfig& running, const ServerConfig& next);

// One line for the log, e.g. "reload: live: logging.level 'info' -> 'debug'; needs a
// restart: threads '2' -> '4'" ("reload: no changes" when empty).
std::string Describe(const ReloadPlan& plan);

}  // namespace ringmq::config
