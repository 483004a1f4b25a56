// The ringmq-store commands. Each takes the broker's data directory, prints its results on
// stdout and its errors on stderr, and returns the exit status (store.h).
#pragma once

#include <cstdint>
#include <string>

namespace ringmq::tools::store {

// Schema version, row counts, file sizes, last commit, whether a broker runs.
int Info(const std::string& dir);
// One line per session, deepest queue first; at most `limit` lines (0: all).
int Sessions(const std::string& dir, int64_t limit);
// SQLite's own check (integrity_check when `full`, else quick_check) and the store's
// consistency between tables.
int Check(const std::string& dir, bool full);
// An online copy of DIR/ringmq.db to `dest`, which must not exist.
int Backup(const std::string& dir, const std::string& dest);

}  // namespace ringmq::tools::store
