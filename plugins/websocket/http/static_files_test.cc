// StaticFiles end to end on a folder the test builds: every response is parsed back and its
// common fields checked (Date, Server, nosniff, Connection, Content-Length against the body).
#include "plugins/websocket/http/static_files.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "plugins/websocket/http/http_fields.h"
#include "plugins/websocket/http/request_target.h"

namespace ringmq::websocket::http {
namespace {

namespace fs = std::filesystem;
using Resolution = StaticFiles::Resolution;

constexpr int64_t kNow = 1700000000;       // Tue, 14 Nov 2023 22:13:20 GMT
constexpr int64_t kFileTime = 1600000000;  // Sun, 13 Sep 2020 12:26:40 GMT
constexpr std::string_view kSecret = "TOP SECRET";

struct Response {
  int status = 0;
  std::map<std::string, std::string> fields;  // names as written
  std::string body;
  ServeResult result;

  bool Has(const std::string& name) const { return fields.count(name) != 0; }
  std::string Field(const std::string& name) const {
    const auto it = fields.find(name);
    return it == fields.end() ? "" : it->second;
  }
};

// Splits one response into status, fields and body, checking its framing.
Response ParseResponse(std::string_view bytes) {
  Response r;
  const size_t end = bytes.find("\r\n\r\n");
  EXPECT_NE(end, std::string_view::npos) << bytes;
  if (end == std::string_view::npos) {
    return r;
  }
  std::string_view head = bytes.substr(0, end + 2);
  r.body = std::string(bytes.substr(end + 4));
  const size_t line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  EXPECT_EQ(status_line.substr(0, 9), "HTTP/1.1 ") << status_line;
  r.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  head.remove_prefix(line_end + 2);
  while (!head.empty()) {
    const size_t eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    const size_t colon = line.find(": ");
    EXPECT_NE(colon, std::string_view::npos) << line;
    const std::string name(line.substr(0, colon));
    EXPECT_EQ(r.fields.count(name), 0u) << "repeated field " << name;
    r.fields[name] = std::string(line.substr(colon + 2));
    head.remove_prefix(eol + 2);
  }
  return r;
}

StaticRequest Request(std::string_view target, std::string_view method = "GET") {
  StaticRequest request;
  request.method = method;
  request.target = target;
  return request;
}

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "websocket_http_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    base_ = pattern;
    root_ = base_ + "/root";
    fs::create_directories(root_);
    fs::create_directories(base_ + "/outside");
    WriteAt(base_ + "/outside/secret.txt", kSecret);
    Write("index.html", "<h1>home</h1>\n");
    Write("app.js", "console.log('identity');\n");
    Write("app.js.gz", "gzip bytes of app.js");  // trusted, not checked: any bytes do
    Write("style.css", "body { margin: 0 }\n");
    Write("dir/index.html", "<p>dir</p>\n");
    Write("a/b.txt", "b\n");
    Write("%2e%2e/x", "literal\n");
    Write(".hidden", kSecret);
    Write(".git/config", kSecret);
    Write("dir/.env", kSecret);
    fs::create_directories(root_ + "/empty_dir");
    files_ = Make();
    ASSERT_NE(files_, nullptr);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::permissions(root_ + "/unreadable.txt", fs::perms::owner_all, ignored);
    fs::remove_all(base_, ignored);
  }

