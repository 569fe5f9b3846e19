#include "shared/testing/query_plans.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "shared/db/sqlite_connection.h"

namespace cx::shared::testing {
namespace {

using db::SqlConnection;
using db::SqlParams;

class LoggedConnection : public SqlConnection {
 public:
  LoggedConnection(std::unique_ptr<SqlConnection> inner, std::shared_ptr<StatementLog> log)
      : inner_(std::move(inner)), log_(std::move(log)) {}
  db::Backend backend() const override { return inner_->backend(); }
  absl::StatusOr<int64_t> Execute(const std::string& sql, const SqlParams& params) override {
    log_->Note(sql);
    return inner_->Execute(sql, params);
  }
  absl::StatusOr<db::SqlRows> Query(const std::string& sql, const SqlParams& params) override {
    log_->Note(sql);
    return inner_->Query(sql, params);
  }
  absl::Status ExecuteLater(const std::string& sql, const SqlParams& params) override {
    log_->Note(sql);
    return inner_->ExecuteLater(sql, params);
  }
  absl::Status BeginWrite() override { return inner_->BeginWrite(); }
  absl::Status Begin() override { return inner_->Begin(); }
  absl::Status Commit() override { return inner_->Commit(); }
  absl::Status Rollback() override { return inner_->Rollback(); }
  bool healthy() const override { return inner_->healthy(); }

 private:
  std::unique_ptr<SqlConnection> inner_;
  std::shared_ptr<StatementLog> log_;
};

}  // namespace

void StatementLog::Note(const std::string& sql) {
  std::lock_guard<std::mutex> lock(mu_);
  statements_.push_back(sql);
}

std::vector<std::string> StatementLog::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(statements_, {});
}

absl::StatusOr<std::shared_ptr<db::ConnectionPool>> OpenLoggedSqlite(const std::string& path,
                                                                    std::shared_ptr<StatementLog> log) {
  return std::make_shared<db::ConnectionPool>(
      db::Backend::kSqlite, 1, [path, log]() -> absl::StatusOr<std::unique_ptr<SqlConnection>> {
        auto conn = db::OpenSqlite(path);
        if (!conn.ok()) return conn.status();
        return std::unique_ptr<SqlConnection>(std::make_unique<LoggedConnection>(std::move(*conn), log));
      });
}

absl::StatusOr<std::vector<std::string>> TenantWideReads(SqlConnection& c, const std::vector<std::string>& statements,
                                                         const std::set<std::string>& exempt) {
  std::vector<std::string> out;
  for (const std::string& sql : statements) {
    if (exempt.count(sql) || sql == "SELECT 1 FROM erased_customers WHERE tenant = ? LIMIT 1" ||
        absl::StartsWithIgnoreCase(sql, "PRAGMA")) {
      continue;
    }
    auto plan = c.Query(absl::StrCat("EXPLAIN QUERY PLAN ", sql));
    if (!plan.ok()) return absl::Status(plan.status().code(), absl::StrCat(plan.status().message(), ": ", sql));
    for (const auto& row : *plan) {
      const std::string& detail = row.Text(3);
      // "SCAN t" and "SCAN t USING INDEX i" read every row of t; "SCAN
      // CONSTANT ROW" and "SCAN 4 CONSTANT ROWS" (a VALUES list) read none.
      const bool full_scan = absl::StartsWith(detail, "SCAN ") && !absl::StrContains(detail, "CONSTANT ROW");
      const bool tenant_range = absl::StartsWith(detail, "SEARCH ") && absl::EndsWith(detail, "(tenant=?)");
      if (full_scan || tenant_range) out.push_back(absl::StrCat(detail, " <- ", sql));
    }
  }
  return out;
}

}  // namespace cx::shared::testing
