// The three real services in one process, each on its own 127.0.0.1 socket:
// feedback submitted to feedback-service and customers changed in
// journey-service reach metrics-service through the change feeds, and its
// gRPC answers carry the exact values and intervals. Also: alerts streamed by
// WatchAlerts, roles and tenants at the edge, and a metrics-service restart
// in the middle of consumption that neither loses nor repeats anything.
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>
#include <iostream>
#include <random>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "feedback-service/feedback_server.h"
#include "journey-service/journey_server.h"
#include "metrics-service/metrics_server.h"
#include "shared/proto_util.h"
#include "shared/local_net.h"
#include "shared/testing/test_util.h"

namespace cx::metrics {
namespace {

namespace t = shared::testing;
using absl::StatusCode;
using t::StatusIs;

shared::ServiceOptions Options(const std::string& db_url) { return t::InProcessOptions(db_url); }

template <class Stub>
using Client = t::TokenClient<Stub>;

template <class Service>
Client<typename Service::Stub> Connect(int port) {
  return t::ConnectLocal<Service>(port);
}

using t::WaitFor;

class ThreeServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / absl::StrCat("cx-metrics-e2e-", getpid(), "-", rand());
    std::filesystem::create_directories(dir_);
    StartFeedback(0);
    auto j = journey::JourneyServer::Start(Options("sqlite::memory:"));
    ASSERT_TRUE(j.ok()) << j.status();
    journey_server_ = *std::move(j);
    journey_ = Connect<journey::v1::JourneyService>(journey_server_->port());
    StartMetrics();
  }

  void TearDown() override {
    metrics_server_.reset();
    journey_server_.reset();
    feedback_server_.reset();
    std::filesystem::remove_all(dir_);
  }

  // On a file, so it can restart with its data; port 0 picks one.
  void StartFeedback(int port) {
    shared::ServiceOptions options = Options(absl::StrCat("sqlite://", (dir_ / "feedback.db").string()));
    options.server.listen = absl::StrCat("127.0.0.1:", port);
    auto f = feedback::FeedbackServer::Start(options);
    ASSERT_TRUE(f.ok()) << f.status();
    feedback_server_ = *std::move(f);
    feedback_ = Connect<feedback::v1::FeedbackService>(feedback_server_->port());
  }

  void StartMetrics() {
    MetricsServerOptions options;
    options.service = Options(absl::StrCat("sqlite://", (dir_ / "metrics.db").string()));
    options.service.metrics_listen = "127.0.0.1:0";
    options.feeds.feedback_endpoint = absl::StrCat("127.0.0.1:", feedback_server_->port());
    options.feeds.journey_endpoint = absl::StrCat("127.0.0.1:", journey_server_->port());
    options.feeds.token = t::kServiceToken;
    options.feeds.min_backoff = absl::Milliseconds(20);
    options.feeds.max_backoff = absl::Milliseconds(200);
    options.alert_interval = absl::Milliseconds(200);
    auto m = MetricsServer::Start(std::move(options));
    ASSERT_TRUE(m.ok()) << m.status();
    metrics_server_ = *std::move(m);
    metrics_ = Connect<v1::MetricsService>(metrics_server_->port());
  }

  // NPS answers by customer "c<i % customers>", alternating web and email.
  void SubmitNps(const std::string& prefix, const std::vector<int>& scores, absl::Duration ago, int customers = 10) {
    for (size_t start = 0; start < scores.size(); start += 500) {
      feedback::v1::BatchSubmitFeedbackRequest batch;
      for (size_t i = start; i < scores.size() && i < start + 500; ++i) {
        auto* r = batch.add_requests();
        r->set_request_id(absl::StrCat(prefix, i));
        auto* f = r->mutable_feedback();
        f->set_customer_id(absl::StrCat("c", i % static_cast<size_t>(customers)));
        f->set_kind(feedback::v1::FEEDBACK_KIND_NPS);
        f->set_score(scores[i]);
        f->set_source(cx::common::v1::SOURCE_SURVEY);
        f->set_channel(i % 2 ? cx::common::v1::CHANNEL_EMAIL : cx::common::v1::CHANNEL_WEB);
        f->add_tags("delivery");
        *f->mutable_occurred_at() = shared::ToProtoTime(absl::Now() - ago);
      }
      auto resp = feedback_.Call(&feedback::v1::FeedbackService::Stub::BatchSubmitFeedback, batch, t::kAcmeIngest);
      ASSERT_TRUE(resp.ok()) << resp.status();
      ASSERT_EQ(resp->accepted_count() + resp->duplicate_count(), batch.requests_size());
    }
  }