  static void WriteAt(const std::string& path, std::string_view content,
                      int64_t mtime_s = kFileTime) {
    fs::create_directories(fs::path(path).parent_path());
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr) << path;
    std::fwrite(content.data(), 1, content.size(), f);
    std::fclose(f);
    SetMtimeAt(path, mtime_s);
  }
  static void SetMtimeAt(const std::string& path, int64_t mtime_s, long mtime_ns = 0) {
    const struct timespec times[2] = {{mtime_s, 0}, {mtime_s, mtime_ns}};
    ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
  }
  void Write(const std::string& relative, std::string_view content, int64_t mtime_s = kFileTime) {
    WriteAt(root_ + "/" + relative, content, mtime_s);
  }
  void Symlink(const std::string& target, const std::string& relative) {
    ASSERT_EQ(symlink(target.c_str(), (root_ + "/" + relative).c_str()), 0) << relative;
  }

  std::unique_ptr<StaticFiles> Make(StaticFilesOptions options = {}) {
    if (options.http_root.empty()) {
      options.http_root = root_;
    }
    std::string error;
    auto files = StaticFiles::Create(options, &error);
    EXPECT_NE(files, nullptr) << error;
    return files;
  }
  std::string CreateError(const StaticFilesOptions& options) {
    std::string error;
    EXPECT_EQ(StaticFiles::Create(options, &error), nullptr);
    return error;
  }

  // Serves `request` and checks what every response must hold.
  static Response Fetch(const StaticFiles& files, const StaticRequest& request) {
    std::string bytes = "previous response";  // Serve appends
    const ServeResult result = files.Serve(request, kNow, &bytes);
    EXPECT_EQ(bytes.substr(0, 17), "previous response");
    Response r = ParseResponse(std::string_view(bytes).substr(17));
    r.result = result;
    EXPECT_EQ(r.status, result.status) << request.target;
    EXPECT_EQ(r.Field("Date"), "Tue, 14 Nov 2023 22:13:20 GMT");
    EXPECT_EQ(r.Field("Server"), "ringmq");
    EXPECT_EQ(r.Field("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r.Field("Connection"), result.close_connection ? "close" : "keep-alive");
    EXPECT_EQ(result.body_bytes, r.body.size());
    EXPECT_TRUE(r.Has("Content-Length"));
    if (request.method == "HEAD" || r.status == 304) {
      EXPECT_EQ(r.body, "");
    } else {
      EXPECT_EQ(r.Field("Content-Length"), std::to_string(r.body.size())) << request.target;
    }
    EXPECT_EQ(r.body.find(kSecret), std::string::npos) << request.target;
    return r;
  }
  Response Fetch(const StaticRequest& request) const { return Fetch(*files_, request); }
  Response Get(std::string_view target) const { return Fetch(Request(target)); }

  std::string base_;
  std::string root_;
  std::unique_ptr<StaticFiles> files_;
};

TEST_F(StaticFilesTest, ServesAFileWithItsFields) {
  const Response r = Get("/app.js");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "console.log('identity');\n");
  EXPECT_EQ(r.Field("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(r.Field("Content-Length"), "25");
  EXPECT_EQ(r.Field("Last-Modified"), "Sun, 13 Sep 2020 12:26:40 GMT");
  EXPECT_EQ(r.Field("Cache-Control"), "no-cache");
  EXPECT_EQ(r.Field("Vary"), "Accept-Encoding");
  EXPECT_FALSE(r.Has("Content-Encoding"));
  const std::string etag = r.Field("ETag");
  ASSERT_EQ(etag.size(), 34u);
  EXPECT_EQ(etag.front(), '"');
  EXPECT_EQ(etag.back(), '"');
  EXPECT_EQ(etag.find_first_not_of("0123456789abcdef", 1), 33u);
  EXPECT_FALSE(r.result.close_connection);
  EXPECT_TRUE(r.result.reason.empty());
}

TEST_F(StaticFilesTest, ServesEveryContentType) {
  const std::pair<const char*, const char*> cases[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"ico", "image/vnd.microsoft.icon"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"ttf", "font/ttf"},
      {"txt", "text/plain; charset=utf-8"},
      {"wasm", "application/wasm"},
      {"webmanifest", "application/manifest+json"},
      {"xml", "application/xml"},
      {"pdf", "application/pdf"},
      {"bin", "application/octet-stream"},
      {"PNG", "image/png"},
  };
  for (const auto& [extension, type] : cases) {
    const std::string name = std::string("samples/sample.") + extension;
    Write(name, std::string("content of ") + name);
    const Response r = Get("/" + name);
    EXPECT_EQ(r.status, 200) << name;
    EXPECT_EQ(r.Field("Content-Type"), type) << name;
    EXPECT_EQ(r.body, std::string("content of ") + name);
  }
  Write("samples/Makefile", "all:\n");
  EXPECT_EQ(Get("/samples/Makefile").Field("Content-Type"), "application/octet-stream");
}

TEST_F(StaticFilesTest, ConnectionFollowsTheRequest) {
  StaticRequest request = Request("/app.js");
  request.keep_alive = false;
  const Response r = Fetch(request);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.result.close_connection);
  EXPECT_EQ(r.Field("Connection"), "close");
  EXPECT_FALSE(Get("/nope").result.close_connection);  // 404 keeps a kept connection
}

