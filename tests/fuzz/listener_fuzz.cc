// libFuzzer target for listener addresses as --listen gives them (core/config/listener.h):
// HOST:PORT with a scheme and, for TLS ones, key=value settings after '?', percent-encoded. It
// must never crash, and (1) an error is InvalidArgument starting "listen "; (2) settings are
// only accepted on TLS listeners; (3) without them a listener has the default settings; (4) an
// accepted TLS listener, written back with ListenerAddress (every setting percent-encoded),
// parses again to the same settings and protocol.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/config/listener.h"

namespace {

void Check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ringmq::config::Listener> l = ringmq::config::ParseListener(text);
  if (!l.ok()) {
    Check(l.status().code() == absl::StatusCode::kInvalidArgument, "error is InvalidArgument");
    Check(l.status().message().substr(0, 7) == "listen ", "error starts with 'listen '");
    return 0;
  }
  const bool query = text.find('?') != std::string::npos;
  Check(!query || l->tls, "settings accepted on a plain listener");
  Check(l->protocol == "mqtt" || l->protocol == "websocket", "a known protocol");
  if (!query) {
    Check(l->tls_settings == ringmq::tls::TlsSettings{}, "settings without a query");
  }
  // Every setting written out percent-encoded parses back to itself.
  const ringmq::tls::TlsSettings& s = l->tls_settings;
  if (l->tls) {
    const std::string again =
        ringmq::config::ListenerAddress(l->endpoint.ToString(), l->protocol, true,
                                        {{"cert", s.cert},
                                         {"key", s.key},
                                         {"ca", s.ca},
                                         {"client_certs", s.client_certs},
                                         {"identity_as_username", s.identity_as_username},
                                         {"min_version", s.min_version},
                                         {"ciphers", s.ciphers},
                                         {"ciphersuites", s.ciphersuites},
                                         {"ktls", s.ktls}});
    absl::StatusOr<ringmq::config::Listener> back = ringmq::config::ParseListener(again);
    Check(back.ok(), "a written-out TLS listener parses");
    Check(back->tls_settings == s, "settings round trip");
    Check(back->protocol == l->protocol, "protocol round trip");
  }
  return 0;
}
