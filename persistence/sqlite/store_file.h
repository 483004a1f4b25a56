// StoreFile: the data folder, held by one broker at a time (a lock file), and the SQLite
// connection to its ringmq.db, opened in WAL mode, checked and migrated. A file that cannot
// be read, fails its check or has an unknown schema version is an error naming the file and
// what to do; it is never replaced.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include <sqlite3.h>

#include "persistence/sqlite/store_options.h"

namespace ringmq::persistence::sqlite {

class StoreFile {
 public:
  static absl::StatusOr<std::unique_ptr<StoreFile>> Open(const StoreOptions& options);
  ~StoreFile();
  StoreFile(const StoreFile&) = delete;
  StoreFile& operator=(const StoreFile&) = delete;

  sqlite3* db() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  StoreFile() = default;
  absl::Status Lock(const std::string& dir);
  absl::Status Prepare(const StoreOptions& options);
  absl::Status UseWal();

  sqlite3* db_ = nullptr;
  int lock_fd_ = -1;
  std::string path_;
};

}  // namespace ringmq::persistence::sqlite
