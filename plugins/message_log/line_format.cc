#include "line_format.h"

#include <sodium.h>
#include <time.h>

#include <cstdio>

// Both header-only. nlohmann is built with JSON_NOEXCEPTION (meson.build): an error would
// abort, so it only sees what cannot fail (invalid UTF-8 is replaced: error_handler_t::replace).
#include <rapidjson/writer.h>

#include <nlohmann/json.hpp>

namespace ringmq::message_log {
namespace {

// The length of the sequence a lead byte starts, or 0 for a byte that cannot start one.
size_t SequenceLength(unsigned char c) {
  if (c < 0x80) {
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    return 4;
  }
  return 0;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    const size_t len = SequenceLength(c);
    if (len == 0 || i + len > n) {
      return false;
    }
    // The second byte's range depends on the lead byte (overlong forms, surrogates, >10FFFF).
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c == 0xE0) {
      lo = 0xA0;
    } else if (c == 0xED) {
      hi = 0x9F;
    } else if (c == 0xF0) {
      lo = 0x90;
    } else if (c == 0xF4) {
      hi = 0x8F;
    }
    for (size_t k = 1; k < len; ++k) {
      const unsigned char b = p[i + k];
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
        return false;
      }
    }
    i += len;
  }
  return true;
}

std::string_view WithoutCutSequence(std::string_view s) {
  // Look back over at most three continuation bytes for the lead byte of the last sequence.
  for (size_t back = 1; back <= 4 && back <= s.size(); ++back) {
    const auto c = static_cast<unsigned char>(s[s.size() - back]);
    if ((c & 0xC0) != 0x80) {
      const size_t len = SequenceLength(c);
      return len > back ? s.substr(0, s.size() - back) : s;
    }
  }
  return s;
}

std::string_view EventName(Event e) {
  switch (e) {
    case Event::kPublished:
      return "published";
    case Event::kDelivered:
      return "delivered";
    case Event::kDropped:
      return "dropped";
  }
  return "other";
}

std::string_view DropReasonName(uint32_t reason) {
  switch (reason) {
    case RINGMQ_DROP_OFFLINE:
      return "offline";
    case RINGMQ_DROP_SLOW_CONSUMER:
      return "slow_consumer";
    case RINGMQ_DROP_QUEUE_FULL:
      return "queue_full";
    case RINGMQ_DROP_EXPIRED:
      return "expired";
    case RINGMQ_DROP_TOO_LARGE:
      return "too_large";
    case RINGMQ_DROP_NOT_STORED:
      return "not_stored";
    default:
      return "other";  // an enum value newer than this plugin (plugin.h: unknown is "other")
  }
}

std::string_view LineFormatter::Time(int64_t unix_ms) {
  int64_t s = unix_ms / 1000;
  int64_t ms = unix_ms % 1000;
  if (ms < 0) {
    s -= 1;
    ms += 1000;
  }
  if (s != cached_s_) {
    const time_t t = static_cast<time_t>(s);
    tm utc{};
    gmtime_r(&t, &utc);
    strftime(time_, sizeof(time_), "%Y-%m-%dT%H:%M:%S.000Z", &utc);
    cached_s_ = s;
  }
  // Only the milliseconds change within a second: ".mmmZ" is the last five characters.
  const size_t len = std::char_traits<char>::length(time_);
  time_[len - 4] = static_cast<char>('0' + ms / 100);
  time_[len - 3] = static_cast<char>('0' + ms / 10 % 10);
  time_[len - 2] = static_cast<char>('0' + ms % 10);
  return {time_, len};
}

namespace {

// One JSON object written straight into the caller's buffer (no line object, no allocation
// once the buffer has grown). RapidJSON's writer escapes and writes each value; the braces,
// commas and the constant keys are written here. Each value is written by the writer as a
// root value (Reset before each): RapidJSON 1.1.0 (Debian 12) does arithmetic on a null
// pointer the first time its nesting stack grows (StartObject), which UBSan reports, and a
// root value never touches that stack.
class LineWriter {
 public:
  explicit LineWriter(std::string* out) : out_(out), sink_{out}, w_(sink_) { out_->push_back('{'); }
  void End() { out_->append("}\n"); }

  void Key(std::string_view k) {  // a constant: nothing to escape
    out_->append(first_ ? "\"" : ",\"");
    out_->append(k);
    out_->append("\":");
    first_ = false;
  }
  // RapidJSON copies bytes as they are; a string that is not valid UTF-8 goes through
  // nlohmann's dump, which writes U+FFFD for each invalid byte (rare: the broker only lets
  // valid UTF-8 into client ids, user names and topics, so this is the utf8 payload's path).
  void String(std::string_view v) {
    if (IsValidUtf8(v)) {
      Writer().String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
      return;
    }
    out_->append(nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  void StringOrNull(bool present, std::string_view v) {
    if (present) {
      String(v);
    } else {
      out_->append("null");
    }
  }
  void Bool(bool b) { out_->append(b ? "true" : "false"); }
  void Uint(uint64_t n) { Writer().Uint64(n); }

 private:
  struct StringOut {
    using Ch = char;
    std::string* s;
    void Put(char c) { s->push_back(c); }
    void Flush() {}
  };
  rapidjson::Writer<StringOut>& Writer() {
    w_.Reset(sink_);
    return w_;
  }

  std::string* out_;
  StringOut sink_;
  rapidjson::Writer<StringOut> w_;
  bool first_ = true;
};

// payload, encoding, truncated. `base64` is the formatter's reused buffer.
void AppendPayload(LineWriter& w, const Record& r, std::string* base64) {
  std::string_view payload = r.payload();
  bool utf8 = r.payload_mode == PayloadMode::kUtf8;
  if (r.payload_mode == PayloadMode::kAuto) {
    const std::string_view whole = r.truncated ? WithoutCutSequence(payload) : payload;
    utf8 = IsValidUtf8(whole);
    if (utf8) {
      payload = whole;
    }
  } else if (utf8 && r.truncated) {
    payload = WithoutCutSequence(payload);
  }
  w.Key("payload");
  if (utf8) {
    w.String(payload);
  } else {
    base64->resize(sodium_base64_ENCODED_LEN(payload.size(), sodium_base64_VARIANT_ORIGINAL));
    sodium_bin2base64(base64->data(), base64->size(),
                      reinterpret_cast<const unsigned char*>(payload.data()), payload.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    w.String({base64->data(), base64->size() - 1});  // without the NUL
  }
  w.Key("encoding");
  w.String(utf8 ? "utf8" : "base64");
  w.Key("truncated");
  w.Bool(r.truncated);
}

}  // namespace

void LineFormatter::Append(const Record& r, std::string* out) {
  LineWriter w(out);
  w.Key("time");
  w.String(Time(r.time_ms));
  w.Key("event");
  w.String(EventName(r.event));
  if (r.event == Event::kDropped) {
    w.Key("reason");
    w.String(DropReasonName(r.drop_reason));
  }
  w.Key("client_id");
  w.StringOrNull(r.has_client, r.client_id());
  w.Key("username");
  w.StringOrNull(r.has_username, r.username());
  w.Key("topic");
  w.String(r.topic());
  w.Key("qos");
  w.Uint(r.qos);
  w.Key("retain");
  w.Bool(r.retain);
  w.Key("size");
  w.Uint(r.payload_size);
  if (r.payload_mode != PayloadMode::kNone) {
    AppendPayload(w, r, &base64_);
  }
  w.End();
}

}  // namespace ringmq::message_log
