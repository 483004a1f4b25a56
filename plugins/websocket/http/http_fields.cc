#include "plugins/websocket/http/http_fields.h"

#include <algorithm>
#include <array>

namespace ringmq::websocket::http {
namespace {

constexpr std::array<std::string_view, 7> kDayNames = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDayNames = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonthNames = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

constexpr int64_t kSecondsPerDay = 86400;
constexpr int64_t kLastSecondOf9999 = 253402300799;  // 9999-12-31T23:59:59Z

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

// The inverse (civil_from_days), for days >= 0.
Civil CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = z / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

unsigned DaysInMonth(int64_t year, unsigned month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

void AppendDigits(unsigned value, int width, std::string* out) {
  char digits[8];
  for (int i = width - 1; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out->append(digits, static_cast<size_t>(width));
}

// A cursor over a date's text; every Read* returns false (and the parse fails) on a mismatch.
class DateReader {
 public:
  explicit DateReader(std::string_view text) : text_(text) {}

  bool Literal(std::string_view s) {
    if (text_.substr(0, s.size()) != s) {
      return false;
    }
    text_.remove_prefix(s.size());
    return true;
  }
  // Exactly `width` digits.
  bool Digits(int width, unsigned* value) {
    if (text_.size() < static_cast<size_t>(width)) {
      return false;
    }
    unsigned v = 0;
    for (int i = 0; i < width; ++i) {
      const char c = text_[static_cast<size_t>(i)];
      if (c < '0' || c > '9') {
        return false;
      }
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    text_.remove_prefix(static_cast<size_t>(width));
    *value = v;
    return true;
  }
  // One of `names` (case-sensitive, as RFC 9110 writes them); *index is its position.
  template <size_t N>
  bool Name(const std::array<std::string_view, N>& names, unsigned* index) {
    for (size_t i = 0; i < N; ++i) {
      if (Literal(names[i])) {
        *index = static_cast<unsigned>(i);
        return true;
      }
    }
    return false;
  }
  // "HH:MM:SS".
  bool Time(unsigned* h, unsigned* m, unsigned* s) {
    return Digits(2, h) && Literal(":") && Digits(2, m) && Literal(":") && Digits(2, s);
  }
  bool AtEnd() const { return text_.empty(); }
  char Peek() const { return text_.empty() ? '\0' : text_[0]; }

 private:
  std::string_view text_;
};

std::optional<int64_t> ToUnix(int64_t year, unsigned month, unsigned day, unsigned h, unsigned m,
                              unsigned s) {
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || h > 23 || m > 59 ||
      s > 60) {
    return std::nullopt;
  }
  return DaysFromCivil(year, month, day) * kSecondsPerDay + int64_t{h} * 3600 + int64_t{m} * 60 + s;
}

std::optional<int64_t> ParseImfFixdate(std::string_view text) {
  DateReader r(text);
  unsigned ignored = 0, day = 0, month = 0, year = 0, h = 0, m = 0, s = 0;
  if (r.Name(kDayNames, &ignored) && r.Literal(", ") && r.Digits(2, &day) && r.Literal(" ") &&
      r.Name(kMonthNames, &month) && r.Literal(" ") && r.Digits(4, &year) && r.Literal(" ") &&
      r.Time(&h, &m, &s) && r.Literal(" GMT") && r.AtEnd()) {
    return ToUnix(year, month + 1, day, h, m, s);
  }
  return std::nullopt;
}

std::optional<int64_t> ParseRfc850(std::string_view text) {
  DateReader r(text);
  unsigned ignored = 0, day = 0, month = 0, yy = 0, h = 0, m = 0, s = 0;
  if (r.Name(kLongDayNames, &ignored) && r.Literal(", ") && r.Digits(2, &day) && r.Literal("-") &&
      r.Name(kMonthNames, &month) && r.Literal("-") && r.Digits(2, &yy) && r.Literal(" ") &&
      r.Time(&h, &m, &s) && r.Literal(" GMT") && r.AtEnd()) {
    return ToUnix(yy >= 70 ? 1900 + yy : 2000 + yy, month + 1, day, h, m, s);
  }
  return std::nullopt;
}

std::optional<int64_t> ParseAsctime(std::string_view text) {
  DateReader r(text);
  unsigned ignored = 0, day = 0, month = 0, year = 0, h = 0, m = 0, s = 0;
  if (!(r.Name(kDayNames, &ignored) && r.Literal(" ") && r.Name(kMonthNames, &month) &&
        r.Literal(" "))) {
    return std::nullopt;
  }
  const bool day_ok = r.Peek() == ' ' ? r.Literal(" ") && r.Digits(1, &day) : r.Digits(2, &day);
  if (day_ok && r.Literal(" ") && r.Time(&h, &m, &s) && r.Literal(" ") && r.Digits(4, &year) &&
      r.AtEnd()) {
    return ToUnix(year, month + 1, day, h, m, s);
  }
  return std::nullopt;
}

bool IsOws(char c) {
  return c == ' ' || c == '\t';
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && IsOws(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && IsOws(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// A qvalue (RFC 9110 12.4.2) in thousandths: "0", "0.5", "1", "1.000"; -1 when malformed.
int ParseQValue(std::string_view text) {
  if (text.empty() || (text[0] != '0' && text[0] != '1')) {
    return -1;
  }
  int thousandths = text[0] == '1' ? 1000 : 0;
  if (text.size() == 1) {
    return thousandths;
  }
  if (text[1] != '.' || text.size() > 5) {
    return -1;
  }
  int scale = 100;
  for (const char c : text.substr(2)) {
    if (c < '0' || c > '9') {
      return -1;
    }
    thousandths += (c - '0') * scale;
    scale /= 10;
  }
  return thousandths > 1000 ? -1 : thousandths;
}

}  // namespace

void AppendHttpDate(int64_t unix_s, std::string* out) {
  unix_s = std::clamp<int64_t>(unix_s, 0, kLastSecondOf9999);
  const int64_t days = unix_s / kSecondsPerDay;
  const auto second_of_day = static_cast<unsigned>(unix_s % kSecondsPerDay);
  const Civil date = CivilFromDays(days);
  out->append(kDayNames[static_cast<size_t>((days + 4) % 7)]);  // 1970-01-01 was a Thursday
  out->append(", ");
  AppendDigits(date.day, 2, out);
  out->push_back(' ');
  out->append(kMonthNames[date.month - 1]);
  out->push_back(' ');
  AppendDigits(static_cast<unsigned>(date.year), 4, out);
  out->push_back(' ');
  AppendDigits(second_of_day / 3600, 2, out);
  out->push_back(':');
  AppendDigits(second_of_day / 60 % 60, 2, out);
  out->push_back(':');
  AppendDigits(second_of_day % 60, 2, out);
  out->append(" GMT");
}

std::string FormatHttpDate(int64_t unix_s) {
  std::string out;
  AppendHttpDate(unix_s, &out);
  return out;
}

std::optional<int64_t> ParseHttpDate(std::string_view text) {
  text = TrimOws(text);
  if (auto t = ParseImfFixdate(text)) {
    return t;
  }
  if (auto t = ParseRfc850(text)) {
    return t;
  }
  return ParseAsctime(text);
}

bool IfNoneMatchMatches(std::string_view field, std::string_view etag) {
  // The opaque part of our own tag: between its quotes, without W/.
  if (etag.substr(0, 2) == "W/") {
    etag.remove_prefix(2);
  }
  if (etag.size() < 2 || etag.front() != '"' || etag.back() != '"') {
    return false;
  }
  const std::string_view ours = etag.substr(1, etag.size() - 2);
  // Elements: OWS, then "*", [W/]"opaque", or junk up to the next comma (skipped). Each round
  // consumes at least one byte, so the loop ends within field.size() rounds.
  size_t i = 0;
  while (i < field.size()) {
    const char c = field[i];
    if (c == ',' || IsOws(c)) {
      ++i;
      continue;
    }
    if (c == '*') {
      return true;
    }
    size_t start = i;
    if (field.substr(i, 2) == "W/") {
      start += 2;
    }
    if (start < field.size() && field[start] == '"') {
      const size_t close = field.find('"', start + 1);
      if (close == std::string_view::npos) {
        return false;  // an unterminated tag runs to the end
      }
      if (field.substr(start + 1, close - start - 1) == ours) {
        return true;
      }
      i = close + 1;
      continue;
    }
    const size_t comma = field.find(',', i);
    i = comma == std::string_view::npos ? field.size() : comma + 1;
  }
  return false;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  int gzip_q = -1;  // thousandths; -1 while not named
  int star_q = -1;
  std::string_view rest = accept_encoding;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view element = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);

    const size_t semicolon = element.find(';');
    const std::string_view coding = TrimOws(element.substr(0, semicolon));
    int q = 1000;
    std::string_view params =
        semicolon == std::string_view::npos ? std::string_view() : element.substr(semicolon + 1);
    while (!params.empty()) {
      const size_t next = params.find(';');
      const std::string_view param = TrimOws(params.substr(0, next));
      params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
      const size_t eq = param.find('=');
      if (eq != std::string_view::npos && EqualsIgnoreCase(TrimOws(param.substr(0, eq)), "q")) {
        q = std::max(ParseQValue(TrimOws(param.substr(eq + 1))), 0);
      }
    }
    if (EqualsIgnoreCase(coding, "gzip") || EqualsIgnoreCase(coding, "x-gzip")) {
      gzip_q = std::max(gzip_q, q);
    } else if (coding == "*") {
      star_q = std::max(star_q, q);
    }
  }
  return gzip_q >= 0 ? gzip_q > 0 : star_q > 0;
}

}  // namespace ringmq::websocket::http
