// TlsSettings: what a TLS listener is told (its certificate, the CA that client certificates
// are verified against, protocol and cipher choices), as text, checked by Check(). The
// defaults are the `[tls]` table of the config file / the --tls-* flags; a listener may
// override any of them (`tls = { ... }` on a [[listener]], or `?key=value` after an
// mqtts:// or wss:// address). No OpenSSL here: the config module reads these.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace ringmq::tls {

struct TlsSettings {
  std::string cert;  // PEM: the server's certificate, then its chain
  std::string key;   // PEM: its private key
  std::string ca;    // PEM: CAs a client certificate is verified against (mTLS)
  // none: no client certificate asked; request: asked, verified when sent; require: a
  // connection without a valid one is refused in the handshake.
  std::string client_certs = "none";
  // none, cn or san: the client certificate's subject CN, or its first DNS/email/URI
  // subject alternative name, replaces the CONNECT's user name (what the ACL plugin sees).
  // Needs client_certs = "require"; a certificate without that field is refused.
  std::string identity_as_username = "none";
  std::string min_version = "1.2";  // 1.2 or 1.3
  // TLS 1.2 cipher list (OpenSSL syntax): forward-secret AEAD only by default.
  std::string ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20";
  std::string ciphersuites;  // TLS 1.3 (OpenSSL syntax); empty: OpenSSL's (all AEAD)
  // auto: hand record processing to the kernel (kTLS) where it offers it; off: never.
  std::string ktls = "auto";

  bool operator==(const TlsSettings&) const = default;
};

// Sets one setting by its key ("cert", "client_certs", ...); an unknown key is an error
// that lists the known ones.
absl::Status SetTlsSetting(TlsSettings* s, std::string_view key, std::string_view value);
// Checks the values (not the files: TlsContext reads them); `where` starts the message.
absl::Status CheckTlsSettings(const TlsSettings& s, std::string_view where);

}  // namespace ringmq::tls
