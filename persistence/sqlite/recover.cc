// SqliteStore::Recover: what the store holds, handed to the broker at start. Sessions that
// expired while the broker was down go first (with everything of theirs), and queued
// messages and retained messages whose expiry passed; then every record is read back.
#include "absl/strings/str_format.h"

#include "core/base/clock.h"
#include "core/base/log.h"
#include "persistence/sqlite/schema.h"
#include "persistence/sqlite/sqlite_store.h"
#include "persistence/sqlite/statement.h"
#include "persistence/sqlite/store_file.h"
#include "persistence/sqlite/wall_clock.h"

namespace ringmq::persistence::sqlite {
namespace {

mqtt::SubscriptionOptions UnpackOptions(int64_t v) {
  mqtt::SubscriptionOptions o;
  o.max_qos = static_cast<mqtt::Qos>(std::min<int64_t>(v & 3, 2));
  o.no_local = (v & 4) != 0;
  o.retain_as_published = (v & 8) != 0;
  o.retain_handling = static_cast<mqtt::RetainHandling>(std::min<int64_t>((v >> 4) & 3, 2));
  return o;
}

mqtt::ProtocolVersion Version(int64_t v) {
  return v == 3   ? mqtt::ProtocolVersion::kMqtt31
         : v == 5 ? mqtt::ProtocolVersion::kMqtt5
                  : mqtt::ProtocolVersion::kMqtt311;
}

mqtt::Qos ToQos(int64_t v) {
  return static_cast<mqtt::Qos>(std::clamp<int64_t>(v, 0, 2));
}

// Expired sessions, queued messages and retained messages leave the store first.
absl::Status DropExpired(sqlite3* db, int64_t now_ms) {
  const std::string sql = absl::StrFormat(
      "BEGIN IMMEDIATE;"
      "CREATE TEMP TABLE expired AS SELECT client FROM sessions WHERE expiry_s != 4294967295 "
      "  AND coalesce(offline_since_ms, (SELECT value FROM meta WHERE key = 'last_commit_ms'))"
      "      + expiry_s * 1000 <= %d;"
      "DELETE FROM wills WHERE client IN expired;"
      "DELETE FROM subscriptions WHERE client IN expired;"
      "DELETE FROM deliveries WHERE client IN expired;"
      "DELETE FROM unreleased WHERE client IN expired;"
      "DELETE FROM sessions WHERE client IN expired;"
      "DROP TABLE expired;"
      "DELETE FROM deliveries WHERE packet_id = 0 AND msg IN"
      "  (SELECT id FROM messages WHERE expiry_ms != 0 AND expiry_ms <= %d);"
      "DELETE FROM retained WHERE expiry_ms != 0 AND expiry_ms <= %d;"
      // Sessions that were connected when the broker stopped went offline then: from now
      // on their expiry counts from that moment, whatever later restarts happen.
      "UPDATE sessions SET offline_since_ms ="
      "  (SELECT value FROM meta WHERE key = 'last_commit_ms') WHERE offline_since_ms IS NULL;"
      "COMMIT;",
      now_ms, now_ms, now_ms);
  if (absl::Status s = Exec(db, sql.c_str()); !s.ok()) {
    (void)Exec(db, "ROLLBACK");
    return s;
  }
  return absl::OkStatus();
}

class Reader {
 public:
  Reader(sqlite3* db, RecoverySink& sink, int64_t mono_now, int64_t wall_now)
      : db_(db), sink_(sink), mono_now_(mono_now), wall_now_(wall_now) {}

  absl::Status Sessions();
  absl::Status Subscriptions();
  absl::Status Deliveries();
  absl::Status Unreleased();
  absl::Status Retained();
  size_t rows() const { return rows_; }

 private:
  // Runs `sql`, calling `row` for each result row.
  template <typename Row>
  absl::Status ForEach(const char* sql, Row row) {
    Statement st(db_, sql);
    if (!st.ok()) {
      return absl::DataLossError(absl::StrFormat("reading (%s): %s", sql, sqlite3_errmsg(db_)));
    }
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      row(st);
      ++rows_;
    }
    if (rc != SQLITE_DONE) {
      return absl::DataLossError(absl::StrFormat("reading (%s): %s", sql, sqlite3_errmsg(db_)));
    }
    return absl::OkStatus();
  }
  int64_t Deadline(int64_t wall_ms) const { return WallToDeadline(wall_ms, mono_now_, wall_now_); }

