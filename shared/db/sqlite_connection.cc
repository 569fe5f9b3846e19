#include "shared/db/sqlite_connection.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "shared/db/sqlite_wal_vfs.h"
#include "shared/text.h"

namespace cx::shared::db {
namespace {

absl::Status MapSqliteError(int rc, const char* what) {
  int primary = rc & 0xff;
  std::string message = absl::StrCat("sqlite ", what, ": ", sqlite3_errstr(rc));
  switch (primary) {
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return absl::AlreadyExistsError(message);
      }
      return absl::FailedPreconditionError(message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

class SqliteConnection final : public SqlConnection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  ~SqliteConnection() override {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  Backend backend() const override { return Backend::kSqlite; }
  bool healthy() const override { return true; }

  absl::StatusOr<int64_t> Execute(const std::string& sql, const SqlParams& params) override {
    SqlRows ignored;
    if (auto s = Run(sql, params, nullptr); !s.ok()) return s;
    return static_cast<int64_t>(sqlite3_changes(db_));
  }

  absl::StatusOr<SqlRows> Query(const std::string& sql, const SqlParams& params) override {
    SqlRows rows;
    if (auto s = Run(sql, params, &rows); !s.ok()) return s;
    return rows;
  }

  absl::Status BeginWrite() override { return Simple("BEGIN IMMEDIATE"); }
  absl::Status Begin() override { return Simple("BEGIN"); }
  absl::Status Commit() override { return Simple("COMMIT"); }
  absl::Status Rollback() override {
    if (sqlite3_get_autocommit(db_)) return absl::OkStatus();
    return Simple("ROLLBACK");
  }

  absl::Status Simple(const char* sql) {
    char* error = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
    sqlite3_free(error);
    if (rc != SQLITE_OK) return MapSqliteError(sqlite3_extended_errcode(db_), "statement");
    return absl::OkStatus();
  }

  absl::Status ExecScript(const std::string& sql) {
    char* error = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    std::string detail = error != nullptr ? error : "";
    sqlite3_free(error);
    if (rc != SQLITE_OK) return absl::InternalError(absl::StrCat("sqlite script: ", detail));
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<sqlite3_stmt*> Prepare(const std::string& sql) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return MapSqliteError(rc, "prepare");
    if (statements_.size() > 256) {  // bound the cache; drop everything rarely
      for (auto& [s, st] : statements_) sqlite3_finalize(st);
      statements_.clear();
    }
    statements_.emplace(sql, stmt);
    return stmt;
  }

  absl::Status Run(const std::string& sql, const SqlParams& params, SqlRows* rows) {
    auto prepared = Prepare(sql);
    if (!prepared.ok()) return prepared.status();
    sqlite3_stmt* stmt = *prepared;
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    for (size_t i = 0; i < params.size(); ++i) {
      int index = static_cast<int>(i + 1);
      const auto& p = params[i];
      int rc = SQLITE_OK;
      if (std::holds_alternative<std::monostate>(p)) {
        rc = sqlite3_bind_null(stmt, index);
      } else if (auto* v = std::get_if<int64_t>(&p)) {
        rc = sqlite3_bind_int64(stmt, index, *v);
      } else if (auto* d = std::get_if<double>(&p)) {
        rc = sqlite3_bind_double(stmt, index, *d);
      } else {
        // Text binds as TEXT so it compares equal to SQL literals; other
        // bytes (serialized messages) bind as BLOB.
        const auto& s = std::get<std::string>(p);
        rc = IsValidUtf8(s) ? sqlite3_bind_text64(stmt, index, s.data(), s.size(), SQLITE_STATIC, SQLITE_UTF8)
                            : sqlite3_bind_blob64(stmt, index, s.data(), s.size(), SQLITE_STATIC);
      }
      if (rc != SQLITE_OK) return MapSqliteError(rc, "bind");
    }
    while (true) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        int extended = sqlite3_extended_errcode(db_);
        sqlite3_reset(stmt);
        return MapSqliteError(extended, "step");
      }
      if (rows == nullptr) continue;
      SqlRow row;
      int columns = sqlite3_column_count(stmt);
      row.values.reserve(columns);
      for (int c = 0; c < columns; ++c) {
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_NULL: row.values.emplace_back(std::monostate{}); break;
          case SQLITE_INTEGER: row.values.emplace_back(static_cast<int64_t>(sqlite3_column_int64(stmt, c))); break;
          case SQLITE_FLOAT: row.values.emplace_back(sqlite3_column_double(stmt, c)); break;
          default: {
            const void* data = sqlite3_column_blob(stmt, c);
            int size = sqlite3_column_bytes(stmt, c);
            row.values.emplace_back(std::string(static_cast<const char*>(data), size));
          }
        }
      }
      rows->push_back(std::move(row));
    }
    sqlite3_reset(stmt);
    return absl::OkStatus();
  }

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

class BorrowedConnection final : public SqlConnection {
 public:
  explicit BorrowedConnection(std::shared_ptr<SqlConnection> target) : target_(std::move(target)) {}
  Backend backend() const override { return target_->backend(); }
  absl::StatusOr<int64_t> Execute(const std::string& sql, const SqlParams& params) override { return target_->Execute(sql, params); }
  absl::StatusOr<SqlRows> Query(const std::string& sql, const SqlParams& params) override { return target_->Query(sql, params); }
  absl::Status ExecuteLater(const std::string& sql, const SqlParams& params) override {
    return target_->ExecuteLater(sql, params);
  }
  absl::Status BeginWrite() override { return target_->BeginWrite(); }
  absl::Status Begin() override { return target_->Begin(); }
  absl::Status Commit() override { return target_->Commit(); }
  absl::Status Rollback() override { return target_->Rollback(); }
  bool healthy() const override { return true; }

