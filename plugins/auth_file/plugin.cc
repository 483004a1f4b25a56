// plugins/auth_file/plugin.cc: the auth_file plugin's glue to the broker, through the C ABI of
// include/ringmq/plugin.h only.
//
// State and threads:
//   Plugin (global_plugin_ptr)  main thread: options, the verifier pool, and `tables`, the
//                               current (passwords, ACL) pair behind an atomic shared_ptr.
//   Core (core_plugin_ptr)      one per shard, touched only on its thread: its own shared_ptr to
//                               the tables, so the hooks read plain memory (no lock, no atomic).
// Reload, numbered:
//   1. reload() (main thread) parses the options and reads both files into new tables; on any
//      error it returns false with "FILE:LINE: problem" and nothing changes.
//   2. It stores the new tables into Plugin::tables (an atomic shared_ptr swap).
//   3. The host then calls core_reload() on each shard's thread, which loads the pointer into its
//      Core. Hooks that run on that shard before step 3 still use the old tables, whole.
//   4. The old tables are freed when the last shard (or a running password check holding the
//      PasswordFile) lets go of them.
// Password checks run on the VerifierPool's threads and complete through host->complete().
#include "ringmq/plugin.h"

#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "acl.h"
#include "password_file.h"
#include "verifier_pool.h"

