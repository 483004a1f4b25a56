// Statement: a prepared SQLite statement that finalizes itself, with binding and reading by
// position. Used by one thread at a time (the connection's).
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>

#include <sqlite3.h>

namespace ringmq::persistence::sqlite {

class Statement {
 public:
  Statement() = default;
  // Null (and db's error) when `sql` does not compile.
  Statement(sqlite3* db, const char* sql) {
    sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st_, nullptr);
  }
  Statement(Statement&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
  Statement& operator=(Statement&& o) noexcept {
    std::swap(st_, o.st_);
    return *this;
  }
  ~Statement() { sqlite3_finalize(st_); }

  bool ok() const { return st_ != nullptr; }
  sqlite3_stmt* get() const { return st_; }

  Statement& Bind(int i, int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  // The bytes must outlive Step() (they are not copied).
  Statement& Bind(int i, std::string_view v) {
    sqlite3_bind_blob(st_, i, v.empty() ? "" : v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& BindNull(int i) {
    sqlite3_bind_null(st_, i);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(st_); }
  // Runs a statement that returns no rows and resets it: SQLITE_DONE or an error code.
  int Run() {
    const int rc = sqlite3_step(st_);
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
    return rc;
  }
  void Reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }

  int64_t Int(int col) const { return sqlite3_column_int64(st_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
  // Valid until the next Step() or Reset().
  std::string_view Blob(int col) const {
    const void* p = sqlite3_column_blob(st_, col);
    const int n = sqlite3_column_bytes(st_, col);
    return p == nullptr ? std::string_view() : std::string_view(static_cast<const char*>(p), n);
  }

 private:
  sqlite3_stmt* st_ = nullptr;
};

}  // namespace ringmq::persistence::sqlite
