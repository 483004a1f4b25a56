// TlsTransport and TlsContext between two in-memory peers: the handshake, records both ways,
// small packets sharing a record, plain bytes on a TLS port, client certificates and the
// identity taken from them, a stalled handshake, and a reload.
#include "core/tls/tls_transport.h"

#include <openssl/ssl.h>
#include <sys/uio.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/net/stacked_transport.h"
#include "core/tls/testing/test_pki.h"

namespace ringmq::tls {
namespace {

using Status = net::Transport::Status;

using testing::KeyCert;

std::unique_ptr<KeyCert> Make(const char* cn, const KeyCert* issuer, bool ca,
                              const char* san = nullptr, long valid_s = 3600) {
  return testing::MakeCert(cn, issuer, ca, san, valid_s);
}

// One end of a connection: its transport, what it sends and what it was handed.
struct Peer {
  std::unique_ptr<TlsContext> context;
  std::unique_ptr<TlsTransport> transport;
  net::OutputQueue wire;
  std::string app;
  Status last = Status::kOk;

  explicit Peer(std::unique_ptr<TlsContext> c) : context(std::move(c)) {
    transport = std::make_unique<TlsTransport>(context->NewSession(), context.get());
  }
};

std::vector<uint8_t> Take(net::OutputQueue* q) {
  std::vector<uint8_t> out;
  while (!q->empty()) {
    std::span<const uint8_t> f = q->Front();
    out.insert(out.end(), f.begin(), f.end());
    q->Consume(f.size());
  }
  return out;
}

// Moves bytes both ways until neither side has anything to send.
void Pump(Peer& a, Peer& b) {
  for (int round = 0; round < 20 && (!a.wire.empty() || !b.wire.empty()); ++round) {
    if (!a.wire.empty()) {
      const std::vector<uint8_t> bytes = Take(&a.wire);
      b.last = b.transport->OnInbound(bytes, &b.app, &b.wire);
    }
    if (!b.wire.empty()) {
      const std::vector<uint8_t> bytes = Take(&b.wire);
      a.last = a.transport->OnInbound(bytes, &a.app, &a.wire);
    }
  }
}

class TlsTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = Make("alice", ca_, false, "email:alice@example.com");
    other_ca_ = Make("other CA", nullptr, true);
    stranger_ = Make("mallory", other_ca_.get(), false);
    settings_.cert = files_.server_cert();
    settings_.key = files_.server_key();
    settings_.ca = files_.ca_path();
  }

  std::unique_ptr<TlsContext> Server(const TlsSettings& s) {
    auto c = TlsContext::Create("test listener", s);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }
  std::unique_ptr<TlsContext> Client(const KeyCert* cert, const std::string& ca_path) {
    TlsSettings s;
    s.ca = ca_path;
    if (cert != nullptr) {
      s.cert = files_.Write("client.pem", *cert, false);
      s.key = files_.Write("client.key", *cert, true);
    }
    auto c = TlsContext::Create("test client", s, Role::kClient);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }
  // Connects a client to a server and runs the handshake.
  void Connect(Peer& client, Peer& server) {
    client.last = client.transport->Start(&client.wire);
    Pump(client, server);
  }

  testing::TestPki files_;
  const KeyCert* ca_ = &files_.ca();
  std::unique_ptr<KeyCert> client_, other_ca_, stranger_;
  TlsSettings settings_;
};

TEST_F(TlsTransportTest, HandshakeThenBytesBothWays) {
  Peer server(Server(settings_));
  Peer client(Client(nullptr, settings_.ca));
  Connect(client, server);
  ASSERT_TRUE(server.transport->established()) << server.transport->error();
  ASSERT_TRUE(client.transport->established()) << client.transport->error();
  EXPECT_EQ(server.context->counters().handshakes.load(), 1u);

  net::OutputQueue out;
  const std::string connect = "\x10\x0c\x00\x04MQTT\x05\x02\x00\x3c\x00";
  out.Append(std::span(reinterpret_cast<const uint8_t*>(connect.data()), connect.size()));
  ASSERT_EQ(client.transport->OnOutbound(&out, &client.wire), Status::kOk);
  EXPECT_TRUE(out.empty());
  Pump(client, server);
  EXPECT_EQ(server.app, connect);

  // 300 small packets written in one loop iteration travel in one record.
  net::OutputQueue many;
  std::string expected;
  for (int i = 0; i < 300; ++i) {
    const std::string p = "packet " + std::to_string(i) + ";";
    expected += p;
    many.Append(std::span(reinterpret_cast<const uint8_t*>(p.data()), p.size()));
  }
  ASSERT_EQ(server.transport->OnOutbound(&many, &server.wire), Status::kOk);
  EXPECT_LT(server.wire.bytes(), expected.size() + 64) << "one record's overhead, not 300";
  Pump(client, server);
  EXPECT_EQ(client.app, expected);
}

