#include "plugins/websocket/codec/close_frame.h"

#include "plugins/websocket/codec/utf8.h"

namespace ringmq::websocket {

bool IsValidWireCloseCode(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
         (code >= 3000 && code <= 4999);
}

CloseCode ParseClosePayload(std::span<const uint8_t> payload, CloseFrame* out) {
  *out = CloseFrame{};
  if (payload.empty()) {
    return CloseCode::kNone;
  }
  if (payload.size() == 1) {
    return CloseCode::kProtocolError;  // half a status code
  }
  const auto code = static_cast<uint16_t>((payload[0] << 8) | payload[1]);
  if (!IsValidWireCloseCode(code)) {
    return CloseCode::kProtocolError;
  }
  const std::string_view reason(reinterpret_cast<const char*>(payload.data()) + 2,
                                payload.size() - 2);
  if (!IsValidUtf8(reason)) {
    return CloseCode::kInvalidPayload;
  }
  out->code = static_cast<CloseCode>(code);
  out->reason = reason;
  return CloseCode::kNone;
}

void AppendClosePayload(CloseCode code, std::string_view reason, std::string* out) {
  const auto value = static_cast<uint16_t>(code);
  if (!IsValidWireCloseCode(value)) {
    return;
  }
  out->push_back(static_cast<char>(value >> 8));
  out->push_back(static_cast<char>(value & 0xFF));
  out->append(Utf8Prefix(reason, kCloseReasonBytesMax));
}

}  // namespace ringmq::websocket
