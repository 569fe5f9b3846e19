// MySQL / MariaDB backend of SqlConnection through Connector/C++ 1.1.
// Every driver exception is caught here and mapped to absl::Status.
#ifndef CX_SHARED_DB_MYSQL_CONNECTION_H_
#define CX_SHARED_DB_MYSQL_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "shared/db/sql.h"

namespace cx::shared::db {

struct MysqlTarget {
  std::string host;
  int port = 3306;
  std::string user;
  std::string password;
  std::string database;
};

// mysql://user[:password]@host[:port]/database
absl::StatusOr<MysqlTarget> ParseMysqlUrl(const std::string& url, const std::string& password);

// `sql` with each `?` outside quoted text replaced by its value as an SQL
// literal: NULL, an integer, a double (17 significant digits), text (valid
// UTF-8) as an escaped quoted string, other bytes as X'hex'. The quoting
// assumes backslash escapes are on (OpenMysql sets the session's sql_mode).
// INTERNAL when the placeholders and values differ in number or a double is
// not finite.
absl::StatusOr<std::string> MysqlStatementText(absl::string_view sql, const SqlParams& params);

absl::StatusOr<std::unique_ptr<SqlConnection>> OpenMysql(const MysqlTarget& target);

// Creates a new, empty database named <prefix>_<pid>_<n> on the server of
// `base_url` and returns its URL (tests and benchmarks).
absl::StatusOr<std::string> CreateFreshMysqlDatabase(const std::string& base_url, const std::string& prefix);

// Drops the database a URL of CreateFreshMysqlDatabase names, if it is
// still there, so that tests and benchmarks leave the server as they found
// it. Waits at most 10 s for tables another connection is still using.
absl::Status DropMysqlDatabase(const std::string& url);

}  // namespace cx::shared::db

#endif  // CX_SHARED_DB_MYSQL_CONNECTION_H_
