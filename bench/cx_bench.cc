// cx-bench: the write paths of the services over real gRPC, next to a bare
// gRPC echo server run by the same ServerRunner, in one run on this machine:
// durable SubmitFeedback and RecordEvent (N in flight), BatchSubmitFeedback
// and BatchRecordEvents (100 items), on SQLite and on MariaDB. Prints RPS,
// rows/s, p50/p99, rows per commit and the ratio to echo. It reports; it
// does not pass or fail.
//
//   cx-bench [--seconds=5] [--inflight=32] [--batch-size=100]
//            [--batch-inflight=8] [--mysql-url=mysql://user:pw@host:port/db]
//            [--services=feedback,journey] [--scenarios=unary,batch] [--sqlite=true]
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
#include "journey-service/journey_server.h"
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

// `rows_per_call` > 1 marks the batch baseline (its payload carries that many rows).
Row RunEcho(const std::string& name, int in_flight, int rows_per_call, absl::Duration duration, size_t payload_bytes) {
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
  Row row{name, "-", in_flight, rows_per_call, RunLoad(in_flight, duration, issue)};
  runner.Drain();
  return row;
}

// One measured scenario: calls of `rows_per_call` rows, `in_flight` at a time.
struct Scenario {
  std::string name;
  int in_flight;
  int rows_per_call;
  IssueFn issue;
};

shared::ServiceOptions BenchServiceOptions(const std::string& db_url) {
  shared::ServiceOptions options;
  options.db_url = db_url;
  options.tokens = *shared::TokenStore::FromText(absl::StrCat(shared::Sha256Hex(kToken), " bench ingest\n"));
  options.server.drain_grace = absl::ZeroDuration();
  return options;
}

// Warms up with the first scenario, then measures each, reading the
// service's own group-commit histogram around it.
std::vector<Row> MeasureScenarios(const std::string& backend, shared::ServiceMetrics& metrics,
                                  const std::vector<Scenario>& scenarios, absl::Duration duration) {
  std::vector<Row> rows;
  if (scenarios.empty()) return rows;
  RunLoad(scenarios.front().in_flight, absl::Milliseconds(500), scenarios.front().issue);
  for (const auto& sc : scenarios) {
    uint64_t commits0, commits1;
    double rows0, rows1;
    metrics.WriteBatchTotals(&commits0, &rows0);
    Row row{sc.name, backend, sc.in_flight, sc.rows_per_call, RunLoad(sc.in_flight, duration, sc.issue)};
    metrics.WriteBatchTotals(&commits1, &rows1);
    row.rows_per_commit = commits1 > commits0 ? (rows1 - rows0) / (commits1 - commits0) : 0;
    rows.push_back(std::move(row));
  }
  return rows;
}

// Starts an async call on `stub` with the bench token; `check` may turn an
// OK answer into an error (e.g. when not every item was accepted).
template <class Req, class Resp, class Method>
void Issue(Method method, std::unique_ptr<Req> req, std::function<void(const grpc::Status&)> done,
           std::function<grpc::Status(const Req&, const Resp&)> check = nullptr) {
  struct Call {
    grpc::ClientContext ctx;
    std::unique_ptr<Req> req;
    Resp resp;
  };
  auto* call = new Call;
  call->req = std::move(req);
  call->ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
  method(&call->ctx, call->req.get(), &call->resp, [call, done, check](grpc::Status s) {
    if (s.ok() && check) s = check(*call->req, call->resp);
    delete call;
    done(s);
  });
}

struct Options {
  int in_flight;
  int batch_in_flight;
  int batch_size;
  absl::Duration duration;
  bool unary;
  bool batched;
};

