#include "core/plugin/plugin_loader.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_format.h"

namespace ringmq::plugin {
namespace {

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return false;
  }
  for (char ch : name) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string_view View(ringmq_str s) {
  return s.ptr == nullptr ? std::string_view() : std::string_view(s.ptr, s.len);
}

absl::Status CheckDescriptor(std::string_view name, const std::string& path,
                             const ringmq_plugin_descriptor* d) {
  if (d == nullptr) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "plugin %s (%s) refused to run in this ringmq (plugin ABI %d.%d): its entry point "
        "returned NULL",
        name, path, RINGMQ_PLUGIN_ABI_MAJOR, RINGMQ_PLUGIN_ABI_MINOR));
  }
  if (d->struct_size < offsetof(ringmq_plugin_descriptor, hooks) + sizeof(d->hooks)) {
    return absl::FailedPreconditionError(
        absl::StrFormat("plugin %s (%s): its descriptor is %d bytes, too small to be one", name,
                        path, d->struct_size));
  }
  if (d->abi_major != RINGMQ_PLUGIN_ABI_MAJOR || d->abi_minor > RINGMQ_PLUGIN_ABI_MINOR) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "plugin %s (%s) was built for plugin ABI %d.%d; this ringmq speaks %d.%d (a plugin must "
        "have the same major version and a minor version no newer): rebuild it against this "
        "ringmq's ringmq/plugin.h",
        name, path, d->abi_major, d->abi_minor, RINGMQ_PLUGIN_ABI_MAJOR, RINGMQ_PLUGIN_ABI_MINOR));
  }
  if (d->hooks == nullptr || d->hooks->struct_size < sizeof(uint32_t)) {
    return absl::FailedPreconditionError(
        absl::StrFormat("plugin %s (%s): its descriptor has no hooks table", name, path));
  }
  return absl::OkStatus();
}

}  // namespace

LoadedPlugin::~LoadedPlugin() {
  if (handle != nullptr) {
    dlclose(handle);
  }
}

std::vector<std::string> DefaultPluginDirs() {
  std::vector<std::string> dirs;
  char exe[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    const std::filesystem::path bin = std::filesystem::path(exe).parent_path();
    // 1. The build tree: build/ringmq and build/plugins/NAME/NAME.so, the plugins built with
    //    this binary. First, so that nothing outside the build folder (an older installed
    //    plugin, or a ../lib/... next to a build folder in /tmp that another user made) is
    //    loaded instead of them.
    dirs.push_back((bin / "plugins").string());
#ifdef RINGMQ_PLUGIN_DIR_FROM_BINDIR
    // 2. The plugins installed with this very executable, found from where it runs: the same
    //    folder as RINGMQ_PLUGIN_DIR once installed, and the right one in a DESTDIR staging
    //    copy or a tree moved elsewhere (whose plugins match this binary's ABI).
    dirs.push_back((bin / RINGMQ_PLUGIN_DIR_FROM_BINDIR).lexically_normal().string());
#endif
  }
#ifdef RINGMQ_PLUGIN_DIR
  // 3. The installed folder as configured (<prefix>/<libdir>/ringmq/plugins): for a binary
  //    copied away from its tree.
  dirs.emplace_back(RINGMQ_PLUGIN_DIR);
#endif
  return dirs;
}

absl::StatusOr<std::string> FindPlugin(std::string_view name,
                                       const std::vector<std::string>& dirs) {
  if (!ValidName(name)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "plugin name '%s': letters, digits, '_' and '-' only (or give its path)", name));
  }
  std::string tried;
  for (const std::string& dir : dirs) {
    for (const std::string& candidate : {absl::StrFormat("%s/%s.so", dir, name),
                                         absl::StrFormat("%s/%s/%s.so", dir, name, name)}) {
      std::error_code ec;
      if (std::filesystem::is_regular_file(candidate, ec)) {
        return candidate;
      }
      tried += (tried.empty() ? "" : ", ") + candidate;
    }
  }
  return absl::NotFoundError(
      absl::StrFormat("plugin %s: not found (looked for %s); give its path", name, tried));
}

absl::StatusOr<std::unique_ptr<LoadedPlugin>> LoadPlugin(std::string_view name,
                                                         const std::string& path,
                                                         const ringmq_host_api* host) {
  auto p = std::make_unique<LoadedPlugin>();
  p->name = std::string(name);
  p->path = path;
  p->handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (p->handle == nullptr) {
    const char* err = dlerror();
    return absl::FailedPreconditionError(
        absl::StrFormat("plugin %s: cannot load %s: %s", name, path, err ? err : "dlopen failed"));
  }
  void* sym = dlsym(p->handle, RINGMQ_PLUGIN_ENTRY_SYMBOL);
  if (sym == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrFormat("plugin %s: %s exports no %s: it is not a ringmq plugin", name, path,
                        RINGMQ_PLUGIN_ENTRY_SYMBOL));
  }
  ringmq_plugin_entry_fn entry;
  std::memcpy(&entry, &sym, sizeof entry);
  const ringmq_plugin_descriptor* d = entry(host);
  if (absl::Status s = CheckDescriptor(name, path, d); !s.ok()) {
    return s;
  }
  p->abi_major = d->abi_major;
  p->abi_minor = d->abi_minor;
  p->version = std::string(View(d->version));
  const size_t known = std::min<size_t>(d->hooks->struct_size, sizeof(ringmq_plugin_hooks));
  std::memcpy(&p->hooks, d->hooks, known);  // the rest stays NULL
  p->hooks.struct_size = sizeof(ringmq_plugin_hooks);
  if (d->struct_size >= offsetof(ringmq_plugin_descriptor, tick_interval_ms) + sizeof(uint32_t) &&
      d->tick_interval_ms > 0) {
    p->tick_interval_ms = d->tick_interval_ms;
  }
  if (d->struct_size >=
      offsetof(ringmq_plugin_descriptor, transport_protocol) + sizeof(d->transport_protocol)) {
    p->transport_protocol = std::string(View(d->transport_protocol));
  }
  if (!p->transport_protocol.empty() &&
      (p->hooks.transport_open == nullptr || p->hooks.transport_inbound == nullptr ||
       p->hooks.transport_outbound == nullptr || p->hooks.transport_close == nullptr)) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "plugin %s (%s) serves transport '%s' but lacks transport_open, transport_inbound, "
        "transport_outbound or transport_close",
        name, path, p->transport_protocol));
  }
  return p;
}

}  // namespace ringmq::plugin
