#include "persistence/sqlite/schema.h"

#include <iterator>

#include "absl/strings/str_format.h"

namespace ringmq::persistence::sqlite {
namespace {

// kSteps[i] migrates version i to i + 1. Never edit a step once released: add one.
constexpr const char* kSteps[] = {
    // 0 -> 1: the first layout.
    "CREATE TABLE sessions ("
    "  client BLOB PRIMARY KEY, version INTEGER NOT NULL, expiry_s INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE wills ("
    "  client BLOB PRIMARY KEY, topic BLOB NOT NULL, payload BLOB NOT NULL,"
    "  props BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL,"
    "  delay_s INTEGER NOT NULL, expiry_s INTEGER NOT NULL, has_expiry INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE subscriptions ("
    "  client BLOB NOT NULL, filter BLOB NOT NULL, options INTEGER NOT NULL,"
    "  sub_id INTEGER NOT NULL, PRIMARY KEY (client, filter)"
    ") WITHOUT ROWID;"
    "CREATE TABLE messages ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, bid INTEGER NOT NULL, refs INTEGER NOT NULL,"
    "  topic BLOB NOT NULL, payload BLOB NOT NULL, props BLOB NOT NULL,"
    "  qos INTEGER NOT NULL, retain INTEGER NOT NULL, expiry_ms INTEGER NOT NULL"
    ");"
    "CREATE TABLE deliveries ("
    "  client BLOB NOT NULL, seq INTEGER NOT NULL, msg INTEGER NOT NULL,"
    "  qos INTEGER NOT NULL, retain INTEGER NOT NULL, packet_id INTEGER NOT NULL,"
    "  released INTEGER NOT NULL, PRIMARY KEY (client, seq)"
    ") WITHOUT ROWID;"
    // A body goes with the last queue row that holds it.
    "CREATE TRIGGER deliveries_unref AFTER DELETE ON deliveries BEGIN"
    "  UPDATE messages SET refs = refs - 1 WHERE id = OLD.msg;"
    "  DELETE FROM messages WHERE id = OLD.msg AND refs <= 0;"
    "END;"
    "CREATE TABLE unreleased ("
    "  client BLOB NOT NULL, packet_id INTEGER NOT NULL, PRIMARY KEY (client, packet_id)"
    ") WITHOUT ROWID;"
    "CREATE TABLE retained ("
    "  topic BLOB PRIMARY KEY, payload BLOB NOT NULL, props BLOB NOT NULL,"
    "  qos INTEGER NOT NULL, expiry_ms INTEGER NOT NULL"
    ") WITHOUT ROWID;",
    // 1 -> 2: when a session went offline, and the time of the last commit, so that a
    // restart counts the session expiry from the disconnection (or the crash), not from the
    // restart.
    "ALTER TABLE sessions ADD COLUMN offline_since_ms INTEGER;"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    // Sessions of a version 1 store count as offline since the migration.
    "INSERT INTO meta VALUES ('last_commit_ms',"
    "  CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));",
    // 2 -> 3: the bodies that expire, indexed, so that recovery finds the expired ones
    // without reading every body (it did: 15% of recovering a million queued messages).
    "CREATE INDEX messages_expiring ON messages (expiry_ms) WHERE expiry_ms != 0;",
};
static_assert(std::size(kSteps) == kSchemaVersion);

}  // namespace

absl::Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    absl::Status s = absl::InternalError(err != nullptr ? err : sqlite3_errmsg(db));
    sqlite3_free(err);
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<int> SchemaVersion(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr) != SQLITE_OK) {
    return absl::InternalError(sqlite3_errmsg(db));
  }
  const int rc = sqlite3_step(st);
  const int version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW) {
    return absl::InternalError(sqlite3_errmsg(db));
  }
  return version;
}

absl::Status Migrate(sqlite3* db, int target) {
  absl::StatusOr<int> v = SchemaVersion(db);
  if (!v.ok()) {
    return v.status();
  }
  if (*v > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "schema version %d is newer than this ringmq knows (%d): run the ringmq that wrote it, "
        "or a newer one",
        *v, kSchemaVersion));
  }
  for (int from = *v; from < target; ++from) {
    const std::string step = absl::StrFormat(
        "BEGIN IMMEDIATE; %s PRAGMA user_version = %d; COMMIT;", kSteps[from], from + 1);
    if (absl::Status s = Exec(db, step.c_str()); !s.ok()) {
      (void)Exec(db, "ROLLBACK");
      return absl::InternalError(absl::StrFormat("migrating the schema from version %d to %d: %s",
                                                 from, from + 1, s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckIntegrity(sqlite3* db, bool full) {
  sqlite3_stmt* st = nullptr;
  const char* sql = full ? "PRAGMA integrity_check(10)" : "PRAGMA quick_check(10)";
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) {
    return absl::DataLossError(sqlite3_errmsg(db));
  }
  std::string problems;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    const std::string line = text != nullptr ? text : "";
    if (line != "ok") {
      problems += (problems.empty() ? "" : "; ") + line;
    }
  }
  if (rc != SQLITE_DONE) {
    problems += (problems.empty() ? "" : "; ") + std::string(sqlite3_errmsg(db));
  }
  sqlite3_finalize(st);
  if (!problems.empty()) {
    return absl::DataLossError(absl::StrFormat("integrity check failed: %s", problems));
  }
  return absl::OkStatus();
}

}  // namespace ringmq::persistence::sqlite
