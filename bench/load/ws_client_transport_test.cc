// WsClientTransport against the broker plugin's own codec playing the server: the request is
// parsed by HttpRequestParser and answered by EvaluateUpgrade, the client's frames are
// decoded by a server-role FrameDecoder, and the server's frames are written by the encoder.
#include "bench/load/ws_client_transport.h"

#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "core/mqtt/encoder.h"
#include "core/mqtt/packet_reader.h"
#include "core/net/buffer.h"
#include "plugins/websocket/codec/frame_decoder.h"
#include "plugins/websocket/codec/frame_encoder.h"
#include "plugins/websocket/codec/handshake.h"
#include "plugins/websocket/codec/http_request.h"

namespace ringmq::bench {
namespace {

using Status = net::Transport::Status;
using websocket::CloseCode;
using websocket::Opcode;

constexpr uint64_t kSeed = 42;

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Everything queued, as one string; the queue is left empty.
std::string Drain(net::OutputQueue* q) {
  std::string out;
  while (!q->empty()) {
    const std::span<const uint8_t> f = q->Front();
    out.append(reinterpret_cast<const char*>(f.data()), f.size());
    q->Consume(f.size());
  }
  return out;
}

std::string Publish(std::string_view topic, std::string_view payload, uint16_t packet_id = 0) {
  mqtt::Publish p;
  p.topic = topic;
  p.payload = payload;
  p.qos = packet_id == 0 ? mqtt::Qos::k0 : mqtt::Qos::k1;
  p.packet_id = packet_id;
  std::string out(mqtt::EncodedSize(p, mqtt::ProtocolVersion::kMqtt311), '\0');
  mqtt::Encode(p, mqtt::ProtocolVersion::kMqtt311, reinterpret_cast<uint8_t*>(out.data()));
  return out;
}

// The server's side: parses the request, decodes the client's frames, records control frames.
class Server : public websocket::FrameEvents {
 public:
  // The 101 (or error) answer EvaluateUpgrade gives to the request in `wire`.
  std::string Answer(std::string_view wire, std::string* after_head = nullptr) {
    websocket::HttpRequestParser parser;
    const websocket::HttpParseResult p = parser.Feed(wire);
    EXPECT_EQ(p.status, websocket::HttpParseStatus::kComplete);
    if (after_head != nullptr) {
      *after_head = std::string(wire.substr(p.consumed));
    }
    request = parser.request();
    websocket::UpgradeResult u = websocket::EvaluateUpgrade(request, {});
    EXPECT_TRUE(u.accepted()) << u.response;
    subprotocol = u.subprotocol;
    return u.response;
  }
  // MQTT bytes in the client's frames.
  std::string Decode(std::string_view frames) {
    std::string app;
    const websocket::DecodeResult r = decoder.Feed(Bytes(frames), &app, this);
    EXPECT_TRUE(r.ok()) << r.detail;
    return app;
  }
  void OnPing(std::span<const uint8_t>) override { ++pings; }
  void OnPong(std::span<const uint8_t> payload) override {
    pongs.emplace_back(reinterpret_cast<const char*>(payload.data()), payload.size());
  }
  void OnClose(CloseCode code, std::string_view) override { closes.push_back(code); }

