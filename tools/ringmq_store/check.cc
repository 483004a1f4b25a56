// ringmq-store check: SQLite's own check of the file, then the store's consistency between
// tables, the invariants the broker relies on when it recovers.
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

// Problems listed per check; the rest are counted.
constexpr int kShownPerCheck = 10;

// One invariant: `sql` returns one row per violation, which `describe` puts in words. The
// check runs only when every table in `tables` exists (older schema versions lack some).
struct Invariant {
  const char* tables[2];
  const char* sql;
  std::string (*describe)(const Rows&);
};

std::string Client(const Rows& r) {
  return EscapeBytes(r.Bytes(0));
}

constexpr Invariant kInvariants[] = {
    // Queues name their bodies by id; a missing body is a message lost at recovery.
    {{"deliveries", "messages"},
     "SELECT client, seq, msg FROM deliveries d"
     " WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = d.msg)",
     [](const Rows& r) {
       return absl::StrFormat("delivery %d of %s names message %d, which is not stored", r.Int(1),
                              Client(r), r.Int(2));
     }},
    // refs decides when the deliveries_unref trigger deletes a body: too low loses a body that
    // is still queued, too high keeps one forever. deliveries has no index on msg, so the
    // counts come from one grouped pass.
    {{"messages", "deliveries"},
     "SELECT NULL, m.id, m.refs, coalesce(c.n, 0) FROM messages m"
     " LEFT JOIN (SELECT msg, count(*) AS n FROM deliveries GROUP BY msg) c ON c.msg = m.id"
     " WHERE m.refs != coalesce(c.n, 0) OR c.n IS NULL",
     [](const Rows& r) {
       if (r.Int(3) == 0) {
         return absl::StrFormat("message %d (refs %d) is held by no delivery: a body left behind",
                                r.Int(1), r.Int(2));
       }
       return absl::StrFormat("message %d has refs %d but %d deliveries hold it", r.Int(1),
                              r.Int(2), r.Int(3));
     }},
    // A session's records go with the session (the broker deletes them together).
    {{"deliveries", "sessions"},
     "SELECT client, count(*) FROM deliveries d"
     " WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.client = d.client) GROUP BY client",
     [](const Rows& r) {
       return absl::StrFormat("%d deliveries of %s, which has no session", r.Int(1), Client(r));
     }},
    {{"subscriptions", "sessions"},
     "SELECT client, count(*) FROM subscriptions x"
     " WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.client = x.client) GROUP BY client",
     [](const Rows& r) {
       return absl::StrFormat("%d subscriptions of %s, which has no session", r.Int(1), Client(r));
     }},
    {{"unreleased", "sessions"},
     "SELECT client, count(*) FROM unreleased u"
     " WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.client = u.client) GROUP BY client",
     [](const Rows& r) {
       return absl::StrFormat("%d unreleased packet ids of %s, which has no session", r.Int(1),
                              Client(r));
     }},
    {{"wills", "sessions"},
     "SELECT client FROM wills w"
     " WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.client = w.client)",
     [](const Rows& r) {
       return absl::StrFormat("the will of %s, which has no session", Client(r));
     }},
    // Values the broker never writes: recovery would refuse them or misbehave on them.
    {{"sessions", nullptr},
     "SELECT client, version FROM sessions WHERE version NOT IN (3, 4, 5)",
     [](const Rows& r) {
       return absl::StrFormat("session %s has protocol version %d (3, 4 or 5 expected)", Client(r),
                              r.Int(1));
     }},
    // The MQTT 5 options byte: bits 6-7 reserved, QoS 3 and retain handling 3 invalid.
    {{"subscriptions", nullptr},
     "SELECT client, options, filter FROM subscriptions"
     " WHERE options NOT BETWEEN 0 AND 255 OR (options & 192) != 0 OR (options & 3) = 3"
     "  OR ((options >> 4) & 3) = 3",
     [](const Rows& r) {
       return absl::StrFormat("subscription %s of %s has invalid options 0x%02x",
                              EscapeBytes(r.Bytes(2)), Client(r), r.Int(1));
     }},
    // Queued (packet id 0) or in flight; released only for a QoS 2 message sent and PUBRECed.
    {{"deliveries", nullptr},
     "SELECT client, seq, qos, packet_id, released FROM deliveries"
     " WHERE qos NOT IN (1, 2) OR packet_id NOT BETWEEN 0 AND 65535 OR released NOT IN (0, 1)"
     "  OR (released = 1 AND (qos != 2 OR packet_id = 0))",
     [](const Rows& r) {
       return absl::StrFormat(
           "delivery %d of %s has qos %d, packet id %d, released %d: not a state the broker "
           "writes",
           r.Int(1), Client(r), r.Int(2), r.Int(3), r.Int(4));
     }},
    // One packet id names one message in flight per session (MQTT 5 2.2.1).
    {{"deliveries", nullptr},
     "SELECT client, packet_id, count(*) FROM deliveries WHERE packet_id != 0"
     " GROUP BY client, packet_id HAVING count(*) > 1",
     [](const Rows& r) {
       return absl::StrFormat("packet id %d of %s is in flight for %d messages", r.Int(1),
                              Client(r), r.Int(2));
     }},
    {{"unreleased", nullptr},
     "SELECT client, packet_id FROM unreleased WHERE packet_id NOT BETWEEN 1 AND 65535",
     [](const Rows& r) {
       return absl::StrFormat("unreleased packet id %d of %s is out of range", r.Int(1), Client(r));
     }},
};

