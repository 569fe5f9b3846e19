// MetricsManager over a real repository (SQLite and MariaDB) fed through the
// FeedApplier: the published NPS example, alerts that fire once per
// significant breach and never on noise, rules and alerts per tenant, and
// bad input naming its field.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "metrics-service/feed_applier.h"
#include "metrics-service/metrics_manager.h"
#include "metrics-service/sql_metrics_repository.h"
#include "shared/db/sql.h"
#include "shared/testing/test_util.h"

namespace cx::metrics {
namespace {

namespace t = shared::testing;
using absl::StatusCode;
using t::StatusIs;
using t::StatusIsField;

constexpr int64_t kNowHour = 490000;  // the alert clock: half past this hour

cx::common::v1::TimeRange Hours(int64_t from, int64_t to) {
  cx::common::v1::TimeRange r;
  r.mutable_start_time()->set_seconds(from * 3600);
  r.mutable_end_time()->set_seconds(to * 3600);
  return r;
}

class MetricsManagerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = std::make_unique<t::ScratchDatabase>(GetParam(), "metrics_manager");
    CX_ASSERT_OK(db_->status());
    auto pool = shared::db::OpenDatabase(db_->url(), "", 2);
    ASSERT_TRUE(pool.ok());
    auto repo = OpenMetricsRepository(*pool);
    ASSERT_TRUE(repo.ok()) << repo.status();
    repository_ = *repo;
    index_ = std::make_shared<RollupIndex>();
    MetricsManagerOptions options;
    options.page_token_key = "k";
    options.clock = [this] { return now_; };
    options.on_alert = [this] { ++alerts_notified_; };
    manager_ = std::make_shared<MetricsManager>(repository_, index_, options);
    applier_ = std::make_shared<FeedApplier>(repository_, index_, std::make_shared<JourneyIndex>(),
                                             [this](const std::vector<std::string>& tenants) {
                                               CX_EXPECT_OK(manager_->EvaluateAlerts(tenants));
                                             });
  }

  // Scores of one kind at an hour, as one feed batch.
  void Add(const std::string& tenant, feedback::v1::FeedbackKind kind, const std::vector<int>& scores, int64_t hour,
           cx::common::v1::Channel channel = cx::common::v1::CHANNEL_WEB) {
    std::vector<feedback::v1::FeedbackChange> batch;
    for (int score : scores) {
      feedback::v1::FeedbackChange c;
      c.set_sequence(sequence_ + static_cast<int64_t>(batch.size()) + 1);
      c.set_tenant(tenant);
      auto* f = c.mutable_feedback_created();
      f->set_id(absl::StrCat("f", c.sequence()));
      f->set_customer_id("c1");
      f->set_kind(kind);
      f->set_score(score);
      f->set_channel(channel);
      f->mutable_occurred_at()->set_seconds(hour * 3600 + 60);
      batch.push_back(c);
    }
    CX_ASSERT_OK(applier_->ApplyFeedback(sequence_, batch));
    sequence_ += static_cast<int64_t>(batch.size());
  }

  // n answers: `promoters` 10s, `detractors` 3s, the rest 8s.
  static std::vector<int> Nps(int n, int promoters, int detractors) {
    std::vector<int> s(static_cast<size_t>(n), 8);
    for (int i = 0; i < promoters; ++i) s[static_cast<size_t>(i)] = 10;
    for (int i = 0; i < detractors; ++i) s[static_cast<size_t>(promoters + i)] = 3;
    return s;
  }

  v1::AlertRule Rule(const std::string& name, double min_drop, int64_t min_sample) {
    v1::AlertRule r;
    r.set_display_name(name);
    r.set_metric(v1::METRIC_NPS);
    r.mutable_window()->set_seconds(24 * 3600);
    r.set_min_drop(min_drop);
    r.set_min_sample(min_sample);
    r.set_significance_level(0.01);
    return r;
  }

  v1::AlertRule Create(const std::string& request_id, const v1::AlertRule& rule) {
    v1::CreateAlertRuleRequest req;
    req.set_request_id(request_id);
    *req.mutable_rule() = rule;
    auto created = manager_->CreateAlertRule(admin_, req);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->rule() : v1::AlertRule{};
  }

  std::vector<v1::Alert> Alerts(const shared::Principal& p, const std::string& rule_name = "") {
    v1::ListAlertsRequest req;
    req.set_rule_name(rule_name);
    auto list = manager_->ListAlerts(p, req);
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? std::vector<v1::Alert>(list->alerts().begin(), list->alerts().end()) : std::vector<v1::Alert>{};
  }

