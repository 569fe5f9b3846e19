// repository-bench: the storage layer alone (no gRPC): rows/s of
// FeedbackRepository::Write at several batch sizes on SQLite and MariaDB.
// Tells how much of an end-to-end figure the database costs.
//
//   repository-bench [--seconds=2] [--mysql-url=mysql://user:pw@host:port/db]
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "feedback-service/sql_feedback_repository.h"
#include "google/protobuf/util/time_util.h"
#include "shared/config.h"
#include "shared/db/mysql_connection.h"
#include "shared/log.h"

namespace {

using cx::feedback::NewFeedback;

NewFeedback Make(int64_t i, const std::string& run) {
  NewFeedback n;
  n.tenant = "bench";
  n.request_id = absl::StrCat(run, "-", i);
  n.payload_hash = "0123456789abcdef0123456789abcdef";
  auto& f = n.feedback;
  f.set_customer_id(absl::StrCat("cust-", i % 5000));
  f.set_kind(cx::feedback::v1::FEEDBACK_KIND_NPS);
  f.set_score(static_cast<int>(i % 11));
  f.set_comment("The delivery was late but support sorted it out quickly.");
  f.set_source(cx::common::v1::SOURCE_SURVEY);
  f.set_channel(cx::common::v1::CHANNEL_EMAIL);
  f.set_touchpoint_id("checkout");
  *f.mutable_occurred_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  *f.mutable_received_at() = f.occurred_at();
  return n;
}

// The database's own ceiling for the same table and rows: plain INSERTs in
// 1000-row transactions into the same (already filled) table, without the
// idempotency lookup, the sequence lock or protobuf: what the repository
// adds on top. Sequence numbers far above the repository's keep them apart.
void MeasureRawInsert(const std::string& backend, const std::string& url, absl::Duration duration) {
  auto pool = cx::shared::db::OpenDatabase(url, "", 1);
  if (!pool.ok()) { std::cerr << pool.status() << "\n"; std::exit(1); }
  if (auto r = cx::feedback::OpenFeedbackRepository(*pool); !r.ok()) { std::cerr << r.status() << "\n"; std::exit(1); }
  auto conn = (*pool)->Acquire();
  const bool mysql = (*conn)->backend() == cx::shared::db::Backend::kMysql;
  const int per_statement = mysql ? 250 : 1;
  std::string sql = "INSERT INTO feedback VALUES ";
  for (int i = 0; i < per_statement; ++i) sql += i ? ",(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)" : "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  const std::string run = absl::StrCat("raw-", getpid());
  int64_t next = 1'000'000'000'000, rows = 0;
  const absl::Time start = absl::Now();
  while (absl::Now() - start < duration) {
    auto s = cx::shared::db::InWriteTransaction(**conn, [&]() -> absl::Status {
      for (int k = 0; k < 1000 / per_statement; ++k) {
        cx::shared::db::SqlParams params;
        for (int i = 0; i < per_statement; ++i, ++next) {
          NewFeedback n = Make(next, run);
          const auto& f = n.feedback;
          int64_t us = google::protobuf::util::TimeUtil::TimestampToMicroseconds(f.occurred_at());
          params.insert(params.end(), {n.tenant, next, n.request_id, n.payload_hash, f.customer_id(),
                                       int64_t{f.kind()}, int64_t{f.score()}, int64_t{f.channel()},
                                       int64_t{f.source()}, f.touchpoint_id(), int64_t{0}, std::string(), us, us,
                                       us, f.SerializeAsString()});
        }
        if (auto r = (*conn)->Execute(sql, params); !r.ok()) return r.status();
      }
      return absl::OkStatus();
    });
    if (!s.ok()) { std::cerr << s << "\n"; std::exit(1); }
    rows += 1000;
  }
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::cout << absl::StrFormat("| %s | 1000 (plain INSERT, same table) | %.0f | %.0f |\n", backend,
                               rows / seconds, rows / seconds / 1000);
}

void Measure(const std::string& backend, const std::string& url, absl::Duration duration) {
  auto pool = cx::shared::db::OpenDatabase(url, "", 2);
  if (!pool.ok()) { std::cerr << pool.status() << "\n"; std::exit(1); }
  auto repo = cx::feedback::OpenFeedbackRepository(*pool);
  if (!repo.ok()) { std::cerr << repo.status() << "\n"; std::exit(1); }
  const std::string run = absl::StrCat(getpid());
  int64_t next = 0;
  for (int batch_size : {1, 32, 100, 1000}) {
    int64_t rows = 0;
    const absl::Time start = absl::Now();
    while (absl::Now() - start < duration) {
      std::vector<NewFeedback> batch;
      for (int i = 0; i < batch_size; ++i) batch.push_back(Make(next++, run));
      auto r = (*repo)->Write(batch);
      if (!r.ok()) { std::cerr << r.status() << "\n"; std::exit(1); }
      rows += batch_size;
    }
    double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    std::cout << absl::StrFormat("| %s | %d | %.0f | %.0f |\n", backend, batch_size, rows / seconds,
                                 rows / seconds / batch_size);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<cx::shared::OptionSpec> specs = {
      {"seconds", "CX_BENCH_SECONDS", "2", "seconds per batch size"},
      {"mysql-url", "CX_BENCH_MYSQL_URL", "", "MariaDB/MySQL server to measure"},
  };
  auto config = cx::shared::Config::ParseOrExit("repository-bench", specs, argc, argv);
  cx::shared::InitLogging("repository-bench", cx::shared::LogLevel::kWarning);
  const absl::Duration duration = absl::Seconds(*config.GetInt("seconds"));
  std::cout << "| backend | rows per transaction | rows/s | commits/s |\n|---|---:|---:|---:|\n";
  auto dir = std::filesystem::temp_directory_path() / absl::StrCat("cx-repo-bench-", getpid());
  Measure("SQLite", absl::StrCat("sqlite://", (dir / "feedback.db").string()), duration);
  MeasureRawInsert("SQLite", absl::StrCat("sqlite://", (dir / "feedback.db").string()), duration);
  std::filesystem::remove_all(dir);
  if (!config.Get("mysql-url").empty()) {
    auto url = cx::shared::db::CreateFreshMysqlDatabase(config.Get("mysql-url"), "cx_repo_bench");
    if (!url.ok()) { std::cerr << url.status() << "\n"; return 1; }
    Measure("MariaDB", *url, duration);
    MeasureRawInsert("MariaDB", *url, duration);
  }
  return 0;
}
