#include "core/plugin/plugin_host.h"

#include <cstring>

#include "absl/strings/str_format.h"

#include "core/base/log.h"
#include "core/plugin/init_guard.h"
#include "core/plugin/plugin_transport.h"

namespace ringmq::plugin {

using broker::Decision;

// A decision waiting for one plugin of a chain: the request, owned, and who comes next.
struct PendingChain {
  PluginHost::Request request;  // views into the strings below
  size_t next = 0;              // position in the deciders' list
  std::string client_id, username, address, text, payload, password;
};

namespace {

constexpr int kPublished = 0, kDelivered = 1, kDropped = 2;

ringmq_str Str(std::string_view s) {
  return {s.data(), s.size()};
}

// What the broker does with a plugin's answer. Anything but ALLOW, DENY or PENDING refuses.
Decision ToDecision(ringmq_decision d) {
  switch (d.verdict) {
    case RINGMQ_ALLOW:
      return Decision::Allow();
    case RINGMQ_PENDING:
      return Decision::Pending();
    case RINGMQ_DENY: {
      uint32_t rc = d.reason == 0 ? 0x87 : d.reason;
      if (rc < 0x80 || rc > 0xFF) {
        rc = 0x80;
      }
      return Decision::Deny(static_cast<mqtt::ReasonCode>(rc));
    }
    default:
      return Decision::Deny(mqtt::ReasonCode::kUnspecifiedError);
  }
}

// An enhanced-authentication step's answer: CONTINUE is one too.
Decision ToAuthDecision(ringmq_decision d) {
  if (d.verdict == RINGMQ_CONTINUE) {
    return {broker::Verdict::kContinue, mqtt::ReasonCode::kSuccess};
  }
  return ToDecision(d);
}

std::unique_ptr<PendingChain> Own(const PluginHost::Request& r, std::string address) {
  auto c = std::make_unique<PendingChain>();
  c->client_id = r.client.client_id;
  c->username = r.client.username;
  c->address = std::move(address);
  c->text = r.text;
  c->payload = r.payload;
  c->password = r.password;
  c->request = r;
  c->request.client.client_id = c->client_id;
  c->request.client.username = c->username;
  c->request.client.socket_fd = -1;  // the connection may be gone when it resumes
  c->request.address = c->address;
  c->request.text = c->text;
  c->request.payload = c->payload;
  c->request.password = c->password;
  return c;
}

// What global_init and reload get: views of the options, valid while this lives.
struct PluginConfig {
  PluginConfig(std::string_view name, const Options& options, uint32_t cores) {
    for (const auto& [k, v] : options) {
      views.push_back({Str(k), Str(v)});
    }
    config = {sizeof(ringmq_plugin_config), Str(name), views.data(), views.size(), cores};
  }
  std::vector<ringmq_option> views;
  ringmq_plugin_config config;
};

ringmq_message MessageOf(const broker::Message& m, mqtt::Qos qos) {
  ringmq_message msg{};
  msg.struct_size = sizeof msg;
  msg.qos = static_cast<uint32_t>(qos);
  msg.retain = m.retain();
  msg.topic = Str(m.topic());
  msg.payload = Str(m.payload());
  return msg;
}

}  // namespace

PluginHost::PluginHost(uint32_t cores, broker::CompletionRouter* router)
    : cores_(cores), router_(router) {
  for (uint32_t i = 0; i < cores; ++i) {
    auto c = std::make_unique<ringmq_core>();
    c->host = this;
    c->index = i;
    core_states_.push_back(std::move(c));
  }
}

PluginHost::~PluginHost() {
  Shutdown();
}

absl::Status PluginHost::Add(std::string_view name, std::string_view path, const Options& options,
                             const std::vector<std::string>& dirs) {
  std::string file(path);
  if (file.empty()) {
    absl::StatusOr<std::string> found = FindPlugin(name, dirs);
    if (!found.ok()) {
      return found.status();
    }
    file = *found;
  }
  auto slot = std::make_unique<PluginSlot>();
  slot->table.host = this;
  slot->table.plugin = plugins_.size();
  FillHostApi(&slot->table);
  absl::StatusOr<std::unique_ptr<LoadedPlugin>> loaded = LoadPlugin(name, file, &slot->table.api);
  if (!loaded.ok()) {
    return loaded.status();
  }
  slot->loaded = std::move(*loaded);
  if (const std::string& proto = slot->loaded->transport_protocol;
      !proto.empty() && TransportServer(proto) >= 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("plugin %s (%s) serves transport '%s', which plugin %s already serves",
                        name, file, proto, plugins_[TransportServer(proto)]->loaded->name));
  }
  // In the list before global_init: the plugin may log from it (host->log finds it there).
  plugins_.push_back(std::move(slot));
  PluginSlot& s = *plugins_.back();
  const LoadedPlugin& p = *s.loaded;
  const PluginConfig cfg(p.name, options, cores_);
  if (p.hooks.global_init != nullptr) {
    char error[512] = "";
    const std::string note = absl::StrFormat("plugin %s crashed in global_init", p.name);
    InitGuard guard(note.c_str());
    s.global = p.hooks.global_init(&s.table.api, &cfg.config, error, sizeof error);
    if (s.global == nullptr) {
      error[sizeof error - 1] = '\0';
      absl::Status failed = absl::FailedPreconditionError(
          absl::StrFormat("plugin %s (%s): global_init failed: %s", p.name, p.path,
                          error[0] != '\0' ? error : "(it gave no reason)"));
      plugins_.pop_back();
      return failed;
    }
  }
  s.initialised = true;
  const size_t i = plugins_.size() - 1;
  if (p.hooks.authenticate != nullptr) {
    connect_deciders_.push_back(i);
  }
  if (p.hooks.authorize_publish != nullptr) {
    publish_deciders_.push_back(i);
  }
  if (p.hooks.authorize_subscribe != nullptr) {
    subscribe_deciders_.push_back(i);
  }
  if (p.hooks.auth_step != nullptr) {
    auth_step_plugins_.push_back(i);
  }
  RINGMQ_LOG(kInfo, "plugin %s %s loaded from %s (plugin ABI %d.%d)", p.name, p.version, p.path,
             p.abi_major, p.abi_minor);
  return absl::OkStatus();
}

