// SQLite backend of SqlConnection: WAL journal, synchronous=FULL (a commit is
// durable when it returns), prepared statements cached per SQL text.
#ifndef CX_SHARED_DB_SQLITE_CONNECTION_H_
#define CX_SHARED_DB_SQLITE_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "shared/db/sql.h"

namespace cx::shared::db {

absl::StatusOr<std::unique_ptr<SqlConnection>> OpenSqlite(const std::string& path);

// A connection that forwards to a shared one (the single :memory: database).
std::unique_ptr<SqlConnection> MakeBorrowedConnection(std::shared_ptr<SqlConnection> target);

}  // namespace cx::shared::db

#endif  // CX_SHARED_DB_SQLITE_CONNECTION_H_
