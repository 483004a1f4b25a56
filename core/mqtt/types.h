// MQTT vocabulary shared by the codec and everything above it: protocol versions, packet
// types, QoS and subscription options. Pure values, no I/O; any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace ringmq::mqtt {

// The protocol level byte of CONNECT.
enum class ProtocolVersion : uint8_t {
  kMqtt31 = 3,   // "MQIsdp", level 3
  kMqtt311 = 4,  // "MQTT", level 4
  kMqtt5 = 5,    // "MQTT", level 5
};

inline bool IsV5(ProtocolVersion v) {
  return v == ProtocolVersion::kMqtt5;
}
std::string_view ProtocolVersionName(ProtocolVersion v);

enum class PacketType : uint8_t {
  kReserved = 0,
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kPubrec = 5,
  kPubrel = 6,
  kPubcomp = 7,
  kSubscribe = 8,
  kSuback = 9,
  kUnsubscribe = 10,
  kUnsuback = 11,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
  kAuth = 15,  // MQTT 5 only; reserved in 3.1 and 3.1.1
};

std::string_view PacketTypeName(PacketType t);

enum class Qos : uint8_t { k0 = 0, k1 = 1, k2 = 2 };

inline Qos MinQos(Qos a, Qos b) {
  return a < b ? a : b;
}

// Subscription option "Retain Handling" (MQTT 5 §3.8.3.1).
enum class RetainHandling : uint8_t {
  kSendOnSubscribe = 0,        // send retained messages whenever the subscription is made
  kSendIfNewSubscription = 1,  // only if the subscription did not exist before
  kDoNotSend = 2,
};

struct SubscriptionOptions {
  Qos max_qos = Qos::k0;
  bool no_local = false;                                              // MQTT 5
  bool retain_as_published = false;                                   // MQTT 5
  RetainHandling retain_handling = RetainHandling::kSendOnSubscribe;  // MQTT 5

  bool operator==(const SubscriptionOptions&) const = default;
};

// Wire-format limits.
inline constexpr uint32_t kMaxVarint = 268'435'455;  // largest Variable Byte Integer
inline constexpr uint32_t kMaxRemainingLength = kMaxVarint;
// Largest packet a peer can send: 1 type byte + 4 length bytes + the largest remaining length.
inline constexpr uint32_t kMaxPacketSize = 1 + 4 + kMaxRemainingLength;
inline constexpr size_t kMaxStringBytes = 65'535;  // length prefix is 16 bits

}  // namespace ringmq::mqtt
