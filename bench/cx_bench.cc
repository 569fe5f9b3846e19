// cx-bench: drives the service binaries over real gRPC, each service in its
// own process as it is deployed, next to a bare gRPC echo server run by the
// same ServerRunner (also its own process), in one run on this machine:
//
//   - ingest: durable SubmitFeedback and RecordEvent (N channels x M calls in
//     flight), BatchSubmitFeedback and BatchRecordEvents (100 items), on
//     SQLite and on MariaDB;
//   - metrics-service following both feeds: catch-up, a query mix (score,
//     trend, breakdown, funnel, customer health), and end-to-end freshness
//     (SubmitFeedback acknowledged -> visible in GetScore), idle and under
//     batch ingest.
//
// Every scenario is bounded in time (--seconds) and in calls (--max-calls).
// It prints calls/s, rows/s, p50/p90/p99/max, errors by code, the CPU (cores
// busy) and RSS of the service process and of the load generator, rows per
// commit (from the service's /metrics), storage bytes and CPU time (service,
// MariaDB server and client) per row, and the ratio to the echo baseline
// (run before and after the services; the ratio is to the faster run).
// With --rounds=N the whole ingest sequence (echo, the services on every
// backend, echo again) runs N times, each round on fresh service processes
// and databases, and a summary gives each scenario's median over the rounds
// with the lowest and highest: on a shared machine one run can be twice as
// fast as the next, and the median of interleaved rounds is what a change
// can be judged by. metrics-service runs in the last round.
// It reports; it does not pass or fail. The report goes to stdout at the
// end; while it runs, a line on stderr names each step and when it began.
// It exits with status 1 when a process does not start or the
// metrics-service catch-up stops moving for a minute (or runs over ten).
//
//   cx-bench [--seconds=5] [--channels=1] [--inflight=32] [--batch-size=100]
//            [--batch-inflight=8] [--query-inflight=8] [--freshness-samples=200]
//            [--mysql-url=mysql://user:pw@host:port/db] [--sqlite=true] [--sqlite-memory=false]
//            [--services=feedback,journey,metrics] [--scenarios=unary,batch] [--rounds=1]
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/echo_server.h"
#include "bench/load.h"
#include "bench/service_process.h"
#include "cx/feedback/v1/feedback_service.grpc.pb.h"
#include "cx/journey/v1/journey_service.grpc.pb.h"
#include "cx/metrics/v1/metrics_service.grpc.pb.h"
#include "shared/auth.h"
#include "shared/child_process.h"
#include "shared/config.h"
#include "shared/db/mysql_connection.h"
#include "shared/log.h"
#include "shared/proto_util.h"
#include "shared/server_runner.h"

namespace cx::bench {
namespace {

namespace mv1 = metrics::v1;

// Tenant "bench" ingests and reads; tenant "probe" carries the freshness
// probes (so their count is not mixed with the load); the service token
// reads the feeds for metrics-service.
constexpr char kToken[] = "bench-token";
constexpr char kProbeToken[] = "bench-probe-token";
constexpr char kServiceToken[] = "bench-service-token";

struct Settings {
  absl::Duration duration;
  int channels;
  int in_flight;  // per channel
  int batch_size;
  int batch_in_flight;
  int query_in_flight;
  int freshness_samples;
  int64_t max_calls;
  bool unary;
  bool batched;
  pid_t mariadb_pid = 0;  // the MariaDB server's, for its storage writes; 0: unknown
};

// One line of the report.
struct Row {
  std::string scenario;
  std::string backend;
  int in_flight = 0;
  int rows_per_call = 1;
  LoadResult result;
  double rows_per_commit = 0;  // from the service's group-commit histogram
  // Means over the run's commits, from the service's /metrics: the
  // transaction, and how long its oldest row waited for a writer.
  double commit_ms = 0;
  double queue_wait_ms = 0;
  double service_cores = -1;   // -1: no service process (echo rows have theirs)
  int64_t service_rss_kb = 0;
  double storage_bytes_per_row = -1;  // written to storage by the database's process; -1: unknown
  double database_cores = 0;          // mariadbd's, when its pid is known
  bool batch_baseline = false;
  int round = 1;  // of --rounds
};

// ---- processes ----

// ServiceProcess logs at info: it reads the ports from the start-up lines
// (the services log nothing per request at that level).
std::vector<std::string> CommonArgs(const std::string& db_url, const std::string& tokens_file) {
  return {"--db=" + db_url,     "--tokens-file=" + tokens_file, "--rate-limit-rps=0",
          "--drain-grace-ms=0", "--reflection=false"};
}

std::vector<std::shared_ptr<grpc::Channel>> Connect(int port, int channels) {
  std::vector<std::shared_ptr<grpc::Channel>> out;
  for (int i = 0; i < channels; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
    out.push_back(
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args));
  }
  return out;
}

// Stubs over N channels, used in turn.
template <class Service>
class Stubs {
 public:
  Stubs(int port, int channels) {
    for (auto& c : Connect(port, channels)) stubs_.push_back(Service::NewStub(c));
  }
  typename Service::Stub* Next() { return stubs_[next_++ % stubs_.size()].get(); }

 private:
  std::vector<std::unique_ptr<typename Service::Stub>> stubs_;
  std::atomic<size_t> next_{0};
};

// Starts an async call with `token`; `check` may turn an OK answer into an
// error (e.g. when not every item was accepted).
template <class Req, class Resp, class Method>
void Issue(Method method, const char* token, std::unique_ptr<Req> req, std::function<void(const grpc::Status&)> done,
           std::function<grpc::Status(const Req&, const Resp&)> check = nullptr) {
  struct Call {
    grpc::ClientContext ctx;
    std::unique_ptr<Req> req;
    Resp resp;
  };
  auto* call = new Call;
  call->req = std::move(req);
  call->ctx.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  method(&call->ctx, call->req.get(), &call->resp, [call, done, check](grpc::Status s) {
    if (s.ok() && check) s = check(*call->req, call->resp);
    delete call;
    done(s);
  });
}

// A blocking call with `token`.
template <class Stub, class Req, class Resp>
grpc::Status Call(Stub* stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*), const char* token,
                  const Req& req, Resp* resp) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return (stub->*method)(&ctx, req, resp);
}

