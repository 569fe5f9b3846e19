// metrics-bench: what metrics-service costs and buys, measured in one run.
//   1. Cold load: N synthetic feedback records (default 10 million; skewed
//      channels, sources, touchpoints, stages, customer segments, tags; 90
//      days, in roughly time order) go through FeedApplier in feed batches of
//      1000 into the database, as the consumer would apply them: records/s.
//   2. Start: metrics-service on that database (index rebuilt from cells).
//   3. Queries over gRPC, one at a time: GetScore and GetTrend p50/p99, next
//      to the same aggregate as SQL over the raw rows (metrics_facts, indexed
//      by tenant, metric, hour) on the same backend.
//   4. Catch-up over gRPC: a feedback-service holding M records and a fresh
//      metrics-service following its feed: records/s until all are counted.
//   5. Freshness: SubmitFeedback acknowledged -> visible in GetScore (polled
//      every 0.5 ms), p50/p99/max over S samples.
// It prints figures; it never passes or fails on a time.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/service_process.h"
#include "feedback-service/feedback_server.h"
#include "metrics-service/feed_applier.h"
#include "metrics-service/metrics_server.h"
#include "metrics-service/sql_metrics_repository.h"
#include "shared/config.h"
#include "shared/db/sql.h"
#include "shared/proto_util.h"

namespace cx::bench {
namespace {

namespace mv1 = metrics::v1;
constexpr char kToken[] = "bench-admin-token";
constexpr char kServiceToken[] = "bench-service-token";
constexpr char kTenant[] = "bench";
constexpr int64_t kDays = 90;

std::shared_ptr<const shared::TokenStore> Tokens() {
  return *shared::TokenStore::FromText(absl::StrCat(shared::Sha256Hex(kToken), " ", kTenant, " admin\n",
                                                    shared::Sha256Hex(kServiceToken), " * service\n"));
}

shared::ServiceOptions Options(const std::string& db_url) {
  shared::ServiceOptions options;
  options.db_url = db_url;
  options.tokens = Tokens();
  options.server.listen = "127.0.0.1:0";
  options.server.drain_grace = absl::ZeroDuration();
  options.page_token_key = "bench";
  return options;
}

struct Percentiles {
  std::vector<double> ms;
  double At(double p) {
    if (ms.empty()) return 0;
    std::sort(ms.begin(), ms.end());
    return ms[std::min(ms.size() - 1, static_cast<size_t>(p * static_cast<double>(ms.size())))];
  }
};

// Skewed choice in [0, n): about 1/(i+1) weights.
int Skewed(std::mt19937_64& rng, int n) {
  static std::vector<std::vector<double>> tables(64);
  auto& cdf = tables[static_cast<size_t>(n)];
  if (cdf.empty()) {
    double sum = 0;
    for (int i = 0; i < n; ++i) cdf.push_back(sum += 1.0 / (i + 1));
    for (double& c : cdf) c /= sum;
  }
  const double u = std::uniform_real_distribution<double>(0, 1)(rng);
  return static_cast<int>(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
}

const char* const kSegments[] = {"smb", "mid-market", "enterprise", "public-sector"};
const char* const kTags[] = {"delivery", "price", "support", "quality", "billing", "website", "app", "staff"};

feedback::v1::Feedback Synthetic(std::mt19937_64& rng, int64_t i, int64_t n, int64_t start_s, int customers) {
  feedback::v1::Feedback f;
  f.set_id(absl::StrCat("fb", i));
  f.set_customer_id(absl::StrCat("cust", rng() % static_cast<uint64_t>(customers)));
  const int kind = static_cast<int>(rng() % 10);
  if (kind < 6) {
    f.set_kind(feedback::v1::FEEDBACK_KIND_NPS);
    const int x = static_cast<int>(rng() % 100);
    f.set_score(x < 45 ? 9 + x % 2 : x < 75 ? 7 + x % 2 : x % 7);
  } else if (kind < 8) {
    f.set_kind(feedback::v1::FEEDBACK_KIND_CSAT);
    f.set_score(1 + static_cast<int>(rng() % 5));
  } else {
    f.set_kind(feedback::v1::FEEDBACK_KIND_CES);
    f.set_score(1 + static_cast<int>(rng() % 7));
  }
  f.set_channel(static_cast<cx::common::v1::Channel>(1 + Skewed(rng, 9)));
  f.set_source(static_cast<cx::common::v1::Source>(1 + Skewed(rng, 6)));
  f.set_touchpoint_id(absl::StrCat("tp", Skewed(rng, 12)));
  f.set_journey_stage(static_cast<cx::common::v1::JourneyStage>(1 + Skewed(rng, 5)));
  if (rng() % 10 < 3) f.add_tags(kTags[Skewed(rng, 8)]);
  // Roughly in time order: position in the run plus up to 6 hours of jitter.
  const int64_t span = kDays * 86400;
  int64_t t = start_s + span * i / n + static_cast<int64_t>(rng() % 21600) - 10800;
  t = std::clamp<int64_t>(t, start_s, start_s + span - 1);
  f.mutable_occurred_at()->set_seconds(t);
  return f;
}

template <class Stub, class Req, class Resp>
grpc::Status Call(Stub* stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*), const Req& req,
                  Resp* resp, const std::string& token = kToken) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + token);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return (stub->*method)(&ctx, req, resp);
}

