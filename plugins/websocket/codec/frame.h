// plugins/websocket/codec/frame.h: the words of RFC 6455's framing shared by the decoder, the
// encoder and the close-frame rules: opcodes (section 5.2, 11.8), close status codes (7.4),
// which side of the connection a codec runs on, and the size limits of a frame header.
//
// Header only, no state: any thread.
#ifndef RINGMQ_PLUGINS_WEBSOCKET_CODEC_FRAME_H
#define RINGMQ_PLUGINS_WEBSOCKET_CODEC_FRAME_H

#include <array>
#include <cstddef>
#include <cstdint>

namespace ringmq::websocket {

// RFC 6455 5.2 (values), 5.4 (continuation), 5.5 (control frames have the high bit set).
enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// RFC 6455 5.5: opcodes 0x8-0xF are control frames.
constexpr bool IsControl(Opcode opcode) {
  return (static_cast<uint8_t>(opcode) & 0x8) != 0;
}

// RFC 6455 7.4.1. Any uint16_t may be held (3000-4999 are registered or private codes);
// kNone is not a close code: it means "no error" in DecodeResult.
enum class CloseCode : uint16_t {
  kNone = 0,
  kNormal = 1000,
  kGoingAway = 1001,
  kProtocolError = 1002,
  kUnsupportedData = 1003,  // text frames: MQTT over WebSocket is binary only (MQTT 5.0 6.0)
  kNoStatus = 1005,         // never sent: "the Close frame had no status code"
  kAbnormal = 1006,         // never sent: "the connection closed without a Close frame"
  kInvalidPayload = 1007,   // e.g. a Close reason that is not UTF-8
  kPolicyViolation = 1008,
  kMessageTooBig = 1009,
  kMandatoryExtension = 1010,
  kInternalError = 1011,
  kTlsHandshake = 1015,  // never sent
};

// Which end of the connection the codec runs on (RFC 6455 5.1): a client masks every frame it
// sends and a server masks none, so a decoder in kServer role requires the MASK bit and one in
// kClient role (the load tool) refuses it.
enum class Role : uint8_t { kServer, kClient };

// The masking key of a client frame (RFC 6455 5.3).
using MaskKey = std::array<uint8_t, 4>;

// RFC 6455 5.2: 2 bytes, then 0, 2 or 8 bytes of extended length, then 0 or 4 of mask key.
constexpr size_t kFrameHeaderBytesMax = 14;
constexpr size_t kUnmaskedHeaderBytesMax = 10;
// RFC 6455 5.5: all control frames have a payload of 125 bytes or less.
constexpr size_t kControlPayloadBytesMax = 125;

}  // namespace ringmq::websocket

#endif  // RINGMQ_PLUGINS_WEBSOCKET_CODEC_FRAME_H
