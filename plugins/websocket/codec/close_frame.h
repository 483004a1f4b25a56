// plugins/websocket/codec/close_frame.h: the body of a Close frame (RFC 6455 5.5.1): empty, or
// a 2-byte status code in network byte order followed by a UTF-8 reason. Which codes may be on
// the wire is RFC 6455 7.4.1 and 7.4.2; the decoder uses ParseClosePayload on what it receives
// and the encoder AppendClosePayload on what it sends.
//
// No state: any thread.
#ifndef RINGMQ_PLUGINS_WEBSOCKET_CODEC_CLOSE_FRAME_H
#define RINGMQ_PLUGINS_WEBSOCKET_CODEC_CLOSE_FRAME_H

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "plugins/websocket/codec/frame.h"

namespace ringmq::websocket {

// RFC 6455 7.4: a code that may appear in a Close frame: 1000-1003, 1007-1011 (defined by the
// RFC) and 3000-4999 (libraries and applications). 0-999 and 2000-2999 are unused, 1004 is
// reserved, 1005, 1006 and 1015 are for APIs only and must not be sent. 1012-1014 were
// registered with IANA after the RFC; we keep to the RFC's list.
bool IsValidWireCloseCode(uint16_t code);

// The longest reason that fits: a control payload is at most 125 bytes, 2 of them the code.
constexpr size_t kCloseReasonBytesMax = kControlPayloadBytesMax - 2;

struct CloseFrame {
  CloseCode code = CloseCode::kNoStatus;  // kNoStatus when the payload was empty
  std::string_view reason;                // into the parsed payload; valid UTF-8
};

// Reads a received Close payload into *out. Returns kNone when it is well formed, else the
// code to fail the connection with: kProtocolError for a 1-byte payload or a code not valid on
// the wire, kInvalidPayload for a reason that is not UTF-8 (RFC 6455 8.1).
[[nodiscard]] CloseCode ParseClosePayload(std::span<const uint8_t> payload, CloseFrame* out);

// Appends the payload of a Close frame to send: the code and `reason` cut to
// kCloseReasonBytesMax bytes at a UTF-8 sequence boundary. A code that may not be sent
// (kNoStatus, kAbnormal, ...) gives an empty payload, which the peer reads as kNoStatus: so an
// endpoint echoing a Close that had no code echoes an empty one.
void AppendClosePayload(CloseCode code, std::string_view reason, std::string* out);

}  // namespace ringmq::websocket

#endif  // RINGMQ_PLUGINS_WEBSOCKET_CODEC_CLOSE_FRAME_H
