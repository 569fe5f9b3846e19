#include "shared/db/sqlite_wal_vfs.h"

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "shared/db/sqlite_connection.h"
#include "shared/testing/test_util.h"

namespace cx::shared::db {
namespace {

class GatheredWalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / absl::StrCat("cx-wal-vfs-", getpid(), "-", ++counter_);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "test.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<SqlConnection> Open(int cache_kib = kDefaultSqliteCacheKib) {
    auto conn = OpenSqlite(path_, /*auto_checkpoint=*/true, cache_kib);
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? *std::move(conn) : nullptr;
  }

  // Rows and total blob bytes of table t, as `reader` sees them.
  static std::pair<int64_t, int64_t> CountAndBytes(SqlConnection& reader) {
    auto rows = reader.Query("SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM t");
    EXPECT_TRUE(rows.ok()) << rows.status();
    if (!rows.ok() || rows->empty()) return {-1, -1};
    return {rows->front().Int(0), rows->front().Int(1)};
  }

  // Rows from..to-1 in a scattered order (id * 7919 mod n), so that the
  // inserts land all over the table rather than on its last page.
  static void Insert(SqlConnection& c, int from, int to, int size) {
    const int n = to - from;
    for (int k = 0; k < n; ++k) {
      const int i = from + static_cast<int>((int64_t{k} * 7919) % n);
      ASSERT_TRUE(c.Execute("INSERT INTO t (id, body) VALUES (?, ?)", {int64_t{i}, std::string(size, 'a' + i % 26)})
                      .ok());
    }
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::string path_;
};

// OpenSqlite turns SQLite's memory statistics off before SQLite starts:
// with them on, the count of memory in use grows with every allocation.
TEST_F(GatheredWalTest, SqliteKeepsNoMemoryStatistics) {
  auto conn = Open();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->Execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)").ok());
  Insert(*conn, 0, 100, 500);
  EXPECT_EQ(sqlite3_memory_used(), 0);
}

// The setting holds even where SQLite is first reached directly, not through
// OpenSqlite (ctest runs this test in a process of its own, so nothing has
// opened a database before it): the library sets it as it loads.
TEST(SqliteSettingsTest, MemoryStatisticsAreOffWhateverUsesSqliteFirst) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB);"
                         "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)"
                         " INSERT INTO t SELECT i, randomblob(500) FROM n;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_EQ(sqlite3_memory_used(), 0);
  sqlite3_close_v2(db);
}

TEST_F(GatheredWalTest, ACommitReachesTheFileInAFewWritesAndOtherConnectionsReadIt) {
  auto writer = Open();
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer->Execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)", {}).ok());
  const GatheredWalStats before = GatheredWalCounts();
  ASSERT_TRUE(writer->BeginWrite().ok());
  Insert(*writer, 0, 200, 1000);
  ASSERT_TRUE(writer->Commit().ok());
  const GatheredWalStats after = GatheredWalCounts();
  const int64_t writes = after.writes - before.writes;
  const int64_t flushes = after.flushes - before.flushes;
  // About 50 pages, each a frame header and a page: 100 writes asked for,
  // one write made (the frames fit in one gathered write).
  EXPECT_GE(writes, 100);
  EXPECT_GE(flushes, 1);
  EXPECT_LE(flushes, 3);

  auto reader = Open();
  ASSERT_TRUE(reader);
  EXPECT_EQ(CountAndBytes(*reader), std::make_pair(int64_t{200}, int64_t{200000}));
}

TEST_F(GatheredWalTest, ATransactionLargerThanThePageCacheReadsBackWhatItSpilledAndRewrote) {
  // A 64 KiB page cache: the transaction spills frames to the WAL before it
  // commits, reads them back, and rewrites pages it already wrote.
  auto writer = Open(/*cache_kib=*/64);
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer->Execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)", {}).ok());
  ASSERT_TRUE(writer->BeginWrite().ok());
  Insert(*writer, 0, 3000, 500);
  ASSERT_TRUE(writer->Execute("UPDATE t SET body = ? WHERE id % 7 = 0", {std::string(300, 'z')}).ok());
  const int64_t updated = (3000 + 6) / 7;
  const int64_t bytes = (3000 - updated) * 500 + updated * 300;
  EXPECT_EQ(CountAndBytes(*writer), std::make_pair(int64_t{3000}, bytes));
  ASSERT_TRUE(writer->Commit().ok());

  auto reader = Open();
  ASSERT_TRUE(reader);
  EXPECT_EQ(CountAndBytes(*reader), std::make_pair(int64_t{3000}, bytes));
  // A checkpoint empties the WAL; the next commits write it from the start.
  ASSERT_TRUE(writer->Query("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(writer->BeginWrite().ok());
    Insert(*writer, 3000 + round * 100, 3100 + round * 100, 500);
    ASSERT_TRUE(writer->Commit().ok());
    ASSERT_TRUE(writer->Query("PRAGMA wal_checkpoint(RESTART)").ok());
  }
  EXPECT_EQ(CountAndBytes(*reader), std::make_pair(int64_t{3300}, bytes + 300 * 500));
  auto check = reader->Query("PRAGMA integrity_check");
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->front().Text(0), "ok");
}

