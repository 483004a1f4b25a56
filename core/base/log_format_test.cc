#include "core/base/log_format.h"

#include <vector>

#include "gtest/gtest.h"

namespace ringmq::base {
namespace {

// 2026-11-24T15:46:01.123Z
constexpr int64_t kUnixMs = 1795535161123;

LogRecord Refusal(const std::vector<LogField>& fields) {
  LogRecord r;
  r.unix_ms = kUnixMs;
  r.level = LogLevel::kInfo;
  r.shard = 1;
  r.event = "connect_refused";
  r.message = "refusing a CONNECT";
  r.fields = fields;
  return r;
}

TEST(LogFormatTest, ParsesTheThreeNames) {
  LogFormat f;
  ASSERT_TRUE(ParseLogFormat("text", &f));
  EXPECT_EQ(f, LogFormat::kText);
  ASSERT_TRUE(ParseLogFormat("logfmt", &f));
  EXPECT_EQ(f, LogFormat::kLogfmt);
  ASSERT_TRUE(ParseLogFormat("json", &f));
  EXPECT_EQ(f, LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("JSON", &f));
  EXPECT_FALSE(ParseLogFormat("", &f));
}

TEST(LogFormatTest, TextIsTodaysFormat) {
  LogRecord r;
  r.unix_ms = kUnixMs;
  r.level = LogLevel::kWarning;
  r.message = "accepted 12 connections";
  EXPECT_EQ(FormatLogRecord(LogFormat::kText, r),
            "2026-11-24T15:46:01.123Z W accepted 12 connections");
  r.shard = 3;
  EXPECT_EQ(FormatLogRecord(LogFormat::kText, r),
            "2026-11-24T15:46:01.123Z W shard=3 accepted 12 connections");
}

TEST(LogFormatTest, TextAppendsAnEventsFields) {
  const std::vector<LogField> fields = {{"client_id", "a b"}, {"reason", "0x87"}};
  EXPECT_EQ(FormatLogRecord(LogFormat::kText, Refusal(fields)),
            "2026-11-24T15:46:01.123Z I shard=1 refusing a CONNECT client_id=\"a b\" reason=0x87");
}

TEST(LogFormatTest, LogfmtQuotesWhatNeedsIt) {
  const std::vector<LogField> fields = {{"client_id", "plain"},
                                        {"empty", ""},
                                        {"eq", "a=b"},
                                        {"quote", "say \"hi\"\\"},
                                        {"ctl", "line\nnext\t\x01"}};
  EXPECT_EQ(FormatLogRecord(LogFormat::kLogfmt, Refusal(fields)),
            "time=2026-11-24T15:46:01.123Z level=info shard=1 event=connect_refused "
            "msg=\"refusing a CONNECT\" client_id=plain empty=\"\" eq=\"a=b\" "
            "quote=\"say \\\"hi\\\"\\\\\" ctl=\"line\\nnext\\t\\u0001\"");
}

TEST(LogFormatTest, LogfmtOfAPlainMessageHasNoEvent) {
  LogRecord r;
  r.unix_ms = kUnixMs;
  r.level = LogLevel::kError;
  r.message = "stopped";
  EXPECT_EQ(FormatLogRecord(LogFormat::kLogfmt, r),
            "time=2026-11-24T15:46:01.123Z level=error msg=stopped");
}

TEST(LogFormatTest, JsonIsOneEscapedObject) {
  const std::vector<LogField> fields = {{"client_id", "q\"\\\n\x01"}, {"reason", "0x87"}};
  EXPECT_EQ(FormatLogRecord(LogFormat::kJson, Refusal(fields)),
            "{\"time\":\"2026-11-24T15:46:01.123Z\",\"level\":\"info\",\"shard\":1,"
            "\"event\":\"connect_refused\",\"msg\":\"refusing a CONNECT\","
            "\"client_id\":\"q\\\"\\\\\\n\\u0001\",\"reason\":\"0x87\"}");
}

TEST(LogFormatTest, JsonReplacesBytesThatAreNotUtf8) {
  const std::vector<LogField> fields = {{"client_id",
                                         "a\xff\xfe"
                                         "b"},
                                        {"ok", "\xc3\xa9"}};
  LogRecord r = Refusal(fields);
  r.shard = -1;
  EXPECT_EQ(FormatLogRecord(LogFormat::kJson, r),
            "{\"time\":\"2026-11-24T15:46:01.123Z\",\"level\":\"info\","
            "\"event\":\"connect_refused\",\"msg\":\"refusing a CONNECT\","
            "\"client_id\":\"a??b\",\"ok\":\"\xc3\xa9\"}");
}

}  // namespace
}  // namespace ringmq::base
