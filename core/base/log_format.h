// How one log record becomes one line: the three formats of --log-format. Pure functions:
// any thread; log.cc calls them for every record, the unit test calls them directly.
//
//   text    2026-11-24T15:46:01.123Z I shard=1 refusing a CONNECT client_id=a reason=0x87
//           (today's format; an event's fields follow its message as key=value)
//   logfmt  time=2026-11-24T15:46:01.123Z level=info shard=1 event=connect_refused
//           msg="refusing a CONNECT" client_id=a reason=0x87
//   json    {"time":"2026-11-24T15:46:01.123Z","level":"info","shard":1,
//            "event":"connect_refused","msg":"refusing a CONNECT","client_id":"a",...}
//
// In logfmt a value is quoted when it is empty or holds a space, '=', '"', '\' or a control
// character; inside quotes '"' and '\' are escaped and control characters written as \n, \t
// or \u00XX. In json every value is a string but for "shard" (a number); RapidJSON escapes
// them, and bytes that are not UTF-8 become '?'.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ringmq::base {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

enum class LogFormat : int { kText = 0, kLogfmt = 1, kJson = 2 };

// Parses "text", "logfmt", "json". Returns false on anything else.
bool ParseLogFormat(std::string_view text, LogFormat* out);

// One key=value of a structured record. The key is a constant identifier (no quoting).
struct LogField {
  std::string_view key;
  std::string value;
};

struct LogRecord {
  int64_t unix_ms = 0;  // wall clock
  LogLevel level = LogLevel::kInfo;
  int shard = -1;          // -1: not a shard thread
  std::string_view event;  // empty: a plain message
  std::string_view message;
  std::span<const LogField> fields;
};

// The record as one line, without the newline.
std::string FormatLogRecord(LogFormat format, const LogRecord& r);

// Appends `value` as logfmt writes it (quoted when needed). Exposed for the unit test.
void AppendLogfmtValue(std::string* out, std::string_view value);

}  // namespace ringmq::base