namespace ringmq::auth_file {
namespace {

// MQTT 5.0 reason codes this plugin answers with (the host translates them for 3.x clients).
constexpr uint32_t kBadUserNameOrPassword = 0x86;  // 3.x CONNACK 4
constexpr uint32_t kNotAuthorized = 0x87;          // 3.x CONNACK 5, SUBACK 0x80
constexpr uint32_t kServerUnavailable = 0x88;      // 3.x CONNACK 3
constexpr uint32_t kClientIdNotValid = 0x85;       // 3.x CONNACK 2

constexpr uint32_t kVerifyThreadsMax = 64;
constexpr uint32_t kVerifyQueueMax = 100000;

struct Options {
  std::string password_file;
  std::string acl_file;  // empty: no ACL file
  bool allow_anonymous = false;
  // Two workers: each argon2id check holds its memlimit (64 MiB by default) and a full core for
  // its duration, and the shards need the cores too. Two give ~2x the checks of one (README).
  uint32_t verify_threads = 2;
  // At the measured 6-12 checks/s per worker (README), 32 queued checks behind two workers wait
  // 1.5-3 s: inside the host's 5 s decision timeout, so a queued check finishes before the host
  // gives up on it. A longer queue would only hold checks whose clients are refused anyway.
  uint32_t verify_queue = 32;
  // Every client id must start with this, %u replaced by the client's user name (empty for an
  // anonymous client); empty: any client id. Binds sessions to users (README).
  std::string client_id_prefix;
};

struct Tables {
  std::shared_ptr<const PasswordFile> passwords;
  std::shared_ptr<const Acl> acl;  // nullptr: no acl_file (everything but $SYS)
  bool allow_anonymous = false;
  std::string client_id_prefix;
};

std::string_view View(ringmq_str s) {
  return s.len == 0 ? std::string_view() : std::string_view(s.ptr, s.len);
}

void WriteError(char* error, size_t error_size, std::string_view message) {
  if (error == nullptr || error_size == 0) {
    return;
  }
  const size_t n = std::min(error_size - 1, message.size());
  std::memcpy(error, message.data(), n);
  error[n] = '\0';
}

bool ParseCount(std::string_view key, std::string_view text, uint32_t max, uint32_t* out,
                std::string* error) {
  uint32_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > max) {
    *error = "option '" + std::string(key) + "': expected an integer from 1 to " +
             std::to_string(max) + ", got '" + std::string(text) + "'";
    return false;
  }
  *out = value;
  return true;
}

// client_id_prefix knows one variable, %u.
bool CheckPrefixVariables(std::string_view prefix, std::string* error) {
  for (size_t at = prefix.find('%'); at != std::string_view::npos; at = prefix.find('%', at + 2)) {
    if (prefix.substr(at, 2) != "%u") {
      *error = "option 'client_id_prefix': '" + std::string(prefix.substr(at, 2)) +
               "' is not %u (the only variable), in '" + std::string(prefix) + "'";
      return false;
    }
  }
  return true;
}

// Whether `client_id` starts with `prefix`, %u standing for `username`. A user name that
// contains the character after %u is refused too: with msgr-%u-, the ids of alice-2 would
// start with alice's prefix msgr-alice-, and alice could take over alice-2's sessions.
bool ClientIdHasPrefix(std::string_view prefix, std::string_view username,
                       std::string_view client_id) {
  while (!prefix.empty()) {
    const size_t var = prefix.find("%u");
    const std::string_view text = prefix.substr(0, var);
    if (!client_id.starts_with(text)) {
      return false;
    }
    client_id.remove_prefix(text.size());
    if (var == std::string_view::npos) {
      return true;
    }
    prefix.remove_prefix(var + 2);
    const bool ambiguous = !prefix.empty() && username.find(prefix[0]) != std::string_view::npos;
    if (ambiguous || !client_id.starts_with(username)) {
      return false;
    }
    client_id.remove_prefix(username.size());
  }
  return true;
}

bool ParseOptions(const ringmq_plugin_config* config, Options* out, std::string* error) {
  Options o;
  constexpr std::string_view kKeys[] = {"password_file",  "acl_file",     "allow_anonymous",
                                        "verify_threads", "verify_queue", "client_id_prefix"};
  bool seen[std::size(kKeys)] = {};
  for (size_t i = 0; i < config->option_count; ++i) {
    const std::string_view key = View(config->options[i].key);
    const std::string_view value = View(config->options[i].value);
    const size_t k = std::find(std::begin(kKeys), std::end(kKeys), key) - std::begin(kKeys);
    if (k == std::size(kKeys)) {
      *error = "unknown option '" + std::string(key) +
               "' (known: password_file, acl_file, allow_anonymous, verify_threads, "
               "verify_queue, client_id_prefix)";
      return false;
    }
    if (seen[k]) {
      *error = "option '" + std::string(key) + "' given twice";
      return false;
    }
    seen[k] = true;
    bool ok = true;
    switch (k) {
      case 0:
        o.password_file = std::string(value);
        break;
      case 1:
        o.acl_file = std::string(value);
        break;
      case 2:
        ok = value == "true" || value == "false";
        o.allow_anonymous = value == "true";
        if (!ok) {
          *error =
              "option 'allow_anonymous': expected true or false, got '" + std::string(value) + "'";
        }
        break;
      case 3:
        ok = ParseCount(key, value, kVerifyThreadsMax, &o.verify_threads, error);
        break;
      case 4:
        ok = ParseCount(key, value, kVerifyQueueMax, &o.verify_queue, error);
        break;
      default:
        o.client_id_prefix = std::string(value);
        ok = CheckPrefixVariables(value, error);
        break;
    }
    if (!ok) {
      return false;
    }
  }
  if (o.password_file.empty()) {
    *error = "option 'password_file' is required";
    return false;
  }
  *out = std::move(o);
  return true;
}

std::shared_ptr<const Tables> LoadTables(const Options& o, std::string* error) {
  auto tables = std::make_shared<Tables>();
  tables->allow_anonymous = o.allow_anonymous;
  tables->client_id_prefix = o.client_id_prefix;
  tables->passwords = PasswordFile::Load(o.password_file, error);
  if (tables->passwords == nullptr) {
    return nullptr;
  }
  if (!o.acl_file.empty()) {
    tables->acl = Acl::Load(o.acl_file, error);
    if (tables->acl == nullptr) {
      return nullptr;
    }
  }
  return tables;
}

// global_init and reload: the options and both files, or nullptr with the problem in `error`.
std::shared_ptr<const Tables> ReadConfig(const ringmq_plugin_config* config, Options* options,
                                         char* error, size_t error_size) {
  std::string problem;
  std::shared_ptr<const Tables> tables;
  if (!ParseOptions(config, options, &problem) ||
      (tables = LoadTables(*options, &problem)) == nullptr) {
    WriteError(error, error_size, problem);
    return nullptr;
  }
  return tables;
}

class Plugin {
 public:
  explicit Plugin(const ringmq_host_api* host) : host_(host) {}

  const ringmq_host_api* host() const { return host_; }
  VerifierPool& pool() { return pool_; }
  std::shared_ptr<const Tables> tables() const { return tables_.load(std::memory_order_acquire); }

  void Log(uint32_t level, std::string_view message) const {
    host_->log(host_, level, ringmq_str{message.data(), message.size()});
  }

