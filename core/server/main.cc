// ringmq: the broker executable. Wiring only: flags -> ServerConfig (validated there) ->
// ShardSet of BrokerShards; signals stop it.
//
// Flags may be written with dashes or underscores (--max-keepalive or --max_keepalive).
// With no flags it listens on 127.0.0.1:1883 with the defaults of BrokerConfig.

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"

#include "core/base/clock.h"
#include "core/base/flags_normalize.h"
#include "core/base/log.h"
#include "core/broker/broker_shard.h"
#include "core/broker/completions.h"
#include "core/broker/recovery.h"
#include "core/config/server_config.h"
#include "core/server/memory_release.h"
#include "core/shard/shard_set.h"
#include "core/shard/stop_signals.h"
#include "persistence/offline_store.h"
#include "persistence/sqlite/sqlite_store.h"

#ifdef RINGMQ_HAVE_MIMALLOC
#include <mimalloc.h>
#endif

ABSL_FLAG(std::vector<std::string>, listen, {"127.0.0.1:1883"},
          "address to listen on, HOST:PORT or mqtt://HOST:PORT, [IPV6]:PORT; comma-separated or "
          "repeated");
ABSL_FLAG(uint32_t, threads, 0, "shards, one thread each (0: one per CPU)");
ABSL_FLAG(std::string, io_backend, "auto", "auto, io_uring or epoll");
ABSL_FLAG(bool, pin_threads, true, "pin each shard's thread to its own CPU");
ABSL_FLAG(uint64_t, max_connections, 0,
          "connections accepted at once (0: as many as the open file limit allows)");
ABSL_FLAG(uint32_t, max_keepalive, 0,
          "seconds; a larger or zero client keep alive is lowered to it (5.0: announced as "
          "Server Keep Alive); 0: no cap");
ABSL_FLAG(uint32_t, max_packet_size, 1 << 20, "bytes; larger packets are refused");
ABSL_FLAG(uint32_t, max_inflight, 100, "QoS 1/2 messages in flight per session, each way");
ABSL_FLAG(uint32_t, max_queued_messages, 1000, "messages queued per session beyond in-flight");
ABSL_FLAG(uint64_t, max_queued_bytes, 16ull << 20, "bytes queued per session beyond in-flight");
ABSL_FLAG(uint64_t, max_queued_bytes_total, 1ull << 30,
          "bytes queued over all sessions (each shard enforces its share)");
ABSL_FLAG(uint32_t, max_sessions, 1'000'000, "sessions, connected or not, in all");
ABSL_FLAG(uint32_t, max_session_expiry, UINT32_MAX, "seconds; cap on the session expiry asked");
ABSL_FLAG(uint32_t, session_expiry_v3, 7 * 24 * 3600,
          "seconds a 3.x session with clean session 0 outlives its connection (3.x cannot say)");
ABSL_FLAG(uint32_t, max_unreleased_qos2_v3, 1000,
          "QoS 2 packet ids a 3.x client may leave without PUBREL; one more closes it");
ABSL_FLAG(uint32_t, max_topic_alias, 64, "topic aliases a 5.0 client may use (0: none)");
ABSL_FLAG(bool, topic_alias_outbound, true, "use topic aliases towards 5.0 clients that allow");
ABSL_FLAG(uint32_t, max_topic_alias_bytes, 64 << 10,
          "bytes of topic text held per connection for outbound topic aliases");
ABSL_FLAG(bool, takeover_publishes_will, false,
          "a takeover that continues the session publishes the old connection's will");
