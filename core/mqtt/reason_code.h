// MQTT 5 reason codes, the tables of which codes each packet may carry, and the mapping to
// the MQTT 3.1/3.1.1 CONNACK and SUBACK return codes. Pure values; any thread.
//
// The codec and the broker think in MQTT 5 reason codes whatever the client's version;
// encoding for a 3.x client maps them onto the few return codes 3.x has (see
// ToV3ConnackCode), and a 3.x client is simply disconnected where 5.0 would send a
// DISCONNECT with a code.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/mqtt/types.h"

namespace ringmq::mqtt {

enum class ReasonCode : uint8_t {
  kSuccess = 0x00,  // also: Normal disconnection, Granted QoS 0
  kGrantedQos1 = 0x01,
  kGrantedQos2 = 0x02,
  kDisconnectWithWill = 0x04,
  kNoMatchingSubscribers = 0x10,
  kNoSubscriptionExisted = 0x11,
  kContinueAuthentication = 0x18,
  kReAuthenticate = 0x19,
  kUnspecifiedError = 0x80,
  kMalformedPacket = 0x81,
  kProtocolError = 0x82,
  kImplementationSpecificError = 0x83,
  kUnsupportedProtocolVersion = 0x84,
  kClientIdentifierNotValid = 0x85,
  kBadUserNameOrPassword = 0x86,
  kNotAuthorized = 0x87,
  kServerUnavailable = 0x88,
  kServerBusy = 0x89,
  kBanned = 0x8A,
  kServerShuttingDown = 0x8B,
  kBadAuthenticationMethod = 0x8C,
  kKeepAliveTimeout = 0x8D,
  kSessionTakenOver = 0x8E,
  kTopicFilterInvalid = 0x8F,
  kTopicNameInvalid = 0x90,
  kPacketIdentifierInUse = 0x91,
  kPacketIdentifierNotFound = 0x92,
  kReceiveMaximumExceeded = 0x93,
  kTopicAliasInvalid = 0x94,
  kPacketTooLarge = 0x95,
  kMessageRateTooHigh = 0x96,
  kQuotaExceeded = 0x97,
  kAdministrativeAction = 0x98,
  kPayloadFormatInvalid = 0x99,
  kRetainNotSupported = 0x9A,
  kQosNotSupported = 0x9B,
  kUseAnotherServer = 0x9C,
  kServerMoved = 0x9D,
  kSharedSubscriptionsNotSupported = 0x9E,
  kConnectionRateExceeded = 0x9F,
  kMaximumConnectTime = 0xA0,
  kSubscriptionIdentifiersNotSupported = 0xA1,
  kWildcardSubscriptionsNotSupported = 0xA2,
};

inline constexpr ReasonCode kNormalDisconnection = ReasonCode::kSuccess;
inline constexpr ReasonCode kGrantedQos0 = ReasonCode::kSuccess;

inline bool IsFailure(ReasonCode rc) {
  return static_cast<uint8_t>(rc) >= 0x80;
}

// The spec's name for the code, e.g. "Malformed Packet". "Unknown reason code" if none.
std::string_view ReasonCodeName(ReasonCode rc);

// Whether `rc` is in the reason-code table of packet type `t` (MQTT 5 §2.4 and the tables in
// §3.2.2.2, 3.4.2.1, 3.5.2.1, 3.6.2.1, 3.7.2.1, 3.9.3, 3.11.3, 3.14.2.1, 3.15.2.1).
// Packets that carry no reason code return false for every code.
bool IsValidReasonCode(PacketType t, ReasonCode rc);

// MQTT 3.1/3.1.1 CONNACK return codes (3.1.1 §3.2.2.3).
enum class V3ConnackCode : uint8_t {
  kAccepted = 0,
  kUnacceptableProtocolVersion = 1,
  kIdentifierRejected = 2,
  kServerUnavailable = 3,
  kBadUserNameOrPassword = 4,
  kNotAuthorized = 5,
};

// Maps a CONNACK reason to the nearest 3.x return code. Codes 3.x cannot express become
// "Server unavailable", the generic refusal.
V3ConnackCode ToV3ConnackCode(ReasonCode rc);
// Maps a 3.x return code (0..5) to its MQTT 5 equivalent; false if the byte is not a code.
bool FromV3ConnackCode(uint8_t code, ReasonCode* out);

// 3.x SUBACK return codes are 0x00, 0x01, 0x02 and 0x80 [MQTT-3.9.3-2 (3.1.1)]: every MQTT 5
// failure maps to 0x80.
inline uint8_t ToV3SubackCode(ReasonCode rc) {
  return IsFailure(rc) ? 0x80 : static_cast<uint8_t>(rc);
}

}  // namespace ringmq::mqtt