  // Main thread: global_init, then each successful reload.
  void Take(Options options, std::shared_ptr<const Tables> tables) {
    std::string summary = "auth_file: " + std::to_string(tables->passwords->user_count()) +
                          " users from " + options.password_file + "; ";
    summary += tables->acl != nullptr ? std::to_string(tables->acl->rule_count()) +
                                            " ACL rules from " + options.acl_file
                                      : std::string("no acl_file: every topic but $SYS is allowed");
    summary += options.allow_anonymous ? "; anonymous clients allowed" : "";
    summary += options.client_id_prefix.empty()
                   ? ""
                   : "; client ids start with '" + options.client_id_prefix + "'";
    Log(RINGMQ_LOG_INFO, summary);
    WarnIfReadableByOthers(options.password_file);
    options_ = std::move(options);
    tables_.store(std::move(tables), std::memory_order_release);
  }

  const Options& options() const { return options_; }

  // Shard threads: counts CONNECTs refused because the queue was full; logs at 1, 2, 4, 8, ...
  void CountQueueFull() {
    const uint64_t n = queue_full_count_.fetch_add(1, std::memory_order_relaxed) + 1;
    if ((n & (n - 1)) == 0) {
      Log(RINGMQ_LOG_WARNING, "auth_file: password check queue full (verify_queue " +
                                  std::to_string(pool_.queue_max()) +
                                  "): CONNECT refused with 0x88 (" + std::to_string(n) +
                                  " so far)");
    }
  }

 private:
  void WarnIfReadableByOthers(const std::string& path) const {
    struct stat st {};
    if (stat(path.c_str(), &st) == 0 && (st.st_mode & S_IROTH) != 0) {
      Log(RINGMQ_LOG_WARNING,
          "auth_file: " + path + " is readable by every user (chmod 600 or 640)");
    }
  }

