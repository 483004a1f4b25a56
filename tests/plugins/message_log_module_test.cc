// The built module (build/plugins/message_log/message_log.so), loaded as the host loads it:
// dlopen with RTLD_NOW | RTLD_LOCAL, one exported symbol, and a line through its hooks.
#include <stdio.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "tests/plugins/fake_host.h"
#include "tests/plugins/message_log_harness.h"

namespace ringmq::message_log {
namespace {

std::string ModulePath() {
  const char* p = getenv("MESSAGE_LOG_MODULE");
  return p != nullptr ? p : "";
}

TEST(MessageLogModule, ExportsOnlyTheEntryPoint) {
  const std::string path = ModulePath();
  ASSERT_FALSE(path.empty()) << "MESSAGE_LOG_MODULE is not set";
  FILE* nm = popen(("nm -D --defined-only '" + path + "' 2>&1").c_str(), "r");
  ASSERT_NE(nm, nullptr);
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof(buf), nm) != nullptr) {
    out += buf;
  }
  const int status = pclose(nm);
  if (status != 0) {
    GTEST_SKIP() << "nm failed: " << out;
  }
  // One line: "<address> T ringmq_plugin_entry".
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
  EXPECT_NE(out.find(" T ringmq_plugin_entry\n"), std::string::npos) << out;
}

TEST(MessageLogModule, LoadsAndWritesALine) {
  testing::FakeHost host;
  std::string error;
  auto module = testing::PluginModule::Open(ModulePath(), host.api(), &error);
  ASSERT_NE(module, nullptr) << error;
  EXPECT_EQ(std::string(module->descriptor().name.ptr, module->descriptor().name.len),
            "message_log");

  std::string dir = (std::filesystem::temp_directory_path() / "message_log_module.XXXXXX");
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  testing::OptionList options;
  options.Add("file", dir + "/log").Add("payload", "base64");
  const ringmq_plugin_config config = options.config("audit", 1);
  char why[256] = {};
  void* global = module->hooks().global_init(host.api(), &config, why, sizeof(why));
  ASSERT_NE(global, nullptr) << why;
  void* core = module->hooks().core_init(global, host.core(0), 0);
  ASSERT_NE(core, nullptr);
  const testing::FakeClient client{"c", "u"};
  const testing::OwnedMessage m{"a/b", "hi", 1, false};
  const ringmq_message v = m.view();
  module->hooks().on_message_published(core, client.handle(), &v);
  module->hooks().on_tick(core, 1000);
  module->hooks().core_fini(core);
  module->hooks().global_fini(global);

  const auto lines = MessageLogHarness::ReadLines(dir + "/log");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["payload"], "aGk=");
  EXPECT_EQ(lines[0]["username"], "u");
  // The drop count is published under the name the config gave the plugin.
  const auto published = host.published();
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].message.topic, "$SYS/broker/plugins/audit/dropped");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ringmq::message_log
