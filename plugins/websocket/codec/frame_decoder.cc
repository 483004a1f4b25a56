#include "plugins/websocket/codec/frame_decoder.h"

#include <algorithm>
#include <cstring>

#include "plugins/websocket/codec/close_frame.h"
#include "plugins/websocket/codec/mask.h"

namespace ringmq::websocket {
namespace {

// RFC 6455 5.2, the first two bytes of every frame.
constexpr uint8_t kFinBit = 0x80;
constexpr uint8_t kRsvBits = 0x70;
constexpr uint8_t kOpcodeBits = 0x0F;
constexpr uint8_t kMaskBit = 0x80;
constexpr uint8_t kLength7Bits = 0x7F;
constexpr uint8_t kLength7Is16 = 126;  // a 16-bit length follows
constexpr uint8_t kLength7Is64 = 127;  // a 64-bit length follows

bool IsKnownOpcode(uint8_t op) {
  return op <= static_cast<uint8_t>(Opcode::kBinary) ||
         (op >= static_cast<uint8_t>(Opcode::kClose) && op <= static_cast<uint8_t>(Opcode::kPong));
}

uint64_t ReadBigEndian(const uint8_t* p, size_t size) {
  uint64_t v = 0;
  for (size_t i = 0; i < size; ++i) {
    v = (v << 8) | p[i];
  }
  return v;
}

}  // namespace

FrameDecoder::FrameDecoder(Role role, DecoderLimits limits) : role_(role), limits_(limits) {}

DecodeResult FrameDecoder::Feed(std::span<const uint8_t> in, std::string* app,
                                FrameEvents* events) {
  // Every pass either consumes input, or ends a frame whose header it just read (at least 2
  // bytes), or returns: the loop ends after at most 2 * in.size() + 1 passes.
  while (true) {
    switch (state_) {
      case State::kFailed:
        return error_;
      case State::kClosed:
        return {};  // RFC 6455 5.5.1: nothing may follow a Close; whatever does is dropped
      case State::kHeader: {
        if (header_size_ < 2) {
          in = in.subspan(TakeHeaderBytes(in));
          if (header_size_ < 2) {
            return {};
          }
          if (DecodeResult r = CheckFirstTwoBytes(); !r.ok()) {
            return r;
          }
        }
        in = in.subspan(TakeHeaderBytes(in));
        if (header_size_ < header_needed_) {
          return {};
        }
        if (DecodeResult r = StartFrame(); !r.ok()) {
          return r;
        }
        if (payload_left_ == 0) {
          if (DecodeResult r = EndFrame(events); !r.ok()) {
            return r;
          }
        }
        break;
      }
      case State::kPayload: {
        if (in.empty()) {
          return {};
        }
        in = in.subspan(TakePayload(in, app));
        if (payload_left_ == 0) {
          if (DecodeResult r = EndFrame(events); !r.ok()) {
            return r;
          }
        }
        break;
      }
    }
  }
}

size_t FrameDecoder::TakeHeaderBytes(std::span<const uint8_t> in) {
  const size_t want = (header_size_ < 2 ? 2 : header_needed_) - header_size_;
  const size_t n = std::min(want, in.size());
  std::memcpy(header_.data() + header_size_, in.data(), n);
  header_size_ = static_cast<uint8_t>(header_size_ + n);
  return n;
}

// RFC 6455 5.2 (RSV, opcode, lengths), 5.1 and 5.3 (masking), 5.5 (control frames): all that
// can be judged from the first two bytes, before the length and key have arrived.
DecodeResult FrameDecoder::CheckFirstTwoBytes() {
  const uint8_t b0 = header_[0];
  const uint8_t b1 = header_[1];
  if ((b0 & kRsvBits) != 0) {
    return Fail(CloseCode::kProtocolError, "RSV bits set, but no extension was negotiated");
  }
  if (!IsKnownOpcode(b0 & kOpcodeBits)) {
    return Fail(CloseCode::kProtocolError, "unknown opcode");
  }
  const auto opcode = static_cast<Opcode>(b0 & kOpcodeBits);
  const bool fin = (b0 & kFinBit) != 0;
  const bool masked = (b1 & kMaskBit) != 0;
  const uint8_t length7 = b1 & kLength7Bits;
  if (role_ == Role::kServer && !masked) {
    return Fail(CloseCode::kProtocolError, "client frame not masked");
  }
  if (role_ == Role::kClient && masked) {
    return Fail(CloseCode::kProtocolError, "server frame masked");
  }
  if (IsControl(opcode)) {
    if (!fin) {
      return Fail(CloseCode::kProtocolError, "fragmented control frame");
    }
    if (length7 > kControlPayloadBytesMax) {
      return Fail(CloseCode::kProtocolError, "control frame payload over 125 bytes");
    }
  } else if (DecodeResult r = CheckOpcodeSequence(opcode); !r.ok()) {
    return r;
  }
  opcode_ = opcode;
  fin_ = fin;
  masked_ = masked;
  const size_t length_bytes = length7 == kLength7Is16 ? 2 : (length7 == kLength7Is64 ? 8 : 0);
  header_needed_ = static_cast<uint8_t>(2 + length_bytes + (masked ? sizeof(MaskKey) : 0));
  return {};
}

// RFC 6455 5.4: a message is one Binary frame and the Continuation frames after it, up to the
// one with FIN. MQTT 5.0 6.0: MQTT travels in binary data frames only.
DecodeResult FrameDecoder::CheckOpcodeSequence(Opcode opcode) {
  if (opcode == Opcode::kText) {
    return Fail(CloseCode::kUnsupportedData, "text frame: MQTT over WebSocket is binary only");
  }
  if (opcode == Opcode::kContinuation && !in_message_) {
    return Fail(CloseCode::kProtocolError, "continuation frame outside a message");
  }
  if (opcode == Opcode::kBinary && in_message_) {
    return Fail(CloseCode::kProtocolError, "new data frame inside a fragmented message");
  }
  return {};
}

// The whole header is in header_: read the length (5.2) and key (5.3), check the limits.
DecodeResult FrameDecoder::StartFrame() {
  const uint8_t length7 = header_[1] & kLength7Bits;
  size_t pos = 2;
  uint64_t length = length7;
  if (length7 == kLength7Is16) {
    length = ReadBigEndian(&header_[pos], 2);
    pos += 2;
  } else if (length7 == kLength7Is64) {
    length = ReadBigEndian(&header_[pos], 8);
    pos += 8;
    if ((length >> 63) != 0) {
      return Fail(CloseCode::kProtocolError, "64-bit payload length with its top bit set");
    }
  }
  if (masked_) {
    std::memcpy(key_.data(), &header_[pos], key_.size());
  }
  key_offset_ = 0;
  header_size_ = 0;
  header_needed_ = 2;
  if (!IsControl(opcode_)) {
    if (length > limits_.frame_payload_bytes_max) {
      return Fail(CloseCode::kMessageTooBig, "frame payload over the limit");
    }
    // message_bytes_ <= message_bytes_max always, so the subtraction cannot wrap.
    if (length > limits_.message_bytes_max - message_bytes_) {
      return Fail(CloseCode::kMessageTooBig, "message over the limit");
    }
    message_bytes_ += length;
    in_message_ = true;
  }
  control_size_ = 0;
  payload_left_ = length;
  state_ = State::kPayload;
  return {};
}

size_t FrameDecoder::TakePayload(std::span<const uint8_t> in, std::string* app) {
  const auto n = static_cast<size_t>(std::min<uint64_t>(in.size(), payload_left_));
  uint8_t* dst = nullptr;
  if (IsControl(opcode_)) {
    // payload_left_ <= 125 - control_size_, from CheckFirstTwoBytes.
    dst = control_.data() + control_size_;
    std::memcpy(dst, in.data(), n);
    control_size_ = static_cast<uint8_t>(control_size_ + n);
  } else {
    const size_t old_size = app->size();
    app->append(reinterpret_cast<const char*>(in.data()), n);
    dst = reinterpret_cast<uint8_t*>(app->data()) + old_size;
  }
  if (masked_) {
    key_offset_ = ApplyMask(dst, n, key_, key_offset_);
  }
  payload_left_ -= n;
  return n;
}

DecodeResult FrameDecoder::EndFrame(FrameEvents* events) {
  state_ = State::kHeader;
  if (IsControl(opcode_)) {
    return EndControlFrame(events);
  }
  if (fin_) {
    in_message_ = false;
    message_bytes_ = 0;
  }
  return {};
}

// RFC 6455 5.5.1-5.5.3.
DecodeResult FrameDecoder::EndControlFrame(FrameEvents* events) {
  const std::span<const uint8_t> payload(control_.data(), control_size_);
  switch (opcode_) {
    case Opcode::kPing:
      if (events != nullptr) {
        events->OnPing(payload);
      }
      return {};
    case Opcode::kPong:
      if (events != nullptr) {
        events->OnPong(payload);
      }
      return {};
    default:
      break;
  }
  CloseFrame close;
  const CloseCode error = ParseClosePayload(payload, &close);
  if (error == CloseCode::kInvalidPayload) {
    return Fail(error, "Close reason is not UTF-8");
  }
  if (error != CloseCode::kNone) {
    return Fail(error, "Close payload of 1 byte or with a status code not allowed on the wire");
  }
  state_ = State::kClosed;
  if (events != nullptr) {
    events->OnClose(close.code, close.reason);
  }
  return {};
}

DecodeResult FrameDecoder::Fail(CloseCode code, std::string_view detail) {
  state_ = State::kFailed;
  error_ = DecodeResult{code, detail};
  return error_;
}

}  // namespace ringmq::websocket