  static std::vector<int> Nps(int n, int promoters, int detractors) {
    std::vector<int> s(static_cast<size_t>(n), 8);
    for (int i = 0; i < promoters; ++i) s[static_cast<size_t>(i)] = 10;
    for (int i = 0; i < detractors; ++i) s[static_cast<size_t>(promoters + i)] = 3;
    std::mt19937 rng(1);
    std::shuffle(s.begin(), s.end(), rng);
    return s;
  }

  absl::StatusOr<v1::GetScoreResponse> Score(const std::string& token = t::kAcmeRead) {
    v1::GetScoreRequest r;
    r.set_metric(v1::METRIC_NPS);
    *r.mutable_range()->mutable_start_time() = shared::ToProtoTime(absl::Now() - absl::Hours(72));
    *r.mutable_range()->mutable_end_time() = shared::ToProtoTime(absl::Now() + absl::Hours(1));
    return metrics_.Call(&v1::MetricsService::Stub::GetScore, r, token);
  }

  int64_t ScoreN() {
    auto s = Score();
    return s.ok() ? s->score().n() : -1;
  }

  int64_t SegmentN(const std::string& segment) {
    v1::GetBreakdownRequest r;
    r.set_metric(v1::METRIC_NPS);
    r.set_dimension(v1::DIMENSION_SEGMENT);
    *r.mutable_range()->mutable_start_time() = shared::ToProtoTime(absl::Now() - absl::Hours(72));
    *r.mutable_range()->mutable_end_time() = shared::ToProtoTime(absl::Now() + absl::Hours(1));
    auto b = metrics_.Call(&v1::MetricsService::Stub::GetBreakdown, r, t::kAcmeRead);
    if (!b.ok()) return -1;
    for (const auto& row : b->rows()) {
      if (row.value() == segment) return row.score().n();
    }
    return 0;
  }

  void Upsert(const std::string& id, const std::string& segment, int version) {
    journey::v1::UpsertCustomerRequest r;
    r.set_customer_id(id);
    r.mutable_traits()->set_segment(segment);
    r.set_source_system("crm");
    *r.mutable_source_updated_at() = shared::ToProtoTime(absl::FromUnixSeconds(1700000000 + version));
    auto resp = journey_.Call(&journey::v1::JourneyService::Stub::UpsertCustomer, r, t::kAcmeIngest);
    ASSERT_TRUE(resp.ok()) << resp.status();
  }

  std::filesystem::path dir_;
  std::unique_ptr<feedback::FeedbackServer> feedback_server_;
  std::unique_ptr<journey::JourneyServer> journey_server_;
  std::unique_ptr<MetricsServer> metrics_server_;
  Client<feedback::v1::FeedbackService::Stub> feedback_;
  Client<journey::v1::JourneyService::Stub> journey_;
  Client<v1::MetricsService::Stub> metrics_;
};

