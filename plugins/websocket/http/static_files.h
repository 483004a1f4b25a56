// plugins/websocket/http/static_files.h: static files from http_root over HTTP/1.1 for the
// websocket plugin's port, so the broker itself serves a web app (a chat page and its scripts).
// A library without sockets and without the plugin ABI: the plugin parses a request, fills a
// StaticRequest and writes out the bytes Serve appends.
//
// Data flow: StaticRequest (views into the plugin's parsed request) -> Serve -> the complete
// response (status line, header fields, body unless HEAD) appended to a std::string, and
// whether to close the connection after it.
//
// Threads: a StaticFiles is immutable once made; any number of threads may call Serve at once
// (the plugin calls it on the broker's shard threads). Serve reads the file with plain blocking
// POSIX calls on the calling thread, and its work is bounded: one openat2 + fstat of the named
// path (two of each for a folder's index file), one more of FILE.gz when the client accepts
// gzip, and at most file_max_bytes read, all into memory (Serve never streams). Files served
// from a local disk come from the page cache after the first request; do not point http_root at
// a network file system, whose stalls would stall a shard.
//
// What is served (GET and HEAD, HTTP/1.1 responses):
//   Method   anything but GET and HEAD: 405 with "Allow: GET, HEAD". Methods are case-sensitive.
//   Target   origin-form only; the query is ignored; percent-decoded once; dot segments removed
//            (request_target.h has each rule). 400 for a target that cannot name a file below
//            the root: not origin-form, a bad %XX, '\' (raw or %5C), a decoded NUL, '/' (%2F) or
//            control byte, or ".." above the root. 414 beyond 8 KiB. 404 for a hidden segment
//            (a name starting with '.'), anywhere in the path.
//   Symlinks followed while their target stays below the root's real path, else 404. The
//            kernel enforces it: each file is opened with openat2(RESOLVE_BENEATH) relative to a
//            descriptor of the root taken at Create, so no race between a check and the open
//            can escape. Symlinks must be relative: RESOLVE_BENEATH refuses an absolute symlink
//            even when it points below the root. Kernels before 5.6 (or a seccomp filter that
//            refuses openat2) get a fallback found at Create: realpath() of the whole path, a
//            prefix check against the root's real path, then open(O_NOFOLLOW). That fallback
//            also allows absolute symlinks into the root, and racing renames inside the root
//            could slip an intermediate folder past its check: only someone who can already
//            write below http_root could try.
//   Folders  "/dir" -> 301 to "/dir/" (query kept); "/dir/" -> its index file (index_file,
//            default index.html) when present and a regular file, else 404. No listings, ever.
//            With directory_index = false, every folder is 404. "/file/" is 404.
//   Files    regular files only (a FIFO, socket or device is 404; FIFOs are opened with
//            O_NONBLOCK, so opening one cannot block). 403 when the broker may not read it.
//            Larger than file_max_bytes: 500, as the request is fine and the server is
//            configured not to serve what it holds (a 4xx would blame the client, and 413 is
//            about request content); 5xx also shows up where operators watch for errors.
//   Types    by extension (content_type.h); X-Content-Type-Options: nosniff on every response.
//   gzip     when Accept-Encoding accepts gzip (q > 0) and FILE.gz exists below the root as a
//            regular file within file_max_bytes: FILE.gz is sent with Content-Encoding: gzip
//            and FILE's Content-Type. FILE.gz is trusted to hold FILE compressed (as nginx's
//            gzip_static trusts it): regenerate it on deploy. Every file response carries
//            "Vary: Accept-Encoding", as a .gz may appear at any time.
//   Caching  ETag (strong) and Last-Modified (the file's mtime, never later than Date) on 200
//            and 304. If-None-Match (a list, W/ tags, "*"; weak comparison, RFC 9110 13.1.2) ->
//            304; If-Modified-Since is read only without If-None-Match, and ignored when it is
//            not a valid HTTP-date or lies in the future (13.1.3). A 304 has no body, and
//            carries ETag, Last-Modified, Cache-Control, Vary and the Content-Length a 200
//            would have (allowed by RFC 9110 8.6). Cache-Control: "no-cache" for HTML, so a new
//            deployment shows at the next load (the browser revalidates, usually getting a
//            304), and "max-age=N" for the rest when cache_max_age_s > 0; the default 0 sends
//            "no-cache" for everything, as the URLs of a hand-made page carry no content hash
//            and a long max-age would pin old scripts in browsers after a deploy. Set it only
//            when the file names change with their content (app.3f2a1c.js).
//   ETag     '"' + 32 hex digits + '"': the first 16 bytes of SHA-256 over the served file's
//            inode, size, mtime (seconds and nanoseconds) and variant (identity or gzip), from
//            the one fstat Serve makes anyway. So a 304 costs no read, and replacing a file by
//            rename, or rewriting it, changes the tag even when size and mtime are kept
//            (cp -p, rsync -t). The hash keeps the inode number out of the response (scanners
//            report raw inodes in ETags). Trade-offs: touching a file changes its tag without a
//            change of content (one extra download), tags differ between machines holding the
//            same files (one broker serves a page; behind a load balancer use a content hash
//            in the file names), and "strong" relies on mtime changing when content does (a
//            file system with coarse timestamps that is rewritten in place, keeping its size,
//            twice within one tick would keep its tag). A content hash would avoid those at the
//            price of reading and hashing every file on every request, or a cache.
//   Range    not supported: a Range field is ignored and the whole file sent (a server may, RFC
//            9110 14.2). StaticRequest has no range member for that reason.
//   Headers  every response: Date, Server: ringmq, Connection (close or keep-alive),
//            X-Content-Type-Options, Content-Length (for HEAD the length a GET would get).
//            Error responses (400, 403, 404, 405, 414, 500) have a short text/plain body and
//            Cache-Control: no-store; a 301 has "Cache-Control: no-cache", so a folder that
//            later becomes a file is not hidden behind a redirect browsers keep forever.
//   Closing  after 400, 405 and 414 (the request may carry a body this code did not read, and a
//            client sending such requests is not a browser loading a page), and whenever the
//            request did not ask to keep the connection alive.
#ifndef RINGMQ_PLUGINS_WEBSOCKET_HTTP_STATIC_FILES_H
#define RINGMQ_PLUGINS_WEBSOCKET_HTTP_STATIC_FILES_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace ringmq::websocket::http {

