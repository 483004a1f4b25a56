// plugins/websocket/codec/frame_decoder.h: an incremental decoder of WebSocket frames (RFC 6455
// section 5) for MQTT over WebSocket (MQTT 5.0 section 6): bytes in as they are read from the
// socket, in pieces of any size; MQTT bytes out as they are unmasked, control frames as events.
//
// Data flow. Feed() walks the input frame by frame. The payload of a binary message (a Binary
// frame and its Continuation frames, 5.4) is unmasked (5.3) and appended to the caller's string
// as it arrives: nothing waits for the end of a frame or of a message, because WebSocket frames
// and MQTT packets are unrelated (an MQTT packet may span frames, a frame may hold several
// packets; MQTT 5.0 6.0) and the MQTT decoder reassembles packets itself. The decoder still
// counts each message's size against its limit. Control frames (5.5: Close, Ping, Pong; they
// may come between the fragments of a message, 5.4) are collected (at most 125 bytes) and
// reported whole through FrameEvents. The bytes of a header cut by the end of a read wait in
// the decoder (at most 14).
//
// What fails the connection (the DecodeResult carries the close code to send, 7.4.1):
//   1002 kProtocolError   RSV bits set (no extension is ever negotiated, 5.2); an unknown
//                         opcode (5.2); a client frame without MASK or a server frame with it
//                         (5.1, 5.3); a control frame without FIN or with more than 125 bytes
//                         (5.5); a 64-bit length with its top bit set (5.2); a Continuation
//                         outside a message or a Binary frame inside one (5.4); a Close frame
//                         with a 1-byte payload or a status code not allowed on the wire (7.4)
//   1003 kUnsupportedData a Text frame: MQTT over WebSocket is binary only (MQTT 5.0 6.0)
//   1007 kInvalidPayload  a Close reason that is not UTF-8 (5.5.1, 8.1)
//   1009 kMessageTooBig   a frame or a message over the limits (checked from the header, before
//                         any of its payload is read)
// An error is final: every later Feed returns it again. After a valid Close frame the decoder
// ignores what follows (the peer may send nothing more, 5.5.1); the caller answers the Close.
//
// Threads: one decoder per connection, used by one thread at a time (shard-local in the plugin).
// Feed does not allocate beyond appending to the caller's string.
#ifndef RINGMQ_PLUGINS_WEBSOCKET_CODEC_FRAME_DECODER_H
#define RINGMQ_PLUGINS_WEBSOCKET_CODEC_FRAME_DECODER_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "plugins/websocket/codec/frame.h"

namespace ringmq::websocket {

struct DecoderLimits {
  // The largest payload of one data frame.
  uint64_t frame_payload_bytes_max = uint64_t{1} << 20;
  // The largest data message (the sum of its frames' payloads). The MQTT layer keeps its own
  // maximum packet size; this bounds only how long one WebSocket message may run.
  uint64_t message_bytes_max = uint64_t{256} << 20;
};

// What the decoder reports besides MQTT bytes. Each call comes from inside Feed, in the order
// of the frames; the payload and reason views are valid only during the call.
class FrameEvents {
 public:
  virtual ~FrameEvents() = default;
  // A Ping (5.5.2): answer with a Pong carrying the same payload (AppendControl).
  virtual void OnPing(std::span<const uint8_t> payload) = 0;
  // A Pong (5.5.3): nothing to do unless a Ping of ours is outstanding.
  virtual void OnPong(std::span<const uint8_t> payload) { (void)payload; }
  // A valid Close (5.5.1): `code` is kNoStatus when the frame had no body. Answer with a Close
  // (AppendClose with the same code is the usual echo) and close the TCP connection once it is
  // sent (7.1.1). The decoder ignores all input after this call.
  virtual void OnClose(CloseCode code, std::string_view reason) = 0;
};

struct [[nodiscard]] DecodeResult {
  bool ok() const { return close_code == CloseCode::kNone; }

  CloseCode close_code = CloseCode::kNone;  // when !ok(): the code of the Close frame to send
  std::string_view detail;                  // when !ok(): why, for the log (static text)
};

class FrameDecoder {
 public:
  // `role`: kServer decodes client frames (masked), kClient decodes server frames (unmasked).
  explicit FrameDecoder(Role role, DecoderLimits limits = {});

  FrameDecoder(const FrameDecoder&) = delete;
  FrameDecoder& operator=(const FrameDecoder&) = delete;

  // Decodes all of `in`. MQTT bytes are appended to *app (unmasked); control frames are
  // reported to *events (may be nullptr to ignore them). On error, *app holds the payload of
  // the frames before the one at fault (and of that frame, up to the point it failed).
  DecodeResult Feed(std::span<const uint8_t> in, std::string* app, FrameEvents* events);

  // A valid Close frame has been received (OnClose was called).
  bool close_received() const { return state_ == State::kClosed; }
  // A data message has started and its final frame has not ended yet.
  bool in_message() const { return in_message_; }

 private:
  enum class State : uint8_t { kHeader, kPayload, kClosed, kFailed };

  size_t TakeHeaderBytes(std::span<const uint8_t> in);
  DecodeResult CheckFirstTwoBytes();
  DecodeResult CheckOpcodeSequence(Opcode opcode);
  DecodeResult StartFrame();
  size_t TakePayload(std::span<const uint8_t> in, std::string* app);
  DecodeResult EndFrame(FrameEvents* events);
  DecodeResult EndControlFrame(FrameEvents* events);
  DecodeResult Fail(CloseCode code, std::string_view detail);

  const Role role_;
  const DecoderLimits limits_;
  State state_ = State::kHeader;
  DecodeResult error_;  // when state_ == kFailed

  // The header being read: header_size_ bytes of header_needed_ (2 until the second byte says
  // how long the length and the key are).
  std::array<uint8_t, kFrameHeaderBytesMax> header_{};
  uint8_t header_size_ = 0;
  uint8_t header_needed_ = 2;

  // The frame whose payload is being read.
  Opcode opcode_ = Opcode::kBinary;
  bool fin_ = false;
  bool masked_ = false;
  MaskKey key_{};
  size_t key_offset_ = 0;
  uint64_t payload_left_ = 0;

  // The data message in progress, and the payload of a control frame (whole before it is
  // reported).
  bool in_message_ = false;
  uint64_t message_bytes_ = 0;
  std::array<uint8_t, kControlPayloadBytesMax> control_{};
  uint8_t control_size_ = 0;
};

}  // namespace ringmq::websocket

#endif  // RINGMQ_PLUGINS_WEBSOCKET_CODEC_FRAME_DECODER_H
