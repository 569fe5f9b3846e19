#include "shared/db/mysql_connection.h"

#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
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

// Tests and benchmarks drop the databases they create: the drop removes the
// database with its tables while another connection to it sits idle, and a
// second drop, of a database already gone, succeeds too.
TEST(DropMysqlDatabaseTest, RemovesTheDatabaseAndCanBeRepeated) {
  auto url = testing::CreateMysqlDatabase("cx_drop_me");
  ASSERT_TRUE(url.ok()) << url.status();
  auto target = ParseMysqlUrl(*url, "");
  ASSERT_TRUE(target.ok()) << target.status();
  auto idle = OpenMysql(*target);
  ASSERT_TRUE(idle.ok()) << idle.status();
  ASSERT_TRUE((*idle)->Execute("CREATE TABLE t (id BIGINT PRIMARY KEY)").ok());
  ASSERT_TRUE((*idle)->Execute("INSERT INTO t (id) VALUES (1), (2)").ok());
  auto exists = [&]() -> int64_t {
    auto rows = (*idle)->Query("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
                               {target->database});
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? (*rows)[0].Int(0) : -1;
  };
  ASSERT_EQ(exists(), 1);
  ASSERT_TRUE(DropMysqlDatabase(*url).ok());
  EXPECT_EQ(exists(), 0);
  EXPECT_FALSE(OpenMysql(*target).ok());  // nothing left to connect to
  EXPECT_TRUE(DropMysqlDatabase(*url).ok());
  // Only names CreateFreshMysqlDatabase makes are dropped.
  EXPECT_EQ(DropMysqlDatabase(absl::StrCat(*url, ";DROP")).code(), absl::StatusCode::kInvalidArgument);
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

// Statements run later go out with the next statement (or COMMIT) in one
// round trip, in order; the next statement's own result is still its own,
// and an error of a statement sent ahead is the answer to the one it went
// out with.
TEST(ExecuteLaterTest, SendsAheadInOrderAndAnswersForTheStatementItGoesWith) {
  auto target = FreshDatabase("cx_execute_later");
  ASSERT_TRUE(target.ok()) << target.status();
  auto conn = OpenMysql(*target);
  auto other = OpenMysql(*target);
  ASSERT_TRUE(conn.ok() && other.ok());
  SqlConnection& c = **conn;
  ASSERT_TRUE(c.Execute("CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL)").ok());

  ASSERT_TRUE(c.BeginWrite().ok());
  ASSERT_TRUE(c.ExecuteLater("INSERT INTO t (id, v) VALUES (?, ?), (?, ?)", {int64_t{1}, int64_t{10}, int64_t{2}, int64_t{20}}).ok());
  ASSERT_TRUE(c.ExecuteLater("INSERT INTO t (id, v) VALUES (?, ?)", {int64_t{3}, int64_t{30}}).ok());
  auto updated = c.Execute("UPDATE t SET v = v + 1 WHERE id >= ?", {int64_t{2}});
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(*updated, 2);  // the UPDATE's count, not an INSERT's
  ASSERT_TRUE(c.ExecuteLater("INSERT INTO t (id, v) VALUES (4, 40)").ok());
  auto seen = c.Query("SELECT id, v FROM t ORDER BY id");
  ASSERT_TRUE(seen.ok()) << seen.status();
  ASSERT_EQ(seen->size(), 4u);
  EXPECT_EQ((*seen)[2].Int(1), 31);
  ASSERT_TRUE(c.ExecuteLater("INSERT INTO t (id, v) VALUES (5, 50)").ok());
  ASSERT_TRUE(c.Commit().ok());  // sends the last insert with it
  auto count = (*other)->Query("SELECT COUNT(*), SUM(v) FROM t");
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(count->front().Int(0), 5);
  EXPECT_EQ(count->front().Int(1), 10 + 21 + 31 + 40 + 50);

  // A duplicate sent ahead: the statement it went with answers
  // ALREADY_EXISTS and did not run; the rollback leaves nothing of the
  // transaction, and the connection goes on working.
  ASSERT_TRUE(c.BeginWrite().ok());
  ASSERT_TRUE(c.ExecuteLater("INSERT INTO t (id, v) VALUES (6, 60)").ok());
  ASSERT_TRUE(c.ExecuteLater("INSERT INTO t (id, v) VALUES (1, 99)").ok());
  auto failed = c.Execute("UPDATE t SET v = 0");
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(c.Rollback().ok());
  auto after = (*other)->Query("SELECT COUNT(*), SUM(v) FROM t");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->front().Int(0), 5);
  EXPECT_EQ(after->front().Int(1), 10 + 21 + 31 + 40 + 50);
  EXPECT_TRUE(c.healthy());
  auto again = c.Query("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->front().Int(0), 5);

  // A rollback drops what was not sent yet.
  ASSERT_TRUE(c.BeginWrite().ok());
  ASSERT_TRUE(c.ExecuteLater("INSERT INTO t (id, v) VALUES (7, 70)").ok());
  ASSERT_TRUE(c.Rollback().ok());
  auto last = (*other)->Query("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->front().Int(0), 5);
}

// Statements sent ahead go out before they add up to more than one
// statement's bound (kMaxStatementBytes), so no packet outgrows a server's
// max_allowed_packet.
TEST(ExecuteLaterTest, SendsAheadBeforeTheBytesPassOneStatementsBound) {
  auto target = FreshDatabase("cx_execute_later_bytes");
  ASSERT_TRUE(target.ok()) << target.status();
  auto conn = OpenMysql(*target);
  ASSERT_TRUE(conn.ok());
  SqlConnection& c = **conn;
  ASSERT_TRUE(c.Execute("CREATE TABLE b (id INT PRIMARY KEY, body LONGTEXT NOT NULL)").ok());
  auto packet = c.Query("SELECT @@max_allowed_packet");
  ASSERT_TRUE(packet.ok()) << packet.status();
  // Enough statements of a third of the bound each to pass the server's
  // packet limit several times over were they sent as one.
  const std::string body(kMaxStatementBytes / 3, 'b');
  const int64_t n = 3 * packet->front().Int(0) / static_cast<int64_t>(body.size()) + 3;
  ASSERT_TRUE(c.BeginWrite().ok());
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_TRUE(c.ExecuteLater("INSERT INTO b (id, body) VALUES (?, ?)", {i, body}).ok());
  }
  ASSERT_TRUE(c.Commit().ok());
  auto rows = c.Query("SELECT COUNT(*), SUM(LENGTH(body)) FROM b");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->front().Int(0), n);
  EXPECT_EQ(rows->front().Int(1), n * static_cast<int64_t>(body.size()));
}

}  // namespace
}  // namespace cx::shared::db
