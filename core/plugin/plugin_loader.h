// Loading one plugin: find its .so (a path, or a name looked up in the plugin folders),
// dlopen it (RTLD_NOW | RTLD_LOCAL), call its one entry point, and check what it returns
// against the ABI this host speaks (include/ringmq/plugin.h). Main thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "ringmq/plugin.h"

namespace ringmq::plugin {

struct LoadedPlugin {
  std::string name;  // as configured
  std::string path;  // the file loaded
  std::string version;
  uint16_t abi_major = 0, abi_minor = 0;
  // The plugin's hooks, copied into a table of this host's size: members the plugin did not
  // know about (beyond its struct_size) are NULL.
  ringmq_plugin_hooks hooks{};
  uint32_t tick_interval_ms = 1000;
  std::string transport_protocol;  // the listener protocol it serves (1.1), or empty
  void* handle = nullptr;          // dlopen's; closed by the destructor

  LoadedPlugin() = default;
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;
  ~LoadedPlugin();
};

// Where a plugin named `name` (letters, digits, '_' and '-') is looked for when no path is
// given: each folder of `dirs` as DIR/NAME.so, then DIR/NAME/NAME.so (a build tree).
absl::StatusOr<std::string> FindPlugin(std::string_view name, const std::vector<std::string>& dirs);

// Loads the plugin at `path` and checks its descriptor; `host` is what its entry point gets
// (and must outlive the plugin). The message of an error names the plugin and the file.
absl::StatusOr<std::unique_ptr<LoadedPlugin>> LoadPlugin(std::string_view name,
                                                         const std::string& path,
                                                         const ringmq_host_api* host);

// The folders searched by default, in order: the installed plugin folder relative to the
// running executable (<bindir>/../<libdir>/ringmq/plugins: an installed, staged or moved
// tree), plugins/ next to the running executable (the build tree), then the installed plugin
// folder as configured (<prefix>/<libdir>/ringmq/plugins).
std::vector<std::string> DefaultPluginDirs();

}  // namespace ringmq::plugin
