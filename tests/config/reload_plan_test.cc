// PlanReload (core/config/reload_plan.h): which changes a running broker can take and which
// wait for a restart, and the log line that says so.
#include "core/config/reload_plan.h"

#include <string>

#include "gtest/gtest.h"

namespace ringmq::config {
namespace {

ServerConfig WithPlugins() {
  ServerConfig c;
  c.plugins = {{"auth_file", "", {{"users", "/etc/a"}}, "f.toml:1"},
               {"message_log", "/opt/log.so", {}, "f.toml:5"}};
  return c;
}

TEST(ReloadPlanTest, NoChanges) {
  ReloadPlan plan = PlanReload(WithPlugins(), WithPlugins());
  EXPECT_TRUE(plan.empty());
  EXPECT_EQ(Describe(plan), "reload: no changes");
}

TEST(ReloadPlanTest, LogLevelAndLimitsAreLive) {
  ServerConfig next = WithPlugins();
  next.log_level = "debug";
  next.broker.max_inflight = 20;
  next.broker.decision_timeout_ms = 100;
  ReloadPlan plan = PlanReload(WithPlugins(), next);
  EXPECT_TRUE(plan.restart.empty());
  EXPECT_EQ(plan.live, (std::vector<SettingChange>{{"limits.max_inflight", "100", "20"},
                                                   {"limits.decision_timeout_ms", "5000", "100"},
                                                   {"logging.level", "info", "debug"}}));
}

TEST(ReloadPlanTest, EngineListenersStoreAndSocketsNeedARestart) {
  ServerConfig next = WithPlugins();
  next.threads = 4;
  next.listen = {"127.0.0.1:1883", "[::1]:1883"};
  next.store.persistence = "memory";
  next.tcp_keepalive.idle_s = 5;
  next.recv_buffers = 512;
  ReloadPlan plan = PlanReload(WithPlugins(), next);
  EXPECT_TRUE(plan.live.empty());
  EXPECT_EQ(plan.restart,
            (std::vector<SettingChange>{{"listener", "127.0.0.1:1883", "127.0.0.1:1883,[::1]:1883"},
                                        {"threads", "0", "4"},
                                        {"recv_buffers", "256", "512"},
                                        {"limits.tcp_keepalive_idle", "60", "5"},
                                        {"persistence.mode", "sqlite", "memory"}}));
}

TEST(ReloadPlanTest, PluginOptionsAreLive) {
  ServerConfig next = WithPlugins();
  next.plugins[0].options = {{"users", "/etc/b"}, {"cache", "true"}};
  ReloadPlan plan = PlanReload(WithPlugins(), next);
  EXPECT_TRUE(plan.restart.empty());
  EXPECT_EQ(plan.live, (std::vector<SettingChange>{
                           {"plugin[0].options", "users=/etc/a", "users=/etc/b,cache=true"}}));
  // Where a plugin's table stands in the file is no change.
  next = WithPlugins();
  next.plugins[1].origin = "g.toml:9";
  EXPECT_TRUE(PlanReload(WithPlugins(), next).empty());
}

TEST(ReloadPlanTest, PluginListOrderOrPathNeedARestart) {
  ServerConfig reordered = WithPlugins();
  std::swap(reordered.plugins[0], reordered.plugins[1]);
  ServerConfig moved = WithPlugins();
  moved.plugins[1].path = "/usr/lib/log.so";
  ServerConfig fewer = WithPlugins();
  fewer.plugins.pop_back();
  fewer.plugins[0].options.clear();  // options of a list that changes are not live either
  for (const ServerConfig& next : {reordered, moved, fewer}) {
    ReloadPlan plan = PlanReload(WithPlugins(), next);
    EXPECT_TRUE(plan.live.empty());
    ASSERT_EQ(plan.restart.size(), 1u);
    EXPECT_EQ(plan.restart[0].key, "plugin");
    EXPECT_EQ(plan.restart[0].old_value, "auth_file,message_log@/opt/log.so");
  }
}

TEST(ReloadPlanTest, DescribeListsBoth) {
  ServerConfig next = WithPlugins();
  next.log_level = "debug";
  next.threads = 2;
  EXPECT_EQ(Describe(PlanReload(WithPlugins(), next)),
            "reload: live: logging.level 'info' -> 'debug'; needs a restart: threads '0' -> '2'");
}

}  // namespace
}  // namespace ringmq::config
