// PluginHost: the broker's hooks (core/broker/hooks.h) served by .so plugins through the C ABI
// of include/ringmq/plugin.h. It loads them in config order (plugin_loader.h), runs their
// lifecycle (global_init on the main thread, core_init/core_fini on each shard's thread,
// reload on SIGHUP, global_fini), and turns each broker hook into calls of the plugins that
// implement it:
//   decisions  every plugin in order; the first DENY decides; a PENDING answer holds the
//              chain (its state kept per shard by ticket) until the plugin completes it, and
//              an ALLOW then asks the next plugin (OnDecisionCompleted);
//   events     every plugin that implements them.
// A shard whose core_init failed serves no client: every decision there is refused.
//
// Threads: Add, CoreInitError, Reload and Shutdown on the main thread; the hooks on the shard
// they are called for; Complete/Disconnect (host functions) on any thread.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

#include "core/base/mutex.h"
#include "core/broker/completions.h"
#include "core/broker/hooks.h"
#include "core/plugin/call_counts.h"
#include "core/plugin/host_api.h"
#include "core/plugin/plugin_loader.h"

namespace ringmq::net {
class Conn;
}  // namespace ringmq::net

namespace ringmq::plugin {

using Options = std::vector<std::pair<std::string, std::string>>;

// A request kept while a chain waits for one plugin (strings owned).
struct PendingChain;

class PluginHost final : public broker::BrokerHooks {
 public:
  // `cores`: the shards (core_init is called for 0 .. cores-1). `router` (may be null in
  // tests) carries completions, disconnections and per-core reloads to the shards.
  PluginHost(uint32_t cores, broker::CompletionRouter* router);
  ~PluginHost() override;

  // Loads the plugin (`path` empty: found by name in `dirs`) and runs its global_init with
  // `options`. An error names the plugin and what went wrong; the broker must not start.
  absl::Status Add(std::string_view name, std::string_view path, const Options& options,
                   const std::vector<std::string>& dirs = DefaultPluginDirs());
  size_t size() const { return plugins_.size(); }
  const LoadedPlugin& plugin(size_t i) const { return *plugins_[i]->loaded; }

  // After the shards started: the first core_init failure, if any.
  absl::Status CoreInitError() const;

  // SIGHUP: each plugin's reload with its new options (same plugins, same order: the caller
  // checked), then core_reload on every shard for those that took them. Returns, per plugin,
  // an empty string when it took them, or why it kept its running configuration.
  std::vector<std::string> Reload(const std::vector<Options>& options);

  // After the shards stopped (every core_fini ran): global_fini in reverse order.
  void Shutdown();

  // Transports (plugin.h 1.1). The plugin serving listener protocol `protocol`, or -1.
  int TransportServer(std::string_view protocol) const;
  // Shard `shard`'s thread: the transport of plugin `plugin` (TransportServer) for `c`,
  // accepted on the listener at `listener_index` (the caller puts it under `c`, alone or
  // stacked under TLS). nullptr: refuse the connection (the shard is not ready, or the
  // plugin's transport_open said no).
  std::unique_ptr<net::Transport> OpenTransport(size_t plugin, uint32_t shard,
                                                uint32_t listener_index, const net::Conn& c);

  // broker::BrokerHooks
  uint32_t Wants() const override;
  bool OffersEnhancedAuth() const override { return !auth_step_plugins_.empty(); }
  broker::AuthStepResult OnAuthStep(const broker::AuthStepRequest& r, uint64_t ticket) override;
  void OnShardStart(broker::ShardServices& shard) override;
  void OnShardStop(uint32_t shard) override;
  broker::Decision OnConnect(const broker::ConnectRequest& r, uint64_t ticket) override;
  broker::Decision OnPublish(const broker::PublishRequest& r, uint64_t ticket) override;
  broker::Decision OnSubscribe(const broker::SubscribeRequest& r, uint64_t ticket) override;
  broker::Decision OnDecisionCompleted(uint32_t shard, uint64_t ticket,
                                       broker::Decision d) override;
  void OnDecisionAbandoned(uint32_t shard, uint64_t ticket) override;
  void OnMessagePublished(const broker::MessageEvent& e) override;
  void OnMessageDelivered(const broker::MessageEvent& e) override;
  void OnMessageDropped(const broker::MessageEvent& e, broker::DropReason why) override;
  void OnClientConnected(const broker::ClientInfo& c) override;
  void OnClientDisconnected(const broker::ClientInfo& c) override;

  // Calls of each plugin's hooks, summed over the shards (every hook of every plugin, zero
  // included). Any thread, once the plugins are added.
  std::vector<PluginCallTotal> CallTotals() const;

  // For the host functions (host_api.cc).
  void Log(size_t plugin, uint32_t level, std::string_view message) const;
  void Complete(uint64_t ticket, ringmq_decision d) const;
  void CompleteAuth(uint64_t ticket, ringmq_decision d, std::string_view data) const;
  void Disconnect(std::string_view client_id, uint32_t reason) const;
  static void OnTick(net::Timer* t);

  // What a decision is about, as views (a broker request, or a chain's owned copy).
  enum class Kind : uint8_t { kConnect, kPublish, kSubscribe };
  struct Request {
    Kind kind = Kind::kConnect;
    broker::ClientInfo client;
    std::string_view address;  // known peer address (chains), or empty: ask the socket
    std::string_view text;     // topic (publish) or filter (subscribe)
    std::string_view payload;  // publish
    std::string_view password;
    bool has_password = false, clean_start = false, retain = false, will = false;
    uint32_t qos = 0;
  };

 private:
  struct PluginSlot {
    HostTable table;
    std::unique_ptr<LoadedPlugin> loaded;
    void* global = nullptr;
    bool initialised = false;
  };
  struct CoreReload {  // a CallMsg's argument (lives as long as the host)
    PluginHost* host;
    uint32_t core;
    size_t plugin;
  };

  // Asks the plugins implementing `r.kind`'s hook, from position `from` of their list.
  broker::Decision Ask(ringmq_core& core, const Request& r, uint64_t ticket, size_t from);
  ringmq_decision Call(size_t plugin, ringmq_core& core, const Request& r, uint64_t ticket);
  const std::vector<size_t>& Deciders(Kind k) const;
  ringmq_core* ReadyCore(uint32_t shard);
  // Calls `f(plugin index, core state)` for each plugin with a non-null `hook`.
  template <typename Hook, typename F>
  void ForEach(ringmq_core& core, Hook ringmq_plugin_hooks::*hook, HookKind kind, F&& f);
  void Event(const broker::MessageEvent& e, int kind, uint32_t reason);
  using ClientHook = void (*ringmq_plugin_hooks::*)(void*, const ringmq_client*);
  void ClientEvent(const broker::ClientInfo& c, ClientHook hook, HookKind kind);
  void CoreInit(ringmq_core& core);
  static void RunCoreReload(void* arg);

  const uint32_t cores_;
  broker::CompletionRouter* router_;
  std::vector<std::unique_ptr<PluginSlot>> plugins_;
  std::vector<std::unique_ptr<ringmq_core>> core_states_;  // one per shard
  std::vector<size_t> connect_deciders_, publish_deciders_, subscribe_deciders_;
  std::vector<size_t> auth_step_plugins_;
  std::deque<CoreReload> reload_calls_;
  mutable base::Mutex init_mu_;
  std::string init_error_ ABSL_GUARDED_BY(init_mu_);
};

}  // namespace ringmq::plugin
