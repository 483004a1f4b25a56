// The MQTT control packets as C++ values (MQTT 3.1, 3.1.1 and 5.0). Pure values; any thread.
//
// Decoded packets hold views into the bytes they were decoded from and are valid only while
// those bytes are; nothing here owns memory except the small inline vectors of SUBSCRIBE,
// SUBACK, UNSUBSCRIBE and UNSUBACK (which allocate only beyond 4 or 8 entries).
// Reason codes are MQTT 5 codes whatever the version: the encoder maps them to the 3.x
// return codes (CONNACK, SUBACK) and leaves them out where 3.x has none.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

#include "absl/container/inlined_vector.h"

#include "core/mqtt/properties.h"
#include "core/mqtt/reason_code.h"
#include "core/mqtt/types.h"

namespace ringmq::mqtt {

struct Will {
  std::string_view topic;
  std::string_view payload;
  Qos qos = Qos::k0;
  bool retain = false;
  Properties properties;  // MQTT 5 Will Properties
};

struct Connect {
  // Set from the protocol name and level. On a decode error it still holds the level the
  // client asked for when that much could be read, so the broker can answer in its format.
  ProtocolVersion version = ProtocolVersion::kMqtt311;
  bool clean_start = true;  // "Clean Session" in 3.x
  uint16_t keep_alive_s = 0;
  std::string_view client_id;
  std::optional<Will> will;
  std::optional<std::string_view> username;
  std::optional<std::string_view> password;  // binary data
  Properties properties;
};

struct Connack {
  bool session_present = false;
  ReasonCode reason = ReasonCode::kSuccess;
  Properties properties;
};

struct Publish {
  std::string_view topic;  // may be empty in MQTT 5 when a Topic Alias is set
  std::string_view payload;
  Qos qos = Qos::k0;
  bool retain = false;
  bool dup = false;
  uint16_t packet_id = 0;  // 0 for QoS 0
  Properties properties;
};

// PUBACK, PUBREC, PUBREL and PUBCOMP share one shape.
template <PacketType kType>
struct PublishAck {
  static constexpr PacketType kPacketType = kType;
  uint16_t packet_id = 0;
  ReasonCode reason = ReasonCode::kSuccess;
  Properties properties;
};
using Puback = PublishAck<PacketType::kPuback>;
using Pubrec = PublishAck<PacketType::kPubrec>;
using Pubrel = PublishAck<PacketType::kPubrel>;
using Pubcomp = PublishAck<PacketType::kPubcomp>;

struct Subscription {
  std::string_view filter;  // possibly "$share/{name}/{filter}"
  SubscriptionOptions options;
};

struct Subscribe {
  uint16_t packet_id = 0;
  Properties properties;
  absl::InlinedVector<Subscription, 4> subscriptions;
};

struct Suback {
  uint16_t packet_id = 0;
  Properties properties;
  absl::InlinedVector<ReasonCode, 8> reasons;  // granted QoS (0x00..0x02) or failure
};

struct Unsubscribe {
  uint16_t packet_id = 0;
  Properties properties;
  absl::InlinedVector<std::string_view, 4> filters;
};

struct Unsuback {
  uint16_t packet_id = 0;
  Properties properties;
  absl::InlinedVector<ReasonCode, 8> reasons;  // MQTT 5 only; empty for 3.x
};

struct Pingreq {};
struct Pingresp {};

struct Disconnect {
  ReasonCode reason = ReasonCode::kSuccess;
  Properties properties;
};

struct Auth {
  ReasonCode reason = ReasonCode::kSuccess;
  Properties properties;
};

using Packet = std::variant<Connect, Connack, Publish, Puback, Pubrec, Pubrel, Pubcomp, Subscribe,
                            Suback, Unsubscribe, Unsuback, Pingreq, Pingresp, Disconnect, Auth>;

PacketType TypeOf(const Packet& p);

}  // namespace ringmq::mqtt
