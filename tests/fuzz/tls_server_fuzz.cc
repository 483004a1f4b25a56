// libFuzzer target for the server side of TLS (core/tls/tls_transport.h). The first byte picks
// what the input is:
//   even: what a client sends before and during the handshake (raw bytes);
//   odd:  the handshake is first completed with an in-process client (core/tls/testing
//         certificates), then the rest is application data that the client encrypts, in
//         pieces, followed (when the selector's bit 1 is set) by raw bytes as if the records
//         had been tampered with, and (bit 2) by the client's close_notify.
// Pieces: one byte gives the next piece's size (1..256), the bytes after it are the piece.
// It must never crash or leak, and: (1) no application byte comes out before the handshake
// ended; (2) once the transport answered anything but kOk, every later call answers kClose
// and hands nothing on; (3) nothing is framed for the application before the handshake;
// (4) after a real handshake, what the client encrypted comes out unchanged, in order.
// The seed corpus (corpus/tls_server) holds real ClientHellos (TLS 1.2 and 1.3).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/tls/testing/test_pki.h"
#include "core/tls/tls_transport.h"

namespace {

using ringmq::net::OutputQueue;
using ringmq::tls::TlsContext;
using ringmq::tls::TlsTransport;
using Status = ringmq::net::Transport::Status;

void Check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

struct Contexts {
  ringmq::tls::testing::TestPki pki;  // its folder is removed at exit
  std::unique_ptr<TlsContext> server, client;

  Contexts() {
    ringmq::tls::TlsSettings s;
    s.cert = pki.server_cert();
    s.key = pki.server_key();
    s.ca = pki.ca_path();
    s.client_certs = "request";  // the certificate paths of the handshake too
    auto c = TlsContext::Create("fuzz", s);
    Check(c.ok(), "the server context loads");
    server = *std::move(c);
    ringmq::tls::TlsSettings cs;
    cs.ca = pki.ca_path();
    auto cc = TlsContext::Create("fuzz client", cs, ringmq::tls::Role::kClient);
    Check(cc.ok(), "the client context loads");
    client = *std::move(cc);
  }
};

Contexts& Get() {
  static Contexts contexts;
  return contexts;
}

std::vector<uint8_t> Take(OutputQueue* q) {
  std::vector<uint8_t> out;
  while (!q->empty()) {
    const std::span<const uint8_t> f = q->Front();
    out.insert(out.end(), f.begin(), f.end());
    q->Consume(f.size());
  }
  return out;
}

// Feeds `bytes` to the server; checks (1) and (2).
struct Feeder {
  TlsTransport& server;
  std::string app;
  OutputQueue wire;
  bool ended = false;

  void Feed(std::span<const uint8_t> bytes) {
    const size_t before = app.size();
    const Status st = server.OnInbound(bytes, &app, &wire);
    Check(server.established() || app.empty(), "application bytes before the handshake ended");
    if (ended) {
      Check(st == Status::kClose && app.size() == before, "input after the end was looked at");
    }
    ended = ended || st != Status::kOk;
  }
};

bool Handshake(TlsTransport& client, Feeder& f) {
  OutputQueue cw;
  std::string client_app;
  client.Start(&cw);
  for (int round = 0; round < 10 && !client.established(); ++round) {
    f.Feed(Take(&cw));
    client.OnInbound(Take(&f.wire), &client_app, &cw);
  }
  f.Feed(Take(&cw));  // the client's Finished, if the loop ended before it went
  return client.established() && f.server.established();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  Contexts& c = Get();
  TlsTransport server(c.server->NewSession(), c.server.get(), "fuzz");
  Feeder f{server};
  const uint8_t mode = data[0];
  TlsTransport client(c.client->NewSession(), c.client.get(), "fuzz client");
  const bool encrypted = (mode & 1) != 0;
  if (encrypted) {
    Check(Handshake(client, f), "an in-process handshake completes");
  }
  std::string sent;
  for (size_t at = 1; at < size;) {
    const size_t want = data[at] + 1u;
    ++at;
    const size_t n = std::min(want, size - at);
    const std::span<const uint8_t> piece(data + at, n);
    at += n;
    if (!encrypted) {
      f.Feed(piece);
      continue;
    }
    OutputQueue app, cw;
    app.Append(piece);
    sent.append(reinterpret_cast<const char*>(piece.data()), piece.size());
    client.OnOutbound(&app, &cw);
    f.Feed(Take(&cw));
  }
  if (encrypted) {
    Check(f.ended || f.app == sent, "application data comes out unchanged");
    if ((mode & 2) != 0) {
      const uint8_t garbage[] = {0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5};
      f.Feed(garbage);
    }
    if ((mode & 4) != 0) {
      OutputQueue cw;
      client.OnClosing(&cw);
      f.Feed(Take(&cw));
    }
  }
  OutputQueue out, wire;
  const uint8_t packet[] = {0xd0, 0x00};  // PINGRESP
  out.Append(packet);
  const Status st = server.OnOutbound(&out, &wire);
  Check(out.empty(), "OnOutbound leaves the application queue empty");
  Check(server.established() || wire.empty(), "application bytes framed before the handshake");
  Check(!f.ended || st != Status::kOk, "an ended transport framed output");
  return 0;
}