TEST_F(StaticFilesTest, IfNoneMatchGives304) {
  const std::string etag = Get("/app.js").Field("ETag");
  const std::string weak = "W/" + etag;
  const std::string list = "\"other\", " + etag + ", \"more\"";
  const std::string weak_list = "W/\"other\",W/" + etag;
  for (const std::string& value : {etag, weak, list, weak_list, std::string("*")}) {
    StaticRequest request = Request("/app.js");
    request.if_none_match = value;
    const Response r = Fetch(request);
    EXPECT_EQ(r.status, 304) << value;
    EXPECT_EQ(r.body, "");
    EXPECT_EQ(r.Field("ETag"), etag);
    EXPECT_EQ(r.Field("Last-Modified"), "Sun, 13 Sep 2020 12:26:40 GMT");
    EXPECT_EQ(r.Field("Cache-Control"), "no-cache");
    EXPECT_EQ(r.Field("Vary"), "Accept-Encoding");
    EXPECT_EQ(r.Field("Content-Length"), "25");  // what a 200 would carry (RFC 9110 8.6)
    EXPECT_FALSE(r.Has("Content-Type"));
    EXPECT_FALSE(r.result.close_connection);
  }
  for (const char* value : {"\"other\"", "W/\"other\", \"x\"", "garbage"}) {
    StaticRequest request = Request("/app.js");
    request.if_none_match = value;
    EXPECT_EQ(Fetch(request).status, 200) << value;
  }
  StaticRequest head = Request("/app.js", "HEAD");
  head.if_none_match = etag;
  EXPECT_EQ(Fetch(head).status, 304);
  // "*" needs the file to exist.
  StaticRequest missing = Request("/missing.js");
  missing.if_none_match = "*";
  EXPECT_EQ(Fetch(missing).status, 404);
}

TEST_F(StaticFilesTest, ETagChangesWithTheFile) {
  const std::string etag = Get("/app.js").Field("ETag");
  EXPECT_NE(Get("/style.css").Field("ETag"), etag);
  EXPECT_EQ(Get("/app.js").Field("ETag"), etag);  // stable
  SetMtimeAt(root_ + "/app.js", kFileTime, 1);    // one nanosecond later
  const std::string touched = Get("/app.js").Field("ETag");
  EXPECT_NE(touched, etag);
  // Replaced by rename with the same size and mtime (cp -p, rsync -t): a new inode.
  WriteAt(root_ + "/app.js.new", "console.log('IDENTITY');\n");
  SetMtimeAt(root_ + "/app.js.new", kFileTime, 1);
  ASSERT_EQ(rename((root_ + "/app.js.new").c_str(), (root_ + "/app.js").c_str()), 0);
  const Response replaced = Get("/app.js");
  EXPECT_EQ(replaced.body, "console.log('IDENTITY');\n");
  EXPECT_NE(replaced.Field("ETag"), touched);
  StaticRequest request = Request("/app.js");
  request.if_none_match = etag;
  EXPECT_EQ(Fetch(request).status, 200);
}

