#include "plugins/websocket/http/static_files.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <utility>

#include "plugins/websocket/http/content_type.h"
#include "plugins/websocket/http/http_fields.h"
#include "plugins/websocket/http/request_target.h"

namespace ringmq::websocket::http {

// An open file below the root and its fstat, closed on destruction.
struct StaticFiles::OpenFile {
  int fd = -1;
  struct stat st = {};

  OpenFile() = default;
  ~OpenFile() { Close(); }
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;

  void Close() {
    if (fd >= 0) {
      close(fd);
      fd = -1;
    }
  }
  void Swap(OpenFile& other) {
    std::swap(fd, other.fd);
    std::swap(st, other.st);
  }
};

namespace {

// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. Reads of regular
// files ignore it.
constexpr int kOpenFlags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
// openat2 may fail with EAGAIN when a rename races a ".." in a symlink's target; retry a few
// times, then give up with 500.
constexpr int kOpenat2Attempts = 4;

int Openat2Beneath(int dir_fd, const char* path, uint64_t flags) {
  open_how how = {};
  how.flags = flags;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(syscall(SYS_openat2, dir_fd, path, &how, sizeof(how)));
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 301:
      return "Moved Permanently";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 414:
      return "URI Too Long";
    default:
      return "Internal Server Error";
  }
}

std::string_view ErrorBody(int status) {
  switch (status) {
    case 400:
      return "bad request\n";
    case 403:
      return "forbidden\n";
    case 404:
      return "not found\n";
    case 405:
      return "method not allowed\n";
    case 414:
      return "URI too long\n";
    default:
      return "internal server error\n";
  }
}

int StatusFor(TargetStatus status) {
  switch (status) {
    case TargetStatus::kOk:
      return 200;
    case TargetStatus::kTooLong:
      return 414;
    case TargetStatus::kHidden:
      return 404;
    case TargetStatus::kNotOriginForm:
    case TargetStatus::kMalformed:
    case TargetStatus::kForbiddenByte:
    case TargetStatus::kEscapesRoot:
      return 400;
  }
  return 400;
}

void AppendNumber(uint64_t value, std::string* out) {
  out->append(std::to_string(value));
}

// Status line and the fields every response has.
void AppendHead(int status, int64_t now_unix_s, bool close, std::string* out) {
  out->append("HTTP/1.1 ");
  AppendNumber(static_cast<uint64_t>(status), out);
  out->push_back(' ');
  out->append(ReasonPhrase(status));
  out->append("\r\nDate: ");
  AppendHttpDate(now_unix_s, out);
  out->append("\r\nServer: ringmq\r\nConnection: ");
  out->append(close ? "close" : "keep-alive");
  out->append("\r\nX-Content-Type-Options: nosniff\r\n");
}

bool ClosesAfter(int status, const StaticRequest& request) {
  return !request.keep_alive || status == 400 || status == 405 || status == 414;
}

// '"' + hex of SHA-256(inode, size, mtime s, mtime ns, variant)[0..16) + '"' (static_files.h).
std::string MakeETag(const struct stat& st, bool gzip) {
  unsigned char input[33];
  const uint64_t fields[4] = {static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_size),
                              static_cast<uint64_t>(st.st_mtim.tv_sec),
                              static_cast<uint64_t>(st.st_mtim.tv_nsec)};
  for (size_t f = 0; f < 4; ++f) {
    for (size_t b = 0; b < 8; ++b) {
      input[f * 8 + b] = static_cast<unsigned char>(fields[f] >> (8 * b));
    }
  }
  input[32] = gzip ? 'g' : 'i';
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(input, sizeof(input), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string etag = "\"";
  for (size_t i = 0; i < 16; ++i) {
    etag.push_back(kHex[digest[i] >> 4]);
    etag.push_back(kHex[digest[i] & 0xf]);
  }
  etag.push_back('"');
  return etag;
}

// Where a response goes, and what every response takes from its request.
struct Reply {
  const StaticRequest& request;
  int64_t now_unix_s;
  bool head;  // no body
  std::string* out;
};

// An error response: a short text/plain body (not for HEAD), never stored by caches.
ServeResult SendError(const Reply& reply, int status, std::string_view reason, int os_error) {
  const bool close = ClosesAfter(status, reply.request);
  const std::string_view body = ErrorBody(status);
  AppendHead(status, reply.now_unix_s, close, reply.out);
  if (status == 405) {
    reply.out->append("Allow: GET, HEAD\r\n");
  }
  reply.out->append("Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n");
  reply.out->append("Content-Length: ");
  AppendNumber(body.size(), reply.out);
  reply.out->append("\r\n\r\n");
  if (!reply.head) {
    reply.out->append(body);
  }
  return ServeResult{status, close, reply.head ? 0 : body.size(), reason, os_error};
}

// A failed open or fstat: the file is not there for us (404), not ours to read (403), or the
// system failed (500).
ServeResult SendFileError(const Reply& reply, int error_number, std::string_view what) {
  switch (error_number) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
    case ENXIO:
    case ENODEV:
      return SendError(reply, 404, what, error_number);
    case EXDEV:
      return SendError(reply, 404, "symlink leads outside the root", error_number);
    case ELOOP:
      return SendError(reply, 404, "symlink loop, or a symlink where none may be", error_number);
    case EACCES:
    case EPERM:
      return SendError(reply, 403, "permission denied", error_number);
    default:
      return SendError(reply, 500, "open failed", error_number);
  }
}