  std::unique_ptr<t::ScratchDatabase> db_;
  std::shared_ptr<MetricsRepository> repository_;
  std::shared_ptr<RollupIndex> index_;
  std::shared_ptr<MetricsManager> manager_;
  std::shared_ptr<FeedApplier> applier_;
  absl::Time now_ = absl::FromUnixSeconds(kNowHour * 3600 + 1800);
  int alerts_notified_ = 0;
  int64_t sequence_ = 0;
  shared::Principal reader_{"acme", shared::kRoleRead, "token:reader"};
  shared::Principal admin_{"acme", shared::kRoleAdmin, "token:admin"};
  shared::Principal other_{"globex", shared::kRoleAdmin, "token:other"};
};

TEST_P(MetricsManagerTest, ThePublishedExample400AnswersHalfPromotersAFifthDetractorsIsNps30PlusMinus7Point65) {
  Add("acme", feedback::v1::FEEDBACK_KIND_NPS, Nps(400, 200, 80), kNowHour - 5);
  v1::GetScoreRequest req;
  req.set_metric(v1::METRIC_NPS);
  *req.mutable_range() = Hours(kNowHour - 24, kNowHour);
  auto s = manager_->GetScore(reader_, req);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->score().n(), 400);
  EXPECT_EQ(s->score().top_count(), 200);
  EXPECT_EQ(s->score().middle_count(), 120);
  EXPECT_EQ(s->score().bottom_count(), 80);
  EXPECT_DOUBLE_EQ(s->score().value(), 30.0);
  EXPECT_NEAR(s->score().margin_of_error(), 7.65, 0.005);
  EXPECT_NEAR(s->score().interval_low(), 22.35, 0.005);
  EXPECT_NEAR(s->score().interval_high(), 37.65, 0.005);
  EXPECT_EQ(s->score().scale().min(), -100);
  EXPECT_EQ(s->score().scale().max(), 100);
  // Another tenant sees none of it.
  auto other = manager_->GetScore(other_, req);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->score().n(), 0);
  EXPECT_FALSE(other->score().defined());
}

TEST_P(MetricsManagerTest, CsatIsTopTwoBoxAndCesTheMeanOnItsScale) {
  Add("acme", feedback::v1::FEEDBACK_KIND_CSAT, {5, 4, 3, 2, 1, 5, 4, 4}, kNowHour - 2);
  Add("acme", feedback::v1::FEEDBACK_KIND_CES, {7, 6, 5, 1}, kNowHour - 2);
  v1::GetScoreRequest req;
  req.set_metric(v1::METRIC_CSAT);
  *req.mutable_range() = Hours(kNowHour - 3, kNowHour);
  auto csat = manager_->GetScore(reader_, req);
  ASSERT_TRUE(csat.ok());
  EXPECT_DOUBLE_EQ(csat->score().value(), 62.5);  // 5 of 8 answered 4-5
  req.set_metric(v1::METRIC_CES);
  auto ces = manager_->GetScore(reader_, req);
  ASSERT_TRUE(ces.ok());
  EXPECT_DOUBLE_EQ(ces->score().value(), 4.75);
  EXPECT_EQ(ces->score().scale().min(), 1);
  EXPECT_EQ(ces->score().scale().max(), 7);
}