TEST_F(StaticFilesTest, IfModifiedSince) {
  const auto fetch_since = [&](const std::string& since, std::string_view if_none_match = {}) {
    StaticRequest request = Request("/style.css");
    request.if_modified_since = since;
    request.if_none_match = if_none_match;
    return Fetch(request).status;
  };
  EXPECT_EQ(fetch_since(FormatHttpDate(kFileTime)), 304);
  EXPECT_EQ(fetch_since(FormatHttpDate(kFileTime + 3600)), 304);
  EXPECT_EQ(fetch_since("Sunday, 13-Sep-20 12:26:40 GMT"), 304);  // RFC 850 form
  EXPECT_EQ(fetch_since("Sun Sep 13 12:26:40 2020"), 304);        // asctime form
  EXPECT_EQ(fetch_since(FormatHttpDate(kFileTime - 1)), 200);
  EXPECT_EQ(fetch_since("not a date"), 200);
  EXPECT_EQ(fetch_since(FormatHttpDate(kNow + 60)), 200);  // in the future: invalid
  // If-None-Match decides when present, also when it does not match.
  EXPECT_EQ(fetch_since(FormatHttpDate(kFileTime), "\"other\""), 200);
  // Touched: modified since.
  SetMtimeAt(root_ + "/style.css", kFileTime + 10);
  EXPECT_EQ(fetch_since(FormatHttpDate(kFileTime)), 200);
  EXPECT_EQ(fetch_since(FormatHttpDate(kFileTime + 10)), 304);
}

TEST_F(StaticFilesTest, LastModifiedIsNeverAfterDate) {
  Write("future.txt", "from the future\n", kNow + 3600);
  const Response r = Get("/future.txt");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Field("Last-Modified"), r.Field("Date"));
}

TEST_F(StaticFilesTest, GzipChosenWhenAcceptedAndPresent) {
  const Response identity = Get("/app.js");
  for (const char* accept : {"gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.5", "*"}) {
    StaticRequest request = Request("/app.js?v=2");
    request.accept_encoding = accept;
    const Response r = Fetch(request);
    EXPECT_EQ(r.status, 200) << accept;
    EXPECT_EQ(r.Field("Content-Encoding"), "gzip") << accept;
    EXPECT_EQ(r.Field("Content-Type"), "text/javascript; charset=utf-8");
    EXPECT_EQ(r.Field("Vary"), "Accept-Encoding");
    EXPECT_EQ(r.body, "gzip bytes of app.js");
    EXPECT_NE(r.Field("ETag"), identity.Field("ETag"));
    EXPECT_EQ(identity.Field("Vary"), "Accept-Encoding");
  }
}

TEST_F(StaticFilesTest, GzipNotChosen) {
  const auto fetch = [&](std::string_view target, std::string_view accept) {
    StaticRequest request = Request(target);
    request.accept_encoding = accept;
    return Fetch(request);
  };
  for (const char* accept : {"gzip;q=0", "identity", "", "deflate, br", "*;q=0", "gzip;q=0, *"}) {
    const Response r = fetch("/app.js", accept);
    EXPECT_EQ(r.status, 200) << accept;
    EXPECT_FALSE(r.Has("Content-Encoding")) << accept;
    EXPECT_EQ(r.body, "console.log('identity');\n") << accept;
    EXPECT_EQ(r.Field("Vary"), "Accept-Encoding");
  }
  // No style.css.gz.
  const Response css = fetch("/style.css", "gzip");
  EXPECT_FALSE(css.Has("Content-Encoding"));
  EXPECT_EQ(css.Field("Vary"), "Accept-Encoding");
  // A folder named FILE.gz is no compressed variant.
  Write("folder.txt", "plain\n");
  fs::create_directories(root_ + "/folder.txt.gz");
  EXPECT_EQ(fetch("/folder.txt", "gzip").body, "plain\n");
  // A FILE.gz over the size limit is skipped, FILE is not.
  StaticFilesOptions options;
  options.file_max_bytes = 64;
  const auto small = Make(options);
  Write("big_gz.txt", "small\n");
  Write("big_gz.txt.gz", std::string(65, 'z'));
  StaticRequest request = Request("/big_gz.txt");
  request.accept_encoding = "gzip";
  const Response r = Fetch(*small, request);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "small\n");
}

