// libFuzzer target for the WebSocket opening handshake (plugins/websocket/codec/
// http_request.h and handshake.h). Input: one byte of settings (bit 0: a 256-byte head limit
// so that 431 is reached; bit 1: an Origin allow-list; bits 2-7 with the next byte: where the
// request is cut in two), then the bytes of the connection. It must never crash, and
//   (1) the request parses the same at once and cut in two (status, bytes consumed, request);
//   (2) the bytes consumed are never more than the input;
//   (3) every response (101 or error) starts with "HTTP/1.1 ", ends its head with an empty
//       line, and an error response says "Connection: close";
//   (4) a 101 carries the Accept key of the request's key, and only an upgrade request gets one.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "plugins/websocket/codec/handshake.h"
#include "plugins/websocket/codec/http_request.h"

namespace {

using ringmq::websocket::HttpLimits;
using ringmq::websocket::HttpParseResult;
using ringmq::websocket::HttpParseStatus;
using ringmq::websocket::HttpRequest;
using ringmq::websocket::HttpRequestParser;

void Check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

bool SameRequest(const HttpRequest& a, const HttpRequest& b) {
  if (a.method != b.method || a.target != b.target || a.path != b.path || a.query != b.query ||
      a.version_minor != b.version_minor || a.headers.size() != b.headers.size()) {
    return false;
  }
  for (size_t i = 0; i < a.headers.size(); ++i) {
    if (a.headers[i].name != b.headers[i].name || a.headers[i].value != b.headers[i].value) {
      return false;
    }
  }
  return true;
}

bool Contains(std::string_view haystack, std::string_view needle) {
  // NOLINTNEXTLINE(abseil-string-find-str-contains): the codec does not link Abseil.
  return haystack.find(needle) != std::string_view::npos;
}

void CheckResponse(std::string_view response, bool error) {
  Check(response.substr(0, 9) == "HTTP/1.1 ", "a response starts with HTTP/1.1");
  const size_t head_end = response.find("\r\n\r\n");
  Check(head_end != std::string_view::npos, "a response head ends with an empty line");
  if (error) {
    const std::string_view head = response.substr(0, head_end + 2);
    Check(Contains(head, "\r\nConnection: close\r\n") ||
              Contains(head, "\r\nConnection: Upgrade, close\r\n"),
          "an error response closes the connection");
  } else {
    Check(head_end + 4 == response.size(), "a 101 has no body");
  }
}

// (1) and (2): parses `in` at once and cut at `cut`; returns the first parser's result.
HttpParseResult ParseBothWays(std::string_view in, size_t cut, const HttpLimits& limits,
                              HttpRequestParser* whole) {
  const HttpParseResult r = whole->Feed(in);
  HttpRequestParser halves(limits);
  const HttpParseResult first = halves.Feed(in.substr(0, cut));
  HttpParseResult second = first;
  size_t consumed = first.consumed;
  if (first.status == HttpParseStatus::kNeedMore) {
    second = halves.Feed(in.substr(cut));
    consumed += second.consumed;
  }
  Check(second.status == r.status, "same status when cut");
  if (r.status == HttpParseStatus::kError) {
    Check(second.error.status == r.error.status, "same error when cut");
    return r;
  }
  Check(r.consumed <= in.size(), "consumed within the input");
  Check(consumed == r.consumed, "same bytes consumed when cut");
  if (r.status == HttpParseStatus::kComplete) {
    Check(SameRequest(whole->request(), halves.request()), "same request when cut");
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) {
    return 0;
  }
  HttpLimits limits;
  if ((data[0] & 1) != 0) {
    limits.head_bytes_max = 256;
  }
  ringmq::websocket::UpgradeOptions options;
  if ((data[0] & 2) != 0) {
    options.allowed_origins = {"https://app.example"};
  }
  const std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  const size_t cut = in.empty() ? 0 : (((data[0] >> 2) << 8) | data[1]) % (in.size() + 1);

  HttpRequestParser parser(limits);
  const HttpParseResult r = ParseBothWays(in, cut, limits, &parser);
  if (r.status == HttpParseStatus::kError) {
    const uint16_t s = r.error.status;
    Check(s == 400 || s == 431 || s == 505, "a parser error is 400, 431 or 505");
    CheckResponse(ringmq::websocket::ErrorResponse(r.error), /*error=*/true);
    return 0;
  }
  if (r.status != HttpParseStatus::kComplete) {
    return 0;
  }
  const HttpRequest& request = parser.request();
  const ringmq::websocket::UpgradeResult u = ringmq::websocket::EvaluateUpgrade(request, options);
  CheckResponse(u.response, !u.accepted());
  if (u.accepted()) {
    Check(ringmq::websocket::IsUpgradeRequest(request), "only an upgrade request is accepted");
    const auto accept = ringmq::websocket::ComputeAcceptKey(*request.Find("sec-websocket-key"));
    Check(accept && Contains(u.response, "\r\nSec-WebSocket-Accept: " + *accept + "\r\n"),
          "the 101 carries the Accept key");
    Check(u.response.substr(0, 13) == "HTTP/1.1 101 ", "an accepted upgrade is a 101");
  } else {
    Check(u.status >= 400 && u.status <= 599 && !u.detail.empty(), "a refusal has a status");
  }
  return 0;
}