// What the loaded plugins implement on the message path; the broker asks once per shard, after
// every plugin was added (main thread, before the shards start).
uint32_t PluginHost::Wants() const {
  using H = broker::BrokerHooks;
  uint32_t wants = publish_deciders_.empty() ? 0u : uint32_t{H::kWantPublishDecision};
  for (const auto& slot : plugins_) {
    const ringmq_plugin_hooks& h = slot->loaded->hooks;
    wants |= h.on_message_published != nullptr ? uint32_t{H::kWantPublished} : 0u;
    wants |= h.on_message_delivered != nullptr ? uint32_t{H::kWantDelivered} : 0u;
    wants |= h.on_message_dropped != nullptr ? uint32_t{H::kWantDropped} : 0u;
  }
  return wants;
}

// ---- lifecycle on the shards ------------------------------------------------------------

void PluginHost::OnShardStart(broker::ShardServices& shard) {
  RINGMQ_ASSERT(shard.shard_index() < cores_);
  ringmq_core& core = *core_states_[shard.shard_index()];
  core.services = &shard;
  CoreInit(core);
}

void PluginHost::CoreInit(ringmq_core& core) {
  core.states.assign(plugins_.size(), nullptr);
  for (size_t i = 0; i < plugins_.size(); ++i) {
    PluginSlot& s = *plugins_[i];
    const LoadedPlugin& p = *s.loaded;
    void* state = s.global;
    if (p.hooks.core_init != nullptr) {
      const std::string note = absl::StrFormat("plugin %s crashed in core_init", p.name);
      InitGuard guard(note.c_str());
      state = p.hooks.core_init(s.global, &core, core.index);
      if (state == nullptr) {
        base::MutexLock l(&init_mu_);
        if (init_error_.empty()) {
          init_error_ = absl::StrFormat("plugin %s (%s): core_init failed on shard %d", p.name,
                                        p.path, core.index);
        }
        return;  // not ready: this shard refuses every decision
      }
    }
    core.states[i] = state;
    if (p.hooks.on_tick != nullptr) {
      auto t = std::make_unique<ringmq_core::TickTimer>();
      t->set_callback(&PluginHost::OnTick);
      t->core = &core;
      t->plugin = i;
      core.services->shard_timers().Schedule(t.get(),
                                             core.services->clock_ms() + p.tick_interval_ms);
      core.ticks.push_back(std::move(t));
    }
  }
  core.ready = true;
}