  websocket::HttpRequest request;
  std::string subprotocol;
  websocket::FrameDecoder decoder{websocket::Role::kServer};
  int pings = 0;
  std::vector<std::string> pongs;
  std::vector<CloseCode> closes;
};

std::string BinaryFrame(std::string_view payload) {
  std::string out;
  websocket::AppendBinaryHeader(payload.size(), &out);
  out.append(payload);
  return out;
}

WsClientTransport MakeClient(uint64_t seed = kSeed) {
  return WsClientTransport(WsClientTransport::Options{.host = "127.0.0.1:1883", .seed = seed});
}

// A client whose handshake is done (the CONNECT frame is consumed from the wire).
struct OpenClient {
  OpenClient() : client(MakeClient()) {
    net::OutputQueue app;
    app.Append(Bytes("CONNECT"));
    EXPECT_EQ(client.OnOutbound(&app, &wire), Status::kOk);
    const std::string answer = server.Answer(Drain(&wire));
    std::string to_app;
    EXPECT_EQ(client.OnInbound(Bytes(answer), &to_app, &wire), Status::kOk);
    EXPECT_TRUE(client.open());
    EXPECT_EQ(server.Decode(Drain(&wire)), "CONNECT");
  }
  WsClientTransport client;
  Server server;
  net::OutputQueue wire;
};

TEST(WsClientTransportTest, RequestCarriesTheUpgradeHeadersAndAFreshKey) {
  WsClientTransport a = MakeClient(1);
  WsClientTransport b = MakeClient(2);
  EXPECT_EQ(a.key().size(), 24u);  // base64 of 16 bytes
  EXPECT_NE(a.key(), b.key());
  Server server;
  net::OutputQueue app;
  net::OutputQueue wire;
  app.Append(Bytes("x"));
  ASSERT_EQ(a.OnOutbound(&app, &wire), Status::kOk);
  const std::string request = Drain(&wire);
  EXPECT_EQ(request, a.RequestForTest());  // the request alone: the MQTT bytes are held
  server.Answer(request);
  EXPECT_EQ(server.request.method, "GET");
  EXPECT_EQ(server.request.path, "/mqtt");
  EXPECT_EQ(server.request.Find("host"), "127.0.0.1:1883");
  EXPECT_EQ(server.request.Find("sec-websocket-version"), "13");
  EXPECT_EQ(server.request.Find("sec-websocket-key"), a.key());
  EXPECT_EQ(server.subprotocol, "mqtt");
}

TEST(WsClientTransportTest, HoldsMqttBytesUntilThe101ThenSendsThem) {
  WsClientTransport client = MakeClient();
  Server server;
  net::OutputQueue app;
  net::OutputQueue wire;
  app.Append(Bytes("CONNECT"));
  ASSERT_EQ(client.OnOutbound(&app, &wire), Status::kOk);
  EXPECT_TRUE(app.empty());
  const std::string request = Drain(&wire);
  app.Append(Bytes("PINGREQ"));  // a second flush before the answer: held too
  ASSERT_EQ(client.OnOutbound(&app, &wire), Status::kOk);
  EXPECT_TRUE(wire.empty());
  EXPECT_FALSE(client.open());

  // The answer arrives one byte at a time, the first server frame right behind it.
  const std::string answer = server.Answer(request) + BinaryFrame("CONNACK");
  std::string to_app;
  for (size_t i = 0; i < answer.size(); ++i) {
    ASSERT_EQ(client.OnInbound(Bytes(std::string_view(answer).substr(i, 1)), &to_app, &wire),
              Status::kOk)
        << client.error();
  }
  EXPECT_TRUE(client.open());
  EXPECT_EQ(to_app, "CONNACK");
  EXPECT_EQ(server.Decode(Drain(&wire)), "CONNECTPINGREQ");
}

TEST(WsClientTransportTest, FramesInTheSameReadAsThe101) {
  WsClientTransport client = MakeClient();
  Server server;
  net::OutputQueue app;
  net::OutputQueue wire;
  app.Append(Bytes("CONNECT"));
  ASSERT_EQ(client.OnOutbound(&app, &wire), Status::kOk);
  const std::string answer = server.Answer(Drain(&wire)) + BinaryFrame("CONN") + BinaryFrame("ACK");
  std::string to_app;
  ASSERT_EQ(client.OnInbound(Bytes(answer), &to_app, &wire), Status::kOk) << client.error();
  EXPECT_EQ(to_app, "CONNACK");
}

TEST(WsClientTransportTest, ServerFramesSplitAcrossReadsWithSeveralPacketsEach) {
  OpenClient c;
  // Two frames, each with several MQTT packets; a packet also spans the frame boundary.
  const std::string p1 = Publish("bench/1", std::string(200, 'a'));
  const std::string p2 = Publish("bench/2", "short", 7);
  const std::string p3 = Publish("bench/3", std::string(70000, 'c'));  // 8-byte length
  const std::string mqtt = p1 + p2 + p3 + p1;
  const size_t cut = p1.size() + p2.size() + 100;  // inside p3
  const std::string frames =
      BinaryFrame(std::string_view(mqtt).substr(0, cut)) + BinaryFrame(mqtt.substr(cut));
  for (size_t piece : {1u, 3u, 7u, 1500u}) {
    OpenClient fresh;
    std::string to_app;
    for (size_t at = 0; at < frames.size(); at += piece) {
      std::string out;
      ASSERT_EQ(fresh.client.OnInbound(Bytes(std::string_view(frames).substr(at, piece)), &out,
                                       &fresh.wire),
                Status::kOk)
          << fresh.client.error();
      to_app += out;
    }
    ASSERT_EQ(to_app, mqtt) << "piece " << piece;
    mqtt::PacketReader reader;
    int packets = 0;
    const mqtt::ReadResult r = reader.Read(Bytes(to_app), [&](const mqtt::FixedHeader& h, auto) {
      EXPECT_EQ(h.type, mqtt::PacketType::kPublish);
      ++packets;
      return mqtt::SinkAction::kContinue;
    });
    EXPECT_EQ(r.status, mqtt::ReadStatus::kOk);
    EXPECT_EQ(packets, 4);
  }
}

TEST(WsClientTransportTest, OneMaskedFramePerFlushForEverythingQueued) {
  OpenClient c;
  // A flush's MQTT bytes in several queue segments (small writes and a shared buffer): one
  // frame, byte for byte what the codec's AppendMaskedFrame writes with the same key.
  const std::string p1 = Publish("bench/1", std::string(40, 'x'), 1);
  const std::string p2 = Publish("bench/2", std::string(5000, 'y'), 2);
  const std::string p3 = Publish("bench/3", "z", 3);
  net::OutputQueue app;
  app.Append(Bytes(p1));
  app.AppendShared(net::BufferRef::Adopt(net::Buffer::Copy(Bytes(p2))), 0, p2.size());
  app.Append(Bytes(p3));
  ASSERT_GE(app.segments(), 3u);
  ASSERT_EQ(c.client.OnOutbound(&app, &c.wire), Status::kOk);
  EXPECT_TRUE(app.empty());
  const std::string frame = Drain(&c.wire);
  const std::string mqtt = p1 + p2 + p3;

  // The PRNG's draws: two for the handshake key, one for the CONNECT frame, then this one.
  uint64_t prng = kSeed;
  for (int i = 0; i < 3; ++i) {
    SplitMix64(&prng);
  }
  const uint64_t r = SplitMix64(&prng);
  const websocket::MaskKey key = {static_cast<uint8_t>(r), static_cast<uint8_t>(r >> 8),
                                  static_cast<uint8_t>(r >> 16), static_cast<uint8_t>(r >> 24)};
  std::string expected;
  websocket::AppendMaskedFrame(Opcode::kBinary, websocket::Fin::kFinal, Bytes(mqtt), key,
                               &expected);
  EXPECT_EQ(frame, expected);
  EXPECT_EQ(c.server.Decode(frame), mqtt);
}

TEST(WsClientTransportTest, EachFrameHasItsOwnMaskingKey) {
  OpenClient c;
  std::vector<std::string> keys;
  for (int i = 0; i < 3; ++i) {
    net::OutputQueue app;
    app.Append(Bytes("PINGREQ"));
    ASSERT_EQ(c.client.OnOutbound(&app, &c.wire), Status::kOk);
    const std::string frame = Drain(&c.wire);
    ASSERT_EQ(frame.size(), 2u + 4u + 7u);
    EXPECT_EQ(static_cast<uint8_t>(frame[0]), 0x82);      // FIN, Binary
    EXPECT_EQ(static_cast<uint8_t>(frame[1]), 0x80 | 7);  // MASK, length 7
    keys.push_back(frame.substr(2, 4));
    EXPECT_EQ(c.server.Decode(frame), "PINGREQ");
  }
  EXPECT_NE(keys[0], keys[1]);
  EXPECT_NE(keys[1], keys[2]);
}

TEST(WsClientTransportTest, BadAcceptKeyIsAnError) {
  WsClientTransport client = MakeClient();
  Server server;
  net::OutputQueue app;
  net::OutputQueue wire;
  app.Append(Bytes("CONNECT"));
  ASSERT_EQ(client.OnOutbound(&app, &wire), Status::kOk);
  std::string answer = server.Answer(Drain(&wire));
  const std::string good = *websocket::ComputeAcceptKey(client.key());
  const size_t at = answer.find(good);
  ASSERT_NE(at, std::string::npos);
  answer.replace(at, good.size(), *websocket::ComputeAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="));
  std::string to_app;
  EXPECT_EQ(client.OnInbound(Bytes(answer), &to_app, &wire), Status::kClose);
  EXPECT_FALSE(client.open());
  EXPECT_NE(client.error().find("Sec-WebSocket-Accept"), std::string::npos) << client.error();
  EXPECT_TRUE(wire.empty());  // the held CONNECT never goes out
  EXPECT_TRUE(to_app.empty());
}

// An answer `edit` produced from the valid 101: the client refuses it with an error naming
// `what`.
void ExpectRefused(const std::function<std::string(std::string)>& edit, std::string_view what) {
  WsClientTransport client = MakeClient();
  Server server;
  net::OutputQueue app;
  net::OutputQueue wire;
  app.Append(Bytes("CONNECT"));
  ASSERT_EQ(client.OnOutbound(&app, &wire), Status::kOk);
  const std::string answer = edit(server.Answer(Drain(&wire)));
  std::string to_app;
  EXPECT_EQ(client.OnInbound(Bytes(answer), &to_app, &wire), Status::kClose) << answer;
  EXPECT_NE(client.error().find(what), std::string::npos) << client.error();
  EXPECT_TRUE(wire.empty());
}

std::string Replace(std::string s, std::string_view from, std::string_view to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? s : s.replace(at, from.size(), to);
}

TEST(WsClientTransportTest, RefusedOrMalformedAnswersAreErrors) {
  ExpectRefused([](std::string) { return websocket::ErrorResponse(404, "no such path"); }, "404");
  ExpectRefused([](std::string) { return std::string("SSH-2.0-OpenSSH_9.2\r\n\r\n"); },
                "not an HTTP answer");
  ExpectRefused([](std::string a) { return Replace(a, "Upgrade: websocket", "Upgrade: h2c"); },
                "Upgrade");
  ExpectRefused(
      [](std::string a) { return Replace(a, "Connection: Upgrade", "Connection: keep-alive"); },
      "Connection");
  ExpectRefused(
      [](std::string a) {
        return Replace(a, "Sec-WebSocket-Protocol: mqtt", "Sec-WebSocket-Protocol: mqttv3.1");
      },
      "subprotocol");
  ExpectRefused(
      [](std::string a) {
        return Replace(a, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
      },
      "extensions");
}

TEST(WsClientTransportTest, AnswerWithoutEndIsBounded) {
  WsClientTransport client = MakeClient();
  net::OutputQueue app;
  net::OutputQueue wire;
  app.Append(Bytes("CONNECT"));
  ASSERT_EQ(client.OnOutbound(&app, &wire), Status::kOk);
  const std::string line = "X-Filler: " + std::string(1000, 'f') + "\r\n";
  std::string to_app;
  ASSERT_EQ(client.OnInbound(Bytes("HTTP/1.1 101 Switching Protocols\r\n"), &to_app, &wire),
            Status::kOk);
  Status st = Status::kOk;
  for (int i = 0; i < 100 && st == Status::kOk; ++i) {
    st = client.OnInbound(Bytes(line), &to_app, &wire);
  }
  EXPECT_EQ(st, Status::kClose);
  EXPECT_NE(client.error().find("no end"), std::string::npos) << client.error();
}

TEST(WsClientTransportTest, PingIsAnsweredWithAMaskedPong) {
  OpenClient c;
  std::string frames;
  ASSERT_TRUE(websocket::AppendControl(Opcode::kPing, Bytes("hi"), &frames));
  frames += BinaryFrame("PUBACK");
  std::string to_app;
  ASSERT_EQ(c.client.OnInbound(Bytes(frames), &to_app, &c.wire), Status::kOk);
  EXPECT_EQ(to_app, "PUBACK");
  EXPECT_EQ(c.server.Decode(Drain(&c.wire)), "");  // masked: the server-role decoder takes it
  ASSERT_EQ(c.server.pongs.size(), 1u);
  EXPECT_EQ(c.server.pongs[0], "hi");
}

TEST(WsClientTransportTest, ServerCloseIsEchoedAfterTheBytesBeforeIt) {
  OpenClient c;
  std::string frames = BinaryFrame("DISCONNECT");
  websocket::AppendClose(CloseCode::kNormal, {}, &frames);
  frames += BinaryFrame("ignored");
  std::string to_app;
  ASSERT_EQ(c.client.OnInbound(Bytes(frames), &to_app, &c.wire), Status::kOk);
  EXPECT_EQ(to_app, "DISCONNECT");
  EXPECT_EQ(c.server.Decode(Drain(&c.wire)), "");
  ASSERT_EQ(c.server.closes.size(), 1u);
  EXPECT_EQ(c.server.closes[0], CloseCode::kNormal);
  EXPECT_NE(c.client.error().find("closed the WebSocket"), std::string::npos);
  // No data frame after a Close.
  net::OutputQueue app;
  app.Append(Bytes("PINGREQ"));
  EXPECT_EQ(c.client.OnOutbound(&app, &c.wire), Status::kOk);
  EXPECT_TRUE(app.empty());
  EXPECT_TRUE(c.wire.empty());
}

TEST(WsClientTransportTest, MaskedServerFrameFailsWithProtocolError) {
  OpenClient c;
  std::string frames;
  websocket::AppendMaskedFrame(Opcode::kBinary, websocket::Fin::kFinal, Bytes("x"), {1, 2, 3, 4},
                               &frames);
  std::string to_app;
  EXPECT_EQ(c.client.OnInbound(Bytes(frames), &to_app, &c.wire), Status::kCloseAfterSend);
  EXPECT_EQ(c.server.Decode(Drain(&c.wire)), "");
  ASSERT_EQ(c.server.closes.size(), 1u);
  EXPECT_EQ(c.server.closes[0], CloseCode::kProtocolError);
  EXPECT_NE(c.client.error().find("1002"), std::string::npos) << c.client.error();
}

TEST(WsClientTransportTest, ClosingSendsAMaskedNormalClose) {
  OpenClient c;
  c.client.OnClosing(&c.wire);
  EXPECT_EQ(c.server.Decode(Drain(&c.wire)), "");
  ASSERT_EQ(c.server.closes.size(), 1u);
  EXPECT_EQ(c.server.closes[0], CloseCode::kNormal);
  c.client.OnClosing(&c.wire);  // once only
  EXPECT_TRUE(c.wire.empty());

  // Before the 101 there is nothing to close.
  WsClientTransport early = MakeClient();
  net::OutputQueue wire;
  early.OnClosing(&wire);
  EXPECT_TRUE(wire.empty());
}

}  // namespace
}  // namespace ringmq::bench