TEST_F(GatheredWalTest, ACommitIsInTheFileWhenItReturnsEvenIfTheProcessDiesBeforeClosing) {
  {
    auto setup = Open();
    ASSERT_TRUE(setup);
    ASSERT_TRUE(setup->Execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)", {}).ok());
  }
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Commits, then dies without closing anything: nothing gathered after
    // the commit's sync may be needed to read it.
    auto conn = OpenSqlite(path_, /*auto_checkpoint=*/false);
    if (!conn.ok() || !(*conn)->BeginWrite().ok()) _exit(2);
    for (int i = 0; i < 500; ++i) {
      if (!(*conn)->Execute("INSERT INTO t (id, body) VALUES (?, ?)", {int64_t{i}, std::string(700, 'x')}).ok()) {
        _exit(3);
      }
    }
    if (!(*conn)->Commit().ok()) _exit(4);
    (void)(*conn).release();  // never closed
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  auto reader = Open();
  ASSERT_TRUE(reader);
  EXPECT_EQ(CountAndBytes(*reader), std::make_pair(int64_t{500}, int64_t{350000}));
}

// The gathered WAL is only safe when every commit syncs the WAL before SQLite
// publishes it (synchronous=FULL); with NORMAL, readers could be shown frames
// still gathered in the writer's buffer.
TEST_F(GatheredWalTest, EveryConnectionSyncsEachCommit) {
  auto conn = Open();
  ASSERT_TRUE(conn);
  auto rows = conn->Query("PRAGMA synchronous");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->front().Int(0), 2);  // FULL
}

// The VFS's file calls one by one, against a copy of what the file must hold:
// appends gathered and written out at the capacity, bytes rewritten while
// still gathered, a read of gathered bytes, a write elsewhere, the size, a
// sync, a close.
TEST_F(GatheredWalTest, EveryByteWrittenIsReadBackAndInTheFileAfterTheSync) {
  std::ofstream(path_) << "";  // the database file the WAL belongs to
  const std::string wal_path = path_ + "-wal";
  sqlite3_vfs* vfs = sqlite3_vfs_find(GatheredWalVfs());
  ASSERT_NE(vfs, nullptr);
  std::vector<char> memory(static_cast<size_t>(vfs->szOsFile));
  auto* file = reinterpret_cast<sqlite3_file*>(memory.data());
  std::string name = wal_path + std::string(4, '\0');  // as SQLite passes names
  int out_flags = 0;
  ASSERT_EQ(vfs->xOpen(vfs, name.c_str(), file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_WAL,
                       &out_flags),
            SQLITE_OK);
  std::string expected;
  auto write = [&](const std::string& bytes, int64_t offset) {
    ASSERT_EQ(file->pMethods->xWrite(file, bytes.data(), static_cast<int>(bytes.size()), offset), SQLITE_OK);
    if (expected.size() < offset + bytes.size()) expected.resize(offset + bytes.size(), '\0');
    expected.replace(static_cast<size_t>(offset), bytes.size(), bytes);
  };
  auto read = [&](int64_t offset, int size) {
    std::string out(static_cast<size_t>(size), '?');
    EXPECT_EQ(file->pMethods->xRead(file, out.data(), size, offset), SQLITE_OK);
    return out;
  };
  const GatheredWalStats before = GatheredWalCounts();
  write(std::string(32, 'h'), 0);  // a WAL header, then 40 frames of 24 + 4096 bytes
  for (int frame = 0; frame < 40; ++frame) {
    write(std::string(24, static_cast<char>('A' + frame % 26)), 32 + frame * 4120);
    write(std::string(4096, static_cast<char>('a' + frame % 26)), 32 + frame * 4120 + 24);
  }
  const GatheredWalStats appended = GatheredWalCounts();
  EXPECT_EQ(appended.writes - before.writes, 81);
  EXPECT_EQ(appended.flushes - before.flushes, 1);  // 124 KiB went out; the rest is gathered
  write(std::string(100, 'R'), 32 + 39 * 4120 + 500);  // the last frame, still gathered
  EXPECT_EQ(GatheredWalCounts().rewrites - before.rewrites, 1);
  EXPECT_EQ(read(32 + 39 * 4120 + 450, 200), expected.substr(32 + 39 * 4120 + 450, 200));
  write(std::string(10, 'F'), 200000);  // past the end, after a gap
  write(std::string(10, 'G'), 200010);
  write(std::string(7, 'S'), 64);  // bytes written out long ago, while others are gathered
  sqlite3_int64 size = 0;
  ASSERT_EQ(file->pMethods->xFileSize(file, &size), SQLITE_OK);
  EXPECT_EQ(size, 200020);
  EXPECT_EQ(read(60, 20), expected.substr(60, 20));
  write(std::string(5, 'T'), 200020);
  ASSERT_EQ(file->pMethods->xSync(file, SQLITE_SYNC_NORMAL), SQLITE_OK);
  {
    std::ifstream in(wal_path, std::ios::binary);
    std::string on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(on_disk == expected) << "the file differs from what was written";
  }
  write(std::string(3, 'C'), 200025);  // gathered, written out by the close
  ASSERT_EQ(file->pMethods->xClose(file), SQLITE_OK);
  std::ifstream in(wal_path, std::ios::binary);
  std::string on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(on_disk == expected) << "the file differs from what was written";
}

}  // namespace
}  // namespace cx::shared::db
