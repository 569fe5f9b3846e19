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
  std::filesystem::remove_all(dir);
  if (!config.Get("mysql-url").empty()) {
    auto url = cx::shared::db::CreateFreshMysqlDatabase(config.Get("mysql-url"), "cx_repo_bench");
    if (!url.ok()) { std::cerr << url.status() << "\n"; return 1; }
    Measure("MariaDB", *url, duration);
  }
  return 0;
}
