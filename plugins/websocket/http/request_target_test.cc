// ParseRequestTarget and EncodePath: origin-form, decoding once, dot segments, refusals.
#include "plugins/websocket/http/request_target.h"

#include <string>

#include <gtest/gtest.h>

namespace ringmq::websocket::http {
namespace {

struct Parsed {
  TargetStatus status;
  RequestPath path;
};

Parsed Parse(std::string_view target) {
  Parsed p;
  p.status = ParseRequestTarget(target, &p.path);
  return p;
}

// The relative path of a target that must parse.
std::string Relative(std::string_view target) {
  const Parsed p = Parse(target);
  EXPECT_EQ(p.status, TargetStatus::kOk) << target << ": " << TargetStatusName(p.status);
  return p.path.relative;
}

TEST(RequestTargetTest, PlainPaths) {
  EXPECT_EQ(Relative("/"), "");
  EXPECT_TRUE(Parse("/").path.trailing_slash);
  EXPECT_EQ(Relative("/index.html"), "index.html");
  EXPECT_FALSE(Parse("/index.html").path.trailing_slash);
  EXPECT_EQ(Relative("/js/app.js"), "js/app.js");
  EXPECT_EQ(Relative("/js/"), "js");
  EXPECT_TRUE(Parse("/js/").path.trailing_slash);
  EXPECT_EQ(Relative("//js///app.js"), "js/app.js");
  EXPECT_EQ(Relative("/caf%C3%A9.txt"), "caf\xC3\xA9.txt");
  EXPECT_EQ(Relative("/caf\xC3\xA9.txt"), "caf\xC3\xA9.txt");  // raw UTF-8, as curl sends it
  EXPECT_EQ(Relative("/a%20b"), "a b");
  EXPECT_EQ(Relative("/a+b"), "a+b");  // '+' is not a space in a path
}

TEST(RequestTargetTest, QueryIsCutOffAndKept) {
  const Parsed p = Parse("/app.js?v=3&x=/../..");
  ASSERT_EQ(p.status, TargetStatus::kOk);
  EXPECT_EQ(p.path.relative, "app.js");
  EXPECT_EQ(p.path.query, "v=3&x=/../..");
  EXPECT_EQ(Parse("/a?b?c").path.query, "b?c");
  EXPECT_EQ(Parse("/a?").path.query, "");
  EXPECT_EQ(Parse("/a").path.query, "");
  EXPECT_EQ(Relative("/dir/?x"), "dir");
  EXPECT_TRUE(Parse("/dir/?x").path.trailing_slash);
}

TEST(RequestTargetTest, DotSegmentsAreRemoved) {
  EXPECT_EQ(Relative("/a/./b"), "a/b");
  EXPECT_EQ(Relative("/./a"), "a");
  EXPECT_EQ(Relative("/a/../b"), "b");
  EXPECT_EQ(Relative("/a/b/../../c"), "c");
  EXPECT_EQ(Relative("/a/%2e%2e/b"), "b");  // decoded first: %2e%2e is ".."
  EXPECT_EQ(Relative("/a/%2E/b"), "a/b");
  EXPECT_EQ(Relative("/a/b/.."), "a");
  EXPECT_TRUE(Parse("/a/b/..").path.trailing_slash);
  EXPECT_EQ(Relative("/a/."), "a");
  EXPECT_TRUE(Parse("/a/.").path.trailing_slash);
  EXPECT_EQ(Relative("/a/.."), "");
  EXPECT_TRUE(Parse("/a/..").path.trailing_slash);
}

TEST(RequestTargetTest, LeavingTheRootIsRefused) {
  for (const char* target : {"/..", "/../", "/../etc/passwd", "/a/../../x", "/a/b/../../../x",
                             "/%2e%2e/x", "/%2E%2E/x", "/.%2e/x", "/%2e./x", "/./../x"}) {
    EXPECT_EQ(Parse(target).status, TargetStatus::kEscapesRoot) << target;
  }
}

TEST(RequestTargetTest, DoubleEncodingDecodesOnce) {
  EXPECT_EQ(Relative("/%252e%252e/x"), "%2e%2e/x");
  EXPECT_EQ(Relative("/a%252fb"), "a%2fb");
  EXPECT_EQ(Relative("/%2525"), "%25");
}

TEST(RequestTargetTest, SeparatorsAndNulFromDecodingAreRefused) {
  for (const char* target :
       {"/a%2fb", "/a%2Fb", "/%2f", "/..%2f..%2fetc", "/a%00b", "/a%00", "/..%5cx", "/a%5Cb",
        "/a%0d%0aSet-Cookie:x", "/a%01", "/a%7f", "/a\\b", "/..\\x", "/\\"}) {
    EXPECT_EQ(Parse(target).status, TargetStatus::kForbiddenByte) << target;
  }
}

TEST(RequestTargetTest, MalformedTargets) {
  for (std::string_view target :
       {std::string_view("/a%"), std::string_view("/a%2"), std::string_view("/a%zz"),
        std::string_view("/a%g0"), std::string_view("/a b"), std::string_view("/a#frag"),
        std::string_view("/a\tb"), std::string_view("/a\rb"), std::string_view("/a\nb"),
        std::string_view("/a\x7f"), std::string_view("/a?q\x01"), std::string_view("/a\0b", 4)}) {
    EXPECT_EQ(Parse(target).status, TargetStatus::kMalformed) << target;
  }
}

TEST(RequestTargetTest, OnlyOriginForm) {
  for (const char* target : {"", "*", "http://example.com/", "https://example.com/index.html",
                             "example.com:443", "index.html", "?x"}) {
    EXPECT_EQ(Parse(target).status, TargetStatus::kNotOriginForm) << target;
  }
}

TEST(RequestTargetTest, TooLong) {
  const std::string at_limit = "/" + std::string(kTargetMaxBytes - 1, 'a');
  EXPECT_EQ(Parse(at_limit).status, TargetStatus::kOk);
  EXPECT_EQ(Parse(at_limit + "a").status, TargetStatus::kTooLong);
}

TEST(RequestTargetTest, HiddenSegments) {
  for (const char* target : {"/.git/config", "/.env", "/a/.htpasswd", "/a/.b/c", "/%2egit/HEAD",
                             "/a/...b", "/.well-known/x"}) {
    EXPECT_EQ(Parse(target).status, TargetStatus::kHidden) << target;
  }
  // A hidden segment removed by ".." is no longer part of the path.
  EXPECT_EQ(Relative("/.git/../index.html"), "index.html");
}

TEST(RequestTargetTest, EncodePath) {
  EXPECT_EQ(EncodePath(""), "/");
  EXPECT_EQ(EncodePath("dir"), "/dir");
  EXPECT_EQ(EncodePath("a b/c\xC3\xA9"), "/a%20b/c%C3%A9");
  EXPECT_EQ(EncodePath("a:b@c/d;e=f,g!h$i&j'k(l)m*n+o~p_q-r.s"),
            "/a:b@c/d;e=f,g!h$i&j'k(l)m*n+o~p_q-r.s");
  EXPECT_EQ(EncodePath("%2e?#\"<>"), "/%252e%3F%23%22%3C%3E");
  // Whatever a parsed path holds, its encoding parses back to it.
  for (const char* target : {"/a%20b/c%C3%A9", "/%252e%252e/x", "/q%3Fx", "/h%23x"}) {
    const std::string relative = Relative(target);
    EXPECT_EQ(Relative(EncodePath(relative)), relative) << target;
  }
}

}  // namespace
}  // namespace ringmq::websocket::http
