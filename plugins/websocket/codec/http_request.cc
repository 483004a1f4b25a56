#include "plugins/websocket/codec/http_request.h"

#include <algorithm>

namespace ringmq::websocket {
namespace {

// RFC 9110 5.6.2: tchar.
bool IsTokenChar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
    return true;
  }
  // NOLINTNEXTLINE(abseil-string-find-str-contains): plugins do not link Abseil.
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return IsTokenChar(static_cast<unsigned char>(c));
  });
}

// RFC 9110 5.5: field-vchar (VCHAR and obs-text), SP and HTAB. No CR, LF, NUL or other CTL.
bool IsFieldValue(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7F);
  });
}

// RFC 9112 3.2: the request target has no whitespace or control characters.
bool IsTarget(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c >= 0x21 && c <= 0x7E;
  });
}

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

char ToLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ToLower);
  return out;
}

// RFC 9110 5.6.3: optional whitespace around a field value.
std::string_view TrimOws(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string_view::npos) {
    return {};
  }
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

// The offset just past the empty line that ends the head ("\n\r\n" or "\n\n"), searching
// from `from`; npos when it has not arrived.
size_t FindHeadEnd(std::string_view head, size_t from) {
  for (size_t i = head.find('\n', from); i != std::string_view::npos; i = head.find('\n', i + 1)) {
    if (i + 1 < head.size() && head[i + 1] == '\n') {
      return i + 2;
    }
    if (i + 2 < head.size() && head[i + 1] == '\r' && head[i + 2] == '\n') {
      return i + 3;
    }
  }
  return std::string_view::npos;
}

// The next line of *rest without its LF or CRLF; *rest moves past it.
std::string_view NextLine(std::string_view* rest) {
  const size_t lf = rest->find('\n');
  std::string_view line = rest->substr(0, lf);
  *rest = lf == std::string_view::npos ? std::string_view() : rest->substr(lf + 1);
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  return line;
}

constexpr HttpError kOk{};

HttpError BadRequest(std::string_view detail) {
  return {400, ReasonPhrase(400), detail};
}

// RFC 9112 3.2: origin-form "/path?query", absolute-form "scheme://authority/path?query";
// anything else ("*", "host:port") is kept whole as the path.
void SplitTarget(HttpRequest* r) {
  std::string_view t = r->target;
  if (t.front() != '/') {
    const size_t scheme_end = t.find("://");
    if (scheme_end == std::string_view::npos) {
      r->path = t;
      return;
    }
    t.remove_prefix(scheme_end + 3);
    const size_t path_at = t.find_first_of("/?");
    t = path_at == std::string_view::npos ? std::string_view() : t.substr(path_at);
  }
  const size_t q = t.find('?');
  r->path = t.substr(0, q);
  if (r->path.empty()) {
    r->path = "/";
  }
  r->query = q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

// RFC 9112 3: METHOD SP TARGET SP HTTP-VERSION.
HttpError ParseRequestLine(std::string_view line, HttpRequest* r) {
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) {
    return BadRequest("malformed request line");
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method) || !IsTarget(target)) {
    return BadRequest("malformed request line");
  }
  // RFC 9112 2.3: "HTTP/" DIGIT "." DIGIT.
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !IsDigit(version[5]) ||
      version[6] != '.' || !IsDigit(version[7])) {
    return BadRequest("malformed HTTP version");
  }
  if (version[5] != '1') {
    return {505, ReasonPhrase(505), "only HTTP/1.x is supported"};
  }
  r->method = method;
  r->target = target;
  r->version_major = 1;
  r->version_minor = static_cast<uint8_t>(version[7] - '0');
  SplitTarget(r);
  return kOk;
}

// RFC 9112 5: NAME ":" OWS VALUE OWS.
HttpError AddHeaderLine(std::string_view line, HttpRequest* r) {
  if (line.front() == ' ' || line.front() == '\t') {
    return BadRequest("obsolete line folding in a header field");
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
    return BadRequest("malformed header field");
  }
  const std::string_view value = TrimOws(line.substr(colon + 1));
  if (!IsFieldValue(value)) {
    return BadRequest("invalid character in a header field value");
  }
  const std::string name = Lower(line.substr(0, colon));
  auto same = std::find_if(r->headers.begin(), r->headers.end(),
                           [&](const HttpHeader& h) { return h.name == name; });
  if (same == r->headers.end()) {
    r->headers.push_back(HttpHeader{name, std::string(value)});
    return kOk;
  }
  if (name == "host") {
    return BadRequest("more than one Host header field");  // RFC 9112 3.2
  }
  same->value.append(", ").append(value);
  return kOk;
}

}  // namespace

