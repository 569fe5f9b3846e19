// The journey metrics below gRPC: hand-checked examples of every metric
// (arithmetic in the comments), bad input, and a randomized comparison with
// brute-force computations over the raw events, including late events,
// repeated events, merges and unmerges of customers and anonymous visitors,
// on SQLite and MariaDB, before and after a restart.
#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "metrics-service/feed_applier.h"
#include "metrics-service/journey_metrics.h"
#include "metrics-service/sql_metrics_repository.h"
#include "shared/db/sql.h"
#include "shared/testing/test_util.h"

namespace cx::metrics {
namespace {

namespace t = shared::testing;
using common::v1::TimeRange;
using journey::v1::JourneyChange;

constexpr int64_t kDay = 86400;
constexpr int64_t kBase = 1727740800;  // 2024-10-01T00:00:00Z, a Tuesday
const shared::Principal kAcme{"acme", shared::kRoleRead, ""};

TimeRange Range(int64_t from_s, int64_t to_s) {
  TimeRange r;
  r.mutable_start_time()->set_seconds(from_s);
  r.mutable_end_time()->set_seconds(to_s);
  return r;
}

int64_t Us(const google::protobuf::Duration& d) { return d.seconds() * 1000000 + d.nanos() / 1000; }

// Builds journey and feedback feeds.
struct Feeds {
  std::vector<JourneyChange> journey;
  std::vector<feedback::v1::FeedbackChange> feedback;

  JourneyChange& Next(const std::string& tenant) {
    journey.emplace_back();
    journey.back().set_sequence(static_cast<int64_t>(journey.size()));
    journey.back().set_tenant(tenant);
    return journey.back();
  }
  void Customer(const std::string& id, const std::string& segment, const std::string& tenant = "acme") {
    auto* c = Next(tenant).mutable_customer_upserted();
    c->set_customer_id(id);
    c->mutable_traits()->set_segment(segment);
  }
  journey::v1::Event* Event(const std::string& id, const std::string& who, const std::string& type, int64_t seconds,
                            const std::string& tenant = "acme") {
    auto* e = Next(tenant).mutable_event_recorded();
    e->set_event_id(id);
    if (who.rfind("anon:", 0) == 0) e->set_anonymous_id(who.substr(5));
    else e->set_customer_id(who);
    e->set_type(type);
    e->mutable_event_time()->set_seconds(seconds);
    return e;
  }
  void Merge(const std::string& source, const std::string& target, bool undo = false) {
    auto& change = Next("acme");
    auto* m = undo ? change.mutable_customers_unmerged() : change.mutable_customers_merged();
    if (source.rfind("anon:", 0) == 0) m->mutable_source()->set_anonymous_id(source.substr(5));
    else m->mutable_source()->set_customer_id(source);
    m->set_target_customer_id(target);
  }
  void Answer(const std::string& id, const std::string& customer, feedback::v1::FeedbackKind kind, int score,
              int64_t seconds) {
    feedback.emplace_back();
    auto& c = feedback.back();
    c.set_sequence(static_cast<int64_t>(feedback.size()));
    c.set_tenant("acme");
    auto* f = c.mutable_feedback_created();
    f->set_id(id);
    f->set_customer_id(customer);
    f->set_kind(kind);
    f->set_score(score);
    f->mutable_occurred_at()->set_seconds(seconds);
  }
};

class JourneyFixture {
 public:
  explicit JourneyFixture(const std::string& backend) : db_(backend, "journey_metrics") {}

  void Open(std::function<absl::Time()> clock) {
    ASSERT_TRUE(db_.status().ok()) << db_.status();
    auto pool = shared::db::OpenDatabase(db_.url(), "", 2);
    ASSERT_TRUE(pool.ok()) << pool.status();
    auto repo = OpenMetricsRepository(*pool);
    ASSERT_TRUE(repo.ok()) << repo.status();
    repository_ = *repo;
    index_ = std::make_shared<JourneyIndex>();
    applier_ = std::make_shared<FeedApplier>(repository_, std::make_shared<RollupIndex>(), index_);
    CX_ASSERT_OK(applier_->Load());
    JourneyMetricsOptions options;
    options.page_token_key = "k";
    options.clock = std::move(clock);
    options.segment_value_ttl = absl::ZeroDuration();
    metrics_ = std::make_shared<JourneyMetrics>(index_, options);
  }

  void Apply(const Feeds& f, size_t journey_from, size_t journey_to, size_t feedback_from, size_t feedback_to) {
    if (journey_to > journey_from) {
      std::vector<JourneyChange> batch(f.journey.begin() + journey_from, f.journey.begin() + journey_to);
      CX_ASSERT_OK(applier_->ApplyJourney(static_cast<int64_t>(journey_from), batch));
    }
    if (feedback_to > feedback_from) {
      std::vector<feedback::v1::FeedbackChange> batch(f.feedback.begin() + feedback_from,
                                                      f.feedback.begin() + feedback_to);
      CX_ASSERT_OK(applier_->ApplyFeedback(static_cast<int64_t>(feedback_from), batch));
    }
  }
  void ApplyAll(const Feeds& f) { Apply(f, 0, f.journey.size(), 0, f.feedback.size()); }

  JourneyMetrics& metrics() { return *metrics_; }
  FeedApplier& applier() { return *applier_; }