// A request, as the plugin's HTTP parser read it. Views must stay valid during Serve only.
// An empty field value means the field was absent. For list fields sent on several lines
// (If-None-Match, Accept-Encoding), join their values with ", " (RFC 9110 5.3).
struct StaticRequest {
  std::string_view method;             // as sent, case-sensitive: "GET", "HEAD"
  std::string_view target;             // the request-target as sent: "/js/app.js?v=3"
  std::string_view if_none_match;      // `If-None-Match` value
  std::string_view if_modified_since;  // `If-Modified-Since` value (the first, if repeated)
  std::string_view accept_encoding;    // `Accept-Encoding` value
  // Whether the client wants the connection kept: HTTP/1.1 without "Connection: close", or
  // HTTP/1.0 with "Connection: keep-alive". Decided by the parser.
  bool keep_alive = true;
};

struct ServeResult {
  int status = 0;                 // 200, 301, 304, 400, 403, 404, 405, 414 or 500
  bool close_connection = false;  // close after sending the response
  size_t body_bytes = 0;          // body bytes appended (0 for HEAD and 304)
  // Why an error response was sent, for the plugin's log ("not found", "path leaves the
  // root", "file larger than file_max_bytes", ...): a static string; empty for 200/301/304.
  std::string_view reason;
  int os_error = 0;  // the errno behind a 403/404/500 from the file system, else 0
};

struct StaticFilesOptions {
  std::string http_root;                  // a folder; resolved once with realpath() by Create
  std::string index_file = "index.html";  // served for "/dir/"; a plain name, not hidden
  uint64_t file_max_bytes = 16u << 20;    // 1 B .. 1 GiB: larger files are refused with 500
  bool directory_index = true;            // false: every folder is 404
  uint32_t cache_max_age_s = 0;           // 0 .. 1 year; 0: "no-cache" for every file
};

inline constexpr uint64_t kFileMaxBytesLimit = 1ull << 30;
inline constexpr uint32_t kCacheMaxAgeLimitS = 365u * 24 * 3600;

class StaticFiles {
 public:
  // How files are opened below the root (see "Symlinks" above).
  enum class Resolution : uint8_t { kOpenat2Beneath, kRealpathPrefix };

  // Checks the options and opens the root. nullptr on failure with *error naming the option
  // and, for http_root, the path as given: "http_root /srv/www: No such file or directory",
  // "http_root /srv/www/index.html: Not a directory", "index_file 'a/b': ...".
  static std::unique_ptr<StaticFiles> Create(StaticFilesOptions options, std::string* error);

  ~StaticFiles();
  StaticFiles(const StaticFiles&) = delete;
  StaticFiles& operator=(const StaticFiles&) = delete;

  // Appends the response to `request` to *response (which may hold earlier responses), with
  // Date from the system clock; or from `now_unix_s`, seconds since 1970 UTC (tests, or a
  // plugin that keeps a clock of its own).
  ServeResult Serve(const StaticRequest& request, std::string* response) const;
  ServeResult Serve(const StaticRequest& request, int64_t now_unix_s, std::string* response) const;

  // The root's real path (realpath() of http_root at Create).
  const std::string& root() const { return root_; }
  const StaticFilesOptions& options() const { return options_; }
  Resolution resolution() const { return resolution_; }

  // Makes this object use the realpath() fallback even where openat2 works.
  void UseRealpathResolutionForTest() { resolution_ = Resolution::kRealpathPrefix; }

 private:
  StaticFiles(StaticFilesOptions options, std::string root, int root_fd, Resolution resolution);

  struct OpenFile;
  // Opens `relative` below the root for reading and fstats it; false with *error_number set
  // (EXDEV for a path that leaves the root).
  bool OpenBelowRoot(const std::string& relative, OpenFile* file, int* error_number) const;
  // The response for a regular file within file_max_bytes (or its FILE.gz): 200 or 304.
  ServeResult SendFile(const StaticRequest& request, int64_t now_unix_s,
                       const std::string& relative, OpenFile* file, std::string* response) const;

  StaticFilesOptions options_;
  std::string root_;  // realpath(options_.http_root)
  int root_fd_ = -1;  // O_PATH | O_DIRECTORY descriptor of root_
  Resolution resolution_;
};

}  // namespace ringmq::websocket::http

#endif  // RINGMQ_PLUGINS_WEBSOCKET_HTTP_STATIC_FILES_H
