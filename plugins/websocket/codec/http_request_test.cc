#include "plugins/websocket/codec/http_request.h"

#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace ringmq::websocket {
namespace {

// What MQTT.js (through the ws package) sends: protocols joined with "," and no space.
constexpr std::string_view kMqttJsRequest =
    "GET /mqtt HTTP/1.1\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Connection: Upgrade\r\n"
    "Upgrade: websocket\r\n"
    "Sec-WebSocket-Protocol: mqtt\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Host: localhost:8083\r\n"
    "\r\n";

struct Parsed {
  HttpParseResult result;
  HttpRequest request;
};

Parsed Parse(std::string_view in, HttpLimits limits = {}) {
  HttpRequestParser p(limits);
  Parsed out{p.Feed(in), {}};
  out.request = p.request();
  return out;
}

uint16_t Status(std::string_view in, HttpLimits limits = {}) {
  const Parsed p = Parse(in, limits);
  EXPECT_EQ(p.result.status, HttpParseStatus::kError) << in;
  return p.result.error.status;
}

TEST(HttpRequestTest, ParsesAnMqttJsUpgrade) {
  const Parsed p = Parse(kMqttJsRequest);
  ASSERT_EQ(p.result.status, HttpParseStatus::kComplete);
  EXPECT_EQ(p.result.consumed, kMqttJsRequest.size());
  EXPECT_EQ(p.request.method, "GET");
  EXPECT_EQ(p.request.target, "/mqtt");
  EXPECT_EQ(p.request.path, "/mqtt");
  EXPECT_EQ(p.request.query, "");
  EXPECT_EQ(p.request.version_major, 1);
  EXPECT_EQ(p.request.version_minor, 1);
  ASSERT_EQ(p.request.headers.size(), 7u);
  EXPECT_EQ(p.request.headers[0].name, "sec-websocket-version");
  EXPECT_EQ(p.request.headers[6].name, "host");
  EXPECT_EQ(p.request.Find("Host"), "localhost:8083");
  EXPECT_EQ(p.request.Find("SEC-WEBSOCKET-KEY"), "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(p.request.Find("sec-websocket-extensions"),
            "permessage-deflate; client_max_window_bits");
  EXPECT_FALSE(p.request.Find("origin").has_value());
}

TEST(HttpRequestTest, ValuesLoseSurroundingWhitespace) {
  const Parsed p = Parse("GET / HTTP/1.1\r\nA:\t x y \t\r\nB:\r\nC:   \r\n\r\n");
  ASSERT_EQ(p.result.status, HttpParseStatus::kComplete);
  EXPECT_EQ(p.request.Find("a"), "x y");
  EXPECT_EQ(p.request.Find("b"), "");
  EXPECT_EQ(p.request.Find("c"), "");
}

TEST(HttpRequestTest, RepeatedFieldsAreJoined) {
  const Parsed p = Parse(
      "GET / HTTP/1.1\r\nSec-WebSocket-Protocol: a\r\nX: 1\r\nsec-websocket-protocol: b, c\r\n"
      "SEC-WEBSOCKET-PROTOCOL: d\r\n\r\n");
  ASSERT_EQ(p.result.status, HttpParseStatus::kComplete);
  ASSERT_EQ(p.request.headers.size(), 2u);
  EXPECT_EQ(p.request.Find("Sec-WebSocket-Protocol"), "a, b, c, d");
}

TEST(HttpRequestTest, HeadSplitAtEveryOffset) {
  for (size_t split = 0; split <= kMqttJsRequest.size(); ++split) {
    HttpRequestParser p;
    const HttpParseResult first = p.Feed(kMqttJsRequest.substr(0, split));
    if (split < kMqttJsRequest.size()) {
      ASSERT_EQ(first.status, HttpParseStatus::kNeedMore) << split;
      EXPECT_EQ(first.consumed, split);
    }
    const HttpParseResult second = p.Feed(kMqttJsRequest.substr(split));
    if (split < kMqttJsRequest.size()) {
      ASSERT_EQ(second.status, HttpParseStatus::kComplete) << split;
      EXPECT_EQ(second.consumed, kMqttJsRequest.size() - split);
    } else {
      ASSERT_EQ(first.status, HttpParseStatus::kComplete);
      EXPECT_EQ(second.consumed, 0u);
    }
    EXPECT_EQ(p.request().Find("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==") << split;
    EXPECT_EQ(p.request().headers.size(), 7u) << split;
  }
}

TEST(HttpRequestTest, OneByteAtATime) {
  HttpRequestParser p;
  for (size_t i = 0; i + 1 < kMqttJsRequest.size(); ++i) {
    ASSERT_EQ(p.Feed(kMqttJsRequest.substr(i, 1)).status, HttpParseStatus::kNeedMore) << i;
  }
  const HttpParseResult last = p.Feed(kMqttJsRequest.substr(kMqttJsRequest.size() - 1));
  EXPECT_EQ(last.status, HttpParseStatus::kComplete);
  EXPECT_EQ(last.consumed, 1u);
}

TEST(HttpRequestTest, PipelinedBytesAfterTheHeadAreNotConsumed) {
  const std::string frames("\x82\x82\x01\x02\x03\x04\xc1\x02", 8);
  const std::string in = std::string(kMqttJsRequest) + frames;
  const Parsed p = Parse(in);
  ASSERT_EQ(p.result.status, HttpParseStatus::kComplete);
  EXPECT_EQ(p.result.consumed, kMqttJsRequest.size());
  EXPECT_EQ(in.substr(p.result.consumed), frames);

  // The same when the head ends in the second piece, which also carries frame bytes.
  HttpRequestParser q;
  ASSERT_EQ(q.Feed(in.substr(0, 20)).status, HttpParseStatus::kNeedMore);
  const HttpParseResult r = q.Feed(std::string_view(in).substr(20));
  ASSERT_EQ(r.status, HttpParseStatus::kComplete);
  EXPECT_EQ(r.consumed, kMqttJsRequest.size() - 20);

  // A second request pipelined behind the first is not read either.
  const std::string two = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
  const Parsed a = Parse(two);
  EXPECT_EQ(a.result.consumed, two.find("GET /b"));
  EXPECT_EQ(a.request.path, "/a");
}

TEST(HttpRequestTest, BareLfLineEndsAndLeadingEmptyLines) {
  const std::string in = "\r\n\nGET /x HTTP/1.1\nHost: h\n\n";
  const Parsed p = Parse(in);
  ASSERT_EQ(p.result.status, HttpParseStatus::kComplete);
  EXPECT_EQ(p.result.consumed, in.size());
  EXPECT_EQ(p.request.path, "/x");
  EXPECT_EQ(p.request.Find("host"), "h");
  const Parsed mixed = Parse("GET / HTTP/1.1\nHost: h\r\n\r\nrest");
  ASSERT_EQ(mixed.result.status, HttpParseStatus::kComplete);
  EXPECT_EQ(mixed.result.consumed, 26u);
}

TEST(HttpRequestTest, TargetForms) {
  Parsed p = Parse("GET /mqtt?token=abc&x=1 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(p.request.path, "/mqtt");
  EXPECT_EQ(p.request.query, "token=abc&x=1");
  p = Parse("GET http://example.com:8080/mqtt?q HTTP/1.1\r\n\r\n");
  EXPECT_EQ(p.request.target, "http://example.com:8080/mqtt?q");
  EXPECT_EQ(p.request.path, "/mqtt");
  EXPECT_EQ(p.request.query, "q");
  p = Parse("GET ws://example.com HTTP/1.1\r\n\r\n");
  EXPECT_EQ(p.request.path, "/");
  p = Parse("OPTIONS * HTTP/1.1\r\n\r\n");
  EXPECT_EQ(p.request.path, "*");
  EXPECT_EQ(p.request.method, "OPTIONS");
}

TEST(HttpRequestTest, Http10IsParsed) {
  const Parsed p = Parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(p.result.status, HttpParseStatus::kComplete);
  EXPECT_EQ(p.request.version_minor, 0);
}

TEST(HttpRequestTest, MalformedRequestLineIs400) {
  for (std::string_view in : {
           "GET /mqtt\r\n\r\n", "GET  /mqtt HTTP/1.1\r\n\r\n", "GET /mqtt  HTTP/1.1\r\n\r\n",
           "GET /mqtt HTTP/1.1 \r\n\r\n", " GET /mqtt HTTP/1.1\r\n\r\n",
           "G(T /mqtt HTTP/1.1\r\n\r\n", "GET /mq\ttt HTTP/1.1\r\n\r\n",
           "GET /mqtt http/1.1\r\n\r\n", "GET /mqtt HTTP/1\r\n\r\n", "GET /mqtt HTTP/1.1x\r\n\r\n",
           "GET /mqtt HTTP/11.1\r\n\r\n", "GET /mqtt HTTP/1.1\r\r\n\r\n",
           "\x16\x03\x01\x02\x01\x01\xfc\x03\x03\r\n\r\n",  // TLS to a plain port
       }) {
    EXPECT_EQ(Status(in), 400) << in;
  }
}

TEST(HttpRequestTest, OtherMajorVersionsAre505) {
  EXPECT_EQ(Status("GET / HTTP/2.0\r\n\r\n"), 505);
  EXPECT_EQ(Status("GET / HTTP/0.9\r\n\r\n"), 505);
  const Parsed p = Parse("GET / HTTP/2.0\r\n\r\n");
  EXPECT_EQ(p.result.error.reason_phrase, "HTTP Version Not Supported");
}

TEST(HttpRequestTest, MalformedHeaderFieldsAre400) {
  for (std::string_view in : {
           "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
           "GET / HTTP/1.1\r\nName : v\r\n\r\n",
           "GET / HTTP/1.1\r\n: v\r\n\r\n",
           "GET / HTTP/1.1\r\nNa me: v\r\n\r\n",
           "GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n",
           "GET / HTTP/1.1\r\nA: 1\r\n\tfolded\r\n\r\n",
           "GET / HTTP/1.1\r\nA: x\ry\r\n\r\n",
           "GET / HTTP/1.1\r\nA: x\x7fy\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
       }) {
    EXPECT_EQ(Status(in), 400) << in;
  }
  EXPECT_EQ(Status(std::string_view("GET / HTTP/1.1\r\nA: x\0y\r\n\r\n", 26)), 400);
  // obs-text (bytes 0x80-0xFF) is allowed in values.
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nA: caf\xC3\xA9\r\n\r\n").result.status,
            HttpParseStatus::kComplete);
}

std::string RequestWithHeaders(size_t count) {
  std::string in = "GET / HTTP/1.1\r\n";
  for (size_t i = 0; i < count; ++i) {
    in += "X-" + std::to_string(i) + ": v\r\n";
  }
  return in + "\r\n";
}

TEST(HttpRequestTest, TooManyHeaderFieldsIs431) {
  const Parsed ok = Parse(RequestWithHeaders(100));
  ASSERT_EQ(ok.result.status, HttpParseStatus::kComplete);
  EXPECT_EQ(ok.request.headers.size(), 100u);
  EXPECT_EQ(Status(RequestWithHeaders(101)), 431);
  HttpLimits limits;
  limits.header_count_max = 3;
  EXPECT_EQ(Status(RequestWithHeaders(4), limits), 431);
  // Repeated names count per line, not per joined field.
  EXPECT_EQ(Status("GET / HTTP/1.1\r\nA: 1\r\nA: 2\r\nA: 3\r\nA: 4\r\n\r\n", limits), 431);
}

TEST(HttpRequestTest, OversizedHeadIs431) {
  const std::string prefix = "GET / HTTP/1.1\r\nX: ";
  const std::string suffix = "\r\n\r\n";
  const std::string exact =
      prefix + std::string(8192 - prefix.size() - suffix.size(), 'v') + suffix;
  ASSERT_EQ(exact.size(), 8192u);
  EXPECT_EQ(Parse(exact).result.status, HttpParseStatus::kComplete);
  const std::string over = prefix + std::string(8193 - prefix.size() - suffix.size(), 'v') + suffix;
  const Parsed p = Parse(over);
  EXPECT_EQ(p.result.status, HttpParseStatus::kError);
  EXPECT_EQ(p.result.error.status, 431);
  EXPECT_EQ(p.result.error.reason_phrase, "Request Header Fields Too Large");
  // Fed in small pieces: refused as soon as the limit is passed, without the rest.
  HttpRequestParser q;
  HttpParseResult r;
  size_t fed = 0;
  while (r.status == HttpParseStatus::kNeedMore && fed < over.size()) {
    r = q.Feed(std::string_view(over).substr(fed, 100));
    fed += 100;
  }
  EXPECT_EQ(r.status, HttpParseStatus::kError);
  EXPECT_LE(fed, 8200u);
  // Empty lines before the request line count too.
  HttpLimits small;
  small.head_bytes_max = 64;
  EXPECT_EQ(Status(std::string(64, '\n'), small), 431);
}

TEST(HttpRequestTest, ResultIsKeptUntilReset) {
  HttpRequestParser p;
  ASSERT_EQ(p.Feed("GET /a HTTP/1.1\r\n\r\n").status, HttpParseStatus::kComplete);
  const HttpParseResult again = p.Feed("GET /b HTTP/1.1\r\n\r\n");
  EXPECT_EQ(again.status, HttpParseStatus::kComplete);
  EXPECT_EQ(again.consumed, 0u);
  EXPECT_EQ(p.request().path, "/a");
  p.Reset();
  ASSERT_EQ(p.Feed("GET /b HTTP/1.1\r\nA: 1\r\n\r\n").status, HttpParseStatus::kComplete);
  EXPECT_EQ(p.request().path, "/b");
  EXPECT_EQ(p.request().headers.size(), 1u);

  HttpRequestParser bad;
  EXPECT_EQ(bad.Feed("BAD\r\n\r\n").status, HttpParseStatus::kError);
  const HttpParseResult still = bad.Feed("GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(still.status, HttpParseStatus::kError);
  EXPECT_EQ(still.error.status, 400);
}

TEST(HttpRequestTest, ListsAndTokens) {
  EXPECT_EQ(SplitList(" a ,b,, \t c\t,"), (std::vector<std::string_view>{"a", "b", "c"}));
  EXPECT_TRUE(SplitList("").empty());
  EXPECT_TRUE(SplitList(" , ,").empty());
  EXPECT_TRUE(HasToken("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(HasToken("UPGRADE", "upgrade"));
  EXPECT_FALSE(HasToken("upgraded", "upgrade"));
  EXPECT_FALSE(HasToken("keep-alive", "upgrade"));
  EXPECT_TRUE(EqualsIgnoreCase("WebSocket", "websocket"));
  EXPECT_FALSE(EqualsIgnoreCase("websockets", "websocket"));
}

}  // namespace
}  // namespace ringmq::websocket
