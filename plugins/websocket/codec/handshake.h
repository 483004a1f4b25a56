// plugins/websocket/codec/handshake.h: the server side of the WebSocket opening handshake
// (RFC 6455 4.2) for MQTT over WebSocket (MQTT 5.0 6.0), on a request parsed by
// http_request.h. It decides whether to upgrade and writes the response bytes: the
// 101 Switching Protocols (4.2.2) or an error response that ends the connection.
//
// The checks, in this order (the first that fails gives the response):
//   1. the method is GET (4.1)                                        else 405, "Allow: GET"
//   2. HTTP/1.1 or later (4.1)                                        else 400
//   3. a non-empty Host (4.2.1 item 2)                                else 400
//   4. Upgrade lists the token "websocket" (any case; 4.2.1 item 3)   else 400
//   5. Connection lists the token "upgrade" (any case; 4.2.1 item 4)  else 400
//   6. no body: no Transfer-Encoding, Content-Length absent or 0      else 400
//      (the bytes after the head must be WebSocket frames)
//   7. Sec-WebSocket-Version is 13 (4.2.1 item 6)                     else 426 with
//      "Sec-WebSocket-Version: 13" (4.4)
//   8. Sec-WebSocket-Key decodes (base64) to 16 bytes (4.2.1 item 5)  else 400
//   9. the path is options.path (the query is ignored)                else 404
//  10. Origin, when sent, is in options.allowed_origins, if that is   else 403
//      not empty (4.2.2 item 4; compared ignoring ASCII case). A request without Origin is
//      accepted: browsers always send it (10.2), and any other client could send any value.
//  11. the subprotocol (4.2.2 item 5.4, 11.3.4): the first protocol in the client's
//      Sec-WebSocket-Protocol list that the server supports (so the client's order decides:
//      "mqttv3.1, mqtt" picks "mqttv3.1" when both are supported). A client that offers
//      protocols but none the server supports gets 400: MQTT 5.0 6.0 requires the client to
//      offer "mqtt" [MQTT-6.0.0-3], such a client speaks something else, and a 101 without a
//      protocol would make it fail the connection anyway (4.1). A client that offers none is
//      accepted without the header (lenient; MQTT.js always offers "mqtt").
// Sec-WebSocket-Extensions is ignored: no extension is ever accepted (so RSV bits stay 0).
//
// Routing: IsUpgradeRequest tells a WebSocket upgrade from a plain HTTP request, which the
// plugin hands to its static file server instead of EvaluateUpgrade.
//
// No state: any thread.
#ifndef RINGMQ_PLUGINS_WEBSOCKET_CODEC_HANDSHAKE_H
#define RINGMQ_PLUGINS_WEBSOCKET_CODEC_HANDSHAKE_H

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/websocket/codec/http_request.h"

namespace ringmq::websocket {

struct UpgradeOptions {
  std::string path = "/mqtt";
  std::vector<std::string> allowed_origins;  // empty: any Origin
  // The subprotocols the server supports (compared exactly; RFC 6455 11.3.4 does not fold
  // case). Only membership matters: the client's order picks among them.
  std::vector<std::string> subprotocols = {"mqtt", "mqttv3.1"};
};

struct UpgradeResult {
  bool accepted() const { return status == 101; }

  uint16_t status = 0;      // 101, or the error status
  std::string response;     // the complete response head (and for an error, its short body)
  std::string subprotocol;  // the protocol chosen; empty when none (or on error)
  std::string_view detail;  // on error: why, for the log (static text); the body says it too
};

// A request asking for a WebSocket: its Upgrade header lists "websocket" (any case). Anything
// else is plain HTTP (an Upgrade for another protocol, such as h2c, may be ignored: RFC 9110
// 7.8).
bool IsUpgradeRequest(const HttpRequest& request);

// Runs the checks above on `request` and writes the response.
UpgradeResult EvaluateUpgrade(const HttpRequest& request, const UpgradeOptions& options);

// RFC 6455 4.2.2 item 5.4: base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), by
// OpenSSL's libcrypto. nullopt only if libcrypto fails (e.g. SHA-1 refused by its policy).
std::optional<std::string> ComputeAcceptKey(std::string_view key);

// An error response that closes the connection: status line, "Connection: close",
// "Content-Type: text/plain", "Content-Length", `extra_headers` (whole lines, each ending in
// CRLF), then `detail` and a newline as the body. A 426 also carries "Upgrade: websocket"
// (RFC 9110 15.5.22) and lists "Upgrade" in Connection (RFC 9110 7.8).
std::string ErrorResponse(uint16_t status, std::string_view detail,
                          std::string_view extra_headers = {});
// The response to a request the parser refused.
std::string ErrorResponse(const HttpError& error);

}  // namespace ringmq::websocket

#endif  // RINGMQ_PLUGINS_WEBSOCKET_CODEC_HANDSHAKE_H
