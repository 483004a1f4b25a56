#include "core/broker/config.h"

#include "core/base/range_check.h"
#include "core/mqtt/types.h"

namespace ringmq::broker {

absl::Status BrokerConfig::Validate() const {
  const struct {
    std::string_view name;
    uint64_t value, min, max;
  } checks[] = {
      {"max-packet-size", max_packet_size, 128, mqtt::kMaxPacketSize},
      {"max-inflight", max_inflight, 1, 65535},
      {"max-keepalive", max_keepalive_s, 0, 65535},
      {"max-topic-alias", max_topic_alias, 0, 65535},
      {"max-topic-levels", max_topic_levels, 1, kMaxTopicLevelsLimit},
      {"connect-timeout", connect_timeout_s, 1, 3600},
      {"max-client-id", max_client_id_bytes, 1, 65535},
      {"max-queued-messages", max_queued_messages, 0, UINT32_MAX},
      {"max-queued-bytes", max_queued_bytes, 0, UINT64_MAX},
      {"max-queued-bytes-total", max_queued_bytes_total, 0, UINT64_MAX},
      {"max-sessions", max_sessions, 1, UINT32_MAX},
      {"max-unreleased-qos2-v3", max_unreleased_qos2_v3, 1, 65535},
      {"max-topic-alias-bytes", max_topic_alias_bytes, 0, UINT32_MAX},
      {"max-subscriptions-per-session", max_subscriptions_per_session, 1, UINT32_MAX},
      {"max-filters-per-subscribe", max_filters_per_subscribe, 1, 65535},
      {"max-retained-messages", max_retained_messages, 0, UINT64_MAX},
      {"max-retained-bytes", max_retained_bytes, 0, UINT64_MAX},
      {"retained-sweep-interval", retained_sweep_interval_s, 1, 86400},
      {"sys-interval", sys_interval_s, 0, 86400},
      {"debug-defer-ms", debug_defer_ms, 0, 60'000},
      {"decision-timeout-ms", decision_timeout_ms, 1, 600'000},
  };
  for (const auto& c : checks) {
    if (absl::Status s = base::CheckRange(c.name, c.value, c.min, c.max); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace ringmq::broker