void PluginHost::OnTick(net::Timer* t) {
  auto* tick = static_cast<ringmq_core::TickTimer*>(t);
  ringmq_core& core = *tick->core;
  const LoadedPlugin& p = *core.host->plugins_[tick->plugin]->loaded;
  const int64_t now = core.services->clock_ms();
  p.hooks.on_tick(core.states[tick->plugin], now);
  core.services->shard_timers().Schedule(tick, now + p.tick_interval_ms);
}

void PluginHost::OnShardStop(uint32_t shard) {
  ringmq_core& core = *core_states_[shard];
  core.ticks.clear();  // timers cancel themselves
  core.timers.clear();
  core.chains.clear();
  if (core.ready) {
    for (size_t i = plugins_.size(); i-- > 0;) {
      const LoadedPlugin& p = *plugins_[i]->loaded;
      if (p.hooks.core_fini != nullptr) {
        p.hooks.core_fini(core.states[i]);
      }
    }
  }
  core.ready = false;
  core.stopped = true;
}

absl::Status PluginHost::CoreInitError() const {
  base::MutexLock l(&init_mu_);
  return init_error_.empty() ? absl::OkStatus() : absl::FailedPreconditionError(init_error_);
}

void PluginHost::Shutdown() {
  for (size_t i = plugins_.size(); i-- > 0;) {
    PluginSlot& s = *plugins_[i];
    if (s.initialised && s.loaded->hooks.global_fini != nullptr) {
      s.loaded->hooks.global_fini(s.global);
    }
    s.initialised = false;
  }
}

std::vector<std::string> PluginHost::Reload(const std::vector<Options>& options) {
  std::vector<std::string> kept(plugins_.size());
  for (size_t i = 0; i < plugins_.size() && i < options.size(); ++i) {
    PluginSlot& s = *plugins_[i];
    const LoadedPlugin& p = *s.loaded;
    if (p.hooks.reload == nullptr) {
      continue;
    }
    const PluginConfig cfg(p.name, options[i], cores_);
    char error[512] = "";
    if (!p.hooks.reload(s.global, &cfg.config, error, sizeof error)) {
      error[sizeof error - 1] = '\0';
      kept[i] = absl::StrFormat("plugin %s kept its running configuration: %s", p.name,
                                error[0] != '\0' ? error : "(it gave no reason)");
      continue;
    }
    if (p.hooks.core_reload != nullptr && router_ != nullptr) {
      for (uint32_t c = 0; c < cores_; ++c) {
        reload_calls_.push_back({this, c, i});
        router_->RunOn(c, &PluginHost::RunCoreReload, &reload_calls_.back());
      }
    }
  }
  return kept;
}

void PluginHost::RunCoreReload(void* arg) {
  const CoreReload& r = *static_cast<CoreReload*>(arg);
  ringmq_core& core = *r.host->core_states_[r.core];
  if (core.ready) {
    r.host->plugins_[r.plugin]->loaded->hooks.core_reload(core.states[r.plugin]);
  }
}

// ---- decisions ------------------------------------------------------------------------------

ringmq_core* PluginHost::ReadyCore(uint32_t shard) {
  if (shard >= cores_) {
    return nullptr;
  }
  ringmq_core* core = core_states_[shard].get();
  return core->ready ? core : nullptr;
}

const std::vector<size_t>& PluginHost::Deciders(Kind k) const {
  switch (k) {
    case Kind::kConnect:
      return connect_deciders_;
    case Kind::kPublish:
      return publish_deciders_;
    case Kind::kSubscribe:
      break;
  }
  return subscribe_deciders_;
}

