// Built with exceptions (core/config/meson.build): toml::parse throws toml::parse_error. Every
// exception is caught in ParseToml; nothing else here throws.
#include "core/config/toml_tree.h"

#include <toml++/toml.h>

#include <algorithm>
#include <tuple>

#include "absl/strings/str_format.h"

namespace ringmq::config {
namespace {

using Kind = TomlNode::Kind;

// Byte offset of 1-based codepoint column `column` in `line` (toml++ counts codepoints).
size_t ByteOfColumn(std::string_view line, uint32_t column) {
  size_t i = 0;
  for (uint32_t c = 1; c < column && i < line.size(); ++c) {
    ++i;
    while (i < line.size() && (static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) {
      ++i;  // continuation bytes of a multi-byte codepoint
    }
  }
  return i;
}

// The text of a one-line value as written; empty when it spans lines or is out of place.
std::string AsWritten(std::string_view doc, const toml::source_region& where) {
  if (where.begin.line != where.end.line || where.begin.line == 0) {
    return {};
  }
  size_t start = 0;
  for (uint32_t l = 1; l < where.begin.line; ++l) {
    start = doc.find('\n', start);
    if (start == std::string_view::npos) {
      return {};
    }
    ++start;
  }
  std::string_view line = doc.substr(start, doc.find('\n', start) - start);
  const size_t from = ByteOfColumn(line, where.begin.column);
  const size_t to = ByteOfColumn(line, where.end.column);
  return to > from ? std::string(line.substr(from, to - from)) : std::string();
}

class Converter {
 public:
  explicit Converter(std::string_view doc) : doc_(doc) {}

  TomlNode Convert(const toml::node& n, std::string key) {
    TomlNode out;
    out.key = std::move(key);
    out.line = static_cast<int>(n.source().begin.line);
    if (const toml::table* t = n.as_table()) {
      out.kind = Kind::kTable;
      for (auto&& [k, v] : *t) {
        out.children.push_back(Convert(v, std::string(k.str())));
      }
      SortByPosition(*t, out.children);
    } else if (const toml::array* a = n.as_array()) {
      out.kind = Kind::kArray;
      for (const toml::node& item : *a) {
        out.children.push_back(Convert(item, {}));
      }
    } else {
      Scalar(n, out);
    }
    return out;
  }

 private:
  void Scalar(const toml::node& n, TomlNode& out) {
    if (const toml::value<std::string>* s = n.as_string()) {
      out.kind = Kind::kString;
      out.text = s->get();
    } else if (auto i = n.as_integer()) {
      out.kind = Kind::kInteger;
      out.integer = i->get();
      out.text = std::to_string(out.integer);
    } else if (auto b = n.as_boolean()) {
      out.kind = Kind::kBoolean;
      out.boolean = b->get();
      out.text = out.boolean ? "true" : "false";
    } else {
      out.kind = n.is_floating_point() ? Kind::kFloat : Kind::kDateTime;
      out.text = AsWritten(doc_, n.source());
    }
  }

  // toml++ keeps a table's keys sorted; the file's order is the order of their positions.
  static void SortByPosition(const toml::table& t, std::vector<TomlNode>& children) {
    std::vector<std::tuple<uint32_t, uint32_t, size_t>> order;
    size_t i = 0;
    for (auto&& [k, v] : t) {
      order.emplace_back(k.source().begin.line, k.source().begin.column, i++);
    }
    std::stable_sort(order.begin(), order.end());
    std::vector<TomlNode> sorted;
    sorted.reserve(children.size());
    for (const auto& o : order) {
      sorted.push_back(std::move(children[std::get<2>(o)]));
    }
    children = std::move(sorted);
  }

  std::string_view doc_;
};

}  // namespace

std::string_view KindName(TomlNode::Kind kind) {
  switch (kind) {
    case Kind::kString:
      return "a string";
    case Kind::kInteger:
      return "an integer";
    case Kind::kFloat:
      return "a float";
    case Kind::kBoolean:
      return "a boolean";
    case Kind::kDateTime:
      return "a date or time";
    case Kind::kArray:
      return "an array";
    case Kind::kTable:
      return "a table";
  }
  return "a value";
}

absl::StatusOr<TomlNode> ParseToml(std::string_view text, std::string_view file_name) {
  try {
    toml::table root = toml::parse(text, std::string_view(file_name));
    return Converter(text).Convert(root, {});
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrFormat("%s:%d: syntax error: %s", file_name,
                                                      e.source().begin.line, e.description()));
  } catch (...) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: cannot be parsed", file_name));
  }
}

}  // namespace ringmq::config
