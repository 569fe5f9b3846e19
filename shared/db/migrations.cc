#include "shared/db/migrations.h"

#include <algorithm>
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
                             const std::vector<Migration>& migrations, absl::Duration lock_wait) {
  auto conn = pool.Acquire();
  if (!conn.ok()) return conn.status();
  SqlConnection& c = **conn;
  const bool mysql = c.backend() == Backend::kMysql;
  if (mysql) {
    // GET_LOCK answers 1 when it holds the lock, 0 when the wait ran out.
    auto locked = c.Query("SELECT GET_LOCK(?, ?)", {absl::StrCat("cx_migrations_", scope),
                                                    std::max<int64_t>(0, absl::ToInt64Seconds(lock_wait))});
    if (!locked.ok()) return locked.status();
    if (locked->empty() || locked->front().IsNull(0) || locked->front().Int(0) != 1) {
      return absl::UnavailableError(absl::StrCat("another process is applying the ", scope, " migrations (waited ",
                                                 absl::FormatDuration(lock_wait), ")"));
    }
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

absl::Status ListBelowMarker(ConnectionPool& pool, const std::string& meta_table, const std::string& marker,
                             int64_t chunk, const std::function<absl::Status(SqlConnection&, int64_t lo, int64_t hi)>& list) {
  if (chunk < 1) return absl::InvalidArgumentError("ListBelowMarker: chunk must be positive");
  auto conn = pool.Acquire();
  if (!conn.ok()) return conn.status();
  SqlConnection& c = **conn;
  const std::string read = absl::StrCat("SELECT value FROM ", meta_table, " WHERE name = ?",
                                        c.backend() == Backend::kMysql ? " FOR UPDATE" : "");
  const std::string lower = absl::StrCat("UPDATE ", meta_table, " SET value = ? WHERE name = ?");
  int64_t started_at = 0, chunks = 0;
  while (true) {
    bool done = false;
    absl::Status s = InWriteTransaction(c, [&]() -> absl::Status {
      auto rows = c.Query(read, {marker});
      if (!rows.ok()) return rows.status();
      const int64_t hi = rows->empty() ? 1 : rows->front().Int(0);
      if (hi <= 1) {
        done = true;
        return absl::OkStatus();
      }
      if (started_at == 0) started_at = hi;
      const int64_t lo = std::max<int64_t>(1, hi - chunk);
      if (auto listed = list(c, lo, hi); !listed.ok()) return listed;
      return c.Execute(lower, {lo, marker}).status();
    });
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat("listing the records below ", meta_table, ".", marker, ": ", s.message()));
    }
    if (done) break;
    ++chunks;
  }
  if (chunks > 0) {
    LogInfo("listed the records older than a listing",
            {{"table", meta_table}, {"marker", marker}, {"from", absl::StrCat(started_at)},
             {"chunks", absl::StrCat(chunks)}});
  }
  return absl::OkStatus();
}

}  // namespace cx::shared::db