ringmq_decision PluginHost::Call(size_t plugin, ringmq_core& core, const Request& r,
                                 uint64_t ticket) {
  const ringmq_plugin_hooks& h = plugins_[plugin]->loaded->hooks;
  void* state = core.states[plugin];
  core.calls.Count(plugin, r.kind == Kind::kConnect   ? HookKind::kAuthenticate
                           : r.kind == Kind::kPublish ? HookKind::kAuthorizePublish
                                                      : HookKind::kAuthorizeSubscribe);
  ringmq_client client;
  client.info = &r.client;
  client.known_address = r.address;
  switch (r.kind) {
    case Kind::kConnect: {
      ringmq_connect c{};
      c.struct_size = sizeof c;
      c.has_password = r.has_password;
      c.clean_start = r.clean_start;
      c.password = Str(r.password);
      return h.authenticate(state, &client, &c, ticket);
    }
    case Kind::kPublish: {
      ringmq_message m{};
      m.struct_size = sizeof m;
      m.qos = r.qos;
      m.retain = r.retain;
      m.topic = Str(r.text);
      m.payload = Str(r.payload);
      return h.authorize_publish(state, &client, &m, r.will, ticket);
    }
    case Kind::kSubscribe:
      break;
  }
  return h.authorize_subscribe(state, &client, Str(r.text), r.qos, ticket);
}

Decision PluginHost::Ask(ringmq_core& core, const Request& r, uint64_t ticket, size_t from) {
  const std::vector<size_t>& list = Deciders(r.kind);
  for (size_t i = from; i < list.size(); ++i) {
    const Decision d = ToDecision(Call(list[i], core, r, ticket));
    if (d.verdict == broker::Verdict::kAllow) {
      continue;
    }
    if (d.verdict == broker::Verdict::kPending && i + 1 < list.size()) {
      // The rest of the chain is asked when this plugin completes the ticket; by then the
      // connection may be gone, so its address is read now.
      auto chain =
          Own(r, r.address.empty() ? PeerAddress(r.client.socket_fd) : std::string(r.address));
      chain->next = i + 1;
      core.chains[ticket] = std::move(chain);
    }
    return d;
  }
  return Decision::Allow();
}

Decision PluginHost::OnConnect(const broker::ConnectRequest& r, uint64_t ticket) {
  ringmq_core* core = ReadyCore(r.client.shard);
  if (core == nullptr) {
    return Decision::Deny(mqtt::ReasonCode::kServerUnavailable);
  }
  Request q;
  q.kind = Kind::kConnect;
  q.client = r.client;
  q.password = r.password;
  q.has_password = r.has_password;
  q.clean_start = r.clean_start;
  return Ask(*core, q, ticket, 0);
}

Decision PluginHost::OnPublish(const broker::PublishRequest& r, uint64_t ticket) {
  ringmq_core* core = ReadyCore(r.client.shard);
  if (core == nullptr) {
    return Decision::Deny(mqtt::ReasonCode::kUnspecifiedError);
  }
  if (publish_deciders_.empty()) {
    return Decision::Allow();
  }
  Request q;
  q.kind = Kind::kPublish;
  q.client = r.client;
  q.text = r.topic;
  q.payload = r.payload;
  q.qos = static_cast<uint32_t>(r.qos);
  q.retain = r.retain;
  q.will = r.will;
  return Ask(*core, q, ticket, 0);
}

Decision PluginHost::OnSubscribe(const broker::SubscribeRequest& r, uint64_t ticket) {
  ringmq_core* core = ReadyCore(r.client.shard);
  if (core == nullptr) {
    return Decision::Deny(mqtt::ReasonCode::kUnspecifiedError);
  }
  Request q;
  q.kind = Kind::kSubscribe;
  q.client = r.client;
  q.text = r.filter;
  q.qos = static_cast<uint32_t>(r.qos);
  return Ask(*core, q, ticket, 0);
}

