// What a repository's statements read, for tests that guard query plans on
// SQLite: a connection pool that notes every statement its connections run,
// and the plan lines of a statement that read a table range bounded by the
// tenant alone (a whole tenant's rows for an operation on one customer).
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

// The statements run through the connections of one pool, in order.
class StatementLog {
 public:
  void Note(const std::string& sql);
  // The statements noted since the last call.
  std::vector<std::string> Take();

 private:
  std::mutex mu_;
  std::vector<std::string> statements_;
};

// A pool of one connection to the SQLite file at `path` whose statements
// are noted in `log`.
absl::StatusOr<std::shared_ptr<db::ConnectionPool>> OpenLoggedSqlite(const std::string& path,
                                                                    std::shared_ptr<StatementLog> log);

// The statements among `statements` whose plan (EXPLAIN QUERY PLAN on `c`,
// a SQLite connection) reads a table in full ("SCAN t") or over a range
// bounded by the tenant alone ("SEARCH t USING ... (tenant=?)"), each as
// "plan line <- statement". Statements in `exempt` read one row of such a
// range (a table keyed by the tenant alone); so does shared/db's probe for
// whether a tenant erased anyone, which is always exempt.
absl::StatusOr<std::vector<std::string>> TenantWideReads(db::SqlConnection& c,
                                                         const std::vector<std::string>& statements,
                                                         const std::set<std::string>& exempt = {});

}  // namespace cx::shared::testing

#endif  // CX_SHARED_TESTING_QUERY_PLANS_H_
