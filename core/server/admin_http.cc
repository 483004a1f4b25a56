#include "core/server/admin_http.h"

#include "absl/strings/str_format.h"

namespace ringmq::server {
namespace {

std::string_view Reason(int code) {
  switch (code) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
  }
  return "Error";
}

bool IsToken(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char ch : s) {
    if (ch < 'A' || ch > 'Z') {
      return false;
    }
  }
  return true;
}

}  // namespace

RequestHead ParseRequestHead(std::string_view received) {
  RequestHead h;
  size_t end = received.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    end = received.find("\n\n");  // bare LF lines, as some tools send
  }
  if (end == std::string_view::npos) {
    h.status = received.size() >= kMaxRequestHeadBytes ? RequestHead::Status::kTooLarge
                                                       : RequestHead::Status::kNeedMore;
    return h;
  }
  if (end > kMaxRequestHeadBytes) {
    h.status = RequestHead::Status::kTooLarge;
    return h;
  }
  // METHOD SP TARGET SP HTTP/1.x
  std::string_view line = received.substr(0, received.find('\n'));
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0) {
    h.status = RequestHead::Status::kBad;
    return h;
  }
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!IsToken(method) || target.empty() || target.front() != '/') {
    h.status = RequestHead::Status::kBad;
    return h;
  }
  target = target.substr(0, target.find('?'));
  h.status = RequestHead::Status::kOk;
  h.method = std::string(method);
  h.path = std::string(target);
  return h;
}

std::string FormatResponse(const Response& r) {
  std::string out = absl::StrFormat(
      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n", r.code,
      Reason(r.code), r.content_type, r.body.size());
  if (r.code == 405) {
    out.append("Allow: GET\r\n");
  }
  out.append("\r\n");
  out.append(r.body);
  return out;
}

}  // namespace ringmq::server
