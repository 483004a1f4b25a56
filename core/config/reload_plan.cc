#include "core/config/reload_plan.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

#include "core/config/settings.h"

namespace ringmq::config {
namespace {

// "name@path" per plugin, comma-separated: what loads, from where, in what order.
std::string PluginListText(const std::vector<PluginSpec>& plugins) {
  return absl::StrJoin(plugins, ",", [](std::string* out, const PluginSpec& p) {
    absl::StrAppend(out, p.name, p.path.empty() ? "" : "@", p.path);
  });
}

std::string OptionsText(const PluginSpec& plugin) {
  return absl::StrJoin(plugin.options, ",", absl::PairFormatter("="));
}

void PlanSettings(const ServerConfig& running, const ServerConfig& next, ReloadPlan* plan) {
  // The table hands out pointers into a config it may write; these copies are only read.
  ServerConfig a = running;
  ServerConfig b = next;
  for (const Setting& s : AllSettings()) {
    std::string old_text = FieldText(s.field(a));
    std::string new_text = FieldText(s.field(b));
    if (old_text != new_text) {
      auto& list = s.reload == Reload::kLive ? plan->live : plan->restart;
      list.push_back({std::string(s.key), std::move(old_text), std::move(new_text)});
    }
  }
}

void PlanPlugins(const std::vector<PluginSpec>& running, const std::vector<PluginSpec>& next,
                 ReloadPlan* plan) {
  std::string old_list = PluginListText(running);
  std::string new_list = PluginListText(next);
  if (old_list != new_list) {
    plan->restart.push_back({"plugin", std::move(old_list), std::move(new_list)});
    return;
  }
  for (size_t i = 0; i < running.size(); ++i) {
    if (running[i].options != next[i].options) {
      plan->live.push_back(
          {absl::StrCat("plugin[", i, "].options"), OptionsText(running[i]), OptionsText(next[i])});
    }
  }
}

std::string ChangesText(const std::vector<SettingChange>& changes) {
  return absl::StrJoin(changes, "; ", [](std::string* out, const SettingChange& c) {
    absl::StrAppendFormat(out, "%s '%s' -> '%s'", c.key, c.old_value, c.new_value);
  });
}

}  // namespace

ReloadPlan PlanReload(const ServerConfig& running, const ServerConfig& next) {
  ReloadPlan plan;
  PlanSettings(running, next, &plan);
  PlanPlugins(running.plugins, next.plugins, &plan);
  return plan;
}

std::string Describe(const ReloadPlan& plan) {
  if (plan.empty()) {
    return "reload: no changes";
  }
  std::string out = "reload:";
  if (!plan.live.empty()) {
    absl::StrAppend(&out, " live: ", ChangesText(plan.live));
  }
  if (!plan.restart.empty()) {
    absl::StrAppend(&out, plan.live.empty() ? "" : ";",
                    " needs a restart: ", ChangesText(plan.restart));
  }
  return out;
}

}  // namespace ringmq::config
