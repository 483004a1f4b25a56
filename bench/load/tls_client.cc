#include "bench/load/tls_client.h"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <utility>

namespace ringmq::bench {
namespace {

bool IsIpAddress(const std::string& host) {
  unsigned char addr[16];
  return inet_pton(AF_INET, host.c_str(), addr) == 1 ||
         inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<tls::TlsContext>> MakeClientTlsContext(const BenchConfig& config) {
  tls::TlsSettings s;
  s.ca = config.tls_ca;
  s.cert = config.tls_cert;
  s.key = config.tls_key;
  // Not CheckTlsSettings: that one is for listeners (a certificate is a must there).
  return tls::TlsContext::Create("ringmq-bench", s, tls::Role::kClient);
}

std::unique_ptr<TlsClientTransport> TlsClientTransport::Create(tls::TlsContext* context,
                                                               const std::string& host) {
  SSL* ssl = context->NewSession();
  if (ssl == nullptr) {
    return nullptr;
  }
  const bool ip = IsIpAddress(host);
  if (!context->settings().ca.empty()) {
    // The chain is verified by the context (SSL_VERIFY_PEER); the name is checked here.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                      : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    if (ok != 1) {
      SSL_free(ssl);
      return nullptr;
    }
  }
  if (!ip) {
    SSL_set_tlsext_host_name(ssl, host.c_str());
  }
  return std::unique_ptr<TlsClientTransport>(new TlsClientTransport(ssl, context));
}

net::Transport::Status TlsClientTransport::OnOutbound(net::OutputQueue* app,
                                                      net::OutputQueue* wire) {
  if (tls_.established()) {
    return tls_.OnOutbound(app, wire);
  }
  while (!app->empty()) {
    const std::span<const uint8_t> front = app->Front();
    held_.Append(front);
    app->Consume(front.size());
  }
  if (started_) {
    return Status::kOk;
  }
  started_ = true;
  return tls_.Start(wire);  // the ClientHello
}

net::Transport::Status TlsClientTransport::OnInbound(std::span<const uint8_t> in, std::string* app,
                                                     net::OutputQueue* wire) {
  const bool was_established = tls_.established();
  const Status st = tls_.OnInbound(in, app, wire);
  if (st != Status::kOk || was_established || !tls_.established()) {
    return st;
  }
  // The handshake just ended: what was written meanwhile goes out now, as records.
  return held_.empty() ? Status::kOk : tls_.OnOutbound(&held_, wire);
}

void TlsClientTransport::OnClosing(net::OutputQueue* wire) {
  tls_.OnClosing(wire);
}

}  // namespace ringmq::bench
