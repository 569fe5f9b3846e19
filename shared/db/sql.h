// A small SQL abstraction over the two backends (SQLite embedded, MySQL /
// MariaDB in production) so repositories are written once against it.
// Driver errors never escape: every call returns absl::Status, mapped as
//   lost / refused connection -> UNAVAILABLE, duplicate key -> ALREADY_EXISTS,
//   anything else -> INTERNAL (without SQL text).
#ifndef CX_SHARED_DB_SQL_H_
#define CX_SHARED_DB_SQL_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cx::shared::db {

// NULL, integer, real or text/blob (std::string is binary-safe).
using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;
using SqlParams = std::vector<SqlValue>;

struct SqlRow {
  std::vector<SqlValue> values;
  bool IsNull(size_t i) const { return std::holds_alternative<std::monostate>(values[i]); }
  int64_t Int(size_t i) const;
  double Double(size_t i) const;
  const std::string& Text(size_t i) const;
};
using SqlRows = std::vector<SqlRow>;

enum class Backend { kSqlite, kMysql };

class SqlConnection {
 public:
  virtual ~SqlConnection() = default;
  virtual Backend backend() const = 0;
  // Runs one statement; returns rows affected.
  virtual absl::StatusOr<int64_t> Execute(const std::string& sql, const SqlParams& params = {}) = 0;
  virtual absl::StatusOr<SqlRows> Query(const std::string& sql, const SqlParams& params = {}) = 0;
  // Runs a statement whose result the caller does not need before its next
  // statement: on MySQL it goes out with that one (or with COMMIT), in one
  // round trip, and an error it meets is that statement's error; statements
  // are run in order either way. SQLite runs it now.
  virtual absl::Status ExecuteLater(const std::string& sql, const SqlParams& params = {}) {
    return Execute(sql, params).status();
  }
  // Starts a transaction that will write (SQLite takes the write lock now).
  virtual absl::Status BeginWrite() = 0;
  virtual absl::Status Begin() = 0;
  virtual absl::Status Commit() = 0;
  virtual absl::Status Rollback() = 0;
  // False once the connection has seen a connection-level error.
  virtual bool healthy() const = 0;
};

// A pool of connections opened by a factory. A connection that reported a
// connection-level error is dropped when returned, and a new one is opened on
// demand, so the pool survives a database restart.
class ConnectionPool {
 public:
  using Factory = std::function<absl::StatusOr<std::unique_ptr<SqlConnection>>()>;
  ConnectionPool(Backend backend, size_t max_size, Factory factory);
  ~ConnectionPool();

  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<SqlConnection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = default;
    ~Lease();
    SqlConnection* operator->() const { return conn_.get(); }
    SqlConnection& operator*() const { return *conn_; }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<SqlConnection> conn_;
  };

  absl::StatusOr<Lease> Acquire();
  Backend backend() const { return backend_; }
  // Keeps a helper (e.g. a background checkpointer) alive as long as the pool.
  void Own(std::shared_ptr<void> helper) { owned_.push_back(std::move(helper)); }
  // Runs SELECT 1 on a pooled connection.
  absl::Status Ping();

 private:
  void Release(std::unique_ptr<SqlConnection> conn);

  const Backend backend_;
  const size_t max_size_;
  Factory factory_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<SqlConnection>> idle_;
  size_t open_ = 0;
  std::vector<std::shared_ptr<void>> owned_;
};

// Opens a pool from a URL: sqlite:///path/to/file.db, sqlite::memory:, or
// mysql://user[:password]@host:port/database (password otherwise from the
// `mysql_password` argument, i.e. CX_DB_PASSWORD). `sqlite_cache_kib`: each
// SQLite connection's page cache.
absl::StatusOr<std::shared_ptr<ConnectionPool>> OpenDatabase(const std::string& url,
                                                             const std::string& mysql_password,
                                                             size_t pool_size, int sqlite_cache_kib = 16384);

// "(?,?,?),(?,?,?)" for `rows` rows of `columns` placeholders.
std::string Placeholders(size_t rows, int columns);

// `table` (a name and an optional alias) read through `index`, for a FROM
// clause. Without statistics both planners may take a primary key's tenant
// prefix, a scan of the whole tenant, over a secondary index that matches
// more of the WHERE clause but lacks a column the query reads.
std::string ThroughIndex(Backend backend, const std::string& table, const std::string& index);

