#include "tools/ringmq_store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "absl/strings/str_format.h"

#include "persistence/sqlite/schema.h"

namespace ringmq::tools::store {

namespace schema = ringmq::persistence::sqlite;

StorePaths StorePaths::For(std::string_view dir) {
  std::string d(dir);
  while (d.size() > 1 && d.back() == '/') {
    d.pop_back();
  }
  return StorePaths{
      .dir = d, .db = d + "/ringmq.db", .wal = d + "/ringmq.db-wal", .lock = d + "/lock"};
}

namespace {

// A failure to open is an open error, exit 2; a damaged file is a problem found, exit 1.
absl::Status OpenError(const StorePaths& paths, int rc, const absl::Status& s) {
  if (s.code() == absl::StatusCode::kDataLoss) {
    return InFile(paths.db, s);
  }
  // SQLite reads a WAL store through ringmq.db-wal and ringmq.db-shm, and creates them when
  // the broker has not left them there (it removes them when it stops).
  if ((rc & 0xff) == SQLITE_READONLY || (rc & 0xff) == SQLITE_CANTOPEN) {
    return absl::UnavailableError(absl::StrFormat(
        "%s: %s: SQLite reads this WAL store through ringmq.db-wal and ringmq.db-shm, which it "
        "must create when the broker is stopped: run as a user who may write %s (the broker's), "
        "or while the broker runs",
        paths.db, s.message(), paths.dir));
  }
  return absl::UnavailableError(
      absl::StrFormat("%s: %s: check that this user may read the file", paths.db, s.message()));
}

absl::Status CheckExists(const StorePaths& paths) {
  struct stat st {};
  if (stat(paths.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(
        absl::StrFormat("%s: no such directory: give the broker's data directory", paths.dir));
  }
  if (stat(paths.db.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrFormat(
        "%s: %s: is %s the broker's data directory? (a store appears there when the broker "
        "first starts with it; nothing was created)",
        paths.db, errno == ENOENT ? "no such file" : std::strerror(errno), paths.dir));
  }
  return absl::OkStatus();
}

// file:PATH?immutable=1, with the characters a URI gives a meaning escaped.
std::string ImmutableUri(const std::string& path) {
  std::string uri = "file:";
  for (const char ch : path) {
    if (ch == '%' || ch == '?' || ch == '#') {
      absl::StrAppendFormat(&uri, "%%%02X", static_cast<unsigned char>(ch));
    } else {
      uri += ch;
    }
  }
  return uri + "?immutable=1";
}

}  // namespace

absl::StatusOr<Store> OpenStore(std::string_view dir) {
  Store store{.paths = StorePaths::For(dir)};
  if (absl::Status s = CheckExists(store.paths); !s.ok()) {
    return s;
  }
  absl::StatusOr<Db> db = OpenDb(store.paths.db, SQLITE_OPEN_READONLY);
  if (access(store.paths.wal.c_str(), F_OK) != 0) {
    // No WAL: the broker stopped cleanly and the file is complete. Read it as immutable, so
    // SQLite creates no -wal/-shm files (owned by whoever runs the tool, they could stop a
    // broker running as another user from opening its store).
    db = OpenDb(ImmutableUri(store.paths.db), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
  }
  if (!db.ok()) {
    return OpenError(store.paths, SQLITE_OK, db.status());
  }
  // A read-only connection cannot checkpoint anyway; say so, so that closing never tries.
  sqlite3_db_config(db->get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  absl::StatusOr<int> version = schema::SchemaVersion(db->get());
  if (!version.ok()) {
    // SchemaVersion reports every failure as Internal: ask SQLite what went wrong.
    const int rc = sqlite3_extended_errcode(db->get());
    return OpenError(store.paths, rc, SqliteError(db->get(), rc, "reading its schema version"));
  }
  if (*version > schema::kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: schema version %d was written by a newer ringmq (this ringmq-store knows versions "
        "up to %d): use the ringmq-store of the release that wrote it",
        store.paths.db, *version, schema::kSchemaVersion));
  }
  store.db = *std::move(db);
  store.version = *version;
  return store;
}

LockProbe ProbeLock(const std::string& lock_path) {
  const int fd = open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return {errno == ENOENT ? LockState::kNoLockFile : LockState::kUnreadable};
  }
  // flock locks belong to the open file, so a read-only descriptor can test the broker's
  // LOCK_EX. Held only for this instant: a broker starting right now could see it taken.
  LockProbe probe{LockState::kFree};
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
    flock(fd, LOCK_UN);
  } else if (errno == EWOULDBLOCK) {
    probe.state = LockState::kHeld;
    char buf[32] = {};
    const ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) {
      probe.pid += buf[i];
    }
  } else {
    probe.state = LockState::kUnreadable;
  }
  close(fd);
  return probe;
}

int64_t FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
}

absl::Status InFile(const std::string& path, const absl::Status& s) {
  if (s.code() == absl::StatusCode::kDataLoss) {
    return absl::DataLossError(absl::StrFormat(
        "%s: %s: the store is damaged: stop the broker, keep a copy of the files, and restore "
        "a backup (see docs/operations.md)",
        path, s.message()));
  }
  return absl::Status(s.code(), absl::StrFormat("%s: %s", path, s.message()));
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "ringmq-store: %s\n", std::string(s.message()).c_str());
  switch (s.code()) {
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitProblem;
    default:
      return kExitUsage;
  }
}

}  // namespace ringmq::tools::store
