// A SQLite VFS that gathers a connection's writes to its WAL file and hands
// them to the operating system in one write at the next sync.
//
// SQLite appends a WAL frame with two writes (a 24-byte header, then the
// page), so a commit that dirties 40 pages costs 80 pwrite calls before its
// fdatasync. Through this VFS it costs one. Nothing else changes: the data is
// in the file before the sync that makes a commit durable returns, and before
// the WAL index makes it visible to other connections (with synchronous=FULL,
// SQLite syncs the WAL before it publishes a commit), and before any read
// through the same file handle.
//
// It needs synchronous=FULL (OpenSqlite sets it): with NORMAL, SQLite would
// publish a commit without a sync, before its gathered frames are written.
//
// Every other file (the database, the shared-memory index) and every other
// call goes straight to the default VFS.
#ifndef CX_SHARED_DB_SQLITE_WAL_VFS_H_
#define CX_SHARED_DB_SQLITE_WAL_VFS_H_

#include <cstdint>

namespace cx::shared::db {

// Registers the VFS (once; thread-safe) and returns its name for
// sqlite3_open_v2.
const char* GatheredWalVfs();

// Process-wide counts, for tests and benchmarks.
struct GatheredWalStats {
  int64_t writes = 0;   // writes SQLite asked for on WAL files
  int64_t flushes = 0;  // writes made to the operating system for them
  int64_t rewrites = 0;  // writes that replaced bytes still gathered
};
GatheredWalStats GatheredWalCounts();

}  // namespace cx::shared::db

#endif  // CX_SHARED_DB_SQLITE_WAL_VFS_H_
