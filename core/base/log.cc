#include "core/base/log.h"

#include <time.h>
#include <unistd.h>

#include <span>
#include <string>

#include "core/base/clock.h"

namespace ringmq::base {

std::atomic<int> g_log_level{static_cast<int>(LogLevel::kInfo)};

namespace {
std::atomic<int> g_log_format{static_cast<int>(LogFormat::kText)};
thread_local int log_shard = -1;

int64_t UnixMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// One write(2) per record keeps lines whole when several threads log at once.
void WriteLine(std::string line) {
  line.push_back('\n');
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) {
      break;
    }
    off += static_cast<size_t>(n);
  }
}

void Write(LogLevel level, std::string_view event, std::string_view message,
           std::span<const LogField> fields) {
  LogRecord r;
  r.unix_ms = UnixMs();
  r.level = level;
  r.shard = log_shard;
  r.event = event;
  r.message = message;
  r.fields = fields;
  const auto format = static_cast<LogFormat>(g_log_format.load(std::memory_order_relaxed));
  WriteLine(FormatLogRecord(format, r));
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

void SetLogFormat(LogFormat format) {
  g_log_format.store(static_cast<int>(format), std::memory_order_relaxed);
}

void LogLine(LogLevel level, std::string_view message) {
  Write(level, {}, message, {});
}

void LogEvent(LogLevel level, std::string_view event, std::string_view message,
              std::initializer_list<LogField> fields) {
  Write(level, event, message, std::span<const LogField>(fields.begin(), fields.size()));
}

void LogSuppressed(LogLevel level, std::string_view event, uint64_t count) {
  LogEvent(level, "log_suppressed", "records suppressed (rate limit)",
           {{"for", std::string(event)}, {"count", absl::StrFormat("%d", count)}});
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

bool LogBurstLimit::Allow(uint64_t* suppressed) {
  const int64_t now = MonotonicNs();
  int64_t end = window_end_ns_.load(std::memory_order_relaxed);
  if (now >= end &&
      window_end_ns_.compare_exchange_strong(end, now + 1'000'000'000, std::memory_order_relaxed)) {
    used_.store(0, std::memory_order_relaxed);  // a new second (a racing record may miss it)
  }
  if (used_.fetch_add(1, std::memory_order_relaxed) >= per_second_) {
    skipped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  *suppressed = skipped_.exchange(0, std::memory_order_relaxed);
  return true;
}

}  // namespace ringmq::base
