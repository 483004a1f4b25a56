// ringmq-store backup: a consistent copy of a store, taken while the broker runs.
//
// Why the copy is consistent, and why it finishes while the broker keeps writing:
//  1. The source connection opens a read transaction first and keeps it to the end. In WAL
//     mode that is a snapshot: the broker's commits go on in the WAL and never block it.
//  2. sqlite3_backup_step() reuses that transaction instead of taking a new one per step, so
//     it never sees a later commit and never restarts the copy (it restarts when the source
//     changes between steps, which against a busy broker could go on forever).
//  3. The copy goes to a temporary file beside DEST and becomes DEST with link(), which fails
//     if DEST appeared meanwhile: DEST is never overwritten and never half-written.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "absl/strings/str_format.h"

#include "persistence/sqlite/schema.h"

#include "tools/ringmq_store/commands.h"
#include "tools/ringmq_store/sql.h"
#include "tools/ringmq_store/store.h"

namespace ringmq::tools::store {
namespace {

namespace schema = ringmq::persistence::sqlite;
using Clock = std::chrono::steady_clock;

// Pages per sqlite3_backup_step(): 4 MiB at 4 KiB pages, a short step between checks.
constexpr int kPagesPerStep = 1024;
// Waiting for locks (the broker's checkpoint, a WAL recovery) is bounded; copying is not,
// since a large store takes as long as its disk needs.
constexpr auto kBusyWaitMax = std::chrono::seconds(30);
constexpr auto kBusyPause = std::chrono::milliseconds(10);

// The temporary copy beside DEST, removed on every path out (after a success DEST is a
// second name for it).
class TempCopy {
 public:
  ~TempCopy() {
    if (!path_.empty()) {
      unlink(path_.c_str());
      // SQLite's own files beside it, left only when a step failed midway.
      for (const char* suffix : {"-journal", "-wal", "-shm"}) {
        unlink((path_ + suffix).c_str());
      }
    }
  }
  absl::Status Create(const std::string& dest) {
    std::string tmpl = dest + ".partial-XXXXXX";
    const int fd = mkstemp(tmpl.data());  // 0600: a store holds message payloads
    if (fd < 0) {
      return absl::UnavailableError(
          absl::StrFormat("%s: cannot create a file beside it (%s): choose a writable directory",
                          dest, std::strerror(errno)));
    }
    close(fd);
    path_ = tmpl;
    return absl::OkStatus();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

absl::Status RefuseExisting(const std::string& dest) {
  struct stat st {};
  if (lstat(dest.c_str(), &st) == 0) {
    return absl::AlreadyExistsError(absl::StrFormat(
        "%s: already exists: give a new file name (backup never overwrites)", dest));
  }
  return absl::OkStatus();
}

// Holds a read transaction on `src` until `src` is closed: the snapshot the copy is of.
absl::Status BeginSnapshot(sqlite3* src) {
  if (absl::Status s = schema::Exec(src, "BEGIN"); !s.ok()) {
    return s;
  }
  return QueryInt(src, "SELECT count(*) FROM sqlite_schema").status();
}

// Copies `src` into `dst`, step by step; returns the number of pages copied.
absl::StatusOr<int> CopyPages(sqlite3* src, sqlite3* dst) {
  sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
  if (b == nullptr) {
    return SqliteError(dst, sqlite3_errcode(dst), "starting the copy");
  }
  Clock::duration waited{};
  int rc;
  while ((rc = sqlite3_backup_step(b, kPagesPerStep)) != SQLITE_DONE) {
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
      break;
    }
    if (rc != SQLITE_OK) {
      if (waited >= kBusyWaitMax) {
        break;
      }
      std::this_thread::sleep_for(kBusyPause);
      waited += kBusyPause;
    }
  }
  const int pages = sqlite3_backup_pagecount(b);
  const int finish_rc = sqlite3_backup_finish(b);  // the step's error, if any, is kept here
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    return absl::DeadlineExceededError(
        absl::StrFormat("the store stayed locked for %d s: retry when the broker is less busy",
                        std::chrono::duration_cast<std::chrono::seconds>(waited).count()));
  }
  if (rc != SQLITE_DONE || finish_rc != SQLITE_OK) {
    return SqliteError(dst, finish_rc != SQLITE_OK ? finish_rc : rc, "copying");
  }
  return pages;
}

struct Verified {
  int64_t bytes = 0;
  int version = 0;
};

// Checks the copy as a store of its own: the copy is worth keeping only if it reads back.
absl::StatusOr<Verified> Verify(const std::string& path) {
  // Read-write only so that closing removes the -wal and -shm that reading a WAL-mode file
  // creates; nothing here writes.
  absl::StatusOr<Db> db = OpenDb(path, SQLITE_OPEN_READWRITE);
  if (!db.ok()) {
    return db.status();
  }
  if (absl::Status s = schema::CheckIntegrity(db->get(), /*full=*/false); !s.ok()) {
    return s;
  }
  absl::StatusOr<int> version = schema::SchemaVersion(db->get());
  if (!version.ok()) {
    return version.status();
  }
  return Verified{.bytes = FileSize(path), .version = *version};
}

// Gives the finished copy its name, never replacing a file, and makes the name durable.
absl::Status Publish(const std::string& tmp, const std::string& dest) {
  if (link(tmp.c_str(), dest.c_str()) != 0) {
    const int err = errno;
    if (err == EEXIST) {
      return absl::AlreadyExistsError(absl::StrFormat(
          "%s: appeared during the copy: give a new file name (backup never overwrites)", dest));
    }
    return absl::UnavailableError(
        absl::StrFormat("%s: cannot create it (%s): choose a writable directory on a file "
                        "system with hard links",
                        dest, std::strerror(err)));
  }
  std::string dir = std::filesystem::path(dest).parent_path().string();
  const int fd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  return absl::OkStatus();
}

// The copy into `tmp`; `src` is closed on return (its snapshot ends).
absl::StatusOr<int> CopyStore(Store& src, const std::string& tmp) {
  if (absl::Status s = BeginSnapshot(src.db.get()); !s.ok()) {
    return InFile(src.paths.db, s);
  }
  absl::StatusOr<Db> dst = OpenDb(tmp, SQLITE_OPEN_READWRITE);
  if (!dst.ok()) {
    return InFile(tmp, dst.status());
  }
  absl::StatusOr<int> pages = CopyPages(src.db.get(), dst->get());
  src.db.reset();
  if (!pages.ok()) {
    return absl::Status(
        pages.status().code(),
        absl::StrFormat("%s: copying to %s: %s", src.paths.db, tmp, pages.status().message()));
  }
  return pages;
}

}  // namespace

int Backup(const std::string& dir, const std::string& dest) {
  if (absl::Status s = RefuseExisting(dest); !s.ok()) {
    return Fail(s);
  }
  absl::StatusOr<Store> src = OpenStore(dir);
  if (!src.ok()) {
    return Fail(src.status());
  }
  const std::string source = src->paths.db;
  const Clock::time_point start = Clock::now();
  TempCopy tmp;
  if (absl::Status s = tmp.Create(dest); !s.ok()) {
    return Fail(s);
  }
  absl::StatusOr<int> pages = CopyStore(*src, tmp.path());
  if (!pages.ok()) {
    return Fail(pages.status());
  }
  absl::StatusOr<Verified> copy = Verify(tmp.path());
  if (!copy.ok()) {
    return Fail(absl::DataLossError(absl::StrFormat(
        "%s: the copy fails its check (%s), so it was not kept: run `ringmq-store check %s`",
        source, copy.status().message(), dir)));
  }
  if (absl::Status s = Publish(tmp.path(), dest); !s.ok()) {
    return Fail(s);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  absl::PrintF(
      "%s: %d bytes (%d pages), schema version %d, quick_check ok; copied from %s in "
      "%.2f s\n",
      dest, copy->bytes, *pages, copy->version, source, seconds);
  absl::PrintF("to restore: stop the broker, remove %s-wal and %s-shm, copy %s to %s\n", source,
               source, dest, source);
  return kExitOk;
}

}  // namespace ringmq::tools::store