// 301 from a folder named without its final '/' to the same with it. The Location is built
// from the normalized path (EncodePath), never from the raw target: it cannot start with "//"
// (another host) and holds no byte that could end the header line.
ServeResult SendRedirect(const Reply& reply, std::string_view relative, std::string_view query) {
  constexpr std::string_view kBody = "moved\n";
  const bool close = ClosesAfter(301, reply.request);
  AppendHead(301, reply.now_unix_s, close, reply.out);
  reply.out->append("Location: ");
  reply.out->append(EncodePath(relative));
  reply.out->push_back('/');
  if (!query.empty()) {
    reply.out->push_back('?');
    reply.out->append(query);  // visible ASCII only (request_target.h, step 3)
  }
  reply.out->append(
      "\r\nContent-Type: text/plain; charset=utf-8\r\nCache-Control: no-cache\r\n"
      "Content-Length: ");
  AppendNumber(kBody.size(), reply.out);
  reply.out->append("\r\n\r\n");
  if (!reply.head) {
    reply.out->append(kBody);
  }
  return ServeResult{301, close, reply.head ? 0 : kBody.size(), {}, 0};
}

}  // namespace

std::unique_ptr<StaticFiles> StaticFiles::Create(StaticFilesOptions options, std::string* error) {
  if (options.http_root.empty()) {
    *error = "http_root: empty path";
    return nullptr;
  }
  const std::string_view index = options.index_file;
  if (index.empty() || index.find('/') != std::string_view::npos ||
      index.find('\0') != std::string_view::npos || index[0] == '.') {
    *error = "index_file '" + options.index_file +
             "': must be a file name, without '/', not starting with '.'";
    return nullptr;
  }
  if (options.file_max_bytes == 0 || options.file_max_bytes > kFileMaxBytesLimit) {
    *error = "file_max_bytes " + std::to_string(options.file_max_bytes) +
             ": must be between 1 and " + std::to_string(kFileMaxBytesLimit);
    return nullptr;
  }
  if (options.cache_max_age_s > kCacheMaxAgeLimitS) {
    *error = "cache_max_age_s " + std::to_string(options.cache_max_age_s) + ": must be at most " +
             std::to_string(kCacheMaxAgeLimitS) + " (one year)";
    return nullptr;
  }
  char resolved[PATH_MAX];
  if (realpath(options.http_root.c_str(), resolved) == nullptr) {
    *error = "http_root " + options.http_root + ": " + std::strerror(errno);
    return nullptr;
  }
  const int root_fd = open(resolved, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) {
    *error = "http_root " + options.http_root + ": " + std::strerror(errno);
    return nullptr;
  }
  // openat2 is there when it can open the root itself (Linux 5.6+, not refused by seccomp).
  Resolution resolution = Resolution::kRealpathPrefix;
  if (const int probe = Openat2Beneath(root_fd, ".", O_PATH | O_CLOEXEC); probe >= 0) {
    close(probe);
    resolution = Resolution::kOpenat2Beneath;
  }
  return std::unique_ptr<StaticFiles>(
      new StaticFiles(std::move(options), resolved, root_fd, resolution));
}

