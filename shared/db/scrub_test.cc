#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "shared/db/sql.h"
#include "shared/db/sqlite_connection.h"
#include "shared/testing/test_util.h"

namespace cx::shared::db {
namespace {

// The scrub after an erasure must complete while another connection (the
// background checkpointer, a writer) checkpoints the same file: a TRUNCATE
// checkpoint that meets the checkpoint lock answers busy at once.
TEST(ScrubDeletedTest, CompletesWhileAnotherConnectionCheckpointsAndWrites) {
  const auto dir = std::filesystem::temp_directory_path() / absl::StrCat("cx-scrub-test-", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "scrub.db").string();
  auto a = OpenSqlite(path, /*auto_checkpoint=*/false);
  auto b = OpenSqlite(path, /*auto_checkpoint=*/false);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->Execute("CREATE TABLE t (x BLOB)").ok());
  std::atomic<bool> stop{false};
  std::thread other([&] {
    const std::string blob(4096, 'b');
    while (!stop) {
      (void)InWriteTransaction(**b, [&]() -> absl::Status {
        for (int i = 0; i < 2000; ++i) {
          if (auto r = (*b)->Execute("INSERT INTO t VALUES (?)", {blob}); !r.ok()) return r.status();
        }
        return absl::OkStatus();
      });
      (void)(*b)->Query("PRAGMA wal_checkpoint(PASSIVE)");
    }
  });
  const std::string secret(4096, 's');
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE((*a)->Execute("INSERT INTO t VALUES (?)", {secret}).ok());
    ASSERT_TRUE((*a)->Execute("DELETE FROM t WHERE x = ?", {secret}).ok());
    EXPECT_TRUE(ScrubDeleted(**a).ok()) << "round " << i;
  }
  stop = true;
  other.join();
  a->reset();
  b->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cx::shared::db
