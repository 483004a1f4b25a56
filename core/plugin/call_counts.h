// How often the host called each plugin's hooks: per shard, per plugin, per hook. The shard
// that calls a hook counts it (relaxed load + store, one writer per counter); any thread
// reads the counts (the admin server's /metrics: ringmq_plugin_calls_total).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringmq::plugin {

// The hooks of include/ringmq/plugin.h that the broker's events and decisions call.
enum class HookKind : uint8_t {
  kAuthenticate,
  kAuthorizePublish,
  kAuthorizeSubscribe,
  kAuthStep,
  kMessagePublished,
  kMessageDelivered,
  kMessageDropped,
  kClientConnected,
  kClientDisconnected,
};
inline constexpr size_t kHookKinds = static_cast<size_t>(HookKind::kClientDisconnected) + 1;
// The hook's name in plugin.h ("authenticate", "on_message_published", ...).
std::string_view HookKindName(HookKind k);

// One shard's counts. Plugins past kMaxCountedPlugins are not counted.
class CallCounts {
 public:
  static constexpr size_t kMaxCountedPlugins = 16;

  // The shard's thread.
  void Count(size_t plugin, HookKind k) {
    if (plugin < kMaxCountedPlugins) {
      std::atomic<uint64_t>& c = counts_[plugin][static_cast<size_t>(k)];
      c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
  }
  // Any thread.
  uint64_t Get(size_t plugin, HookKind k) const {
    return plugin < kMaxCountedPlugins
               ? counts_[plugin][static_cast<size_t>(k)].load(std::memory_order_relaxed)
               : 0;
  }

 private:
  std::array<std::array<std::atomic<uint64_t>, kHookKinds>, kMaxCountedPlugins> counts_{};
};

// A total over the shards, as PluginHost::CallTotals gives it.
struct PluginCallTotal {
  std::string plugin;
  std::string_view hook;
  uint64_t calls = 0;
};

}  // namespace ringmq::plugin