TEST_F(ThreeServicesTest, FeedbackReachesGetScoreWithTheExactValueAndIntervalAndSegmentsFollowMerges) {
  SubmitNps("a", Nps(400, 200, 80), absl::Hours(2));
  const absl::Time acked = absl::Now();
  ASSERT_TRUE(WaitFor([&] { return ScoreN() == 400; })) << ScoreN();
  std::cout << "freshness (batch of 400 acknowledged -> visible in GetScore, polled every 20 ms): "
            << absl::FormatDuration(absl::Now() - acked) << "\n";
  auto s = Score();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(s->score().value(), 30.0);
  EXPECT_NEAR(s->score().margin_of_error(), 7.65, 0.005);
  EXPECT_EQ(s->score().top_count(), 200);
  EXPECT_EQ(s->score().bottom_count(), 80);

  // Operators see the consumers on /metrics (counted just after the batch
  // is visible to queries): 400 feedback and the 80 follow-up cases the
  // detractors opened.
  std::string page;
  ASSERT_TRUE(WaitFor([&] {
    page = shared::HttpGet(metrics_server_->metrics_port(), "/metrics");
    return page.find("cx_feed_changes_applied_total{feed=\"feedback\"} 480") != std::string::npos;
  }));
  EXPECT_NE(page.find("cx_feed_changes_applied_total{feed=\"feedback\"} 480"), std::string::npos) << page;
  EXPECT_NE(page.find("cx_feed_cursor{feed=\"feedback\"} 480"), std::string::npos);
  EXPECT_NE(page.find("cx_feed_last_applied_timestamp_seconds{feed=\"feedback\"}"), std::string::npos);
  EXPECT_NE(page.find("cx_grpc_requests_total{code=\"OK\",method=\"GetScore\",service=\"metrics\"}"),
            std::string::npos);

  // Segments come from journey-service; merges move the feedback.
  Upsert("c1", "enterprise", 1);
  Upsert("c2", "smb", 1);
  ASSERT_TRUE(WaitFor([&] { return SegmentN("enterprise") == 40 && SegmentN("smb") == 40; }))
      << SegmentN("enterprise") << " " << SegmentN("smb");
  journey::v1::MergeCustomersRequest merge;
  merge.mutable_source()->set_customer_id("c2");
  merge.set_target_customer_id("c1");
  merge.set_reason("same person");
  auto merged = journey_.Call(&journey::v1::JourneyService::Stub::MergeCustomers, merge, t::kAcmeIngest);
  ASSERT_TRUE(merged.ok()) << merged.status();
  ASSERT_TRUE(WaitFor([&] { return SegmentN("enterprise") == 80 && SegmentN("smb") == 0; }));
  journey::v1::UnmergeCustomersRequest unmerge;
  unmerge.set_merge_id(merged->merge().merge_id());
  unmerge.set_reason("not the same person");
  ASSERT_TRUE(journey_.Call(&journey::v1::JourneyService::Stub::UnmergeCustomers, unmerge, t::kAcmeAdmin).ok());
  ASSERT_TRUE(WaitFor([&] { return SegmentN("enterprise") == 40 && SegmentN("smb") == 40; }));
  Upsert("c1", "mid-market", 2);
  ASSERT_TRUE(WaitFor([&] { return SegmentN("enterprise") == 0 && SegmentN("mid-market") == 40; }));
  EXPECT_EQ(ScoreN(), 400);  // moves never change the total

  // The edge: tenants, roles, tokens.
  auto other = Score(t::kGlobexAdmin);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->score().n(), 0);
  EXPECT_THAT(Score(""), StatusIs(StatusCode::kUnauthenticated));
  EXPECT_THAT(Score(t::kServiceToken), StatusIs(StatusCode::kPermissionDenied));
  v1::CreateAlertRuleRequest create;
  create.set_request_id("r");
  EXPECT_THAT(metrics_.Call(&v1::MetricsService::Stub::CreateAlertRule, create, t::kAcmeRead),
              StatusIs(StatusCode::kPermissionDenied));
  v1::GetTrendRequest trend;
  trend.set_metric(v1::METRIC_NPS);
  trend.set_interval(v1::INTERVAL_HOUR);
  EXPECT_THAT(metrics_.Call(&v1::MetricsService::Stub::GetTrend, trend, t::kAcmeRead),
              t::StatusIsField(StatusCode::kInvalidArgument, "range"));
}

