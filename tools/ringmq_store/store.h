// Finding and opening a broker's store: DIR/ringmq.db (WAL mode: DIR/ringmq.db-wal beside it
// while the broker runs) and DIR/lock, which a running broker holds with flock(LOCK_EX).
// The store is opened read-only and never created, migrated or otherwise written. Errors
// name the file and say what to do; ExitCode() maps them to the tool's exit status.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "tools/ringmq_store/sql.h"

namespace ringmq::tools::store {

// Exit statuses: 0 all well, 1 a problem found (a damaged store, a failed copy), 2 usage or
// open error (no such file, a store from a newer ringmq).
inline constexpr int kExitOk = 0;
inline constexpr int kExitProblem = 1;
inline constexpr int kExitUsage = 2;

struct StorePaths {
  std::string dir;
  std::string db;    // DIR/ringmq.db
  std::string wal;   // DIR/ringmq.db-wal
  std::string lock;  // DIR/lock

  static StorePaths For(std::string_view dir);
};

struct Store {
  StorePaths paths;
  Db db;
  int version = 0;  // PRAGMA user_version, at most persistence::sqlite::kSchemaVersion
};

// Opens DIR/ringmq.db read-only after checking it exists (SQLite would create it). A version
// above kSchemaVersion (a newer ringmq wrote it) is refused.
absl::StatusOr<Store> OpenStore(std::string_view dir);

// Whether a broker holds DIR/lock, found without creating the file.
enum class LockState { kNoLockFile, kFree, kHeld, kUnreadable };
struct LockProbe {
  LockState state = LockState::kNoLockFile;
  std::string pid;  // kHeld: what the broker wrote in the file, its pid ("" if nothing)
};
LockProbe ProbeLock(const std::string& lock_path);

// The size of `path` in bytes; -1 when it does not exist.
int64_t FileSize(const std::string& path);

// `s` about the file `path`: its message prefixed with the path, and for a damaged file what
// to do about it.
absl::Status InFile(const std::string& path, const absl::Status& s);

// Prints `s` on stderr and returns the exit status for it.
int Fail(const absl::Status& s);

}  // namespace ringmq::tools::store
