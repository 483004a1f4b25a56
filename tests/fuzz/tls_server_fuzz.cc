// libFuzzer target for the server side of TLS (core/tls/tls_transport.h): arbitrary bytes as
// what a client sends to an mqtts:// listener, handed over in pieces whose sizes the input
// chooses. It must never crash or leak, and (1) no application byte comes out before the
// handshake ended; (2) once the transport answered anything but kOk, every later call answers
// kClose and hands nothing on; (3) nothing is framed for the application before the handshake.
// The seed corpus (corpus/tls_server) holds real ClientHellos (TLS 1.2 and 1.3).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "core/tls/testing/test_pki.h"
#include "core/tls/tls_transport.h"

namespace {

using Status = ringmq::net::Transport::Status;

void Check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

ringmq::tls::TlsContext* Context() {
  static auto* pki = new ringmq::tls::testing::TestPki();
  static ringmq::tls::TlsContext* context = [] {
    ringmq::tls::TlsSettings s;
    s.cert = pki->server_cert();
    s.key = pki->server_key();
    s.ca = pki->ca_path();
    s.client_certs = "request";  // the certificate paths of the handshake too
    auto c = ringmq::tls::TlsContext::Create("fuzz", s);
    Check(c.ok(), "the fuzz context loads");
    return c->release();
  }();
  return context;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ringmq::tls::TlsContext* context = Context();
  ringmq::tls::TlsTransport t(context->NewSession(), context, "fuzz");
  ringmq::net::OutputQueue wire;
  std::string app;
  bool ended = false;
  size_t at = 0;
  while (at < size) {
    // One byte chooses the next piece's size (1..256), the bytes after it are the piece.
    const size_t want = data[at] + 1u;
    ++at;
    const size_t n = std::min(want, size - at);
    const Status st = t.OnInbound({data + at, n}, &app, &wire);
    at += n;
    Check(t.established() || app.empty(), "application bytes before the handshake ended");
    if (ended) {
      Check(st == Status::kClose && app.empty(), "input after the end was looked at");
    }
    ended = ended || st != Status::kOk;
    wire.Clear();
  }
  ringmq::net::OutputQueue out;
  const uint8_t packet[] = {0xd0, 0x00};  // PINGRESP
  out.Append(packet);
  const Status st = t.OnOutbound(&out, &wire);
  Check(out.empty(), "OnOutbound leaves the application queue empty");
  Check(t.established() || wire.empty(), "application bytes framed before the handshake");
  Check(!ended || st != Status::kOk || !wire.empty(), "a failed transport answered kOk");
  return 0;
}