// What runs now and since when the run began, on stderr (the report goes
// to stdout at the end): a run that stalls shows where.
void Progress(const std::string& what) {
  static const absl::Time start = absl::Now();
  std::cerr << absl::StrFormat("cx-bench [%7.1f s] %s\n", absl::ToDoubleSeconds(absl::Now() - start), what)
            << std::flush;
}

// The backend of --sqlite-memory: nothing it stores is durable.
constexpr char kSqliteInMemory[] = "SQLite in memory";

std::string UnaryName(const std::string& rpc, const std::string& backend) {
  return backend == kSqliteInMemory ? rpc : absl::StrCat(rpc, " (durable)");
}

// Measures one scenario against `service`: its CPU over the run, its RSS
// at the end, and rows per commit from its /metrics.
Row Measure(const std::string& name, const std::string& backend, const ServiceProcess& service, int in_flight,
            int rows_per_call, const Settings& s, const IssueFn& issue) {
  Progress(absl::StrCat(name, ", ", backend));
  const double commits0 = service.Scrape("cx_write_batch_rows_count");
  const double rows0 = service.Scrape("cx_write_batch_rows_sum");
  const double commit_s0 = service.Scrape("cx_write_commit_seconds_sum");
  const double wait_s0 = service.Scrape("cx_write_queue_wait_seconds_sum");
  const double cpu0 = service.CpuSeconds();
  // SQLite writes from the service's own process; MariaDB from its server's.
  const pid_t storage_pid = backend == "SQLite" ? service.pid() : backend == "MariaDB" ? s.mariadb_pid : 0;
  const int64_t written0 = storage_pid > 0 ? ProcessStorageWriteBytes(storage_pid) : -1;
  const pid_t database_pid = backend == "MariaDB" ? s.mariadb_pid : 0;
  const double database_cpu0 = database_pid > 0 ? ProcessCpuSeconds(database_pid) : 0;
  Row row{name, backend, in_flight, rows_per_call, RunLoad(in_flight, s.duration, issue, s.max_calls)};
  row.service_cores = (service.CpuSeconds() - cpu0) / row.result.seconds;
  if (database_pid > 0) row.database_cores = (ProcessCpuSeconds(database_pid) - database_cpu0) / row.result.seconds;
  row.service_rss_kb = service.RssKb();
  const double rows_done = row.result.rps() * row.result.seconds * rows_per_call;
  if (written0 >= 0 && rows_done > 0) {
    row.storage_bytes_per_row = (ProcessStorageWriteBytes(storage_pid) - written0) / rows_done;
  }
  const double commits = service.Scrape("cx_write_batch_rows_count") - commits0;
  if (commits > 0) {
    row.rows_per_commit = (service.Scrape("cx_write_batch_rows_sum") - rows0) / commits;
    row.commit_ms = (service.Scrape("cx_write_commit_seconds_sum") - commit_s0) * 1000 / commits;
    row.queue_wait_ms = (service.Scrape("cx_write_queue_wait_seconds_sum") - wait_s0) * 1000 / commits;
  }
  return row;
}

// ---- echo ----

// `cx-bench --serve-echo=PORT`: the echo server's own process (PORT 0: one
// the kernel picks, logged like the services' ports).
int ServeEcho(int port) {
  shared::BlockTerminationSignals();
  EchoServiceImpl echo;
  shared::ServerOptions options;
  options.listen = absl::StrCat("127.0.0.1:", port);
  options.drain_grace = absl::ZeroDuration();
  options.reflection = false;
  shared::ServerRunner runner(options);
  runner.AddService(&echo, v1::EchoService::service_full_name());
  if (auto s = runner.Start(); !s.ok()) {
    std::cerr << "echo server: " << s << "\n";
    return 1;
  }
  shared::WaitForTerminationSignal();
  runner.Drain();
  return 0;
}

Row RunEcho(const std::string& self, const std::string& name, int in_flight, int rows_per_call, size_t payload_bytes,
            const Settings& s) {
  Progress(name);
  shared::ChildProcess child(self, {"--serve-echo=0"});  // a port the kernel picks, logged
  const int port = child.Start() ? child.WaitForPort(absl::Seconds(30)) : 0;
  if (port <= 0 || !grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials())
                        ->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30))) {
    std::cerr << "echo server did not start: " << child.output() << "\n";
    std::exit(1);
  }
  Stubs<v1::EchoService> stubs(port, s.channels);
  const std::string payload(payload_bytes, 'x');
  IssueFn issue = [&](std::function<void(const grpc::Status&)> done) {
    auto req = std::make_unique<v1::EchoRequest>();
    req->set_payload(payload);
    auto* async = stubs.Next()->async();
    Issue<v1::EchoRequest, v1::EchoResponse>([async](auto... a) { async->Echo(a...); }, "", std::move(req), done);
  };
  RunLoad(in_flight, absl::Milliseconds(500), issue);  // warm-up
  const double cpu0 = ProcessCpuSeconds(child.pid());
  Row row{name, "-", in_flight, rows_per_call, RunLoad(in_flight, s.duration, issue, s.max_calls)};
  row.service_cores = (ProcessCpuSeconds(child.pid()) - cpu0) / row.result.seconds;
  row.service_rss_kb = ProcessRssKb(child.pid());
  row.batch_baseline = rows_per_call > 1;
  child.Signal(SIGTERM);
  child.Wait(absl::Seconds(10));
  return row;
}

// ---- ingest ----

constexpr int64_t kCustomers = 5000;
// How many of the kCustomers ids have feedback so far: GetCustomerHealth asks
// only for those (a short run may not reach them all).
std::atomic<int64_t> customers_with_feedback{0};

