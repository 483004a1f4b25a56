// ringmq-store info: what a store holds, at a glance.
#include <string>
#include <vector>

#include "absl/strings/str_format.h"

#include "persistence/sqlite/schema.h"

#include "tools/ringmq_store/commands.h"
#include "tools/ringmq_store/sql.h"
#include "tools/ringmq_store/store.h"
#include "tools/ringmq_store/text.h"

namespace ringmq::tools::store {
namespace {

using persistence::sqlite::kSchemaVersion;

struct Counted {
  const char* label;
  const char* table;
  const char* where;  // "" for every row
};
constexpr Counted kCounts[] = {
    {"sessions", "sessions", ""},
    {"subscriptions", "subscriptions", ""},
    {"queued", "deliveries", " WHERE packet_id = 0"},
    {"in flight", "deliveries", " WHERE packet_id != 0"},
    {"stored bodies", "messages", ""},
    {"unreleased", "unreleased", ""},
    {"retained", "retained", ""},
};

std::string VersionText(int version) {
  if (version == kSchemaVersion) {
    return absl::StrFormat("%d (current)", version);
  }
  if (version == 0) {
    return "0 (no tables yet: the broker creates them on its next start)";
  }
  return absl::StrFormat("%d (older than this tool's %d: the broker migrates it on its next start)",
                         version, kSchemaVersion);
}

std::string LockText(const StorePaths& paths) {
  const LockProbe probe = ProbeLock(paths.lock);
  switch (probe.state) {
    case LockState::kHeld:
      return probe.pid.empty() ? std::string("in use by a running broker")
                               : absl::StrFormat("in use by a running broker (pid %s)", probe.pid);
    case LockState::kFree:
      return absl::StrFormat("not running (%s is free)", paths.lock);
    case LockState::kNoLockFile:
      return absl::StrFormat("not running (no %s)", paths.lock);
    case LockState::kUnreadable:
      break;
  }
  return absl::StrFormat("unknown (%s cannot be opened or locked by this user)", paths.lock);
}

std::string SizeText(const std::string& path) {
  const int64_t size = FileSize(path);
  return size < 0 ? "none" : absl::StrFormat("%d bytes", size);
}

absl::StatusOr<std::string> LastCommitText(sqlite3* db) {
  absl::StatusOr<bool> has_meta = HasTable(db, "meta");
  if (!has_meta.ok()) {
    return has_meta.status();
  }
  if (!*has_meta) {
    return std::string("unknown (this schema version keeps no commit time)");
  }
  absl::StatusOr<int64_t> ms = QueryInt(db, "SELECT value FROM meta WHERE key = 'last_commit_ms'");
  if (!ms.ok()) {
    return ms.status();
  }
  return *ms == 0 ? std::string("never") : IsoTimeMs(*ms);
}

absl::StatusOr<std::string> CountText(sqlite3* db, const Counted& c) {
  absl::StatusOr<bool> has = HasTable(db, c.table);
  if (!has.ok()) {
    return has.status();
  }
  if (!*has) {
    return absl::StrFormat("- (no %s table in this version)", c.table);
  }
  absl::StatusOr<int64_t> n =
      QueryInt(db, absl::StrFormat("SELECT count(*) FROM %s%s", c.table, c.where));
  if (!n.ok()) {
    return n.status();
  }
  return absl::StrFormat("%d", *n);
}

absl::Status AddCounts(sqlite3* db, Table& out) {
  absl::StatusOr<std::string> last = LastCommitText(db);
  if (!last.ok()) {
    return last.status();
  }
  out.AddRow({"last commit:", *last});
  for (const Counted& c : kCounts) {
    absl::StatusOr<std::string> n = CountText(db, c);
    if (!n.ok()) {
      return n.status();
    }
    out.AddRow({std::string(c.label) + ":", *n});
  }
  return absl::OkStatus();
}

}  // namespace

int Info(const std::string& dir) {
  // Sizes and the lock before opening: a read-only open of a WAL store that is at rest leaves
  // an empty ringmq.db-wal behind, which is not what the broker left.
  const StorePaths paths = StorePaths::For(dir);
  const std::string db_size = SizeText(paths.db);
  const std::string wal_size = SizeText(paths.wal);
  const std::string broker = LockText(paths);
  absl::StatusOr<Store> store = OpenStore(dir);
  if (!store.ok()) {
    return Fail(store.status());
  }
  Table out;
  out.AddRow({"store:", paths.db});
  out.AddRow({"schema version:", VersionText(store->version)});
  out.AddRow({"broker:", broker});
  out.AddRow({"ringmq.db:", db_size});
  out.AddRow({"ringmq.db-wal:", wal_size});
  const absl::Status s = AddCounts(store->db.get(), out);
  out.Print();  // what was read before a failure still helps
  return s.ok() ? kExitOk : Fail(InFile(paths.db, s));
}

}  // namespace ringmq::tools::store
