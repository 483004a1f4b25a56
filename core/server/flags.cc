#include "core/server/flags.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

#include "core/base/flags_normalize.h"
#include "core/config/config_file.h"
#include "core/config/settings.h"

// One flag per setting of core/config/settings.h (a unit test checks it), with the defaults
// of ServerConfig and BrokerConfig (a unit test checks that too).
ABSL_FLAG(std::string, config, "",
          "TOML config file (docs/configuration.md); flags given on the command line win");
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
ABSL_FLAG(uint32_t, decision_timeout_ms, 5000,
          "ms an authentication or authorisation decision may take; later, it is a refusal");
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
ABSL_FLAG(std::string, log_format, "text",
          "text (one human line per record), logfmt (key=value pairs) or json (one object per "
          "line)");
ABSL_FLAG(std::string, admin_listen, "",
          "HOST:PORT of the admin HTTP listener: Prometheus /metrics, /healthz, /readyz (empty: "
          "none; keep it on loopback unless the network in between is trusted)");
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
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate (then its chain) of the mqtts:// and wss:// listeners; re-read on "
          "SIGHUP");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert; re-read on SIGHUP");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificates that client certificates are verified against");
ABSL_FLAG(std::string, tls_client_certs, "none",
          "none, request (verified when sent) or require (no valid certificate: refused)");
ABSL_FLAG(std::string, tls_identity_as_username, "none",
          "none, cn or san: the client certificate's subject CN or first DNS/email/URI "
          "alternative name becomes the user name (needs --tls-client-certs require)");
ABSL_FLAG(std::string, tls_min_version, "1.2", "oldest TLS version accepted: 1.2 or 1.3");
ABSL_FLAG(std::string, tls_ciphers, "ECDHE+AESGCM:ECDHE+CHACHA20",
          "TLS 1.2 ciphers (OpenSSL syntax); the default is forward-secret AEAD only");
ABSL_FLAG(std::string, tls_ciphersuites, "",
          "TLS 1.3 cipher suites (OpenSSL syntax); empty: OpenSSL's default");
ABSL_FLAG(std::string, ktls, "auto",
          "auto: use kernel TLS after the handshake where the kernel offers it; off: never");
ABSL_FLAG(std::string, http_root, "",
          "serve the static files of this folder on the ws:// listeners' HTTP side (the "
          "websocket plugin's http_root; wins over the plugin's own option)");
ABSL_FLAG(uint32_t, debug_defer_ms, 0,
          "testing: hold every CONNACK/SUBACK/PUBACK decision this long (asynchronous path)");

namespace ringmq::server {
namespace {

// Flags named on the command line, kept for ReloadConfig. Main thread only.
std::vector<std::string>& GivenOnCommandLine() {
  static auto* given = new std::vector<std::string>();
  return *given;
}

// Copies a flag's value into a field of its type.
struct FlagReader {
  const absl::CommandLineFlag& flag;

  template <typename T>
  absl::Status operator()(T* field) const {
    auto v = flag.TryGet<T>();
    if (!v.has_value()) {
      return absl::InternalError(
          absl::StrFormat("--%s: its type is not the setting's", flag.Name()));
    }
    *field = *std::move(v);
    return absl::OkStatus();
  }
};

// Every flag that has a setting: the config of a command line without --config.
std::vector<std::string> AllSettingFlags() {
  std::vector<std::string> flags;
  for (const config::Setting& s : config::AllSettings()) {
    flags.emplace_back(s.flag);
  }
  return flags;
}

absl::StatusOr<config::ServerConfig> Load(const std::vector<std::string>& given) {
  const std::string path = absl::GetFlag(FLAGS_config);
  config::ServerConfig c;
  if (!path.empty()) {
    absl::StatusOr<config::ServerConfig> file = config::ReadConfigFile(path);
    if (!file.ok()) {
      return file.status();
    }
    c = *std::move(file);
  }
  if (absl::Status s = ApplyFlags(path.empty() ? AllSettingFlags() : given, &c); !s.ok()) {
    return s;
  }
  config::HandHttpRootToWebsocket(&c);
  if (absl::Status s = c.Validate(); !s.ok()) {
    return s;
  }
  return c;
}

}  // namespace

std::vector<std::string> FlagsGiven(const std::vector<std::string>& args) {
  std::vector<std::string> names;
  for (size_t i = 1; i < args.size() && args[i] != "--"; ++i) {
    absl::string_view a = args[i];
    if (!absl::ConsumePrefix(&a, "-")) {
      continue;  // a flag's value
    }
    absl::ConsumePrefix(&a, "-");
    absl::string_view name = a.substr(0, a.find('='));
    if (absl::FindCommandLineFlag(name) != nullptr) {
      names.emplace_back(name);
    } else if (absl::ConsumePrefix(&name, "no") && absl::FindCommandLineFlag(name) != nullptr) {
      names.emplace_back(name);  // --noNAME: a boolean set to false
    }
  }
  return names;
}

absl::Status ApplyFlags(const std::vector<std::string>& flags, config::ServerConfig* config) {
  for (const std::string& name : flags) {
    const config::Setting* setting = config::FindSettingByFlag(name);
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (setting == nullptr || flag == nullptr) {
      continue;  // --config, --help and the like
    }
    if (absl::Status s = std::visit(FlagReader{*flag}, setting->field(*config)); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<config::ServerConfig> ConfigFromCommandLine(int argc, char** argv) {
  // --max-keepalive for --max_keepalive; a repeated --listen adds addresses.
  base::NormalizedArgs args(argc, argv, {"listen"});
  absl::ParseCommandLine(args.argc(), args.argv());
  GivenOnCommandLine() = FlagsGiven(args.args());
  return Load(GivenOnCommandLine());
}

absl::StatusOr<config::ServerConfig> ReloadConfig() {
  return Load(GivenOnCommandLine());
}

}  // namespace ringmq::server
