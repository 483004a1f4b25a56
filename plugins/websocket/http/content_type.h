// plugins/websocket/http/content_type.h: the Content-Type of a served file, by the extension of
// its name. A fixed table of the types a web app ships; any thread.
#ifndef RINGMQ_PLUGINS_WEBSOCKET_HTTP_CONTENT_TYPE_H
#define RINGMQ_PLUGINS_WEBSOCKET_HTTP_CONTENT_TYPE_H

#include <string_view>

namespace ringmq::websocket::http {

// The media type for `file_name` (a name or a path; only what follows its last '.' in its last
// segment counts, case-insensitive):
//   html htm                text/html; charset=utf-8
//   js mjs                  text/javascript; charset=utf-8  (RFC 9239)
//   css                     text/css; charset=utf-8
//   txt                     text/plain; charset=utf-8
//   json map                application/json  (JSON is UTF-8 by definition: no charset, RFC 8259)
//   webmanifest             application/manifest+json
//   xml                     application/xml
//   wasm                    application/wasm  (WebAssembly.instantiateStreaming requires it)
//   pdf                     application/pdf
//   svg                     image/svg+xml
//   png jpg jpeg gif webp   image/png, image/jpeg, image/gif, image/webp
//   ico                     image/vnd.microsoft.icon
//   woff woff2 ttf          font/woff, font/woff2, font/ttf
//   anything else           application/octet-stream (with nosniff, the browser downloads it)
// Text types (text/*) carry "; charset=utf-8": the files of a web app are UTF-8, and without
// it a browser guesses.
std::string_view ContentTypeFor(std::string_view file_name);

// Whether `content_type` is HTML (served with Cache-Control: no-cache, static_files.h).
bool IsHtml(std::string_view content_type);

}  // namespace ringmq::websocket::http

#endif  // RINGMQ_PLUGINS_WEBSOCKET_HTTP_CONTENT_TYPE_H