feedback::v1::Feedback SampleFeedback(int64_t i) {
  feedback::v1::Feedback f;
  f.set_customer_id(absl::StrCat("cust-", i % kCustomers));
  const int64_t covered = std::min(i + 1, kCustomers);
  int64_t seen = customers_with_feedback.load();
  while (seen < covered && !customers_with_feedback.compare_exchange_weak(seen, covered)) {
  }
  f.set_kind(feedback::v1::FEEDBACK_KIND_NPS);
  f.set_score(static_cast<int>(i % 11));
  f.set_comment("The delivery was late but support sorted it out quickly.");
  f.set_source(common::v1::SOURCE_SURVEY);
  f.set_channel(i % 3 == 0 ? common::v1::CHANNEL_EMAIL : common::v1::CHANNEL_WEB);
  f.set_touchpoint_id("checkout");
  f.set_journey_stage(common::v1::JOURNEY_STAGE_PURCHASE);
  f.set_locale("en-US");
  return f;
}

journey::v1::Event SampleEvent(int64_t i, const std::string& run) {
  static const char* kTypes[] = {"page_view", "product_view", "cart_add", "order_placed", "support_ticket_opened"};
  journey::v1::Event e;
  e.set_event_id(absl::StrCat(run, "-", i));
  // Web visitors: anonymous ids need no customer record first.
  e.set_anonymous_id(absl::StrCat("visitor-", i % kCustomers));
  e.set_type(kTypes[i % 5]);
  e.set_channel(common::v1::CHANNEL_WEB);
  e.set_touchpoint_id("website");
  e.set_session_id(absl::StrCat("s-", i / 8));
  (*e.mutable_properties())["path"] = "/products/espresso-machine";
  return e;
}

std::string RunId() { return absl::StrCat(getpid(), "-", absl::ToUnixMicros(absl::Now())); }

std::vector<Row> RunFeedback(const std::string& backend, const ServiceProcess& service, const Settings& s) {
  Stubs<feedback::v1::FeedbackService> stubs(service.port(), s.channels);
  std::atomic<int64_t> next_id{0};
  const std::string run = RunId();
  auto item = [&](feedback::v1::SubmitFeedbackRequest* r) {
    int64_t id = next_id++;
    r->set_request_id(absl::StrCat(run, "-", id));
    *r->mutable_feedback() = SampleFeedback(id);
  };
  IssueFn submit = [&](std::function<void(const grpc::Status&)> done) {
    auto req = std::make_unique<feedback::v1::SubmitFeedbackRequest>();
    item(req.get());
    auto* async = stubs.Next()->async();
    Issue<feedback::v1::SubmitFeedbackRequest, feedback::v1::SubmitFeedbackResponse>(
        [async](auto... a) { async->SubmitFeedback(a...); }, kToken, std::move(req), done);
  };
  IssueFn batch = [&](std::function<void(const grpc::Status&)> done) {
    auto req = std::make_unique<feedback::v1::BatchSubmitFeedbackRequest>();
    for (int k = 0; k < s.batch_size; ++k) item(req->add_requests());
    auto* async = stubs.Next()->async();
    Issue<feedback::v1::BatchSubmitFeedbackRequest, feedback::v1::BatchSubmitFeedbackResponse>(
        [async](auto... a) { async->BatchSubmitFeedback(a...); }, kToken, std::move(req), done,
        [](const auto& q, const auto& r) {
          return r.accepted_count() == q.requests_size()
                     ? grpc::Status::OK
                     : grpc::Status(grpc::StatusCode::INTERNAL, "not every item accepted");
        });
  };
  std::vector<Row> rows;
  RunLoad(s.in_flight, absl::Milliseconds(500), submit);  // warm-up
  if (s.unary) {
    rows.push_back(Measure(UnaryName("SubmitFeedback", backend), backend, service, s.channels * s.in_flight, 1, s, submit));
  }
  if (s.batched) {
    rows.push_back(Measure(absl::StrCat("BatchSubmitFeedback x", s.batch_size), backend, service, s.batch_in_flight,
                           s.batch_size, s, batch));
  }
  return rows;
}

std::vector<Row> RunJourney(const std::string& backend, const ServiceProcess& service, const Settings& s) {
  Stubs<journey::v1::JourneyService> stubs(service.port(), s.channels);
  std::atomic<int64_t> next_id{0};
  const std::string run = RunId();
  IssueFn record = [&](std::function<void(const grpc::Status&)> done) {
    auto req = std::make_unique<journey::v1::RecordEventRequest>();
    *req->mutable_event() = SampleEvent(next_id++, run);
    auto* async = stubs.Next()->async();
    Issue<journey::v1::RecordEventRequest, journey::v1::RecordEventResponse>(
        [async](auto... a) { async->RecordEvent(a...); }, kToken, std::move(req), done);
  };
  IssueFn batch = [&](std::function<void(const grpc::Status&)> done) {
    auto req = std::make_unique<journey::v1::BatchRecordEventsRequest>();
    for (int k = 0; k < s.batch_size; ++k) *req->add_events() = SampleEvent(next_id++, run);
    auto* async = stubs.Next()->async();
    Issue<journey::v1::BatchRecordEventsRequest, journey::v1::BatchRecordEventsResponse>(
        [async](auto... a) { async->BatchRecordEvents(a...); }, kToken, std::move(req), done,
        [](const auto& q, const auto& r) {
          return r.accepted_count() == q.events_size()
                     ? grpc::Status::OK
                     : grpc::Status(grpc::StatusCode::INTERNAL, "not every event accepted");
        });
  };
  std::vector<Row> rows;
  RunLoad(s.in_flight, absl::Milliseconds(500), record);  // warm-up
  if (s.unary) {
    rows.push_back(Measure(UnaryName("RecordEvent", backend), backend, service, s.channels * s.in_flight, 1, s, record));
  }
  if (s.batched) {
    rows.push_back(Measure(absl::StrCat("BatchRecordEvents x", s.batch_size), backend, service, s.batch_in_flight,
                           s.batch_size, s, batch));
  }
  return rows;
}

