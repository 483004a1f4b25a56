// Leveled logging to stderr. Any thread.
//
// One line per record: "2026-11-24T15:46:01.123Z I shard=1 accepted 12 connections" (the
// text format; --log-format logfmt or json write the same record as key=value pairs or as a
// JSON object: log_format.h).
// The level check is a relaxed atomic load, so a disabled RINGMQ_LOG costs one compare and
// never formats its arguments. RINGMQ_LOG_EVERY_S limits a call site to one record per
// interval (environment errors on hot paths: ENOBUFS, full mailboxes) and reports how many
// it suppressed. RINGMQ_LOG_EVENT writes a record with a name and fields (client_id=...,
// reason=...) that the structured formats keep apart, limited to a burst per second per call
// site; the records it suppressed are counted in one event=log_suppressed record written
// before its next one.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "absl/strings/str_format.h"

#include "core/base/log_format.h"

namespace ringmq::base {

// Parses "debug", "info", "warning"/"warn", "error", "off". Returns false on anything else.
bool ParseLogLevel(std::string_view text, LogLevel* out);

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
inline bool LogEnabled(LogLevel level) {
  extern std::atomic<int> g_log_level;
  return static_cast<int>(level) >= g_log_level.load(std::memory_order_relaxed);
}

// The shard index printed with each record of the calling thread (-1: not a shard thread).
void SetLogShard(int shard_index);

void SetLogFormat(LogFormat format);

void LogLine(LogLevel level, std::string_view message);
// A named record with fields, e.g. LogEvent(kInfo, "connect_refused", "refusing a CONNECT",
// {{"client_id", id}, {"reason", "0x87"}}).
void LogEvent(LogLevel level, std::string_view event, std::string_view message,
              std::initializer_list<LogField> fields);
// event=log_suppressed for=`event` count=`count`.
void LogSuppressed(LogLevel level, std::string_view event, uint64_t count);

// Rate limiter for one call site: allows one record per `interval_s`.
class LogRateLimit {
 public:
  // Returns true if a record may be written now; *suppressed gets the number of records
  // skipped since the last one that was written.
  bool Allow(double interval_s, uint64_t* suppressed);

 private:
  std::atomic<int64_t> next_ns_{0};
  std::atomic<uint64_t> skipped_{0};
};

// Rate limiter for one call site: allows `per_second` records in each second.
class LogBurstLimit {
 public:
  explicit constexpr LogBurstLimit(uint32_t per_second) : per_second_(per_second) {}
  // As LogRateLimit::Allow.
  bool Allow(uint64_t* suppressed);

 private:
  const uint32_t per_second_;
  std::atomic<int64_t> window_end_ns_{0};
  std::atomic<uint32_t> used_{0};
  std::atomic<uint64_t> skipped_{0};
};

}  // namespace ringmq::base

#define RINGMQ_LOG(level, ...)                                                                \
  do {                                                                                        \
    if (::ringmq::base::LogEnabled(::ringmq::base::LogLevel::level)) {                        \
      ::ringmq::base::LogLine(::ringmq::base::LogLevel::level, absl::StrFormat(__VA_ARGS__)); \
    }                                                                                         \
  } while (0)

#define RINGMQ_LOG_EVERY_S(level, interval_s, ...)                                           \
  do {                                                                                       \
    static ::ringmq::base::LogRateLimit ringmq_log_limit_;                                   \
    uint64_t ringmq_suppressed_ = 0;                                                         \
    if (::ringmq::base::LogEnabled(::ringmq::base::LogLevel::level) &&                       \
        ringmq_log_limit_.Allow((interval_s), &ringmq_suppressed_)) {                        \
      std::string ringmq_msg_ = absl::StrFormat(__VA_ARGS__);                                \
      if (ringmq_suppressed_ > 0) {                                                          \
        absl::StrAppendFormat(&ringmq_msg_, " (%d similar suppressed)", ringmq_suppressed_); \
      }                                                                                      \
      ::ringmq::base::LogLine(::ringmq::base::LogLevel::level, ringmq_msg_);                 \
    }                                                                                        \
  } while (0)

// RINGMQ_LOG_EVENT(kInfo, "connect_refused", "refusing a CONNECT", {{"client_id", id}, ...}):
// at most 20 records a second from one call site; the first one written after a burst is
// preceded by a record of its own with the count of those suppressed (event=log_suppressed).
#define RINGMQ_LOG_EVENT(level, event, message, ...)                                               \
  do {                                                                                             \
    static ::ringmq::base::LogBurstLimit ringmq_event_limit_(20);                                  \
    uint64_t ringmq_suppressed_ = 0;                                                               \
    if (::ringmq::base::LogEnabled(::ringmq::base::LogLevel::level) &&                             \
        ringmq_event_limit_.Allow(&ringmq_suppressed_)) {                                          \
      if (ringmq_suppressed_ > 0) {                                                                \
        ::ringmq::base::LogSuppressed(::ringmq::base::LogLevel::level, event, ringmq_suppressed_); \
      }                                                                                            \
      ::ringmq::base::LogEvent(::ringmq::base::LogLevel::level, event, message, __VA_ARGS__);      \
    }                                                                                              \
  } while (0)
