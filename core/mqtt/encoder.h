// Encoding MQTT control packets. Pure functions; any thread.
//
// Two calls per packet: EncodedSize() gives the exact size, Encode() writes that many bytes
// to a caller-provided buffer, so a message can be encoded once into a buffer of the right
// size and shared by every receiver of that variant (see docs/architecture.md). The
// encoder trusts its input: packets come from the broker itself, not from a peer, and
// their invariants are checked with debug assertions only.
//
// Version differences are handled here: 3.x encodings leave out properties and reason codes,
// map CONNACK and SUBACK codes to the 3.x return codes, and 5.0 acknowledgements use the
// short forms (no Reason Code / Property Length) whenever the spec allows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/mqtt/packets.h"
#include "core/mqtt/types.h"
#include "core/mqtt/varint.h"

namespace ringmq::mqtt {

size_t EncodedSize(const Connect& p, ProtocolVersion v);
size_t EncodedSize(const Connack& p, ProtocolVersion v);
size_t EncodedSize(const Publish& p, ProtocolVersion v);
size_t EncodedSize(const Puback& p, ProtocolVersion v);
size_t EncodedSize(const Pubrec& p, ProtocolVersion v);
size_t EncodedSize(const Pubrel& p, ProtocolVersion v);
size_t EncodedSize(const Pubcomp& p, ProtocolVersion v);
size_t EncodedSize(const Subscribe& p, ProtocolVersion v);
size_t EncodedSize(const Suback& p, ProtocolVersion v);
size_t EncodedSize(const Unsubscribe& p, ProtocolVersion v);
size_t EncodedSize(const Unsuback& p, ProtocolVersion v);
size_t EncodedSize(const Pingreq& p, ProtocolVersion v);
size_t EncodedSize(const Pingresp& p, ProtocolVersion v);
size_t EncodedSize(const Disconnect& p, ProtocolVersion v);
size_t EncodedSize(const Auth& p, ProtocolVersion v);
size_t EncodedSize(const Packet& p, ProtocolVersion v);

// Each writes exactly EncodedSize(p, v) bytes at `out` and returns that count.
size_t Encode(const Connect& p, ProtocolVersion v, uint8_t* out);
size_t Encode(const Connack& p, ProtocolVersion v, uint8_t* out);
size_t Encode(const Publish& p, ProtocolVersion v, uint8_t* out);
size_t Encode(const Puback& p, ProtocolVersion v, uint8_t* out);
size_t Encode(const Pubrec& p, ProtocolVersion v, uint8_t* out);
size_t Encode(const Pubrel& p, ProtocolVersion v, uint8_t* out);
size_t Encode(const Pubcomp& p, ProtocolVersion v, uint8_t* out);
size_t Encode(const Subscribe& p, ProtocolVersion v, uint8_t* out);
size_t Encode(const Suback& p, ProtocolVersion v, uint8_t* out);
size_t Encode(const Unsubscribe& p, ProtocolVersion v, uint8_t* out);
size_t Encode(const Unsuback& p, ProtocolVersion v, uint8_t* out);
size_t Encode(const Pingreq& p, ProtocolVersion v, uint8_t* out);
size_t Encode(const Pingresp& p, ProtocolVersion v, uint8_t* out);
size_t Encode(const Disconnect& p, ProtocolVersion v, uint8_t* out);
size_t Encode(const Auth& p, ProtocolVersion v, uint8_t* out);
size_t Encode(const Packet& p, ProtocolVersion v, uint8_t* out);

// Appends the encoding to *out. Convenience for tests, tools and control packets.
template <typename P>
void AppendEncoded(const P& p, ProtocolVersion v, std::string* out) {
  size_t n = EncodedSize(p, v);
  size_t old = out->size();
  out->resize(old + n);
  Encode(p, v, reinterpret_cast<uint8_t*>(out->data() + old));
}

template <typename P>
std::string EncodeToString(const P& p, ProtocolVersion v) {
  std::string s;
  AppendEncoded(p, v, &s);
  return s;
}

// Offset of the Packet Identifier in an encoded QoS>0 PUBLISH: a message encoded once can be
// stamped with each receiver's packet id (and DUP bit in byte 0) without re-encoding.
size_t PublishPacketIdOffset(const Publish& p, ProtocolVersion v);

// Drops the Reason String, then the User Properties, until the packet fits in
// `max_packet_size` bytes, as MQTT 5 requires of every packet but PUBLISH
// [MQTT-3.2.2-19/20], [MQTT-3.4.2-2/3], [MQTT-3.14.2-3/4] and the like. Returns the final
// encoded size, which may still exceed the maximum (then the packet cannot be sent).
template <typename P>
size_t FitToMaximumPacketSize(P* p, ProtocolVersion v, uint32_t max_packet_size) {
  size_t n = EncodedSize(*p, v);
  if (n > max_packet_size && p->properties.Has(PropertyId::kReasonString)) {
    p->properties.Clear(PropertyId::kReasonString);
    n = EncodedSize(*p, v);
  }
  if (n > max_packet_size && !p->properties.user_properties.encoded().empty()) {
    p->properties.user_properties = UserPropertyList();
    n = EncodedSize(*p, v);
  }
  return n;
}

}  // namespace ringmq::mqtt
