#include "bench/load/ws_client_transport.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"

#include "core/base/strings.h"
#include "plugins/websocket/codec/frame_encoder.h"
#include "plugins/websocket/codec/handshake.h"
#include "plugins/websocket/codec/mask.h"

namespace ringmq::bench {
namespace {

// RFC 6455 5.2: the MASK bit, in the second byte of a frame header.
constexpr uint8_t kMaskBit = 0x80;
// The answer's head is a status line and a few fields; a server that sends more than this
// without an empty line is not answering a WebSocket handshake.
constexpr size_t kResponseHeadBytesMax = 16 * 1024;
// The tool streams frames into the MQTT reader as they arrive, so these bound nothing but a
// corrupt length: far above any flush a broker makes (its output limits are MiBs).
constexpr uint64_t kFrameBytesMax = uint64_t{1} << 32;

// (absl's string helpers take absl::string_view, a type of its own in Debian's Abseil:
// core/base/strings.h. These few are simpler in std.)
char Lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return Lower(x) == Lower(y); });
}

// Without the optional white space around a field value or list item (RFC 9110 5.6.3).
std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// Whether the comma-separated `list` has `token`, ignoring ASCII case (RFC 9110 5.6.1).
bool HasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    if (EqualsIgnoreCase(TrimOws(list.substr(0, comma)), token)) {
      return true;
    }
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  return false;
}

// A line or value of the answer, escaped and cut, for an error message.
std::string Quote(std::string_view line) {
  constexpr size_t kMax = 100;
  return absl::StrFormat("\"%s%s\"", absl::CEscape(base::ToAbsl(line.substr(0, kMax))),
                         line.size() > kMax ? "..." : "");
}

}  // namespace

WsClientTransport::WsClientTransport(Options options)
    : options_(std::move(options)),
      prng_(options_.seed),
      decoder_(websocket::Role::kClient,
               websocket::DecoderLimits{.frame_payload_bytes_max = kFrameBytesMax,
                                        .message_bytes_max = kFrameBytesMax}) {
  // RFC 6455 4.1 item 7: a nonce of 16 random bytes, base64.
  uint8_t nonce[16];
  for (size_t i = 0; i < sizeof nonce; i += 8) {
    const uint64_t r = SplitMix64(&prng_);
    std::memcpy(nonce + i, &r, 8);
  }
  key_ = absl::Base64Escape(absl::string_view(reinterpret_cast<const char*>(nonce), sizeof nonce));
  accept_ = websocket::ComputeAcceptKey(key_).value_or(std::string());
}

std::string WsClientTransport::Request() const {
  return absl::StrFormat(
      "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
      options_.path, options_.host, key_);
}

websocket::MaskKey WsClientTransport::NextMaskKey() {
  const uint64_t r = SplitMix64(&prng_);
  return {static_cast<uint8_t>(r), static_cast<uint8_t>(r >> 8), static_cast<uint8_t>(r >> 16),
          static_cast<uint8_t>(r >> 24)};
}

size_t WsClientTransport::FrameSize(size_t payload_size) {
  return websocket::BinaryHeaderSize(payload_size) + sizeof(websocket::MaskKey) + payload_size;
}

void WsClientTransport::WriteFrame(net::OutputQueue* app, uint8_t* out) {
  // The codec's Binary header (the shortest length encoding, 5.2) with the MASK bit set and
  // the key after it: what AppendMaskedFrame writes, without first gathering the payload into
  // one string (the queue holds it in chunks).
  size_t pos = websocket::WriteBinaryHeader(app->bytes(), out);
  out[1] |= kMaskBit;
  const websocket::MaskKey key = NextMaskKey();
  std::memcpy(out + pos, key.data(), key.size());
  pos += key.size();
  size_t key_offset = 0;
  while (!app->empty()) {
    const std::span<const uint8_t> part = app->Front();
    std::memcpy(out + pos, part.data(), part.size());
    key_offset = websocket::ApplyMask(out + pos, part.size(), key, key_offset);
    pos += part.size();
    app->Consume(part.size());
  }
}

