// feedback-bench: durable SubmitFeedback (N in flight) and
// BatchSubmitFeedback (100 items) on SQLite and on MariaDB, next to a bare
// gRPC echo server run by the same ServerRunner, in one run on this machine.
// Prints RPS, rows/s, p50/p99 and the ratio to echo. It reports; it does not
// pass or fail.
//
//   feedback-bench [--seconds=5] [--inflight=32] [--batch-size=100]
//                  [--batch-inflight=8] [--mysql-url=mysql://user:pw@host:port/db]
//                  [--scenarios=unary,batch] [--sqlite=true]
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/echo_server.h"
#include "bench/load.h"
#include "feedback-service/feedback_server.h"
#include "shared/config.h"
#include "shared/db/mysql_connection.h"
#include "shared/log.h"

namespace cx::bench {
namespace {

constexpr char kToken[] = "bench-ingest-token";

feedback::v1::Feedback SampleFeedback(int64_t i) {
  feedback::v1::Feedback f;
  f.set_customer_id(absl::StrCat("cust-", i % 5000));
  f.set_kind(feedback::v1::FEEDBACK_KIND_NPS);
  f.set_score(static_cast<int>(i % 11));
  f.set_comment("The delivery was late but support sorted it out quickly.");
  f.set_source(common::v1::SOURCE_SURVEY);
  f.set_channel(common::v1::CHANNEL_EMAIL);
  f.set_touchpoint_id("checkout");
  f.set_journey_stage(common::v1::JOURNEY_STAGE_PURCHASE);
  f.set_locale("en-US");
  return f;
}

struct Row {
  std::string scenario;
  std::string backend;
  int in_flight;
  int rows_per_call;
  LoadResult result;
  double rows_per_commit = 0;  // from the service's batch-size histogram
};

std::shared_ptr<grpc::Channel> Connect(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args);
}

Row RunEcho(int in_flight, absl::Duration duration, size_t payload_bytes) {
  EchoServiceImpl echo;
  shared::ServerOptions options;
  options.drain_grace = absl::ZeroDuration();
  shared::ServerRunner runner(options);
  runner.AddService(&echo, v1::EchoService::service_full_name());
  if (auto s = runner.Start(); !s.ok()) {
    std::cerr << "echo server: " << s << "\n";
    std::exit(1);
  }
  auto stub = v1::EchoService::NewStub(Connect(runner.port()));
  const std::string payload(payload_bytes, 'x');
  IssueFn issue = [&](std::function<void(const grpc::Status&)> done) {
    struct Call {
      grpc::ClientContext ctx;
      v1::EchoRequest req;
      v1::EchoResponse resp;
    };
    auto* call = new Call;
    call->req.set_payload(payload);
    stub->async()->Echo(&call->ctx, &call->req, &call->resp, [call, done](grpc::Status s) {
      delete call;
      done(s);
    });
  };
  RunLoad(in_flight, absl::Milliseconds(500), issue);  // warm-up
  Row row{"echo (baseline)", "-", in_flight, 1, RunLoad(in_flight, duration, issue)};
  runner.Drain();
  return row;
}

std::vector<Row> RunFeedback(const std::string& backend, const std::string& db_url, int in_flight,
                             int batch_in_flight, int batch_size, absl::Duration duration, bool unary,
                             bool batched) {
  feedback::FeedbackServerOptions options;
  options.db_url = db_url;
  options.tokens = *shared::TokenStore::FromText(absl::StrCat(shared::Sha256Hex(kToken), " bench ingest\n"));
  options.server.drain_grace = absl::ZeroDuration();
  auto server = feedback::FeedbackServer::Start(options);
  if (!server.ok()) {
    std::cerr << backend << ": " << server.status() << "\n";
    std::exit(1);
  }
  auto stub = feedback::v1::FeedbackService::NewStub(Connect((*server)->port()));
  std::atomic<int64_t> next_id{0};
  const std::string run = absl::StrCat(getpid(), "-", absl::ToUnixMicros(absl::Now()));

  IssueFn submit = [&](std::function<void(const grpc::Status&)> done) {
    struct Call {
      grpc::ClientContext ctx;
      feedback::v1::SubmitFeedbackRequest req;
      feedback::v1::SubmitFeedbackResponse resp;
    };
    auto* call = new Call;
    int64_t id = next_id++;
    call->ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
    call->req.set_request_id(absl::StrCat(run, "-", id));
    *call->req.mutable_feedback() = SampleFeedback(id);
    stub->async()->SubmitFeedback(&call->ctx, &call->req, &call->resp, [call, done](grpc::Status s) {
      delete call;
      done(s);
    });
  };
  IssueFn batch = [&](std::function<void(const grpc::Status&)> done) {
    struct Call {
      grpc::ClientContext ctx;
      feedback::v1::BatchSubmitFeedbackRequest req;
      feedback::v1::BatchSubmitFeedbackResponse resp;
    };
    auto* call = new Call;
    call->ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
    for (int k = 0; k < batch_size; ++k) {
      int64_t id = next_id++;
      auto* item = call->req.add_requests();
      item->set_request_id(absl::StrCat(run, "-", id));
      *item->mutable_feedback() = SampleFeedback(id);
    }
    stub->async()->BatchSubmitFeedback(&call->ctx, &call->req, &call->resp, [call, done](grpc::Status s) {
      if (s.ok() && call->resp.accepted_count() != static_cast<int>(call->req.requests_size())) {
        s = grpc::Status(grpc::StatusCode::INTERNAL, "not every item accepted");
      }
      delete call;
      done(s);
    });
  };
  std::vector<Row> rows;
  RunLoad(in_flight, absl::Milliseconds(500), submit);  // warm-up
  auto measure = [&](const std::string& name, int flight, int rows_per_call, const IssueFn& issue) {
    uint64_t commits0, commits1;
    double rows0, rows1;
    (*server)->metrics().WriteBatchTotals(&commits0, &rows0);
    Row row{name, backend, flight, rows_per_call, RunLoad(flight, duration, issue)};
    (*server)->metrics().WriteBatchTotals(&commits1, &rows1);
    row.rows_per_commit = commits1 > commits0 ? (rows1 - rows0) / (commits1 - commits0) : 0;
    rows.push_back(std::move(row));
  };
  if (unary) measure("SubmitFeedback (durable)", in_flight, 1, submit);
  if (batched) measure(absl::StrCat("BatchSubmitFeedback x", batch_size), batch_in_flight, batch_size, batch);
  (*server)->Shutdown();
  return rows;
}

}  // namespace
}  // namespace cx::bench

