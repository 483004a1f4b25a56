#include "core/server/reload.h"

#include <string>
#include <vector>

#include "core/base/log.h"
#include "core/config/reload_plan.h"
#include "core/server/flags.h"

namespace ringmq::server {
namespace {

// The same plugins, in the same order, from the same files: only their options may differ.
bool SamePlugins(const config::ServerConfig& a, const config::ServerConfig& b) {
  if (a.plugins.size() != b.plugins.size()) {
    return false;
  }
  for (size_t i = 0; i < a.plugins.size(); ++i) {
    if (a.plugins[i].name != b.plugins[i].name || a.plugins[i].path != b.plugins[i].path) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Reloader::Reload() {
  // Certificates first: a renewal (a certbot hook's SIGHUP) must not wait on the config file.
  transports_->ReloadTls();
  absl::StatusOr<config::ServerConfig> next = ReloadConfig();
  if (!next.ok()) {
    RINGMQ_LOG(kError, "reload: the running configuration stays: %s", next.status().message());
    return;
  }
  if (absl::Status v = next->Validate(); !v.ok()) {
    RINGMQ_LOG(kError, "reload: the running configuration stays: %s", v.message());
    return;
  }
  RINGMQ_LOG(kInfo, "%s", config::Describe(config::PlanReload(running_, *next)));
  if (next->log_level != running_.log_level) {
    running_.log_level = next->log_level;
    base::SetLogLevel(running_.ParsedLogLevel());
  }
  if (!(next->broker == running_.broker)) {
    running_.broker = next->broker;
    shards_->ApplyConfig(running_.broker);
  }
  ReloadPlugins(*next);
}

void Reloader::ReloadPlugins(const config::ServerConfig& next) {
  if (plugins_ == nullptr || plugins_->size() == 0) {
    return;
  }
  if (!SamePlugins(running_, next)) {
    RINGMQ_LOG(kWarning,
               "reload: the list of plugins changed; it takes effect at the next start (the "
               "running plugins keep their options)");
    return;
  }
  std::vector<plugin::Options> options;
  for (const config::PluginSpec& p : next.plugins) {
    options.push_back(p.options);
  }
  const std::vector<std::string> refused = plugins_->Reload(options);
  size_t taken = 0;
  for (size_t i = 0; i < running_.plugins.size(); ++i) {
    if (refused[i].empty()) {
      running_.plugins[i].options = next.plugins[i].options;
      ++taken;
    } else {
      RINGMQ_LOG(kError, "reload: %s", refused[i]);
    }
  }
  RINGMQ_LOG(kInfo, "reload: %d plugin(s) reloaded, %d kept their running configuration", taken,
             refused.size() - taken);
}

}  // namespace ringmq::server