TEST_P(MetricsManagerTest, ASignificantDropFiresExactlyOncePerBreachAndNoiseNeverFires) {
  const v1::AlertRule drop = Create("r1", Rule("NPS drop", 10, 100));
  v1::AlertRule by_email = Rule("email NPS", 1, 30);
  by_email.mutable_filters()->set_channel(cx::common::v1::CHANNEL_EMAIL);
  const v1::AlertRule noise = Create("r2", by_email);
  const v1::AlertRule small = Create("r3", Rule("needs 1000 answers", 10, 1000));

  // Previous day: NPS 50 (60% promoters, 10% detractors); email NPS 50 on 40.
  Add("acme", feedback::v1::FEEDBACK_KIND_NPS, Nps(200, 120, 20), kNowHour - 30);
  Add("acme", feedback::v1::FEEDBACK_KIND_NPS, Nps(40, 24, 4), kNowHour - 30, cx::common::v1::CHANNEL_EMAIL);
  EXPECT_TRUE(Alerts(reader_).empty());
  // Today: NPS 0 overall (significant); email 45 on 40 (inside the noise).
  Add("acme", feedback::v1::FEEDBACK_KIND_NPS, Nps(200, 60, 60), kNowHour - 3);
  Add("acme", feedback::v1::FEEDBACK_KIND_NPS, Nps(40, 22, 4), kNowHour - 3, cx::common::v1::CHANNEL_EMAIL);

  auto alerts = Alerts(reader_);
  ASSERT_EQ(alerts.size(), 1u);
  const v1::Alert& a = alerts[0];
  EXPECT_EQ(a.rule_name(), drop.name());
  EXPECT_EQ(a.sequence(), 1);
  EXPECT_EQ(a.name(), "alerts/1");
  EXPECT_EQ(a.previous().n(), 240);
  EXPECT_EQ(a.current().n(), 200);  // it fired on the first batch of the bad day
  EXPECT_GT(a.drop(), 10);
  EXPECT_LT(a.p_value(), 0.01);
  EXPECT_NEAR(a.z(), a.drop() / a.drop_standard_error(), 1e-9);
  EXPECT_TRUE(absl::StrContains(a.reason(), "METRIC_NPS fell from")) << a.reason();
  EXPECT_EQ(a.current_window().end_time().seconds(), (kNowHour + 1) * 3600);
  EXPECT_EQ(a.current_window().start_time().seconds(), (kNowHour + 1 - 24) * 3600);
  EXPECT_EQ(alerts_notified_, 1);

  // Still breached: evaluations and more bad answers do not fire again.
  CX_ASSERT_OK(manager_->EvaluateAlerts({}));
  Add("acme", feedback::v1::FEEDBACK_KIND_NPS, Nps(50, 0, 50), kNowHour - 1);
  CX_ASSERT_OK(manager_->EvaluateAlerts({"acme"}));
  EXPECT_EQ(Alerts(reader_).size(), 1u);
  EXPECT_TRUE(Alerts(reader_, noise.name()).empty());
  EXPECT_TRUE(Alerts(reader_, small.name()).empty());

  // The breach ends (two days later both windows are empty), then a new
  // drop fires again: once per breach.
  now_ += absl::Hours(48);
  CX_ASSERT_OK(manager_->EvaluateAlerts({}));
  v1::ListAlertRulesRequest list;
  auto rules = manager_->ListAlertRules(reader_, list);
  ASSERT_TRUE(rules.ok());
  for (const auto& r : rules->rules()) EXPECT_FALSE(r.in_breach()) << r.display_name();
  Add("acme", feedback::v1::FEEDBACK_KIND_NPS, Nps(300, 300, 0), kNowHour + 2);   // previous: all promoters
  Add("acme", feedback::v1::FEEDBACK_KIND_NPS, Nps(300, 0, 300), kNowHour + 30);  // current: all detractors
  EXPECT_EQ(Alerts(reader_, drop.name()).size(), 2u);
  EXPECT_EQ(Alerts(reader_, small.name()).size(), 0u);  // 300 < its minimum sample
  EXPECT_TRUE(Alerts(other_).empty());  // alerts are the tenant's own
}

TEST_P(MetricsManagerTest, AlertRulesAreIdempotentByRequestIdPagedAndDeletedOnlyByTheirTenant) {
  const v1::AlertRule a = Create("same", Rule("a", 5, 10));
  const v1::AlertRule again = Create("same", Rule("a", 5, 10));
  EXPECT_EQ(a.rule_id(), again.rule_id());
  v1::CreateAlertRuleRequest reuse;
  reuse.set_request_id("same");
  *reuse.mutable_rule() = Rule("different", 5, 10);
  EXPECT_THAT(manager_->CreateAlertRule(admin_, reuse), StatusIs(StatusCode::kAlreadyExists));
  for (int i = 0; i < 4; ++i) Create(absl::StrCat("r", i), Rule(absl::StrCat("rule ", i), 5, 10));
  v1::ListAlertRulesRequest list;
  list.set_page_size(2);
  std::vector<std::string> seen;
  for (int page = 0; page < 5; ++page) {
    auto r = manager_->ListAlertRules(reader_, list);
    ASSERT_TRUE(r.ok()) << r.status();
    for (const auto& rule : r->rules()) seen.push_back(rule.display_name());
    if (r->next_page_token().empty()) break;
    list.set_page_token(r->next_page_token());
    // The token is the tenant's own.
    EXPECT_THAT(manager_->ListAlertRules(other_, list), StatusIsField(StatusCode::kInvalidArgument, "page_token"));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "rule 0", "rule 1", "rule 2", "rule 3"}));
  v1::DeleteAlertRuleRequest del;
  del.set_name(a.name());
  EXPECT_THAT(manager_->DeleteAlertRule(other_, del), StatusIs(StatusCode::kNotFound));
  CX_EXPECT_OK(manager_->DeleteAlertRule(admin_, del));
  EXPECT_THAT(manager_->DeleteAlertRule(admin_, del), StatusIs(StatusCode::kNotFound));
}

