// ContentTypeFor: every extension of the table, case, paths, defaults.
#include "plugins/websocket/http/content_type.h"

#include <string>

#include <gtest/gtest.h>

namespace ringmq::websocket::http {
namespace {

TEST(ContentTypeTest, EveryExtension) {
  const std::pair<const char*, const char*> cases[] = {
      {"a.html", "text/html; charset=utf-8"},
      {"a.htm", "text/html; charset=utf-8"},
      {"a.js", "text/javascript; charset=utf-8"},
      {"a.mjs", "text/javascript; charset=utf-8"},
      {"a.css", "text/css; charset=utf-8"},
      {"a.txt", "text/plain; charset=utf-8"},
      {"a.json", "application/json"},
      {"a.js.map", "application/json"},
      {"a.webmanifest", "application/manifest+json"},
      {"a.xml", "application/xml"},
      {"a.wasm", "application/wasm"},
      {"a.pdf", "application/pdf"},
      {"a.svg", "image/svg+xml"},
      {"a.png", "image/png"},
      {"a.jpg", "image/jpeg"},
      {"a.jpeg", "image/jpeg"},
      {"a.gif", "image/gif"},
      {"a.webp", "image/webp"},
      {"favicon.ico", "image/vnd.microsoft.icon"},
      {"a.woff", "font/woff"},
      {"a.woff2", "font/woff2"},
      {"a.ttf", "font/ttf"},
  };
  for (const auto& [name, type] : cases) {
    EXPECT_EQ(ContentTypeFor(name), type) << name;
  }
}

TEST(ContentTypeTest, CaseAndPaths) {
  EXPECT_EQ(ContentTypeFor("INDEX.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("Photo.JpEg"), "image/jpeg");
  EXPECT_EQ(ContentTypeFor("js/app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("a.html/readme"), "application/octet-stream");  // last segment only
  EXPECT_EQ(ContentTypeFor("dir.v2/app.css"), "text/css; charset=utf-8");
}

TEST(ContentTypeTest, DefaultIsOctetStream) {
  for (const char* name : {"Makefile", "a.", "a.gz", "a.tar.gz", "a.exe", "a.htmlx", "a.jsx",
                           "a.averyveryverylongextension", ""}) {
    EXPECT_EQ(ContentTypeFor(name), "application/octet-stream") << name;
  }
}

TEST(ContentTypeTest, TextTypesCarryCharset) {
  for (const char* name : {"a.html", "a.js", "a.css", "a.txt"}) {
    EXPECT_NE(std::string(ContentTypeFor(name)).find("; charset=utf-8"), std::string::npos);
  }
  for (const char* name : {"a.png", "a.json", "a.wasm", "a.bin"}) {
    EXPECT_EQ(std::string(ContentTypeFor(name)).find("charset"), std::string::npos);
  }
  EXPECT_TRUE(IsHtml(ContentTypeFor("a.htm")));
  EXPECT_FALSE(IsHtml(ContentTypeFor("a.js")));
}

}  // namespace
}  // namespace ringmq::websocket::http
