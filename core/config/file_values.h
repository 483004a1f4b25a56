// Typed values out of a parsed config file (toml_tree.h): each read checks the TOML type and
// the range of the C++ field it fills, and every error names the file, the line and the key:
// InvalidArgument "FILE:LINE: KEY: problem". Any thread; no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

#include "core/config/settings.h"
#include "core/config/toml_tree.h"

namespace ringmq::config {

// Where a value was read, for messages.
struct FilePlace {
  std::string_view file;
  int line = 0;
  std::string_view key;  // dotted: "limits.max_inflight", "listener[0].port"
};

// "FILE:LINE: KEY: problem" (FILE: problem when line is 0).
absl::Status FileError(const FilePlace& at, std::string_view problem);

// Checks that `node` has `kind`: "expected an integer, not a string".
absl::Status ExpectKind(const TomlNode& node, TomlNode::Kind kind, const FilePlace& at);

// An integer in min..max.
absl::Status ReadInteger(const TomlNode& node, const FilePlace& at, int64_t min, uint64_t max,
                         uint64_t* out);

// Fills `field` from `node` by the field's type (a list field is not read here).
absl::Status ReadField(const TomlNode& node, const FilePlace& at, FieldPtr field);

}  // namespace ringmq::config
