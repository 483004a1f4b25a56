// The log record of a refused connection: one per refusal, event=connect_refused with the
// client id (when the CONNECT got that far), the peer's address, the reason code and why.
// Limited per call site (RINGMQ_LOG_EVENT): a storm of refusals cannot flood the log.
#include "absl/strings/str_format.h"

#include "core/base/log.h"
#include "core/broker/broker_shard.h"
#include "core/mqtt/decoder.h"

namespace ringmq::broker {

std::string BrokerShard::RefusedClientId(Connection& c) {
  if (c.assigned_id) {
    return *c.assigned_id;
  }
  if (c.held == nullptr) {
    return {};
  }
  // The CONNECT waits at the front of the held input until its CONNACK.
  const std::string& held = *c.held;
  std::span<const uint8_t> all(reinterpret_cast<const uint8_t*>(held.data()), held.size());
  mqtt::FixedHeader h;
  if (mqtt::ParseFixedHeader(all, config().max_packet_size, &h) != mqtt::FrameStatus::kOk ||
      h.type != mqtt::PacketType::kConnect || all.size() < h.packet_size()) {
    return {};
  }
  mqtt::Connect pkt;
  (void)mqtt::DecodeConnect(h, all.subspan(h.header_size, h.remaining_length), &pkt);
  return std::string(pkt.client_id);
}

void BrokerShard::LogConnectRefused(Connection& c, mqtt::ProtocolVersion v, mqtt::ReasonCode rc,
                                    std::string_view why) {
  ShardCounters::Add(counters().connects_refused, 1);
  const absl::StatusOr<net::Endpoint> peer = net::PeerEndpoint(c.conn->fd());
  RINGMQ_LOG_EVENT(kInfo, "connect_refused", "refusing a CONNECT",
                   {{"client_id", RefusedClientId(c)},
                    {"address", peer.ok() ? peer->ToString() : std::string()},
                    {"protocol", std::string(mqtt::ProtocolVersionName(v))},
                    {"reason", absl::StrFormat("0x%02x", static_cast<int>(rc))},
                    {"reason_name", std::string(mqtt::ReasonCodeName(rc))},
                    {"why", std::string(why)}});
}

void BrokerShard::LogConnectionClosedBeforeConnect(Connection& c, std::string_view why) {
  ShardCounters::Add(counters().connects_refused, 1);
  const absl::StatusOr<net::Endpoint> peer = net::PeerEndpoint(c.conn->fd());
  RINGMQ_LOG_EVENT(kInfo, "connect_refused", "closing a connection before CONNECT",
                   {{"client_id", ""},
                    {"address", peer.ok() ? peer->ToString() : std::string()},
                    {"reason", "none"},
                    {"why", std::string(why)}});
}

}  // namespace ringmq::broker