std::vector<Row> RunFeedback(const std::string& backend, const std::string& db_url, const Options& o) {
  auto server = feedback::FeedbackServer::Start(BenchServiceOptions(db_url));
  if (!server.ok()) {
    std::cerr << backend << ": " << server.status() << "\n";
    std::exit(1);
  }
  auto stub = feedback::v1::FeedbackService::NewStub(Connect((*server)->port()));
  std::atomic<int64_t> next_id{0};
  const std::string run = absl::StrCat(getpid(), "-", absl::ToUnixMicros(absl::Now()));
  auto item = [&](feedback::v1::SubmitFeedbackRequest* r) {
    int64_t id = next_id++;
    r->set_request_id(absl::StrCat(run, "-", id));
    *r->mutable_feedback() = SampleFeedback(id);
  };
  auto* async = stub->async();
  IssueFn submit = [&](std::function<void(const grpc::Status&)> done) {
    auto req = std::make_unique<feedback::v1::SubmitFeedbackRequest>();
    item(req.get());
    Issue<feedback::v1::SubmitFeedbackRequest, feedback::v1::SubmitFeedbackResponse>(
        [async](auto... a) { async->SubmitFeedback(a...); }, std::move(req), done);
  };
  IssueFn batch = [&](std::function<void(const grpc::Status&)> done) {
    auto req = std::make_unique<feedback::v1::BatchSubmitFeedbackRequest>();
    for (int k = 0; k < o.batch_size; ++k) item(req->add_requests());
    Issue<feedback::v1::BatchSubmitFeedbackRequest, feedback::v1::BatchSubmitFeedbackResponse>(
        [async](auto... a) { async->BatchSubmitFeedback(a...); }, std::move(req), done,
        [](const auto& q, const auto& r) {
          return r.accepted_count() == q.requests_size()
                     ? grpc::Status::OK
                     : grpc::Status(grpc::StatusCode::INTERNAL, "not every item accepted");
        });
  };
  std::vector<Scenario> scenarios;
  if (o.unary) scenarios.push_back({"SubmitFeedback (durable)", o.in_flight, 1, submit});
  if (o.batched) scenarios.push_back({absl::StrCat("BatchSubmitFeedback x", o.batch_size), o.batch_in_flight, o.batch_size, batch});
  auto rows = MeasureScenarios(backend, (*server)->metrics(), scenarios, o.duration);
  (*server)->Shutdown();
  return rows;
}

journey::v1::Event SampleEvent(int64_t i, const std::string& run) {
  static const char* kTypes[] = {"page_view", "product_view", "cart_add", "order_placed", "support_ticket_opened"};
  journey::v1::Event e;
  e.set_event_id(absl::StrCat(run, "-", i));
  // Web visitors: anonymous ids need no customer record first.
  e.set_anonymous_id(absl::StrCat("visitor-", i % 5000));
  e.set_type(kTypes[i % 5]);
  e.set_channel(common::v1::CHANNEL_WEB);
  e.set_touchpoint_id("website");
  e.set_session_id(absl::StrCat("s-", i / 8));
  (*e.mutable_properties())["path"] = "/products/espresso-machine";
  return e;
}