net::Transport::Status WsClientTransport::OnOutbound(net::OutputQueue* app,
                                                     net::OutputQueue* wire) {
  switch (phase_) {
    case Phase::kIdle: {
      const std::string request = Request();
      wire->Append(std::span(reinterpret_cast<const uint8_t*>(request.data()), request.size()));
      phase_ = Phase::kAwaitResponse;
    }
      [[fallthrough]];
    case Phase::kAwaitResponse: {
      // Held until the 101: the server reads HTTP until then.
      const size_t at = held_.size();
      held_.resize(at + FrameSize(app->bytes()));
      WriteFrame(app, reinterpret_cast<uint8_t*>(held_.data()) + at);
      return Status::kOk;
    }
    case Phase::kOpen:
      WriteFrame(app, wire->AppendUninitialized(FrameSize(app->bytes())));
      return Status::kOk;
    case Phase::kClosed:
    case Phase::kFailed:
      break;
  }
  app->Clear();  // after a Close no data frame may follow (5.5.1)
  return Status::kOk;
}

void WsClientTransport::OnClosing(net::OutputQueue* wire) {
  if (phase_ != Phase::kOpen) {
    return;  // before the 101 there is no WebSocket to close; after a Close, nothing more
  }
  scratch_.clear();
  websocket::AppendMaskedClose(websocket::CloseCode::kNormal, {}, NextMaskKey(), &scratch_);
  wire->Append(std::span(reinterpret_cast<const uint8_t*>(scratch_.data()), scratch_.size()));
  phase_ = Phase::kClosed;
}

net::Transport::Status WsClientTransport::OnInbound(std::span<const uint8_t> in, std::string* app,
                                                    net::OutputQueue* wire) {
  switch (phase_) {
    case Phase::kIdle:
      return Fail("the server sent bytes before the WebSocket request");
    case Phase::kAwaitResponse: {
      const Status st = ReadResponse(&in, wire);
      if (st != Status::kOk || phase_ != Phase::kOpen || in.empty()) {
        return st;
      }
      break;  // frames right behind the 101
    }
    case Phase::kOpen:
      break;
    case Phase::kClosed:
      return Status::kOk;  // after a Close the peer sends nothing more (5.5.1): ignored
    case Phase::kFailed:
      return Status::kClose;
  }
  events_wire_ = wire;
  const websocket::DecodeResult r = decoder_.Feed(in, app, this);
  events_wire_ = nullptr;
  if (!r.ok()) {
    // Fail the WebSocket connection (7.1.7): a Close with the decoder's code, then the TCP
    // close. The MQTT bytes of this read are not handed on: the connection is failing anyway.
    scratch_.clear();
    websocket::AppendMaskedClose(r.close_code, r.detail, NextMaskKey(), &scratch_);
    wire->Append(std::span(reinterpret_cast<const uint8_t*>(scratch_.data()), scratch_.size()));
    phase_ = Phase::kFailed;
    error_ =
        absl::StrFormat("WebSocket: %s (closed with %d)", r.detail, static_cast<int>(r.close_code));
    return Status::kCloseAfterSend;
  }
  return Status::kOk;
}

net::Transport::Status WsClientTransport::ReadResponse(std::span<const uint8_t>* in,
                                                       net::OutputQueue* wire) {
  const size_t before = head_.size();
  head_.append(reinterpret_cast<const char*>(in->data()), in->size());
  // The head ends at an empty line (RFC 9112 2.1; a bare LF ends a line too, 2.2).
  const size_t from = before >= 3 ? before - 3 : 0;
  const size_t crlf = head_.find("\n\r\n", from);
  const size_t lf = head_.find("\n\n", from);
  size_t end = std::string::npos;
  if (crlf != std::string::npos && (lf == std::string::npos || crlf < lf)) {
    end = crlf + 3;
  } else if (lf != std::string::npos) {
    end = lf + 2;
  }
  if (end == std::string::npos) {
    *in = {};
    if (head_.size() > kResponseHeadBytesMax) {
      return Fail(absl::StrFormat("no end of the HTTP answer in its first %d bytes",
                                  kResponseHeadBytesMax));
    }
    return Status::kOk;
  }
  *in = in->subspan(end - before);  // what follows the head: frames
  head_.resize(end);
  if (!CheckResponse(head_)) {
    return Status::kClose;
  }
  head_ = std::string();
  phase_ = Phase::kOpen;
  if (!held_.empty()) {
    wire->Append(std::span(reinterpret_cast<const uint8_t*>(held_.data()), held_.size()));
    held_ = std::string();
  }
  return Status::kOk;
}

