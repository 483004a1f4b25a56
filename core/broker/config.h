// BrokerConfig: every limit and switch of the broker, with the defaults a production broker
// should start with. Plain values: filled from flags or a config file (core/config), checked
// once by Validate(), then read by every shard.
//
// Every state a client can create is bounded here. Bounds "over all sessions" and "in all"
// that are kept without a shared counter (queued bytes, retained messages) are split evenly
// between the shards: each shard enforces its share (see docs/configuration.md).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace ringmq::broker {

struct BrokerConfig {
  // Connections.
  uint32_t connect_timeout_s = 10;     // a connection must send CONNECT within this
  uint32_t max_keepalive_s = 0;        // 0: no cap; else larger/zero client values are lowered
  uint32_t max_packet_size = 1 << 20;  // bytes, whole packet; announced in 5.0 CONNACK
  bool allow_empty_client_id = true;   // assign an id (5.0, and 3.1.1 with clean session)
  uint32_t max_client_id_bytes = 256;

  // Sessions and QoS.
  uint32_t max_inflight = 100;                   // outbound QoS 1/2 window per session (and the
                                                 // Receive Maximum announced for inbound)
  uint32_t max_queued_messages = 1000;           // per session, beyond the in-flight window
  uint64_t max_queued_bytes = 16ull << 20;       // per session
  uint64_t max_queued_bytes_total = 1ull << 30;  // over all sessions (a share per shard)
  uint32_t max_sessions = 1'000'000;             // sessions, connected or not, in all
  uint32_t max_session_expiry_s = UINT32_MAX;    // cap on what clients ask for
  // A 3.x session with clean session 0 never says how long to keep it: this long after its
  // connection ends (capped by max_session_expiry_s too).
  uint32_t session_expiry_v3_s = 7 * 24 * 3600;
  // QoS 2 packet ids a 3.x client may leave unreleased (no PUBREL yet). 3.x has no Receive
  // Maximum to tell it, so one more closes the connection. 5.0 is bounded by max_inflight.
  uint32_t max_unreleased_qos2_v3 = 1000;
  uint32_t max_topic_alias = 64;              // aliases a 5.0 client may use towards us
  bool topic_alias_outbound = true;           // use aliases towards clients that accept them
  uint32_t max_topic_alias_bytes = 64 << 10;  // per connection: topic bytes of outbound aliases
  // A takeover by a connection that continues the session (clean start 0) publishes the old
  // connection's will only with this set (the letter of 3.1.1 [MQTT-3.1.2-8]); off, the
  // client is back and no "offline" is announced (5.0 [MQTT-3.1.3-9]; docs/architecture.md).
  bool takeover_publishes_will = false;

  // Subscriptions.
  uint32_t max_subscriptions_per_session = 10'000;
  uint32_t max_filters_per_subscribe = 1000;

  // Topics. Levels in a topic name or filter; the tries' recursion follows levels.
  uint32_t max_topic_levels = 256;

  // Retained messages, in all (a share per shard: each holds a partition).
  uint64_t max_retained_messages = 1'000'000;
  uint64_t max_retained_bytes = 1ull << 30;
  uint32_t retained_sweep_interval_s = 10;  // removal of expired retained messages

  // $SYS.
  uint32_t sys_interval_s = 10;  // 0: no $SYS publishing

  // A pending decision (authentication, authorisation) not answered within this is a refusal.
  uint32_t decision_timeout_ms = 5000;

  // Testing knob: hold every CONNACK, SUBACK and PUBACK/PUBREC decision for this long before
  // answering, through the same asynchronous path a plugin or the store will use.
  uint32_t debug_defer_ms = 0;

  // Checks every value; the message names the setting (its flag spelling) and the range.
  absl::Status Validate() const;
  bool operator==(const BrokerConfig&) const = default;
};

// Highest max_topic_levels Validate() accepts: the tries recurse once per level.
inline constexpr uint32_t kMaxTopicLevelsLimit = 4096;

}  // namespace ringmq::broker