// Each plugin with auth_step in order, until one knows the method (answers anything but
// DENY 0x8C). CONTINUE and ALLOW carry the data the plugin set with host->auth_reply.
broker::AuthStepResult PluginHost::OnAuthStep(const broker::AuthStepRequest& r, uint64_t ticket) {
  ringmq_core* core = ReadyCore(r.client.shard);
  if (core == nullptr) {
    return {Decision::Deny(mqtt::ReasonCode::kServerUnavailable), {}};
  }
  ringmq_client client;
  client.info = &r.client;
  ringmq_auth_step step{};
  step.struct_size = sizeof step;
  step.step = r.step;
  step.method = Str(r.method);
  step.data = Str(r.data);
  for (size_t i : auth_step_plugins_) {
    ringmq_auth_reply reply;
    core->calls.Count(i, HookKind::kAuthStep);
    const ringmq_decision d =
        plugins_[i]->loaded->hooks.auth_step(core->states[i], &client, &step, &reply, ticket);
    if (d.verdict == RINGMQ_DENY && d.reason == 0x8C) {
      continue;  // not this plugin's method
    }
    return {ToAuthDecision(d), std::move(reply.data)};
  }
  return {Decision::Deny(mqtt::ReasonCode::kBadAuthenticationMethod), {}};
}

Decision PluginHost::OnDecisionCompleted(uint32_t shard, uint64_t ticket, Decision d) {
  ringmq_core* core = ReadyCore(shard);
  if (core == nullptr) {
    return d;
  }
  auto it = core->chains.find(ticket);
  if (it == core->chains.end()) {
    return d;  // the last of its chain
  }
  std::unique_ptr<PendingChain> chain = std::move(it->second);
  core->chains.erase(it);
  if (!d.allowed()) {
    return d;
  }
  return Ask(*core, chain->request, ticket, chain->next);
}

void PluginHost::OnDecisionAbandoned(uint32_t shard, uint64_t ticket) {
  if (ringmq_core* core = ReadyCore(shard)) {
    core->chains.erase(ticket);
  }
}

// ---- events -----------------------------------------------------------------------------

template <typename Hook, typename F>
void PluginHost::ForEach(ringmq_core& core, Hook ringmq_plugin_hooks::*hook, HookKind kind, F&& f) {
  for (size_t i = 0; i < plugins_.size(); ++i) {
    const ringmq_plugin_hooks& h = plugins_[i]->loaded->hooks;
    if (h.*hook != nullptr) {
      core.calls.Count(i, kind);
      f(h.*hook, core.states[i]);
    }
  }
}

void PluginHost::Event(const broker::MessageEvent& e, int kind, uint32_t reason) {
  ringmq_core* core = ReadyCore(e.client.shard);
  if (core == nullptr) {
    return;
  }
  const ringmq_message m = MessageOf(e.message, e.qos);
  ringmq_client client;
  client.info = &e.client;
  switch (kind) {
    case kPublished:
      ForEach(*core, &ringmq_plugin_hooks::on_message_published, HookKind::kMessagePublished,
              [&](auto fn, void* state) { fn(state, &client, &m); });
      return;
    case kDelivered:
      ForEach(*core, &ringmq_plugin_hooks::on_message_delivered, HookKind::kMessageDelivered,
              [&](auto fn, void* state) { fn(state, &client, &m); });
      return;
    default:
      ForEach(*core, &ringmq_plugin_hooks::on_message_dropped, HookKind::kMessageDropped,
              [&](auto fn, void* state) { fn(state, &client, &m, reason); });
  }
}

void PluginHost::OnMessagePublished(const broker::MessageEvent& e) {
  Event(e, kPublished, 0);
}

void PluginHost::OnMessageDelivered(const broker::MessageEvent& e) {
  Event(e, kDelivered, 0);
}

void PluginHost::OnMessageDropped(const broker::MessageEvent& e, broker::DropReason why) {
  Event(e, kDropped, static_cast<uint32_t>(why));
}

void PluginHost::ClientEvent(const broker::ClientInfo& c, ClientHook hook, HookKind kind) {
  if (ringmq_core* core = ReadyCore(c.shard)) {
    ringmq_client client;
    client.info = &c;
    ForEach(*core, hook, kind, [&](auto fn, void* state) { fn(state, &client); });
  }
}

