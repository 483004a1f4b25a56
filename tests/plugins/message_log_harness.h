// Drives message_log through its C ABI (ringmq_plugin_entry and the hooks) with a FakeHost,
// playing the shards from the test's thread (or threads: one per core), in a temporary folder
// removed at the end. Used by the message_log_*_test programs.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "plugins/message_log/message_log_for_test.h"
#include "tests/plugins/fake_host.h"

namespace ringmq::message_log {

class MessageLogHarness {
 public:
  explicit MessageLogHarness(uint32_t core_count = 1) : core_count_(core_count) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "message_log_test.XXXXXX");
    dir_ = mkdtemp(tmpl.data()) != nullptr ? tmpl : std::string();
    EXPECT_FALSE(dir_.empty());
    descriptor_ = ringmq_plugin_entry(host_.api());
    EXPECT_NE(descriptor_, nullptr);
  }
  ~MessageLogHarness() {
    Fini();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  testing::FakeHost& host() { return host_; }
  const ringmq_plugin_hooks& hooks() const { return *descriptor_->hooks; }
  void* global() const { return global_; }

  // global_init, then core_init on every core. False with the plugin's message.
  bool Init(testing::OptionList& options, std::string* error) {
    const ringmq_plugin_config config = options.config("message_log", core_count_);
    char buf[512] = {};
    global_ = hooks().global_init(host_.api(), &config, buf, sizeof(buf));
    if (global_ == nullptr) {
      *error = buf;
      return false;
    }
    for (uint32_t i = 0; i < core_count_; ++i) {
      cores_.push_back(hooks().core_init(global_, host_.core(i), i));
      EXPECT_NE(cores_.back(), nullptr);
    }
    return true;
  }
  void InitOrFail(testing::OptionList& options) {
    std::string error;
    ASSERT_TRUE(Init(options, &error)) << error;
  }

  // core_fini on every core, then global_fini (drains and closes the file).
  void Fini() {
    if (global_ == nullptr) {
      return;
    }
    for (void* c : cores_) {
      hooks().core_fini(c);
    }
    cores_.clear();
    hooks().global_fini(global_);
    global_ = nullptr;
  }

  // reload on the main thread, then core_reload on every core.
  bool Reload(testing::OptionList& options, std::string* error) {
    const ringmq_plugin_config config = options.config("message_log", core_count_);
    char buf[512] = {};
    if (!hooks().reload(global_, &config, buf, sizeof(buf))) {
      *error = buf;
      return false;
    }
    for (void* c : cores_) {
      hooks().core_reload(c);
    }
    return true;
  }

  void Publish(uint32_t core, const testing::FakeClient* client, const testing::OwnedMessage& m) {
    const ringmq_message v = m.view();
    hooks().on_message_published(cores_[core], client ? client->handle() : nullptr, &v);
  }
  void Deliver(uint32_t core, const testing::FakeClient& client, const testing::OwnedMessage& m) {
    const ringmq_message v = m.view();
    hooks().on_message_delivered(cores_[core], client.handle(), &v);
  }
  void Drop(uint32_t core, const testing::FakeClient& client, const testing::OwnedMessage& m,
            uint32_t reason) {
    const ringmq_message v = m.view();
    hooks().on_message_dropped(cores_[core], client.handle(), &v, reason);
  }
  void Tick(uint32_t core, int64_t now_ms) { hooks().on_tick(cores_[core], now_ms); }

  [[nodiscard]] bool WaitWritten(uint64_t lines) {
    return WaitWrittenForTest(global_, lines, 10'000);
  }

  // The file's lines, each parsed (a line that is not JSON fails the test).
  static std::vector<nlohmann::json> ReadLines(const std::string& path) {
    std::vector<nlohmann::json> out;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      EXPECT_TRUE(j.is_object()) << "not a JSON object: " << line;
      out.push_back(std::move(j));
    }
    return out;
  }

 private:
  const uint32_t core_count_;
  std::string dir_;
  testing::FakeHost host_;
  const ringmq_plugin_descriptor* descriptor_ = nullptr;
  void* global_ = nullptr;
  std::vector<void*> cores_;
};

}  // namespace ringmq::message_log
