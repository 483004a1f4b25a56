// The broker's flags (core/server/flags.cc) against the settings table: every flag has a
// key in the file, types and defaults agree, and a flag given on the command line wins over
// the file.
#include "core/server/flags.h"

#include <string>
#include <vector>

#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

#include "core/config/settings.h"
#include "tests/config/config_test_util.h"

namespace ringmq::server {
namespace {

using config::ServerConfig;
using config::Setting;

// ConfigFromCommandLine on these arguments (after "ringmq"), flags restored afterwards.
absl::StatusOr<ServerConfig> FromArgs(std::vector<std::string> args) {
  absl::FlagSaver saver;
  args.insert(args.begin(), "ringmq");
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  return ConfigFromCommandLine(static_cast<int>(args.size()), argv.data());
}

TEST(FlagsTest, EveryServerFlagHasAConfigKey) {
  int server_flags = 0;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!absl::StrContains(flag->Filename(), "core/server/")) {
      continue;
    }
    ++server_flags;
    if (name == "config") {
      continue;  // names the file itself
    }
    EXPECT_NE(config::FindSettingByFlag(std::string(name)), nullptr)
        << "--" << name << " has no key in core/config/settings.cc";
  }
  EXPECT_EQ(server_flags, static_cast<int>(config::AllSettings().size()) + 1);
}

TEST(FlagsTest, EverySettingHasAFlagOfItsType) {
  for (const Setting& s : config::AllSettings()) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(std::string(s.flag));
    ASSERT_NE(flag, nullptr) << s.key << ": no flag --" << s.flag;
    ServerConfig c;
    EXPECT_TRUE(ApplyFlags({std::string(s.flag)}, &c).ok()) << s.key;
  }
}

TEST(FlagsTest, FlagDefaultsAreTheConfigDefaults) {
  // Without --config every flag is applied: with untouched flags that must be ServerConfig{}.
  ServerConfig from_flags;
  from_flags.broker.max_inflight = 1;  // overwritten below
  std::vector<std::string> all;
  for (const Setting& s : config::AllSettings()) {
    all.emplace_back(s.flag);
  }
  ASSERT_TRUE(ApplyFlags(all, &from_flags).ok());
  ServerConfig defaults;
  for (const Setting& s : config::AllSettings()) {
    EXPECT_EQ(config::FieldText(s.field(from_flags)), config::FieldText(s.field(defaults)))
        << s.key;
  }
}

TEST(FlagsTest, FlagsGivenReadsEveryForm) {
  EXPECT_EQ(
      FlagsGiven({"ringmq", "--max_inflight=5", "--threads", "2", "-log_level=debug",
                  "--nopin_threads", "--listen=a,b", "--no_such_flag", "--", "--sync"}),
      (std::vector<std::string>{"max_inflight", "threads", "log_level", "pin_threads", "listen"}));
}

TEST(FlagsTest, WithoutConfigTheFlagsAlone) {
  absl::StatusOr<ServerConfig> c = FromArgs({"--max-inflight", "7"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->broker.max_inflight, 7u);
  EXPECT_EQ(c->listen, ServerConfig{}.listen);
  EXPECT_TRUE(c->config_path.empty());
}

TEST(FlagsTest, FlagsWinOverTheFile) {
  config::testing::TempConfigFile f("ringmq.toml", R"(
pin_threads = true
[[listener]]
port = 1999
[limits]
max_inflight = 50
max_sessions = 9
[logging]
level = "error"
)");
  absl::StatusOr<ServerConfig> c =
      FromArgs({"--config", f.path(), "--max-inflight=7", "--nopin-threads", "--listen",
                "127.0.0.1:0", "--listen", "[::1]:0"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->broker.max_inflight, 7u);     // flag
  EXPECT_EQ(c->broker.max_sessions, 9u);     // file
  EXPECT_EQ(c->log_level, "error");          // file
  EXPECT_FALSE(c->pin_threads);              // flag
  EXPECT_EQ(c->broker.max_keepalive_s, 0u);  // neither: the default
  EXPECT_EQ(c->listen, (std::vector<std::string>{"127.0.0.1:0", "[::1]:0"}));
  EXPECT_EQ(c->config_path, f.path());
  // A flag equal to its default still wins.
  c = FromArgs({"--config", f.path(), "--log-level=info"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->log_level, "info");
}

// --http-root DIR is the websocket plugin's http_root: the plugin is added (loaded by name)
// when none is configured, and the flag wins over a configured plugin's own option.
TEST(FlagsTest, HttpRootIsHandedToTheWebsocketPlugin) {
  absl::StatusOr<ServerConfig> c =
      FromArgs({"--listen", "ws://127.0.0.1:0", "--http-root", "/srv/app"});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->plugins.size(), 1u);
  EXPECT_EQ(c->plugins[0].name, "websocket");
  EXPECT_EQ(c->plugins[0].path, "");
  EXPECT_EQ(c->plugins[0].options,
            (std::vector<std::pair<std::string, std::string>>{{"http_root", "/srv/app"}}));

  config::testing::TempConfigFile f("ringmq.toml", R"(
[[listener]]
address = "127.0.0.1"
port = 0
protocol = "websocket"
[[plugin]]
name = "websocket"
[plugin.options]
path = "/chat"
http_root = "/srv/old"
)");
  c = FromArgs({"--config", f.path(), "--http-root=/srv/new"});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->plugins.size(), 1u);
  EXPECT_EQ(c->plugins[0].options, (std::vector<std::pair<std::string, std::string>>{
                                       {"path", "/chat"}, {"http_root", "/srv/new"}}));
  // Without the flag, the file's own option stays.
  c = FromArgs({"--config", f.path()});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->plugins[0].options[1].second, "/srv/old");
}

TEST(FlagsTest, HttpRootWithoutAWebSocketListenerIsAnError) {
  absl::StatusOr<ServerConfig> c = FromArgs({"--listen", "127.0.0.1:0", "--http-root", "/srv"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "http-root: no WebSocket listener (ws://HOST:PORT) to serve '/srv' on");
}

TEST(FlagsTest, FileErrorsNameTheFileAndFlagErrorsTheFlag) {
  config::testing::TempConfigFile f("bad.toml", "[limits]\nmax_inflight = 0\n");
  absl::StatusOr<ServerConfig> c = FromArgs({"--config", f.path()});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), f.path() + ":2: limits.max_inflight: 0 is outside 1..65535");
  config::testing::TempConfigFile good("good.toml", "threads = 1\n");
  c = FromArgs({"--config", good.path(), "--max-inflight=0"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "max-inflight: 0 is outside 1..65535");
}

TEST(FlagsTest, ReloadReadsTheFileAgainWithTheSameFlags) {
  config::testing::TempConfigFile f("ringmq.toml", "[limits]\nmax_inflight = 50\n");
  absl::FlagSaver saver;
  std::vector<std::string> args = {"ringmq", "--config", f.path(), "--max-sessions=3"};
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  ASSERT_TRUE(ConfigFromCommandLine(static_cast<int>(args.size()), argv.data()).ok());
  absl::StatusOr<ServerConfig> c = ReloadConfig();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->broker.max_inflight, 50u);
  EXPECT_EQ(c->broker.max_sessions, 3u);
}

}  // namespace
}  // namespace ringmq::server
