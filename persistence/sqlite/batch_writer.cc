#include "persistence/sqlite/batch_writer.h"

#include "absl/strings/str_format.h"

#include "core/base/clock.h"
#include "core/base/log.h"

namespace ringmq::persistence::sqlite {
namespace {

constexpr size_t kBodyGeneration = 1 << 16;           // remembered body rows per generation
constexpr uint64_t kStoreIdMask = ~uint64_t{0} >> 8;  // ids the store handed out: top byte 0

bool IsStoreId(uint64_t id) {
  return id != 0 && (id & kStoreIdMask) == id;
}

// A write that contradicts the store (e.g. a row that already exists) is a bug elsewhere:
// skipped and logged, it must not hold up every later write. Anything else (disk full, I/O)
// fails the transaction.
bool Contradiction(int rc) {
  return (rc & 0xff) == SQLITE_CONSTRAINT;
}

}  // namespace

absl::Status BatchWriter::Init() {
  struct {
    Statement* st;
    const char* sql;
  } const all[] = {
      {&begin_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&last_commit_, "UPDATE meta SET value = ?1 WHERE key = 'last_commit_ms'"},
      {&session_set_,
       "INSERT INTO sessions (client, version, expiry_s, offline_since_ms) VALUES (?1, ?2, ?3, "
       "NULL) ON CONFLICT (client) DO UPDATE SET version = ?2, expiry_s = ?3, "
       "offline_since_ms = NULL"},
      {&session_offline_, "UPDATE sessions SET offline_since_ms = ?2 WHERE client = ?1"},
      {&end_session_, "DELETE FROM sessions WHERE client = ?1"},
      {&end_will_, "DELETE FROM wills WHERE client = ?1"},
      {&end_subs_, "DELETE FROM subscriptions WHERE client = ?1"},
      {&end_deliveries_, "DELETE FROM deliveries WHERE client = ?1"},
      {&end_unreleased_, "DELETE FROM unreleased WHERE client = ?1"},
      {&will_set_, "INSERT OR REPLACE INTO wills VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
      {&will_del_, "DELETE FROM wills WHERE client = ?1"},
      {&sub_set_, "INSERT OR REPLACE INTO subscriptions VALUES (?1, ?2, ?3, ?4)"},
      {&sub_del_, "DELETE FROM subscriptions WHERE client = ?1 AND filter = ?2"},
      {&body_ref_, "UPDATE messages SET refs = refs + 1 WHERE id = ?1 AND bid = ?2"},
      {&body_ref_row_, "UPDATE messages SET refs = refs + 1 WHERE id = ?1"},
      {&body_insert_,
       "INSERT INTO messages (bid, refs, topic, payload, props, qos, retain, expiry_ms) "
       "VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6, ?7)"},
      {&delivery_insert_, "INSERT INTO deliveries VALUES (?1, ?2, ?3, ?4, ?5, 0, 0)"},
      {&delivery_sent_,
       "UPDATE deliveries SET packet_id = ?3, released = ?4 WHERE client = ?1 AND seq = ?2"},
      {&delivery_done_, "DELETE FROM deliveries WHERE client = ?1 AND seq = ?2"},
      {&unreleased_add_, "INSERT OR IGNORE INTO unreleased VALUES (?1, ?2)"},
      {&unreleased_del_, "DELETE FROM unreleased WHERE client = ?1 AND packet_id = ?2"},
      {&retained_set_, "INSERT OR REPLACE INTO retained VALUES (?1, ?2, ?3, ?4, ?5)"},
      {&retained_del_, "DELETE FROM retained WHERE topic = ?1"},
      {&freelist_, "PRAGMA freelist_count"},
  };
  for (const auto& s : all) {
    *s.st = Statement(db_, s.sql);
    if (!s.st->ok()) {
      return absl::InternalError(
          absl::StrFormat("preparing \"%s\": %s", s.sql, sqlite3_errmsg(db_)));
    }
  }
  return absl::OkStatus();
}

absl::Status BatchWriter::Error(const char* what, int rc) const {
  const std::string msg =
      absl::StrFormat("%s: %s (%s)", what, sqlite3_errmsg(db_), sqlite3_errstr(rc));
  if ((rc & 0xff) == SQLITE_FULL) {
    return absl::ResourceExhaustedError(msg);
  }
  return absl::UnavailableError(msg);
}

absl::Status BatchWriter::Commit(std::span<const StoreOp> ops, int64_t now_ms) {
  int rc = begin_.Run();
  if (rc != SQLITE_DONE) {
    return Error("beginning a transaction", rc);
  }
  for (const StoreOp& op : ops) {
    rc = Apply(op);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
      if (!Contradiction(rc)) {
        const absl::Status s = Error("writing", rc);
        rollback_.Run();
        return s;
      }
      RINGMQ_LOG_EVERY_S(kError, 10, "store: a write of kind %d for client %s skipped: %s",
                         static_cast<int>(op.kind), op.client, sqlite3_errmsg(db_));
    }
  }
  rc = last_commit_.Bind(1, now_ms).Run();
  if (rc == SQLITE_DONE) {
    rc = commit_.Run();
  }
  if (rc != SQLITE_DONE) {
    const absl::Status s = Error("committing", rc);
    rollback_.Run();  // an error in COMMIT may leave the transaction open
    return s;
  }
  if (recent_bodies_.size() >= kBodyGeneration) {
    older_bodies_ = std::move(recent_bodies_);
    recent_bodies_.clear();
  }
  return absl::OkStatus();
}

int BatchWriter::Apply(const StoreOp& op) {
  switch (op.kind) {
    case OpKind::kSession:
      return session_set_.Bind(1, op.client).Bind(2, op.version).Bind(3, op.number).Run();
    case OpKind::kSessionOffline:
      return session_offline_.Bind(1, op.client).Bind(2, op.time_ms).Run();
    case OpKind::kSessionEnded:
      return EndSession(op);
    case OpKind::kWill:
      return will_set_.Bind(1, op.client)
          .Bind(2, op.topic)
          .Bind(3, op.payload)
          .Bind(4, op.props)
          .Bind(5, op.qos)
          .Bind(6, op.retain)
          .Bind(7, op.number)
          .Bind(8, op.will_expiry_s)
          .Bind(9, op.flag)
          .Run();
    case OpKind::kWillCleared:
      return will_del_.Bind(1, op.client).Run();
    case OpKind::kSubscribe:
      return sub_set_.Bind(1, op.client)
          .Bind(2, op.topic)
          .Bind(3, op.options)
          .Bind(4, op.number)
          .Run();
    case OpKind::kUnsubscribe:
      return sub_del_.Bind(1, op.client).Bind(2, op.topic).Run();
    case OpKind::kQueued:
      return Queue(op);
    case OpKind::kSent:
      return delivery_sent_.Bind(1, op.client)
          .Bind(2, static_cast<int64_t>(op.seq))
          .Bind(3, op.packet_id)
          .Bind(4, op.flag)
          .Run();
    case OpKind::kDone:
      return delivery_done_.Bind(1, op.client).Bind(2, static_cast<int64_t>(op.seq)).Run();
    case OpKind::kUnreleasedAdd:
      return unreleased_add_.Bind(1, op.client).Bind(2, op.packet_id).Run();
    case OpKind::kUnreleasedDel:
      return unreleased_del_.Bind(1, op.client).Bind(2, op.packet_id).Run();
    case OpKind::kRetained:
      if (op.payload.empty()) {
        return retained_del_.Bind(1, op.topic).Run();
      }
      return retained_set_.Bind(1, op.topic)
          .Bind(2, op.payload)
          .Bind(3, op.props)
          .Bind(4, op.qos)
          .Bind(5, op.expiry_ms)
          .Run();
  }
  return SQLITE_MISUSE;
}

int BatchWriter::EndSession(const StoreOp& op) {
  for (Statement* st :
       {&end_session_, &end_will_, &end_subs_, &end_deliveries_, &end_unreleased_}) {
    const int rc = st->Bind(1, op.client).Run();
    if (rc != SQLITE_DONE) {
      return rc;
    }
  }
  return SQLITE_DONE;
}

int64_t BatchWriter::KnownBody(uint64_t message_id) const {
  if (IsStoreId(message_id)) {
    return static_cast<int64_t>(message_id);  // recovered: the id is its row
  }
  if (auto it = recent_bodies_.find(message_id); it != recent_bodies_.end()) {
    return it->second;
  }
  auto old = older_bodies_.find(message_id);
  return old != older_bodies_.end() ? old->second : 0;
}

int BatchWriter::BodyRow(const StoreOp& op, int64_t* row) {
  // A body this writer already holds: one more reference to it. A recovered row is named by
  // its number alone (AUTOINCREMENT never gives a committed row's number to another body); a
  // remembered one also by the id it records (bid). Gone meanwhile: inserted again below.
  if (const int64_t known = KnownBody(op.message_id); known != 0) {
    Statement& ref = IsStoreId(op.message_id) ? body_ref_row_ : body_ref_;
    ref.Bind(1, known);
    if (!IsStoreId(op.message_id)) {
      ref.Bind(2, static_cast<int64_t>(op.message_id));
    }
    const int rc = ref.Run();
    if (rc != SQLITE_DONE) {
      return rc;
    }
    if (sqlite3_changes(db_) == 1) {
      *row = known;
      return SQLITE_DONE;
    }
  }
  const int rc = body_insert_.Bind(1, static_cast<int64_t>(op.message_id))
                     .Bind(2, op.topic)
                     .Bind(3, op.payload)
                     .Bind(4, op.props)
                     .Bind(5, op.message_qos)
                     .Bind(6, op.message_retain)
                     .Bind(7, op.expiry_ms)
                     .Run();
  if (rc != SQLITE_DONE) {
    return rc;
  }
  *row = sqlite3_last_insert_rowid(db_);
  if (op.message_id != 0 && !IsStoreId(op.message_id)) {
    recent_bodies_[op.message_id] = *row;
  }
  return SQLITE_DONE;
}

int BatchWriter::Queue(const StoreOp& op) {
  int64_t row = 0;
  const int rc = BodyRow(op, &row);
  if (rc != SQLITE_DONE) {
    return rc;
  }
  return delivery_insert_.Bind(1, op.client)
      .Bind(2, static_cast<int64_t>(op.seq))
      .Bind(3, row)
      .Bind(4, op.qos)
      .Bind(5, op.retain)
      .Run();
}

void BatchWriter::Idle() {
  // At most once a second when there is nothing to write: the WAL copied back into the
  // database (its file is then reused from the start, and cut to journal_size_limit), and
  // free pages returned in steps. (Under steady load the commits' automatic checkpoints do
  // the copying; running this at every short pause cost the writer 7% of its time.)
  const int64_t now = base::MonotonicMs();
  if (now - last_idle_ms_ < 1000) {
    return;
  }
  last_idle_ms_ = now;
  sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  int64_t free_pages = 0;
  if (freelist_.Step() == SQLITE_ROW) {
    free_pages = freelist_.Int(0);
  }
  freelist_.Reset();
  if (free_pages > 2048) {
    sqlite3_exec(db_, "PRAGMA incremental_vacuum(2048)", nullptr, nullptr, nullptr);
  }
}

}  // namespace ringmq::persistence::sqlite
