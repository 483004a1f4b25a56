#include "plugins/websocket/codec/frame_encoder.h"

#include <cstring>

#include "plugins/websocket/codec/close_frame.h"
#include "plugins/websocket/codec/mask.h"

namespace ringmq::websocket {
namespace {

constexpr uint8_t kFinBit = 0x80;
constexpr uint8_t kMaskBit = 0x80;

// RFC 6455 5.2: the shortest length encoding, which 5.2 requires ("the minimal number of
// bytes MUST be used").
size_t WriteHeader(Opcode opcode, Fin fin, size_t payload_size, const MaskKey* key, uint8_t* out) {
  out[0] = static_cast<uint8_t>((fin == Fin::kFinal ? kFinBit : 0) | static_cast<uint8_t>(opcode));
  const uint8_t mask_bit = key != nullptr ? kMaskBit : 0;
  size_t pos = 2;
  if (payload_size <= 125) {
    out[1] = static_cast<uint8_t>(mask_bit | payload_size);
  } else if (payload_size <= 0xFFFF) {
    out[1] = mask_bit | 126;
    out[2] = static_cast<uint8_t>(payload_size >> 8);
    out[3] = static_cast<uint8_t>(payload_size);
    pos = 4;
  } else {
    out[1] = mask_bit | 127;
    const auto size64 = static_cast<uint64_t>(payload_size);
    for (size_t i = 0; i < 8; ++i) {
      out[2 + i] = static_cast<uint8_t>(size64 >> (56 - 8 * i));
    }
    pos = 10;
  }
  if (key != nullptr) {
    std::memcpy(out + pos, key->data(), key->size());
    pos += key->size();
  }
  return pos;
}

void AppendFrame(Opcode opcode, Fin fin, std::span<const uint8_t> payload, const MaskKey* key,
                 std::string* out) {
  uint8_t header[kFrameHeaderBytesMax];
  const size_t header_size = WriteHeader(opcode, fin, payload.size(), key, header);
  out->append(reinterpret_cast<const char*>(header), header_size);
  const size_t payload_at = out->size();
  out->append(reinterpret_cast<const char*>(payload.data()), payload.size());
  if (key != nullptr) {
    ApplyMask(reinterpret_cast<uint8_t*>(out->data()) + payload_at, payload.size(), *key, 0);
  }
}

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

size_t BinaryHeaderSize(size_t payload_size) {
  if (payload_size <= 125) {
    return 2;
  }
  return payload_size <= 0xFFFF ? 4 : 10;
}

size_t WriteBinaryHeader(size_t payload_size, uint8_t* out) {
  return WriteHeader(Opcode::kBinary, Fin::kFinal, payload_size, nullptr, out);
}

void AppendBinaryHeader(size_t payload_size, std::string* out) {
  uint8_t header[kUnmaskedHeaderBytesMax];
  const size_t size = WriteBinaryHeader(payload_size, header);
  out->append(reinterpret_cast<const char*>(header), size);
}

bool AppendControl(Opcode opcode, std::span<const uint8_t> payload, std::string* out) {
  if (!IsControl(opcode) || payload.size() > kControlPayloadBytesMax) {
    return false;
  }
  AppendFrame(opcode, Fin::kFinal, payload, nullptr, out);
  return true;
}

void AppendClose(CloseCode code, std::string_view reason, std::string* out) {
  std::string body;
  AppendClosePayload(code, reason, &body);
  AppendFrame(Opcode::kClose, Fin::kFinal, AsBytes(body), nullptr, out);
}

void AppendMaskedFrame(Opcode opcode, Fin fin, std::span<const uint8_t> payload, const MaskKey& key,
                       std::string* out) {
  AppendFrame(opcode, fin, payload, &key, out);
}

void AppendMaskedClose(CloseCode code, std::string_view reason, const MaskKey& key,
                       std::string* out) {
  std::string body;
  AppendClosePayload(code, reason, &body);
  AppendFrame(Opcode::kClose, Fin::kFinal, AsBytes(body), &key, out);
}

}  // namespace ringmq::websocket
