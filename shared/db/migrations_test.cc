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

TEST(SqlTest, PlaceholdersAreOneParenthesisedGroupPerRow) {
  EXPECT_EQ(Placeholders(1, 1), "(?)");
  EXPECT_EQ(Placeholders(1, 4), "(?,?,?,?)");
  EXPECT_EQ(Placeholders(3, 2), "(?,?),(?,?),(?,?)");
  EXPECT_EQ(Placeholders(0, 3), "");
}

}  // namespace
}  // namespace cx::shared::db
