// TlsTransport: TLS over one connection as a net::Transport (core/net/transport.h). OpenSSL
// works on two memory BIOs, never on the socket: the reactor reads and writes the socket on
// its ring as for any connection, and hands the bytes here on its own thread, so a handshake
// or a record never blocks a shard. Bytes read go into the read BIO; the handshake, then
// SSL_read, turn them into application bytes; what the application wrote in a loop iteration
// is encrypted in records of up to 16 KiB (small packets share a record) and the write BIO's
// output goes to the wire. A failed handshake (plain MQTT on a TLS port, a certificate that
// does not verify) sends OpenSSL's alert and closes; a handshake that never ends is closed by
// the broker's connect timeout. Both are counted in the context's counters.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/net/transport.h"
#include "core/tls/tls_context.h"

typedef struct bio_st BIO;

namespace ringmq::tls {

class TlsTransport : public net::Transport {
 public:
  // Takes `ssl` (from context->NewSession()); `context` outlives the transport. `peer`
  // ("IP:PORT") names the client in the log line of a refused handshake.
  TlsTransport(SSL* ssl, TlsContext* context, std::string peer = "");
  ~TlsTransport() override;

  Status OnInbound(std::span<const uint8_t> in, std::string* app, net::OutputQueue* wire) override;
  Status OnOutbound(net::OutputQueue* app, net::OutputQueue* wire) override;
  void OnClosing(net::OutputQueue* wire) override;
  // The client certificate's subject CN or SAN when the listener uses it as the user name.
  std::string_view PeerIdentity() const override { return identity_; }

  // Client role (tests, the load tool): starts the handshake (the ClientHello on *wire).
  Status Start(net::OutputQueue* wire);
  bool established() const { return established_; }
  // Bytes the two memory BIOs hold allocated (tests: an idle connection keeps a few KiB).
  size_t BufferCapacity() const;
  // The subject CN of the peer's certificate (empty: none), for logs and tests.
  std::string PeerCommonName() const;
  // Why the handshake or the connection failed (OpenSSL's words), for logs and tests.
  const std::string& error() const { return error_; }

 private:
  Status Handshake(net::OutputQueue* wire);
  Status ReadRecords(std::string* app, net::OutputQueue* wire);
  Status Fail(int ret, net::OutputQueue* wire);
  Status Refuse(std::string why);  // a handshake refused before OpenSSL said so
  void LogRefusal() const;
  bool TakeIdentity();
  void Drain(net::OutputQueue* wire);
  void ShrinkBuffers();

  SSL* ssl_;
  BIO* in_;   // owned by ssl_ (replaced by ShrinkBuffers)
  BIO* out_;  // owned by ssl_ (replaced by ShrinkBuffers)
  TlsContext* context_;
  bool started_ = false;  // the first byte was seen
  bool established_ = false;
  bool failed_ = false;  // refused, failed, or ended by the peer's close_notify
  std::string identity_;
  std::string error_;
  std::string peer_;
};

}  // namespace ringmq::tls
