#include "core/tls/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ringmq::tls {
namespace {

using CtxPtr = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;

absl::Status Failed(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrFormat("%s: %s", what, TakeOpenSslErrors()));
}

absl::Status SetProtocols(SSL_CTX* ctx, const TlsSettings& s) {
  const int min = s.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (SSL_CTX_set_min_proto_version(ctx, min) != 1) {
    return Failed(absl::StrCat("min_version ", s.min_version));
  }
  if (!s.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, s.ciphers.c_str()) != 1) {
    return Failed(absl::StrCat("ciphers '", s.ciphers, "'"));
  }
  if (!s.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, s.ciphersuites.c_str()) != 1) {
    return Failed(absl::StrCat("ciphersuites '", s.ciphersuites, "'"));
  }
  // No renegotiation (a DoS lever, and TLS 1.3 has none); compression is off by default.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // An idle connection gives its record buffers back: 10,000 idle TLS clients would
  // otherwise hold ~34 KiB each.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  // One TLS 1.3 session ticket per handshake (OpenSSL sends 2): an MQTT client reconnects
  // one connection at a time.
  SSL_CTX_set_num_tickets(ctx, 1);
  return absl::OkStatus();
}

absl::Status LoadServerFiles(SSL_CTX* ctx, const TlsSettings& s) {
  if (SSL_CTX_use_certificate_chain_file(ctx, s.cert.c_str()) != 1) {
    return Failed(absl::StrCat("cert ", s.cert));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, s.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Failed(absl::StrCat("key ", s.key));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Failed(absl::StrFormat("key %s does not match cert %s", s.key, s.cert));
  }
  return absl::OkStatus();
}

absl::Status LoadCa(SSL_CTX* ctx, const TlsSettings& s, Role role) {
  if (s.ca.empty()) {
    return absl::OkStatus();
  }
  if (SSL_CTX_load_verify_locations(ctx, s.ca.c_str(), nullptr) != 1) {
    return Failed(absl::StrCat("ca ", s.ca));
  }
  if (role == Role::kServer) {
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(s.ca.c_str());
    if (names == nullptr) {
      return Failed(absl::StrCat("ca ", s.ca, " (no certificate names)"));
    }
    SSL_CTX_set_client_CA_list(ctx, names);
  }
  return absl::OkStatus();
}

void SetVerify(SSL_CTX* ctx, const TlsSettings& s, Role role) {
  if (role == Role::kClient) {
    SSL_CTX_set_verify(ctx, s.ca.empty() ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
    return;
  }
  int mode = SSL_VERIFY_NONE;
  if (s.client_certs == "request") {
    mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
  } else if (s.client_certs == "require") {
    mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE;
  }
  SSL_CTX_set_verify(ctx, mode, nullptr);
  SSL_CTX_set_verify_depth(ctx, 8);
  // A resumed session keeps the verified client; the id context scopes resumption to ringmq.
  static constexpr unsigned char kSessionContext[] = "ringmq";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
}

absl::StatusOr<CtxPtr> BuildContext(const TlsSettings& s, Role role) {
  CtxPtr ctx(SSL_CTX_new(role == Role::kServer ? TLS_server_method() : TLS_client_method()),
             &SSL_CTX_free);
  if (ctx == nullptr) {
    return Failed("SSL_CTX_new");
  }
  if (absl::Status st = SetProtocols(ctx.get(), s); !st.ok()) {
    return st;
  }
  if (role == Role::kServer || !s.cert.empty()) {
    if (absl::Status st = LoadServerFiles(ctx.get(), s); !st.ok()) {
      return st;
    }
  }
  if (absl::Status st = LoadCa(ctx.get(), s, role); !st.ok()) {
    return st;
  }
  SetVerify(ctx.get(), s, role);
  return ctx;
}

}  // namespace

std::string TakeOpenSslErrors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    absl::StrAppend(&out, out.empty() ? "" : "; ", buf);
  }
  return out.empty() ? std::string("unknown error") : out;
}

absl::StatusOr<std::unique_ptr<TlsContext>> TlsContext::Create(std::string name,
                                                               const TlsSettings& settings,
                                                               Role role) {
  std::unique_ptr<TlsContext> t(new TlsContext(std::move(name), settings, role));
  absl::StatusOr<CtxPtr> ctx = BuildContext(settings, role);
  if (!ctx.ok()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: tls %s", t->name_, ctx.status().message()));
  }
  absl::MutexLock lock(&t->mu_);
  t->ctx_ = ctx->release();
  return t;
}

TlsContext::~TlsContext() {
  absl::MutexLock lock(&mu_);
  SSL_CTX_free(ctx_);
}

SSL* TlsContext::NewSession() {
  SSL* ssl = nullptr;
  {
    absl::MutexLock lock(&mu_);
    ssl = SSL_new(ctx_);  // takes its own reference to ctx_
  }
  if (ssl == nullptr) {
    return nullptr;
  }
  if (role_ == Role::kServer) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
  }
  return ssl;
}

absl::Status TlsContext::Reload() {
  absl::StatusOr<CtxPtr> ctx = BuildContext(settings_, role_);
  if (!ctx.ok()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: tls reload failed, the running certificate stays: %s", name_, ctx.status().message()));
  }
  SSL_CTX* old = nullptr;
  {
    absl::MutexLock lock(&mu_);
    old = std::exchange(ctx_, ctx->release());
  }
  SSL_CTX_free(old);  // connections made with it hold their own references
  TlsCounters::Add(counters_.reloads);
  return absl::OkStatus();
}

}  // namespace ringmq::tls
