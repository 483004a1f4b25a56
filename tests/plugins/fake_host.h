// A fake of the broker's side of the plugin ABI (ringmq_host_api), for plugin tests that call
// a plugin's hooks themselves: the test plays the shards (calling core_init, hooks, on_tick
// with any now_ms) and reads back what the plugin asked of the host.
//
// What it records: log lines, host->publish calls (the fake does NOT call the plugin's
// message events for them, as the real host does), complete/complete_auth, auth_reply,
// disconnect, timers (fired only by FireTimers). Any thread may call the host functions;
// the accessors return copies. Clients are FakeClient objects the test owns.
//
// Also: OptionList builds a ringmq_plugin_config, PluginModule dlopens a plugin's .so the way
// the host does (RTLD_NOW | RTLD_LOCAL, one symbol).
#pragma once

#include <ringmq/plugin.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringmq::testing {

struct FakeClient {
  std::string id;
  std::optional<std::string> username;  // nullopt: the CONNECT had none
  std::string address = "127.0.0.1:50000";
  std::string cert_identity;
  uint32_t protocol = RINGMQ_MQTT_50;

  const ringmq_client* handle() const { return reinterpret_cast<const ringmq_client*>(this); }
};

// A ringmq_message whose views point into its own strings.
struct OwnedMessage {
  std::string topic;
  std::string payload;
  uint32_t qos = 0;
  bool retain = false;

  ringmq_message view() const {
    ringmq_message m{};
    m.struct_size = sizeof(m);
    m.qos = qos;
    m.retain = retain;
    m.topic = {topic.data(), topic.size()};
    m.payload = {payload.data(), payload.size()};
    return m;
  }
};

class FakeHost {
 public:
  struct LogLine {
    uint32_t level;
    std::string text;
  };
  struct Published {
    uint32_t core_index;
    OwnedMessage message;
  };
  struct Completion {
    uint64_t ticket;
    ringmq_decision decision;
    std::string data;  // complete_auth only
  };

  FakeHost();
  FakeHost(const FakeHost&) = delete;
  FakeHost& operator=(const FakeHost&) = delete;

  const ringmq_host_api* api() const { return &table_.api; }
  // The host's handle of shard `index` (made on first use; stable).
  ringmq_core* core(uint32_t index);

  std::vector<LogLine> logs() const;
  std::vector<Published> published() const;
  std::vector<Completion> completions() const;
  std::vector<std::pair<std::string, uint32_t>> disconnects() const;
  std::string last_auth_reply() const;
  // Waits until a log line contains `text`.
  [[nodiscard]] bool WaitForLog(std::string_view text, int timeout_ms) const;
  [[nodiscard]] bool WaitForCompletions(size_t count, int timeout_ms) const;
  // Calls every started, not cancelled timer of `core_index` (whatever its delay); returns
  // how many ran.
  size_t FireTimers(uint32_t core_index);
  // What host->publish returns from now on (0, or -1: the message is not recorded).
  void set_publish_result(int result) {
    std::lock_guard<std::mutex> lock(mu_);
    publish_result_ = result;
  }
  // The `reply` handle to pass to auth_step; host->auth_reply on it sets last_auth_reply().
  ringmq_auth_reply* auth_reply_handle() { return reinterpret_cast<ringmq_auth_reply*>(this); }

 private:
  struct Table {
    ringmq_host_api api;
    FakeHost* self;  // api is the first member: the functions find the FakeHost from it
  };
  struct Core {
    FakeHost* host;
    uint32_t index;
  };
  struct Timer {
    uint64_t id;
    uint32_t core_index;
    void (*fn)(void*);
    void* arg;
  };

  static FakeHost* From(const ringmq_host_api* api);
  static Core* CoreOf(const ringmq_core* core);
  static void Log(const ringmq_host_api* host, uint32_t level, ringmq_str message);
  static void Complete(const ringmq_host_api* host, uint64_t ticket, ringmq_decision d);
  static void CompleteAuth(const ringmq_host_api* host, uint64_t ticket, ringmq_decision d,
                           ringmq_str data);
  static void AuthReply(ringmq_auth_reply* reply, ringmq_str data);
  static ringmq_str ClientId(const ringmq_client* c);
  static ringmq_str ClientUsername(const ringmq_client* c, bool* present);
  static ringmq_str ClientAddress(const ringmq_client* c);
  static ringmq_str ClientCertIdentity(const ringmq_client* c);
  static uint32_t ClientProtocol(const ringmq_client* c);
  static int Publish(ringmq_core* core, const ringmq_message* m);
  static void Disconnect(const ringmq_host_api* host, ringmq_str client_id, uint32_t reason);
  static uint64_t TimerStart(ringmq_core* core, uint32_t delay_ms, void (*fn)(void*), void* arg);
  static void TimerCancel(ringmq_core* core, uint64_t timer_id);
  static uint32_t CoreIndex(const ringmq_core* core);

  Table table_;
  mutable std::mutex mu_;
  int publish_result_ = 0;  // guarded by mu_
  mutable std::condition_variable cv_;
  std::deque<Core> cores_;  // guarded by mu_
  std::vector<LogLine> logs_;
  std::vector<Published> published_;
  std::vector<Completion> completions_;
  std::vector<std::pair<std::string, uint32_t>> disconnects_;
  std::string auth_reply_;
  std::vector<Timer> timers_;
  uint64_t next_timer_id_ = 1;
};

// Builds a ringmq_plugin_config; the views point into the OptionList, which must outlive it.
class OptionList {
 public:
  OptionList& Add(std::string key, std::string value);
  ringmq_plugin_config config(std::string_view name, uint32_t core_count);

 private:
  std::deque<std::pair<std::string, std::string>> items_;
  std::vector<ringmq_option> options_;
  std::string name_;
};

// A plugin's .so opened as the host opens it. Open() fails (nullptr and a message) when the
// file cannot be loaded, lacks ringmq_plugin_entry, or the entry refuses the host.
class PluginModule {
 public:
  static std::unique_ptr<PluginModule> Open(const std::string& path, const ringmq_host_api* host,
                                            std::string* error);
  ~PluginModule();
  const ringmq_plugin_descriptor& descriptor() const { return *descriptor_; }
  const ringmq_plugin_hooks& hooks() const { return *descriptor_->hooks; }

 private:
  PluginModule() = default;
  void* handle_ = nullptr;
  const ringmq_plugin_descriptor* descriptor_ = nullptr;
};

}  // namespace ringmq::testing
