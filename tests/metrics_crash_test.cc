// kill -9 of the real metrics-service binary in the middle of consuming a
// feedback feed: after a restart on the same database it resumes from its
// stored cursor, and the rollups equal a recomputation from the raw records
// (nothing lost, nothing counted twice).
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cx/metrics/v1/metrics_service.grpc.pb.h"
#include "feedback-service/feedback_server.h"
#include "metrics-service/score_math.h"
#include "metrics-service/sql_metrics_repository.h"
#include "shared/db/sql.h"
#include "shared/proto_util.h"
#include "shared/child_process.h"
#include "shared/testing/test_util.h"

namespace cx::metrics {
namespace {

namespace t = shared::testing;
constexpr int kRecords = 100000;

TEST(MetricsCrashTest, KillNineMidConsumptionThenRestartEqualsARecomputation) {
  auto dir = std::filesystem::temp_directory_path() / absl::StrCat("cx_metrics_crash_", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokens") << t::TestTokensText();

  shared::ServiceOptions options;
  options.db_url = "sqlite::memory:";
  options.tokens = t::TestTokens();
  options.server.listen = "127.0.0.1:0";
  options.server.drain_grace = absl::ZeroDuration();
  auto feedback = feedback::FeedbackServer::Start(options);
  ASSERT_TRUE(feedback.ok()) << feedback.status();
  auto fstub = feedback::v1::FeedbackService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*feedback)->port()), grpc::InsecureChannelCredentials()));

  // The raw records, and what a recomputation says of them.
  std::mt19937 rng(42);
  Counts expected;
  int64_t cases = 0;  // follow-up cases the default rules open (NPS <= 6), each a change of its own
  const absl::Time now = absl::Now();
  for (int i = 0; i < kRecords; i += 500) {
    feedback::v1::BatchSubmitFeedbackRequest batch;
    for (int j = i; j < i + 500; ++j) {
      auto* r = batch.add_requests();
      r->set_request_id(absl::StrCat("r", j));
      auto* f = r->mutable_feedback();
      f->set_customer_id(absl::StrCat("c", j % 977));
      f->set_kind(feedback::v1::FEEDBACK_KIND_NPS);
      f->set_score(static_cast<int>(rng() % 11));
      f->set_source(cx::common::v1::SOURCE_SURVEY);
      f->set_channel(cx::common::v1::CHANNEL_WEB);
      *f->mutable_occurred_at() = shared::ToProtoTime(now - absl::Minutes(j % 600));
      expected += CountsOf(Metric::kNps, f->score());
      if (f->score() <= 6) ++cases;
    }
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + t::kAcmeIngest);
    feedback::v1::BatchSubmitFeedbackResponse resp;
    ASSERT_TRUE(fstub->BatchSubmitFeedback(&ctx, batch, &resp).ok());
    ASSERT_EQ(resp.accepted_count(), 500);
  }

  const std::string db = absl::StrCat("sqlite://", (dir / "metrics.db").string());
  auto start = [&] {
    auto child = std::make_unique<shared::ChildProcess>(
        CX_METRICS_SERVICE_BINARY,
        std::vector<std::string>{"--listen=127.0.0.1:0", "--db=" + db, "--tokens-file=" + (dir / "tokens").string(),
                                 "--metrics-listen=", absl::StrCat("--feedback-endpoint=127.0.0.1:", (*feedback)->port()),
                                 "--journey-endpoint=", "--drain-grace-ms=0"},
        std::map<std::string, std::string>{{"CX_FEED_TOKEN", t::kServiceToken}});
    EXPECT_TRUE(child->Start());
    return child;
  };
  auto score = [&](int port) -> v1::Score {
    auto stub = v1::MetricsService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
    v1::GetScoreRequest r;
    r.set_metric(v1::METRIC_NPS);
    *r.mutable_range()->mutable_start_time() = shared::ToProtoTime(now - absl::Hours(24));
    *r.mutable_range()->mutable_end_time() = shared::ToProtoTime(now + absl::Hours(1));
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + t::kAcmeRead);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetScoreResponse resp;
    grpc::Status s = stub->GetScore(&ctx, r, &resp);
    return s.ok() ? resp.score() : v1::Score{};
  };

  auto first = start();
  int port = first->WaitForPort();
  ASSERT_GT(port, 0) << first->output();
  int64_t at_kill = 0;
  for (int i = 0; i < 20000 && at_kill < kRecords / 5; ++i) {  // a fifth in, at most ~20 s
    at_kill = score(port).n();
    if (at_kill < kRecords / 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  first->Signal(SIGKILL);
  ASSERT_TRUE(first->Wait(absl::Seconds(10)).has_value());
  std::cout << "killed with " << at_kill << " of " << kRecords << " records counted\n";
  EXPECT_GT(at_kill, 0);

  auto second = start();
  port = second->WaitForPort();
  ASSERT_GT(port, 0) << second->output();
  v1::Score s;
  for (int i = 0; i < 3000 && s.n() < kRecords; ++i) {  // at most ~30 s
    s = score(port);
    if (s.n() < kRecords) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(s.n(), expected.n);
  EXPECT_EQ(s.top_count(), expected.top);
  EXPECT_EQ(s.bottom_count(), expected.bottom);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(score(port).n(), expected.n);  // and nothing more arrives later
  second->Signal(SIGTERM);
  EXPECT_EQ(second->Wait(absl::Seconds(20)), 0);

  // On disk: the facts (one per record) agree with the counters.
  auto pool = shared::db::OpenDatabase(db, "", 1);
  ASSERT_TRUE(pool.ok());
  auto repo = OpenMetricsRepository(*pool);
  ASSERT_TRUE(repo.ok());
  auto facts = (*repo)->ScanFacts("acme", Metric::kNps, 0, INT64_MAX / 3600);
  ASSERT_TRUE(facts.ok());
  EXPECT_EQ(*facts, expected);
  // "fault " lines are gathered into the test command's summary: the
  // records feedback-service acknowledged against those metrics-service
  // holds (one fact each) and counts after the restart.
  std::cout << "fault kill -9 metrics-service mid-consumption: acknowledged=" << expected.n
            << " present=" << facts->n << " lost=" << std::max<int64_t>(0, expected.n - facts->n)
            << " duplicated=" << std::max<int64_t>(0, facts->n - expected.n) << " counted by GetScore: " << s.n()
            << " (killed with " << at_kill << " counted)\n";
  auto cursor = (*repo)->Cursor("feedback");
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(*cursor, kRecords + cases);
  int64_t open_cases = 0, rows = 0;
  ASSERT_TRUE((*repo)->ForEachFollowUp(std::nullopt, [&](FollowUpRow&& r) {
    ++rows;
    open_cases += r.open ? 1 : 0;
  }).ok());
  EXPECT_EQ(rows, cases);
  EXPECT_EQ(open_cases, cases);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cx::metrics
