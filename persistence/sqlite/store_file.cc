#include "persistence/sqlite/store_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_format.h"

#include "persistence/sqlite/schema.h"

namespace ringmq::persistence::sqlite {
namespace {

// The same words for every store that cannot be opened: what, and what to do.
absl::Status Refused(const std::string& path, absl::string_view problem, sqlite3* db = nullptr) {
  if (db != nullptr && (sqlite3_errcode(db) & 0xff) == SQLITE_FULL) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "store %s: the disk is full (%s): free some space on it and start the broker again", path,
        problem));
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return absl::FailedPreconditionError(absl::StrFormat(
      "store %s: %s. The broker does not replace a store it cannot use: inspect it with "
      "`ringmq-store check %s`, restore a backup (docs/operations.md), or move %s away to "
      "start with an empty store",
      path, problem, dir, dir));
}

}  // namespace

absl::StatusOr<std::unique_ptr<StoreFile>> StoreFile::Open(const StoreOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "cannot create the data folder %s: %s (--data-dir)", options.data_dir, ec.message()));
  }
  std::unique_ptr<StoreFile> f(new StoreFile());
  f->path_ = (std::filesystem::path(options.data_dir) / kStoreFileName).string();
  if (absl::Status s = f->Lock(options.data_dir); !s.ok()) {
    return s;
  }
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(f->path_.c_str(), &f->db_, flags, nullptr) != SQLITE_OK) {
    return Refused(f->path_, f->db_ != nullptr ? sqlite3_errmsg(f->db_) : "cannot open");
  }
  sqlite3_extended_result_codes(f->db_, 1);
  if (absl::Status s = f->Prepare(options); !s.ok()) {
    return s;
  }
  return f;
}

StoreFile::~StoreFile() {
  sqlite3_close_v2(db_);
  if (lock_fd_ >= 0) {
    close(lock_fd_);  // releases the lock
  }
}

absl::Status StoreFile::Lock(const std::string& dir) {
  const std::string lock = (std::filesystem::path(dir) / kLockFileName).string();
  lock_fd_ = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("cannot open %s: %s", lock, std::strerror(errno)));
  }
  // Another broker holds it for as long as it runs; a reader (ringmq-store info) for an
  // instant: wait that out (2 s), then give up rather than block.
  bool locked = false;
  for (int attempt = 0; attempt < 200 && !locked; ++attempt) {
    locked = flock(lock_fd_, LOCK_EX | LOCK_NB) == 0;
    if (!locked) {
      usleep(10'000);
    }
  }
  if (!locked) {
    char pid[32] = {};
    const ssize_t n = pread(lock_fd_, pid, sizeof(pid) - 1, 0);
    return absl::FailedPreconditionError(absl::StrFormat(
        "the data folder %s is in use by another ringmq (pid %s): one broker per folder", dir,
        n > 0 ? std::string(pid, static_cast<size_t>(n)) : "unknown"));
  }
  const std::string me = std::to_string(getpid());
  if (ftruncate(lock_fd_, 0) != 0 || pwrite(lock_fd_, me.data(), me.size(), 0) < 0) {
    // The pid is only a hint for the message above; the lock is what counts.
  }
  return absl::OkStatus();
}

absl::Status StoreFile::UseWal() {
  sqlite3_stmt* st = nullptr;
  std::string mode;
  if (sqlite3_prepare_v2(db_, "PRAGMA journal_mode = WAL", -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    mode = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  const std::string why = sqlite3_errmsg(db_);
  sqlite3_finalize(st);
  if (mode != "wal") {
    return Refused(path_, mode.empty() ? why : "cannot use write-ahead logging (" + mode + ")",
                   db_);
  }
  return absl::OkStatus();
}

absl::Status StoreFile::Prepare(const StoreOptions& options) {
  absl::StatusOr<int> version = SchemaVersion(db_);
  if (!version.ok()) {
    return Refused(path_, version.status().message(), db_);  // e.g. not a database
  }
  if (*version > kSchemaVersion) {
    return Refused(path_, absl::StrFormat("schema version %d was written by a newer ringmq (this "
                                          "one knows up to %d); run that version",
                                          *version, kSchemaVersion));
  }
  if (*version == 0) {
    // A new store: space freed by deleted rows goes back to the file system in steps. Fixed
    // before the first table and before WAL mode; set on every open it would write each time.
    if (absl::Status s = Exec(db_, "PRAGMA auto_vacuum = INCREMENTAL"); !s.ok()) {
      return Refused(path_, s.message(), db_);
    }
  }
  if (absl::Status s = UseWal(); !s.ok()) {
    return s;
  }
  if (*version > 0) {
    if (absl::Status s = CheckIntegrity(db_, options.full_check); !s.ok()) {
      return Refused(path_, s.message(), db_);
    }
  }
  if (absl::Status s = Migrate(db_); !s.ok()) {
    return Refused(path_, s.message(), db_);
  }
  const std::string pragmas = absl::StrFormat(
      "PRAGMA synchronous = %s;"
      "PRAGMA journal_size_limit = %d;"  // the WAL file shrinks back after checkpoints
      "PRAGMA cache_size = -65536;"      // KiB
      "PRAGMA temp_store = MEMORY;",
      options.sync_full ? "FULL" : "NORMAL", 64 << 20);
  if (absl::Status s = Exec(db_, pragmas.c_str()); !s.ok()) {
    return Refused(path_, s.message(), db_);
  }
  return absl::OkStatus();
}

}  // namespace ringmq::persistence::sqlite