TEST_P(MetricsManagerTest, BadInputNamesTheFieldAndStoresNothing) {
  auto score = [&](auto edit) {
    v1::GetScoreRequest r;
    r.set_metric(v1::METRIC_NPS);
    *r.mutable_range() = Hours(kNowHour - 24, kNowHour);
    edit(r);
    return manager_->GetScore(reader_, r).status();
  };
  EXPECT_THAT(score([](auto& r) { r.set_metric(v1::METRIC_UNSPECIFIED); }), StatusIsField(StatusCode::kInvalidArgument, "metric"));
  EXPECT_THAT(score([](auto& r) { r.set_metric(static_cast<v1::Metric>(42)); }), StatusIsField(StatusCode::kInvalidArgument, "metric"));
  EXPECT_THAT(score([](auto& r) { *r.mutable_range() = Hours(kNowHour, kNowHour - 1); }), StatusIsField(StatusCode::kInvalidArgument, "range"));
  EXPECT_THAT(score([](auto& r) { r.clear_range(); }), StatusIsField(StatusCode::kInvalidArgument, "range"));
  EXPECT_THAT(score([](auto& r) { r.mutable_range()->mutable_start_time()->set_nanos(-5); }),
              StatusIsField(StatusCode::kInvalidArgument, "range.start_time"));
  EXPECT_THAT(score([](auto& r) { r.mutable_filters()->set_channel(static_cast<cx::common::v1::Channel>(99)); }),
              StatusIsField(StatusCode::kInvalidArgument, "filters.channel"));
  EXPECT_THAT(score([](auto& r) { r.mutable_filters()->set_segment("no spaces allowed"); }),
              StatusIsField(StatusCode::kInvalidArgument, "filters.segment"));
  EXPECT_THAT(score([](auto& r) { r.mutable_filters()->set_touchpoint_id("a b"); }),
              StatusIsField(StatusCode::kInvalidArgument, "filters.touchpoint_id"));

  auto trend = [&](auto edit) {
    v1::GetTrendRequest r;
    r.set_metric(v1::METRIC_CSAT);
    r.set_interval(v1::INTERVAL_DAY);
    *r.mutable_range() = Hours(kNowHour - 240, kNowHour);
    edit(r);
    return manager_->GetTrend(reader_, r).status();
  };
  CX_EXPECT_OK(trend([](auto&) {}));
  EXPECT_THAT(trend([](auto& r) { r.set_interval(v1::INTERVAL_UNSPECIFIED); }), StatusIsField(StatusCode::kInvalidArgument, "interval"));
  EXPECT_THAT(trend([](auto& r) { r.set_time_zone("Mars/Olympus"); }), StatusIsField(StatusCode::kInvalidArgument, "time_zone"));
  EXPECT_THAT(trend([](auto& r) { r.set_time_zone("Asia/Kolkata"); }), StatusIsField(StatusCode::kInvalidArgument, "time_zone"));
  EXPECT_THAT(trend([](auto& r) {  // 1001 hours
                r.set_interval(v1::INTERVAL_HOUR);
                *r.mutable_range() = Hours(kNowHour - 1001, kNowHour);
              }),
              StatusIsField(StatusCode::kInvalidArgument, "range"));
  CX_EXPECT_OK(trend([](auto& r) {  // exactly the cap
    r.set_interval(v1::INTERVAL_HOUR);
    *r.mutable_range() = Hours(kNowHour - 1000, kNowHour);
  }));

  v1::GetBreakdownRequest breakdown;
  breakdown.set_metric(v1::METRIC_NPS);
  *breakdown.mutable_range() = Hours(kNowHour - 24, kNowHour);
  EXPECT_THAT(manager_->GetBreakdown(reader_, breakdown), StatusIsField(StatusCode::kInvalidArgument, "dimension"));
  breakdown.set_dimension(static_cast<v1::Dimension>(7));
  EXPECT_THAT(manager_->GetBreakdown(reader_, breakdown), StatusIsField(StatusCode::kInvalidArgument, "dimension"));
  v1::GetDriversRequest drivers;
  drivers.set_metric(v1::METRIC_NPS);
  *drivers.mutable_range() = Hours(kNowHour - 24, kNowHour);
  EXPECT_THAT(manager_->GetDrivers(reader_, drivers), StatusIsField(StatusCode::kInvalidArgument, "dimension"));
  v1::CompareScoresRequest compare;
  compare.set_metric(v1::METRIC_NPS);
  *compare.mutable_period_a() = Hours(kNowHour - 48, kNowHour - 24);
  *compare.mutable_period_b() = Hours(kNowHour, kNowHour - 24);
  compare.set_confidence_level(1.5);
  auto c = manager_->CompareScores(reader_, compare);
  EXPECT_THAT(c, StatusIsField(StatusCode::kInvalidArgument, "period_b"));
  EXPECT_THAT(c, StatusIsField(StatusCode::kInvalidArgument, "confidence_level"));

  auto create = [&](auto edit) {
    v1::CreateAlertRuleRequest r;
    r.set_request_id("bad");
    *r.mutable_rule() = Rule("x", 5, 10);
    edit(r);
    return manager_->CreateAlertRule(admin_, r).status();
  };
  EXPECT_THAT(create([](auto& r) { r.clear_request_id(); }), StatusIsField(StatusCode::kInvalidArgument, "request_id"));
  EXPECT_THAT(create([](auto& r) { r.mutable_rule()->clear_display_name(); }), StatusIsField(StatusCode::kInvalidArgument, "rule.display_name"));
  EXPECT_THAT(create([](auto& r) { r.mutable_rule()->mutable_window()->set_seconds(5400); }), StatusIsField(StatusCode::kInvalidArgument, "rule.window"));
  EXPECT_THAT(create([](auto& r) { r.mutable_rule()->clear_window(); }), StatusIsField(StatusCode::kInvalidArgument, "rule.window"));
  EXPECT_THAT(create([](auto& r) { r.mutable_rule()->set_min_drop(0); }), StatusIsField(StatusCode::kInvalidArgument, "rule.min_drop"));
  EXPECT_THAT(create([](auto& r) { r.mutable_rule()->set_min_sample(1); }), StatusIsField(StatusCode::kInvalidArgument, "rule.min_sample"));
  EXPECT_THAT(create([](auto& r) { r.mutable_rule()->set_significance_level(0.9); }),
              StatusIsField(StatusCode::kInvalidArgument, "rule.significance_level"));
  EXPECT_THAT(create([](auto& r) { r.mutable_rule()->set_metric(v1::METRIC_UNSPECIFIED); }), StatusIsField(StatusCode::kInvalidArgument, "rule.metric"));
  EXPECT_THAT(create([](auto& r) { r.mutable_rule()->mutable_filters()->set_tag("bad tag"); }),
              StatusIsField(StatusCode::kInvalidArgument, "rule.filters.tag"));
  auto rules = manager_->ListAlertRules(admin_, v1::ListAlertRulesRequest{});
  ASSERT_TRUE(rules.ok());
  EXPECT_EQ(rules->rules_size(), 0);  // nothing stored

  v1::ListAlertsRequest alerts;
  alerts.set_rule_name("rules/x");
  EXPECT_THAT(manager_->ListAlerts(reader_, alerts), StatusIsField(StatusCode::kInvalidArgument, "rule_name"));
  alerts.set_rule_name("");
  alerts.set_page_size(201);
  EXPECT_THAT(manager_->ListAlerts(reader_, alerts), StatusIsField(StatusCode::kInvalidArgument, "page_size"));
  v1::DeleteAlertRuleRequest del;
  del.set_name("alertRules/");
  EXPECT_THAT(manager_->DeleteAlertRule(admin_, del), StatusIsField(StatusCode::kInvalidArgument, "name"));
}

INSTANTIATE_TEST_SUITE_P(Backends, MetricsManagerTest, ::testing::Values("sqlite", "mysql"),
                         [](const auto& info) { return info.param == "sqlite" ? "SQLite" : "MariaDB"; });

}  // namespace
}  // namespace cx::metrics