std::vector<Row> RunJourney(const std::string& backend, const std::string& db_url, const Options& o) {
  auto server = journey::JourneyServer::Start(BenchServiceOptions(db_url));
  if (!server.ok()) {
    std::cerr << backend << ": " << server.status() << "\n";
    std::exit(1);
  }
  auto stub = journey::v1::JourneyService::NewStub(Connect((*server)->port()));
  std::atomic<int64_t> next_id{0};
  const std::string run = absl::StrCat(getpid(), "-", absl::ToUnixMicros(absl::Now()));
  auto* async = stub->async();
  IssueFn record = [&](std::function<void(const grpc::Status&)> done) {
    auto req = std::make_unique<journey::v1::RecordEventRequest>();
    *req->mutable_event() = SampleEvent(next_id++, run);
    Issue<journey::v1::RecordEventRequest, journey::v1::RecordEventResponse>(
        [async](auto... a) { async->RecordEvent(a...); }, std::move(req), done);
  };
  IssueFn batch = [&](std::function<void(const grpc::Status&)> done) {
    auto req = std::make_unique<journey::v1::BatchRecordEventsRequest>();
    for (int k = 0; k < o.batch_size; ++k) *req->add_events() = SampleEvent(next_id++, run);
    Issue<journey::v1::BatchRecordEventsRequest, journey::v1::BatchRecordEventsResponse>(
        [async](auto... a) { async->BatchRecordEvents(a...); }, std::move(req), done,
        [](const auto& q, const auto& r) {
          return r.accepted_count() == q.events_size()
                     ? grpc::Status::OK
                     : grpc::Status(grpc::StatusCode::INTERNAL, "not every event accepted");
        });
  };
  std::vector<Scenario> scenarios;
  if (o.unary) scenarios.push_back({"RecordEvent (durable)", o.in_flight, 1, record});
  if (o.batched) scenarios.push_back({absl::StrCat("BatchRecordEvents x", o.batch_size), o.batch_in_flight, o.batch_size, batch});
  auto rows = MeasureScenarios(backend, (*server)->metrics(), scenarios, o.duration);
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
      {"services", "CX_BENCH_SERVICES", "feedback,journey", "which of feedback,journey to measure"},
      {"sqlite", "CX_BENCH_SQLITE", "true", "measure the SQLite backend"},
  };
  auto config = cx::shared::Config::ParseOrExit("cx-bench", specs, argc, argv);
  cx::shared::InitLogging("cx-bench", cx::shared::LogLevel::kWarning);
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
  rows.push_back(cx::bench::RunEcho("echo (baseline)", in_flight, 1, duration, sample.ByteSizeLong()));
  // The batch baseline: the payload of one BatchRecordEvents request, with
  // the batch scenarios' calls in flight. Batch rows compare to it.
  cx::journey::v1::BatchRecordEventsRequest batch_sample;
  for (int i = 0; i < batch_size; ++i) *batch_sample.add_events() = cx::bench::SampleEvent(i, "12345-1700000000000000");
  rows.push_back(cx::bench::RunEcho(absl::StrCat("echo, ", batch_size, "-event payload (batch baseline)"),
                                    batch_in_flight, batch_size, duration, batch_sample.ByteSizeLong()));

  cx::bench::Options o{in_flight, batch_in_flight, batch_size, duration,
                       config.Get("scenarios").find("unary") != std::string::npos,
                       config.Get("scenarios").find("batch") != std::string::npos};
  const bool feedback = config.Get("services").find("feedback") != std::string::npos;
  const bool journey = config.Get("services").find("journey") != std::string::npos;
  auto run_backend = [&](const std::string& backend, const std::function<std::string(const std::string&)>& url) {
    if (feedback) {
      for (auto& r : cx::bench::RunFeedback(backend, url("feedback"), o)) rows.push_back(std::move(r));
    }
    if (journey) {
      for (auto& r : cx::bench::RunJourney(backend, url("journey"), o)) rows.push_back(std::move(r));
    }
  };
  auto dir = std::filesystem::temp_directory_path() / absl::StrCat("cx-bench-", getpid());
  std::filesystem::remove_all(dir);
  if (*config.GetBool("sqlite")) {
    run_backend("SQLite", [&](const std::string& name) { return absl::StrCat("sqlite://", (dir / name).string(), ".db"); });
  }
  std::filesystem::remove_all(dir);
  if (!config.Get("mysql-url").empty()) {
    run_backend("MariaDB", [&](const std::string& name) {
      auto url = cx::shared::db::CreateFreshMysqlDatabase(config.Get("mysql-url"), absl::StrCat("cx_bench_", name));
      if (!url.ok()) {
        std::cerr << "MariaDB: " << url.status() << "\n";
        std::exit(1);
      }
      return *url;
    });
  }

  const double echo_rps = rows[0].result.rps();
  const double batch_echo_rps = rows[1].result.rps();
  std::cout << absl::StrFormat("\ncx-bench  %d cores  %s  %ds per scenario\n\n",
                               std::thread::hardware_concurrency(),
                               absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::Now(), absl::UTCTimeZone()),
                               absl::ToInt64Seconds(duration));
  std::cout << "CPU (cores busy) and RSS are the bench process's: client and service run in it together.\n\n";
  std::cout << "| scenario | backend | in flight | calls/s | rows/s | p50 ms | p90 ms | p99 ms | max ms | errors | "
               "cpu cores | rss MB | rows/commit | vs echo |\n"
               "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n";
  for (const auto& row : rows) {
    const auto& r = row.result;
    std::cout << absl::StrFormat("| %s | %s | %d | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %s | %.2f | %.0f | %s | %.2f |\n",
                                 row.scenario, row.backend, row.in_flight, r.rps(), r.rps() * row.rows_per_call,
                                 r.Percentile(0.50) / 1000, r.Percentile(0.90) / 1000, r.Percentile(0.99) / 1000,
                                 r.Max() / 1000, r.Errors(), r.cores(), r.rss_kb / 1024.0,
                                 row.rows_per_commit > 0 ? absl::StrFormat("%.1f", row.rows_per_commit) : "-",
                                 row.rows_per_call > 1 ? (batch_echo_rps > 0 ? r.rps() / batch_echo_rps : 0)
                                                       : (echo_rps > 0 ? r.rps() / echo_rps : 0));
  }
  return 0;
}
