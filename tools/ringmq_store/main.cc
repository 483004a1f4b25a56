// ringmq-store: inspect a broker's SQLite store offline, check it, and back it up online.
//
//   ringmq-store info DIR                 what the store holds, whether a broker runs on it
//   ringmq-store sessions DIR [--limit N] one line per session, deepest queue first
//   ringmq-store check DIR [--full]       SQLite's check plus the store's own invariants
//   ringmq-store backup DIR DEST          a consistent copy, safe while the broker runs
//
// DIR is the broker's data directory (DIR/ringmq.db). The tool never writes to a store:
// restoring a backup is done by hand with the broker stopped (docs/operations.md).
#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "tools/ringmq_store/commands.h"
#include "tools/ringmq_store/store.h"

namespace {

using namespace ringmq::tools::store;  // NOLINT(google-build-using-namespace): main only

constexpr int64_t kDefaultLimit = 100;

constexpr const char* kUsage =
    "usage: ringmq-store info DIR\n"
    "       ringmq-store sessions DIR [--limit N]   (N = 0: all; default 100)\n"
    "       ringmq-store check DIR [--full]\n"
    "       ringmq-store backup DIR DEST_FILE\n"
    "DIR is the broker's data directory, holding ringmq.db. Exit status: 0 ok, 1 problem found,\n"
    "2 usage or open error.\n";

int Usage(const char* why) {
  std::fprintf(stderr, "ringmq-store: %s\n%s", why, kUsage);
  return kExitUsage;
}

int RunSessions(const std::vector<std::string_view>& args) {
  int64_t limit = kDefaultLimit;
  if (args.size() == 4 && args[2] == "--limit") {
    const std::string_view n = args[3];
    const auto [end, err] = std::from_chars(n.data(), n.data() + n.size(), limit);
    if (err != std::errc() || end != n.data() + n.size() || limit < 0) {
      return Usage("--limit takes a number of sessions, 0 for all");
    }
  } else if (args.size() != 2) {
    return Usage("sessions takes DIR and optionally --limit N");
  }
  return Sessions(std::string(args[1]), limit);
}

int Run(const std::vector<std::string_view>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? kExitUsage : kExitOk;
  }
  const std::string_view cmd = args[0];
  if (cmd == "info" && args.size() == 2) {
    return Info(std::string(args[1]));
  }
  if (cmd == "sessions") {
    return RunSessions(args);
  }
  if (cmd == "check" && (args.size() == 2 || (args.size() == 3 && args[2] == "--full"))) {
    return Check(std::string(args[1]), /*full=*/args.size() == 3);
  }
  if (cmd == "backup" && args.size() == 3) {
    return Backup(std::string(args[1]), std::string(args[2]));
  }
  if (cmd == "info" || cmd == "check" || cmd == "backup") {
    return Usage("wrong arguments");
  }
  return Usage("unknown command");
}

}  // namespace

int main(int argc, char** argv) {
  return Run(std::vector<std::string_view>(argv + 1, argv + argc));
}
