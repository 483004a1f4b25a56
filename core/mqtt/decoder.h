// Decoding MQTT control packets from bytes. Pure functions; any thread; no allocation except
// SUBSCRIBE/SUBACK/UNSUBSCRIBE/UNSUBACK with more entries than their inline capacity.
//
// Two steps, so that a connection can frame packets straight out of the kernel's receive
// buffer (see packet_reader.h):
//   1. ParseFixedHeader finds the packet type, flags and Remaining Length, and rejects a
//      packet larger than the configured maximum as soon as its length is known, before a
//      byte of its body is buffered.
//   2. Decode<Packet> validates the body exactly as the specification requires and fills a
//      packet value whose strings are views into the body.
// Every failure is a DecodeStatus carrying the MQTT 5 reason code the specification names
// (Malformed Packet, Protocol Error, Topic Alias invalid, ...) and a static explanation with
// the statement id; on a 3.x connection any failure simply closes the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/mqtt/packets.h"
#include "core/mqtt/properties.h"
#include "core/mqtt/types.h"

namespace ringmq::mqtt {

struct FixedHeader {
  PacketType type = PacketType::kReserved;
  uint8_t flags = 0;        // low nibble of the first byte
  uint8_t header_size = 0;  // 2..5: type byte + Remaining Length bytes
  uint32_t remaining_length = 0;

  uint32_t packet_size() const { return header_size + remaining_length; }
};

enum class FrameStatus : uint8_t {
  kOk,         // *out is filled; the packet is complete if packet_size() bytes are available
  kNeedMore,   // the header itself is not complete yet
  kMalformed,  // packet type 0, or a Remaining Length of 5+ bytes / non-minimal [MQTT-1.5.5-1]
  kTooLarge,   // packet_size() > max_packet_size: reason Packet too large (0x95)
};

// Parses the fixed header at the front of `data`. `max_packet_size` counts the whole packet
// (fixed header included), as MQTT 5's Maximum Packet Size does.
FrameStatus ParseFixedHeader(std::span<const uint8_t> data, uint32_t max_packet_size,
                             FixedHeader* out);

// CONNECT determines the protocol version itself (out->version). When the result is
// kUnsupportedProtocolVersion, out->version tells the format of the CONNACK to answer with:
// an unknown level is answered in 3.1.1 format with return code 0x01, which every client
// version understands [MQTT-3.1.2-2 (3.1.1)].
DecodeStatus DecodeConnect(const FixedHeader& h, std::span<const uint8_t> body, Connect* out);

DecodeStatus DecodeConnack(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                           Connack* out);
DecodeStatus DecodePublish(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                           Publish* out);
DecodeStatus DecodePuback(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                          Puback* out);
DecodeStatus DecodePubrec(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                          Pubrec* out);
DecodeStatus DecodePubrel(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                          Pubrel* out);
DecodeStatus DecodePubcomp(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                           Pubcomp* out);
DecodeStatus DecodeSubscribe(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                             Subscribe* out);
DecodeStatus DecodeSuback(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                          Suback* out);
DecodeStatus DecodeUnsubscribe(ProtocolVersion v, const FixedHeader& h,
                               std::span<const uint8_t> body, Unsubscribe* out);
DecodeStatus DecodeUnsuback(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                            Unsuback* out);
DecodeStatus DecodePingreq(const FixedHeader& h, std::span<const uint8_t> body);
DecodeStatus DecodePingresp(const FixedHeader& h, std::span<const uint8_t> body);
DecodeStatus DecodeDisconnect(ProtocolVersion v, const FixedHeader& h,
                              std::span<const uint8_t> body, Disconnect* out);
DecodeStatus DecodeAuth(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                        Auth* out);

// Decodes any packet type. For CONNECT `v` is ignored (the packet carries its version).
DecodeStatus DecodePacket(ProtocolVersion v, const FixedHeader& h, std::span<const uint8_t> body,
                          Packet* out);

// Frames and decodes one whole packet from `data`, which must hold exactly one packet.
// Convenience for tests, tools and the fuzzer.
DecodeStatus DecodeOne(ProtocolVersion v, std::span<const uint8_t> data, Packet* out,
                       uint32_t max_packet_size = kMaxPacketSize);

}  // namespace ringmq::mqtt