// ---- metrics-service ----

common::v1::TimeRange LastDays(int days) {
  common::v1::TimeRange r;
  const absl::Time now = absl::Now();
  *r.mutable_start_time() = shared::ToProtoTime(now - absl::Hours(24 * days));
  *r.mutable_end_time() = shared::ToProtoTime(now + absl::Hours(1));
  return r;
}

// True when metrics-service has applied everything `feed` holds now.
template <class Service, class Req, class Resp>
bool CaughtUp(typename Service::Stub* stub, grpc::Status (Service::Stub::*list)(grpc::ClientContext*, const Req&, Resp*),
              double cursor) {
  Req req;
  req.set_after_sequence(static_cast<int64_t>(cursor));
  req.set_limit(1);
  Resp resp;
  return Call(stub, list, kServiceToken, req, &resp).ok() && resp.changes_size() == 0;
}

struct MetricsReport {
  std::vector<Row> queries;
  std::vector<Row> freshness;
  std::string catch_up;
};

// Freshness probes: SubmitFeedback on the probe tenant, then GetScore polled
// until the answer is counted. Up to `samples`, within `duration`.
LoadResult ProbeFreshness(feedback::v1::FeedbackService::Stub* feedback, mv1::MetricsService::Stub* metrics,
                          int samples, absl::Duration duration) {
  static std::atomic<int64_t> probe_id{0};
  const std::string run = RunId();
  mv1::GetScoreRequest score;
  score.set_metric(mv1::METRIC_NPS);
  auto seen = [&]() -> int64_t {
    *score.mutable_range() = LastDays(1);
    mv1::GetScoreResponse resp;
    return Call(metrics, &mv1::MetricsService::Stub::GetScore, kProbeToken, score, &resp).ok() ? resp.score().n() : -1;
  };
  LoadResult result;
  const absl::Time begin = absl::Now(), end = begin + duration;
  int64_t before = seen();
  for (int i = 0; i < samples && absl::Now() < end; ++i) {
    feedback::v1::SubmitFeedbackRequest req;
    req.set_request_id(absl::StrCat("probe-", run, "-", probe_id++));
    *req.mutable_feedback() = SampleFeedback(i);
    *req.mutable_feedback()->mutable_occurred_at() = shared::ToProtoTime(absl::Now());
    feedback::v1::SubmitFeedbackResponse resp;
    result.calls++;
    grpc::Status st = Call(feedback, &feedback::v1::FeedbackService::Stub::SubmitFeedback, kProbeToken, req, &resp);
    if (!st.ok()) {
      result.errors++;
      result.errors_by_code[st.error_code()]++;
      continue;
    }
    const absl::Time acked = absl::Now();
    int64_t now_seen = before;
    while ((now_seen = seen()) <= before && absl::Now() - acked < absl::Seconds(10)) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (now_seen <= before) {
      result.errors++;
      result.errors_by_code[grpc::StatusCode::DEADLINE_EXCEEDED]++;
      continue;
    }
    result.latencies_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - acked));
    before = now_seen;
  }
  result.seconds = absl::ToDoubleSeconds(absl::Now() - begin);
  std::sort(result.latencies_us.begin(), result.latencies_us.end());
  return result;
}

