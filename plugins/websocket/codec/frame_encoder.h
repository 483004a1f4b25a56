// plugins/websocket/codec/frame_encoder.h: writes WebSocket frames (RFC 6455 5.2).
//
// Server side (the plugin): frames are never masked (5.1). For MQTT data the caller writes a
// header with WriteBinaryHeader / AppendBinaryHeader and then copies or gathers the payload
// after it (one FIN Binary frame per flush; the header is the shortest of 2, 4 or 10 bytes).
// Control frames (Pong, Close, Ping) are written whole by AppendControl / AppendClose.
//
// Client side (the load tool, or tests playing a client): every frame is masked with a key the
// caller picks (5.3: it should be unpredictable, e.g. from a PRNG).
//
// No state: any thread.
#ifndef RINGMQ_PLUGINS_WEBSOCKET_CODEC_FRAME_ENCODER_H
#define RINGMQ_PLUGINS_WEBSOCKET_CODEC_FRAME_ENCODER_H

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "plugins/websocket/codec/frame.h"

namespace ringmq::websocket {

// Whether a data frame ends its message (5.4).
enum class Fin : uint8_t { kMore, kFinal };

// The size of the header WriteBinaryHeader writes: 2 (payload <= 125), 4 (<= 65535) or 10.
size_t BinaryHeaderSize(size_t payload_size);

// Writes the header of an unmasked FIN Binary frame of `payload_size` bytes to `out`, which
// has room for kUnmaskedHeaderBytesMax (10) bytes. Returns the bytes written.
size_t WriteBinaryHeader(size_t payload_size, uint8_t* out);
void AppendBinaryHeader(size_t payload_size, std::string* out);

// Appends an unmasked control frame (Ping, Pong or Close). Returns false, appending nothing,
// when `opcode` is not a control opcode or the payload is over 125 bytes (5.5).
[[nodiscard]] bool AppendControl(Opcode opcode, std::span<const uint8_t> payload, std::string* out);

// Appends an unmasked Close frame: the code in network byte order and `reason` cut to fit in
// 125 bytes (at a UTF-8 boundary). A code that may not be sent (kNoStatus, ...) gives a Close
// frame without a body (close_frame.h).
void AppendClose(CloseCode code, std::string_view reason, std::string* out);

// Client side: appends a masked frame of any opcode (Fin::kMore for all but the last frame of
// a fragmented message). Nothing is checked: tests use it to send invalid frames too.
void AppendMaskedFrame(Opcode opcode, Fin fin, std::span<const uint8_t> payload, const MaskKey& key,
                       std::string* out);

// Client side: a masked Close frame, its body as AppendClose's.
void AppendMaskedClose(CloseCode code, std::string_view reason, const MaskKey& key,
                       std::string* out);

}  // namespace ringmq::websocket

#endif  // RINGMQ_PLUGINS_WEBSOCKET_CODEC_FRAME_ENCODER_H
