// plugins/websocket/http/http_fields.h: the few HTTP field values static file serving reads
// and writes: HTTP-dates (RFC 9110 5.6.7), If-None-Match against an entity tag (13.1.2) and
// whether Accept-Encoding accepts gzip (12.5.3). Pure functions on text, no locale, no time
// zone, no state; any thread.
#ifndef RINGMQ_PLUGINS_WEBSOCKET_HTTP_HTTP_FIELDS_H
#define RINGMQ_PLUGINS_WEBSOCKET_HTTP_HTTP_FIELDS_H

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringmq::websocket::http {

// Appends the IMF-fixdate for `unix_s` (UTC), "Sun, 06 Nov 1994 08:49:37 GMT": always 29 bytes.
// Times before 1970 or after 9999 are clamped to those years' ends.
void AppendHttpDate(int64_t unix_s, std::string* out);
std::string FormatHttpDate(int64_t unix_s);

// Reads an HTTP-date in any of its three forms, as a recipient must:
//   IMF-fixdate  "Sun, 06 Nov 1994 08:49:37 GMT"
//   RFC 850      "Sunday, 06-Nov-94 08:49:37 GMT"  (a two-digit year: 70..99 -> 19yy, else 20yy)
//   asctime      "Sun Nov  6 08:49:37 1994"
// The day name is checked for spelling, not against the date. nullopt for anything else
// (including out-of-range fields and trailing bytes).
std::optional<int64_t> ParseHttpDate(std::string_view text);

// Whether an If-None-Match value matches the current representation's entity tag `etag`
// (written with its quotes, e.g. "\"abc\""), by the weak comparison that RFC 9110 13.1.2
// prescribes for GET and HEAD: W/"abc" matches "abc". "*" matches (the resource exists when
// this is asked). The value is a comma-separated list (repeated header lines joined with ", ");
// elements that are not entity tags are skipped. Commas inside a quoted tag are part of it.
bool IfNoneMatchMatches(std::string_view field, std::string_view etag);

// Whether an Accept-Encoding value accepts gzip: "gzip" or "x-gzip" with a q-value above 0, or
// "*" above 0 when neither is named. Names and "q" are case-insensitive; a malformed q-value
// counts as 0 (when in doubt, send identity). An empty value accepts identity only: so does an
// absent field here, as browsers always send one.
bool AcceptsGzip(std::string_view accept_encoding);

}  // namespace ringmq::websocket::http

#endif  // RINGMQ_PLUGINS_WEBSOCKET_HTTP_HTTP_FIELDS_H
