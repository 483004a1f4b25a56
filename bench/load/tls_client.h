// TLS for ringmq-bench --transport tls|wss: the client side of core/tls under each of the tool's
// connections. Shard-local like every transport (the context is shared: OpenSSL's SSL_CTX is
// made for that, and TlsContext::NewSession takes its lock only to make an SSL).
//
// TlsClientTransport wraps tls::TlsTransport (client role) for a client that writes first:
//   1. the first flush after the TCP connect (the tool's CONNECT, or under wss the WebSocket
//      upgrade request) starts the handshake, so the ClientHello goes out then; the bytes of
//      that flush, and of any flush until the handshake ends, are held back (TlsTransport
//      drops application bytes before the handshake ends);
//   2. when the server's Finished arrives (OnInbound), the held bytes go out as records in the
//      same turn; from then on every flush becomes records (TlsTransport: small writes share
//      a record);
//   3. closing sends close_notify (TlsTransport).
// Every connection makes a full handshake: no session is kept for resumption, so a run of the
// handshake scenario measures what a storm of new clients costs.
//
// With --tls-ca the server's certificate must chain to that CA and name the address dialled
// (--host: an IP address must be in its subjectAltName iPAddress entries, a DNS name in its
// dNSName entries, and is also sent as SNI); without it nothing is verified (as
// `mosquitto_pub --insecure` without a CA would not even connect: say what you measure).
#pragma once

#include <memory>
#include <span>
#include <string>

#include "absl/status/statusor.h"

#include "bench/load/config.h"
#include "core/net/output_queue.h"
#include "core/net/transport.h"
#include "core/tls/tls_context.h"
#include "core/tls/tls_transport.h"

namespace ringmq::bench {

// The client context of --tls-ca, --tls-cert and --tls-key; an error names the file that
// could not be used.
absl::StatusOr<std::unique_ptr<tls::TlsContext>> MakeClientTlsContext(const BenchConfig& config);

class TlsClientTransport final : public net::Transport {
 public:
  // `context` outlives the transport; `host` is what the certificate must name (see above).
  // Null when OpenSSL has no memory for a session.
  static std::unique_ptr<TlsClientTransport> Create(tls::TlsContext* context,
                                                    const std::string& host);

  Status OnInbound(std::span<const uint8_t> in, std::string* app, net::OutputQueue* wire) override;
  Status OnOutbound(net::OutputQueue* app, net::OutputQueue* wire) override;
  void OnClosing(net::OutputQueue* wire) override;

  bool established() const { return tls_.established(); }
  // The ClientHello went out and the handshake has not ended.
  bool handshaking() const { return started_ && !tls_.established(); }
  // Why the handshake or the connection failed (OpenSSL's words); empty while all is well.
  const std::string& error() const { return tls_.error(); }

 private:
  TlsClientTransport(SSL* ssl, tls::TlsContext* context) : tls_(ssl, context) {}
  tls::TlsTransport tls_;
  net::OutputQueue held_;  // written before the handshake ended
  bool started_ = false;
};

}  // namespace ringmq::bench
