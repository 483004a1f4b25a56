// HTTP-dates (checked against gmtime_r), If-None-Match and Accept-Encoding.
#include "plugins/websocket/http/http_fields.h"

#include <time.h>

#include <cstdint>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace ringmq::websocket::http {
namespace {

constexpr int64_t kRfcExample = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110 5.6.7)

TEST(HttpDateTest, FormatsImfFixdate) {
  EXPECT_EQ(FormatHttpDate(kRfcExample), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(FormatHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(1709164800), "Thu, 29 Feb 2024 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(1700000000), "Tue, 14 Nov 2023 22:13:20 GMT");
  EXPECT_EQ(FormatHttpDate(-5), "Thu, 01 Jan 1970 00:00:00 GMT");  // clamped
  EXPECT_EQ(FormatHttpDate(INT64_MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
  std::string out = "x";
  AppendHttpDate(kRfcExample, &out);
  EXPECT_EQ(out.size(), 30u);
}

TEST(HttpDateTest, FormatAgreesWithGmtime) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int64_t> dist(0, 253402300799);
  for (int i = 0; i < 20000; ++i) {
    const int64_t t = i < 1000 ? int64_t{i} * 86399 : dist(rng);
    const time_t tt = static_cast<time_t>(t);
    struct tm tm = {};
    ASSERT_NE(gmtime_r(&tt, &tm), nullptr);
    static const char* const day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* const month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char expected[64];
    snprintf(expected, sizeof(expected), "%s, %02d %s %04d %02d:%02d:%02d GMT",
             day_names[tm.tm_wday], tm.tm_mday, month_names[tm.tm_mon], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    ASSERT_EQ(FormatHttpDate(t), expected) << t;
    ASSERT_EQ(ParseHttpDate(expected), t) << expected;
  }
}

TEST(HttpDateTest, ParsesAllThreeForms) {
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), kRfcExample);
  EXPECT_EQ(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), kRfcExample);
  EXPECT_EQ(ParseHttpDate("Sun Nov  6 08:49:37 1994"), kRfcExample);
  EXPECT_EQ(ParseHttpDate("Sun Nov 16 08:49:37 1994"), kRfcExample + int64_t{10} * 86400);
  EXPECT_EQ(ParseHttpDate("  Sun, 06 Nov 1994 08:49:37 GMT "), kRfcExample);  // OWS
  EXPECT_EQ(ParseHttpDate("Thursday, 01-Jan-70 00:00:00 GMT"), 0);
  EXPECT_EQ(ParseHttpDate("Monday, 14-Nov-23 22:13:20 GMT"), 1700000000);  // 2023
  // The day name is read, not checked against the date.
  EXPECT_EQ(ParseHttpDate("Mon, 06 Nov 1994 08:49:37 GMT"), kRfcExample);
}

TEST(HttpDateTest, RefusesWhatIsNotADate) {
  for (const char* text : {"", "yesterday", "Sun, 06 Nov 1994 08:49:37 UTC",
                           "Sun, 06 Nov 1994 08:49:37 GMT+1", "Sun, 6 Nov 1994 08:49:37 GMT",
                           "sun, 06 Nov 1994 08:49:37 GMT", "Sun, 06 nov 1994 08:49:37 GMT",
                           "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 29 Feb 2023 08:49:37 GMT",
                           "Sun, 00 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
                           "Sun, 06 Nov 1994 23:60:00 GMT", "Sun, 06 Nov 94 08:49:37 GMT",
                           "Sun,06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-1994 08:49:37 GMT",
                           "Sun Nov 6 08:49:37 1994", "1994-11-06T08:49:37Z", "784111777"}) {
    EXPECT_EQ(ParseHttpDate(text), std::nullopt) << text;
  }
}

TEST(IfNoneMatchTest, WeakComparison) {
  const std::string_view etag = "\"abc\"";
  EXPECT_TRUE(IfNoneMatchMatches("\"abc\"", etag));
  EXPECT_TRUE(IfNoneMatchMatches("W/\"abc\"", etag));
  EXPECT_TRUE(IfNoneMatchMatches("\"x\", \"abc\"", etag));
  EXPECT_TRUE(IfNoneMatchMatches("\"x\",W/\"abc\" , \"y\"", etag));
  EXPECT_TRUE(IfNoneMatchMatches("*", etag));
  EXPECT_TRUE(IfNoneMatchMatches(" * ", etag));
  EXPECT_FALSE(IfNoneMatchMatches("\"abcd\"", etag));
  EXPECT_FALSE(IfNoneMatchMatches("\"ab\"", etag));
  EXPECT_FALSE(IfNoneMatchMatches("abc", etag));        // not quoted
  EXPECT_FALSE(IfNoneMatchMatches("w/\"abc\"", etag));  // "W/" is case-sensitive
  EXPECT_FALSE(IfNoneMatchMatches("\"ABC\"", etag));    // opaque tags are compared exactly
  EXPECT_FALSE(IfNoneMatchMatches("\"abc", etag));      // unterminated
  EXPECT_FALSE(IfNoneMatchMatches("", etag));
  EXPECT_FALSE(IfNoneMatchMatches("\"a,\"", "\"a\""));  // a comma inside a tag is part of it
  EXPECT_TRUE(IfNoneMatchMatches("\"a,b\"", "\"a,b\""));
  EXPECT_TRUE(IfNoneMatchMatches("junk, W/x, \"abc\"", etag));  // junk elements are skipped
  EXPECT_TRUE(IfNoneMatchMatches("\"abc\"", "W/\"abc\""));
}

TEST(AcceptEncodingTest, Gzip) {
  for (const char* yes : {"gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8, *;q=0.1", "GZIP",
                          "x-gzip", "*", "gzip;q=0.001", "gzip;level=9", "gzip ; q=1", "gzip;Q=0.5",
                          "identity;q=0, gzip", "deflate, *;q=0.5", "gzip;q=0, x-gzip;q=1"}) {
    EXPECT_TRUE(AcceptsGzip(yes)) << yes;
  }
  for (const char* no : {"", "identity", "deflate, br", "gzip;q=0", "gzip; q=0", "gzip;q=0.000",
                         "gzip;q=0., *", "*;q=0", "gzip;q=0, *", "*, gzip;q=0", "gzip;q=abc",
                         "gzip;q=1.5", "gzip;q=0.0001", "gzipx", "deflate, *;q=0"}) {
    EXPECT_FALSE(AcceptsGzip(no)) << no;
  }
}

}  // namespace
}  // namespace ringmq::websocket::http
