// A TOML document as plain values: the one place that sees toml++ (toml_tree.cc, built with
// exceptions on in its own library, because the installed toml++ reports errors by throwing).
// Nothing of toml++ and no exception leaves it: a syntax error comes back as
// InvalidArgument "FILE:LINE: syntax error: ...". Any thread; no shared state.
//
// The tree keeps what the config reader needs: each value's kind and line, scalars as text,
// integers and booleans as values, and table entries in file order (toml++ sorts them).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ringmq::config {

struct TomlNode {
  enum class Kind { kString, kInteger, kFloat, kBoolean, kDateTime, kArray, kTable };

  Kind kind = Kind::kTable;
  int line = 0;     // where the value starts (a table: its header), 1-based
  std::string key;  // its key in the enclosing table; empty in an array
  // Scalars as text: strings unquoted, integers in decimal, booleans true/false, floats and
  // dates as written in the file.
  std::string text;
  int64_t integer = 0;
  bool boolean = false;
  std::vector<TomlNode> children;  // a table's entries (file order) or an array's items
};

// Kind names for messages: "a string", "an integer", "a table", ...
std::string_view KindName(TomlNode::Kind kind);

// Parses `text` (file_name is for messages only). The root is a table.
absl::StatusOr<TomlNode> ParseToml(std::string_view text, std::string_view file_name);

}  // namespace ringmq::config