TEST_F(ThreeServicesTest, ASignificantDropIsStreamedByWatchAlertsOnce) {
  v1::CreateAlertRuleRequest create;
  create.set_request_id("drop");
  auto* rule = create.mutable_rule();
  rule->set_display_name("NPS drop");
  rule->set_metric(v1::METRIC_NPS);
  rule->mutable_window()->set_seconds(24 * 3600);
  rule->set_min_drop(10);
  rule->set_min_sample(100);
  auto created = metrics_.Call(&v1::MetricsService::Stub::CreateAlertRule, create, t::kAcmeAdmin);
  ASSERT_TRUE(created.ok()) << created.status();

  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", std::string("Bearer ") + t::kAcmeRead);
  v1::WatchAlertsRequest watch;
  auto reader = metrics_.stub->WatchAlerts(&ctx, watch);
  std::vector<v1::Alert> streamed;
  std::thread follower([&] {
    v1::WatchAlertsResponse r;
    while (reader->Read(&r)) {
      for (const auto& a : r.alerts()) streamed.push_back(a);
    }
  });

  SubmitNps("prev", Nps(300, 180, 30), absl::Hours(30));  // NPS 50 the day before
  SubmitNps("cur", Nps(300, 60, 90), absl::Hours(1));     // NPS -10 today
  ASSERT_TRUE(WaitFor([&] {
    auto list = metrics_.Call(&v1::MetricsService::Stub::ListAlerts, v1::ListAlertsRequest{}, t::kAcmeRead);
    return list.ok() && list->alerts_size() == 1;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // a few more evaluations
  ctx.TryCancel();
  follower.join();
  ASSERT_EQ(streamed.size(), 1u);
  EXPECT_NE(shared::HttpGet(metrics_server_->metrics_port(), "/metrics").find("cx_alerts_fired_total 1"), std::string::npos);
  EXPECT_EQ(streamed[0].rule_name(), created->rule().name());
  EXPECT_LT(streamed[0].p_value(), 0.05);
  auto list = metrics_.Call(&v1::MetricsService::Stub::ListAlerts, v1::ListAlertsRequest{}, t::kAcmeRead);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->alerts_size(), 1);
  auto other = metrics_.Call(&v1::MetricsService::Stub::ListAlerts, v1::ListAlertsRequest{}, t::kGlobexAdmin);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->alerts_size(), 0);
}

TEST_F(ThreeServicesTest, JourneyEventsReachFunnelsSupportAndAStreamOfCustomerHealth) {
  Upsert("jo", "smb", 1);
  Upsert("kim", "smb", 1);
  // A CRM connector follows health from the start.
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", std::string("Bearer ") + t::kAcmeRead);
  auto reader = metrics_.stub->WatchCustomerHealth(&ctx, v1::WatchCustomerHealthRequest{});
  std::mutex mu;
  std::vector<v1::CustomerHealth> streamed;
  std::thread follower([&] {
    v1::WatchCustomerHealthResponse r;
    while (reader->Read(&r)) {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& h : r.customers()) streamed.push_back(h);
    }
  });
  const absl::Time t0 = absl::Now() - absl::Hours(5);
  journey::v1::BatchRecordEventsRequest batch;
  auto add = [&](const std::string& id, const std::string& who, const std::string& type, absl::Duration after) {
    auto* e = batch.add_events();
    e->set_event_id(id);
    e->set_customer_id(who);
    e->set_type(type);
    e->set_channel(common::v1::CHANNEL_WEB);
    *e->mutable_occurred_at() = shared::ToProtoTime(t0 + after);
    return e;
  };
  add("j1", "jo", "page_view", absl::Minutes(0));
  add("j2", "jo", "add_to_cart", absl::Minutes(10));
  add("k1", "kim", "page_view", absl::Minutes(5));
  (*add("k2", "kim", "support_ticket_opened", absl::Minutes(20))->mutable_properties())["ticket_id"] = "T-1";
  (*add("k3", "kim", "support_ticket_resolved", absl::Minutes(80))->mutable_properties())["ticket_id"] = "T-1";
  auto recorded = journey_.Call(&journey::v1::JourneyService::Stub::BatchRecordEvents, batch, t::kAcmeIngest);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  ASSERT_EQ(recorded->accepted_count(), 5);

  v1::GetFunnelRequest funnel;
  funnel.add_steps()->set_event_type("page_view");
  funnel.add_steps()->set_event_type("add_to_cart");
  funnel.mutable_conversion_window()->set_seconds(3600);
  *funnel.mutable_range() = [&] {
    common::v1::TimeRange r;
    *r.mutable_start_time() = shared::ToProtoTime(t0 - absl::Hours(1));
    *r.mutable_end_time() = shared::ToProtoTime(absl::Now());
    return r;
  }();
  ASSERT_TRUE(WaitFor([&] {
    auto f = metrics_.Call(&v1::MetricsService::Stub::GetFunnel, funnel, t::kAcmeRead);
    return f.ok() && f->steps(0).customers() == 2 && f->steps(1).customers() == 1;
  }));
  v1::GetSupportMetricsRequest support;
  *support.mutable_range() = funnel.range();
  auto s = metrics_.Call(&v1::MetricsService::Stub::GetSupportMetrics, support, t::kAcmeRead);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->total().resolved(), 1);
  EXPECT_EQ(s->total().median_time_to_resolution().seconds(), 3600);
  // Another tenant sees nothing; a bad request names its field.
  auto other = metrics_.Call(&v1::MetricsService::Stub::GetFunnel, funnel, t::kGlobexAdmin);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->steps(0).customers(), 0);
  funnel.clear_steps();
  EXPECT_THAT(metrics_.Call(&v1::MetricsService::Stub::GetFunnel, funnel, t::kAcmeRead),
              t::StatusIsField(absl::StatusCode::kInvalidArgument, "steps"));

  // The stream carried both customers, with versions rising, the latest
  // health showing the events.
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(mu);
    int jo = 0;
    for (const auto& h : streamed) jo = h.customer_id() == "jo" ? static_cast<int>(h.events()) : jo;
    return jo == 2;
  }));
  ctx.TryCancel();
  follower.join();
  for (size_t i = 1; i < streamed.size(); ++i) EXPECT_GT(streamed[i].version(), streamed[i - 1].version());
  v1::GetCustomerHealthRequest health;
  health.set_customer_id("kim");
  auto kim = metrics_.Call(&v1::MetricsService::Stub::GetCustomerHealth, health, t::kAcmeRead);
  ASSERT_TRUE(kim.ok()) << kim.status();
  EXPECT_EQ(kim->health().events(), 3);
  EXPECT_EQ(kim->health().open_tickets(), 0);
  EXPECT_THAT(metrics_.Call(&v1::MetricsService::Stub::GetCustomerHealth, health, t::kGlobexAdmin),
              t::StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ThreeServicesTest, FollowUpCasesOpenedAndResolvedReachCustomerHealth) {
  using FeedbackStub = feedback::v1::FeedbackService::Stub;
  SubmitNps("fu", {2, 10}, absl::Hours(1), 2);  // c0 answers 2 (opens a case), c1 answers 10
  v1::GetCustomerHealthRequest health;
  health.set_customer_id("c0");
  auto open_cases = [&](const std::string& customer) -> int64_t {
    health.set_customer_id(customer);
    auto h = metrics_.Call(&v1::MetricsService::Stub::GetCustomerHealth, health, t::kAcmeRead);
    return h.ok() ? h->health().open_follow_ups() : -1;
  };
  ASSERT_TRUE(WaitFor([&] { return open_cases("c0") == 1; })) << open_cases("c0");
  EXPECT_EQ(open_cases("c1"), 0);
  health.set_customer_id("c0");
  auto before = metrics_.Call(&v1::MetricsService::Stub::GetCustomerHealth, health, t::kAcmeRead);
  ASSERT_TRUE(before.ok());

  auto cases = feedback_.Call(&FeedbackStub::ListFollowUps, feedback::v1::ListFollowUpsRequest(), t::kAcmeRead);
  ASSERT_TRUE(cases.ok());
  ASSERT_EQ(cases->follow_ups_size(), 1);
  feedback::v1::UpdateFollowUpRequest update;
  update.set_name(cases->follow_ups(0).name());
  update.set_status(feedback::v1::FOLLOW_UP_STATUS_IN_PROGRESS);
  ASSERT_TRUE(feedback_.Call(&FeedbackStub::UpdateFollowUp, update, t::kAcmeIngest).ok());
  update.set_status(feedback::v1::FOLLOW_UP_STATUS_RESOLVED);
  update.set_outcome(feedback::v1::FOLLOW_UP_OUTCOME_RESOLVED);
  ASSERT_TRUE(feedback_.Call(&FeedbackStub::UpdateFollowUp, update, t::kAcmeIngest).ok());
  ASSERT_TRUE(WaitFor([&] { return open_cases("c0") == 0; })) << open_cases("c0");
  health.set_customer_id("c0");
  auto after = metrics_.Call(&v1::MetricsService::Stub::GetCustomerHealth, health, t::kAcmeRead);
  ASSERT_TRUE(after.ok());
  EXPECT_GT(after->health().version(), before->health().version());  // a CRM sync sees the change

  // The counts survive a restart (rebuilt from the stored cases).
  metrics_server_.reset();
  SubmitNps("fu2", {0}, absl::Hours(1), 1);  // another case for c0 while metrics-service is down
  StartMetrics();
  ASSERT_TRUE(WaitFor([&] { return open_cases("c0") == 1; })) << open_cases("c0");
}