bool WsClientTransport::CheckResponse(std::string_view head) {
  // RFC 6455 4.1, the client's checks of the server's handshake (items 1-6 of the list after
  // "the client MUST validate the server's response").
  std::string_view rest = head;
  auto next_line = [&rest]() {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    return line;
  };
  const std::string_view status_line = next_line();
  // "HTTP/1.1 101 Switching Protocols": the version, one space, three digits.
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') {
    Fail("not an HTTP answer: " + Quote(status_line));
    return false;
  }
  if (status_line.substr(9, 3) != "101") {
    Fail("the server refused the WebSocket upgrade: " + Quote(status_line));
    return false;
  }
  std::string upgrade, connection, accept, protocol, extensions;
  for (std::string_view line = next_line(); !line.empty(); line = next_line()) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      Fail("malformed header line in the 101: " + Quote(line));
      return false;
    }
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), Lower);
    const std::string_view value = TrimOws(line.substr(colon + 1));
    std::string* field = name == "upgrade"                    ? &upgrade
                         : name == "connection"               ? &connection
                         : name == "sec-websocket-accept"     ? &accept
                         : name == "sec-websocket-protocol"   ? &protocol
                         : name == "sec-websocket-extensions" ? &extensions
                                                              : nullptr;
    if (field != nullptr) {
      // Repeated fields joined (RFC 9110 5.3).
      field->append(field->empty() ? "" : ", ").append(value);
    }
  }
  if (!HasToken(upgrade, "websocket")) {
    Fail("the 101 lacks Upgrade: websocket (Upgrade: " + Quote(upgrade) + ")");
    return false;
  }
  if (!HasToken(connection, "upgrade")) {
    Fail("the 101 lacks Connection: upgrade (Connection: " + Quote(connection) + ")");
    return false;
  }
  if (accept_.empty()) {
    Fail("cannot compute Sec-WebSocket-Accept (libcrypto's SHA-1 failed)");
    return false;
  }
  if (accept != accept_) {
    Fail("wrong Sec-WebSocket-Accept " + Quote(accept) + " for key " + key_ + " (expected " +
         accept_ + ")");
    return false;
  }
  // We offered "mqtt" only: another protocol fails the connection (4.1); none is tolerated
  // (the server then speaks no subprotocol, which MQTT 5.0 6.0 does not allow, but every
  // broker that answers at all speaks MQTT here).
  if (!protocol.empty() && protocol != "mqtt") {
    Fail("the server chose subprotocol " + Quote(protocol) + "; we offered mqtt");
    return false;
  }
  if (!extensions.empty()) {
    Fail("the server chose extensions " + Quote(extensions) + "; we offered none");
    return false;
  }
  return true;
}

net::Transport::Status WsClientTransport::Fail(std::string why) {
  phase_ = Phase::kFailed;
  error_ = std::move(why);
  held_.clear();
  return Status::kClose;
}

void WsClientTransport::OnPing(std::span<const uint8_t> payload) {
  scratch_.clear();
  websocket::AppendMaskedFrame(websocket::Opcode::kPong, websocket::Fin::kFinal, payload,
                               NextMaskKey(), &scratch_);
  events_wire_->Append(
      std::span(reinterpret_cast<const uint8_t*>(scratch_.data()), scratch_.size()));
}

void WsClientTransport::OnClose(websocket::CloseCode code, std::string_view reason) {
  // Echo the status (5.5.1) and leave the TCP close to the server (7.1.1). The MQTT bytes
  // decoded before the Close still reach the tool (Feed returns ok).
  scratch_.clear();
  websocket::AppendMaskedClose(code, {}, NextMaskKey(), &scratch_);
  events_wire_->Append(
      std::span(reinterpret_cast<const uint8_t*>(scratch_.data()), scratch_.size()));
  phase_ = Phase::kClosed;
  error_ = absl::StrFormat("the server closed the WebSocket (%d%s%s)", static_cast<int>(code),
                           reason.empty() ? "" : ": ", absl::CEscape(base::ToAbsl(reason)));
}

}  // namespace ringmq::bench
