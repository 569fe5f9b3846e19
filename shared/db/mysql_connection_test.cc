#include "shared/db/mysql_connection.h"

#include <string>

#include "shared/testing/test_util.h"

namespace cx::shared::db {
namespace {

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
  auto url = testing::CreateMysqlDatabase("literals");
  ASSERT_TRUE(url.ok()) << url.status();
  auto target = ParseMysqlUrl(*url, "");
  ASSERT_TRUE(target.ok());
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

}  // namespace
}  // namespace cx::shared::db
