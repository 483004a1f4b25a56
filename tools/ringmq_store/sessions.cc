// ringmq-store sessions: one line per session, the deepest queues first.
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_format.h"

#include "tools/ringmq_store/commands.h"
#include "tools/ringmq_store/sql.h"
#include "tools/ringmq_store/store.h"
#include "tools/ringmq_store/text.h"

namespace ringmq::tools::store {
namespace {

// The session expiry that means "never" (MQTT 5: 0xFFFFFFFF).
constexpr int64_t kExpiryNever = 4294967295;

// Each count is a lookup on the table's primary key (client, ...), so one session costs a
// few index probes however large the store.
constexpr const char* kQuery =
    "SELECT s.client, s.version, s.expiry_s, %s,"
    " (SELECT count(*) FROM subscriptions WHERE client = s.client),"
    " (SELECT count(*) FROM deliveries WHERE client = s.client AND packet_id = 0) AS queued,"
    " (SELECT count(*) FROM deliveries WHERE client = s.client AND packet_id != 0),"
    " (SELECT count(*) FROM unreleased WHERE client = s.client),"
    " EXISTS (SELECT 1 FROM wills WHERE client = s.client)"
    " FROM sessions s ORDER BY queued DESC, s.client LIMIT ?";

std::string VersionName(int64_t level) {
  switch (level) {
    case 3:
      return "3.1";
    case 4:
      return "3.1.1";
    case 5:
      return "5.0";
    default:
      return absl::StrFormat("?(%d)", level);
  }
}

std::string ExpiryText(int64_t expiry_s) {
  return expiry_s == kExpiryNever ? "never" : absl::StrFormat("%ds", expiry_s);
}

// NULL: connected at the last commit (schema version 1 keeps no such time: unknown).
std::string StateText(const Rows& row, bool has_offline_since) {
  if (!has_offline_since) {
    return "?";
  }
  if (row.IsNull(3) || row.Int(3) <= 0) {
    return "online";
  }
  return "offline since " + IsoTimeMs(row.Int(3));
}

std::vector<std::string> Line(const Rows& row, bool has_offline_since) {
  return {EscapeBytes(row.Bytes(0)),
          VersionName(row.Int(1)),
          ExpiryText(row.Int(2)),
          StateText(row, has_offline_since),
          absl::StrFormat("%d", row.Int(4)),
          absl::StrFormat("%d", row.Int(5)),
          absl::StrFormat("%d", row.Int(6)),
          absl::StrFormat("%d", row.Int(7)),
          row.Int(8) != 0 ? "yes" : "no"};
}

// Adds a line per session to `out`, at most `limit` (0: all); returns how many it added.
absl::StatusOr<int64_t> AddSessions(sqlite3* db, int64_t limit, Table& out) {
  absl::StatusOr<bool> has_offline_since = HasColumn(db, "sessions", "offline_since_ms");
  if (!has_offline_since.ok()) {
    return has_offline_since.status();
  }
  absl::StatusOr<Rows> rows = Rows::Prepare(
      db, absl::StrFormat(kQuery, *has_offline_since ? "s.offline_since_ms" : "NULL"));
  if (!rows.ok()) {
    return rows.status();
  }
  rows->BindInt(1, limit > 0 ? limit : -1);  // a negative LIMIT means none
  int64_t n = 0;
  absl::StatusOr<bool> more;
  while ((more = rows->Next()).ok() && *more) {
    out.AddRow(Line(*rows, *has_offline_since));
    ++n;
  }
  if (!more.ok()) {
    return more.status();
  }
  return n;
}

}  // namespace

int Sessions(const std::string& dir, int64_t limit) {
  absl::StatusOr<Store> store = OpenStore(dir);
  if (!store.ok()) {
    return Fail(store.status());
  }
  sqlite3* db = store->db.get();
  absl::StatusOr<bool> has = HasTable(db, "sessions");
  if (!has.ok()) {
    return Fail(InFile(store->paths.db, has.status()));
  }
  if (!*has) {
    absl::PrintF("no sessions table (schema version %d): the broker creates it on its next start\n",
                 store->version);
    return kExitOk;
  }
  Table out;
  out.AddRow(
      {"client", "version", "expiry", "state", "subs", "queued", "inflight", "unreleased", "will"});
  absl::StatusOr<int64_t> shown = AddSessions(db, limit, out);
  out.Print();
  if (!shown.ok()) {
    return Fail(InFile(store->paths.db, shown.status()));
  }
  absl::StatusOr<int64_t> total = QueryInt(db, "SELECT count(*) FROM sessions");
  if (total.ok() && *total > *shown) {
    absl::PrintF("(%d of %d sessions shown: --limit 0 shows all)\n", *shown, *total);
  }
  return kExitOk;
}

}  // namespace ringmq::tools::store
