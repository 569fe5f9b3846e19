// Numbered schema migrations, applied in order at start-up and recorded in
// the schema_migrations table. A file holds statements separated by ';' at
// the end of a line. Concurrent starts on MySQL are serialised by GET_LOCK.
#ifndef CX_SHARED_DB_MIGRATIONS_H_
#define CX_SHARED_DB_MIGRATIONS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
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
                             const std::vector<Migration>& migrations);

// Splits a migration into its statements.
std::vector<std::string> SplitStatements(const std::string& sql);

}  // namespace cx::shared::db

#endif  // CX_SHARED_DB_MIGRATIONS_H_
