#include "shared/testing/query_plans.h"

#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "shared/db/mysql_connection.h"
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
    log_->Note(sql, params);
    return inner_->Execute(sql, params);
  }
  absl::StatusOr<db::SqlRows> Query(const std::string& sql, const SqlParams& params) override {
    log_->Note(sql, params);
    return inner_->Query(sql, params);
  }
  absl::Status ExecuteLater(const std::string& sql, const SqlParams& params) override {
    log_->Note(sql, params);
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

constexpr char kSqlitePrefix[] = "sqlite://";

absl::StatusOr<std::unique_ptr<SqlConnection>> Connect(const std::string& url) {
  if (absl::StartsWith(url, kSqlitePrefix)) return db::OpenSqlite(url.substr(sizeof(kSqlitePrefix) - 1));
  auto target = db::ParseMysqlUrl(url, "");
  if (!target.ok()) return target.status();
  return db::OpenMysql(*target);
}

bool Exempt(const LoggedStatement& s, const std::set<std::string>& exempt) {
  return exempt.count(s.sql) || s.sql == "SELECT 1 FROM erased_customers WHERE tenant = ? LIMIT 1" ||
         absl::StartsWithIgnoreCase(s.sql, "PRAGMA");
}

absl::Status WithStatement(const absl::Status& s, const std::string& sql) {
  return absl::Status(s.code(), absl::StrCat(s.message(), ": ", sql));
}

absl::StatusOr<std::vector<std::string>> SqliteWideReads(SqlConnection& c,
                                                         const std::vector<LoggedStatement>& statements,
                                                         const std::set<std::string>& exempt) {
  std::vector<std::string> out;
  for (const LoggedStatement& s : statements) {
    if (Exempt(s, exempt)) continue;
    auto plan = c.Query(absl::StrCat("EXPLAIN QUERY PLAN ", s.sql));
    if (!plan.ok()) return WithStatement(plan.status(), s.sql);
    // Subqueries the plan materializes (or runs as co-routines): a scan of
    // one reads the statement's own rows, not a table's.
    std::set<std::string> derived;
    for (const auto& row : *plan) {
      for (const char* prefix : {"MATERIALIZE ", "CO-ROUTINE "}) {
        if (absl::StartsWith(row.Text(3), prefix)) derived.insert(row.Text(3).substr(strlen(prefix)));
      }
    }
    for (const auto& row : *plan) {
      const std::string& detail = row.Text(3);
      // "SCAN t" and "SCAN t USING INDEX i" read every row of t; "SCAN
      // CONSTANT ROW" and "SCAN 4 CONSTANT ROWS" (a VALUES list) read none.
      const bool full_scan = absl::StartsWith(detail, "SCAN ") && !absl::StrContains(detail, "CONSTANT ROW") &&
                             !derived.count(detail.substr(5));
      const bool tenant_range = absl::StartsWith(detail, "SEARCH ") && absl::EndsWith(detail, "(tenant=?)");
      if (full_scan || tenant_range) out.push_back(absl::StrCat(detail, " <- ", s.sql));
    }
  }
  return out;
}

// Statements whose plan reads rows: reads, updates, deletes, and inserts
// that select. An INSERT of VALUES, transaction control and the like read
// no range.
bool ReadsRows(const std::string& sql) {
  const std::string upper = absl::AsciiStrToUpper(sql);
  if (absl::StartsWith(upper, "INSERT") || absl::StartsWith(upper, "REPLACE")) {
    return absl::StrContains(upper, " SELECT ");
  }
  return absl::StartsWith(upper, "SELECT") || absl::StartsWith(upper, "UPDATE") ||
         absl::StartsWith(upper, "DELETE") || absl::StartsWith(upper, "WITH");
}

// More rows than one table access of an operation on one customer reads
// (QueryIn sends up to 256 keys at a time), and fewer than the tests put in
// a tenant: a larger estimate is a range bounded by the tenant and something
// that does not narrow it to the customer, such as a time range.
constexpr double kMostRowsOfOneAccess = 300;

// Appends to `out` each table access in `plan` (a node of EXPLAIN
// FORMAT=JSON) that reads a whole table or index (access_type ALL or index),
// uses no key part but the tenant, or is estimated to read more rows than
// kMostRowsOfOneAccess.
void WideAccesses(const google::protobuf::Value& plan, std::vector<std::string>* out) {
  if (plan.has_list_value()) {
    for (const auto& v : plan.list_value().values()) WideAccesses(v, out);
    return;
  }
  if (!plan.has_struct_value()) return;
  const auto& fields = plan.struct_value().fields();
  auto text = [&](const char* name) {
    auto it = fields.find(name);
    return it == fields.end() ? std::string() : it->second.string_value();
  };
  const std::string access = text("access_type");
  const std::string table = text("table_name");
  if (!access.empty() && !absl::StartsWith(table, "<")) {  // a derived table's rows are the statement's own
    std::vector<std::string> parts;
    if (auto it = fields.find("used_key_parts"); it != fields.end()) {
      for (const auto& v : it->second.list_value().values()) parts.push_back(v.string_value());
    }
    auto rows = fields.find("rows");
    const double estimate = rows == fields.end() ? 0 : rows->second.number_value();
    const bool whole = access == "ALL" || access == "index";
    const bool tenant_range = parts == std::vector<std::string>{"tenant"};
    if (whole || tenant_range || estimate > kMostRowsOfOneAccess) {
      out->push_back(absl::StrCat(table, " ", access, " ", text("key"), "(", absl::StrJoin(parts, ","), ") rows ",
                                  estimate));
    }
  }
  for (const auto& [name, value] : fields) WideAccesses(value, out);
}

// ANALYZE TABLE of every table, so MySQL's plans are those of a database
// with statistics.
absl::Status AnalyzeTables(SqlConnection& c) {
  auto tables = c.Query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()");
  if (!tables.ok()) return tables.status();
  for (const auto& t : *tables) {
    if (auto r = c.Query(absl::StrCat("ANALYZE TABLE `", t.Text(0), "`")); !r.ok()) return r.status();
  }
  return absl::OkStatus();
}

// The plan of `s` on MySQL/MariaDB, as EXPLAIN FORMAT=JSON's tree.
absl::StatusOr<google::protobuf::Value> MysqlPlan(SqlConnection& c, const LoggedStatement& s) {
  auto text = db::MysqlStatementText(s.sql, s.params);
  if (!text.ok()) return WithStatement(text.status(), s.sql);
  auto plan = c.Query(absl::StrCat("EXPLAIN FORMAT=JSON ", *text));
  if (!plan.ok()) return WithStatement(plan.status(), s.sql);
  if (plan->empty()) return WithStatement(absl::InternalError("EXPLAIN returned nothing"), s.sql);
  google::protobuf::Value tree;
  if (auto parsed = google::protobuf::util::JsonStringToMessage(plan->front().Text(0), &tree); !parsed.ok()) {
    return WithStatement(absl::InternalError(absl::StrCat("EXPLAIN's JSON: ", parsed.ToString())), s.sql);
  }
  return tree;
}

absl::StatusOr<std::vector<std::string>> MysqlWideReads(SqlConnection& c,
                                                        const std::vector<LoggedStatement>& statements,
                                                        const std::set<std::string>& exempt) {
  if (auto s = AnalyzeTables(c); !s.ok()) return s;
  std::vector<std::string> out;
  for (const LoggedStatement& s : statements) {
    if (Exempt(s, exempt) || !ReadsRows(s.sql)) continue;
    auto tree = MysqlPlan(c, s);
    if (!tree.ok()) return tree.status();
    std::vector<std::string> wide;
    WideAccesses(*tree, &wide);
    for (const auto& w : wide) out.push_back(absl::StrCat(w, " <- ", s.sql));
  }
  return out;
}

// Appends to `out` each table access in `plan` by key `index` that reads
// the table's rows as well (no "using_index").
void UncoveredAccesses(const google::protobuf::Value& plan, const std::string& index, std::vector<std::string>* out) {
  if (plan.has_list_value()) {
    for (const auto& v : plan.list_value().values()) UncoveredAccesses(v, index, out);
    return;
  }
  if (!plan.has_struct_value()) return;
  const auto& fields = plan.struct_value().fields();
  auto key = fields.find("key");
  if (fields.count("access_type") && key != fields.end() && key->second.string_value() == index) {
    auto covered = fields.find("using_index");
    if (covered == fields.end() || !covered->second.bool_value()) {
      out->push_back(absl::StrCat(fields.at("table_name").string_value(), " ", fields.at("access_type").string_value(),
                                  " ", index, " without using_index"));
    }
  }
  for (const auto& [name, value] : fields) UncoveredAccesses(value, index, out);
}

bool IsSelect(const std::string& sql) { return absl::StartsWithIgnoreCase(sql, "SELECT"); }

}  // namespace

