// The little HTTP/1.1 the admin listener speaks: one request head in, one response out, then
// the connection closes. Pure functions: any thread (the admin thread; the unit tests).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringmq::server {

// The bytes a request head may take (request line and headers); a longer one is refused
// with 431.
inline constexpr size_t kMaxRequestHeadBytes = 8192;

struct RequestHead {
  enum class Status { kNeedMore, kOk, kBad, kTooLarge };
  Status status = Status::kNeedMore;
  std::string method;
  std::string path;  // without the query string
};

// Looks for a complete head (ending in an empty line) at the start of `received`.
RequestHead ParseRequestHead(std::string_view received);

struct Response {
  int code = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// The whole response: status line, Content-Type, Content-Length, Connection: close (and
// Allow: GET for a 405), then the body.
std::string FormatResponse(const Response& r);

}  // namespace ringmq::server
