// BatchWriter: applies the broker's writes (StoreOp) to the store, many in one transaction
// (group commit). Writer thread only.
//
// Message bodies are kept once: the first queue row of a message inserts its body, later
// rows of the same message (other sessions, on any shard) add a reference, and the trigger
// deliveries_unref deletes the body with its last row. The writer remembers which row holds
// the body of a recent message id; the row also records that id (messages.bid), so a
// remembered row that has gone (or was rolled back, and its number reused) is never taken
// for another message's body: the reference update then finds nothing and the body is
// inserted again. A recovered message's id is its row (top byte 0): committed rows keep their
// number for good (AUTOINCREMENT), so the row alone names it.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include <sqlite3.h>

#include "persistence/sqlite/statement.h"
#include "persistence/sqlite/store_op.h"

namespace ringmq::persistence::sqlite {

class BatchWriter {
 public:
  explicit BatchWriter(sqlite3* db) : db_(db) {}
  // Compiles the statements. Call once.
  absl::Status Init();
  // Applies `ops` in one transaction, and records `now_ms` as the time of the last commit.
  // OK: committed. An error: rolled back, nothing of `ops` is in the store (the error's code
  // says what happened: the disk full, an I/O error).
  absl::Status Commit(std::span<const StoreOp> ops, int64_t now_ms);
  // Writes outside a transaction when idle: a WAL checkpoint and, when many pages are free,
  // some of them given back to the file system.
  void Idle();

 private:
  int Apply(const StoreOp& op);
  int EndSession(const StoreOp& op);
  int Queue(const StoreOp& op);
  int BodyRow(const StoreOp& op, int64_t* row);
  int64_t KnownBody(uint64_t message_id) const;  // its row, or 0
  absl::Status Error(const char* what, int rc) const;

  sqlite3* db_;
  Statement begin_, commit_, rollback_, last_commit_;
  Statement session_set_, session_offline_;
  Statement end_session_, end_will_, end_subs_, end_deliveries_, end_unreleased_;
  Statement will_set_, will_del_, sub_set_, sub_del_;
  Statement body_ref_, body_ref_row_, body_insert_, delivery_insert_, delivery_sent_,
      delivery_done_;
  Statement unreleased_add_, unreleased_del_, retained_set_, retained_del_;
  Statement freelist_;
  // Broker message id -> the row that holds its body; two generations, the older dropped
  // as the newer fills (copies of one message reach the writer within a few batches).
  absl::flat_hash_map<uint64_t, int64_t> recent_bodies_, older_bodies_;
  int64_t last_idle_ms_ = 0;
};

}  // namespace ringmq::persistence::sqlite
