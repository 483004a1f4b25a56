#include "tools/ringmq_store/sql.h"

#include "absl/strings/str_format.h"

namespace ringmq::tools::store {

absl::StatusOr<Db> OpenDb(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db(raw);  // sqlite3_open_v2 hands back a handle to close even when it fails
  if (rc != SQLITE_OK) {
    return SqliteError(db.get(), rc, "opening it");
  }
  // Extended codes tell a damaged file (SQLITE_CORRUPT_*) from other failures.
  sqlite3_extended_result_codes(db.get(), 1);
  // The broker's writer may hold the write lock briefly (a checkpoint, a WAL recovery).
  sqlite3_busy_timeout(db.get(), 2000);
  return db;
}

absl::Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  const char* msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const std::string text = absl::StrFormat("%s: %s", what, msg);
  const int primary = rc & 0xff;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
    return absl::DataLossError(text);
  }
  return absl::InternalError(text);
}

absl::StatusOr<Rows> Rows::Prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteError(db, rc, "reading it");
  }
  return Rows(db, stmt);
}

absl::StatusOr<bool> Rows::Next() {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  return SqliteError(db_, rc, "reading it");
}

std::string_view Rows::Bytes(int col) const {
  // sqlite3_column_blob before sqlite3_column_bytes, as SQLite's docs require.
  const void* data = sqlite3_column_blob(stmt_.get(), col);
  const int size = sqlite3_column_bytes(stmt_.get(), col);
  return data != nullptr ? std::string_view(static_cast<const char*>(data), size)
                         : std::string_view();
}

absl::StatusOr<int64_t> QueryInt(sqlite3* db, std::string_view sql) {
  absl::StatusOr<Rows> rows = Rows::Prepare(db, sql);
  if (!rows.ok()) {
    return rows.status();
  }
  absl::StatusOr<bool> row = rows->Next();
  if (!row.ok()) {
    return row.status();
  }
  return *row ? rows->Int(0) : 0;
}

absl::StatusOr<bool> HasTable(sqlite3* db, std::string_view table) {
  absl::StatusOr<int64_t> n = QueryInt(
      db, absl::StrFormat("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '%s'",
                          table));
  if (!n.ok()) {
    return n.status();
  }
  return *n > 0;
}

absl::StatusOr<bool> HasColumn(sqlite3* db, std::string_view table, std::string_view column) {
  absl::StatusOr<int64_t> n =
      QueryInt(db, absl::StrFormat("SELECT count(*) FROM pragma_table_info('%s') WHERE name = '%s'",
                                   table, column));
  if (!n.ok()) {
    return n.status();
  }
  return *n > 0;
}

}  // namespace ringmq::tools::store
