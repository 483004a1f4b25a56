#include "core/config/file_values.h"

#include <limits>

#include "absl/strings/str_format.h"

namespace ringmq::config {
namespace {

using Kind = TomlNode::Kind;

struct FieldReader {
  const TomlNode& node;
  const FilePlace& at;

  absl::Status operator()(uint32_t* v) const {
    uint64_t x = 0;
    absl::Status s = ReadInteger(node, at, 0, std::numeric_limits<uint32_t>::max(), &x);
    if (s.ok()) {
      *v = static_cast<uint32_t>(x);
    }
    return s;
  }
  absl::Status operator()(uint64_t* v) const {
    // TOML integers are signed 64-bit: the file reaches INT64_MAX, a flag UINT64_MAX.
    return ReadInteger(node, at, 0, std::numeric_limits<int64_t>::max(), v);
  }
  absl::Status operator()(bool* v) const {
    absl::Status s = ExpectKind(node, Kind::kBoolean, at);
    if (s.ok()) {
      *v = node.boolean;
    }
    return s;
  }
  absl::Status operator()(std::string* v) const {
    absl::Status s = ExpectKind(node, Kind::kString, at);
    if (s.ok()) {
      *v = node.text;
    }
    return s;
  }
  absl::Status operator()(std::vector<std::string>* /*v*/) const {
    return FileError(at, "a list: not read as a single value");
  }
};

}  // namespace

absl::Status FileError(const FilePlace& at, std::string_view problem) {
  if (at.line <= 0) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: %s: %s", at.file, at.key, problem));
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("%s:%d: %s: %s", at.file, at.line, at.key, problem));
}

absl::Status ExpectKind(const TomlNode& node, TomlNode::Kind kind, const FilePlace& at) {
  if (node.kind == kind) {
    return absl::OkStatus();
  }
  return FileError(at, absl::StrFormat("expected %s, not %s", KindName(kind), KindName(node.kind)));
}

absl::Status ReadInteger(const TomlNode& node, const FilePlace& at, int64_t min, uint64_t max,
                         uint64_t* out) {
  if (absl::Status s = ExpectKind(node, Kind::kInteger, at); !s.ok()) {
    return s;
  }
  if (node.integer < min || (node.integer > 0 && static_cast<uint64_t>(node.integer) > max)) {
    return FileError(at, absl::StrFormat("%d is outside %d..%d", node.integer, min, max));
  }
  *out = static_cast<uint64_t>(node.integer);
  return absl::OkStatus();
}

absl::Status ReadField(const TomlNode& node, const FilePlace& at, FieldPtr field) {
  return std::visit(FieldReader{node, at}, field);
}

}  // namespace ringmq::config