ABSL_FLAG(uint32_t, max_subscriptions_per_session, 10'000, "subscriptions one session may hold");
ABSL_FLAG(uint32_t, max_filters_per_subscribe, 1000, "topic filters taken from one SUBSCRIBE");
ABSL_FLAG(uint32_t, max_topic_levels, 256, "levels in a topic name or filter");
ABSL_FLAG(uint64_t, max_retained_messages, 1'000'000,
          "retained messages in all (each shard holds its share)");
ABSL_FLAG(uint64_t, max_retained_bytes, 1ull << 30,
          "bytes of retained messages in all (each shard holds its share)");
ABSL_FLAG(uint32_t, retained_sweep_interval, 10, "seconds between sweeps of expired retained");
ABSL_FLAG(uint32_t, max_client_id, 256, "bytes in a client id");
ABSL_FLAG(bool, allow_empty_client_id, true, "assign ids to clients that send none");
ABSL_FLAG(uint32_t, connect_timeout, 10, "seconds a new connection has to send CONNECT");
ABSL_FLAG(uint32_t, sys_interval, 10, "seconds between $SYS updates (0: none)");
ABSL_FLAG(uint32_t, recv_buffers, 256, "receive buffers per shard (io_uring, power of two)");
ABSL_FLAG(uint32_t, recv_buffer_size, 16384, "bytes per receive buffer");
ABSL_FLAG(uint32_t, mailbox_capacity, 4096, "envelopes per mailbox between two shards");
ABSL_FLAG(uint64_t, max_output_buffer, 1 << 20,
          "bytes of unsent output per connection beyond which it counts as a slow consumer "
          "(QoS 0 dropped, QoS 1/2 queued, reading paused); resumes under a quarter of it");
ABSL_FLAG(uint32_t, tcp_keepalive_idle, 60,
          "seconds of silence before TCP keep-alive probes start on a client connection (0: no "
          "probes); catches clients with MQTT keep alive 0 whose host vanished");
ABSL_FLAG(uint32_t, tcp_keepalive_interval, 10, "seconds between TCP keep-alive probes");
ABSL_FLAG(uint32_t, tcp_keepalive_count, 5,
          "unanswered TCP keep-alive probes before the connection is dropped");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning, error or off");
ABSL_FLAG(std::string, persistence, "sqlite",
          "sqlite: sessions, subscriptions, queued and retained messages kept in --data-dir, "
          "acknowledged only once on disk; memory: nothing survives a restart (benchmarks)");
ABSL_FLAG(std::string, data_dir, "data", "folder of the store (created if missing)");
ABSL_FLAG(std::string, sync, "normal",
          "normal: a commit survives a crash of the broker; full: also a power loss (each "
          "commit waits for the disk)");
ABSL_FLAG(uint32_t, store_batch_max, 50'000, "store writes committed in one transaction at most");
ABSL_FLAG(uint64_t, store_max_pending_bytes, 256ull << 20,
          "bytes of store writes waiting for the disk beyond which new messages that need the "
          "store are refused");
ABSL_FLAG(uint32_t, store_retry_ms, 500, "ms between attempts after a failed commit");
ABSL_FLAG(bool, store_full_check, false,
          "check the whole store at start (integrity_check) instead of the quick check");
ABSL_FLAG(uint32_t, debug_defer_ms, 0,
          "testing: hold every CONNACK/SUBACK/PUBACK decision this long (asynchronous path)");

namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "ringmq: %s\n", what.c_str());
  return 2;
}

