// One listener as the command line and the config file give it: an address with a scheme.
//   HOST:PORT, mqtt://HOST:PORT, tcp://   plain MQTT
//   ws://HOST:PORT                        MQTT over WebSocket (served by a transport plugin)
//   mqtts://HOST:PORT, wss://HOST:PORT    the same over TLS, with the [tls] settings
// A TLS address may override [tls] settings for itself: mqtts://0.0.0.0:8883?cert=a.pem&key=
// b.pem&client_certs=require (values percent-encoded where they hold '&', '=', '%' or '#').
// A [[listener]] table with a `tls = { ... }` table is turned into that form
// (ListenerAddress), so both routes are checked by the same parser.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

#include "core/net/socket_ops.h"
#include "core/tls/tls_settings.h"

namespace ringmq::config {

struct Listener {
  net::Endpoint endpoint;
  std::string protocol;  // "mqtt" or "websocket"
  bool tls = false;
  tls::TlsSettings tls_settings;  // `defaults` with this listener's overrides (tls only)

  // "mqtt", "mqtts", "websocket", "wss": for logs and the "listening" lines.
  std::string Name() const {
    if (!tls) {
      return protocol;
    }
    return protocol == "mqtt" ? "mqtts" : "wss";
  }
};

// Parses one address; a TLS one starts from `defaults` (and is not checked: Validate does).
absl::StatusOr<Listener> ParseListener(const std::string& text,
                                       const tls::TlsSettings& defaults = {});

// The address text of a listener given in parts: "HOST:PORT" (IPv6 in brackets) with the
// scheme of `protocol` and `tls`, and the TLS overrides (key, value) as a query.
std::string ListenerAddress(std::string_view host_port, std::string_view protocol, bool tls,
                            const std::vector<std::pair<std::string, std::string>>& overrides);

}  // namespace ringmq::config
