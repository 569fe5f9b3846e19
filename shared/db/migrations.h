// Numbered schema migrations, applied in order at start-up and recorded in
// the schema_migrations table. A file holds statements separated by ';' at
// the end of a line. Concurrent starts on MySQL are serialised by GET_LOCK:
// a start waits up to `lock_wait` for another one's migrations (an index
// rebuild on a large table takes minutes) and fails with UNAVAILABLE, having
// applied nothing, when the lock is still held.
#ifndef CX_SHARED_DB_MIGRATIONS_H_
#define CX_SHARED_DB_MIGRATIONS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "shared/db/sql.h"

namespace cx::shared::db {

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// `scope` names the schema (e.g. "feedback") so services sharing a database
// keep separate histories.
absl::Status ApplyMigrations(ConnectionPool& pool, const std::string& scope,
                             const std::vector<Migration>& migrations,
                             absl::Duration lock_wait = absl::Minutes(30));

// A listing table that a migration added to an existing feed (journey's
// change_identities, feedback's follow_up_updates) lists the feed records
// from a marker on: the migration stores the feed's next sequence as the
// marker's value in `meta_table` (name TEXT/VARCHAR, value INTEGER), and
// until the marker is at 1 readers also read the older records themselves.
// ListBelowMarker lists those older records: `list(c, lo, hi)` must list the
// records with lo <= sequence < hi; it runs chunk by chunk downward, each
// chunk in one write transaction that also lowers the marker to lo, so an
// interrupted run resumes where it stopped and two replicas running it at
// once take turns (the marker row is locked). Returns at once when the
// marker is at 1 or below (a database created with the listing) or absent.
// Called at start-up, after the migrations.
absl::Status ListBelowMarker(ConnectionPool& pool, const std::string& meta_table, const std::string& marker,
                             int64_t chunk, const std::function<absl::Status(SqlConnection&, int64_t lo, int64_t hi)>& list);

// Splits a migration into its statements.
std::vector<std::string> SplitStatements(const std::string& sql);

}  // namespace cx::shared::db

#endif  // CX_SHARED_DB_MIGRATIONS_H_