void StatementLog::Note(const std::string& sql, const db::SqlParams& params) {
  std::lock_guard<std::mutex> lock(mu_);
  statements_.push_back({sql, params});
}

std::vector<LoggedStatement> StatementLog::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(statements_, {});
}

absl::StatusOr<std::shared_ptr<db::ConnectionPool>> OpenLoggedDatabase(const std::string& url,
                                                                      std::shared_ptr<StatementLog> log) {
  const db::Backend backend = absl::StartsWith(url, kSqlitePrefix) ? db::Backend::kSqlite : db::Backend::kMysql;
  return std::make_shared<db::ConnectionPool>(
      backend, 1, [url, log]() -> absl::StatusOr<std::unique_ptr<SqlConnection>> {
        auto conn = Connect(url);
        if (!conn.ok()) return conn.status();
        return std::unique_ptr<SqlConnection>(std::make_unique<LoggedConnection>(std::move(*conn), log));
      });
}

absl::StatusOr<std::vector<std::string>> TenantWideReads(const std::string& url,
                                                         const std::vector<LoggedStatement>& statements,
                                                         const std::set<std::string>& exempt) {
  auto c = Connect(url);
  if (!c.ok()) return c.status();
  return (*c)->backend() == db::Backend::kSqlite ? SqliteWideReads(**c, statements, exempt)
                                                 : MysqlWideReads(**c, statements, exempt);
}

