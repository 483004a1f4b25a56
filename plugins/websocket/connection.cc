#include "plugins/websocket/connection.h"

#include <optional>

#include "plugins/websocket/codec/frame_encoder.h"
#include "plugins/websocket/codec/handshake.h"

namespace ringmq::websocket {
namespace {

// HTTP/1.1 keeps the connection unless "Connection: close"; 1.0 only with "keep-alive".
bool KeepAlive(const HttpRequest& r) {
  const std::string_view connection = r.Find("connection").value_or(std::string_view());
  if (r.version_major == 1 && r.version_minor == 0) {
    return HasToken(connection, "keep-alive");
  }
  return !HasToken(connection, "close");
}

bool HasBody(const HttpRequest& r) {
  const std::optional<std::string_view> length = r.Find("content-length");
  return r.Find("transfer-encoding").has_value() || (length.has_value() && *length != "0");
}

}  // namespace

Connection::Connection(std::shared_ptr<const Settings> settings)
    : settings_(std::move(settings)),
      parser_(std::make_unique<HttpRequestParser>(settings_->http)) {}

Connection::Result Connection::Inbound(std::string_view in, std::string* app, std::string* wire) {
  if (phase_ == Phase::kHttp) {
    const Result r = Http(&in, wire);
    if (r != Result::kOk || phase_ != Phase::kWebSocket) {
      return r;
    }
  }
  if (phase_ == Phase::kClosed) {
    return Result::kOk;  // after a Close: the peer may send nothing more (RFC 6455 5.5.1)
  }
  return in.empty() ? Result::kOk : Frames(in, app, wire);
}

// Requests until the input ends, an answer closes, or an upgrade (then *in holds what follows
// the head: the first frames).
Connection::Result Connection::Http(std::string_view* in, std::string* wire) {
  while (!in->empty()) {
    const HttpParseResult p = parser_->Feed(*in);
    if (p.status == HttpParseStatus::kNeedMore) {
      in->remove_prefix(in->size());
      return Result::kOk;
    }
    if (p.status == HttpParseStatus::kError) {
      wire->append(ErrorResponse(p.error));
      return Closed(p.error.detail);
    }
    in->remove_prefix(p.consumed);
    // Requests pipelined behind this one are not read: answering them all here would build
    // every response (files up to file_max_bytes each) before any is sent. Browsers do not
    // pipeline; such a client gets one answer with "Connection: close" and retries.
    const bool pipelined = !in->empty();
    const Result r = Request(parser_->request(), pipelined, wire);
    if (r != Result::kOk || phase_ == Phase::kWebSocket) {
      return r;
    }
    if (pipelined) {
      return Closed("pipelined HTTP requests");
    }
    parser_->Reset();
  }
  return Result::kOk;
}

Connection::Result Connection::Request(const HttpRequest& request, bool pipelined,
                                       std::string* wire) {
  if (IsUpgradeRequest(request)) {
    UpgradeResult u = EvaluateUpgrade(request, settings_->upgrade);
    wire->append(u.response);
    if (!u.accepted()) {
      return Closed(u.detail);
    }
    phase_ = Phase::kWebSocket;
    parser_.reset();
    decoder_ = std::make_unique<FrameDecoder>(Role::kServer, settings_->frames);
    return Result::kOk;
  }
  if (settings_->files == nullptr) {
    wire->append(ErrorResponse(404, "no web content here (the broker has no http_root)"));
    return Closed("a plain HTTP request without http_root");
  }
  if (HasBody(request)) {
    // Not read: its bytes would be taken for the next request (a desync behind a proxy).
    wire->append(ErrorResponse(400, "a request body is not accepted here"));
    return Closed("an HTTP request with a body");
  }
  // The parser joined repeated fields with ", " (RFC 9110 5.3), as StaticRequest wants them.
  http::StaticRequest r;
  r.method = request.method;
  r.target = request.target;
  r.if_none_match = request.Find("if-none-match").value_or(std::string_view());
  r.if_modified_since = request.Find("if-modified-since").value_or(std::string_view());
  r.accept_encoding = request.Find("accept-encoding").value_or(std::string_view());
  r.keep_alive = KeepAlive(request) && !pipelined;
  const http::ServeResult served = settings_->files->Serve(r, wire);
  return served.close_connection ? Closed("HTTP response with Connection: close") : Result::kOk;
}

Connection::Result Connection::Frames(std::string_view in, std::string* app, std::string* wire) {
  events_wire_ = wire;
  const DecodeResult d =
      decoder_->Feed(std::span(reinterpret_cast<const uint8_t*>(in.data()), in.size()), app, this);
  events_wire_ = nullptr;
  if (!d.ok()) {
    AppendClose(d.close_code, d.detail, wire);
    return Closed(d.detail);
  }
  return phase_ == Phase::kClosed ? Result::kCloseAfterWire : Result::kOk;
}

void Connection::OnPing(std::span<const uint8_t> payload) {
  (void)AppendControl(Opcode::kPong, payload, events_wire_);  // <= 125 bytes: cannot fail
}

void Connection::OnClose(CloseCode code, std::string_view reason) {
  (void)reason;
  // Echo the status (RFC 6455 5.5.1); a Close without one is answered without one.
  AppendClose(code, {}, events_wire_);  // kNoStatus: a Close without a body, as it came
  phase_ = Phase::kClosed;
  close_reason_ = "the client closed the WebSocket";
}

Connection::Result Connection::Closed(std::string_view why) {
  phase_ = Phase::kClosed;
  close_reason_ = why;
  return Result::kCloseAfterWire;
}

void Connection::FrameHeader(size_t total, std::string* header) const {
  AppendBinaryHeader(total, header);
}

void Connection::Closing(std::string* wire) {
  if (phase_ == Phase::kWebSocket) {
    AppendClose(CloseCode::kNormal, {}, wire);
    phase_ = Phase::kClosed;
  }
}

}  // namespace ringmq::websocket