// Splits n items into chunks of max_chunk (rounded down to a power of two),
// then halves, ..., 1, so few distinct statement texts (and SQLite's cached
// prepared statements) are needed. Calls fn(offset, count) per chunk; stops
// at an error.
template <typename Fn>
absl::Status ForEachChunk(size_t n, size_t max_chunk, Fn fn) {
  size_t offset = 0;
  size_t size = 1;
  while (size * 2 <= max_chunk) size *= 2;
  for (; size >= 1; size /= 2) {
    while (n - offset >= size) {
      if (absl::Status s = fn(offset, size); !s.ok()) return s;
      offset += size;
    }
  }
  return absl::OkStatus();
}

// A multi-row statement's values stay under this many bytes (as MySQL
// literals, where bytes that are not text go out as hex, twice their size),
// far below any server's max_allowed_packet (4 MB by default in MySQL 5.7,
// 16 MB in MariaDB 10.11, 64 MB in MySQL 8).
inline constexpr size_t kMaxStatementBytes = size_t{1} << 20;

// Cuts n items into multi-row statements on `c` and calls fn(offset, count)
// per statement; stops at an error. SQLite: ForEachChunk (it keeps a
// prepared statement per statement text). MySQL, whose statements go out as
// text with their values in them (MysqlStatementText), one round trip
// whatever their size: up to max_rows items each, a statement ending before
// its values would pass kMaxStatementBytes, counting bytes_of(i) for item i
// (an item larger than that goes alone).
template <typename Fn, typename BytesOf>
absl::Status ForEachStatementChunk(const SqlConnection& c, size_t n, size_t max_rows, BytesOf bytes_of, Fn fn) {
  if (c.backend() != Backend::kMysql) return ForEachChunk(n, max_rows, fn);
  size_t offset = 0;
  while (offset < n) {
    size_t count = 0;
    size_t bytes = 0;
    while (offset + count < n && count < max_rows) {
      const size_t item = bytes_of(offset + count);
      if (count > 0 && bytes + item > kMaxStatementBytes) break;
      bytes += item;
      ++count;
    }
    if (absl::Status s = fn(offset, count); !s.ok()) return s;
    offset += count;
  }
  return absl::OkStatus();
}

// Runs `before` + "(?,?,...)" + `after` for `values`, up to max_chunk of
// them per statement, binding `leading` before each chunk's values, and calls
// on_row for every row returned. A list is padded to a power of two by
// repeating its last value (an IN list may repeat a value), so one statement
// reads it and few statement texts exist.
absl::Status QueryIn(SqlConnection& c, const std::string& before, const SqlParams& leading,
                     const std::vector<std::string>& values, const std::string& after,
                     const std::function<absl::Status(const SqlRow&)>& on_row, size_t max_chunk = 256);

// After an erasure committed: leaves no copy of the deleted rows in the
// database's own files. SQLite zeroes freed cells (secure_delete, set on
// every connection) but the WAL still holds the pages as they were: a
// TRUNCATE checkpoint writes them back and empties it. Nothing to do for
// MySQL, whose deleted rows are purged by InnoDB itself. UNAVAILABLE when
// readers kept the WAL busy: the erasure stands; calling it again (an
// erasure repeated) completes the scrub.
absl::Status ScrubDeleted(SqlConnection& c);

// The horizon of a change feed whose writers number their changes from
// `sequence_table` (shard 0's next_sequence, locked FOR UPDATE until COMMIT):
// every change below it is committed, so a read begun afterwards sees all of
// them. On MySQL the row is read under a shared lock, which waits for the
// writer holding it to commit; then readers bound their reads by it. Without
// the bound a reader could see a change whose predecessor, committed just
// before it, was not yet in its snapshot, and move its cursor past that one
// for good. SQLite has one writer and shows commits in their order: no bound
// (INT64_MAX).
absl::StatusOr<int64_t> FeedHorizon(SqlConnection& c, const std::string& sequence_table);

// Runs fn inside a write transaction; commits on OK, rolls back otherwise.
absl::Status InWriteTransaction(SqlConnection& conn, const std::function<absl::Status()>& fn);

}  // namespace cx::shared::db

#endif  // CX_SHARED_DB_SQL_H_