 private:
  t::ScratchDatabase db_;
  std::shared_ptr<MetricsRepository> repository_;
  std::shared_ptr<JourneyIndex> index_;
  std::shared_ptr<FeedApplier> applier_;
  std::shared_ptr<JourneyMetrics> metrics_;
};

absl::Time Fixed(int64_t seconds) { return absl::FromUnixSeconds(seconds); }

// ---- hand-checked examples ----

TEST(JourneyMetricsExamples, FunnelCountsMergedIdentitiesOnceAndTimesConversions) {
  JourneyFixture fx("sqlite");
  ASSERT_NO_FATAL_FAILURE(fx.Open([] { return Fixed(kBase + 30 * kDay); }));
  Feeds f;
  f.Customer("alice", "smb");
  f.Customer("bob", "smb");
  f.Customer("carol", "enterprise");
  // alice: view at 0h, cart at 1h, order at 3h.
  f.Event("a1", "alice", "page_view", kBase);
  f.Event("a2", "alice", "add_to_cart", kBase + 3600);
  f.Event("a3", "alice", "order_placed", kBase + 3 * 3600);
  // bob: view at 0h as an anonymous visitor, cart at 2h; then the visitor
  // is merged into bob: one customer.
  f.Event("b1", "anon:v1", "page_view", kBase);
  f.Event("b2", "bob", "page_view", kBase + 60);
  f.Event("b3", "bob", "add_to_cart", kBase + 2 * 3600);
  f.Merge("anon:v1", "bob");
  // carol: view, then an order before any cart (strict: stops at step 1),
  // then a cart 2 days later (outside the 1-day window).
  f.Event("c1", "carol", "page_view", kBase);
  f.Event("c2", "carol", "order_placed", kBase + 600);
  f.Event("c3", "carol", "add_to_cart", kBase + 2 * kDay);
  fx.ApplyAll(f);

  v1::GetFunnelRequest r;
  r.add_steps()->set_event_type("page_view");
  r.add_steps()->set_event_type("add_to_cart");
  r.add_steps()->set_event_type("order_placed");
  r.mutable_conversion_window()->set_seconds(kDay);
  *r.mutable_range() = Range(kBase, kBase + kDay);
  auto strict = fx.metrics().GetFunnel(kAcme, r);
  CX_ASSERT_OK(strict);
  // Step 1: alice, bob (once, though two identities viewed), carol = 3.
  // Step 2: alice (1h), bob (2h after the visitor's view at 0h) = 2; carol's
  // cart is 2 days late. Step 3: alice (3h from first, 2h from previous).
  ASSERT_EQ(strict->steps_size(), 3);
  EXPECT_EQ(strict->steps(0).customers(), 3);
  EXPECT_EQ(strict->steps(1).customers(), 2);
  EXPECT_EQ(strict->steps(2).customers(), 1);
  EXPECT_DOUBLE_EQ(strict->steps(1).conversion_from_first(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(strict->steps(2).conversion_from_previous(), 1.0 / 2);
  EXPECT_EQ(strict->steps(1).drop_off(), 1);
  // Median of {1h, 2h} = 1.5h; mean the same.
  EXPECT_EQ(Us(strict->steps(1).median_time_from_first()), 5400LL * 1000000);
  EXPECT_EQ(Us(strict->steps(1).mean_time_from_first()), 5400LL * 1000000);
  EXPECT_EQ(Us(strict->steps(2).median_time_from_previous()), 2 * 3600LL * 1000000);
  EXPECT_DOUBLE_EQ(strict->overall_conversion(), 1.0 / 3);

  // Any order: carol's order at 10 min counts for step 3 only if step 2 was
  // reached too; it was not (in window), so still 2 and 1.
  r.set_order(v1::FUNNEL_ORDER_ANY);
  auto any = fx.metrics().GetFunnel(kAcme, r);
  CX_ASSERT_OK(any);
  EXPECT_EQ(any->steps(1).customers(), 2);
  EXPECT_EQ(any->steps(2).customers(), 1);
  // Segment filter: smb is alice and bob.
  r.mutable_filters()->set_segment("smb");
  EXPECT_EQ(fx.metrics().GetFunnel(kAcme, r)->steps(0).customers(), 2);

  // Unmerging the visitor splits bob again: the visitor viewed and never
  // carted; bob viewed at 60 s and carted at 2h.
  Feeds g = f;
  g.Merge("anon:v1", "bob", /*undo=*/true);
  fx.Apply(g, f.journey.size(), g.journey.size(), 0, 0);
  r.clear_filters();
  r.set_order(v1::FUNNEL_ORDER_STRICT);
  auto split = fx.metrics().GetFunnel(kAcme, r);
  EXPECT_EQ(split->steps(0).customers(), 4);
  EXPECT_EQ(split->steps(1).customers(), 2);
  // {1h, 2h - 60 s}: median (3600 + 7140) / 2 = 5370 s.
  EXPECT_EQ(Us(split->steps(1).median_time_from_first()), 5370LL * 1000000);
}

TEST(JourneyMetricsExamples, RetentionChurnAndNextSteps) {
  JourneyFixture fx("sqlite");
  ASSERT_NO_FATAL_FAILURE(fx.Open([] { return Fixed(kBase + 10 * kDay + 3600); }));
  Feeds f;
  // Day 0 cohort: u1, u2 sign up. Day 1 cohort: u3.
  f.Event("s1", "u1", "signup", kBase + 100);
  f.Event("s2", "u2", "signup", kBase + 200);
  f.Event("s3", "u3", "signup", kBase + kDay + 5);
  // u1 returns on day 1 and day 3; u2 on day 2; u3 never.
  f.Event("r1", "u1", "login", kBase + kDay + 10);
  f.Event("r2", "u1", "login", kBase + 3 * kDay);
  f.Event("r3", "u2", "login", kBase + 2 * kDay + 1);
  fx.ApplyAll(f);
  v1::GetRetentionRequest r;
  r.set_cohort_event_type("signup");
  r.set_return_event_type("login");
  r.set_interval(v1::INTERVAL_DAY);
  r.set_periods(3);
  *r.mutable_range() = Range(kBase, kBase + 2 * kDay);
  auto on = fx.metrics().GetRetention(kAcme, r);
  CX_ASSERT_OK(on);
  ASSERT_EQ(on->cohorts_size(), 2);
  // Day-0 cohort of 2: period 1 {u1} = 1/2, period 2 {u2} = 1/2, period 3 {u1} = 1/2.
  EXPECT_EQ(on->cohorts(0).size(), 2);
  ASSERT_EQ(on->cohorts(0).cells_size(), 4);
  EXPECT_EQ(on->cohorts(0).cells(1).retained(), 1);
  EXPECT_EQ(on->cohorts(0).cells(2).retained(), 1);
  EXPECT_EQ(on->cohorts(0).cells(3).retained(), 1);
  EXPECT_DOUBLE_EQ(on->cohorts(0).cells(3).rate(), 0.5);
  // Day-1 cohort of 1 (u3): nobody back.
  EXPECT_EQ(on->cohorts(1).size(), 1);
  EXPECT_EQ(on->cohorts(1).cells(1).retained(), 0);
  // Average of period 1: (1 + 0) / (2 + 1) = 1/3.
  EXPECT_DOUBLE_EQ(on->average(1).rate(), 1.0 / 3);
  // On or after: u1 (back on day 3) and u2 (day 2) both count in periods 1
  // and 2; only u1 in period 3.
  r.set_mode(v1::RETENTION_MODE_ON_OR_AFTER);
  auto after = fx.metrics().GetRetention(kAcme, r);
  EXPECT_EQ(after->cohorts(0).cells(1).retained(), 2);
  EXPECT_EQ(after->cohorts(0).cells(2).retained(), 2);
  EXPECT_EQ(after->cohorts(0).cells(3).retained(), 1);

  // Churn over [day 1, day 3) with activity within 1 day: at day 1 00:00,
  // u1 and u2 (signed up on day 0) are active = S = 2; at day 3 00:00 the
  // last day (day 2, 00:00 excluded .. day 3 00:00] holds u2's login at
  // day 2 + 1 s and u1's login at day 3 00:00 exactly: E = 2, both were
  // active at the start, N = 0: retention (2 - 0) / 2 = 1, churn 0.
  v1::GetChurnRequest c;
  *c.mutable_range() = Range(kBase + kDay, kBase + 3 * kDay);
  c.set_definition(v1::ACTIVITY_DEFINITION_RECENT_ACTIVITY);
  c.set_activity_days(1);
  auto churn = fx.metrics().GetChurn(kAcme, c);
  CX_ASSERT_OK(churn);
  ASSERT_EQ(churn->periods_size(), 1);
  EXPECT_EQ(churn->periods(0).active_at_start(), 2);
  EXPECT_EQ(churn->periods(0).active_at_end(), 2);
  EXPECT_DOUBLE_EQ(churn->periods(0).retention_rate(), 1);
  // Over [day 1, day 2): at day 2 00:00, u1 (login day 1 + 10 s) and u3
  // (signup day 1 + 5 s) are active: E = 2, N = 1 (u3), retained 1 (u1),
  // lost 1 (u2): churn 1/2.
  *c.mutable_range() = Range(kBase + kDay, kBase + 2 * kDay);
  churn = fx.metrics().GetChurn(kAcme, c);
  EXPECT_EQ(churn->periods(0).new_active(), 1);
  EXPECT_EQ(churn->periods(0).lost(), 1);
  EXPECT_DOUBLE_EQ(churn->periods(0).churn_rate(), 0.5);

  // Next steps after signup: u1 -> login, u2 -> login, u3 -> nothing.
  v1::GetNextStepsRequest n;
  n.set_event_type("signup");
  *n.mutable_range() = Range(kBase, kBase + 5 * kDay);
  auto next = fx.metrics().GetNextSteps(kAcme, n);
  CX_ASSERT_OK(next);
  EXPECT_EQ(next->occurrences(), 3);
  EXPECT_EQ(next->exits(), 1);
  ASSERT_EQ(next->steps_size(), 1);
  EXPECT_EQ(next->steps(0).event_type(), "login");
  EXPECT_EQ(next->steps(0).count(), 2);
  EXPECT_DOUBLE_EQ(next->steps(0).share(), 2.0 / 3);
}

TEST(JourneyMetricsExamples, NotEndedChurnAndLifetimeValueWithRefunds) {
  JourneyFixture fx("sqlite");
  ASSERT_NO_FATAL_FAILURE(fx.Open([] { return Fixed(kBase + 100 * kDay); }));
  Feeds f;
  f.Customer("p", "smb");
  f.Customer("q", "smb");
  f.Customer("s", "smb");
  auto order = [&](const std::string& id, const std::string& who, int64_t at, int64_t cents, const char* type) {
    auto* e = f.Event(id, who, type, at);
    e->mutable_revenue()->set_currency_code("EUR");
    e->mutable_revenue()->set_amount_minor(cents);
  };
  // Previous period [day 0, day 30): p and q purchase.
  order("o1", "p", kBase + 1 * kDay, 1000, "order_placed");
  order("o2", "q", kBase + 2 * kDay, 3000, "order_placed");
  // This period [day 30, day 60): p twice (60 + 40), s once (100), p gets
  // 20 back.
  order("o3", "p", kBase + 31 * kDay, 6000, "order_placed");
  order("o4", "p", kBase + 32 * kDay, 4000, "order_placed");
  order("o5", "s", kBase + 33 * kDay, 10000, "order_placed");
  order("o6", "p", kBase + 34 * kDay, 2000, "refund_issued");
  // Subscriptions: q cancels on day 40.
  f.Event("x1", "q", "subscription_started", kBase + 2 * kDay);
  f.Event("x2", "q", "subscription_cancelled", kBase + 40 * kDay);
  fx.ApplyAll(f);

  v1::GetCustomerLifetimeValueRequest r;
  r.set_currency_code("EUR");
  *r.mutable_range() = Range(kBase + 30 * kDay, kBase + 60 * kDay);
  r.set_customer_id("p");
  r.set_gross_margin(0.5);
  r.set_discount_rate(0.1);
  auto clv = fx.metrics().GetCustomerLifetimeValue(kAcme, r);
  CX_ASSERT_OK(clv);
  const v1::CustomerValue& all = clv->overall();
  // Orders 3, gross 200.00, refunds 20.00, net 180.00; purchasers p, s.
  EXPECT_EQ(all.orders(), 3);
  EXPECT_EQ(all.net_revenue_minor(), 18000);
  EXPECT_DOUBLE_EQ(all.average_order_value_minor(), 6000);  // 18000 / 3
  EXPECT_DOUBLE_EQ(all.purchase_frequency(), 1.5);          // 3 / 2
  EXPECT_DOUBLE_EQ(all.value_per_period_minor(), 9000);    // 6000 x 1.5
  // r: previous purchasers {p, q}, back this period {p}: 1/2; L = 1/(1-0.5) = 2.
  EXPECT_TRUE(all.retention_rate_measured());
  EXPECT_DOUBLE_EQ(all.retention_rate(), 0.5);
  EXPECT_DOUBLE_EQ(all.expected_lifespan_periods(), 2);
  // CLV = 9000 x 2 x 0.5 = 9000; retention form = (9000 x 0.5) x 0.5 / (1 + 0.1 - 0.5) = 3750.
  EXPECT_DOUBLE_EQ(all.lifetime_value_minor(), 9000);
  EXPECT_NEAR(all.retention_form_value_minor(), 3750, 1e-9);
  // p alone: net 80.00 over 2 orders, V = 8000; CLV = 8000 x 2 x 0.5 = 8000.
  EXPECT_EQ(clv->customer().net_revenue_minor(), 8000);
  EXPECT_DOUBLE_EQ(clv->customer().lifetime_value_minor(), 8000);

  // NOT_ENDED over [day 30, day 50): at day 30 p, q (started, not ended)
  // and s? s has no event before day 33: not active. At day 50 p, q
  // (cancelled day 40: ended), s: S = {p, q}, E = {p, s}, N = {s}:
  // retained 1, lost 1, churn 1/2.
  v1::GetChurnRequest c;
  *c.mutable_range() = Range(kBase + 30 * kDay, kBase + 50 * kDay);
  c.set_definition(v1::ACTIVITY_DEFINITION_NOT_ENDED);
  auto churn = fx.metrics().GetChurn(kAcme, c);
  CX_ASSERT_OK(churn);
  EXPECT_EQ(churn->periods(0).active_at_start(), 2);
  EXPECT_EQ(churn->periods(0).active_at_end(), 2);
  EXPECT_EQ(churn->periods(0).new_active(), 1);
  EXPECT_DOUBLE_EQ(churn->periods(0).churn_rate(), 0.5);
}

TEST(JourneyMetricsExamples, SupportTicketsAndCustomerHealth) {
  JourneyFixture fx("sqlite");
  const int64_t now = kBase + 40 * kDay;
  ASSERT_NO_FATAL_FAILURE(fx.Open([now] { return Fixed(now); }));
  Feeds f;
  f.Customer("dana", "smb");
  auto ticket = [&](const std::string& id, const std::string& ticket_id, const char* type, int64_t at,
                    common::v1::Channel channel) {
    auto* e = f.Event(id, "dana", type, at);
    (*e->mutable_properties())["ticket_id"] = ticket_id;
    e->set_channel(channel);
  };
  // T1 by phone: opened day 0, resolved after 2h: first-contact resolved.
  ticket("t1", "T1", "support_ticket_opened", kBase, common::v1::CHANNEL_PHONE);
  ticket("t2", "T1", "support_ticket_resolved", kBase + 7200, common::v1::CHANNEL_PHONE);
  // T2 by chat: opened, a further contact, resolved after 4h.
  ticket("t3", "T2", "support_ticket_opened", kBase + kDay, common::v1::CHANNEL_CHAT);
  ticket("t4", "T2", "support_ticket_contact", kBase + kDay + 600, common::v1::CHANNEL_CHAT);
  ticket("t5", "T2", "support_ticket_resolved", kBase + kDay + 4 * 3600, common::v1::CHANNEL_CHAT);
  // T3 by chat: opened, resolved after 1h, reopened, still open. Its
  // resolved event arrives before its opened one (late).
  ticket("t7", "T3", "support_ticket_resolved", kBase + 2 * kDay + 3600, common::v1::CHANNEL_CHAT);
  ticket("t6", "T3", "support_ticket_opened", kBase + 2 * kDay, common::v1::CHANNEL_CHAT);
  ticket("t8", "T3", "support_ticket_reopened", kBase + 2 * kDay + 7200, common::v1::CHANNEL_CHAT);
  f.Answer("n1", "dana", feedback::v1::FEEDBACK_KIND_NPS, 9, kBase);
  f.Answer("n2", "dana", feedback::v1::FEEDBACK_KIND_NPS, 4, kBase + 3 * kDay);
  f.Answer("s1", "dana", feedback::v1::FEEDBACK_KIND_CSAT, 2, kBase + 3 * kDay);
  f.Answer("s2", "dana", feedback::v1::FEEDBACK_KIND_CSAT, 3, kBase + 3 * kDay);
  fx.ApplyAll(f);

  v1::GetSupportMetricsRequest r;
  *r.mutable_range() = Range(kBase, kBase + 10 * kDay);
  auto s = fx.metrics().GetSupportMetrics(kAcme, r);
  CX_ASSERT_OK(s);
  // 3 opened, 2 resolved (T1 2h, T2 4h), 1 open. Nearest rank: median of
  // {2h, 4h} is rank ceil(0.5 x 2) = 1: 2h; p90 rank ceil(1.8) = 2: 4h.
  EXPECT_EQ(s->total().opened(), 3);
  EXPECT_EQ(s->total().resolved(), 2);
  EXPECT_EQ(s->total().open(), 1);
  EXPECT_EQ(Us(s->total().median_time_to_resolution()), 7200LL * 1000000);
  EXPECT_EQ(Us(s->total().p90_time_to_resolution()), 4 * 3600LL * 1000000);
  // FCR: T1 only of 2 resolved = 1/2. Reopen: T3 of 3 ever resolved = 1/3.
  EXPECT_DOUBLE_EQ(s->total().first_contact_resolution_rate(), 0.5);
  EXPECT_DOUBLE_EQ(s->total().reopen_rate(), 1.0 / 3);
  ASSERT_EQ(s->by_channel_size(), 2);
  EXPECT_EQ(s->by_channel(0).value(), "CHANNEL_PHONE");
  EXPECT_EQ(s->by_channel(1).stats().opened(), 2);

  auto h = fx.metrics().GetCustomerHealth(kAcme, [] {
    v1::GetCustomerHealthRequest q;
    q.set_customer_id("dana");
    return q;
  }());
  CX_ASSERT_OK(h);
  const v1::CustomerHealth& health = h->health();
  EXPECT_EQ(health.latest_nps_score(), 4);
  EXPECT_EQ(health.latest_nps_category(), "detractor");
  EXPECT_DOUBLE_EQ(health.csat_average(), 2.5);
  EXPECT_EQ(health.open_tickets(), 1);
  // Last activity day 3 (the answers), now day 40: 37 days (30d: 15),
  // detractor 25, CSAT 2.5 < 3: 15, an open ticket 10 = 65, HIGH.
  EXPECT_EQ(health.churn_risk().score(), 65);
  EXPECT_EQ(health.churn_risk().level(), v1::RISK_LEVEL_HIGH);
  std::vector<std::string> codes;
  for (const auto& factor : health.churn_risk().factors()) codes.push_back(factor.code());
  EXPECT_EQ(codes, (std::vector<std::string>{"inactive_30d", "nps_detractor", "low_csat", "open_tickets"}));
}

TEST(JourneyMetricsExamples, HealthVersionsPageAndMoveOnEveryChange) {
  JourneyFixture fx("sqlite");
  ASSERT_NO_FATAL_FAILURE(fx.Open([] { return Fixed(kBase + kDay); }));
  Feeds f;
  for (int i = 0; i < 5; ++i) f.Customer(absl::StrCat("c", i), "smb");
  fx.ApplyAll(f);
  v1::ListCustomerHealthRequest r;
  r.set_page_size(2);
  std::vector<std::string> seen;
  int64_t version = 0;
  for (int page = 0; page < 10; ++page) {
    auto out = fx.metrics().ListCustomerHealth(kAcme, r);
    CX_ASSERT_OK(out);
    for (const auto& h : out->customers()) {
      EXPECT_GT(h.version(), version);
      version = h.version();
      seen.push_back(h.customer_id());
    }
    if (out->next_page_token().empty()) break;
    r.set_page_token(out->next_page_token());
  }
  EXPECT_EQ(seen.size(), 5u);
  // An event of c3 and a merge of c1 into c4: c1, c3, c4 change.
  Feeds g = f;
  g.Event("e", "c3", "page_view", kBase);
  g.Merge("c1", "c4");
  fx.Apply(g, f.journey.size(), g.journey.size(), 0, 0);
  v1::ListCustomerHealthRequest again;
  again.set_changed_since(version);
  auto changed = fx.metrics().ListCustomerHealth(kAcme, again);
  CX_ASSERT_OK(changed);
  std::set<std::string> ids;
  for (const auto& h : changed->customers()) {
    ids.insert(h.customer_id());
    if (h.customer_id() == "c1") {
      EXPECT_EQ(h.merged_into(), "c4");
    }
  }
  EXPECT_EQ(ids, (std::set<std::string>{"c1", "c3", "c4"}));
  // A token of another tenant is refused.
  r.set_page_token(changed->next_page_token().empty() ? "bogus" : changed->next_page_token());
  EXPECT_THAT(fx.metrics().ListCustomerHealth({"globex", shared::kRoleRead, ""}, r),
              t::StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(JourneyMetricsExamples, BadInputNamesTheField) {
  JourneyFixture fx("sqlite");
  ASSERT_NO_FATAL_FAILURE(fx.Open([] { return Fixed(kBase); }));
  v1::GetFunnelRequest funnel;
  *funnel.mutable_range() = Range(kBase, kBase + kDay);
  funnel.mutable_conversion_window()->set_seconds(60);
  EXPECT_THAT(fx.metrics().GetFunnel(kAcme, funnel), t::StatusIsField(absl::StatusCode::kInvalidArgument, "steps"));
  funnel.add_steps()->set_event_type("page_view");
  funnel.mutable_conversion_window()->set_seconds(0);
  EXPECT_THAT(fx.metrics().GetFunnel(kAcme, funnel),
              t::StatusIsField(absl::StatusCode::kInvalidArgument, "conversion_window"));
  // Values outside google.protobuf.Duration's range (found by the fuzzer:
  // they overflowed the conversion to microseconds).
  for (int64_t seconds : {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(),
                          int64_t{315'576'000'001}}) {
    funnel.mutable_conversion_window()->set_seconds(seconds);
    EXPECT_THAT(fx.metrics().GetFunnel(kAcme, funnel),
                t::StatusIsField(absl::StatusCode::kInvalidArgument, "conversion_window"));
  }
  funnel.mutable_conversion_window()->set_seconds(60);
  // The same for a time range's timestamps.
  funnel.mutable_range()->mutable_start_time()->set_seconds(std::numeric_limits<int64_t>::min());
  EXPECT_THAT(fx.metrics().GetFunnel(kAcme, funnel), t::StatusIsField(absl::StatusCode::kInvalidArgument, "range"));
  *funnel.mutable_range() = Range(kBase, kBase + kDay);
  funnel.add_steps()->set_event_type("Bad Type");
  EXPECT_THAT(fx.metrics().GetFunnel(kAcme, funnel),
              t::StatusIsField(absl::StatusCode::kInvalidArgument, "steps[1].event_type"));
  v1::GetRetentionRequest retention;
  retention.set_interval(v1::INTERVAL_DAY);
  retention.set_periods(kMaxRetentionPeriods + 1);
  *retention.mutable_range() = Range(kBase, kBase + kDay);
  EXPECT_THAT(fx.metrics().GetRetention(kAcme, retention),
              t::StatusIsField(absl::StatusCode::kInvalidArgument, "periods"));
  retention.set_periods(3);
  retention.set_interval(v1::INTERVAL_HOUR);
  EXPECT_THAT(fx.metrics().GetRetention(kAcme, retention),
              t::StatusIsField(absl::StatusCode::kInvalidArgument, "interval"));
  v1::GetChurnRequest churn;
  *churn.mutable_range() = Range(kBase, kBase + kDay);
  EXPECT_THAT(fx.metrics().GetChurn(kAcme, churn), t::StatusIsField(absl::StatusCode::kInvalidArgument, "definition"));
  churn.set_definition(v1::ACTIVITY_DEFINITION_RECENT_ACTIVITY);
  EXPECT_THAT(fx.metrics().GetChurn(kAcme, churn),
              t::StatusIsField(absl::StatusCode::kInvalidArgument, "activity_days"));
  v1::GetCustomerLifetimeValueRequest clv;
  clv.set_currency_code("eur");
  *clv.mutable_range() = Range(kBase, kBase + kDay);
  EXPECT_THAT(fx.metrics().GetCustomerLifetimeValue(kAcme, clv),
              t::StatusIsField(absl::StatusCode::kInvalidArgument, "currency_code"));
  clv.set_currency_code("EUR");
  clv.set_retention_rate(1);
  EXPECT_THAT(fx.metrics().GetCustomerLifetimeValue(kAcme, clv),
              t::StatusIsField(absl::StatusCode::kInvalidArgument, "retention_rate"));
  v1::GetSupportMetricsRequest support;
  support.mutable_filters()->set_segment("no spaces");
  EXPECT_THAT(fx.metrics().GetSupportMetrics(kAcme, support),
              t::StatusIsField(absl::StatusCode::kInvalidArgument, "range"));
  EXPECT_THAT(fx.metrics().GetSupportMetrics(kAcme, support),
              t::StatusIsField(absl::StatusCode::kInvalidArgument, "filters.segment"));
  v1::GetCustomerHealthRequest health;
  EXPECT_THAT(fx.metrics().GetCustomerHealth(kAcme, health),
              t::StatusIsField(absl::StatusCode::kInvalidArgument, "customer_id"));
  health.set_customer_id("nobody");
  EXPECT_THAT(fx.metrics().GetCustomerHealth(kAcme, health), t::StatusIs(absl::StatusCode::kNotFound));
  v1::ListCustomerHealthRequest list;
  list.set_page_size(kMaxHealthPage + 1);
  EXPECT_THAT(fx.metrics().ListCustomerHealth(kAcme, list),
              t::StatusIsField(absl::StatusCode::kInvalidArgument, "page_size"));
  v1::GetNextStepsRequest next;
  *next.mutable_range() = Range(kBase, kBase + kDay);
  EXPECT_THAT(fx.metrics().GetNextSteps(kAcme, next),
              t::StatusIsField(absl::StatusCode::kInvalidArgument, "event_type"));
}

// ---- randomized, against brute force ----

const char* const kTypes[] = {"page_view", "signup", "add_to_cart", "order_placed", "refund_issued",
                              "subscription_started", "subscription_cancelled", "support_ticket_opened",
                              "support_ticket_contact", "support_ticket_resolved", "support_ticket_reopened"};
const char* const kSegments[] = {"", "smb", "enterprise"};
const char* const kTouch[] = {"", "web", "store"};

struct RawEvent {
  std::string id, subject, type, touchpoint, currency, ticket;
  int64_t seq = 0, time_us = 0, amount = 0;
  int channel = 0, stage = 0;
};

// The raw records and identity state as a brute force sees them.
struct Model {
  std::vector<RawEvent> events;  // each event id once
  std::map<std::string, std::string> parent, segment;
  std::map<std::string, std::vector<std::pair<int64_t, std::pair<std::string, int>>>> answers;  // metric, score

  std::string Root(std::string id) const {
    for (auto it = parent.find(id); it != parent.end() && !it->second.empty(); it = parent.find(id)) id = it->second;
    return id;
  }
  // Root -> its events sorted by (time, sequence).
  std::map<std::string, std::vector<RawEvent>> Timelines() const {
    std::map<std::string, std::vector<RawEvent>> out;
    for (const auto& e : events) out[Root(e.subject)].push_back(e);
    for (auto& [root, list] : out) {
      std::sort(list.begin(), list.end(), [](const RawEvent& a, const RawEvent& b) {
        return a.time_us != b.time_us ? a.time_us < b.time_us : a.seq < b.seq;
      });
    }
    return out;
  }
  std::string SegmentOf(const std::string& root) const {
    auto it = segment.find(root);
    return it == segment.end() ? "" : it->second;
  }
};

struct Filt {
  int channel = 0;
  std::string touchpoint, segment;
  bool Passes(const RawEvent& e) const {
    return (channel == 0 || e.channel == channel) && (touchpoint.empty() || e.touchpoint == touchpoint);
  }
  v1::JourneyFilters Proto() const {
    v1::JourneyFilters f;
    f.set_channel(static_cast<common::v1::Channel>(channel));
    f.set_touchpoint_id(touchpoint);
    f.set_segment(segment);
    return f;
  }
};

class JourneyRandomizedTest : public ::testing::TestWithParam<std::string> {};

TEST_P(JourneyRandomizedTest, EveryJourneyMetricEqualsBruteForceBeforeAndAfterARestart) {
  for (uint64_t seed = 1; seed <= (GetParam() == "sqlite" ? 6u : 2u); ++seed) {
    std::mt19937_64 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
    const int64_t now_s = kBase + 70 * kDay;
    JourneyFixture fx(GetParam());
    ASSERT_NO_FATAL_FAILURE(fx.Open([now_s] { return Fixed(now_s); }));
    Feeds f;
    // The model of what was sent, change by change (sequence order).
    std::vector<std::function<void(Model&)>> steps;
    std::map<std::string, std::string> shadow_parent;
    for (int i = 0; i < 400; ++i) {
      const int what = pick(100);
      const std::string customer = absl::StrCat("c", pick(25));
      if (what < 8) {
        const std::string seg = kSegments[pick(3)];
        f.Customer(customer, seg);
        steps.push_back([customer, seg](Model& m) { m.segment[customer] = seg; });
      } else if (what < 13) {
        // Merge a customer or a visitor into a customer that is not merged.
        const std::string source = pick(2) ? customer : absl::StrCat("anon:v", pick(8));
        const std::string target = absl::StrCat("c", pick(25));
        const std::string skey = source.rfind("anon:", 0) == 0 ? " a:" + source.substr(5) : source;
        bool target_is_child = !shadow_parent[target].empty();
        bool source_has_children = false;
        for (auto& [k, p] : shadow_parent) source_has_children |= p == skey;
        if (skey == target || target_is_child || !shadow_parent[skey].empty() || source_has_children) continue;
        f.Merge(source, target);
        shadow_parent[skey] = target;
        steps.push_back([skey, target](Model& m) { m.parent[skey] = target; });
      } else if (what < 16) {
        std::vector<std::string> merged;
        for (auto& [k, p] : shadow_parent) {
          if (!p.empty()) merged.push_back(k);
        }
        if (merged.empty()) continue;
        const std::string skey = merged[pick(static_cast<int>(merged.size()))];
        f.Merge(skey.rfind(" a:", 0) == 0 ? "anon:" + skey.substr(3) : skey, shadow_parent[skey], true);
        shadow_parent[skey].clear();
        steps.push_back([skey](Model& m) { m.parent[skey].clear(); });
      } else if (what < 22) {
        const int kind = pick(3);
        const auto k = kind == 0 ? feedback::v1::FEEDBACK_KIND_NPS
                                 : kind == 1 ? feedback::v1::FEEDBACK_KIND_CSAT : feedback::v1::FEEDBACK_KIND_CES;
        const int score = kind == 0 ? pick(11) : kind == 1 ? 1 + pick(5) : 1 + pick(7);
        f.Answer(absl::StrCat("f", i), customer, k, score, kBase + pick(65 * kDay));
      } else {
        const bool repeat = what < 25 && !f.journey.empty();
        const std::string who = pick(5) == 0 ? absl::StrCat("anon:v", pick(8)) : customer;
        const std::string type = kTypes[pick(11)];
        // Mostly in order, sometimes late.
        const int64_t at = kBase + static_cast<int64_t>(i) * 14000 - (pick(6) == 0 ? pick(20 * kDay) : 0) + pick(3);
        std::string id = absl::StrCat("e", i);
        if (repeat) id = absl::StrCat("e", pick(i));  // the feed repeats an event id: counted once
        auto* e = f.Event(id, who, type, at);
        e->set_channel(static_cast<common::v1::Channel>(1 + pick(2)));
        e->set_touchpoint_id(kTouch[pick(3)]);
        e->set_resolved_stage(static_cast<common::v1::JourneyStage>(pick(6)));
        if (type == "order_placed" || type == "refund_issued") {
          e->mutable_revenue()->set_currency_code(pick(6) == 0 ? "USD" : "EUR");
          e->mutable_revenue()->set_amount_minor(100 + pick(10000));
        }
        if (type.rfind("support_ticket_", 0) == 0) (*e->mutable_properties())["ticket_id"] = absl::StrCat("T", pick(12));
        RawEvent raw;
        raw.id = id;
        raw.subject = who.rfind("anon:", 0) == 0 ? " a:" + who.substr(5) : who;
        raw.type = type;
        raw.touchpoint = e->touchpoint_id();
        raw.seq = static_cast<int64_t>(f.journey.size());
        raw.time_us = at * 1000000;
        raw.channel = e->channel();
        raw.stage = e->resolved_stage();
        raw.currency = e->has_revenue() ? e->revenue().currency_code() : "";
        raw.amount = e->has_revenue() ? e->revenue().amount_minor() : 0;
        raw.ticket = e->properties().count("ticket_id") ? e->properties().at("ticket_id") : "";
        steps.push_back([raw](Model& m) {
          for (const auto& old : m.events) {
            if (old.id == raw.id) return;
          }
          m.events.push_back(raw);
        });
      }
      if (f.journey.size() > steps.size()) steps.push_back([](Model&) {});
    }
    // A second tenant's events must never show.
    f.Event("other", "c1", "page_view", kBase, "globex");
    steps.push_back([](Model&) {});
    ASSERT_EQ(steps.size(), f.journey.size());
    Model model;
    for (auto& step : steps) step(model);
    for (const auto& c : f.feedback) {
      const auto& fb = c.feedback_created();
      const std::string metric = fb.kind() == feedback::v1::FEEDBACK_KIND_NPS    ? "nps"
                                 : fb.kind() == feedback::v1::FEEDBACK_KIND_CSAT ? "csat"
                                                                                 : "ces";
      model.answers[fb.customer_id()].push_back({fb.occurred_at().seconds(), {metric, fb.score()}});
    }

    // Apply in random batches, restart halfway.
    size_t j = 0, k = 0;
    bool restarted = false;
    while (j < f.journey.size() || k < f.feedback.size()) {
      const size_t nj = std::min(f.journey.size(), j + 1 + rng() % 50);
      const size_t nk = std::min(f.feedback.size(), k + 1 + rng() % 10);
      fx.Apply(f, j, nj, k, nk);
      j = nj;
      k = nk;
      if (!restarted && j > f.journey.size() / 2) {
        ASSERT_NO_FATAL_FAILURE(fx.Open([now_s] { return Fixed(now_s); }));
        restarted = true;
      }
    }
    for (int round = 0; round < 2; ++round) {
      if (round == 1) {
        ASSERT_NO_FATAL_FAILURE(fx.Open([now_s] { return Fixed(now_s); }));
      }
      const auto timelines = model.Timelines();
      SCOPED_TRACE(absl::StrCat("seed ", seed, " round ", round));
      for (int q = 0; q < 25; ++q) {
        Filt filt;
        if (pick(3) == 0) filt.channel = 1 + pick(2);
        if (pick(4) == 0) filt.touchpoint = kTouch[1 + pick(2)];
        if (pick(4) == 0) filt.segment = kSegments[1 + pick(2)];
        auto admits = [&](const std::string& root) { return filt.segment.empty() || model.SegmentOf(root) == filt.segment; };
        const int64_t from_s = kBase + pick(40) * kDay / 2, to_s = from_s + (1 + pick(40)) * kDay;
        const int64_t from = from_s * 1000000, to = to_s * 1000000;

        // Funnel.
        {
          v1::GetFunnelRequest r;
          const int n_steps = 1 + pick(4);
          std::vector<std::pair<std::string, int>> spec;  // (type, stage)
          std::set<std::string> used;
          while (static_cast<int>(spec.size()) < n_steps) {
            if (pick(4) == 0) {
              const int st = 1 + pick(5);
              if (!used.insert(absl::StrCat("#", st)).second) continue;
              spec.push_back({"", st});
              r.add_steps()->set_stage(static_cast<common::v1::JourneyStage>(st));
            } else {
              const std::string ty = kTypes[pick(4)];
              if (!used.insert(ty).second) continue;
              spec.push_back({ty, 0});
              r.add_steps()->set_event_type(ty);
            }
          }
          const int64_t window = (1 + pick(10 * 24)) * 3600LL * 1000000;
          r.mutable_conversion_window()->set_seconds(window / 1000000);
          *r.mutable_range() = Range(from_s, to_s);
          *r.mutable_filters() = filt.Proto();
          const bool any = pick(2) == 0;
          r.set_order(any ? v1::FUNNEL_ORDER_ANY : v1::FUNNEL_ORDER_STRICT);
          auto match = [&](const RawEvent& e, int s) {
            return filt.Passes(e) && (spec[s].second ? e.stage == spec[s].second : e.type == spec[s].first);
          };
          std::vector<int64_t> want(spec.size(), 0);
          std::vector<std::vector<int64_t>> times(spec.size());
          for (const auto& [root, list] : timelines) {
            if (!admits(root)) continue;
            size_t i1 = 0;
            while (i1 < list.size() && !(match(list[i1], 0) && list[i1].time_us >= from && list[i1].time_us < to)) ++i1;
            if (i1 == list.size()) continue;
            const int64_t t1 = list[i1].time_us;
            std::vector<int64_t> at{t1};
            if (!any) {
              size_t pos = i1;
              for (size_t s = 1; s < spec.size(); ++s) {
                size_t x = pos + 1;
                while (x < list.size() && list[x].time_us <= t1 + window && !match(list[x], static_cast<int>(s))) ++x;
                if (x >= list.size() || list[x].time_us > t1 + window) break;
                at.push_back(list[x].time_us);
                pos = x;
              }
            } else {
              for (size_t s = 1; s < spec.size(); ++s) {
                size_t x = i1 + 1;
                while (x < list.size() && list[x].time_us <= t1 + window && !match(list[x], static_cast<int>(s))) ++x;
                if (x >= list.size() || list[x].time_us > t1 + window) break;
                at.push_back(std::max(at.back(), list[x].time_us));
              }
            }
            for (size_t s = 0; s < at.size(); ++s) {
              ++want[s];
              times[s].push_back(at[s] - t1);
            }
          }
          auto got = fx.metrics().GetFunnel(kAcme, r);
          ASSERT_TRUE(got.ok()) << got.status();
          for (size_t s = 0; s < spec.size(); ++s) {
            EXPECT_EQ(got->steps(static_cast<int>(s)).customers(), want[s]) << "funnel step " << s << " q " << q;
            std::vector<int64_t>& v = times[s];
            std::sort(v.begin(), v.end());
            const int64_t median = v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
            EXPECT_EQ(Us(got->steps(static_cast<int>(s)).median_time_from_first()), median) << "funnel median " << s;
          }
        }
        // Retention.
        {
          v1::GetRetentionRequest r;
          const std::string cohort = pick(2) ? "signup" : "", back = pick(2) ? "page_view" : "";
          r.set_cohort_event_type(cohort);
          r.set_return_event_type(back);
          r.set_interval(pick(2) ? v1::INTERVAL_DAY : v1::INTERVAL_WEEK);
          const int64_t step = r.interval() == v1::INTERVAL_DAY ? kDay : 7 * kDay;
          r.set_periods(1 + pick(6));
          const bool after = pick(2) == 0;
          r.set_mode(after ? v1::RETENTION_MODE_ON_OR_AFTER : v1::RETENTION_MODE_ON);
          *r.mutable_range() = Range(from_s, to_s);
          *r.mutable_filters() = filt.Proto();
          auto got = fx.metrics().GetRetention(kAcme, r);
          ASSERT_TRUE(got.ok()) << got.status();
          // Buckets: UTC days, or weeks from Monday (kBase is a Tuesday).
          const int64_t origin = step == kDay ? 0 : kBase - kDay;  // a Monday
          auto bucket = [&](int64_t us) {
            const int64_t s = us / 1000000 - origin;
            return s >= 0 ? s / step : -((-s + step - 1) / step);
          };
          const int64_t first_bucket = bucket(from), last_bucket = bucket(to - 1);
          std::map<int64_t, std::pair<int64_t, std::vector<int64_t>>> rows;  // bucket -> size, retained
          for (const auto& [root, list] : timelines) {
            if (!admits(root)) continue;
            const RawEvent* first = nullptr;
            for (const auto& e : list) {
              if (filt.Passes(e) && (cohort.empty() || e.type == cohort)) {
                first = &e;
                break;
              }
            }
            if (!first) continue;
            const int64_t c = bucket(first->time_us);
            if (c < first_bucket || c > last_bucket) continue;
            auto& row = rows[c];
            row.second.resize(r.periods() + 1);
            ++row.first;
            std::set<int64_t> ks;
            for (const auto& e : list) {
              if (filt.Passes(e) && (back.empty() || e.type == back) && bucket(e.time_us) > c) ks.insert(bucket(e.time_us) - c);
            }
            for (int p = 1; p <= r.periods(); ++p) {
              const bool kept = after ? (!ks.empty() && *ks.rbegin() >= p) : ks.count(p) > 0;
              row.second[p] += kept;
            }
          }
          ASSERT_EQ(got->cohorts_size(), last_bucket - first_bucket + 1);
          for (const auto& row : got->cohorts()) {
            const int64_t c = bucket(row.start_time().seconds() * 1000000);
            auto it = rows.find(c);
            EXPECT_EQ(row.size(), it == rows.end() ? 0 : it->second.first) << "retention size";
            for (const auto& cell : row.cells()) {
              if (cell.period() == 0) continue;
              EXPECT_EQ(cell.retained(), it == rows.end() ? 0 : it->second.second[cell.period()])
                  << "retention cohort " << c << " period " << cell.period() << " q " << q;
            }
          }
        }
        // Churn, both definitions.
        {
          v1::GetChurnRequest r;
          *r.mutable_range() = Range(from_s, to_s);
          *r.mutable_filters() = filt.Proto();
          const bool recent = pick(2) == 0;
          r.set_definition(recent ? v1::ACTIVITY_DEFINITION_RECENT_ACTIVITY : v1::ACTIVITY_DEFINITION_NOT_ENDED);
          r.set_activity_days(1 + pick(20));
          auto active = [&](const std::vector<RawEvent>& list, int64_t t) {
            if (recent) {
              for (const auto& e : list) {
                if (filt.Passes(e) && e.time_us <= t && e.time_us > t - r.activity_days() * kDay * 1000000) return true;
              }
              return false;
            }
            bool any_before = false, ended = false;
            for (const auto& e : list) {
              if (!filt.Passes(e) || e.time_us > t) continue;
              any_before = true;
              if (e.type == "subscription_cancelled") ended = true;
              if (e.type == "subscription_started") ended = false;
            }
            return any_before && !ended;
          };
          int64_t s = 0, e = 0, n = 0;
          for (const auto& [root, list] : timelines) {
            if (!admits(root)) continue;
            const bool a = active(list, from), b = active(list, to);
            s += a;
            e += b;
            n += b && !a;
          }
          auto got = fx.metrics().GetChurn(kAcme, r);
          ASSERT_TRUE(got.ok()) << got.status();
          EXPECT_EQ(got->periods(0).active_at_start(), s) << "churn S q " << q;
          EXPECT_EQ(got->periods(0).active_at_end(), e) << "churn E";
          EXPECT_EQ(got->periods(0).new_active(), n) << "churn N";
        }
        // CLV overall and per segment.
        {
          v1::GetCustomerLifetimeValueRequest r;
          r.set_currency_code("EUR");
          *r.mutable_range() = Range(from_s, to_s);
          std::map<std::string, RevenueTotals> want;
          RevenueTotals all;
          for (const auto& [root, list] : timelines) {
            RevenueTotals mine;
            bool before = false;
            for (const auto& ev : list) {
              if (ev.currency != "EUR") continue;
              const bool in = ev.time_us >= from && ev.time_us < to;
              if (ev.type == "refund_issued") {
                if (in) mine.refunds += ev.amount;
              } else if (in) {
                ++mine.orders;
                mine.gross += ev.amount;
              } else if (ev.time_us >= from - (to - from) && ev.time_us < from) {
                before = true;
              }
            }
            mine.purchasers = mine.orders > 0;
            mine.base = before;
            mine.kept = before && mine.orders > 0;
            all.Add(mine);
            want[model.SegmentOf(root)].Add(mine);
          }
          auto got = fx.metrics().GetCustomerLifetimeValue(kAcme, r);
          ASSERT_TRUE(got.ok()) << got.status();
          auto same = [&](const v1::CustomerValue& a, const RevenueTotals& w, const std::string& what) {
            const v1::CustomerValue b = ValueOf(a.scope(), w, w, ValueParams{});
            EXPECT_EQ(a.orders(), b.orders()) << what;
            EXPECT_EQ(a.purchasers(), b.purchasers()) << what;
            EXPECT_EQ(a.net_revenue_minor(), b.net_revenue_minor()) << what;
            EXPECT_EQ(a.retention_base(), b.retention_base()) << what;
            EXPECT_DOUBLE_EQ(a.lifetime_value_minor(), b.lifetime_value_minor()) << what;
          };
          same(got->overall(), all, "clv all");
          for (const auto& row : got->segments()) same(row, want[row.scope().substr(8)], row.scope());
        }
        // Next steps.
        {
          v1::GetNextStepsRequest r;
          const std::string from_type = kTypes[pick(4)];
          r.set_event_type(from_type);
          *r.mutable_range() = Range(from_s, to_s);
          *r.mutable_filters() = filt.Proto();
          r.set_limit(100);
          std::map<std::string, int64_t> want;
          int64_t occurrences = 0, exits = 0;
          for (const auto& [root, list] : timelines) {
            if (!admits(root)) continue;
            std::vector<const RawEvent*> passing;
            for (const auto& e : list) {
              if (filt.Passes(e)) passing.push_back(&e);
            }
            for (size_t x = 0; x < passing.size(); ++x) {
              if (passing[x]->type != from_type || passing[x]->time_us < from || passing[x]->time_us >= to) continue;
              ++occurrences;
              if (x + 1 < passing.size()) ++want[passing[x + 1]->type];
              else ++exits;
            }
          }
          auto got = fx.metrics().GetNextSteps(kAcme, r);
          ASSERT_TRUE(got.ok()) << got.status();
          EXPECT_EQ(got->occurrences(), occurrences);
          EXPECT_EQ(got->exits(), exits);
          std::map<std::string, int64_t> have;
          for (const auto& s : got->steps()) have[s.event_type()] = s.count();
          EXPECT_EQ(have, want) << "next steps q " << q;
        }
      }
      // Support: every ticket.
      {
        v1::GetSupportMetricsRequest r;
        *r.mutable_range() = Range(kBase - 30 * kDay, now_s);
        std::map<std::string, std::vector<RawEvent>> tickets;
        for (const auto& e : model.events) {
          if (!e.ticket.empty()) tickets[e.ticket].push_back(e);
        }
        int64_t opened = 0, resolved = 0, reopened = 0, fcr = 0;
        for (auto& [id, list] : tickets) {
          std::sort(list.begin(), list.end(), [](const RawEvent& a, const RawEvent& b) {
            return a.time_us != b.time_us ? a.time_us < b.time_us : a.seq < b.seq;
          });
          bool has_open = false, is_resolved = false, re = false, contact = false;
          for (const auto& e : list) {
            has_open |= e.type == "support_ticket_opened";
            if (e.type == "support_ticket_resolved") is_resolved = true;
            if (e.type == "support_ticket_reopened") is_resolved = false, re = true;
            contact |= e.type == "support_ticket_contact";
          }
          if (!has_open) continue;
          ++opened;
          resolved += is_resolved;
          reopened += re;
          fcr += is_resolved && !re && !contact;
        }
        auto got = fx.metrics().GetSupportMetrics(kAcme, r);
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(got->total().opened(), opened);
        EXPECT_EQ(got->total().resolved(), resolved);
        EXPECT_EQ(got->total().reopened(), reopened);
        EXPECT_EQ(got->total().first_contact_resolved(), fcr);
      }
      // Health of every customer: scores, activity, merges.
      for (int c = 0; c < 25; ++c) {
        const std::string id = absl::StrCat("c", c);
        v1::GetCustomerHealthRequest r;
        r.set_customer_id(id);
        auto got = fx.metrics().GetCustomerHealth(kAcme, r);
        if (!got.ok()) {
          EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
          continue;
        }
        const std::string root = model.Root(id);
        if (root != id) {
          EXPECT_EQ(got->health().merged_into(), root) << id;
          continue;
        }
        int64_t csat_n = 0, csat_sum = 0, latest = -1, nps = -1, events = 0;
        for (const auto& [cust, list] : model.answers) {
          if (model.Root(cust) != root) continue;
          for (const auto& [at, answer] : list) {
            if (answer.first == "csat") ++csat_n, csat_sum += answer.second;
            if (answer.first == "nps" && at >= latest) latest = at, nps = answer.second;
          }
        }
        auto it = timelines.find(root);
        if (it != timelines.end()) events = static_cast<int64_t>(it->second.size());
        EXPECT_EQ(got->health().events(), events) << id;
        EXPECT_EQ(got->health().csat_count(), csat_n) << id;
        EXPECT_EQ(got->health().has_nps(), nps >= 0) << id;
        if (nps >= 0) {
          EXPECT_EQ(got->health().latest_nps_time().seconds(), latest) << id;
        }
      }
    }
  }
}

std::vector<std::string> Backends() { return {"sqlite", "mysql"}; }

INSTANTIATE_TEST_SUITE_P(Backends, JourneyRandomizedTest, ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param == "sqlite" ? "SQLite" : "MariaDB"; });

}  // namespace
}  // namespace cx::metrics