void PluginHost::OnClientConnected(const broker::ClientInfo& c) {
  ClientEvent(c, &ringmq_plugin_hooks::on_client_connected, HookKind::kClientConnected);
}

void PluginHost::OnClientDisconnected(const broker::ClientInfo& c) {
  ClientEvent(c, &ringmq_plugin_hooks::on_client_disconnected, HookKind::kClientDisconnected);
}

// ---- for the host functions ---------------------------------------------------------------

std::vector<PluginCallTotal> PluginHost::CallTotals() const {
  std::vector<PluginCallTotal> totals;
  for (size_t i = 0; i < plugins_.size() && i < CallCounts::kMaxCountedPlugins; ++i) {
    for (size_t k = 0; k < kHookKinds; ++k) {
      const auto kind = static_cast<HookKind>(k);
      PluginCallTotal t{plugins_[i]->loaded->name, HookKindName(kind), 0};
      for (const auto& core : core_states_) {
        t.calls += core->calls.Get(i, kind);
      }
      totals.push_back(std::move(t));
    }
  }
  return totals;
}

static_assert(static_cast<int>(base::LogLevel::kDebug) == RINGMQ_LOG_DEBUG &&
              static_cast<int>(base::LogLevel::kError) == RINGMQ_LOG_ERROR);

void PluginHost::Log(size_t plugin, uint32_t level, std::string_view message) const {
  // RINGMQ_LOG_* are the host's levels in order; anything else logs at info.
  const base::LogLevel l =
      level <= RINGMQ_LOG_ERROR ? static_cast<base::LogLevel>(level) : base::LogLevel::kInfo;
  if (base::LogEnabled(l)) {
    base::LogLine(l, absl::StrFormat("%s: %s", plugins_[plugin]->loaded->name, message));
  }
}

void PluginHost::Complete(uint64_t ticket, ringmq_decision d) const {
  if (router_ != nullptr) {
    Decision out = ToDecision(d);
    if (out.verdict == broker::Verdict::kPending) {
      out = Decision::Deny(mqtt::ReasonCode::kUnspecifiedError);  // not an answer
    }
    router_->Complete(ticket, out);
  }
}

void PluginHost::CompleteAuth(uint64_t ticket, ringmq_decision d, std::string_view data) const {
  if (router_ != nullptr) {
    Decision out = ToAuthDecision(d);
    if (out.verdict == broker::Verdict::kPending) {
      out = Decision::Deny(mqtt::ReasonCode::kUnspecifiedError);  // not an answer
    }
    router_->CompleteAuth(ticket, out, std::string(data));
  }
}

void PluginHost::Disconnect(std::string_view client_id, uint32_t reason) const {
  if (router_ != nullptr) {
    const uint32_t rc = reason >= 0x80 && reason <= 0xFF ? reason : 0x98;
    router_->Disconnect(client_id, static_cast<mqtt::ReasonCode>(rc));
  }
}

}  // namespace ringmq::plugin

namespace ringmq::plugin {

// ---- transports (plugin.h 1.1) ------------------------------------------------------------

int PluginHost::TransportServer(std::string_view protocol) const {
  for (size_t i = 0; i < plugins_.size(); ++i) {
    if (plugins_[i]->loaded->transport_protocol == protocol) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

std::unique_ptr<net::Transport> PluginHost::OpenTransport(size_t plugin, uint32_t shard,
                                                          uint32_t listener_index,
                                                          const net::Conn& c) {
  ringmq_core* core = ReadyCore(shard);
  if (core == nullptr || plugin >= plugins_.size()) {
    return nullptr;
  }
  const LoadedPlugin& p = *plugins_[plugin]->loaded;
  const std::string peer = PeerAddress(c.fd());
  ringmq_transport_conn info{};
  info.struct_size = sizeof info;
  info.protocol = {p.transport_protocol.data(), p.transport_protocol.size()};
  info.peer_address = {peer.data(), peer.size()};
  info.listener_index = listener_index;
  void* state = p.hooks.transport_open(core->states[plugin], &info);
  if (state == nullptr) {
    return nullptr;
  }
  return std::make_unique<PluginTransport>(&p.hooks, state);
}

}  // namespace ringmq::plugin
