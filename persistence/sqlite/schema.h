// The SQLite store's schema: its versions and the forward migrations between them, and the
// checks a store file must pass before the broker trusts it. The version lives in
// PRAGMA user_version; a fresh file is version 0 and is migrated step by step to
// kSchemaVersion. A file from a newer ringmq (a version above kSchemaVersion) is refused.
//
// Tables (version 3; messages_expiring indexes the bodies that expire):
//   sessions      client id, protocol version, session expiry, when it went offline
//   wills         the session's will, with its properties and delay
//   subscriptions the session's filters with their options and identifier
//   messages      message bodies, stored once, with the count of queue rows that hold them
//   deliveries    a session's QoS 1/2 messages: queued, in flight, past PUBREC
//   unreleased    QoS 2 packet ids received from the client and not released yet
//   retained      the retained message of each topic, with its expiry
//   meta          the wall time of the last commit (how long a crash kept sessions away)
// Times are wall-clock milliseconds since the epoch (a restart resets the monotonic clock).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include <sqlite3.h>

namespace ringmq::persistence::sqlite {

inline constexpr int kSchemaVersion = 3;

// PRAGMA user_version of `db`.
absl::StatusOr<int> SchemaVersion(sqlite3* db);
// Migrates `db` from its version up to `target` (<= kSchemaVersion), one transaction per
// step. An error names the step that failed. A version above kSchemaVersion is refused.
absl::Status Migrate(sqlite3* db, int target = kSchemaVersion);
// PRAGMA quick_check (or integrity_check when `full`): OK, or the first problems it found.
absl::Status CheckIntegrity(sqlite3* db, bool full);

// Runs `sql` (one or more statements, no results). The error carries SQLite's message.
absl::Status Exec(sqlite3* db, const char* sql);

}  // namespace ringmq::persistence::sqlite
