#include "shared/db/migrations.h"

#include "shared/testing/test_util.h"

namespace cx::shared::db {
namespace {

TEST(MigrationsTest, SplitsStatementsAndSkipsComments) {
  auto parts = SplitStatements("-- note\nCREATE TABLE a (x INT);\n\nINSERT INTO a VALUES (1);\n");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0], "CREATE TABLE a (x INT)");
  EXPECT_EQ(parts[1], "INSERT INTO a VALUES (1)");
}

TEST(MigrationsTest, AppliesOnceInOrderAndRecordsThem) {
  auto pool = OpenDatabase("sqlite::memory:", "", 1);
  ASSERT_TRUE(pool.ok());
  std::vector<Migration> v1{{1, "001_a", "CREATE TABLE a (x INTEGER);\nINSERT INTO a VALUES (1);\n"}};
  ASSERT_TRUE(ApplyMigrations(**pool, "test", v1).ok());
  ASSERT_TRUE(ApplyMigrations(**pool, "test", v1).ok());  // a second start changes nothing
  auto v2 = v1;
  v2.push_back({2, "002_b", "INSERT INTO a VALUES (2);\n"});
  ASSERT_TRUE(ApplyMigrations(**pool, "test", v2).ok());
  auto conn = (*pool)->Acquire();
  ASSERT_TRUE(conn.ok());
  auto rows = (*conn)->Query("SELECT COUNT(*), SUM(x) FROM a");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0].Int(0), 2);
  EXPECT_EQ((*rows)[0].Int(1), 3);
  auto recorded = (*conn)->Query("SELECT version FROM schema_migrations WHERE scope = 'test' ORDER BY version");
  ASSERT_TRUE(recorded.ok());
  ASSERT_EQ(recorded->size(), 2u);
}

// A feed of sequences 1..10 whose listing started at 8: the records below
// are listed chunk by chunk, each once; a chunk that fails leaves the
// marker at the last one that committed, and the next run resumes there.
TEST(MigrationsTest, ListsTheRecordsBelowAMarkerOnceEachAndResumesAfterAFailure) {
  auto pool = OpenDatabase("sqlite::memory:", "", 1);
  ASSERT_TRUE(pool.ok());
  {
    auto conn = (*pool)->Acquire();
    ASSERT_TRUE(conn.ok());
    for (const char* sql : {"CREATE TABLE feed (sequence INTEGER PRIMARY KEY)",
                            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) "
                            "INSERT INTO feed SELECT i FROM n",
                            "CREATE TABLE listing (sequence INTEGER PRIMARY KEY)",
                            "INSERT INTO listing SELECT sequence FROM feed WHERE sequence >= 8",
                            "CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
                            "INSERT INTO meta VALUES ('listed_from', 8)"}) {
      ASSERT_TRUE((*conn)->Execute(sql).ok()) << sql;
    }
  }
  std::vector<std::pair<int64_t, int64_t>> chunks;
  bool fail_below_two = true;  // the chunk below 2
  auto list = [&](SqlConnection& c, int64_t lo, int64_t hi) -> absl::Status {
    chunks.emplace_back(lo, hi);
    auto r = c.Execute("INSERT INTO listing SELECT sequence FROM feed WHERE sequence >= ? AND sequence < ?", {lo, hi});
    if (!r.ok()) return r.status();
    if (fail_below_two && lo < 2) return absl::InternalError("disk gone");
    return absl::OkStatus();
  };
  auto marker = [&] {
    auto conn = (*pool)->Acquire();
    auto rows = (*conn)->Query("SELECT value FROM meta WHERE name = 'listed_from'");
    return rows.ok() && rows->size() == 1 ? rows->front().Int(0) : -1;
  };
  auto first = ListBelowMarker(**pool, "meta", "listed_from", 3, list);
  EXPECT_EQ(first.code(), absl::StatusCode::kInternal);
  EXPECT_NE(first.message().find("disk gone"), std::string::npos) << first;
  EXPECT_EQ(marker(), 2);  // [5, 8) and [2, 5) committed; [1, 2) rolled back
  fail_below_two = false;
  CX_ASSERT_OK(ListBelowMarker(**pool, "meta", "listed_from", 3, list));
  EXPECT_EQ(marker(), 1);
  using Chunk = std::pair<int64_t, int64_t>;
  EXPECT_EQ(chunks, (std::vector<Chunk>{{5, 8}, {2, 5}, {1, 2}, {1, 2}}));
  {
    auto conn = (*pool)->Acquire();
    auto rows = (*conn)->Query("SELECT COUNT(*), MIN(sequence), MAX(sequence) FROM listing");
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ((*rows)[0].Int(0), 10);  // each once: the primary key refuses a second
    EXPECT_EQ((*rows)[0].Int(1), 1);
  }
  chunks.clear();
  CX_ASSERT_OK(ListBelowMarker(**pool, "meta", "listed_from", 3, list));  // nothing left
  EXPECT_TRUE(chunks.empty());
  CX_ASSERT_OK(ListBelowMarker(**pool, "meta", "no_such_marker", 3, list));
  EXPECT_TRUE(chunks.empty());
}