StaticFiles::StaticFiles(StaticFilesOptions options, std::string root, int root_fd,
                         Resolution resolution)
    : options_(std::move(options)),
      root_(std::move(root)),
      root_fd_(root_fd),
      resolution_(resolution) {}

StaticFiles::~StaticFiles() {
  if (root_fd_ >= 0) {
    close(root_fd_);
  }
}

bool StaticFiles::OpenBelowRoot(const std::string& relative, OpenFile* file,
                                int* error_number) const {
  file->Close();
  if (resolution_ == Resolution::kOpenat2Beneath) {
    const char* path = relative.empty() ? "." : relative.c_str();
    for (int attempt = 0; attempt < kOpenat2Attempts; ++attempt) {
      file->fd = Openat2Beneath(root_fd_, path, kOpenFlags);
      if (file->fd >= 0 || (errno != EAGAIN && errno != EINTR)) {
        break;
      }
    }
  } else {
    // realpath() resolves every symlink; what it returns must lie below the root, and
    // O_NOFOLLOW refuses a last component turned into a symlink since.
    const std::string full = relative.empty() ? root_ : root_ + "/" + relative;
    char resolved[PATH_MAX];
    if (realpath(full.c_str(), resolved) == nullptr) {
      *error_number = errno;
      return false;
    }
    const std::string_view real(resolved);
    const bool below = root_ == "/" || real == root_ ||
                       (real.size() > root_.size() && real.substr(0, root_.size()) == root_ &&
                        real[root_.size()] == '/');
    if (!below) {
      *error_number = EXDEV;
      return false;
    }
    file->fd = open(resolved, kOpenFlags | O_NOFOLLOW);
  }
  if (file->fd < 0 || fstat(file->fd, &file->st) != 0) {
    *error_number = errno;
    file->Close();
    return false;
  }
  return true;
}

ServeResult StaticFiles::Serve(const StaticRequest& request, std::string* response) const {
  return Serve(request, static_cast<int64_t>(std::time(nullptr)), response);
}

ServeResult StaticFiles::Serve(const StaticRequest& request, int64_t now_unix_s,
                               std::string* response) const {
  const Reply reply{request, now_unix_s, request.method == "HEAD", response};
  if (!reply.head && request.method != "GET") {
    return SendError(reply, 405, "method not allowed", 0);
  }
  RequestPath path;
  if (const TargetStatus s = ParseRequestTarget(request.target, &path); s != TargetStatus::kOk) {
    return SendError(reply, StatusFor(s), TargetStatusName(s), 0);
  }

  // The named path is a folder (its index file, or a redirect to add the '/') or a file.
  OpenFile file;
  int error_number = 0;
  std::string relative = std::move(path.relative);
  if (!OpenBelowRoot(relative, &file, &error_number)) {
    return SendFileError(reply, error_number, "not found");
  }
  if (S_ISDIR(file.st.st_mode)) {
    if (!options_.directory_index) {
      return SendError(reply, 404, "folder (directory_index is off)", 0);
    }
    if (!path.trailing_slash) {
      return SendRedirect(reply, relative, path.query);
    }
    relative = relative.empty() ? options_.index_file : relative + "/" + options_.index_file;
    if (!OpenBelowRoot(relative, &file, &error_number)) {
      return SendFileError(reply, error_number, "no index file");
    }
  } else if (path.trailing_slash) {
    return SendError(reply, 404, "not a folder", 0);
  }
  if (!S_ISREG(file.st.st_mode)) {
    return SendError(reply, 404, "not a regular file", 0);
  }
  if (static_cast<uint64_t>(file.st.st_size) > options_.file_max_bytes) {
    return SendError(reply, 500, "file larger than file_max_bytes", 0);
  }
  return SendFile(request, now_unix_s, relative, &file, response);
}

