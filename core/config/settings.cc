#include "core/config/settings.h"

#include "absl/strings/str_join.h"

namespace ringmq::config {
namespace {

// One row: file key, flag, reload kind, and the member of ServerConfig (c) it sets.
#define RINGMQ_SETTING(key, flag, reload, member)                            \
  Setting {                                                                  \
    key, flag, reload, [](ServerConfig& c) -> FieldPtr { return &c.member; } \
  }

constexpr Reload kLive = Reload::kLive;
constexpr Reload kRestart = Reload::kRestart;

constexpr Setting kSettings[] = {
    // Top level: the engine.
    RINGMQ_SETTING("listener", "listen", kRestart, listen),
    RINGMQ_SETTING("threads", "threads", kRestart, threads),
    RINGMQ_SETTING("io_backend", "io_backend", kRestart, io_backend),
    RINGMQ_SETTING("pin_threads", "pin_threads", kRestart, pin_threads),
    RINGMQ_SETTING("max_connections", "max_connections", kRestart, max_connections),
    RINGMQ_SETTING("recv_buffers", "recv_buffers", kRestart, recv_buffers),
    RINGMQ_SETTING("recv_buffer_size", "recv_buffer_size", kRestart, recv_buffer_size),
    RINGMQ_SETTING("mailbox_capacity", "mailbox_capacity", kRestart, mailbox_capacity),
    RINGMQ_SETTING("max_output_buffer", "max_output_buffer", kRestart, max_output_buffer),
    RINGMQ_SETTING("debug_defer_ms", "debug_defer_ms", kLive, broker.debug_defer_ms),
    // Live: it reaches the websocket plugin as an option, which SIGHUP reloads.
    RINGMQ_SETTING("http_root", "http_root", kLive, http_root),
    // [tls]: every TLS listener's settings unless it overrides them (listener.h). The files
    // are read again on SIGHUP; the settings themselves change at a restart.
    RINGMQ_SETTING("tls.cert", "tls_cert", kRestart, tls.cert),
    RINGMQ_SETTING("tls.key", "tls_key", kRestart, tls.key),
    RINGMQ_SETTING("tls.ca", "tls_ca", kRestart, tls.ca),
    RINGMQ_SETTING("tls.client_certs", "tls_client_certs", kRestart, tls.client_certs),
    RINGMQ_SETTING("tls.identity_as_username", "tls_identity_as_username", kRestart,
                   tls.identity_as_username),
    RINGMQ_SETTING("tls.min_version", "tls_min_version", kRestart, tls.min_version),
    RINGMQ_SETTING("tls.ciphers", "tls_ciphers", kRestart, tls.ciphers),
    RINGMQ_SETTING("tls.ciphersuites", "tls_ciphersuites", kRestart, tls.ciphersuites),
    RINGMQ_SETTING("tls.ktls", "ktls", kRestart, tls.ktls),
    // [limits]: the broker's (BrokerConfig, live) and the sockets' (restart).
    RINGMQ_SETTING("limits.max_keepalive", "max_keepalive", kLive, broker.max_keepalive_s),
    RINGMQ_SETTING("limits.max_packet_size", "max_packet_size", kLive, broker.max_packet_size),
    RINGMQ_SETTING("limits.max_inflight", "max_inflight", kLive, broker.max_inflight),
    RINGMQ_SETTING("limits.max_queued_messages", "max_queued_messages", kLive,
                   broker.max_queued_messages),
    RINGMQ_SETTING("limits.max_queued_bytes", "max_queued_bytes", kLive, broker.max_queued_bytes),
    RINGMQ_SETTING("limits.max_queued_bytes_total", "max_queued_bytes_total", kLive,
                   broker.max_queued_bytes_total),
    RINGMQ_SETTING("limits.max_sessions", "max_sessions", kLive, broker.max_sessions),
    RINGMQ_SETTING("limits.max_session_expiry", "max_session_expiry", kLive,
                   broker.max_session_expiry_s),
    RINGMQ_SETTING("limits.session_expiry_v3", "session_expiry_v3", kLive,
                   broker.session_expiry_v3_s),
    RINGMQ_SETTING("limits.max_unreleased_qos2_v3", "max_unreleased_qos2_v3", kLive,
                   broker.max_unreleased_qos2_v3),
    RINGMQ_SETTING("limits.max_topic_alias", "max_topic_alias", kLive, broker.max_topic_alias),
    RINGMQ_SETTING("limits.topic_alias_outbound", "topic_alias_outbound", kLive,
                   broker.topic_alias_outbound),
    RINGMQ_SETTING("limits.max_topic_alias_bytes", "max_topic_alias_bytes", kLive,
                   broker.max_topic_alias_bytes),
    RINGMQ_SETTING("limits.takeover_publishes_will", "takeover_publishes_will", kLive,
                   broker.takeover_publishes_will),
    RINGMQ_SETTING("limits.max_subscriptions_per_session", "max_subscriptions_per_session", kLive,
                   broker.max_subscriptions_per_session),
    RINGMQ_SETTING("limits.max_filters_per_subscribe", "max_filters_per_subscribe", kLive,
                   broker.max_filters_per_subscribe),
    RINGMQ_SETTING("limits.max_topic_levels", "max_topic_levels", kLive, broker.max_topic_levels),
    RINGMQ_SETTING("limits.max_retained_messages", "max_retained_messages", kLive,
                   broker.max_retained_messages),
    RINGMQ_SETTING("limits.max_retained_bytes", "max_retained_bytes", kLive,
                   broker.max_retained_bytes),
    RINGMQ_SETTING("limits.retained_sweep_interval", "retained_sweep_interval", kLive,
                   broker.retained_sweep_interval_s),
    RINGMQ_SETTING("limits.max_client_id", "max_client_id", kLive, broker.max_client_id_bytes),
    RINGMQ_SETTING("limits.allow_empty_client_id", "allow_empty_client_id", kLive,
                   broker.allow_empty_client_id),
    RINGMQ_SETTING("limits.connect_timeout", "connect_timeout", kLive, broker.connect_timeout_s),
    RINGMQ_SETTING("limits.sys_interval", "sys_interval", kLive, broker.sys_interval_s),
    RINGMQ_SETTING("limits.decision_timeout_ms", "decision_timeout_ms", kLive,
                   broker.decision_timeout_ms),
    RINGMQ_SETTING("limits.tcp_keepalive_idle", "tcp_keepalive_idle", kRestart,
                   tcp_keepalive.idle_s),
    RINGMQ_SETTING("limits.tcp_keepalive_interval", "tcp_keepalive_interval", kRestart,
                   tcp_keepalive.interval_s),
    RINGMQ_SETTING("limits.tcp_keepalive_count", "tcp_keepalive_count", kRestart,
                   tcp_keepalive.count),
    // [persistence]: the offline store.
    RINGMQ_SETTING("persistence.mode", "persistence", kRestart, store.persistence),
    RINGMQ_SETTING("persistence.data_dir", "data_dir", kRestart, store.data_dir),
    RINGMQ_SETTING("persistence.sync", "sync", kRestart, store.sync),
    RINGMQ_SETTING("persistence.store_batch_max", "store_batch_max", kRestart, store.batch_max_ops),
    RINGMQ_SETTING("persistence.store_max_pending_bytes", "store_max_pending_bytes", kRestart,
                   store.max_pending_bytes),
    RINGMQ_SETTING("persistence.store_retry_ms", "store_retry_ms", kRestart, store.retry_ms),
    RINGMQ_SETTING("persistence.store_full_check", "store_full_check", kRestart, store.full_check),
    // [logging].
    RINGMQ_SETTING("logging.level", "log_level", kLive, log_level),
    RINGMQ_SETTING("logging.format", "log_format", kRestart, log_format),
    // [admin]: the admin HTTP listener (metrics and health).
    RINGMQ_SETTING("admin.listen", "admin_listen", kRestart, admin_listen),
};

#undef RINGMQ_SETTING

struct TextOf {
  std::string operator()(const uint32_t* v) const { return std::to_string(*v); }
  std::string operator()(const uint64_t* v) const { return std::to_string(*v); }
  std::string operator()(const bool* v) const { return *v ? "true" : "false"; }
  std::string operator()(const std::string* v) const { return *v; }
  std::string operator()(const std::vector<std::string>* v) const { return absl::StrJoin(*v, ","); }
};

}  // namespace

std::span<const Setting> AllSettings() {
  return kSettings;
}

const Setting* FindSettingByKey(std::string_view key) {
  for (const Setting& s : kSettings) {
    if (s.key == key) {
      return &s;
    }
  }
  return nullptr;
}

const Setting* FindSettingByFlag(std::string_view flag) {
  for (const Setting& s : kSettings) {
    if (s.flag == flag) {
      return &s;
    }
  }
  return nullptr;
}

std::string FieldText(FieldPtr field) {
  return std::visit(TextOf{}, field);
}

}  // namespace ringmq::config
