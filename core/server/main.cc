// ringmq: the broker executable. Wiring only: --config file and flags -> ServerConfig
// (core/server/flags.h, validated there) -> ShardSet of BrokerShards; signals stop it.
//
// Flags may be written with dashes or underscores (--max-keepalive or --max_keepalive).
// With no flags it listens on 127.0.0.1:1883 with the defaults of BrokerConfig.

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/broker/broker_shard.h"
#include "core/broker/completions.h"
#include "core/broker/recovery.h"
#include "core/config/server_config.h"
#include "core/plugin/init_guard.h"
#include "core/plugin/plugin_host.h"
#include "core/server/admin_server.h"
#include "core/server/flags.h"
#include "core/server/memory_release.h"
#include "core/server/reload.h"
#include "core/server/sd_notify.h"
#include "core/server/transports.h"
#include "core/shard/shard_set.h"
#include "core/shard/stop_signals.h"
#include "persistence/offline_store.h"
#include "persistence/sqlite/sqlite_store.h"

#ifdef RINGMQ_HAVE_MIMALLOC
#include <mimalloc.h>
#endif

namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "ringmq: %s\n", what.c_str());
  return 2;
}

// The store the flags ask for: SQLite in the data folder (opened, checked, migrated), or
// nothing kept (said in the log).
absl::StatusOr<std::unique_ptr<ringmq::persistence::OfflineStore>> OpenStore(
    const ringmq::config::ServerConfig& c) {
  if (c.store.persistence == "memory") {
    RINGMQ_LOG(kWarning, "--persistence memory: nothing is kept across a restart (for benchmarks)");
    return std::make_unique<ringmq::persistence::MemoryStore>();
  }
  ringmq::persistence::sqlite::StoreOptions o;
  o.data_dir = c.store.data_dir;
  o.sync_full = c.store.sync == "full";
  o.batch_max_ops = c.store.batch_max_ops;
  o.max_pending_bytes = c.store.max_pending_bytes;
  o.retry_ms = c.store.retry_ms;
  o.full_check = c.store.full_check;
  auto store = ringmq::persistence::sqlite::SqliteStore::Open(o);
  if (!store.ok()) {
    return store.status();
  }
  std::printf("store sqlite %s sync %s\n", (*store)->path().c_str(), c.store.sync.c_str());
  return std::unique_ptr<ringmq::persistence::OfflineStore>(std::move(*store));
}

// The plugins of the config, in its order: loaded, global_init run. An error names the
// plugin and where it was configured.
absl::Status LoadPlugins(const ringmq::config::ServerConfig& c, ringmq::plugin::PluginHost& host) {
  for (const ringmq::config::PluginSpec& p : c.plugins) {
    if (absl::Status s = host.Add(p.name, p.path, p.options); !s.ok()) {
      return absl::Status(s.code(), p.origin.empty()
                                        ? std::string(s.message())
                                        : absl::StrFormat("%s: %s", p.origin, s.message()));
    }
  }
  return absl::OkStatus();
}

// The admin HTTP listener when --admin-listen is set (null otherwise); its address is
// printed ("admin http://127.0.0.1:9100") before the "ready" line.
absl::StatusOr<std::unique_ptr<ringmq::server::AdminServer>> StartAdmin(
    const ringmq::config::ServerConfig& c, const ringmq::broker::BrokerShared& shared) {
  if (c.admin_listen.empty()) {
    return nullptr;
  }
  absl::StatusOr<ringmq::net::Endpoint> at = ringmq::net::ParseEndpoint(c.admin_listen);
  if (!at.ok()) {
    return at.status();
  }
  auto admin = ringmq::server::AdminServer::Start(*at, &shared);
  if (!admin.ok()) {
    return absl::Status(
        admin.status().code(),
        absl::StrFormat("admin-listen %s: %s", c.admin_listen, admin.status().message()));
  }
  std::printf("admin http://%s\n", (*admin)->bound().ToString().c_str());
  return admin;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "ringmq: an MQTT 3.1/3.1.1/5.0 broker.\n  ringmq [--listen 127.0.0.1:1883] [--threads N] "
      "[limits...]");
  // The --config file, if any, with the flags given over it (core/server/flags.h); checked.
  absl::StatusOr<ringmq::config::ServerConfig> loaded =
      ringmq::server::ConfigFromCommandLine(argc, argv);
  if (!loaded.ok()) {
    return Fail(std::string(loaded.status().message()));
  }
  const ringmq::config::ServerConfig config = *std::move(loaded);
  ringmq::base::SetLogLevel(config.ParsedLogLevel());
  ringmq::base::SetLogFormat(config.ParsedLogFormat());
  absl::StatusOr<ringmq::shard::ShardSetOptions> opts = config.ShardSetOptions();
  if (!opts.ok()) {
    return Fail(std::string(opts.status().message()));
  }

  ringmq::broker::BrokerShared shared;
  shared.config = config.broker;
  absl::StatusOr<std::unique_ptr<ringmq::persistence::OfflineStore>> store = OpenStore(config);
  if (!store.ok()) {
    return Fail(std::string(store.status().message()));
  }
  shared.store = store->get();
  shared.shards = opts->threads;
  shared.version = "ringmq 0.1.0";
  shared.start_ms = ringmq::base::MonotonicMs();
  for (uint32_t i = 0; i < opts->threads; ++i) {
    shared.counters.push_back(std::make_unique<ringmq::broker::ShardCounters>());
  }
  // SIGINT/SIGTERM stop, SIGHUP reloads; blocked before any other thread exists (the admin
  // listener's, the store's, the shards'), which inherit the mask: a signal is only ever
  // taken by the main thread's sigwait, never by a thread without a handler (which would end
  // the process).
  ringmq::shard::StopSignals stop_signals(ringmq::shard::StopSignals::OnExit::kKeepBlocked,
                                          /*hangup=*/true);
  // TLS contexts and plugin transports: declared before the admin listener and the shards,
  // which read them. Their figures read nothing until Serve has finished (TlsFigures).
  ringmq::server::ListenerTransports transports;
  shared.outside_figures = [&transports] { return transports.TlsFigures(); };
  // The admin listener answers from now on: /readyz says 503 until the store is recovered
  // and the listeners are open.
  absl::StatusOr<std::unique_ptr<ringmq::server::AdminServer>> admin = StartAdmin(config, shared);
  if (!admin.ok()) {
    return Fail(std::string(admin.status().message()));
  }
