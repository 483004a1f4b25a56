#include "core/base/log_format.h"

#include <rapidjson/writer.h>
#include <time.h>

#include "absl/strings/str_format.h"

namespace ringmq::base {
namespace {

char LevelLetter(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return 'D';
    case LogLevel::kInfo:
      return 'I';
    case LogLevel::kWarning:
      return 'W';
    case LogLevel::kError:
      return 'E';
    case LogLevel::kOff:
      break;
  }
  return '?';
}

std::string_view LevelWord(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      break;
  }
  return "unknown";
}

// 2026-11-24T15:46:01.123Z
std::string Timestamp(int64_t unix_ms) {
  const time_t s = static_cast<time_t>(unix_ms / 1000);
  tm utc;
  gmtime_r(&s, &utc);
  return absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                         utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                         static_cast<int>(unix_ms % 1000));
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) {
    return true;
  }
  for (unsigned char ch : v) {
    if (ch <= ' ' || ch == '=' || ch == '"' || ch == '\\' || ch == 0x7f) {
      return true;
    }
  }
  return false;
}

std::string FormatText(const LogRecord& r) {
  std::string line = absl::StrFormat("%s %c ", Timestamp(r.unix_ms), LevelLetter(r.level));
  if (r.shard >= 0) {
    absl::StrAppendFormat(&line, "shard=%d ", r.shard);
  }
  line.append(r.message);
  for (const LogField& f : r.fields) {
    absl::StrAppendFormat(&line, " %s=", f.key);
    AppendLogfmtValue(&line, f.value);
  }
  return line;
}

std::string FormatLogfmt(const LogRecord& r) {
  std::string line = absl::StrFormat("time=%s level=%s", Timestamp(r.unix_ms), LevelWord(r.level));
  if (r.shard >= 0) {
    absl::StrAppendFormat(&line, " shard=%d", r.shard);
  }
  if (!r.event.empty()) {
    line.append(" event=");
    AppendLogfmtValue(&line, r.event);
  }
  line.append(" msg=");
  AppendLogfmtValue(&line, r.message);
  for (const LogField& f : r.fields) {
    absl::StrAppendFormat(&line, " %s=", f.key);
    AppendLogfmtValue(&line, f.value);
  }
  return line;
}

// One JSON object. RapidJSON writes (and escapes) each value as a root value of its own,
// after a Reset: its nesting stack is never used (see plugins/message_log/line_format.cc on
// why that matters under UBSan). Keys are constant identifiers written here.
class JsonLine {
 public:
  explicit JsonLine(std::string* out) : out_(out), sink_{out}, w_(sink_) { out_->push_back('{'); }
  void End() { out_->push_back('}'); }
  void Key(std::string_view k) {
    out_->append(first_ ? "\"" : ",\"");
    out_->append(k);
    out_->append("\":");
    first_ = false;
  }
  void String(std::string_view v) {
    const size_t mark = out_->size();
    w_.Reset(sink_);
    if (!w_.String(v.data(), static_cast<rapidjson::SizeType>(v.size()))) {
      out_->resize(mark);  // not UTF-8: the bytes outside ASCII become '?'
      std::string ascii(v);
      for (char& ch : ascii) {
        if (static_cast<unsigned char>(ch) >= 0x80) {
          ch = '?';
        }
      }
      w_.Reset(sink_);
      w_.String(ascii.data(), static_cast<rapidjson::SizeType>(ascii.size()));
    }
  }
  void Int(int n) {
    w_.Reset(sink_);
    w_.Int(n);
  }

 private:
  struct StringOut {
    using Ch = char;
    std::string* s;
    void Put(char c) { s->push_back(c); }
    void Flush() {}
  };
  using Writer = rapidjson::Writer<StringOut, rapidjson::UTF8<>, rapidjson::UTF8<>,
                                   rapidjson::CrtAllocator, rapidjson::kWriteValidateEncodingFlag>;
  std::string* out_;
  StringOut sink_;
  Writer w_;
  bool first_ = true;
};

std::string FormatJson(const LogRecord& r) {
  std::string line;
  JsonLine j(&line);
  j.Key("time");
  j.String(Timestamp(r.unix_ms));
  j.Key("level");
  j.String(LevelWord(r.level));
  if (r.shard >= 0) {
    j.Key("shard");
    j.Int(r.shard);
  }
  if (!r.event.empty()) {
    j.Key("event");
    j.String(r.event);
  }
  j.Key("msg");
  j.String(r.message);
  for (const LogField& f : r.fields) {
    j.Key(f.key);
    j.String(f.value);
  }
  j.End();
  return line;
}

}  // namespace

bool ParseLogFormat(std::string_view text, LogFormat* out) {
  if (text == "text") {
    *out = LogFormat::kText;
  } else if (text == "logfmt") {
    *out = LogFormat::kLogfmt;
  } else if (text == "json") {
    *out = LogFormat::kJson;
  } else {
    return false;
  }
  return true;
}

void AppendLogfmtValue(std::string* out, std::string_view value) {
  if (!NeedsQuotes(value)) {
    out->append(value);
    return;
  }
  out->push_back('"');
  for (unsigned char ch : value) {
    if (ch == '"' || ch == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(ch));
    } else if (ch == '\n') {
      out->append("\\n");
    } else if (ch == '\t') {
      out->append("\\t");
    } else if (ch < ' ' || ch == 0x7f) {
      absl::StrAppendFormat(out, "\\u%04x", ch);
    } else {
      out->push_back(static_cast<char>(ch));
    }
  }
  out->push_back('"');
}

std::string FormatLogRecord(LogFormat format, const LogRecord& r) {
  switch (format) {
    case LogFormat::kLogfmt:
      return FormatLogfmt(r);
    case LogFormat::kJson:
      return FormatJson(r);
    case LogFormat::kText:
      break;
  }
  return FormatText(r);
}

}  // namespace ringmq::base