ServeResult StaticFiles::SendFile(const StaticRequest& request, int64_t now_unix_s,
                                  const std::string& relative, OpenFile* file,
                                  std::string* response) const {
  const Reply reply{request, now_unix_s, request.method == "HEAD", response};
  // 1. The variant: FILE.gz when the client takes gzip and it is there (and fits).
  const std::string_view content_type = ContentTypeFor(relative);
  bool gzip = false;
  if (AcceptsGzip(request.accept_encoding)) {
    OpenFile compressed;
    int ignored = 0;
    if (OpenBelowRoot(relative + ".gz", &compressed, &ignored) && S_ISREG(compressed.st.st_mode) &&
        static_cast<uint64_t>(compressed.st.st_size) <= options_.file_max_bytes) {
      file->Swap(compressed);
      gzip = true;
    }
  }

  // 2. Validators, and the conditional request: If-None-Match decides when present, else
  // If-Modified-Since (RFC 9110 13.2.2).
  const std::string etag = MakeETag(file->st, gzip);
  const int64_t last_modified_s = std::min<int64_t>(file->st.st_mtim.tv_sec, now_unix_s);
  bool not_modified = false;
  if (!request.if_none_match.empty()) {
    not_modified = IfNoneMatchMatches(request.if_none_match, etag);
  } else if (!request.if_modified_since.empty()) {
    const std::optional<int64_t> since = ParseHttpDate(request.if_modified_since);
    not_modified = since.has_value() && *since <= now_unix_s && last_modified_s <= *since;
  }

  // 3. The head.
  const int status = not_modified ? 304 : 200;
  const bool close = ClosesAfter(status, request);
  const auto size = static_cast<size_t>(file->st.st_size);
  const size_t start = response->size();
  AppendHead(status, now_unix_s, close, response);
  if (!not_modified) {
    response->append("Content-Type: ");
    response->append(content_type);
    response->append(gzip ? "\r\nContent-Encoding: gzip\r\n" : "\r\n");
  }
  response->append("ETag: ");
  response->append(etag);
  response->append("\r\nLast-Modified: ");
  AppendHttpDate(last_modified_s, response);
  response->append("\r\nCache-Control: ");
  if (options_.cache_max_age_s == 0 || IsHtml(content_type)) {
    response->append("no-cache");
  } else {
    response->append("max-age=");
    AppendNumber(options_.cache_max_age_s, response);
  }
  response->append("\r\nVary: Accept-Encoding\r\nContent-Length: ");
  AppendNumber(size, response);
  response->append("\r\n\r\n");
  if (not_modified || reply.head) {
    return ServeResult{status, close, 0, {}, 0};
  }

  // 4. The body: at most file_max_bytes, read straight into the response. A file that shrank
  // since fstat cannot fill the Content-Length already written: undo, and answer 500.
  const size_t body_at = response->size();
  response->resize(body_at + size);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = read(file->fd, response->data() + body_at + done, size - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      const int read_error = n < 0 ? errno : 0;
      response->resize(start);
      return SendError(reply, 500, n < 0 ? "read failed" : "file shrank while being read",
                       read_error);
    }
    done += static_cast<size_t>(n);
  }
  return ServeResult{200, close, size, {}, 0};
}

}  // namespace ringmq::websocket::http
