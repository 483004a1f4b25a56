// plugins/auth_file/text_file.h: reading the plugin's two text files (password file, ACL file)
// line by line, and the `file:line: problem` form of every error they report.
//
// Threads: plain functions without state; any thread (in practice the main thread, during
// global_init and reload, and the ringmq-passwd tool).
#ifndef RINGMQ_PLUGINS_AUTH_FILE_TEXT_FILE_H
#define RINGMQ_PLUGINS_AUTH_FILE_TEXT_FILE_H

#include <cstddef>
#include <string>
#include <string_view>

namespace ringmq::auth_file {

// Files larger than this are refused: both files are hand-written tables, and a limit keeps a
// wrong path (a log file, /dev/zero) from eating the broker's memory during a reload.
inline constexpr size_t kTextFileSizeMax = 64u << 20;

// Reads the whole file at `path` into *text. On failure returns false with *error
// "PATH: reason" (strerror, or "larger than 64 MiB").
[[nodiscard]] bool ReadTextFile(const std::string& path, std::string* text, std::string* error);

// `text` without leading and trailing spaces, tabs and carriage returns.
std::string_view TrimBlanks(std::string_view text);

// "FILE:LINE: message".
std::string LineError(std::string_view file, size_t line, std::string_view message);

// Calls fn(line_number, line) for each line of `text` (1-based numbers; the line without its
// "\n", trimmed by TrimBlanks). Stops early and returns false when fn returns false.
template <typename Fn>
bool ForEachLine(std::string_view text, Fn&& fn) {
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (!fn(line_number, TrimBlanks(line))) {
      return false;
    }
  }
  return true;
}

}  // namespace ringmq::auth_file

#endif  // RINGMQ_PLUGINS_AUTH_FILE_TEXT_FILE_H
