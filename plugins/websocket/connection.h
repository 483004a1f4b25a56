// One connection on a WebSocket listener: first HTTP (the upgrade to WebSocket, or requests
// for static files), then WebSocket frames carrying MQTT (RFC 6455, MQTT 5.0 section 6).
// No ABI and no sockets: bytes in, bytes out (plugin.cc moves them to the host's buffers).
//
//   HTTP        the request head is parsed (limits: max_head_bytes, max_headers). An upgrade
//               request is answered by EvaluateUpgrade: 101 moves on to WebSocket, an error
//               answer closes. Another request goes to the static file server (http_root;
//               without one: 404 and close); a kept-alive connection may send the next one
//               after the answer (requests pipelined in one read get one answer and a
//               close: answering all at once would build every response before sending;
//               a request with a body gets 400 and a close).
//               How long this may take is the broker's connect timeout (connect_timeout_s):
//               a connection that has not sent its MQTT CONNECT by then is closed, which also
//               ends a slow sender of headers (slowloris).
//   WebSocket   frames in -> MQTT bytes; Ping -> Pong; Close -> Close echoed, then closed; a
//               protocol error -> Close with its status code, then closed. MQTT bytes out ->
//               one Binary frame per flush. When the broker closes the connection (DISCONNECT,
//               shutdown), a Close 1000 follows the last MQTT bytes.
// A connection is used by one thread at a time (it moves between shards with its client).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "plugins/websocket/codec/frame_decoder.h"
#include "plugins/websocket/codec/http_request.h"
#include "plugins/websocket/settings.h"

namespace ringmq::websocket {

class Connection final : private FrameEvents {
 public:
  enum class Result : uint8_t { kOk, kClose, kCloseAfterWire };

  explicit Connection(std::shared_ptr<const Settings> settings);

  // Bytes read from the socket: MQTT bytes appended to *app, bytes to send to *wire.
  Result Inbound(std::string_view in, std::string* app, std::string* wire);
  // MQTT bytes to send (parts in order, `total` bytes in all), framed: the frame header goes
  // to *header; the parts follow it on the wire unchanged.
  void FrameHeader(size_t total, std::string* header) const;
  // The broker closes the connection: a Close frame, if the WebSocket is open.
  void Closing(std::string* wire);

  bool upgraded() const { return phase_ == Phase::kWebSocket; }
  // Why the last kClose/kCloseAfterWire happened (static text), for the log.
  std::string_view close_reason() const { return close_reason_; }

 private:
  enum class Phase : uint8_t { kHttp, kWebSocket, kClosed };

  Result Http(std::string_view* in, std::string* wire);
  Result Request(const HttpRequest& request, bool pipelined, std::string* wire);
  Result Frames(std::string_view in, std::string* app, std::string* wire);
  void OnPing(std::span<const uint8_t> payload) override;
  void OnClose(CloseCode code, std::string_view reason) override;
  Result Closed(std::string_view why);

  std::shared_ptr<const Settings> settings_;
  Phase phase_ = Phase::kHttp;
  std::unique_ptr<HttpRequestParser> parser_;  // while Phase::kHttp
  std::unique_ptr<FrameDecoder> decoder_;      // from the upgrade on
  std::string* events_wire_ = nullptr;         // where OnPing / OnClose write, during Frames
  std::string_view close_reason_;
};

}  // namespace ringmq::websocket
