#include "core/config/file_arrays.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

#include "core/base/strings.h"
#include "core/config/file_values.h"
#include "core/config/listener.h"
#include "core/net/socket_ops.h"

namespace ringmq::config {
namespace {

using Kind = TomlNode::Kind;

// Checks that `node` is an array of tables ([[name]] in the file).
absl::Status ExpectArrayOfTables(const TomlNode& node, std::string_view file) {
  const FilePlace at{file, node.line, node.key};
  if (node.kind != Kind::kArray) {
    return FileError(at, absl::StrFormat("expected an array of tables ([[%s]]), not %s", node.key,
                                         KindName(node.kind)));
  }
  for (const TomlNode& item : node.children) {
    if (absl::Status s = ExpectKind(item, Kind::kTable, {file, item.line, node.key}); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status CheckProtocol(const TomlNode& value, const FilePlace& at) {
  for (const char* p : kListenerProtocols) {
    if (value.text == p) {
      return absl::OkStatus();
    }
  }
  return FileError(at, absl::StrFormat("'%s' is not supported (supported: %s)", value.text,
                                       absl::StrJoin(kListenerProtocols, ", ")));
}

// `tls = { cert = "...", ... }` on a [[listener]]: its string values, in file order.
absl::Status ReadTlsTable(const TomlNode& node, const FilePlace& at,
                          std::vector<std::pair<std::string, std::string>>* out) {
  if (absl::Status s = ExpectKind(node, Kind::kTable, at); !s.ok()) {
    return s;
  }
  for (const TomlNode& o : node.children) {
    const std::string key = absl::StrCat(base::ToAbsl(at.key), ".", o.key);
    const FilePlace place{at.file, o.line, key};
    if (absl::Status s = ExpectKind(o, Kind::kString, place); !s.ok()) {
      return s;
    }
    tls::TlsSettings probe;
    if (absl::Status s = tls::SetTlsSetting(&probe, o.key, o.text); !s.ok()) {
      return FileError(place, std::string(s.message()));
    }
    out->emplace_back(o.key, o.text);
  }
  return absl::OkStatus();
}

// One [[listener]] table -> "HOST:PORT", checked as the command line's --listen is.
absl::StatusOr<std::string> ReadListener(const TomlNode& table, std::string_view file,
                                         const std::string& prefix) {
  std::string address = "127.0.0.1";
  uint64_t port = 1883;
  std::string protocol = "mqtt";
  bool tls = false;
  std::vector<std::pair<std::string, std::string>> tls_overrides;
  for (const TomlNode& e : table.children) {
    const std::string key = absl::StrCat(prefix, ".", e.key);
    const FilePlace at{file, e.line, key};
    absl::Status s;
    if (e.key == "address") {
      s = ReadField(e, at, &address);
    } else if (e.key == "port") {
      s = ReadInteger(e, at, 0, UINT16_MAX, &port);
    } else if (e.key == "protocol") {
      s = ExpectKind(e, Kind::kString, at);
      s = s.ok() ? CheckProtocol(e, at) : s;
      protocol = e.text;
    } else if (e.key == "tls") {
      tls = true;
      s = ReadTlsTable(e, at, &tls_overrides);
    } else {
      s = FileError(at, "unknown key (known: address, port, protocol, tls)");
    }
    if (!s.ok()) {
      return s;
    }
  }
  const bool v6 = address.find(':') != std::string::npos && address.front() != '[';
  std::string text = v6 ? absl::StrCat("[", address, "]:", port) : absl::StrCat(address, ":", port);
  if (auto ep = net::ParseEndpoint(text); !ep.ok()) {
    return FileError({file, table.line, prefix + ".address"},
                     absl::StrFormat("%s: %s", text, ep.status().message()));
  }
  std::string listener = ListenerAddress(text, protocol, tls, tls_overrides);
  if (auto l = ParseListener(listener); !l.ok()) {  // an unknown TLS key
    return FileError({file, table.line, prefix + ".tls"}, std::string(l.status().message()));
  }
  return listener;
}

// [plugin.options]: scalars only, kept as text in file order.
absl::Status ReadOptions(const TomlNode& node, std::string_view file, const std::string& key,
                         PluginSpec* plugin) {
  if (absl::Status s = ExpectKind(node, Kind::kTable, {file, node.line, key}); !s.ok()) {
    return s;
  }
  for (const TomlNode& o : node.children) {
    if (o.kind == Kind::kArray || o.kind == Kind::kTable) {
      return FileError({file, o.line, absl::StrCat(key, ".", o.key)},
                       absl::StrFormat("expected a string, integer, float or boolean, not %s",
                                       KindName(o.kind)));
    }
    plugin->options.emplace_back(o.key, o.text);
  }
  return absl::OkStatus();
}

absl::StatusOr<PluginSpec> ReadPlugin(const TomlNode& table, std::string_view file,
                                      const std::string& prefix) {
  PluginSpec plugin;
  plugin.origin = absl::StrFormat("%s:%d", file, table.line);
  for (const TomlNode& e : table.children) {
    const std::string key = absl::StrCat(prefix, ".", e.key);
    const FilePlace at{file, e.line, key};
    absl::Status s;
    if (e.key == "name") {
      s = ReadField(e, at, &plugin.name);
    } else if (e.key == "path") {
      s = ReadField(e, at, &plugin.path);
    } else if (e.key == "options") {
      s = ReadOptions(e, file, key, &plugin);
    } else {
      s = FileError(at, "unknown key (known: name, path, options)");
    }
    if (!s.ok()) {
      return s;
    }
  }
  if (plugin.name.empty()) {
    return FileError({file, table.line, prefix + ".name"}, "required: the plugin's name");
  }
  return plugin;
}

// Each table of the array of tables `node` read by read_one(table, file, "KEY[i]"), in order,
// replacing *out.
template <typename T, typename ReadOne>
absl::Status ReadEach(const TomlNode& node, std::string_view file, ReadOne read_one,
                      std::vector<T>* out) {
  if (absl::Status s = ExpectArrayOfTables(node, file); !s.ok()) {
    return s;
  }
  out->clear();
  for (size_t i = 0; i < node.children.size(); ++i) {
    absl::StatusOr<T> item = read_one(node.children[i], file, absl::StrCat(node.key, "[", i, "]"));
    if (!item.ok()) {
      return item.status();
    }
    out->push_back(*std::move(item));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ReadListeners(const TomlNode& node, std::string_view file,
                           std::vector<std::string>* listen) {
  return ReadEach(node, file, ReadListener, listen);
}

absl::Status ReadPlugins(const TomlNode& node, std::string_view file,
                         std::vector<PluginSpec>* plugins) {
  return ReadEach(node, file, ReadPlugin, plugins);
}

}  // namespace ringmq::config
