#include "core/config/config_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

#include "core/config/file_arrays.h"
#include "core/config/file_values.h"
#include "core/config/settings.h"
#include "core/config/toml_tree.h"

namespace ringmq::config {
namespace {

using Kind = TomlNode::Kind;

// A table of the file whose keys are settings "NAME.key": [limits], [persistence], [logging].
bool IsSection(std::string_view name) {
  for (const Setting& s : AllSettings()) {
    if (s.key.size() > name.size() && s.key.substr(0, name.size()) == name &&
        s.key[name.size()] == '.') {
      return true;
    }
  }
  return false;
}

class FileReader {
 public:
  explicit FileReader(std::string_view file) : file_(file) { config_.config_path = file; }

  absl::Status Root(const TomlNode& root) {
    for (const TomlNode& e : root.children) {
      absl::Status s;
      if (e.key == "listener") {
        s = ReadListeners(e, file_, &config_.listen);
        lines_["listener"] = e.line;
      } else if (e.key == "plugin") {
        s = ReadPlugins(e, file_, &config_.plugins);
      } else if (IsSection(e.key)) {
        s = Section(e);
      } else {
        s = Value(e.key, e);
      }
      if (!s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  // ServerConfig::Validate, its message ("max-inflight: ...") placed at the key's line.
  absl::StatusOr<ServerConfig> Validated() && {
    absl::Status v = config_.Validate();
    if (v.ok()) {
      return std::move(config_);
    }
    const std::string message(v.message());
    const size_t colon = message.find(": ");
    const Setting* s =
        colon == std::string_view::npos
            ? nullptr
            : FindSettingByFlag(absl::StrReplaceAll(message.substr(0, colon), {{"-", "_"}}));
    if (s == nullptr || !lines_.contains(s->key)) {
      return absl::InvalidArgumentError(absl::StrFormat("%s: %s", file_, message));
    }
    return FileError({file_, lines_[s->key], s->key}, message.substr(colon + 2));
  }

 private:
  absl::Status Section(const TomlNode& table) {
    if (absl::Status s = ExpectKind(table, Kind::kTable, {file_, table.line, table.key}); !s.ok()) {
      return s;
    }
    for (const TomlNode& e : table.children) {
      if (absl::Status s = Value(absl::StrCat(table.key, ".", e.key), e); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  absl::Status Value(const std::string& key, const TomlNode& node) {
    const Setting* setting = FindSettingByKey(key);
    const FilePlace at{file_, node.line, key};
    if (setting == nullptr || key == "listener") {
      return FileError(at, node.kind == Kind::kTable ? "unknown table" : "unknown key");
    }
    lines_[setting->key] = node.line;
    return ReadField(node, at, setting->field(config_));
  }

  std::string_view file_;
  ServerConfig config_;
  absl::flat_hash_map<std::string_view, int> lines_;  // setting key -> line
};

}  // namespace

absl::StatusOr<ServerConfig> ParseConfigText(std::string_view text, std::string_view file) {
  absl::StatusOr<TomlNode> root = ParseToml(text, file);
  if (!root.ok()) {
    return root.status();
  }
  FileReader reader(file);
  if (absl::Status s = reader.Root(*root); !s.ok()) {
    return s;
  }
  return std::move(reader).Validated();
}

absl::StatusOr<ServerConfig> ReadConfigFile(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (f == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: cannot be opened: %s", path, std::strerror(errno)));
  }
  std::string text;
  char buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
    text.append(buf, n);
    if (text.size() > kMaxConfigFileBytes) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: larger than %d bytes", path, kMaxConfigFileBytes));
    }
  }
  if (std::ferror(f.get())) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: cannot be read", path));
  }
  return ParseConfigText(text, path);
}

}  // namespace ringmq::config
