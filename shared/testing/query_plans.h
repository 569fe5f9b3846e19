// What a repository's statements read, for tests that guard query plans on
// both backends: a connection pool that notes every statement its
// connections run (with its values), and the plan lines of a statement that
// read a whole table or a range bounded by the tenant alone (a whole
// tenant's rows for an operation on one customer).
#ifndef CX_SHARED_TESTING_QUERY_PLANS_H_
#define CX_SHARED_TESTING_QUERY_PLANS_H_

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "shared/db/sql.h"

namespace cx::shared::testing {

struct LoggedStatement {
  std::string sql;
  db::SqlParams params;
};

// The statements run through the connections of one pool, in order.
class StatementLog {
 public:
  void Note(const std::string& sql, const db::SqlParams& params);
  // The statements noted since the last call.
  std::vector<LoggedStatement> Take();

 private:
  std::mutex mu_;
  std::vector<LoggedStatement> statements_;
};

// A pool of one connection to the database at `url` (sqlite:///path, or
// mysql://user[:password]@host:port/database) whose statements are noted
// in `log`.
absl::StatusOr<std::shared_ptr<db::ConnectionPool>> OpenLoggedDatabase(const std::string& url,
                                                                      std::shared_ptr<StatementLog> log);

// The statements among `statements` whose plan on the database at `url`
// reads a table in full or over a range bounded by the tenant alone, each as
// "plan line <- statement".
// - SQLite (EXPLAIN QUERY PLAN, the planner without statistics): "SCAN t",
//   or "SEARCH t USING ... (tenant=?)".
// - MySQL/MariaDB (EXPLAIN FORMAT=JSON of the statement with its values,
//   after ANALYZE TABLE of every table, so the plans are those of a database
//   with statistics): access type ALL or index, a key whose only used part
//   is the tenant, or an access estimated at more than 300 rows (a range
//   bounded by the tenant and, say, a time range). The optimizer weighs the
//   rows it finds, so a test fills the tenant with well over 300 rows of
//   other customers first.
// Statements in `exempt` read one row of such a range (a table keyed by the
// tenant alone); so does shared/db's probe for whether a tenant erased
// anyone, which is always exempt.
absl::StatusOr<std::vector<std::string>> TenantWideReads(const std::string& url,
                                                         const std::vector<LoggedStatement>& statements,
                                                         const std::set<std::string>& exempt = {});

// The SELECT statements among `statements` whose plan on the database at
// `url` reads through `index` and then the table's rows too (the index does
// not cover what the statement reads), each as "plan line <- statement":
// SQLite's "USING INDEX i" rather than "USING COVERING INDEX i", MySQL's
// access by key i without "using_index" (after ANALYZE TABLE, as above).
absl::StatusOr<std::vector<std::string>> UncoveredReads(const std::string& url,
                                                        const std::vector<LoggedStatement>& statements,
                                                        const std::string& index);

}  // namespace cx::shared::testing

#endif  // CX_SHARED_TESTING_QUERY_PLANS_H_