TEST_F(StaticFilesTest, GzipVariantHasItsOwnValidator) {
  StaticRequest gzip = Request("/app.js");
  gzip.accept_encoding = "gzip";
  const std::string gzip_etag = Fetch(gzip).Field("ETag");
  gzip.if_none_match = gzip_etag;
  const Response not_modified = Fetch(gzip);
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_EQ(not_modified.Field("ETag"), gzip_etag);
  EXPECT_EQ(not_modified.Field("Content-Length"), "20");
  // The same tag from a client that takes identity only does not match identity.
  StaticRequest identity = Request("/app.js");
  identity.if_none_match = gzip_etag;
  const Response r = Fetch(identity);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "console.log('identity');\n");
}

TEST_F(StaticFilesTest, HeadHasFieldsWithoutBody) {
  const Response get = Get("/app.js");
  const Response head = Fetch(Request("/app.js", "HEAD"));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(head.Field("Content-Length"), "25");
  EXPECT_EQ(head.Field("ETag"), get.Field("ETag"));
  EXPECT_EQ(head.Field("Content-Type"), get.Field("Content-Type"));
  StaticRequest gzip = Request("/app.js", "HEAD");
  gzip.accept_encoding = "gzip";
  const Response head_gzip = Fetch(gzip);
  EXPECT_EQ(head_gzip.Field("Content-Length"), "20");
  EXPECT_EQ(head_gzip.Field("Content-Encoding"), "gzip");
  const Response missing = Fetch(Request("/missing", "HEAD"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.Field("Content-Length"), "10");  // "not found\n", not sent
  EXPECT_EQ(missing.body, "");
}

TEST_F(StaticFilesTest, OtherMethodsGet405) {
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "get", "head"}) {
    const Response r = Fetch(Request("/app.js", method));
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.Field("Allow"), "GET, HEAD");
    EXPECT_EQ(r.Field("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(r.body, "method not allowed\n");
    EXPECT_TRUE(r.result.close_connection);
  }
  EXPECT_EQ(Fetch(Request("*", "OPTIONS")).status, 405);
}

