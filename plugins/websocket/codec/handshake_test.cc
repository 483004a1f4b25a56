#include "plugins/websocket/codec/handshake.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "plugins/websocket/codec/frame_decoder.h"
#include "plugins/websocket/codec/frame_encoder.h"

namespace ringmq::websocket {
namespace {

// The request of RFC 6455 1.2/1.3, without Origin and with the MQTT protocol.
constexpr std::string_view kRfcKey = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view kRfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// Header lines of a valid upgrade; tests replace or drop one.
struct Request {
  std::string request_line = "GET /mqtt HTTP/1.1";
  std::vector<std::string> headers = {
      "Host: broker.example:8083", "Upgrade: websocket",
      "Connection: Upgrade",       "Sec-WebSocket-Key: " + std::string(kRfcKey),
      "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: mqtt",
  };

  Request& Drop(std::string_view name) {
    std::erase_if(headers, [&](const std::string& h) { return h.starts_with(name); });
    return *this;
  }
  Request& Set(std::string_view name, std::string_view value) {
    Drop(name);
    headers.push_back(std::string(name) + ": " + std::string(value));
    return *this;
  }
  Request& Add(std::string line) {
    headers.push_back(std::move(line));
    return *this;
  }
  std::string Wire() const {
    std::string out = request_line + "\r\n";
    for (const std::string& h : headers) {
      out += h + "\r\n";
    }
    return out + "\r\n";
  }
};

HttpRequest ParseOrDie(std::string_view wire) {
  HttpRequestParser p;
  const HttpParseResult r = p.Feed(wire);
  EXPECT_EQ(r.status, HttpParseStatus::kComplete) << wire;
  return p.request();
}

UpgradeResult Evaluate(const Request& r, const UpgradeOptions& options = {}) {
  return EvaluateUpgrade(ParseOrDie(r.Wire()), options);
}

std::string Header(const UpgradeResult& r, std::string_view name) {
  const std::string key = "\r\n" + std::string(name) + ": ";
  const size_t at = r.response.find(key);
  if (at == std::string::npos) {
    return "(none)";
  }
  const size_t begin = at + key.size();
  return r.response.substr(begin, r.response.find("\r\n", begin) - begin);
}

TEST(HandshakeTest, AcceptKeyOfTheRfcExample) {
  EXPECT_EQ(ComputeAcceptKey(kRfcKey), kRfcAccept);
  EXPECT_EQ(ComputeAcceptKey("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

TEST(HandshakeTest, AcceptsAnUpgrade) {
  const UpgradeResult r = Evaluate(Request{});
  ASSERT_TRUE(r.accepted()) << r.response;
  EXPECT_EQ(r.subprotocol, "mqtt");
  EXPECT_EQ(r.response,
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "Sec-WebSocket-Protocol: mqtt\r\n"
            "\r\n");
  EXPECT_TRUE(r.detail.empty());
}

TEST(HandshakeTest, AcceptsWhatBrowsersSend) {
  // Firefox: "Connection: keep-alive, Upgrade"; both offer permessage-deflate, which is not
  // accepted (no Sec-WebSocket-Extensions in the answer).
  Request firefox;
  firefox.Set("Connection", "keep-alive, Upgrade")
      .Add("Origin: http://localhost:3000")
      .Add("Sec-WebSocket-Extensions: permessage-deflate")
      .Add("User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0")
      .Add("Pragma: no-cache");
  const UpgradeResult r = Evaluate(firefox);
  ASSERT_TRUE(r.accepted()) << r.response;
  EXPECT_EQ(Header(r, "Sec-WebSocket-Extensions"), "(none)");
  EXPECT_EQ(Header(r, "Sec-WebSocket-Accept"), kRfcAccept);
}

TEST(HandshakeTest, NamesAndTokensIgnoreCase) {
  Request r;
  r.headers = {
      "HOST: h",
      "upgrade: WebSocket",
      "CONNECTION: UPGRADE",
      "sec-websocket-key: " + std::string(kRfcKey),
      "SEC-WEBSOCKET-VERSION: 13",
  };
  const UpgradeResult result = Evaluate(r);
  ASSERT_TRUE(result.accepted()) << result.response;
  EXPECT_EQ(result.subprotocol, "");
  EXPECT_EQ(Header(result, "Sec-WebSocket-Protocol"), "(none)");  // none offered
}

TEST(HandshakeTest, MethodOtherThanGetIs405) {
  Request r;
  r.request_line = "POST /mqtt HTTP/1.1";
  const UpgradeResult result = Evaluate(r);
  EXPECT_EQ(result.status, 405);
  EXPECT_EQ(Header(result, "Allow"), "GET");
  r.request_line = "get /mqtt HTTP/1.1";  // methods are case-sensitive
  EXPECT_EQ(Evaluate(r).status, 405);
}

TEST(HandshakeTest, Http10Is400) {
  Request r;
  r.request_line = "GET /mqtt HTTP/1.0";
  EXPECT_EQ(Evaluate(r).status, 400);
}

TEST(HandshakeTest, MissingHostIs400) {
  EXPECT_EQ(Evaluate(Request{}.Drop("Host")).status, 400);
  EXPECT_EQ(Evaluate(Request{}.Set("Host", "")).status, 400);
}

TEST(HandshakeTest, NoUpgradeHeaderIs400AndNotAnUpgradeRequest) {
  const Request r = Request{}.Drop("Upgrade");
  EXPECT_FALSE(IsUpgradeRequest(ParseOrDie(r.Wire())));
  const UpgradeResult result = Evaluate(r);
  EXPECT_EQ(result.status, 400);
  EXPECT_NE(result.response.find("Upgrade: websocket"), std::string::npos);  // in the body
  EXPECT_EQ(Evaluate(Request{}.Set("Upgrade", "h2c")).status, 400);
}

TEST(HandshakeTest, ConnectionWithoutUpgradeIs400) {
  EXPECT_EQ(Evaluate(Request{}.Set("Connection", "keep-alive")).status, 400);
  EXPECT_EQ(Evaluate(Request{}.Drop("Connection")).status, 400);
}

TEST(HandshakeTest, BodyIs400) {
  EXPECT_EQ(Evaluate(Request{}.Add("Content-Length: 5")).status, 400);
  EXPECT_EQ(Evaluate(Request{}.Add("Transfer-Encoding: chunked")).status, 400);
  EXPECT_TRUE(Evaluate(Request{}.Add("Content-Length: 0")).accepted());
}

TEST(HandshakeTest, WrongVersionIs426WithTheVersionWeSpeak) {
  for (std::string_view v : {"8", "12", "13, 8", ""}) {
    const UpgradeResult r = Evaluate(Request{}.Set("Sec-WebSocket-Version", v));
    EXPECT_EQ(r.status, 426) << v;
    EXPECT_EQ(Header(r, "Sec-WebSocket-Version"), "13");
    EXPECT_EQ(Header(r, "Upgrade"), "websocket");
    EXPECT_EQ(Header(r, "Connection"), "Upgrade, close");
    EXPECT_TRUE(r.response.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
  }
  EXPECT_EQ(Evaluate(Request{}.Drop("Sec-WebSocket-Version")).status, 426);
}

TEST(HandshakeTest, BadKeyIs400) {
  EXPECT_EQ(Evaluate(Request{}.Drop("Sec-WebSocket-Key")).status, 400);
  for (std::string_view key : {
           "",
           "dGhlIHNhbXBsZSBub25jZQ",    // no padding
           "dGhlIHNhbXBsZSBub25jZQ=",   // 23 characters
           "dGhlIHNhbXBsZSBub25jZSE=",  // 17 bytes
           "dGhlIHNhbXBsZSBub25j",      // 15 bytes
           "dGhlIHNhbXBsZSBub25jZQ==AAAA",
           "dGhlIHNhbXBsZSBub25j*Q==",  // not base64
           "dGhlIHNhbX Bsbub25jZQ==", "dGhlIHNhbXBsZSBub2=jZQ==", "c2l4dGVlbiBieXRlcyBrZXk=",
           "dGhlIHNhbXBs ZBub25jZQ==",  // whitespace inside  // 17 bytes ("sixteen bytes key")
       }) {
    EXPECT_EQ(Evaluate(Request{}.Set("Sec-WebSocket-Key", key)).status, 400) << key;
  }
  // Two keys are joined into one value, which is not a key.
  EXPECT_EQ(Evaluate(Request{}.Add("Sec-WebSocket-Key: " + std::string(kRfcKey))).status, 400);
  // Any 16 bytes will do.
  EXPECT_TRUE(Evaluate(Request{}.Set("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==")).accepted());
  EXPECT_TRUE(Evaluate(Request{}.Set("Sec-WebSocket-Key", "/////////////////////w==")).accepted());
}

TEST(HandshakeTest, OtherPathIs404) {
  Request r;
  r.request_line = "GET /other HTTP/1.1";
  EXPECT_EQ(Evaluate(r).status, 404);
  r.request_line = "GET /mqtt/ HTTP/1.1";
  EXPECT_EQ(Evaluate(r).status, 404);
  r.request_line = "GET /mqtt?client=1 HTTP/1.1";  // the query does not matter
  EXPECT_TRUE(Evaluate(r).accepted());
  UpgradeOptions options;
  options.path = "/ws";
  r.request_line = "GET /ws HTTP/1.1";
  EXPECT_TRUE(Evaluate(r, options).accepted());
  EXPECT_EQ(Evaluate(Request{}, options).status, 404);
}

TEST(HandshakeTest, OriginAllowList) {
  UpgradeOptions options;
  options.allowed_origins = {"https://app.example", "http://localhost:3000"};
  EXPECT_TRUE(Evaluate(Request{}.Add("Origin: https://app.example"), options).accepted());
  EXPECT_TRUE(Evaluate(Request{}.Add("Origin: HTTPS://APP.EXAMPLE"), options).accepted());
  const UpgradeResult r = Evaluate(Request{}.Add("Origin: https://evil.example"), options);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.detail, "Origin not allowed");
  EXPECT_EQ(Evaluate(Request{}.Add("Origin: null"), options).status, 403);
  // No Origin: not a browser, accepted.
  EXPECT_TRUE(Evaluate(Request{}, options).accepted());
  // An empty list allows any.
  EXPECT_TRUE(Evaluate(Request{}.Add("Origin: https://evil.example")).accepted());
}

TEST(HandshakeTest, SubprotocolIsTheClientsFirstSupportedOne) {
  auto chosen = [](std::string_view offered) {
    const UpgradeResult r = Evaluate(Request{}.Set("Sec-WebSocket-Protocol", offered));
    EXPECT_EQ(Header(r, "Sec-WebSocket-Protocol"),
              r.subprotocol.empty() ? "(none)" : r.subprotocol);
    return r.accepted() ? r.subprotocol : "refused " + std::to_string(r.status);
  };
  EXPECT_EQ(chosen("mqtt"), "mqtt");
  EXPECT_EQ(chosen("mqttv3.1"), "mqttv3.1");
  EXPECT_EQ(chosen("mqttv3.1, mqtt"), "mqttv3.1");  // the client's order, not the server's
  EXPECT_EQ(chosen("mqtt,mqttv3.1"), "mqtt");
  EXPECT_EQ(chosen("chat, mqtt"), "mqtt");
  EXPECT_EQ(chosen("chat"), "refused 400");
  EXPECT_EQ(chosen("MQTT"), "refused 400");  // subprotocol names are compared exactly
  EXPECT_EQ(chosen(""), "");                 // an empty list offers nothing
  // Offers in two header lines are one list.
  const UpgradeResult two =
      Evaluate(Request{}.Set("Sec-WebSocket-Protocol", "chat").Add("Sec-WebSocket-Protocol: mqtt"));
  EXPECT_EQ(two.subprotocol, "mqtt");
  // Only what the server supports counts.
  UpgradeOptions options;
  options.subprotocols = {"mqtt"};
  EXPECT_EQ(Evaluate(Request{}.Set("Sec-WebSocket-Protocol", "mqttv3.1"), options).status, 400);
}

TEST(HandshakeTest, ErrorResponseShape) {
  Request r;
  r.request_line = "GET /nope HTTP/1.1";
  const UpgradeResult result = Evaluate(r);
  ASSERT_EQ(result.status, 404);
  EXPECT_TRUE(result.response.starts_with("HTTP/1.1 404 Not Found\r\n")) << result.response;
  EXPECT_EQ(Header(result, "Connection"), "close");
  const size_t body_at = result.response.find("\r\n\r\n") + 4;
  const std::string body = result.response.substr(body_at);
  EXPECT_EQ(Header(result, "Content-Length"), std::to_string(body.size()));
  EXPECT_EQ(body, std::string(result.detail) + "\n");
  EXPECT_TRUE(result.subprotocol.empty());
}

TEST(HandshakeTest, ParserErrorsGetAResponseToo) {
  HttpRequestParser p;
  const HttpParseResult r = p.Feed(std::string(9000, 'A'));
  ASSERT_EQ(r.status, HttpParseStatus::kError);
  const std::string response = ErrorResponse(r.error);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  EXPECT_NE(response.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_TRUE(ErrorResponse(505, "x").starts_with("HTTP/1.1 505 HTTP Version Not Supported\r\n"));
}

TEST(HandshakeTest, PlainRequestsAreNotUpgrades) {
  EXPECT_FALSE(IsUpgradeRequest(ParseOrDie("GET /index.html HTTP/1.1\r\nHost: h\r\n\r\n")));
  EXPECT_FALSE(IsUpgradeRequest(
      ParseOrDie("GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")));
  EXPECT_TRUE(IsUpgradeRequest(ParseOrDie("GET / HTTP/1.1\r\nUpgrade: foo, WEBSOCKET\r\n\r\n")));
}

TEST(HandshakeTest, FramesPipelinedBehindTheHandshake) {
  // A client that does not wait for the 101: its first frames follow the head.
  std::string wire = Request{}.Wire();
  const size_t head_size = wire.size();
  const std::string connect("\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02ws", 16);
  AppendMaskedFrame(Opcode::kBinary, Fin::kFinal,
                    {reinterpret_cast<const uint8_t*>(connect.data()), connect.size()},
                    {1, 2, 3, 4}, &wire);
  HttpRequestParser parser;
  const HttpParseResult head = parser.Feed(wire);
  ASSERT_EQ(head.status, HttpParseStatus::kComplete);
  ASSERT_EQ(head.consumed, head_size);
  ASSERT_TRUE(EvaluateUpgrade(parser.request(), {}).accepted());
  FrameDecoder decoder(Role::kServer);
  std::string app;
  const std::string_view rest = std::string_view(wire).substr(head.consumed);
  ASSERT_TRUE(
      decoder.Feed({reinterpret_cast<const uint8_t*>(rest.data()), rest.size()}, &app, nullptr)
          .ok());
  EXPECT_EQ(app, connect);
}

}  // namespace
}  // namespace ringmq::websocket
