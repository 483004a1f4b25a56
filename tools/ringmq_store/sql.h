// Thin RAII over the SQLite C API for ringmq-store: connections and statements that close
// themselves, errors as absl::Status with SQLite's message, and the few query shapes the
// commands need. Single-threaded (the tool runs on one thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include <sqlite3.h>

namespace ringmq::tools::store {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;

// Opens `path` with `flags` (SQLITE_OPEN_*). The caller has checked that the file exists when
// it must not be created.
absl::StatusOr<Db> OpenDb(const std::string& path, int flags);

// An error for `rc` on `db`: DataLoss for a damaged file (so that the caller reports a problem
// found, not a usage error), Internal otherwise. `what` says what was being done.
absl::Status SqliteError(sqlite3* db, int rc, std::string_view what);

// One prepared statement, stepped row by row.
class Rows {
 public:
  static absl::StatusOr<Rows> Prepare(sqlite3* db, std::string_view sql);

  // true: a row is ready; false: no more rows.
  absl::StatusOr<bool> Next();
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL; }
  // The bytes of a TEXT or BLOB column.
  std::string_view Bytes(int col) const;
  void BindInt(int param, int64_t value) { sqlite3_bind_int64(stmt_.get(), param, value); }

 private:
  struct StmtCloser {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  Rows(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, StmtCloser> stmt_;
};

// The first column of the first row of `sql` (0 when there is no row).
absl::StatusOr<int64_t> QueryInt(sqlite3* db, std::string_view sql);
// Table and column names are the tool's own constants, never user input.
absl::StatusOr<bool> HasTable(sqlite3* db, std::string_view table);
absl::StatusOr<bool> HasColumn(sqlite3* db, std::string_view table, std::string_view column);

}  // namespace ringmq::tools::store