 private:
  std::shared_ptr<SqlConnection> target_;
};

// Waits out a lock another connection holds, such as the checkpointer's
// RESTART (which holds writers off for a few milliseconds), for 10 s at most.
// SQLite's own busy timeout sleeps up to 100 ms at a time and so goes on
// sleeping long after the lock is free; this looks every 100 us for the
// first 10 ms, then every millisecond.
int WaitWhileBusy(void*, int attempts) {
  constexpr int kShort = 100;   // tries 100 us apart
  constexpr int kLong = 9990;   // then 1 ms apart
  if (attempts >= kShort + kLong) return 0;
  usleep(attempts < kShort ? 100 : 1000);
  return 1;
}

// SQLite keeps no memory statistics (nothing here reads them): with them,
// every allocation of every connection takes one process-wide mutex. This
// must run before SQLite initializes, which any first use of it does (an
// open, a VFS lookup): so it runs as this library loads, before main and so
// before any use, and again (to no effect) from OpenSqlite. Batch ingest of
// feedback (scripts/profile.sh, callgrind): the writer's instructions per
// row 92.7k -> 87.9k, inside SQLite 65.5k -> 60.7k; cx-bench, three
// interleaved rounds: the service's CPU per row 24.4-29.4 -> 24.1-24.4 us.
void ConfigureSqlite() {
  static std::once_flag configured;
  std::call_once(configured, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

[[maybe_unused]] const bool kSqliteConfiguredAtLoad = (ConfigureSqlite(), true);

}  // namespace

absl::StatusOr<std::unique_ptr<SqlConnection>> OpenSqlite(const std::string& path, bool auto_checkpoint,
                                                         int cache_kib) {
  ConfigureSqlite();
  if (path != ":memory:") {
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  }
  sqlite3* db = nullptr;
  // A file's WAL writes go out one per commit (shared/db/sqlite_wal_vfs.h).
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           path == ":memory:" ? nullptr : GatheredWalVfs());
  if (rc != SQLITE_OK) {
    sqlite3_close_v2(db);
    return absl::UnavailableError(absl::StrCat("cannot open the SQLite database: ", sqlite3_errstr(rc)));
  }
  auto conn = std::make_unique<SqliteConnection>(db);
  sqlite3_busy_handler(db, WaitWhileBusy, nullptr);
  // synchronous=FULL: a commit is durable when it returns. The gathered WAL
  // (shared/db/sqlite_wal_vfs.h) relies on it too: only the commit's sync
  // writes gathered frames out before SQLite makes them visible to readers.
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                             "PRAGMA foreign_keys=ON", "PRAGMA temp_store=MEMORY",
                             // Memory stays bounded whatever the database's size:
                             // no memory map (mapped pages count in the RSS up to
                             // the map's size; reads go through the kernel's page
                             // cache), and a page cache of `cache_kib` (below).
                             "PRAGMA mmap_size=0",
                             // Deleted rows leave no bytes behind (erasure).
                             "PRAGMA secure_delete=ON"}) {
    if (auto s = conn->ExecScript(pragma); !s.ok()) return s;
  }
  if (auto s = conn->ExecScript(absl::StrCat("PRAGMA cache_size=-", std::max(cache_kib, 64))); !s.ok()) return s;
  if (!auto_checkpoint) {
    if (auto s = conn->ExecScript("PRAGMA wal_autocheckpoint=0"); !s.ok()) return s;
  }
  return std::unique_ptr<SqlConnection>(std::move(conn));
}

absl::StatusOr<std::shared_ptr<SqliteCheckpointer>> SqliteCheckpointer::Start(const std::string& path) {
  auto conn = OpenSqlite(path, /*auto_checkpoint=*/false);
  if (!conn.ok()) return conn.status();
  std::shared_ptr<SqliteCheckpointer> c(new SqliteCheckpointer);
  c->conn_ = *std::move(conn);
  c->thread_ = std::thread([raw = c.get()] { raw->Run(); });
  return c;
}

SqliteCheckpointer::~SqliteCheckpointer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  (void)conn_->Query("PRAGMA wal_checkpoint(TRUNCATE)");
}

// About 32 MB of WAL with 4 KiB pages.
constexpr int64_t kRestartWalFrames = 8192;
constexpr auto kCheckpointInterval = std::chrono::milliseconds(50);

void SqliteCheckpointer::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, kCheckpointInterval);
    if (stop_) break;
    lock.unlock();
    // PASSIVE never blocks the writer, but under back-to-back commits it
    // never quite catches up, and the WAL only starts over after a complete
    // checkpoint. So past kRestartWalFrames, RESTART: it waits for the
    // current transaction, backfills the little PASSIVE left, and makes the
    // next commit write from the start of the file again. Not TRUNCATE: a
    // WAL that keeps its size is overwritten in place, and an fdatasync of
    // overwritten blocks has no file-size change to journal (measured with
    // cx-bench: about 45% more durable SubmitFeedback calls/s, and the worst
    // latency 20 ms instead of 115).
    auto rows = conn_->Query("PRAGMA wal_checkpoint(PASSIVE)");
    if (rows.ok() && !rows->empty() && rows->front().values.size() == 3 &&
        rows->front().Int(1) > kRestartWalFrames) {
      (void)conn_->Query("PRAGMA wal_checkpoint(RESTART)");
    }
    lock.lock();
  }
}

std::unique_ptr<SqlConnection> MakeBorrowedConnection(std::shared_ptr<SqlConnection> target) {
  return std::make_unique<BorrowedConnection>(std::move(target));
}

}  // namespace cx::shared::db
