// Leveled logging to stderr. Any thread.
//
// One line per record: "2026-11-24T15:46:01.123Z I shard=1 accepted 12 connections".
// The level check is a relaxed atomic load, so a disabled RINGMQ_LOG costs one compare and
// never formats its arguments. RINGMQ_LOG_EVERY_S limits a call site to one record per
// interval (environment errors on hot paths: ENOBUFS, full mailboxes) and reports how many
// it suppressed.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "absl/strings/str_format.h"

namespace ringmq::base {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

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

void LogLine(LogLevel level, std::string_view message);

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