int main(int argc, char** argv) {
  using cx::bench::Row;
  std::vector<cx::shared::OptionSpec> specs = {
      {"seconds", "CX_BENCH_SECONDS", "5", "measured seconds per scenario"},
      {"inflight", "CX_BENCH_INFLIGHT", "32", "unary calls in flight"},
      {"batch-size", "CX_BENCH_BATCH_SIZE", "100", "items per BatchSubmitFeedback"},
      {"batch-inflight", "CX_BENCH_BATCH_INFLIGHT", "8", "batch calls in flight"},
      {"mysql-url", "CX_BENCH_MYSQL_URL", "", "MariaDB/MySQL server to measure (a fresh database is created)"},
      {"scenarios", "CX_BENCH_SCENARIOS", "unary,batch", "which of unary,batch to run"},
      {"sqlite", "CX_BENCH_SQLITE", "true", "measure the SQLite backend"},
  };
  auto config = cx::shared::Config::ParseOrExit("feedback-bench", specs, argc, argv);
  cx::shared::InitLogging("feedback-bench", cx::shared::LogLevel::kWarning);
  cx::shared::InitProcessDefaults();
  const absl::Duration duration = absl::Seconds(*config.GetInt("seconds"));
  const int in_flight = static_cast<int>(*config.GetInt("inflight"));
  const int batch_size = static_cast<int>(*config.GetInt("batch-size"));
  const int batch_in_flight = static_cast<int>(*config.GetInt("batch-inflight"));

  // The echo payload is the size of one SubmitFeedbackRequest.
  cx::feedback::v1::SubmitFeedbackRequest sample;
  sample.set_request_id("12345-1700000000000000-123456");
  *sample.mutable_feedback() = cx::bench::SampleFeedback(1);
  std::vector<Row> rows;
  rows.push_back(cx::bench::RunEcho(in_flight, duration, sample.ByteSizeLong()));

  const bool unary = config.Get("scenarios").find("unary") != std::string::npos;
  const bool batched = config.Get("scenarios").find("batch") != std::string::npos;
  auto dir = std::filesystem::temp_directory_path() / absl::StrCat("cx-bench-", getpid());
  std::filesystem::remove_all(dir);
  if (*config.GetBool("sqlite")) {
    for (auto& r : cx::bench::RunFeedback("SQLite", absl::StrCat("sqlite://", (dir / "feedback.db").string()),
                                          in_flight, batch_in_flight, batch_size, duration, unary, batched)) {
      rows.push_back(std::move(r));
    }
  }
  std::filesystem::remove_all(dir);
  if (!config.Get("mysql-url").empty()) {
    auto url = cx::shared::db::CreateFreshMysqlDatabase(config.Get("mysql-url"), "cx_bench");
    if (!url.ok()) {
      std::cerr << "MariaDB: " << url.status() << "\n";
      return 1;
    }
    for (auto& r : cx::bench::RunFeedback("MariaDB", *url, in_flight, batch_in_flight, batch_size, duration, unary,
                                          batched)) {
      rows.push_back(std::move(r));
    }
  }

  const double echo_rps = rows.front().result.rps();
  std::cout << absl::StrFormat("\nfeedback-bench  %d cores  %s  %ds per scenario\n\n",
                               std::thread::hardware_concurrency(),
                               absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::Now(), absl::UTCTimeZone()),
                               absl::ToInt64Seconds(duration));
  std::cout << "| scenario | backend | in flight | calls/s | rows/s | p50 ms | p99 ms | errors | rows/commit | vs echo |\n"
               "|---|---|---:|---:|---:|---:|---:|---|---:|---:|\n";
  for (const auto& row : rows) {
    const auto& r = row.result;
    std::cout << absl::StrFormat("| %s | %s | %d | %.0f | %.0f | %.2f | %.2f | %s | %s | %.2f |\n", row.scenario,
                                 row.backend, row.in_flight, r.rps(), r.rps() * row.rows_per_call,
                                 r.Percentile(0.50) / 1000, r.Percentile(0.99) / 1000, r.Errors(),
                                 row.rows_per_commit > 0 ? absl::StrFormat("%.1f", row.rows_per_commit) : "-",
                                 echo_rps > 0 ? r.rps() / echo_rps : 0);
  }
  return 0;
}