MetricsReport RunMetrics(const std::string& binary, const std::filesystem::path& dir, const std::string& tokens_file,
                         const ServiceProcess& feedback, const ServiceProcess& journey, const Settings& s) {
  MetricsReport report;
  auto args = CommonArgs(absl::StrCat("sqlite://", (dir / "metrics.db").string()), tokens_file);
  args.push_back(absl::StrCat("--feedback-endpoint=127.0.0.1:", feedback.port()));
  args.push_back(absl::StrCat("--journey-endpoint=127.0.0.1:", journey.port()));
  ServiceProcess metrics(binary, args, {{"CX_FEED_TOKEN", kServiceToken}});
  const absl::Time t0 = absl::Now();
  if (!metrics.Start("metrics-service")) std::exit(1);

  // Catch-up: until the cursor of each feed reaches its end.
  auto fstub = feedback::v1::FeedbackService::NewStub(Connect(feedback.port(), 1)[0]);
  auto jstub = journey::v1::JourneyService::NewStub(Connect(journey.port(), 1)[0]);
  auto caught_up = [&] {
    return CaughtUp<feedback::v1::FeedbackService>(fstub.get(), &feedback::v1::FeedbackService::Stub::ListChanges,
                                                    metrics.Scrape("cx_feed_cursor{feed=\"feedback\"}")) &&
           CaughtUp<journey::v1::JourneyService>(jstub.get(), &journey::v1::JourneyService::Stub::ListChanges,
                                                 metrics.Scrape("cx_feed_cursor{feed=\"journey\"}"));
  };
  // It ends when both cursors reach the feeds' ends. A catch-up that stops
  // moving for a minute, or has not ended after ten, ends the run: the
  // report would be of a stuck consumer, not of its speed.
  Progress("metrics-service catch-up");
  double applied_before = -1;
  absl::Time moved = absl::Now(), reported = moved;
  while (!caught_up()) {
    const double applied_now = metrics.Scrape("cx_feed_changes_applied_total");
    if (applied_now != applied_before) {
      applied_before = applied_now;
      moved = absl::Now();
    }
    if (absl::Now() - reported > absl::Seconds(10)) {
      reported = absl::Now();
      Progress(absl::StrFormat("metrics-service catch-up: %.0f feed records applied so far", applied_now));
    }
    const bool stalled = absl::Now() - moved > absl::Minutes(1);
    if (stalled || absl::Now() - t0 > absl::Minutes(10)) {
      std::cerr << absl::StrFormat(
                       "cx-bench: metrics-service catch-up is at %.0f feed records (feedback cursor %.0f, journey "
                       "cursor %.0f) and %s; what it printed:\n%s\n",
                       applied_now, metrics.Scrape("cx_feed_cursor{feed=\"feedback\"}"),
                       metrics.Scrape("cx_feed_cursor{feed=\"journey\"}"),
                       stalled ? "has not moved for a minute" : "has not ended within 10 minutes", metrics.output());
      std::exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - t0);
  const double applied = metrics.Scrape("cx_feed_changes_applied_total");
  report.catch_up = absl::StrFormat(
      "metrics-service catch-up (process start included): %.0f feed records (feedback %.0f, journey %.0f) in %.1f s = "
      "%.0f records/s; RSS then %.0f MB\n",
      applied, metrics.Scrape("cx_feed_changes_applied_total{feed=\"feedback\"}"),
      metrics.Scrape("cx_feed_changes_applied_total{feed=\"journey\"}"), seconds, applied / seconds,
      metrics.RssKb() / 1024.0);

  // The query mix: each kind alone, then all of them in turn.
  Stubs<mv1::MetricsService> stubs(metrics.port(), s.channels);
  using Query = std::function<void(mv1::MetricsService::Stub::async_interface*, std::function<void(const grpc::Status&)>)>;
  std::vector<std::pair<std::string, Query>> queries;
  queries.push_back({"GetScore NPS, 30 days", [](auto* async, auto done) {
                       auto req = std::make_unique<mv1::GetScoreRequest>();
                       req->set_metric(mv1::METRIC_NPS);
                       *req->mutable_range() = LastDays(30);
                       Issue<mv1::GetScoreRequest, mv1::GetScoreResponse>([async](auto... a) { async->GetScore(a...); },
                                                                          kToken, std::move(req), done);
                     }});
  queries.push_back({"GetScore NPS, 30 days, channel = web", [](auto* async, auto done) {
                       auto req = std::make_unique<mv1::GetScoreRequest>();
                       req->set_metric(mv1::METRIC_NPS);
                       *req->mutable_range() = LastDays(30);
                       req->mutable_filters()->set_channel(common::v1::CHANNEL_WEB);
                       Issue<mv1::GetScoreRequest, mv1::GetScoreResponse>([async](auto... a) { async->GetScore(a...); },
                                                                          kToken, std::move(req), done);
                     }});
  queries.push_back({"GetTrend NPS by day, 30 days", [](auto* async, auto done) {
                       auto req = std::make_unique<mv1::GetTrendRequest>();
                       req->set_metric(mv1::METRIC_NPS);
                       req->set_interval(mv1::INTERVAL_DAY);
                       *req->mutable_range() = LastDays(30);
                       Issue<mv1::GetTrendRequest, mv1::GetTrendResponse>([async](auto... a) { async->GetTrend(a...); },
                                                                          kToken, std::move(req), done);
                     }});
  queries.push_back({"GetBreakdown NPS by channel, 30 days", [](auto* async, auto done) {
                       auto req = std::make_unique<mv1::GetBreakdownRequest>();
                       req->set_metric(mv1::METRIC_NPS);
                       req->set_dimension(mv1::DIMENSION_CHANNEL);
                       *req->mutable_range() = LastDays(30);
                       Issue<mv1::GetBreakdownRequest, mv1::GetBreakdownResponse>(
                           [async](auto... a) { async->GetBreakdown(a...); }, kToken, std::move(req), done);
                     }});
  queries.push_back({"GetFunnel 4 steps, 30 days", [](auto* async, auto done) {
                       auto req = std::make_unique<mv1::GetFunnelRequest>();
                       for (const char* type : {"page_view", "product_view", "cart_add", "order_placed"}) {
                         req->add_steps()->set_event_type(type);
                       }
                       req->mutable_conversion_window()->set_seconds(7 * 86400);
                       *req->mutable_range() = LastDays(30);
                       Issue<mv1::GetFunnelRequest, mv1::GetFunnelResponse>(
                           [async](auto... a) { async->GetFunnel(a...); }, kToken, std::move(req), done);
                     }});
  queries.push_back({"GetCustomerHealth", [](auto* async, auto done) {
                       static std::atomic<int64_t> next{0};
                       auto req = std::make_unique<mv1::GetCustomerHealthRequest>();
                       req->set_customer_id(absl::StrCat("cust-", next++ % std::max<int64_t>(1, customers_with_feedback)));
                       Issue<mv1::GetCustomerHealthRequest, mv1::GetCustomerHealthResponse>(
                           [async](auto... a) { async->GetCustomerHealth(a...); }, kToken, std::move(req), done);
                     }});
  auto measure_query = [&](const std::string& name, const std::function<void(std::function<void(const grpc::Status&)>)>& issue) {
    RunLoad(s.query_in_flight, absl::Milliseconds(200), issue);  // warm-up
    report.queries.push_back(Measure(name, "SQLite", metrics, s.query_in_flight, 1, s, issue));
  };
  for (const auto& [name, q] : queries) {
    measure_query(name, [&stubs, q = q](auto done) { q(stubs.Next()->async(), done); });
  }
  std::atomic<size_t> turn{0};
  measure_query("query mix (the six above in turn)", [&](auto done) {
    queries[turn++ % queries.size()].second(stubs.Next()->async(), done);
  });

  // Freshness, idle and under batch ingest on the bench tenant.
  auto fprobe = feedback::v1::FeedbackService::NewStub(Connect(feedback.port(), 1)[0]);
  auto mprobe = mv1::MetricsService::NewStub(Connect(metrics.port(), 1)[0]);
  auto freshness = [&](const std::string& name, int in_flight, const LoadResult& r) {
    Row row{name, "SQLite", in_flight, 1, r};
    row.service_cores = -1;
    row.service_rss_kb = metrics.RssKb();
    report.freshness.push_back(std::move(row));
  };
  Progress("freshness, idle");
  freshness("idle", 0, ProbeFreshness(fprobe.get(), mprobe.get(), s.freshness_samples, s.duration));
  {
    Stubs<feedback::v1::FeedbackService> load_stubs(feedback.port(), 1);
    std::atomic<int64_t> next_id{0};
    const std::string run = RunId();
    IssueFn batch = [&](std::function<void(const grpc::Status&)> done) {
      auto req = std::make_unique<feedback::v1::BatchSubmitFeedbackRequest>();
      for (int k = 0; k < s.batch_size; ++k) {
        auto* r = req->add_requests();
        const int64_t id = next_id++;
        r->set_request_id(absl::StrCat("fresh-load-", run, "-", id));
        *r->mutable_feedback() = SampleFeedback(id);
      }
      auto* async = load_stubs.Next()->async();
      Issue<feedback::v1::BatchSubmitFeedbackRequest, feedback::v1::BatchSubmitFeedbackResponse>(
          [async](auto... a) { async->BatchSubmitFeedback(a...); }, kToken, std::move(req), done);
    };
    const int load_in_flight = std::max(1, s.batch_in_flight / 2);
    LoadResult load;
    std::thread background([&] { load = RunLoad(load_in_flight, s.duration + absl::Seconds(1), batch, s.max_calls); });
    Progress("freshness under batch ingest");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    LoadResult probes = ProbeFreshness(fprobe.get(), mprobe.get(), s.freshness_samples, s.duration);
    background.join();
    freshness(absl::StrFormat("under BatchSubmitFeedback x%d load, %d in flight (%.0f rows/s meanwhile)", s.batch_size,
                              load_in_flight, load.rps() * s.batch_size),
              load_in_flight, probes);
  }
  metrics.Stop();
  return report;
}

// ---- report ----

std::string Ms(double us) { return absl::StrFormat("%.2f", us / 1000); }

// The faster of the echo runs of `rows` (before and after the services),
// unary or batch.
double EchoBaseline(const std::vector<Row>& rows, bool batch) {
  double baseline = 0;
  for (const auto& row : rows) {
    if (row.backend == "-" && row.batch_baseline == batch) baseline = std::max(baseline, row.result.rps());
  }
  return baseline;
}

// CPU time of service, database server and client together per row: with
// every core busy, rows/s can reach at most cores / (CPU us/row) million.
// -1 when no row was stored.
double CpuUsPerRow(const Row& row) {
  const double rows_per_s = row.result.rps() * row.rows_per_call;
  const double cores = std::max(row.service_cores, 0.0) + row.database_cores + row.result.cores();
  return rows_per_s > 0 ? cores * 1e6 / rows_per_s : -1;
}

void PrintIngest(const std::vector<Row>& rows) {
  const double echo_rps = EchoBaseline(rows, false), batch_echo_rps = EchoBaseline(rows, true);
  std::cout << "| scenario | backend | in flight | calls/s | rows/s | p50 ms | p90 ms | p99 ms | max ms | errors | "
               "service cores | service RSS MB | client cores | rows/commit | storage KB/row | commit ms | "
               "queue wait ms | CPU us/row | vs echo |\n"
               "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& row : rows) {
    const auto& r = row.result;
    const double baseline = row.rows_per_call > 1 ? batch_echo_rps : echo_rps;
    const double cpu = CpuUsPerRow(row);
    const std::string cpu_per_row = cpu >= 0 ? absl::StrFormat("%.1f", cpu) : "-";
    std::cout << absl::StrFormat(
        "| %s | %s | %d | %.0f | %.0f | %s | %s | %s | %s | %s | %.2f | %.0f | %.2f | %s | %s | %s | %s | %s | %.2f |\n",
        row.scenario, row.backend, row.in_flight, r.rps(), r.rps() * row.rows_per_call, Ms(r.Percentile(0.50)),
        Ms(r.Percentile(0.90)), Ms(r.Percentile(0.99)), Ms(r.Max()), r.Errors(), row.service_cores,
        row.service_rss_kb / 1024.0, r.cores(),
        row.rows_per_commit > 0 ? absl::StrFormat("%.1f", row.rows_per_commit) : "-",
        row.storage_bytes_per_row >= 0 ? absl::StrFormat("%.1f", row.storage_bytes_per_row / 1024) : "-",
        row.rows_per_commit > 0 ? absl::StrFormat("%.2f", row.commit_ms) : "-",
        row.rows_per_commit > 0 ? absl::StrFormat("%.2f", row.queue_wait_ms) : "-", cpu_per_row,
        baseline > 0 ? r.rps() / baseline : 0);
  }
}