TEST_F(TlsTransportTest, LargeOutputIsSplitIntoRecords) {
  Peer server(Server(settings_));
  Peer client(Client(nullptr, settings_.ca));
  Connect(client, server);
  std::string big(200'000, 'x');
  for (size_t i = 0; i < big.size(); ++i) {
    big[i] = static_cast<char>('a' + i % 26);
  }
  net::OutputQueue out;
  out.Append(std::span(reinterpret_cast<const uint8_t*>(big.data()), big.size()));
  ASSERT_EQ(server.transport->OnOutbound(&out, &server.wire), Status::kOk);
  Pump(client, server);
  EXPECT_EQ(client.app, big);
  // Neither side keeps the 200 kB it moved.
  EXPECT_LE(server.transport->BufferCapacity(), 8192u);
  EXPECT_LE(client.transport->BufferCapacity(), 8192u);
}

TEST_F(TlsTransportTest, PlainMqttOnATlsPortIsRefusedAndCounted) {
  Peer server(Server(settings_));
  const std::string connect = "\x10\x0c\x00\x04MQTT\x05\x02\x00\x3c\x00";
  const Status st = server.transport->OnInbound(
      std::span(reinterpret_cast<const uint8_t*>(connect.data()), connect.size()), &server.app,
      &server.wire);
  EXPECT_NE(st, Status::kOk);
  EXPECT_TRUE(server.app.empty());
  EXPECT_EQ(server.context->counters().handshake_failures.load(), 1u);
  EXPECT_FALSE(server.transport->error().empty());
  // Anything after the refusal is not looked at.
  EXPECT_EQ(server.transport->OnInbound({}, &server.app, &server.wire), Status::kClose);
}

TEST_F(TlsTransportTest, ClientThatDoesNotTrustTheServerFails) {
  Peer server(Server(settings_));
  Peer client(Client(nullptr, files_.Write("other-ca.pem", *other_ca_, false)));
  Connect(client, server);
  EXPECT_FALSE(client.transport->established());
  EXPECT_NE(client.transport->error().find("certificate verify failed"), std::string::npos)
      << client.transport->error();
}

TEST_F(TlsTransportTest, RequiredClientCertificate) {
  TlsSettings s = settings_;
  s.client_certs = "require";
  {
    Peer server(Server(s));
    Peer client(Client(nullptr, s.ca));
    Connect(client, server);
    EXPECT_FALSE(server.transport->established()) << "no certificate: refused";
    EXPECT_EQ(server.context->counters().handshake_failures.load(), 1u);
  }
  {
    Peer server(Server(s));
    Peer client(Client(stranger_.get(), s.ca));
    Connect(client, server);
    EXPECT_FALSE(server.transport->established()) << "a certificate of another CA: refused";
  }
  {
    Peer server(Server(s));
    Peer client(Client(client_.get(), s.ca));
    Connect(client, server);
    EXPECT_TRUE(server.transport->established()) << server.transport->error();
    EXPECT_TRUE(server.transport->PeerIdentity().empty()) << "identity_as_username none";
  }
}

TEST_F(TlsTransportTest, ExpiredClientCertificateIsRefused) {
  TlsSettings s = settings_;
  s.client_certs = "require";
  auto expired = Make("bob", ca_, false, nullptr, /*valid_s=*/-60);
  Peer server(Server(s));
  Peer client(Client(expired.get(), s.ca));
  Connect(client, server);
  EXPECT_FALSE(server.transport->established());
  EXPECT_NE(server.transport->error().find("expired"), std::string::npos)
      << server.transport->error();
}

TEST_F(TlsTransportTest, IdentityFromCommonNameOrAltName) {
  TlsSettings s = settings_;
  s.client_certs = "require";
  s.identity_as_username = "cn";
  {
    Peer server(Server(s));
    Peer client(Client(client_.get(), s.ca));
    Connect(client, server);
    ASSERT_TRUE(server.transport->established()) << server.transport->error();
    EXPECT_EQ(server.transport->PeerIdentity(), "alice");
  }
  s.identity_as_username = "san";
  {
    Peer server(Server(s));
    Peer client(Client(client_.get(), s.ca));
    Connect(client, server);
    ASSERT_TRUE(server.transport->established()) << server.transport->error();
    EXPECT_EQ(server.transport->PeerIdentity(), "alice@example.com");
  }
  {
    auto no_san = Make("carol", ca_, false);
    Peer server(Server(s));
    Peer client(Client(no_san.get(), s.ca));
    Connect(client, server);
    EXPECT_FALSE(server.transport->established()) << "no SAN to use as the user name";
    EXPECT_EQ(server.context->counters().handshake_failures.load(), 1u);
  }
}

TEST_F(TlsTransportTest, StalledHandshakeIsCountedWhenClosed) {
  auto context = Server(settings_);
  {
    TlsTransport t(context->NewSession(), context.get());
    std::string app;
    net::OutputQueue wire;
    const uint8_t half_record[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
    EXPECT_EQ(t.OnInbound(half_record, &app, &wire), Status::kOk);  // waits for more
  }
  EXPECT_EQ(context->counters().handshakes_unfinished.load(), 1u);
  EXPECT_EQ(context->counters().handshake_failures.load(), 0u);
}

TEST_F(TlsTransportTest, ReloadServesTheNewCertificateToNewHandshakesOnly) {
  Peer server(Server(settings_));
  Peer client(Client(nullptr, settings_.ca));
  Connect(client, server);
  ASSERT_TRUE(client.transport->established());

  auto renewed = Make("localhost-renewed", ca_, false);
  files_.Write("server.pem", *renewed, false);
  files_.Write("server.key", *renewed, true);
  ASSERT_TRUE(server.context->Reload().ok());
  EXPECT_EQ(server.context->counters().reloads.load(), 1u);

  // The old connection still carries bytes.
  net::OutputQueue out;
  const std::string ping = "\xc0\x00";
  out.Append(std::span(reinterpret_cast<const uint8_t*>(ping.data()), ping.size()));
  ASSERT_EQ(client.transport->OnOutbound(&out, &client.wire), Status::kOk);
  Pump(client, server);
  EXPECT_EQ(server.app, ping);

  // A new one sees the new certificate.
  auto next = std::make_unique<TlsTransport>(server.context->NewSession(), server.context.get());
  server.transport.swap(next);
  Peer second(Client(nullptr, settings_.ca));
  Connect(second, server);
  ASSERT_TRUE(second.transport->established()) << second.transport->error();
  EXPECT_EQ(second.transport->PeerCommonName(), "localhost-renewed");
  EXPECT_EQ(client.transport->PeerCommonName(), "localhost");

  // A broken file keeps the running certificate.
  FILE* f = std::fopen(settings_.cert.c_str(), "w");
  std::fputs("not a certificate\n", f);
  std::fclose(f);
  EXPECT_FALSE(server.context->Reload().ok());
  EXPECT_EQ(server.context->counters().reloads.load(), 1u);
}

// An inner transport like WebSocket's: hands bytes on and answers each read (a pong).
class AnsweringTransport : public net::Transport {
 public:
  Status OnInbound(std::span<const uint8_t> in, std::string* app, net::OutputQueue* wire) override {
    app->append(reinterpret_cast<const char*>(in.data()), in.size());
    const uint8_t pong[] = {'p', 'o', 'n', 'g'};
    wire->Append(pong);
    return Status::kOk;
  }
  Status OnOutbound(net::OutputQueue* app, net::OutputQueue* wire) override {
    while (!app->empty()) {
      wire->Append(app->Front());
      app->Consume(app->Front().size());
    }
    return Status::kOk;
  }
};

// wss://: the client's last message and its TLS close_notify in one read. The message still
// reaches the application (a DISCONNECT must not be lost), and the connection closes after
// sending what it has (the close_notify answer), not at once.
TEST_F(TlsTransportTest, StackedCloseNotifyAfterDataKeepsTheData) {
  auto server_context = Server(settings_);
  net::StackedTransport server(
      std::make_unique<TlsTransport>(server_context->NewSession(), server_context.get()),
      std::make_unique<AnsweringTransport>());
  Peer client(Client(nullptr, settings_.ca));
  ASSERT_EQ(client.transport->Start(&client.wire), Status::kOk);
  net::OutputQueue server_wire;
  std::string server_app;
  for (int round = 0; round < 10 && !client.transport->established(); ++round) {
    const std::vector<uint8_t> hello = Take(&client.wire);
    ASSERT_EQ(server.OnInbound(hello, &server_app, &server_wire), Status::kOk);
    const std::vector<uint8_t> answer = Take(&server_wire);
    client.last = client.transport->OnInbound(answer, &client.app, &client.wire);
  }
  ASSERT_TRUE(client.transport->established());
  net::OutputQueue out;
  const uint8_t disconnect[] = {0xe0, 0x00};
  out.Append(disconnect);
  ASSERT_EQ(client.transport->OnOutbound(&out, &client.wire), Status::kOk);
  client.transport->OnClosing(&client.wire);  // close_notify in the same read
  const std::vector<uint8_t> last = Take(&client.wire);
  const Status st = server.OnInbound(last, &server_app, &server_wire);
  EXPECT_EQ(st, Status::kCloseAfterSend);
  EXPECT_EQ(server_app, std::string("\xe0\x00", 2));
  EXPECT_EQ(server.OnInbound({}, &server_app, &server_wire), Status::kClose);
}

}  // namespace
}  // namespace ringmq::tls