TEST(MigrationsTest, AFailingMigrationLeavesNothingBehindOnSqlite) {
  auto pool = OpenDatabase("sqlite::memory:", "", 1);
  ASSERT_TRUE(pool.ok());
  std::vector<Migration> bad{{1, "001_bad", "CREATE TABLE b (x INTEGER);\nTHIS IS NOT SQL;\n"}};
  EXPECT_FALSE(ApplyMigrations(**pool, "test", bad).ok());
  auto conn = (*pool)->Acquire();
  auto rows = (*conn)->Query("SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0].Int(0), 0);
}

// On MariaDB a start waits for another one's migrations of the same scope
// (GET_LOCK); when the wait runs out it fails and applies nothing, and once
// the lock is released it applies them.
TEST(MigrationsTest, AStartThatCannotTakeTheMigrationLockAppliesNothingOnMariaDb) {
  auto url = testing::CreateMysqlDatabase("migration_lock");
  CX_ASSERT_OK(url);
  auto pool = OpenDatabase(*url, "", 2);
  CX_ASSERT_OK(pool);
  auto other = (*pool)->Acquire();  // another replica, in the middle of its migrations
  CX_ASSERT_OK(other);
  auto held = (*other)->Query("SELECT GET_LOCK('cx_migrations_locked', 0)");
  CX_ASSERT_OK(held);
  ASSERT_EQ(held->front().Int(0), 1);
  std::vector<Migration> v1{{1, "001_a", "CREATE TABLE a (x INTEGER);\n"}};
  const absl::Status blocked = ApplyMigrations(**pool, "locked", v1, absl::Seconds(1));
  EXPECT_EQ(blocked.code(), absl::StatusCode::kUnavailable) << blocked;
  EXPECT_THAT(std::string(blocked.message()), ::testing::HasSubstr("locked migrations"));
  auto tables = (*other)->Query("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                                "AND TABLE_NAME IN ('a', 'schema_migrations')");
  CX_ASSERT_OK(tables);
  EXPECT_EQ(tables->front().Int(0), 0);
  CX_ASSERT_OK((*other)->Query("SELECT RELEASE_LOCK('cx_migrations_locked')"));
  CX_ASSERT_OK(ApplyMigrations(**pool, "locked", v1, absl::Seconds(1)));
  auto applied = (*other)->Query("SELECT COUNT(*) FROM schema_migrations WHERE scope = 'locked'");
  CX_ASSERT_OK(applied);
  EXPECT_EQ(applied->front().Int(0), 1);
}

TEST(SqlTest, PlaceholdersAreOneParenthesisedGroupPerRow) {
  EXPECT_EQ(Placeholders(1, 1), "(?)");
  EXPECT_EQ(Placeholders(1, 4), "(?,?,?,?)");
  EXPECT_EQ(Placeholders(3, 2), "(?,?),(?,?),(?,?)");
  EXPECT_EQ(Placeholders(0, 3), "");
}

}  // namespace
}  // namespace cx::shared::db