// Each scenario's median over the rounds, with the lowest and highest;
// "vs echo" is taken in each round against that round's faster echo run.
void PrintSummary(const std::vector<Row>& rows, int rounds) {
  std::vector<std::vector<Row>> by_round(rounds);
  for (const auto& row : rows) by_round[row.round - 1].push_back(row);
  struct Figures {
    std::vector<double> calls, rows, p99_ms, cpu, ratio;
  };
  std::vector<std::pair<std::string, std::string>> order;  // (scenario, backend), first-seen order
  std::map<std::pair<std::string, std::string>, Figures> figures;
  for (const auto& round : by_round) {
    const double echo_rps = EchoBaseline(round, false), batch_echo_rps = EchoBaseline(round, true);
    for (const auto& row : round) {
      const auto key = std::make_pair(row.scenario, row.backend);
      if (!figures.count(key)) order.push_back(key);
      Figures& f = figures[key];
      const double baseline = row.rows_per_call > 1 ? batch_echo_rps : echo_rps;
      f.calls.push_back(row.result.rps());
      f.rows.push_back(row.result.rps() * row.rows_per_call);
      f.p99_ms.push_back(row.result.Percentile(0.99) / 1000);
      f.cpu.push_back(CpuUsPerRow(row));
      f.ratio.push_back(baseline > 0 ? row.result.rps() / baseline : 0);
    }
  }
  // "median (lowest-highest)" of the known values (a negative one is
  // unknown); the median of an even count is the mean of the middle two.
  auto spread = [](std::vector<double> v, const char* format) -> std::string {
    v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return x < 0; }), v.end());
    if (v.empty()) return "-";
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    const double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return absl::StrCat(absl::StrFormat(format, median), " (", absl::StrFormat(format, v.front()), "-",
                        absl::StrFormat(format, v.back()), ")");
  };
  std::cout << "| scenario | backend | rounds | calls/s | rows/s | p99 ms | CPU us/row | vs echo |\n"
               "|---|---|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& key : order) {
    const Figures& f = figures[key];
    std::cout << absl::StrFormat("| %s | %s | %d | %s | %s | %s | %s | %s |\n", key.first, key.second, f.calls.size(),
                                 spread(f.calls, "%.0f"), spread(f.rows, "%.0f"), spread(f.p99_ms, "%.2f"),
                                 spread(f.cpu, "%.1f"), spread(f.ratio, "%.2f"));
  }
}