#ifdef RINGMQ_HAVE_MIMALLOC
  // An idle shard gives what its thread freed back to the OS (ReleaseFreedMemory): a session
  // that held 100,000 subscriptions leaves little resident once it ends (docs/benchmarks.md,
  // "Memory per subscription"). A busy shard keeps mimalloc's decommit delays: decommitting
  // every page the moment it empties cost 60% of the throughput (docs/benchmarks.md).
  opts->shard.release_memory = ringmq::server::ReleaseFreedMemory;
  RINGMQ_LOG(kInfo, "%s, allocator mimalloc %d", shared.version, mi_version());
#else
  RINGMQ_LOG(kInfo, "%s, system allocator", shared.version);
#endif

  ringmq::shard::ShardSet set(*opts);
  // Store completions reach the shard that waits for them; then what the store kept comes
  // back, sorted by the shard that owns it now, before any shard runs.
  ringmq::broker::CompletionRouter completions(&set);
  (*store)->SetListener(&completions);
  ringmq::broker::RecoveryRouter recovered(opts->threads, ringmq::base::MonotonicMs());
  if (absl::Status r = (*store)->Recover(recovered); !r.ok()) {
    return Fail(absl::StrFormat("the store cannot be recovered: %s", r.message()));
  }
  shared.recovery = recovered.Take();
  // Plugins in config order; each shard runs their core_init on its thread as it starts. A
  // plugin that fails (or crashes) in init stops the broker: it never runs without them.
  ringmq::plugin::PluginHost plugins(opts->threads, &completions);
  absl::Status s;
  {
    ringmq::plugin::CrashNotes crash_notes;
    if (absl::Status p = LoadPlugins(config, plugins); !p.ok()) {
      return Fail(std::string(p.message()));
    }
    absl::StatusOr<std::vector<ringmq::config::Listener>> listeners = config.Listeners();
    if (!listeners.ok()) {
      return Fail(std::string(listeners.status().message()));
    }
    if (absl::Status t = transports.Serve(*listeners, plugins, &shared); !t.ok()) {
      return Fail(std::string(t.message()));
    }
    shared.hooks = plugins.size() > 0 ? &plugins : nullptr;
    s = set.Start([&shared](ringmq::shard::Shard& sh) {
      return std::make_unique<ringmq::broker::BrokerShard>(sh, shared);
    });
  }
  if (s.ok()) {
    s = plugins.CoreInitError();
    if (!s.ok()) {
      set.Stop();
      completions.Close();
      set.Wait();
    }
  }
  if (!s.ok()) {
    plugins.Shutdown();
    (*store)->Close();
    std::fprintf(stderr, "ringmq: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  for (const auto& b : set.bound()) {
    std::printf("listening %s %s backend %s shards %u\n", b.name.c_str(),
                b.endpoint.ToString().c_str(),
                std::string(ringmq::net::BackendName(set.backend())).c_str(), set.size());
  }
  std::printf("ready\n");  // after every listener's line
  std::fflush(stdout);
  if (*admin != nullptr) {
    (*admin)->SetPlugins(&plugins);  // reset below before the plugins go
    (*admin)->SetReady();
  }
  // systemd's Type=notify (dist/ringmq.service): started once every listener accepts.
  if (absl::Status n = ringmq::server::NotifyServiceManager("READY=1"); !n.ok()) {
    RINGMQ_LOG(kWarning, "%s", n.message());
  }

  ringmq::server::Reloader reloader(config, &plugins, &completions, &transports);
  int sig = 0;
  while ((sig = stop_signals.Wait()) == SIGHUP) {
    RINGMQ_LOG(
        kInfo, "SIGHUP: reloading %s",
        config.config_path.empty() ? std::string("(no --config: flags only)") : config.config_path);
    reloader.Reload();
  }
  RINGMQ_LOG(kInfo, "signal %d: shutting down", sig);
  ringmq::server::NotifyServiceManager("STOPPING=1").IgnoreError();  // said at start if it fails
  admin->reset();                                                    // before what it reads goes
  set.Stop();
  completions.Close();  // commits from now on reach no shard (their reactors go with Wait)
  set.Wait();
  plugins.Shutdown();  // every core_fini ran on its shard
  (*store)->Close();   // what the shards wrote last is committed
  RINGMQ_LOG(kInfo, "stopped");
  return 0;
}
