#include "shared/db/sql.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "shared/db/mysql_connection.h"
#include "shared/db/sqlite_connection.h"

namespace cx::shared::db {

int64_t SqlRow::Int(size_t i) const {
  const auto& v = values[i];
  if (auto* p = std::get_if<int64_t>(&v)) return *p;
  if (auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  if (auto* s = std::get_if<std::string>(&v)) {
    int64_t out = 0;
    (void)absl::SimpleAtoi(*s, &out);
    return out;
  }
  return 0;
}

double SqlRow::Double(size_t i) const {
  const auto& v = values[i];
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* p = std::get_if<int64_t>(&v)) return static_cast<double>(*p);
  return 0;
}

const std::string& SqlRow::Text(size_t i) const {
  static const std::string kEmpty;
  if (auto* s = std::get_if<std::string>(&values[i])) return *s;
  return kEmpty;
}

ConnectionPool::ConnectionPool(Backend backend, size_t max_size, Factory factory)
    : backend_(backend), max_size_(max_size == 0 ? 1 : max_size), factory_(std::move(factory)) {}

ConnectionPool::~ConnectionPool() = default;

ConnectionPool::Lease::~Lease() {
  if (conn_ != nullptr) pool_->Release(std::move(conn_));
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !idle_.empty() || open_ < max_size_; });
  if (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(conn));
  }
  ++open_;
  lock.unlock();
  auto conn = factory_();
  if (!conn.ok()) {
    std::lock_guard<std::mutex> relock(mu_);
    --open_;
    cv_.notify_one();
    return conn.status();
  }
  return Lease(this, *std::move(conn));
}

void ConnectionPool::Release(std::unique_ptr<SqlConnection> conn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (conn->healthy()) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;  // dropped; a fresh one is opened on demand
  }
  cv_.notify_one();
}

absl::Status ConnectionPool::Ping() {
  auto conn = Acquire();
  if (!conn.ok()) return conn.status();
  return (*conn)->Query("SELECT 1").status();
}

std::string ThroughIndex(Backend backend, const std::string& table, const std::string& index) {
  return backend == Backend::kMysql ? absl::StrCat(table, " FORCE INDEX (", index, ")")
                                    : absl::StrCat(table, " INDEXED BY ", index);
}

std::string Placeholders(size_t rows, int columns) {
  // Built in place: SQLite writers build one of these per row they insert.
  std::string row(1, '(');
  for (int c = 0; c < columns; ++c) row.append(c == 0 ? "?" : ",?");
  row.push_back(')');
  std::string out;
  out.reserve(rows * (row.size() + 1));
  for (size_t r = 0; r < rows; ++r) {
    if (r > 0) out.push_back(',');
    out.append(row);
  }
  return out;
}

absl::Status QueryIn(SqlConnection& c, const std::string& before, const SqlParams& leading,
                     const std::vector<std::string>& values, const std::string& after,
                     const std::function<absl::Status(const SqlRow&)>& on_row, size_t max_chunk) {
  for (size_t offset = 0; offset < values.size();) {
    const size_t count = std::min(max_chunk, values.size() - offset);
    size_t padded = 1;
    while (padded < count) padded *= 2;
    padded = std::min(padded, max_chunk);
    SqlParams params = leading;
    params.reserve(leading.size() + padded);
    params.insert(params.end(), values.begin() + offset, values.begin() + offset + count);
    params.resize(leading.size() + padded, values[offset + count - 1]);
    auto rows = c.Query(absl::StrCat(before, "(", absl::StrJoin(std::vector<std::string>(padded, "?"), ","), ")", after),
                        params);
    if (!rows.ok()) return rows.status();
    for (const auto& row : *rows) {
      if (absl::Status s = on_row(row); !s.ok()) return s;
    }
    offset += count;
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> FeedHorizon(SqlConnection& c, const std::string& sequence_table) {
  if (c.backend() != Backend::kMysql) return std::numeric_limits<int64_t>::max();
  // Outside a transaction (autocommit) the lock is released as the
  // statement ends: writers wait for it only that long.
  auto rows = c.Query(absl::StrCat("SELECT next_sequence FROM ", sequence_table, " WHERE shard = 0 LOCK IN SHARE MODE"));
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return absl::InternalError(absl::StrCat(sequence_table, " row missing"));
  return rows->front().Int(0);
}

absl::Status ScrubDeleted(SqlConnection& c) {
  if (c.backend() != Backend::kSqlite) return absl::OkStatus();
  // Busy (first column 1) while a reader still uses an older snapshot (the
  // busy handler waits for those) or while another connection, such as the
  // background checkpointer, holds the checkpoint lock: that one answers at
  // once, so the tries are spaced out, up to about ten seconds in all.
  absl::Duration pause = absl::Milliseconds(5);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (true) {
    auto rows = c.Query("PRAGMA wal_checkpoint(TRUNCATE)");
    if (!rows.ok()) return rows.status();
    if (rows->empty() || rows->front().Int(0) == 0) return absl::OkStatus();
    if (absl::Now() + pause > deadline) break;
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Milliseconds(200));
  }
  return absl::UnavailableError("the SQLite WAL could not be emptied after an erasure");
}

absl::Status InWriteTransaction(SqlConnection& conn, const std::function<absl::Status()>& fn) {
  if (auto s = conn.BeginWrite(); !s.ok()) return s;
  absl::Status status = fn();
  if (status.ok()) status = conn.Commit();
  if (!status.ok()) (void)conn.Rollback();
  return status;
}

absl::StatusOr<std::shared_ptr<ConnectionPool>> OpenDatabase(const std::string& url,
                                                             const std::string& mysql_password,
                                                             size_t pool_size, int sqlite_cache_kib) {
  if (url == "sqlite::memory:") {
    // One connection: every connection to :memory: would be its own database.
    auto conn = OpenSqlite(":memory:", true, sqlite_cache_kib);
    if (!conn.ok()) return conn.status();
    auto shared_conn = std::shared_ptr<SqlConnection>(std::move(*conn));
    return std::make_shared<ConnectionPool>(Backend::kSqlite, 1, [shared_conn]()
        -> absl::StatusOr<std::unique_ptr<SqlConnection>> {
      return MakeBorrowedConnection(shared_conn);
    });
  }
  if (absl::StartsWith(url, "sqlite://")) {
    std::string path = url.substr(std::string("sqlite://").size());
    if (path.empty()) return absl::InvalidArgumentError("--db: sqlite:// needs a path");
    // Check it opens (and create it) now so a bad path fails at start-up.
    auto probe = OpenSqlite(path, true, 64);
    if (!probe.ok()) return probe.status();
    auto pool = std::make_shared<ConnectionPool>(Backend::kSqlite, pool_size, [path, sqlite_cache_kib]() {
      return OpenSqlite(path, /*auto_checkpoint=*/false, sqlite_cache_kib);
    });
    auto checkpointer = SqliteCheckpointer::Start(path);
    if (!checkpointer.ok()) return checkpointer.status();
    pool->Own(*std::move(checkpointer));
    return pool;
  }
  if (absl::StartsWith(url, "mysql://")) {
    auto target = ParseMysqlUrl(url, mysql_password);
    if (!target.ok()) return target.status();
    return std::make_shared<ConnectionPool>(Backend::kMysql, pool_size, [t = *target]() {
      return OpenMysql(t);
    });
  }
  return absl::InvalidArgumentError(
      "--db: expected sqlite:///path, sqlite::memory: or mysql://user@host:port/database");
}

}  // namespace cx::shared::db
