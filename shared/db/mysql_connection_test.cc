#include "shared/db/mysql_connection.h"

#include <atomic>
#include <string>
#include <thread>

#include "absl/time/clock.h"

#include "shared/testing/test_util.h"

namespace cx::shared::db {
namespace {

// The target of a new, empty database on the test MariaDB.
absl::StatusOr<MysqlTarget> FreshDatabase(const std::string& prefix) {
  auto url = testing::CreateMysqlDatabase(prefix);
  if (!url.ok()) return url.status();
  return ParseMysqlUrl(*url, "");
}

TEST(MysqlStatementTextTest, WritesEachValueAsItsLiteral) {
  auto text = MysqlStatementText("INSERT INTO t VALUES (?, ?, ?, ?, ?)",
                                 {std::monostate{}, int64_t{-42}, 0.1, std::string("plain"), std::string("\xff\x00", 2)});
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "INSERT INTO t VALUES (NULL, -42, 0.10000000000000001, 'plain', X'FF00')");
}

TEST(MysqlStatementTextTest, EscapesEveryCharacterThatCouldEndOrBendALiteral) {
  const std::string tricky = std::string("it's \"quoted\" \\ back\nslash\r") + '\0' + "\x1a end";
  auto text = MysqlStatementText("SELECT ?", {tricky});
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "SELECT 'it\\'s \\\"quoted\\\" \\\\ back\\nslash\\r\\0\\Z end'");
}

TEST(MysqlStatementTextTest, LeavesQuestionMarksInsideQuotesAlone) {
  auto text = MysqlStatementText("SELECT '?', \"?\", `a?`, 'it\\'s ?', ? FROM t WHERE x = ?",
                                 {int64_t{1}, std::string("?")});
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "SELECT '?', \"?\", `a?`, 'it\\'s ?', 1 FROM t WHERE x = '?'");
}

TEST(MysqlStatementTextTest, RefusesMismatchedCountsAndNonFiniteNumbers) {
  EXPECT_EQ(MysqlStatementText("SELECT ?, ?", {int64_t{1}}).status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(MysqlStatementText("SELECT ?", {int64_t{1}, int64_t{2}}).status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(MysqlStatementText("SELECT ?", {1.0 / 0.0}).status().code(), absl::StatusCode::kInternal);
  // Without values the text goes out as it is (migrations, DDL).
  EXPECT_EQ(*MysqlStatementText("SELECT '?'", {}), "SELECT '?'");
}

// On the server: every byte value survives a round trip through a blob
// column, text with every escaped character through a text column and back
// through an equality lookup, and a value cannot break out of its literal.
TEST(MysqlStatementTextTest, ValuesRoundTripThroughMariaDb) {
  auto target = FreshDatabase("literals");
  ASSERT_TRUE(target.ok()) << target.status();
  auto conn = OpenMysql(*target);
  ASSERT_TRUE(conn.ok()) << conn.status();
  SqlConnection& c = **conn;
  ASSERT_TRUE(c.Execute("CREATE TABLE t (id BIGINT PRIMARY KEY, name VARCHAR(200) CHARACTER SET utf8mb4 "
                        "COLLATE utf8mb4_bin NOT NULL, body LONGBLOB NOT NULL)")
                  .ok());
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte.push_back(static_cast<char>(b));
  const std::string tricky = std::string("x'); DROP TABLE t; -- \"\\ \n\r ? é 😀") + '\0' + "\x1a";
  auto inserted = c.Execute("INSERT INTO t (id, name, body) VALUES (?, ?, ?), (?, ?, ?)",
                            {int64_t{1}, tricky, every_byte, int64_t{2}, std::string("plain"), tricky});
  ASSERT_TRUE(inserted.ok()) << inserted.status();
  EXPECT_EQ(*inserted, 2);
  auto rows = c.Query("SELECT id, name, body FROM t WHERE name = ?", {tricky});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].Int(0), 1);
  EXPECT_EQ((*rows)[0].Text(1), tricky);
  EXPECT_EQ((*rows)[0].Text(2), every_byte);
  auto second = c.Query("SELECT body FROM t WHERE id = ?", {int64_t{2}});
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].Text(0), tricky);
  auto count = c.Query("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ((*count)[0].Int(0), 2);
}

// A feed reader's horizon waits for the writer holding the sequence row, so
// it never stops below a change that is committing (FeedHorizon).
TEST(FeedHorizonTest, WaitsForTheWriterHoldingTheSequenceRowAndSeesItsCommit) {
  auto target = FreshDatabase("horizon");
  ASSERT_TRUE(target.ok()) << target.status();
  auto writer = OpenMysql(*target);
  auto reader = OpenMysql(*target);
  ASSERT_TRUE(writer.ok() && reader.ok());
  ASSERT_TRUE((*writer)->Execute("CREATE TABLE seq (shard INT PRIMARY KEY, next_sequence BIGINT NOT NULL)").ok());
  ASSERT_TRUE((*writer)->Execute("INSERT INTO seq VALUES (0, 1)").ok());
  ASSERT_TRUE((*writer)->BeginWrite().ok());
  ASSERT_TRUE((*writer)->Query("SELECT next_sequence FROM seq WHERE shard = 0 FOR UPDATE").ok());
  ASSERT_TRUE((*writer)->Execute("UPDATE seq SET next_sequence = 6 WHERE shard = 0").ok());
  std::atomic<bool> returned{false};
  absl::StatusOr<int64_t> horizon = int64_t{0};
  std::thread read([&] {
    horizon = FeedHorizon(**reader, "seq");
    returned = true;
  });
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_FALSE(returned) << "the horizon did not wait for the writer";
  ASSERT_TRUE((*writer)->Commit().ok());
  read.join();
  ASSERT_TRUE(horizon.ok()) << horizon.status();
  EXPECT_EQ(*horizon, 6);
}

}  // namespace
}  // namespace cx::shared::db
