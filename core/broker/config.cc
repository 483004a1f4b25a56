#include "core/broker/config.h"

#include "absl/strings/str_format.h"

#include "core/mqtt/types.h"

namespace ringmq::broker {

absl::Status BrokerConfig::Validate() const {
  if (max_packet_size < 128 || max_packet_size > mqtt::kMaxPacketSize) {
    return absl::InvalidArgumentError(absl::StrFormat("max packet size %d is outside 128..%d bytes",
                                                      max_packet_size, mqtt::kMaxPacketSize));
  }
  if (max_inflight == 0) {
    return absl::InvalidArgumentError("max inflight must be at least 1");
  }
  if (max_topic_levels == 0) {
    return absl::InvalidArgumentError("max topic levels must be at least 1");
  }
  if (connect_timeout_s == 0) {
    return absl::InvalidArgumentError("connect timeout must be at least 1 second");
  }
  if (max_client_id_bytes == 0 || max_client_id_bytes > 65535) {
    return absl::InvalidArgumentError("max client id bytes must be within 1..65535");
  }
  return absl::OkStatus();
}

}  // namespace ringmq::broker
