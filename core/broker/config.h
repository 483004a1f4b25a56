// BrokerConfig: every limit and switch of the broker, with the defaults a production broker
// should start with. Plain values: filled from flags (core/server) or a config file (later),
// validated once, then read by every shard.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace ringmq::broker {

struct BrokerConfig {
  // Connections.
  uint32_t connect_timeout_s = 10;     // a connection must send CONNECT within this
  uint16_t max_keepalive_s = 0;        // 0: no cap; else larger/zero client values are lowered
  uint32_t max_packet_size = 1 << 20;  // bytes, whole packet; announced in 5.0 CONNACK
  bool allow_empty_client_id = true;   // assign an id (5.0, and 3.1.1 with clean session)
  uint32_t max_client_id_bytes = 256;

  // Sessions and QoS.
  uint16_t max_inflight = 100;                 // outbound QoS 1/2 window per session (and the
                                               // Receive Maximum announced for inbound)
  uint32_t max_queued_messages = 1000;         // per session, beyond the in-flight window
  uint64_t max_queued_bytes = 16ull << 20;     // per session
  uint32_t max_session_expiry_s = UINT32_MAX;  // cap on what clients ask for
  uint16_t max_topic_alias = 64;               // aliases a 5.0 client may use towards us
  bool topic_alias_outbound = true;            // use aliases towards clients that accept them

  // Topics.
  uint32_t max_topic_levels = 32;

  // $SYS.
  uint32_t sys_interval_s = 10;  // 0: no $SYS publishing

  // Testing knob: hold every CONNACK, SUBACK and PUBACK/PUBREC decision for this long before
  // answering, through the same asynchronous path a plugin or the store will use.
  uint32_t debug_defer_ms = 0;

  absl::Status Validate() const;
};

}  // namespace ringmq::broker
