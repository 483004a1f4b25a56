// plugins/websocket/codec/http_request.h: an incremental parser of an HTTP/1.1 request head
// (RFC 9112 sections 2-5): the request line and the header fields up to the empty line. It
// reads the opening handshake of RFC 6455 (4.1, 4.2.1) and the plain GET/HEAD requests that
// the plugin hands to its static file server. Bodies are not read.
//
// Data flow. Feed() takes bytes as they are read from the socket, in pieces of any size, and
// keeps them until the head is complete (at most head_bytes_max). It then reports how many
// bytes of the last piece belonged to the head: the bytes after it are not the parser's (for a
// WebSocket upgrade they are the client's first frames, for HTTP a body or the next request).
//
// What is accepted (and what error is reported, with the response status to send):
//   request line    METHOD SP TARGET SP HTTP/1.x, single spaces, a token method, a target of
//                   visible ASCII (400; 505 for a major version other than 1)
//   line ends       CRLF, or a bare LF (RFC 9112 2.2 allows it); a CR elsewhere is 400
//   empty lines     before the request line are skipped (RFC 9112 2.2)
//   header fields   NAME ":" OWS VALUE OWS; a token name with no space before the colon, a
//                   value of visible bytes, SP and HTAB (400); obsolete line folding is 400
//                   (RFC 9112 5.2); more than one Host is 400 (RFC 9112 3.2)
//   limits          head_bytes_max bytes before the end of the empty line, header_count_max
//                   field lines (431 Request Header Fields Too Large)
// Header names are kept lower-cased (they are case-insensitive, RFC 9110 5.1); a field that
// appears more than once is kept once, its values joined with ", " in order (RFC 9110 5.3).
//
// Threads: one parser per connection, used by one thread at a time.
#ifndef RINGMQ_PLUGINS_WEBSOCKET_CODEC_HTTP_REQUEST_H
#define RINGMQ_PLUGINS_WEBSOCKET_CODEC_HTTP_REQUEST_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringmq::websocket {

struct HttpHeader {
  std::string name;  // lower-case
  std::string value;
};

struct HttpRequest {
  // The value of field `name` (any case), if the request has it; a view into this request.
  std::optional<std::string_view> Find(std::string_view name) const;

  std::string method;  // case-sensitive (RFC 9110 9.1): "GET", not "get"
  std::string target;  // as sent: "/mqtt?x=1", or absolute "http://host/mqtt"
  std::string path;    // the target's path: "/mqtt" (from absolute form too); "*" stays "*"
  std::string query;   // after '?', without it; empty when there is none
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  std::vector<HttpHeader> headers;  // in order of first appearance
};

// An HTTP error: the status and reason phrase of the response to send, and why (static text).
struct HttpError {
  uint16_t status = 0;
  std::string_view reason_phrase;  // "Bad Request"
  std::string_view detail;         // "malformed request line"
};

struct HttpLimits {
  size_t head_bytes_max = 8192;
  size_t header_count_max = 100;
};

enum class HttpParseStatus : uint8_t { kNeedMore, kComplete, kError };

struct [[nodiscard]] HttpParseResult {
  HttpParseStatus status = HttpParseStatus::kNeedMore;
  // kNeedMore: all of the input was taken. kComplete: the input bytes that ended the head; the
  // rest of the input is the caller's. kError: meaningless (the connection is to be closed).
  size_t consumed = 0;
  HttpError error;  // kError only
};

class HttpRequestParser {
 public:
  explicit HttpRequestParser(HttpLimits limits = {});

  // Takes the next bytes of the connection. Once the result is kComplete or kError, later
  // calls take nothing and return it again (consumed 0) until Reset().
  HttpParseResult Feed(std::string_view in);

  // The parsed request, after Feed returned kComplete; valid until Reset().
  const HttpRequest& request() const { return request_; }

  // Readies the parser for the next request on the same connection (HTTP keep-alive).
  void Reset();

 private:
  HttpParseResult Finish(size_t head_size);
  HttpParseResult Error(uint16_t status, std::string_view detail);

  const HttpLimits limits_;
  std::string head_;
  size_t skipped_ = 0;    // empty-line bytes dropped before the request line
  size_t scanned_ = 0;    // head_ holds no end of head that starts before this offset
  HttpParseResult done_;  // status kNeedMore until complete or failed
  HttpRequest request_;
};

// The elements of a comma-separated header value (RFC 9110 5.6.1), without the whitespace
// around them; empty elements are dropped.
std::vector<std::string_view> SplitList(std::string_view value);

// Whether a comma-separated header value lists `token`, ignoring ASCII case.
bool HasToken(std::string_view value, std::string_view token);

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// The reason phrase of the statuses this library sends ("Bad Request" for 400); "Error" for
// others.
std::string_view ReasonPhrase(uint16_t status);

}  // namespace ringmq::websocket

#endif  // RINGMQ_PLUGINS_WEBSOCKET_CODEC_HTTP_REQUEST_H