void PrintMetrics(const MetricsReport& m) {
  std::cout << "\n" << m.catch_up << "\n";
  std::cout << "| query | in flight | calls/s | p50 ms | p90 ms | p99 ms | max ms | errors | service cores | "
               "service RSS MB | client cores |\n|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|\n";
  for (const auto& row : m.queries) {
    const auto& r = row.result;
    std::cout << absl::StrFormat("| %s | %d | %.0f | %s | %s | %s | %s | %s | %.2f | %.0f | %.2f |\n", row.scenario,
                                 row.in_flight, r.rps(), Ms(r.Percentile(0.50)), Ms(r.Percentile(0.90)),
                                 Ms(r.Percentile(0.99)), Ms(r.Max()), r.Errors(), row.service_cores,
                                 row.service_rss_kb / 1024.0, r.cores());
  }
  std::cout << "\n| freshness: SubmitFeedback acknowledged -> counted by GetScore | samples | p50 ms | p90 ms | p99 ms | "
               "max ms | errors | metrics-service RSS MB |\n|---|---:|---:|---:|---:|---:|---|---:|\n";
  for (const auto& row : m.freshness) {
    const auto& r = row.result;
    std::cout << absl::StrFormat("| %s | %d | %s | %s | %s | %s | %s | %.0f |\n", row.scenario, r.latencies_us.size(),
                                 Ms(r.Percentile(0.50)), Ms(r.Percentile(0.90)), Ms(r.Percentile(0.99)), Ms(r.Max()),
                                 r.Errors(), row.service_rss_kb / 1024.0);
  }
}

}  // namespace
}  // namespace cx::bench