  const ringmq_host_api* host_;
  Options options_;                                    // main thread only
  std::atomic<std::shared_ptr<const Tables>> tables_;  // written on the main thread
  std::atomic<uint64_t> queue_full_count_{0};
  VerifierPool pool_;
};

struct Core {
  Plugin* plugin;
  std::shared_ptr<const Tables> tables;  // this shard's copy (core_init, core_reload)
};

void CompleteCheck(void* context, uint64_t ticket, ringmq_decision decision) {
  const ringmq_host_api* host = static_cast<Plugin*>(context)->host();
  host->complete(host, ticket, decision);
}

ClientIdentity IdentityOf(const ringmq_host_api* host, const ringmq_client* client) {
  ClientIdentity who;
  who.username = View(host->client_username(client, &who.has_username));
  who.client_id = View(host->client_id(client));
  return who;
}

// ---- hooks ----------------------------------------------------------------------------------

void* GlobalInit(const ringmq_host_api* host, const ringmq_plugin_config* config, char* error,
                 size_t error_size) {
  if (sodium_init() < 0) {
    WriteError(error, error_size, "libsodium failed to initialise");
    return nullptr;
  }
  Options options;
  std::shared_ptr<const Tables> tables = ReadConfig(config, &options, error, error_size);
  if (tables == nullptr) {
    return nullptr;
  }
  auto* plugin = new Plugin(host);
  plugin->pool().Start(options.verify_threads, options.verify_queue, &CompleteCheck, plugin);
  plugin->Take(std::move(options), std::move(tables));
  return plugin;
}

void GlobalFini(void* global) {
  auto* plugin = static_cast<Plugin*>(global);
  plugin->pool().Stop();
  delete plugin;
}

void* CoreInit(void* global, ringmq_core* /*core*/, uint32_t /*core_index*/) {
  auto* plugin = static_cast<Plugin*>(global);
  return new Core{plugin, plugin->tables()};
}

void CoreFini(void* core) {
  delete static_cast<Core*>(core);
}

bool Reload(void* global, const ringmq_plugin_config* config, char* error, size_t error_size) {
  auto* plugin = static_cast<Plugin*>(global);
  Options options;
  std::shared_ptr<const Tables> tables = ReadConfig(config, &options, error, error_size);
  if (tables == nullptr) {
    return false;
  }
  const Options& running = plugin->options();
  if (options.verify_threads != running.verify_threads ||
      options.verify_queue != running.verify_queue) {
    plugin->Log(RINGMQ_LOG_WARNING,
                "auth_file: verify_threads and verify_queue changes take effect at restart");
    options.verify_threads = running.verify_threads;
    options.verify_queue = running.verify_queue;
  }
  plugin->Take(std::move(options), std::move(tables));
  return true;
}

void CoreReload(void* core) {
  auto* c = static_cast<Core*>(core);
  c->tables = c->plugin->tables();
}

ringmq_decision Authenticate(void* core, const ringmq_client* client, const ringmq_connect* connect,
                             uint64_t ticket) {
  auto* c = static_cast<Core*>(core);
  const ringmq_host_api* host = c->plugin->host();
  bool has_username = false;
  const std::string_view username = View(host->client_username(client, &has_username));
  if (!ClientIdHasPrefix(c->tables->client_id_prefix, username, View(host->client_id(client)))) {
    return ringmq_deny(kClientIdNotValid);
  }
  // The listener took the user name from the client certificate (identity_as_username): the
  // TLS handshake verified it against the listener's CA, so no password is asked of a user
  // this plugin knows (password file or ACL section); a CA may sign many other names.
  const std::string_view identity = View(host->client_cert_identity(client));
  if (has_username && !identity.empty() && identity == username) {
    const Tables& t = *c->tables;
    const bool known = t.passwords->HasUser(std::string(identity)) ||
                       (t.acl != nullptr && t.acl->NamesUser(identity));
    return known ? ringmq_allow() : ringmq_deny(kBadUserNameOrPassword);
  }
  if (!has_username && !connect->has_password) {
    return c->tables->allow_anonymous ? ringmq_allow() : ringmq_deny(kNotAuthorized);
  }
  if (!has_username || !connect->has_password) {
    return ringmq_deny(kBadUserNameOrPassword);  // nothing to check against
  }
  PasswordCheck check{ticket, c->tables->passwords, std::string(username),
                      SecretCopy(View(connect->password))};
  if (!c->plugin->pool().TrySubmit(std::move(check))) {
    c->plugin->CountQueueFull();
    return ringmq_deny(kServerUnavailable);
  }
  return ringmq_pending();
}

ringmq_decision AuthorizePublish(void* core, const ringmq_client* client,
                                 const ringmq_message* message, bool /*will*/,
                                 uint64_t /*ticket*/) {
  auto* c = static_cast<Core*>(core);
  const std::string_view topic = View(message->topic);
  const Acl* acl = c->tables->acl.get();
  const bool ok = acl != nullptr ? acl->MayPublish(IdentityOf(c->plugin->host(), client), topic)
                                 : Acl::DefaultMayPublish(topic);
  return ok ? ringmq_allow() : ringmq_deny(kNotAuthorized);
}

ringmq_decision AuthorizeSubscribe(void* core, const ringmq_client* client, ringmq_str filter,
                                   uint32_t /*qos*/, uint64_t /*ticket*/) {
  auto* c = static_cast<Core*>(core);
  const Acl* acl = c->tables->acl.get();
  const bool ok = acl != nullptr
                      ? acl->MaySubscribe(IdentityOf(c->plugin->host(), client), View(filter))
                      : Acl::DefaultMaySubscribe(View(filter));
  return ok ? ringmq_allow() : ringmq_deny(kNotAuthorized);
}

constexpr ringmq_plugin_hooks kHooks = {
    .struct_size = sizeof(ringmq_plugin_hooks),
    .global_init = &GlobalInit,
    .global_fini = &GlobalFini,
    .core_init = &CoreInit,
    .core_fini = &CoreFini,
    .reload = &Reload,
    .core_reload = &CoreReload,
    .authenticate = &Authenticate,
    .authorize_publish = &AuthorizePublish,
    .authorize_subscribe = &AuthorizeSubscribe,
};

constexpr std::string_view kName = "auth_file";
constexpr std::string_view kVersion = "1.0.0";

constexpr ringmq_plugin_descriptor kDescriptor = {
    .struct_size = sizeof(ringmq_plugin_descriptor),
    .abi_major = RINGMQ_PLUGIN_ABI_MAJOR,
    .abi_minor = RINGMQ_PLUGIN_ABI_MINOR,
    .name = {kName.data(), kName.size()},
    .version = {kVersion.data(), kVersion.size()},
    .hooks = &kHooks,
    .tick_interval_ms = 0,
};

}  // namespace
}  // namespace ringmq::auth_file

extern "C" RINGMQ_PLUGIN_EXPORT const ringmq_plugin_descriptor* ringmq_plugin_entry(
    const ringmq_host_api* host) {
  if (host == nullptr || host->abi_major != RINGMQ_PLUGIN_ABI_MAJOR) {
    return nullptr;
  }
  return &ringmq::auth_file::kDescriptor;
}