TEST_F(StaticFilesTest, TraversalAttemptsAreRefused) {
  for (const char* target :
       {"/../etc/passwd", "/a/../../x", "/%2e%2e/x", "/%2e%2e/outside/secret.txt",
        "/../outside/secret.txt", "/a/..%2f..%2foutside/secret.txt", "/a%2fb", "/a%2Fb", "/a%00b",
        "/index.html%00.txt", "/..%5cx", "/..%5c..%5coutside%5csecret.txt", "/a\\b",
        "/..\\outside\\secret.txt", "*", "http://localhost/index.html", "/a%zz", "/a b"}) {
    const Response r = Get(target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(r.body, "bad request\n");
    EXPECT_EQ(r.Field("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(r.Field("Cache-Control"), "no-store");
    EXPECT_TRUE(r.result.close_connection);
    EXPECT_FALSE(r.result.reason.empty());
  }
  // Double encoding decodes once: "%252e%252e" is the folder literally named "%2e%2e".
  const Response literal = Get("/%252e%252e/x");
  EXPECT_EQ(literal.status, 200);
  EXPECT_EQ(literal.body, "literal\n");
  // Dot segments that stay inside are fine.
  EXPECT_EQ(Get("/a/../index.html").body, "<h1>home</h1>\n");
  EXPECT_EQ(Get("/a/./b.txt").body, "b\n");
  EXPECT_EQ(Get("/" + std::string(kTargetMaxBytes, 'a')).status, 414);
}

TEST_F(StaticFilesTest, HiddenFilesAre404) {
  for (const char* target :
       {"/.hidden", "/.git/config", "/.git/", "/.git", "/dir/.env", "/%2ehidden", "/dir/%2Eenv"}) {
    const Response r = Get(target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.body, "not found\n");
  }
}

TEST_F(StaticFilesTest, FoldersRedirectAndServeTheirIndex) {
  const Response redirect = Get("/dir");
  EXPECT_EQ(redirect.status, 301);
  EXPECT_EQ(redirect.Field("Location"), "/dir/");
  EXPECT_EQ(redirect.Field("Cache-Control"), "no-cache");
  EXPECT_FALSE(redirect.result.close_connection);
  EXPECT_EQ(Get("/dir?room=1").Field("Location"), "/dir/?room=1");
  EXPECT_EQ(Get("/a/../dir").Field("Location"), "/dir/");
  EXPECT_EQ(Get("//dir").Field("Location"), "/dir/");  // never "//": no open redirect
  EXPECT_EQ(Get("/%252e%252e").Field("Location"), "/%252e%252e/");
  const Response index = Get("/dir/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<p>dir</p>\n");
  EXPECT_EQ(index.Field("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(Get("/").body, "<h1>home</h1>\n");
  EXPECT_EQ(Get("/?x=1").body, "<h1>home</h1>\n");
  EXPECT_EQ(Get("/dir/.").body, "<p>dir</p>\n");
  EXPECT_EQ(Get("/empty_dir/").status, 404);
  EXPECT_EQ(Get("/empty_dir").status, 301);
  EXPECT_EQ(Get("/index.html/").status, 404);
  // An index that is a folder is no index.
  fs::create_directories(root_ + "/odd/index.html");
  EXPECT_EQ(Get("/odd/").status, 404);

  StaticFilesOptions options;
  options.index_file = "home.htm";
  const auto custom = Make(options);
  Write("home.htm", "custom\n");
  EXPECT_EQ(Fetch(*custom, Request("/")).body, "custom\n");
  EXPECT_EQ(Fetch(*custom, Request("/dir/")).status, 404);

  options = {};
  options.directory_index = false;
  const auto no_index = Make(options);
  EXPECT_EQ(Fetch(*no_index, Request("/")).status, 404);
  EXPECT_EQ(Fetch(*no_index, Request("/dir/")).status, 404);
  EXPECT_EQ(Fetch(*no_index, Request("/dir")).status, 404);
  EXPECT_EQ(Fetch(*no_index, Request("/dir/index.html")).status, 200);
}

TEST_F(StaticFilesTest, QueryStringIsIgnored) {
  const Response r = Get("/style.css?v=1.2.3&x=/../../etc/passwd");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "body { margin: 0 }\n");
  EXPECT_EQ(r.Field("ETag"), Get("/style.css").Field("ETag"));
}

TEST_F(StaticFilesTest, FilesOverTheSizeLimitAre500) {
  StaticFilesOptions options;
  options.file_max_bytes = 1024;
  const auto files = Make(options);
  Write("exact.bin", std::string(1024, 'x'));
  Write("big.bin", std::string(1025, 'x'));
  const Response exact = Fetch(*files, Request("/exact.bin"));
  EXPECT_EQ(exact.status, 200);
  EXPECT_EQ(exact.body.size(), 1024u);
  const Response big = Fetch(*files, Request("/big.bin"));
  EXPECT_EQ(big.status, 500);
  EXPECT_EQ(big.body, "internal server error\n");
  EXPECT_EQ(big.result.reason, "file larger than file_max_bytes");
  EXPECT_FALSE(big.result.close_connection);
  const Response head = Fetch(*files, Request("/big.bin", "HEAD"));
  EXPECT_EQ(head.status, 500);
  EXPECT_EQ(head.body, "");
  // The default limit: 16 MiB.
  EXPECT_EQ(files_->options().file_max_bytes, 16u << 20);
}

TEST_F(StaticFilesTest, OnlyRegularFiles) {
  ASSERT_EQ(mkfifo((root_ + "/fifo").c_str(), 0644), 0);
  const Response fifo = Get("/fifo");  // does not wait for a writer
  EXPECT_EQ(fifo.status, 404);
  EXPECT_EQ(fifo.result.reason, "not a regular file");
}

TEST_F(StaticFilesTest, UnreadableFileIs403) {
  if (geteuid() == 0) {
    GTEST_SKIP() << "root reads every file";
  }
  Write("unreadable.txt", "x");
  fs::permissions(root_ + "/unreadable.txt", fs::perms::none);
  const Response r = Get("/unreadable.txt");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.result.os_error, EACCES);
}

TEST_F(StaticFilesTest, CacheControlMaxAge) {
  StaticFilesOptions options;
  options.cache_max_age_s = 3600;
  const auto files = Make(options);
  EXPECT_EQ(Fetch(*files, Request("/app.js")).Field("Cache-Control"), "max-age=3600");
  EXPECT_EQ(Fetch(*files, Request("/")).Field("Cache-Control"), "no-cache");
  EXPECT_EQ(Fetch(*files, Request("/index.html")).Field("Cache-Control"), "no-cache");
  EXPECT_EQ(Fetch(*files, Request("/missing")).Field("Cache-Control"), "no-store");
}

TEST_F(StaticFilesTest, RootValidation) {
  StaticFilesOptions options;
  options.http_root = base_ + "/missing";
  EXPECT_EQ(CreateError(options), "http_root " + base_ + "/missing: No such file or directory");
  options.http_root = root_ + "/index.html";
  EXPECT_EQ(CreateError(options), "http_root " + root_ + "/index.html: Not a directory");
  options.http_root = root_ + "/index.html/x";
  EXPECT_EQ(CreateError(options), "http_root " + root_ + "/index.html/x: Not a directory");
  options.http_root = "";
  EXPECT_EQ(CreateError(options), "http_root: empty path");

  for (const char* index : {"", "a/b", ".index.html", "..", "/index.html"}) {
    options = {};
    options.http_root = root_;
    options.index_file = index;
    EXPECT_EQ(CreateError(options).substr(0, 11), "index_file ") << index;
  }
  options = {};
  options.http_root = root_;
  options.file_max_bytes = 0;
  EXPECT_EQ(CreateError(options), "file_max_bytes 0: must be between 1 and 1073741824");
  options.file_max_bytes = kFileMaxBytesLimit + 1;
  EXPECT_EQ(CreateError(options), "file_max_bytes 1073741825: must be between 1 and 1073741824");
  options.file_max_bytes = kFileMaxBytesLimit;
  options.cache_max_age_s = kCacheMaxAgeLimitS + 1;
  EXPECT_EQ(CreateError(options), "cache_max_age_s 31536001: must be at most 31536000 (one year)");

  // The root is resolved once: through a symlink, with dot segments and a trailing '/'.
  ASSERT_EQ(symlink(root_.c_str(), (base_ + "/root_link").c_str()), 0);
  char real[PATH_MAX];
  ASSERT_NE(realpath(root_.c_str(), real), nullptr);
  for (const std::string& given :
       {base_ + "/root_link", base_ + "/root/../root/", base_ + "/root_link/"}) {
    options = {};
    options.http_root = given;
    const auto files = Make(options);
    ASSERT_NE(files, nullptr);
    EXPECT_EQ(files->root(), real) << given;
    EXPECT_EQ(Fetch(*files, Request("/app.js")).status, 200);
  }
}

TEST_F(StaticFilesTest, Openat2IsUsedWhereAvailable) {
  // The same probe as Create's, made here directly.
  open_how how = {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH;
  const int fd = static_cast<int>(syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof(how)));
  if (fd < 0) {
    EXPECT_EQ(files_->resolution(), Resolution::kRealpathPrefix);
    GTEST_SKIP() << "openat2 unavailable here (" << std::strerror(errno)
                 << "): the realpath fallback is in use";
  }
  close(fd);
  EXPECT_EQ(files_->resolution(), Resolution::kOpenat2Beneath);
}

TEST_F(StaticFilesTest, ServeWithTheSystemClock) {
  std::string bytes;
  const ServeResult result = files_->Serve(Request("/app.js"), &bytes);
  EXPECT_EQ(result.status, 200);
  const Response r = ParseResponse(bytes);
  const std::optional<int64_t> date = ParseHttpDate(r.Field("Date"));
  ASSERT_TRUE(date.has_value());
  EXPECT_LE(std::abs(*date - static_cast<int64_t>(time(nullptr))), 5);
}

// Symlinks, under both ways of opening below the root.
class StaticFilesSymlinkTest : public StaticFilesTest,
                               public ::testing::WithParamInterface<Resolution> {
 protected:
  void SetUp() override {
    StaticFilesTest::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    if (GetParam() == Resolution::kRealpathPrefix) {
      files_->UseRealpathResolutionForTest();
    } else if (files_->resolution() != Resolution::kOpenat2Beneath) {
      GTEST_SKIP() << "openat2 unavailable here";
    }
    Symlink("app.js", "link_inside.js");
    Symlink("dir", "link_dir");
    Symlink("..", "dir/up");
    Symlink(root_ + "/app.js", "link_absolute_inside.js");
    Symlink("../outside/secret.txt", "link_out.txt");
    Symlink(base_ + "/outside/secret.txt", "link_out_absolute.txt");
    Symlink("../outside", "link_out_dir");
    Symlink("../..", "dir/up2");
    Symlink("/etc/passwd", "passwd");
    Symlink("/proc/self/root/etc/passwd", "proc_passwd");
    Symlink("loop", "loop");
    Write("page.html", "<p>page</p>\n");
    Symlink("../outside/secret.txt", "page.html.gz");
    fs::create_directories(root_ + "/out_index");
    Symlink("../../outside/secret.txt", "out_index/index.html");
  }
};

TEST_P(StaticFilesSymlinkTest, InsideServedOutsideNot) {
  EXPECT_EQ(Get("/link_inside.js").body, "console.log('identity');\n");
  EXPECT_EQ(Get("/link_dir/").body, "<p>dir</p>\n");
  EXPECT_EQ(Get("/link_dir").status, 301);
  EXPECT_EQ(Get("/dir/up/app.js").body, "console.log('identity');\n");
  for (const char* target : {"/link_out.txt", "/link_out_absolute.txt", "/link_out_dir/secret.txt",
                             "/link_out_dir/", "/link_out_dir", "/dir/up2/outside/secret.txt",
                             "/passwd", "/proc_passwd", "/loop", "/out_index/"}) {
    const Response r = Get(target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.body, "not found\n");
  }
  // FILE.gz leading outside: FILE itself is served.
  StaticRequest request = Request("/page.html");
  request.accept_encoding = "gzip";
  const Response page = Fetch(request);
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.body, "<p>page</p>\n");
  EXPECT_FALSE(page.Has("Content-Encoding"));
}

TEST_P(StaticFilesSymlinkTest, AbsoluteSymlinkInsideTheRoot) {
  // RESOLVE_BENEATH refuses absolute symlinks; realpath() resolves them (static_files.h).
  const Response r = Get("/link_absolute_inside.js");
  if (GetParam() == Resolution::kOpenat2Beneath) {
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.result.os_error, EXDEV);
  } else {
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "console.log('identity');\n");
  }
}

INSTANTIATE_TEST_SUITE_P(Resolutions, StaticFilesSymlinkTest,
                         ::testing::Values(Resolution::kOpenat2Beneath,
                                           Resolution::kRealpathPrefix),
                         [](const ::testing::TestParamInfo<Resolution>& param_info) {
                           return param_info.param == Resolution::kOpenat2Beneath ? "Openat2"
                                                                                  : "Realpath";
                         });

}  // namespace
}  // namespace ringmq::websocket::http