int main(int argc, char** argv) {
  using namespace cx::bench;  // NOLINT: the bench's own names
  for (int i = 1; i < argc; ++i) {
    if (absl::StartsWith(argv[i], "--serve-echo=")) return ServeEcho(std::atoi(argv[i] + 13));
  }
  std::vector<cx::shared::OptionSpec> specs = {
      {"seconds", "CX_BENCH_SECONDS", "5", "measured seconds per scenario"},
      {"max-calls", "CX_BENCH_MAX_CALLS", "2000000", "most calls per scenario"},
      {"channels", "CX_BENCH_CHANNELS", "1", "gRPC channels (connections) per scenario"},
      {"inflight", "CX_BENCH_INFLIGHT", "32", "unary calls in flight per channel"},
      {"batch-size", "CX_BENCH_BATCH_SIZE", "100", "items per batch call"},
      {"batch-inflight", "CX_BENCH_BATCH_INFLIGHT", "8", "batch calls in flight"},
      {"query-inflight", "CX_BENCH_QUERY_INFLIGHT", "8", "metrics queries in flight"},
      {"freshness-samples", "CX_BENCH_FRESHNESS_SAMPLES", "200", "most freshness probes per scenario"},
      {"mysql-url", "CX_BENCH_MYSQL_URL", "", "MariaDB/MySQL server to measure (fresh databases are made on it, and dropped at the end)"},
      {"mysql-pid-file", "CX_BENCH_MYSQL_PID_FILE", "",
       "that server's pid file, to report its storage writes per row (scripts/mariadb.sh: $CX_MARIADB_DIR/mysqld.pid)"},
      {"scenarios", "CX_BENCH_SCENARIOS", "unary,batch", "which of unary,batch to run"},
      {"services", "CX_BENCH_SERVICES", "feedback,journey,metrics",
       "which of feedback,journey,metrics to measure (metrics follows the SQLite services, or the MariaDB ones "
       "with --sqlite=false)"},
      {"sqlite", "CX_BENCH_SQLITE", "true", "measure the SQLite backend"},
      {"rounds", "CX_BENCH_ROUNDS", "1",
       "times the ingest sequence runs (echo, the services, echo again), each on fresh processes and databases; "
       "above 1, a summary gives each scenario's median, lowest and highest"},
      {"sqlite-memory", "CX_BENCH_SQLITE_MEMORY", "false",
       "also measure the services on an in-memory SQLite database (not durable: what they do without any storage "
       "I/O, the ceiling of everything but the disk)"},
  };
  auto config = cx::shared::Config::ParseOrExit("cx-bench", specs, argc, argv);
  cx::shared::InitLogging("cx-bench", cx::shared::LogLevel::kWarning);
  cx::shared::InitProcessDefaults();
  Settings s;
  s.duration = absl::Seconds(*config.GetInt("seconds"));
  s.max_calls = *config.GetInt("max-calls");
  s.channels = std::max<int>(1, static_cast<int>(*config.GetInt("channels")));
  s.in_flight = static_cast<int>(*config.GetInt("inflight"));
  s.batch_size = static_cast<int>(*config.GetInt("batch-size"));
  s.batch_in_flight = static_cast<int>(*config.GetInt("batch-inflight"));
  s.query_in_flight = static_cast<int>(*config.GetInt("query-inflight"));
  s.freshness_samples = static_cast<int>(*config.GetInt("freshness-samples"));
  s.unary = config.Get("scenarios").find("unary") != std::string::npos;
  s.batched = config.Get("scenarios").find("batch") != std::string::npos;
  const int rounds = std::max<int>(1, static_cast<int>(*config.GetInt("rounds")));
  if (!config.Get("mysql-pid-file").empty()) {
    std::ifstream pid_file(config.Get("mysql-pid-file"));
    if (!(pid_file >> s.mariadb_pid)) s.mariadb_pid = 0;
  }
  const bool feedback = config.Get("services").find("feedback") != std::string::npos;
  const bool journey = config.Get("services").find("journey") != std::string::npos;
  bool metrics = config.Get("services").find("metrics") != std::string::npos;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();

  auto dir = std::filesystem::temp_directory_path() / absl::StrCat("cx-bench-", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string tokens_file = (dir / "tokens").string();
  std::ofstream(tokens_file) << cx::shared::Sha256Hex(kToken) << " bench ingest,read\n"
                             << cx::shared::Sha256Hex(kProbeToken) << " probe ingest,read\n"
                             << cx::shared::Sha256Hex(kServiceToken) << " * service\n";

  // The echo payloads: one SubmitFeedbackRequest, and one BatchRecordEvents
  // request (the batch baseline, with the batch scenarios' calls in flight).
  cx::feedback::v1::SubmitFeedbackRequest sample;
  sample.set_request_id("12345-1700000000000000-123456");
  *sample.mutable_feedback() = SampleFeedback(1);
  cx::journey::v1::BatchRecordEventsRequest batch_sample;
  for (int i = 0; i < s.batch_size; ++i) *batch_sample.add_events() = SampleEvent(i, "12345-1700000000000000");
  std::vector<Row> rows;
  int round = 1;
  auto add = [&](Row row) {
    row.round = round;
    rows.push_back(std::move(row));
  };
  // The echo baselines run before the services and again after them: on a
  // shared machine one echo run can be twice as fast as the next, and the
  // ratios are taken against the faster run.
  auto run_echo = [&](const std::string& suffix) {
    add(RunEcho(self, "echo (baseline)" + suffix, s.channels * s.in_flight, 1, sample.ByteSizeLong(), s));
    add(RunEcho(self, absl::StrCat("echo, ", s.batch_size, "-event payload (batch baseline)", suffix),
                s.batch_in_flight, s.batch_size, batch_sample.ByteSizeLong(), s));
  };

  std::optional<MetricsReport> metrics_report;
  auto run_backend = [&](const std::string& backend, const std::function<std::string(const std::string&)>& url) {
    Progress(absl::StrCat("starting feedback-service and journey-service on ", backend));
    ServiceProcess f(CX_FEEDBACK_SERVICE_BINARY, CommonArgs(url("feedback"), tokens_file));
    ServiceProcess j(CX_JOURNEY_SERVICE_BINARY, CommonArgs(url("journey"), tokens_file));
    if (!f.Start("feedback-service") || !j.Start("journey-service")) std::exit(1);
    if (feedback) {
      for (auto& r : RunFeedback(backend, f, s)) add(std::move(r));
    }
    if (journey) {
      for (auto& r : RunJourney(backend, j, s)) add(std::move(r));
    }
    if (metrics && round == rounds) {
      metrics_report = RunMetrics(CX_METRICS_SERVICE_BINARY, dir, tokens_file, f, j, s);
      metrics = false;
    }
    Progress(absl::StrCat("stopping feedback-service and journey-service on ", backend));
    f.Stop();
    j.Stop();
  };
  for (; round <= rounds; ++round) {
    // Each round's databases are fresh.
    const auto round_dir = dir / absl::StrCat("round-", round);
    std::filesystem::create_directories(round_dir);
    run_echo("");
    if (*config.GetBool("sqlite")) {
      run_backend("SQLite",
                  [&](const std::string& name) { return absl::StrCat("sqlite://", (round_dir / name).string(), ".db"); });
    }
    if (*config.GetBool("sqlite-memory")) {
      run_backend(kSqliteInMemory, [](const std::string&) { return std::string("sqlite::memory:"); });
    }
    if (!config.Get("mysql-url").empty()) {
      std::vector<std::string> databases;  // dropped once the services have stopped, as the files are removed
      run_backend("MariaDB", [&](const std::string& name) {
        auto url = cx::shared::db::CreateFreshMysqlDatabase(config.Get("mysql-url"), absl::StrCat("cx_bench_", name));
        if (!url.ok()) {
          std::cerr << "MariaDB: " << url.status() << "\n";
          std::exit(1);
        }
        databases.push_back(*url);
        return *url;
      });
      for (const std::string& url : databases) {
        if (absl::Status s = cx::shared::db::DropMysqlDatabase(url); !s.ok()) std::cerr << "MariaDB: " << s << "\n";
      }
    }
    run_echo(", again after the services");
    std::filesystem::remove_all(round_dir);
  }
  std::filesystem::remove_all(dir);

  std::cout << absl::StrFormat(
      "\ncx-bench  %d cores  %s  %ds per scenario (at most %d calls), %d channel(s) x %d unary calls in flight, "
      "%d batch calls of %d items in flight, %d queries in flight\n\n",
      std::thread::hardware_concurrency(), absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::Now(), absl::UTCTimeZone()),
      absl::ToInt64Seconds(s.duration), s.max_calls, s.channels, s.in_flight, s.batch_in_flight, s.batch_size,
      s.query_in_flight);
  std::cout << "Each service (and the echo server) runs in its own process; service cores and RSS are that "
               "process's, client cores the load generator's.\n\n";
  if (rounds == 1) {
    PrintIngest(rows);
  } else {
    std::cout << "Median of " << rounds << " rounds (lowest-highest):\n\n";
    PrintSummary(rows, rounds);
    for (int r = 1; r <= rounds; ++r) {
      std::vector<Row> of_round;
      for (const auto& row : rows) {
        if (row.round == r) of_round.push_back(row);
      }
      std::cout << "\nRound " << r << " of " << rounds << ":\n\n";
      PrintIngest(of_round);
    }
  }
  if (metrics_report) PrintMetrics(*metrics_report);
  return 0;
}
