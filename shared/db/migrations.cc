#include "shared/db/migrations.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "shared/log.h"

namespace cx::shared::db {

std::vector<std::string> SplitStatements(const std::string& sql) {
  std::vector<std::string> out;
  std::string current;
  size_t start = 0;
  while (start < sql.size()) {
    size_t end = sql.find('\n', start);
    if (end == std::string::npos) end = sql.size();
    std::string line = sql.substr(start, end - start);
    start = end + 1;
    absl::string_view stripped = absl::StripAsciiWhitespace(line);
    if (stripped.empty() || absl::StartsWith(stripped, "--")) continue;
    absl::StrAppend(&current, line, "\n");
    if (absl::EndsWith(stripped, ";")) {
      std::string statement(absl::StripAsciiWhitespace(current));
      statement.pop_back();
      out.push_back(statement);
      current.clear();
    }
  }
  if (!absl::StripAsciiWhitespace(current).empty()) {
    out.push_back(std::string(absl::StripAsciiWhitespace(current)));
  }
  return out;
}

absl::Status ApplyMigrations(ConnectionPool& pool, const std::string& scope,
                             const std::vector<Migration>& migrations) {
  auto conn = pool.Acquire();
  if (!conn.ok()) return conn.status();
  SqlConnection& c = **conn;
  const bool mysql = c.backend() == Backend::kMysql;
  if (mysql) {
    auto locked = c.Query("SELECT GET_LOCK(?, 60)", {absl::StrCat("cx_migrations_", scope)});
    if (!locked.ok()) return locked.status();
  }
  auto release = [&] {
    if (mysql) (void)c.Query("SELECT RELEASE_LOCK(?)", {absl::StrCat("cx_migrations_", scope)});
  };
  auto created = c.Execute(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " scope VARCHAR(64) NOT NULL, version INTEGER NOT NULL, name VARCHAR(255) NOT NULL,"
      " applied_at_us BIGINT NOT NULL, PRIMARY KEY (scope, version))");
  if (!created.ok()) { release(); return created.status(); }
  auto applied_rows = c.Query("SELECT version FROM schema_migrations WHERE scope = ?", {scope});
  if (!applied_rows.ok()) { release(); return applied_rows.status(); }
  std::set<int64_t> applied;
  for (const auto& row : *applied_rows) applied.insert(row.Int(0));
  for (const auto& m : migrations) {
    if (applied.count(m.version)) continue;
    // SQLite runs DDL transactionally; MySQL commits DDL implicitly, which is
    // why each migration only adds objects (IF NOT EXISTS) and is re-runnable.
    absl::Status status = InWriteTransaction(c, [&]() -> absl::Status {
      for (const auto& statement : SplitStatements(m.sql)) {
        if (auto r = c.Execute(statement); !r.ok()) {
          return absl::Status(r.status().code(),
                              absl::StrCat("migration ", m.version, " (", m.name, ") failed: ",
                                           r.status().message()));
        }
      }
      return c.Execute("INSERT INTO schema_migrations (scope, version, name, applied_at_us) VALUES (?, ?, ?, ?)",
                       {scope, int64_t{m.version}, m.name, absl::ToUnixMicros(absl::Now())})
          .status();
    });
    if (!status.ok()) { release(); return status; }
    LogInfo("applied migration", {{"scope", scope}, {"version", absl::StrCat(m.version)}, {"name", m.name}});
  }
  release();
  return absl::OkStatus();
}

}  // namespace cx::shared::db
