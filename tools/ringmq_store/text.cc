#include "tools/ringmq_store/text.h"

#include <time.h>

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_format.h"

namespace ringmq::tools::store {

std::string EscapeBytes(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (u > 0x20 && u < 0x7f && c != '\\') {
      out += c;
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", u);
    }
  }
  return out;
}

std::string IsoTimeMs(int64_t ms) {
  // Floor division, so that a time before the epoch still has 0..999 ms.
  const int64_t s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const time_t t = static_cast<time_t>(s);
  struct tm tm {};
  if (gmtime_r(&t, &tm) == nullptr) {
    return absl::StrFormat("%dms", ms);  // out of the calendar's range: show the raw value
  }
  return absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms - s * 1000);
}

void Table::Print() const {
  std::vector<size_t> width;
  for (const auto& row : rows_) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line.append(width[i] - row[i].size() + 2, ' ');
      }
    }
    std::printf("%s\n", line.c_str());
  }
}

}  // namespace ringmq::tools::store
