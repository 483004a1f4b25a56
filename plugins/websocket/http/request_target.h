// plugins/websocket/http/request_target.h: the request-target of a GET or HEAD turned into a
// path below http_root, or the reason it cannot name a file there. Pure text work: no file
// system, no state; any thread.
//
// Steps, in order (each refusal names its TargetStatus):
//   1. Longer than kTargetMaxBytes: kTooLong (414).
//   2. Origin-form only ("/..."); "*", absolute-form ("http://h/x") and authority-form
//      ("h:443") are kNotOriginForm (400). Browsers send origin-form to an origin server.
//   3. A control byte, space, DEL or '#' anywhere in the target: kMalformed (400).
//   4. The query ('?' and after) is cut off; it is kept only for a redirect's Location.
//   5. The path is split on its literal '/' and each segment is percent-decoded ONCE ("%252e"
//      becomes the three bytes "%2e", a literal name, never "."). A '%' not followed by two
//      hex digits is kMalformed (400). A raw '\' or one decoded from %5C, a decoded NUL, '/'
//      (%2F) or control byte is kForbiddenByte (400): none can be part of a file name we
//      serve, and '\' and %2F are classic ways to smuggle a separator past a check like ours.
//   6. Dot segments are removed as RFC 3986 5.2.4 does, after decoding (so "%2e%2e" is ".."):
//      "." goes, ".." drops the segment before it; a ".." with nothing left to drop would
//      leave the root: kEscapesRoot (400). Empty segments ("a//b") are dropped. A path
//      ending in "/", "/." or "/.." names a folder (trailing_slash).
//   7. A remaining segment starting with '.' (".git", ".env", ".htpasswd") is kHidden (404).
// The result can still name a symlink that leaves the root; StaticFiles checks that on the
// file system (static_files.h).
#ifndef RINGMQ_PLUGINS_WEBSOCKET_HTTP_REQUEST_TARGET_H
#define RINGMQ_PLUGINS_WEBSOCKET_HTTP_REQUEST_TARGET_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringmq::websocket::http {

// Longer targets are refused (414) before any work: a page's URLs are far shorter, and the
// limit bounds the work done on one.
inline constexpr size_t kTargetMaxBytes = 8192;

enum class TargetStatus : uint8_t {
  kOk,
  kTooLong,        // 414
  kNotOriginForm,  // 400
  kMalformed,      // 400: a byte no request-target has, a bad %XX
  kForbiddenByte,  // 400: '\', or NUL, '/' or a control byte after decoding
  kEscapesRoot,    // 400: ".." above the root
  kHidden,         // 404: a segment starting with '.'
};

struct RequestPath {
  // Decoded and normalized, without a leading or trailing '/': "js/app.js"; "" for the root.
  // Its segments are those of the request ('/' cannot come from decoding).
  std::string relative;
  bool trailing_slash = false;  // the target named a folder: "/", "/a/", "/a/."
  std::string_view query;       // after '?' (without it), pointing into the target
};

// Parses `target` into *path (overwritten; its query points into `target`).
[[nodiscard]] TargetStatus ParseRequestTarget(std::string_view target, RequestPath* path);

// "/" + `relative` with each segment percent-encoded where RFC 3986 requires it (everything but
// unreserved, sub-delims, ':' and '@'), for a Location header: never starts with "//", holds no
// byte that could end a header line.
std::string EncodePath(std::string_view relative);

// A short word for logs: "ok", "too long", "not origin-form", ...
std::string_view TargetStatusName(TargetStatus status);

}  // namespace ringmq::websocket::http

#endif  // RINGMQ_PLUGINS_WEBSOCKET_HTTP_REQUEST_TARGET_H
