// repository-bench: the storage layer alone (no gRPC): rows/s of
// FeedbackRepository::Write at several batch sizes on SQLite and MariaDB.
// Tells how much of an end-to-end figure the database costs.
//
// With --stored-records=N it also fills a SQLite file with N feedback rows
// (200k customers), starts the feedback-service binary on it as its own
// process and reads through it over gRPC (ListFeedback by customer, newest
// first, and ListChanges from random positions): the latencies, and the
// service's RSS with N records stored.
//
//   repository-bench [--seconds=2] [--mysql-url=mysql://user:pw@host:port/db]
//                    [--stored-records=0]
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/service_process.h"
#include "cx/feedback/v1/feedback_service.grpc.pb.h"
#include "shared/auth.h"
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

// Fills `path` with n rows, then measures feedback-service on it.
void MeasureStored(const std::filesystem::path& dir, int64_t n, absl::Duration duration) {
  const std::string url = absl::StrCat("sqlite://", (dir / "stored.db").string());
  {
    auto pool = cx::shared::db::OpenDatabase(url, "", 1);
    if (!pool.ok()) { std::cerr << pool.status() << "\n"; std::exit(1); }
    auto repo = cx::feedback::OpenFeedbackRepository(*pool);
    if (!repo.ok()) { std::cerr << repo.status() << "\n"; std::exit(1); }
    const absl::Time start = absl::Now();
    for (int64_t i = 0; i < n; i += 1000) {
      std::vector<NewFeedback> batch;
      for (int64_t j = i; j < std::min(n, i + 1000); ++j) {
        batch.push_back(Make(j, "stored"));
        batch.back().feedback.set_customer_id(absl::StrCat("cust-", (j * 7919) % 200000));
      }
      if (auto r = (*repo)->Write(batch); !r.ok()) { std::cerr << r.status() << "\n"; std::exit(1); }
    }
    std::cout << absl::StrFormat("\nstored: %d feedback rows written in %.0f s; database %.0f MB\n", n,
                                 absl::ToDoubleSeconds(absl::Now() - start),
                                 std::filesystem::file_size(dir / "stored.db") / 1048576.0);
  }
  constexpr char kRead[] = "bench-read-token";
  constexpr char kService[] = "bench-service-token";
  const std::string tokens = (dir / "tokens").string();
  std::ofstream(tokens) << cx::shared::Sha256Hex(kRead) << " bench read\n"
                        << cx::shared::Sha256Hex(kService) << " * service\n";
  cx::bench::ServiceProcess service(
      CX_FEEDBACK_SERVICE_BINARY,
      {"--db=" + url, "--tokens-file=" + tokens, "--rate-limit-rps=0", "--log-level=error", "--drain-grace-ms=0"});
  if (!service.Start("feedback-service", absl::Minutes(5))) std::exit(1);
  std::cout << absl::StrFormat("feedback-service started on it: RSS %.0f MB (%s)\n", service.RssKb() / 1024.0,
                               service.RssParts());
  auto stub = cx::feedback::v1::FeedbackService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", service.port()), grpc::InsecureChannelCredentials()));
  std::mt19937_64 rng(5);
  std::vector<double> by_customer, newest, changes;
  const absl::Time end = absl::Now() + duration;
  for (int i = 0; absl::Now() < end && i < 1000000; ++i) {
    auto timed = [&](std::vector<double>* into, auto call) {
      const absl::Time t = absl::Now();
      grpc::Status st = call();
      into->push_back(absl::ToDoubleMilliseconds(absl::Now() - t));
      if (!st.ok()) { std::cerr << st.error_message() << "\n"; std::exit(1); }
    };
    timed(&by_customer, [&] {
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kRead));
      cx::feedback::v1::ListFeedbackRequest req;
      req.set_customer_id(absl::StrCat("cust-", rng() % 200000));
      cx::feedback::v1::ListFeedbackResponse resp;
      return stub->ListFeedback(&ctx, req, &resp);
    });
    timed(&newest, [&] {
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kRead));
      cx::feedback::v1::ListFeedbackRequest req;
      cx::feedback::v1::ListFeedbackResponse resp;
      return stub->ListFeedback(&ctx, req, &resp);
    });
    timed(&changes, [&] {
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kService));
      cx::feedback::v1::ListChangesRequest req;
      req.set_after_sequence(static_cast<int64_t>(rng() % static_cast<uint64_t>(n)));
      req.set_limit(500);
      cx::feedback::v1::ListChangesResponse resp;
      return stub->ListChanges(&ctx, req, &resp);
    });
  }
  auto pct = [](std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
  };
  for (auto& [name, v] : std::vector<std::pair<std::string, std::vector<double>*>>{
           {"ListFeedback by customer (50 newest)", &by_customer},
           {"ListFeedback newest first (50)", &newest},
           {"ListChanges 500 from a random position", &changes}}) {
    std::cout << absl::StrFormat("  %s: %d calls, p50 %.2f ms, p99 %.2f ms\n", name, v->size(), pct(*v, 0.5),
                                 pct(*v, 0.99));
  }
  std::cout << absl::StrFormat("feedback-service after the reads: RSS %.0f MB (%s)\n", service.RssKb() / 1024.0,
                               service.RssParts());
  service.Stop();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<cx::shared::OptionSpec> specs = {
      {"seconds", "CX_BENCH_SECONDS", "2", "seconds per batch size"},
      {"mysql-url", "CX_BENCH_MYSQL_URL", "", "MariaDB/MySQL server to measure"},
      {"stored-records", "CX_BENCH_STORED_RECORDS", "0",
       "also: feedback-service's RSS and read latency with this many records stored (SQLite)"},
  };
  auto config = cx::shared::Config::ParseOrExit("repository-bench", specs, argc, argv);
  cx::shared::InitLogging("repository-bench", cx::shared::LogLevel::kWarning);
  const absl::Duration duration = absl::Seconds(*config.GetInt("seconds"));
  std::cout << "| backend | rows per transaction | rows/s | commits/s |\n|---|---:|---:|---:|\n";
  auto dir = std::filesystem::temp_directory_path() / absl::StrCat("cx-repo-bench-", getpid());
  Measure("SQLite", absl::StrCat("sqlite://", (dir / "feedback.db").string()), duration);
  MeasureRawInsert("SQLite", absl::StrCat("sqlite://", (dir / "feedback.db").string()), duration);
  if (!config.Get("mysql-url").empty()) {
    auto url = cx::shared::db::CreateFreshMysqlDatabase(config.Get("mysql-url"), "cx_repo_bench");
    if (!url.ok()) { std::cerr << url.status() << "\n"; return 1; }
    Measure("MariaDB", *url, duration);
    MeasureRawInsert("MariaDB", *url, duration);
  }
  if (const int64_t stored = *config.GetInt("stored-records"); stored > 0) {
    MeasureStored(dir, stored, std::max(duration, absl::Seconds(10)));
  }
  std::filesystem::remove_all(dir);
  return 0;
}