ringmq::config::ServerConfig FromFlags() {
  ringmq::config::ServerConfig c;
  ringmq::broker::BrokerConfig& b = c.broker;
  b.max_keepalive_s = absl::GetFlag(FLAGS_max_keepalive);
  b.max_packet_size = absl::GetFlag(FLAGS_max_packet_size);
  b.max_inflight = absl::GetFlag(FLAGS_max_inflight);
  b.max_queued_messages = absl::GetFlag(FLAGS_max_queued_messages);
  b.max_queued_bytes = absl::GetFlag(FLAGS_max_queued_bytes);
  b.max_queued_bytes_total = absl::GetFlag(FLAGS_max_queued_bytes_total);
  b.max_sessions = absl::GetFlag(FLAGS_max_sessions);
  b.max_session_expiry_s = absl::GetFlag(FLAGS_max_session_expiry);
  b.session_expiry_v3_s = absl::GetFlag(FLAGS_session_expiry_v3);
  b.max_unreleased_qos2_v3 = absl::GetFlag(FLAGS_max_unreleased_qos2_v3);
  b.max_topic_alias = absl::GetFlag(FLAGS_max_topic_alias);
  b.topic_alias_outbound = absl::GetFlag(FLAGS_topic_alias_outbound);
  b.max_topic_alias_bytes = absl::GetFlag(FLAGS_max_topic_alias_bytes);
  b.takeover_publishes_will = absl::GetFlag(FLAGS_takeover_publishes_will);
  b.max_subscriptions_per_session = absl::GetFlag(FLAGS_max_subscriptions_per_session);
  b.max_filters_per_subscribe = absl::GetFlag(FLAGS_max_filters_per_subscribe);
  b.max_topic_levels = absl::GetFlag(FLAGS_max_topic_levels);
  b.max_retained_messages = absl::GetFlag(FLAGS_max_retained_messages);
  b.max_retained_bytes = absl::GetFlag(FLAGS_max_retained_bytes);
  b.retained_sweep_interval_s = absl::GetFlag(FLAGS_retained_sweep_interval);
  b.max_client_id_bytes = absl::GetFlag(FLAGS_max_client_id);
  b.allow_empty_client_id = absl::GetFlag(FLAGS_allow_empty_client_id);
  b.connect_timeout_s = absl::GetFlag(FLAGS_connect_timeout);
  b.sys_interval_s = absl::GetFlag(FLAGS_sys_interval);
  b.debug_defer_ms = absl::GetFlag(FLAGS_debug_defer_ms);
  c.listen = absl::GetFlag(FLAGS_listen);
  c.threads = absl::GetFlag(FLAGS_threads);
  c.io_backend = absl::GetFlag(FLAGS_io_backend);
  c.pin_threads = absl::GetFlag(FLAGS_pin_threads);
  c.max_connections = absl::GetFlag(FLAGS_max_connections);
  c.recv_buffers = absl::GetFlag(FLAGS_recv_buffers);
  c.recv_buffer_size = absl::GetFlag(FLAGS_recv_buffer_size);
  c.mailbox_capacity = absl::GetFlag(FLAGS_mailbox_capacity);
  c.max_output_buffer = absl::GetFlag(FLAGS_max_output_buffer);
  c.tcp_keepalive.idle_s = absl::GetFlag(FLAGS_tcp_keepalive_idle);
  c.tcp_keepalive.interval_s = absl::GetFlag(FLAGS_tcp_keepalive_interval);
  c.tcp_keepalive.count = absl::GetFlag(FLAGS_tcp_keepalive_count);
  c.log_level = absl::GetFlag(FLAGS_log_level);
  c.store.persistence = absl::GetFlag(FLAGS_persistence);
  c.store.data_dir = absl::GetFlag(FLAGS_data_dir);
  c.store.sync = absl::GetFlag(FLAGS_sync);
  c.store.batch_max_ops = absl::GetFlag(FLAGS_store_batch_max);
  c.store.max_pending_bytes = absl::GetFlag(FLAGS_store_max_pending_bytes);
  c.store.retry_ms = absl::GetFlag(FLAGS_store_retry_ms);
  c.store.full_check = absl::GetFlag(FLAGS_store_full_check);
  return c;
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

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "ringmq: an MQTT 3.1/3.1.1/5.0 broker.\n  ringmq [--listen 127.0.0.1:1883] [--threads N] "
      "[limits...]");
  // --max-keepalive for --max_keepalive; a repeated --listen adds addresses.
  ringmq::base::NormalizedArgs args(argc, argv, {"listen"});
  absl::ParseCommandLine(args.argc(), args.argv());

  const ringmq::config::ServerConfig config = FromFlags();
  if (absl::Status v = config.Validate(); !v.ok()) {
    return Fail(std::string(v.message()));
  }
  ringmq::base::SetLogLevel(config.ParsedLogLevel());
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

  ringmq::shard::StopSignals stop_signals;  // before any shard thread exists

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
  absl::Status s = set.Start([&shared](ringmq::shard::Shard& sh) {
    return std::make_unique<ringmq::broker::BrokerShard>(sh, shared);
  });
  if (!s.ok()) {
    std::fprintf(stderr, "ringmq: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  for (const auto& b : set.bound()) {
    std::printf("listening %s %s backend %s shards %u\n", b.name.c_str(),
                b.endpoint.ToString().c_str(),
                std::string(ringmq::net::BackendName(set.backend())).c_str(), set.size());
  }
  std::fflush(stdout);

  const int sig = stop_signals.Wait();
  RINGMQ_LOG(kInfo, "signal %d: shutting down", sig);
  set.Stop();
  completions.Close();  // commits from now on reach no shard (their reactors go with Wait)
  set.Wait();
  (*store)->Close();  // what the shards wrote last is committed
  RINGMQ_LOG(kInfo, "stopped");
  return 0;
}