std::optional<std::string_view> HttpRequest::Find(std::string_view name) const {
  for (const HttpHeader& h : headers) {
    if (EqualsIgnoreCase(h.name, name)) {
      return h.value;
    }
  }
  return std::nullopt;
}

HttpRequestParser::HttpRequestParser(HttpLimits limits) : limits_(limits) {}

void HttpRequestParser::Reset() {
  head_.clear();
  skipped_ = 0;
  scanned_ = 0;
  done_ = HttpParseResult{};
  request_ = HttpRequest{};
}

HttpParseResult HttpRequestParser::Feed(std::string_view in) {
  if (done_.status != HttpParseStatus::kNeedMore) {
    HttpParseResult again = done_;
    again.consumed = 0;
    return again;
  }
  // RFC 9112 2.2: empty lines before the request line are dropped (counted against the limit).
  size_t taken = 0;
  if (head_.empty()) {
    while (taken < in.size() && (in[taken] == '\r' || in[taken] == '\n')) {
      ++taken;
    }
    skipped_ += taken;
  }
  // Never keep more than the limit: a head that does not end within it is refused.
  const size_t held = std::min(skipped_ + head_.size(), limits_.head_bytes_max);
  const std::string_view piece = in.substr(taken, limits_.head_bytes_max - held);
  head_.append(piece);
  const size_t end = FindHeadEnd(head_, scanned_);
  if (end != std::string_view::npos) {
    const size_t after_head = head_.size() - end;  // bytes of `piece` past the head
    head_.resize(end);
    HttpParseResult r = Finish(end);
    r.consumed = taken + piece.size() - after_head;
    return r;
  }
  // A '\n' in the last two bytes may yet start the end of the head.
  scanned_ = head_.size() >= 2 ? head_.size() - 2 : 0;
  if (skipped_ + head_.size() >= limits_.head_bytes_max) {
    return Error(431, "request head over the size limit");
  }
  return HttpParseResult{HttpParseStatus::kNeedMore, in.size(), {}};
}

HttpParseResult HttpRequestParser::Finish(size_t head_size) {
  std::string_view rest(head_.data(), head_size);
  if (HttpError e = ParseRequestLine(NextLine(&rest), &request_); e.status != 0) {
    return Error(e.status, e.detail);
  }
  // The head ends with an empty line, so this loop ends at it, after at most
  // header_count_max + 1 lines.
  size_t count = 0;
  for (std::string_view line = NextLine(&rest); !line.empty(); line = NextLine(&rest)) {
    if (++count > limits_.header_count_max) {
      return Error(431, "too many header fields");
    }
    if (HttpError e = AddHeaderLine(line, &request_); e.status != 0) {
      return Error(e.status, e.detail);
    }
  }
  done_ = HttpParseResult{HttpParseStatus::kComplete, 0, {}};
  return done_;
}

HttpParseResult HttpRequestParser::Error(uint16_t status, std::string_view detail) {
  done_ =
      HttpParseResult{HttpParseStatus::kError, 0, HttpError{status, ReasonPhrase(status), detail}};
  return done_;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ToLower(x) == ToLower(y);
         });
}

std::vector<std::string_view> SplitList(std::string_view value) {
  std::vector<std::string_view> out;
  while (!value.empty()) {
    const size_t comma = value.find(',');
    const std::string_view element = TrimOws(value.substr(0, comma));
    if (!element.empty()) {
      out.push_back(element);
    }
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
  }
  return out;
}

bool HasToken(std::string_view value, std::string_view token) {
  for (std::string_view element : SplitList(value)) {
    if (EqualsIgnoreCase(element, token)) {
      return true;
    }
  }
  return false;
}

std::string_view ReasonPhrase(uint16_t status) {
  switch (status) {
    case 101:
      return "Switching Protocols";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 426:
      return "Upgrade Required";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

}  // namespace ringmq::websocket