absl::StatusOr<std::vector<std::string>> UncoveredReads(const std::string& url,
                                                        const std::vector<LoggedStatement>& statements,
                                                        const std::string& index) {
  auto c = Connect(url);
  if (!c.ok()) return c.status();
  if ((*c)->backend() == db::Backend::kMysql) {
    if (auto s = AnalyzeTables(**c); !s.ok()) return s;
  }
  std::vector<std::string> out;
  for (const LoggedStatement& s : statements) {
    if (!IsSelect(s.sql)) continue;
    if ((*c)->backend() == db::Backend::kSqlite) {
      auto plan = (*c)->Query(absl::StrCat("EXPLAIN QUERY PLAN ", s.sql));
      if (!plan.ok()) return WithStatement(plan.status(), s.sql);
      for (const auto& row : *plan) {
        const std::string& detail = row.Text(3);
        if (absl::StrContains(absl::StrCat(detail, " "), absl::StrCat(" USING INDEX ", index, " "))) {
          out.push_back(absl::StrCat(detail, " <- ", s.sql));
        }
      }
      continue;
    }
    auto tree = MysqlPlan(**c, s);
    if (!tree.ok()) return tree.status();
    std::vector<std::string> uncovered;
    UncoveredAccesses(*tree, index, &uncovered);
    for (const auto& u : uncovered) out.push_back(absl::StrCat(u, " <- ", s.sql));
  }
  return out;
}

}  // namespace cx::shared::testing