  sqlite3* db_;
  RecoverySink& sink_;
  const int64_t mono_now_, wall_now_;
  size_t rows_ = 0;
};

absl::Status Reader::Sessions() {
  return ForEach(
      "SELECT s.client, s.version, s.expiry_s, coalesce(s.offline_since_ms, (SELECT value FROM "
      "meta WHERE key = 'last_commit_ms')), w.topic, w.payload, w.props, w.qos, w.retain, "
      "w.delay_s, w.expiry_s, w.has_expiry FROM sessions s LEFT JOIN wills w USING (client)",
      [this](const Statement& st) {
        SessionView s{st.Blob(0), Version(st.Int(1)), static_cast<uint32_t>(st.Int(2))};
        s.offline_ms = std::max<int64_t>(0, wall_now_ - st.Int(3));
        WillView w;
        const bool has_will = !st.IsNull(4);
        if (has_will) {
          w = {st.Blob(4),
               st.Blob(5),
               st.Blob(6),
               ToQos(st.Int(7)),
               st.Int(8) != 0,
               static_cast<uint32_t>(st.Int(9)),
               static_cast<uint32_t>(st.Int(10)),
               st.Int(11) != 0};
        }
        sink_.Session(s, has_will ? &w : nullptr);
      });
}

absl::Status Reader::Subscriptions() {
  return ForEach(
      "SELECT client, filter, options, sub_id FROM subscriptions", [this](const Statement& st) {
        sink_.Subscription(
            st.Blob(0), {st.Blob(1), UnpackOptions(st.Int(2)), static_cast<uint32_t>(st.Int(3))});
      });
}

absl::Status Reader::Deliveries() {
  return ForEach(
      "SELECT d.client, d.seq, d.qos, d.retain, d.packet_id, d.released, m.id, m.topic, "
      "m.payload, m.props, m.qos, m.retain, m.expiry_ms FROM deliveries d JOIN messages m ON "
      "m.id = d.msg ORDER BY d.client, d.seq",
      [this](const Statement& st) {
        DeliveryView d;
        d.seq = static_cast<uint64_t>(st.Int(1));
        d.qos = ToQos(st.Int(2));
        d.retain = st.Int(3) != 0;
        d.packet_id = static_cast<uint16_t>(st.Int(4));
        d.released = st.Int(5) != 0;
        d.message.id = static_cast<uint64_t>(st.Int(6));
        d.message.topic = st.Blob(7);
        d.message.payload = st.Blob(8);
        d.message.properties = st.Blob(9);
        d.message.qos = ToQos(st.Int(10));
        d.message.retain = st.Int(11) != 0;
        d.message.expiry_deadline_ms = Deadline(st.Int(12));
        sink_.Delivery(st.Blob(0), d);
      });
}

absl::Status Reader::Unreleased() {
  return ForEach("SELECT client, packet_id FROM unreleased", [this](const Statement& st) {
    sink_.UnreleasedQos2(st.Blob(0), static_cast<uint16_t>(st.Int(1)));
  });
}

absl::Status Reader::Retained() {
  return ForEach("SELECT topic, payload, props, qos, expiry_ms FROM retained",
                 [this](const Statement& st) {
                   MessageView m;
                   m.topic = st.Blob(0);
                   m.payload = st.Blob(1);
                   m.properties = st.Blob(2);
                   m.qos = ToQos(st.Int(3));
                   m.retain = true;
                   m.expiry_deadline_ms = Deadline(st.Int(4));
                   sink_.Retained(m);
                 });
}

}  // namespace

absl::Status SqliteStore::Recover(RecoverySink& sink) {
  const int64_t start = base::MonotonicMs();
  const int64_t wall_now = WallMs();
  sqlite3* db = file_->db();
  if (absl::Status s = DropExpired(db, wall_now); !s.ok()) {
    if ((sqlite3_errcode(db) & 0xff) == SQLITE_FULL) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "store %s: the disk is full: free some space on it and start the broker again", path()));
    }
    return absl::DataLossError(
        absl::StrFormat("store %s: dropping what expired: %s", path(), s.message()));
  }
  // Read through a memory map: a million queued messages are read three times faster than
  // through the page cache (turned off again for the writer: an I/O error on a mapped page
  // is a signal, not an error code).
  (void)Exec(db, "PRAGMA mmap_size = 4294967296");
  Reader r(db, sink, base::MonotonicMs(), wall_now);
  for (absl::Status (Reader::*step)() :
       {&Reader::Sessions, &Reader::Subscriptions, &Reader::Deliveries, &Reader::Unreleased,
        &Reader::Retained}) {
    if (absl::Status s = (r.*step)(); !s.ok()) {
      return absl::DataLossError(absl::StrFormat("store %s: %s", path(), s.message()));
    }
  }
  (void)Exec(db, "PRAGMA mmap_size = 0");
  RINGMQ_LOG(kInfo, "store %s: %d records recovered in %d ms (sync %s)", path(), r.rows(),
             base::MonotonicMs() - start, options_.sync_full ? "full" : "normal");
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

}  // namespace ringmq::persistence::sqlite
