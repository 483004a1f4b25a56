#include "plugins/websocket/http/request_target.h"

#include <vector>

namespace ringmq::websocket::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

bool IsControl(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

// Decodes one raw segment into *out (cleared first).
TargetStatus DecodeSegment(std::string_view raw, std::string* out) {
  out->clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c == '\\') {
      return TargetStatus::kForbiddenByte;
    }
    if (c == '%') {
      if (i + 2 >= raw.size()) {
        return TargetStatus::kMalformed;
      }
      const int high = HexValue(raw[i + 1]);
      const int low = HexValue(raw[i + 2]);
      if (high < 0 || low < 0) {
        return TargetStatus::kMalformed;
      }
      c = static_cast<unsigned char>(high * 16 + low);
      i += 2;
      if (c == '\0' || c == '/' || c == '\\' || IsControl(c)) {
        return TargetStatus::kForbiddenByte;
      }
    }
    out->push_back(static_cast<char>(c));
  }
  return TargetStatus::kOk;
}

}  // namespace

TargetStatus ParseRequestTarget(std::string_view target, RequestPath* path) {
  path->relative.clear();
  path->trailing_slash = false;
  path->query = {};
  if (target.size() > kTargetMaxBytes) {
    return TargetStatus::kTooLong;
  }
  if (target.empty() || target[0] != '/') {
    return TargetStatus::kNotOriginForm;
  }
  for (const char ch : target) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsControl(c) || c == ' ' || c == '#') {
      return TargetStatus::kMalformed;
    }
  }
  std::string_view raw_path = target;
  if (const size_t q = target.find('?'); q != std::string_view::npos) {
    raw_path = target.substr(0, q);
    path->query = target.substr(q + 1);
  }

  // Segment starts in path->relative, so ".." can drop the last one. Bounded by the target's
  // length (at most one segment per '/').
  std::vector<size_t> starts;
  std::string segment;
  raw_path.remove_prefix(1);  // the leading '/'
  while (true) {
    const size_t slash = raw_path.find('/');
    const bool last = slash == std::string_view::npos;
    const std::string_view raw = raw_path.substr(0, slash);
    if (const TargetStatus s = DecodeSegment(raw, &segment); s != TargetStatus::kOk) {
      return s;
    }
    if (segment == "..") {
      if (starts.empty()) {
        return TargetStatus::kEscapesRoot;
      }
      path->relative.resize(starts.back() == 0 ? 0 : starts.back() - 1);  // and its '/'
      starts.pop_back();
    } else if (!segment.empty() && segment != ".") {
      if (!path->relative.empty()) {
        path->relative.push_back('/');
      }
      starts.push_back(path->relative.size());
      path->relative += segment;
    }
    if (last) {
      // "/a/", "/a/." and "/a/.." name a folder (RFC 3986 5.2.4 keeps their final '/').
      path->trailing_slash = segment.empty() || segment == "." || segment == "..";
      break;
    }
    raw_path.remove_prefix(slash + 1);
  }
  for (const size_t start : starts) {
    if (path->relative[start] == '.') {
      return TargetStatus::kHidden;
    }
  }
  return TargetStatus::kOk;
}

std::string EncodePath(std::string_view relative) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "/";
  for (const char ch : relative) {
    const auto c = static_cast<unsigned char>(ch);
    const bool plain =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        std::string_view("-._~!$&'()*+,;=:@/").find(static_cast<char>(c)) != std::string_view::npos;
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string_view TargetStatusName(TargetStatus status) {
  switch (status) {
    case TargetStatus::kOk:
      return "ok";
    case TargetStatus::kTooLong:
      return "request-target too long";
    case TargetStatus::kNotOriginForm:
      return "request-target not in origin-form";
    case TargetStatus::kMalformed:
      return "malformed request-target";
    case TargetStatus::kForbiddenByte:
      return "backslash, NUL, %2F or control byte in the path";
    case TargetStatus::kEscapesRoot:
      return "path leaves the root";
    case TargetStatus::kHidden:
      return "hidden path segment";
  }
  return "unknown";
}

}  // namespace ringmq::websocket::http