absl::StatusOr<bool> TablesExist(sqlite3* db, const Invariant& inv) {
  for (const char* table : inv.tables) {
    if (table == nullptr) {
      continue;
    }
    absl::StatusOr<bool> has = HasTable(db, table);
    if (!has.ok() || !*has) {
      return has;
    }
  }
  return true;
}

// Appends the violations of `inv` to `problems`, the first kShownPerCheck in full.
absl::Status Violations(sqlite3* db, const Invariant& inv, std::vector<std::string>& problems) {
  absl::StatusOr<Rows> rows = Rows::Prepare(db, inv.sql);
  if (!rows.ok()) {
    return rows.status();
  }
  int64_t n = 0;
  absl::StatusOr<bool> more;
  while ((more = rows->Next()).ok() && *more) {
    if (n++ < kShownPerCheck) {
      problems.push_back(inv.describe(*rows));
    }
  }
  if (n > kShownPerCheck) {
    problems.push_back(absl::StrFormat("... and %d more like it", n - kShownPerCheck));
  }
  return more.status();
}

void CheckConsistency(sqlite3* db, std::vector<std::string>& problems) {
  for (const Invariant& inv : kInvariants) {
    absl::StatusOr<bool> exist = TablesExist(db, inv);
    absl::Status s = exist.ok() && *exist ? Violations(db, inv, problems) : exist.status();
    if (!s.ok()) {
      // A damaged file can stop a query halfway: that is a problem to report, not a reason
      // to skip the other checks.
      problems.push_back(absl::StrFormat("a consistency check could not finish: %s", s.message()));
    }
  }
}

}  // namespace

int Check(const std::string& dir, bool full) {
  absl::StatusOr<Store> store = OpenStore(dir);
  if (!store.ok()) {
    return Fail(store.status());
  }
  if (store->version < persistence::sqlite::kSchemaVersion) {
    absl::PrintF("schema version %d (older than this tool's %d): checking the tables it has\n",
                 store->version, persistence::sqlite::kSchemaVersion);
  }
  std::vector<std::string> problems;
  if (absl::Status s = persistence::sqlite::CheckIntegrity(store->db.get(), full); !s.ok()) {
    problems.push_back(std::string(s.message()));
  }
  CheckConsistency(store->db.get(), problems);
  if (problems.empty()) {
    absl::PrintF("ok\n");
    return kExitOk;
  }
  for (const std::string& p : problems) {
    absl::PrintF("%s\n", p);
  }
  absl::PrintF(
      "%s: %d problem(s) found: stop the broker, keep a copy of the files, and restore a backup "
      "(see docs/operations.md)\n",
      store->paths.db, problems.size());
  return kExitProblem;
}

}  // namespace ringmq::tools::store