cx::common::v1::TimeRange Range(int64_t from_s, int64_t to_s) {
  cx::common::v1::TimeRange r;
  r.mutable_start_time()->set_seconds(from_s);
  r.mutable_end_time()->set_seconds(to_s);
  return r;
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

}  // namespace
}  // namespace cx::bench

int main(int argc, char** argv) {
  using namespace cx::bench;  // NOLINT
  std::vector<cx::shared::OptionSpec> specs = {
      {"records", "", "10000000", "feedback records for the query benchmark"},
      {"customers", "", "200000", "customers (each with a segment from the journey feed)"},
      {"db", "", "", "database of the query benchmark (default: a SQLite file under /tmp)"},
      {"queries", "", "2000", "gRPC queries per kind"},
      {"sql-queries", "", "20", "SQL baseline queries per kind"},
      {"catchup-records", "", "200000", "feedback records for the catch-up over gRPC"},
      {"freshness-samples", "", "300", "SubmitFeedback -> GetScore samples"},
  };
  auto config = cx::shared::Config::ParseOrExit("metrics-bench", specs, argc, argv);
  const int64_t n = *config.GetInt("records");
  const int customers = static_cast<int>(*config.GetInt("customers"));
  const int queries = static_cast<int>(*config.GetInt("queries"));
  const int sql_queries = static_cast<int>(*config.GetInt("sql-queries"));
  const std::filesystem::path dir = "/tmp/cx-metrics-bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string db_url = config.Get("db").empty() ? absl::StrCat("sqlite://", (dir / "metrics.db").string())
                                                      : config.Get("db");
  const std::string backend = db_url.rfind("mysql", 0) == 0 ? "MariaDB" : "SQLite";
  const int64_t now_s = absl::ToUnixSeconds(absl::Now()) / 3600 * 3600;
  const int64_t start_s = now_s - kDays * 86400;

  // 1. Cold load through the applier.
  std::mt19937_64 rng(20261125);
  {
    auto pool = cx::shared::db::OpenDatabase(db_url, "", 2);
    if (!pool.ok()) {
      std::cerr << pool.status() << "\n";
      return 1;
    }
    auto repo = cx::metrics::OpenMetricsRepository(*pool);
    if (!repo.ok()) {
      std::cerr << repo.status() << "\n";
      return 1;
    }
    auto index = std::make_shared<cx::metrics::RollupIndex>();
    cx::metrics::FeedApplier applier(*repo, index, std::make_shared<cx::metrics::JourneyIndex>());
    const absl::Time t0 = absl::Now();
    int64_t seq = 0;
    for (int c = 0; c < customers; c += 1000) {
      std::vector<cx::journey::v1::JourneyChange> batch;
      for (int i = c; i < std::min(customers, c + 1000); ++i) {
        cx::journey::v1::JourneyChange ch;
        ch.set_sequence(++seq);
        ch.set_tenant(kTenant);
        ch.mutable_customer_upserted()->set_customer_id(absl::StrCat("cust", i));
        ch.mutable_customer_upserted()->mutable_traits()->set_segment(kSegments[Skewed(rng, 4)]);
        batch.push_back(std::move(ch));
      }
      if (auto s = applier.ApplyJourney(seq - static_cast<int64_t>(batch.size()), batch); !s.ok()) {
        std::cerr << s << "\n";
        return 1;
      }
    }
    const absl::Time t1 = absl::Now();
    seq = 0;
    for (int64_t i = 0; i < n; i += 1000) {
      std::vector<cx::feedback::v1::FeedbackChange> batch;
      for (int64_t j = i; j < std::min(n, i + 1000); ++j) {
        cx::feedback::v1::FeedbackChange ch;
        ch.set_sequence(++seq);
        ch.set_tenant(kTenant);
        *ch.mutable_feedback_created() = Synthetic(rng, j, n, start_s, customers);
        batch.push_back(std::move(ch));
      }
      if (auto s = applier.ApplyFeedback(seq - static_cast<int64_t>(batch.size()), batch); !s.ok()) {
        std::cerr << s << "\n";
        return 1;
      }
      if ((i / 1000) % 1000 == 999) {
        std::cerr << absl::StrFormat("  loaded %d records, %.0f/s\n", i + 1000, (i + 1000) / absl::ToDoubleSeconds(absl::Now() - t1));
      }
    }
    const absl::Time t2 = absl::Now();
    std::cout << absl::StrFormat(
        "| cold load (%s, in-process FeedApplier, batches of 1000) | %d customers in %.1f s (%.0f/s); %d feedback in %.1f s: **%.0f records/s** | %d index cells |\n",
        backend, customers, absl::ToDoubleSeconds(t1 - t0), customers / absl::ToDoubleSeconds(t1 - t0), n,
        absl::ToDoubleSeconds(t2 - t1), n / absl::ToDoubleSeconds(t2 - t1), index->cells());
  }

  // 2 and 3. The service on that database; queries against SQL.
  {
    cx::metrics::MetricsServerOptions options;
    options.service = Options(db_url);
    const absl::Time t0 = absl::Now();
    auto server = cx::metrics::MetricsServer::Start(std::move(options));
    if (!server.ok()) {
      std::cerr << server.status() << "\n";
      return 1;
    }
    std::cout << absl::StrFormat("| metrics-service start (index rebuilt from the stored cells) | %.1f s | %d cells |\n",
                                 absl::ToDoubleSeconds(absl::Now() - t0), (*server)->index().cells());
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials());
    auto stub = mv1::MetricsService::NewStub(channel);
    mv1::MetricsService::Stub* target = stub.get();  // the server the timed queries go to
    std::mt19937_64 qrng(7);
    auto random_range = [&](int64_t days) {
      const int64_t from = start_s + static_cast<int64_t>(qrng() % static_cast<uint64_t>((kDays - days) * 86400));
      return Range(from, from + days * 86400);
    };
    std::vector<cx::common::v1::TimeRange> score_ranges;
    for (int i = 0; i < std::max(queries, sql_queries); ++i) score_ranges.push_back(random_range(30));
    auto score_query = [&](int i, int filters) {
      mv1::GetScoreRequest r;
      r.set_metric(mv1::METRIC_NPS);
      *r.mutable_range() = score_ranges[static_cast<size_t>(i)];
      if (filters >= 1) r.mutable_filters()->set_channel(static_cast<cx::common::v1::Channel>(1 + i % 9));
      if (filters >= 2) r.mutable_filters()->set_segment(kSegments[i % 4]);
      if (filters >= 3) r.mutable_filters()->set_journey_stage(static_cast<cx::common::v1::JourneyStage>(1 + i % 5));
      return r;
    };
    auto time_scores = [&](int filters, int64_t* answers) {
      Percentiles p;
      for (int i = 0; i < queries; ++i) {
        mv1::GetScoreRequest r = score_query(i, filters);
        mv1::GetScoreResponse resp;
        const absl::Time s = absl::Now();
        grpc::Status st = Call(target, &mv1::MetricsService::Stub::GetScore, r, &resp);
        p.ms.push_back(Ms(absl::Now() - s));
        if (!st.ok()) std::cerr << "GetScore: " << st.error_message() << "\n";
        *answers += resp.score().n();
      }
      return p;
    };
    auto time_trends = [&](int filters) {
      Percentiles p;
      for (int i = 0; i < queries; ++i) {
        mv1::GetTrendRequest r;
        r.set_metric(mv1::METRIC_NPS);
        r.set_interval(mv1::INTERVAL_DAY);
        r.set_time_zone(i % 2 ? "Europe/Paris" : "UTC");
        *r.mutable_range() = Range(start_s, now_s);
        if (filters >= 1) r.mutable_filters()->set_channel(static_cast<cx::common::v1::Channel>(1 + i % 9));
        if (filters >= 2) r.mutable_filters()->set_segment(kSegments[i % 4]);
        mv1::GetTrendResponse resp;
        const absl::Time s = absl::Now();
        grpc::Status st = Call(target, &mv1::MetricsService::Stub::GetTrend, r, &resp);
        p.ms.push_back(Ms(absl::Now() - s));
        if (!st.ok()) std::cerr << "GetTrend: " << st.error_message() << "\n";
      }
      return p;
    };
    int64_t answers0 = 0, answers1 = 0, answers2 = 0, answers3 = 0;
    Percentiles s0 = time_scores(0, &answers0), s1 = time_scores(1, &answers1), s2 = time_scores(2, &answers2);
    Percentiles s3 = time_scores(3, &answers3);
    Percentiles t0p = time_trends(0), t1p = time_trends(1), t2p = time_trends(2);

    // The SQL baseline: the same unfiltered NPS aggregate over the raw rows.
    Percentiles sql_score, sql_trend;
    for (int i = 0; i < sql_queries; ++i) {
      const auto& r = score_ranges[static_cast<size_t>(i)];
      const absl::Time s = absl::Now();
      auto counts = (*server)->repository().ScanFacts(kTenant, cx::metrics::Metric::kNps,
                                                      r.start_time().seconds() / 3600, r.end_time().seconds() / 3600);
      sql_score.ms.push_back(Ms(absl::Now() - s));
      if (!counts.ok()) std::cerr << counts.status() << "\n";
    }
    {
      auto pool = cx::shared::db::OpenDatabase(db_url, "", 1);
      auto conn = (*pool)->Acquire();
      for (int i = 0; i < std::max(1, sql_queries / 4); ++i) {
        const absl::Time s = absl::Now();
        auto rows = (*conn)->Query(
            "SELECT hour / 24, COUNT(*), SUM(CASE WHEN score >= 9 THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN score <= 6 THEN 1 ELSE 0 END) FROM metrics_facts WHERE tenant = ? AND metric = 1 AND "
            "hour >= ? AND hour < ? GROUP BY hour / 24",
            {std::string(kTenant), start_s / 3600, now_s / 3600});
        sql_trend.ms.push_back(Ms(absl::Now() - s));
        if (!rows.ok()) std::cerr << rows.status() << "\n";
      }
    }
    const double sql50 = sql_score.At(0.5), sqlt50 = sql_trend.At(0.5);
    auto row = [&](const std::string& what, Percentiles& p, double baseline) {
      std::cout << absl::StrFormat("| %s | p50 %.3f ms, p99 %.3f ms | %s |\n", what, p.At(0.5), p.At(0.99),
                                   baseline > 0 ? absl::StrFormat("%.0f× faster than SQL p50", baseline / p.At(0.5))
                                                : std::string("SQL over raw rows"));
    };
    std::cout << absl::StrFormat("| GetScore NPS, 30-day range: answers per query (mean) | %.0f | |\n",
                                 static_cast<double>(answers0) / queries);
    row("GetScore NPS 30 days, no filter (gRPC)", s0, sql50);
    row("GetScore NPS 30 days, channel filter (gRPC)", s1, sql50);
    row("GetScore NPS 30 days, channel + segment (gRPC; a pair series)", s2, sql50);
    row("GetScore NPS 30 days, channel + segment + stage (gRPC; adds the matching combinations)", s3, sql50);
    row(absl::StrFormat("SQL: same NPS aggregate over metrics_facts (%s, index on tenant, metric, hour)", backend),
        sql_score, 0);
    row("GetTrend NPS by day, 90 days, no filter (gRPC)", t0p, sqlt50);
    row("GetTrend NPS by day, 90 days, channel filter (gRPC)", t1p, sqlt50);
    row("GetTrend NPS by day, 90 days, channel + segment (gRPC; a pair series)", t2p, sqlt50);
    row("SQL: NPS GROUP BY day over 90 days", sql_trend, 0);
    (*server)->Shutdown();
    server->reset();

    // 3b. The metrics-service binary on the same database, as its own
    // process (as deployed): start, the same queries, and its RSS.
    const std::string tokens_file = (dir / "tokens").string();
    std::ofstream(tokens_file) << cx::shared::Sha256Hex(kToken) << " " << kTenant << " admin\n";
    ServiceProcess process(CX_METRICS_SERVICE_BINARY,
                           {"--db=" + db_url, "--tokens-file=" + tokens_file, "--feedback-endpoint=",
                            "--journey-endpoint=", "--rate-limit-rps=0", "--drain-grace-ms=0"});
    const absl::Time p0 = absl::Now();
    if (!process.Start("metrics-service", absl::Minutes(30))) return 1;
    std::cout << absl::StrFormat(
        "| metrics-service as its own process on the same database: start (index rebuilt) | %.1f s | RSS %.0f MB |\n",
        absl::ToDoubleSeconds(absl::Now() - p0), process.RssKb() / 1024.0);
    auto pstub = mv1::MetricsService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", process.port()), grpc::InsecureChannelCredentials()));
    target = pstub.get();
    int64_t unused = 0;
    Percentiles ps0 = time_scores(0, &unused), ps1 = time_scores(1, &unused), ps2 = time_scores(2, &unused);
    Percentiles pt0 = time_trends(0), pt2 = time_trends(2);
    row("its own process: GetScore NPS 30 days, no filter", ps0, sql50);
    row("its own process: GetScore NPS 30 days, channel filter", ps1, sql50);
    row("its own process: GetScore NPS 30 days, channel + segment", ps2, sql50);
    row("its own process: GetTrend NPS by day, 90 days, no filter", pt0, sqlt50);
    row("its own process: GetTrend NPS by day, 90 days, channel + segment", pt2, sqlt50);
    std::cout << absl::StrFormat("| metrics-service process RSS after the queries (%d records stored) | %.0f MB | %s |\n",
                                 n, process.RssKb() / 1024.0, process.RssParts());
    process.Stop();
  }

  // 4 and 5. Catch-up and freshness over gRPC with a real feedback-service.
  {
    const int64_t m = *config.GetInt("catchup-records");
    auto feedback = cx::feedback::FeedbackServer::Start(Options(absl::StrCat("sqlite://", (dir / "feedback.db").string())));
    if (!feedback.ok()) {
      std::cerr << feedback.status() << "\n";
      return 1;
    }
    auto fchannel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*feedback)->port()), grpc::InsecureChannelCredentials());
    auto fstub = cx::feedback::v1::FeedbackService::NewStub(fchannel);
    std::mt19937_64 frng(11);
    int64_t nps_records = 0;  // catch-up ends when metrics-service counts them all
    for (int64_t i = 0; i < m; i += 500) {
      cx::feedback::v1::BatchSubmitFeedbackRequest batch;
      for (int64_t j = i; j < std::min(m, i + 500); ++j) {
        auto* r = batch.add_requests();
        r->set_request_id(absl::StrCat("catchup", j));
        *r->mutable_feedback() = Synthetic(frng, j, m, start_s, customers);
        r->mutable_feedback()->clear_id();
        if (r->feedback().kind() == cx::feedback::v1::FEEDBACK_KIND_NPS) ++nps_records;
      }
      cx::feedback::v1::BatchSubmitFeedbackResponse resp;
      grpc::Status st = Call(fstub.get(), &cx::feedback::v1::FeedbackService::Stub::BatchSubmitFeedback, batch, &resp);
      if (!st.ok()) {
        std::cerr << "BatchSubmitFeedback: " << st.error_message() << "\n";
        return 1;
      }
    }
    cx::metrics::MetricsServerOptions options;
    options.service = Options(absl::StrCat("sqlite://", (dir / "metrics-catchup.db").string()));
    options.feeds.feedback_endpoint = absl::StrCat("127.0.0.1:", (*feedback)->port());
    options.feeds.token = kServiceToken;
    const absl::Time t0 = absl::Now();
    auto server = cx::metrics::MetricsServer::Start(std::move(options));
    if (!server.ok()) {
      std::cerr << server.status() << "\n";
      return 1;
    }
    auto mchannel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials());
    auto mstub = mv1::MetricsService::NewStub(mchannel);
    auto nps_count = [&](int64_t from_s) -> int64_t {
      mv1::GetScoreRequest r;
      r.set_metric(mv1::METRIC_NPS);
      *r.mutable_range() = Range(from_s, now_s + 7200);
      mv1::GetScoreResponse resp;
      grpc::Status st = Call(mstub.get(), &mv1::MetricsService::Stub::GetScore, r, &resp);
      return st.ok() ? resp.score().n() : -1;
    };
    // Caught up when every NPS record of the feed counts (the feed also
    // carries follow-up cases, so its change count is not the record count).
    while (nps_count(start_s - 86400) < nps_records && absl::Now() - t0 < absl::Minutes(10)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const absl::Duration catchup = absl::Now() - t0;
    std::cout << absl::StrFormat(
        "| catch-up over gRPC (SQLite both sides): fresh metrics-service follows a feedback-service holding %d records | %.1f s: **%.0f records/s** | |\n",
        m, absl::ToDoubleSeconds(catchup), m / absl::ToDoubleSeconds(catchup));

    auto total = [&]() -> int64_t { return nps_count(now_s - 86400); };
    Percentiles fresh;
    const int samples = static_cast<int>(*config.GetInt("freshness-samples"));
    int64_t before = total();
    for (int i = 0; i < samples; ++i) {
      cx::feedback::v1::SubmitFeedbackRequest r;
      r.set_request_id(absl::StrCat("fresh", i));
      auto* f = r.mutable_feedback();
      f->set_customer_id("cust1");
      f->set_kind(cx::feedback::v1::FEEDBACK_KIND_NPS);
      f->set_score(9);
      f->set_source(cx::common::v1::SOURCE_SURVEY);
      f->set_channel(cx::common::v1::CHANNEL_WEB);
      *f->mutable_occurred_at() = cx::shared::ToProtoTime(absl::Now());
      cx::feedback::v1::SubmitFeedbackResponse resp;
      grpc::Status st = Call(fstub.get(), &cx::feedback::v1::FeedbackService::Stub::SubmitFeedback, r, &resp);
      if (!st.ok()) {
        std::cerr << "SubmitFeedback: " << st.error_message() << "\n";
        return 1;
      }
      const absl::Time acked = absl::Now();
      int64_t seen = before;
      while ((seen = total()) <= before && absl::Now() - acked < absl::Seconds(10)) {
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
      fresh.ms.push_back(Ms(absl::Now() - acked));
      before = seen;
    }
    const double p50 = fresh.At(0.5), p99 = fresh.At(0.99), max = fresh.At(1.0);
    std::cout << absl::StrFormat(
        "| freshness: SubmitFeedback acknowledged -> visible in GetScore (%d samples, one at a time) | p50 %.1f ms, p99 %.1f ms, max %.1f ms | |\n",
        samples, p50, p99, max);
    (*server)->Shutdown();
    (*feedback)->Shutdown();
  }
  std::filesystem::remove_all(dir);
  return 0;
}
