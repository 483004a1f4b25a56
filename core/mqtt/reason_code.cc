#include "core/mqtt/reason_code.h"

#include <array>

namespace ringmq::mqtt {
namespace {

// Bit per packet type that may carry a code; built once from the spec's tables.
enum : uint16_t {
  kConnackBit = 1 << 2,
  kPubackBit = 1 << 4,
  kPubrecBit = 1 << 5,
  kPubrelBit = 1 << 6,
  kPubcompBit = 1 << 7,
  kSubackBit = 1 << 9,
  kUnsubackBit = 1 << 11,
  kDisconnectBit = 1 << 14,
  kAuthBit = 1 << 15,
};

struct Entry {
  uint8_t code;
  uint16_t packets;
  std::string_view name;
};

constexpr uint16_t kPubackPubrec = kPubackBit | kPubrecBit;

constexpr Entry kTable[] = {
    {0x00,
     kConnackBit | kPubackPubrec | kPubrelBit | kPubcompBit | kSubackBit | kUnsubackBit |
         kDisconnectBit | kAuthBit,
     "Success"},
    {0x01, kSubackBit, "Granted QoS 1"},
    {0x02, kSubackBit, "Granted QoS 2"},
    {0x04, kDisconnectBit, "Disconnect with Will Message"},
    {0x10, kPubackPubrec, "No matching subscribers"},
    {0x11, kUnsubackBit, "No subscription existed"},
    {0x18, kAuthBit, "Continue authentication"},
    {0x19, kAuthBit, "Re-authenticate"},
    {0x80, kConnackBit | kPubackPubrec | kSubackBit | kUnsubackBit | kDisconnectBit,
     "Unspecified error"},
    {0x81, kConnackBit | kDisconnectBit, "Malformed Packet"},
    {0x82, kConnackBit | kDisconnectBit, "Protocol Error"},
    {0x83, kConnackBit | kPubackPubrec | kSubackBit | kUnsubackBit | kDisconnectBit,
     "Implementation specific error"},
    {0x84, kConnackBit, "Unsupported Protocol Version"},
    {0x85, kConnackBit, "Client Identifier not valid"},
    {0x86, kConnackBit, "Bad User Name or Password"},
    {0x87, kConnackBit | kPubackPubrec | kSubackBit | kUnsubackBit | kDisconnectBit,
     "Not authorized"},
    {0x88, kConnackBit, "Server unavailable"},
    {0x89, kConnackBit | kDisconnectBit, "Server busy"},
    {0x8A, kConnackBit, "Banned"},
    {0x8B, kDisconnectBit, "Server shutting down"},
    {0x8C, kConnackBit | kDisconnectBit, "Bad authentication method"},
    {0x8D, kDisconnectBit, "Keep Alive timeout"},
    {0x8E, kDisconnectBit, "Session taken over"},
    {0x8F, kSubackBit | kUnsubackBit | kDisconnectBit, "Topic Filter invalid"},
    {0x90, kConnackBit | kPubackPubrec | kDisconnectBit, "Topic Name invalid"},
    {0x91, kPubackPubrec | kSubackBit | kUnsubackBit, "Packet Identifier in use"},
    {0x92, kPubrelBit | kPubcompBit, "Packet Identifier not found"},
    {0x93, kDisconnectBit, "Receive Maximum exceeded"},
    {0x94, kDisconnectBit, "Topic Alias invalid"},
    {0x95, kConnackBit | kDisconnectBit, "Packet too large"},
    {0x96, kDisconnectBit, "Message rate too high"},
    {0x97, kConnackBit | kPubackPubrec | kSubackBit | kDisconnectBit, "Quota exceeded"},
    {0x98, kDisconnectBit, "Administrative action"},
    {0x99, kConnackBit | kPubackPubrec | kDisconnectBit, "Payload format invalid"},
    {0x9A, kConnackBit | kDisconnectBit, "Retain not supported"},
    {0x9B, kConnackBit | kDisconnectBit, "QoS not supported"},
    {0x9C, kConnackBit | kDisconnectBit, "Use another server"},
    {0x9D, kConnackBit | kDisconnectBit, "Server moved"},
    {0x9E, kSubackBit | kDisconnectBit, "Shared Subscriptions not supported"},
    {0x9F, kConnackBit | kDisconnectBit, "Connection rate exceeded"},
    {0xA0, kDisconnectBit, "Maximum connect time"},
    {0xA1, kSubackBit | kDisconnectBit, "Subscription Identifiers not supported"},
    {0xA2, kSubackBit | kDisconnectBit, "Wildcard Subscriptions not supported"},
};

// Dense lookup: code byte -> index into kTable + 1 (0 = not a code).
constexpr std::array<uint8_t, 256> BuildIndex() {
  std::array<uint8_t, 256> index{};
  for (size_t i = 0; i < std::size(kTable); ++i) {
    index[kTable[i].code] = static_cast<uint8_t>(i + 1);
  }
  return index;
}
constexpr std::array<uint8_t, 256> kIndex = BuildIndex();

const Entry* Find(ReasonCode rc) {
  uint8_t i = kIndex[static_cast<uint8_t>(rc)];
  return i == 0 ? nullptr : &kTable[i - 1];
}

}  // namespace

std::string_view ReasonCodeName(ReasonCode rc) {
  const Entry* e = Find(rc);
  return e == nullptr ? "Unknown reason code" : e->name;
}

bool IsValidReasonCode(PacketType t, ReasonCode rc) {
  const Entry* e = Find(rc);
  return e != nullptr && (e->packets & (1u << static_cast<unsigned>(t))) != 0;
}

V3ConnackCode ToV3ConnackCode(ReasonCode rc) {
  switch (rc) {
    case ReasonCode::kSuccess:
      return V3ConnackCode::kAccepted;
    case ReasonCode::kUnsupportedProtocolVersion:
      return V3ConnackCode::kUnacceptableProtocolVersion;
    case ReasonCode::kClientIdentifierNotValid:
      return V3ConnackCode::kIdentifierRejected;
    case ReasonCode::kBadUserNameOrPassword:
    case ReasonCode::kBadAuthenticationMethod:
      return V3ConnackCode::kBadUserNameOrPassword;
    case ReasonCode::kNotAuthorized:
    case ReasonCode::kBanned:
      return V3ConnackCode::kNotAuthorized;
    default:
      return V3ConnackCode::kServerUnavailable;
  }
}

bool FromV3ConnackCode(uint8_t code, ReasonCode* out) {
  static constexpr ReasonCode kMap[] = {
      ReasonCode::kSuccess,
      ReasonCode::kUnsupportedProtocolVersion,
      ReasonCode::kClientIdentifierNotValid,
      ReasonCode::kServerUnavailable,
      ReasonCode::kBadUserNameOrPassword,
      ReasonCode::kNotAuthorized,
  };
  if (code >= std::size(kMap)) {
    return false;
  }
  *out = kMap[code];
  return true;
}

std::string_view ProtocolVersionName(ProtocolVersion v) {
  switch (v) {
    case ProtocolVersion::kMqtt31:
      return "3.1";
    case ProtocolVersion::kMqtt311:
      return "3.1.1";
    case ProtocolVersion::kMqtt5:
      return "5.0";
  }
  return "unknown";
}

std::string_view PacketTypeName(PacketType t) {
  static constexpr std::string_view kNames[] = {"RESERVED",  "CONNECT",  "CONNACK",     "PUBLISH",
                                                "PUBACK",    "PUBREC",   "PUBREL",      "PUBCOMP",
                                                "SUBSCRIBE", "SUBACK",   "UNSUBSCRIBE", "UNSUBACK",
                                                "PINGREQ",   "PINGRESP", "DISCONNECT",  "AUTH"};
  auto i = static_cast<size_t>(t);
  return i < std::size(kNames) ? kNames[i] : "INVALID";
}

}  // namespace ringmq::mqtt