TEST_F(ThreeServicesTest, ARestartMidConsumptionResumesFromTheStoredCursorsWithNothingLostOrRepeated) {
  SubmitNps("one", Nps(600, 300, 100), absl::Hours(3));
  ASSERT_TRUE(WaitFor([&] { return ScoreN() == 600; }));
  metrics_server_->Shutdown();
  metrics_server_.reset();
  SubmitNps("two", Nps(700, 100, 300), absl::Hours(3));  // while metrics-service is down
  Upsert("c3", "enterprise", 1);
  StartMetrics();
  ASSERT_TRUE(WaitFor([&] { return ScoreN() == 1300 && SegmentN("enterprise") == 130; }))
      << ScoreN() << " " << SegmentN("enterprise");
  auto s = Score();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->score().top_count(), 400);
  EXPECT_EQ(s->score().bottom_count(), 400);
  // Nothing is applied twice later either.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(ScoreN(), 1300);
}

TEST_F(ThreeServicesTest, TheConsumerReconnectsWithBackoffWhenFeedbackServiceRestarts) {
  SubmitNps("before", Nps(100, 50, 20), absl::Hours(1));
  ASSERT_TRUE(WaitFor([&] { return ScoreN() == 100; }));
  const int port = feedback_server_->port();
  feedback_server_->Shutdown();
  feedback_server_.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the consumer retries meanwhile
  StartFeedback(port);
  SubmitNps("after", Nps(100, 10, 60), absl::Hours(1));
  ASSERT_TRUE(WaitFor([&] { return ScoreN() == 200; })) << ScoreN();
  EXPECT_NE(shared::HttpGet(metrics_server_->metrics_port(), "/metrics").find("cx_feed_reconnects_total{feed=\"feedback\"}"),
            std::string::npos);
  auto s = Score();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->score().top_count(), 60);
  EXPECT_EQ(s->score().bottom_count(), 80);
}

}  // namespace
}  // namespace cx::metrics
