// SQLite backend of SqlConnection: WAL journal, synchronous=FULL (a commit is
// durable when it returns), prepared statements cached per SQL text. A file
// database's WAL writes are gathered into one write per commit
// (shared/db/sqlite_wal_vfs.h).
#ifndef CX_SHARED_DB_SQLITE_CONNECTION_H_
#define CX_SHARED_DB_SQLITE_CONNECTION_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <string>

#include "absl/status/statusor.h"
#include "shared/db/sql.h"

namespace cx::shared::db {

// `auto_checkpoint` false leaves WAL checkpoints to a SqliteCheckpointer.
// `cache_kib`: the connection's page cache (PRAGMA cache_size), in KiB.
inline constexpr int kDefaultSqliteCacheKib = 16384;
absl::StatusOr<std::unique_ptr<SqlConnection>> OpenSqlite(const std::string& path, bool auto_checkpoint = true,
                                                         int cache_kib = kDefaultSqliteCacheKib);

// Checkpoints the WAL of a database file from its own thread (PASSIVE, so
// writers never wait for it), which keeps checkpoint I/O off the commit path
// of the connections opened with auto_checkpoint = false.
class SqliteCheckpointer {
 public:
  static absl::StatusOr<std::shared_ptr<SqliteCheckpointer>> Start(const std::string& path);
  ~SqliteCheckpointer();

 private:
  SqliteCheckpointer() = default;
  void Run();
  std::unique_ptr<SqlConnection> conn_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// A connection that forwards to a shared one (the single :memory: database).
std::unique_ptr<SqlConnection> MakeBorrowedConnection(std::shared_ptr<SqlConnection> target);

}  // namespace cx::shared::db

#endif  // CX_SHARED_DB_SQLITE_CONNECTION_H_
