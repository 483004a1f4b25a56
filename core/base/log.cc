#include "core/base/log.h"

#include <time.h>
#include <unistd.h>

#include <string>

#include "core/base/clock.h"

namespace ringmq::base {

std::atomic<int> g_log_level{static_cast<int>(LogLevel::kInfo)};

namespace {
thread_local int log_shard = -1;

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
}  // namespace

bool ParseLogLevel(std::string_view text, LogLevel* out) {
  if (text == "debug") {
    *out = LogLevel::kDebug;
  } else if (text == "info") {
    *out = LogLevel::kInfo;
  } else if (text == "warning" || text == "warn") {
    *out = LogLevel::kWarning;
  } else if (text == "error") {
    *out = LogLevel::kError;
  } else if (text == "off") {
    *out = LogLevel::kOff;
  } else {
    return false;
  }
  return true;
}

void SetLogLevel(LogLevel level) {
  g_log_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

LogLevel GetLogLevel() {
  return static_cast<LogLevel>(g_log_level.load());
}

void SetLogShard(int shard_index) {
  log_shard = shard_index;
}

void LogLine(LogLevel level, std::string_view message) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc;
  gmtime_r(&ts.tv_sec, &utc);
  std::string line =
      absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %c ", utc.tm_year + 1900, utc.tm_mon + 1,
                      utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                      static_cast<int>(ts.tv_nsec / 1'000'000), LevelLetter(level));
  if (log_shard >= 0) {
    absl::StrAppendFormat(&line, "shard=%d ", log_shard);
  }
  line.append(message);
  line.push_back('\n');
  // One write(2) per record keeps lines whole when several threads log at once.
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) {
      break;
    }
    off += static_cast<size_t>(n);
  }
}

bool LogRateLimit::Allow(double interval_s, uint64_t* suppressed) {
  int64_t now = MonotonicNs();
  int64_t next = next_ns_.load(std::memory_order_relaxed);
  if (now < next ||
      !next_ns_.compare_exchange_strong(next, now + static_cast<int64_t>(interval_s * 1e9),
                                        std::memory_order_relaxed)) {
    skipped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  *suppressed = skipped_.exchange(0, std::memory_order_relaxed);
  return true;
}

}  // namespace ringmq::base
