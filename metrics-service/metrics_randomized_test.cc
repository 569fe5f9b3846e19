// Randomized check of the whole metrics path below gRPC: random feedback,
// customers, segment changes, merges and unmerges go through the FeedApplier
// into a real database (SQLite file, and MariaDB), and every query of the
// MetricsManager (score, trend, breakdown, comparison, drivers) is compared
// with a brute-force computation over the raw records. Halfway through, the
// applier, index and manager are thrown away and rebuilt from the database,
// as after a crash and restart.
#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "metrics-service/feed_applier.h"
#include "metrics-service/metrics_manager.h"
#include "metrics-service/sql_metrics_repository.h"
#include "shared/db/sql.h"
#include "shared/proto_util.h"
#include "shared/testing/query_plans.h"
#include "shared/testing/test_util.h"

namespace cx::metrics {
namespace {

namespace t = shared::testing;
using cx::common::v1::TimeRange;

constexpr int64_t kBaseHour = 480000;  // 2024-10-04
constexpr int kHours = 24 * 12;
const char* const kTouchpoints[] = {"", "checkout", "support", "delivery"};
const char* const kSegments[] = {"", "smb", "enterprise", "mid"};
const char* const kTags[] = {"price", "speed", "staff"};
const char* const kTenants[] = {"acme", "globex"};

struct RawFeedback {
  std::string tenant, id, customer;
  Metric metric;
  int score;
  int64_t seconds;
  int channel, source, stage;
  std::string touchpoint;
  std::vector<std::string> tags;
};

struct RawCustomer {
  std::string segment, parent;
};

// The raw records and the current state of customers, as a brute force sees them.
struct Model {
  std::vector<RawFeedback> feedback;
  std::map<std::pair<std::string, std::string>, RawCustomer> customers;

  std::string SegmentOf(const std::string& tenant, std::string id) const {
    for (int i = 0; i < 100; ++i) {
      auto it = customers.find({tenant, id});
      if (it == customers.end()) return "";
      if (it->second.parent.empty()) return it->second.segment;
      id = it->second.parent;
    }
    return "";
  }

  std::string Value(const RawFeedback& f, Dim d) const {
    switch (d) {
      case kChannel: return std::to_string(f.channel);
      case kSource: return std::to_string(f.source);
      case kTouchpoint: return f.touchpoint;
      case kStage: return std::to_string(f.stage);
      case kSegment: return SegmentOf(f.tenant, f.customer);
      default: return "";
    }
  }

  bool Matches(const RawFeedback& f, const std::string& tenant, Metric metric, const Filter& filter) const {
    if (f.tenant != tenant || f.metric != metric) return false;
    for (int d = 0; d < kTag; ++d) {
      if (filter[d] && Value(f, static_cast<Dim>(d)) != *filter[d]) return false;
    }
    if (filter[kTag] && std::find(f.tags.begin(), f.tags.end(), *filter[kTag]) == f.tags.end()) return false;
    return true;
  }

  Counts Sum(const std::string& tenant, Metric metric, const Filter& filter, int64_t from_s, int64_t to_s) const {
    Counts c;
    for (const auto& f : feedback) {
      if (f.seconds >= from_s && f.seconds < to_s && Matches(f, tenant, metric, filter)) c += CountsOf(metric, f.score);
    }
    return c;
  }

  std::map<std::string, Counts> Breakdown(const std::string& tenant, Metric metric, Dim dim, const Filter& filter,
                                          int64_t from_s, int64_t to_s) const {
    std::map<std::string, Counts> out;
    for (const auto& f : feedback) {
      if (f.seconds < from_s || f.seconds >= to_s || !Matches(f, tenant, metric, filter)) continue;
      if (dim == kTag) {
        for (const auto& tag : f.tags) out[tag] += CountsOf(metric, f.score);
      } else {
        out[Value(f, dim)] += CountsOf(metric, f.score);
      }
    }
    return out;
  }
};

std::string ApiValue(Dim dim, const std::string& v) {
  int n = 0;
  if (dim == kChannel || dim == kSource || dim == kStage) n = std::stoi(v);
  switch (dim) {
    case kChannel: return n == 0 ? "" : cx::common::v1::Channel_Name(static_cast<cx::common::v1::Channel>(n));
    case kSource: return n == 0 ? "" : cx::common::v1::Source_Name(static_cast<cx::common::v1::Source>(n));
    case kStage: return n == 0 ? "" : cx::common::v1::JourneyStage_Name(static_cast<cx::common::v1::JourneyStage>(n));
    default: return v;
  }
}

void ExpectCounts(const v1::Score& s, Metric metric, const Counts& c, const std::string& what) {
  const v1::Score want = ToScore(metric, c);
  EXPECT_EQ(s.n(), c.n) << what;
  EXPECT_EQ(s.top_count(), c.top) << what;
  EXPECT_EQ(s.bottom_count(), c.bottom) << what;
  EXPECT_DOUBLE_EQ(s.value(), want.value()) << what;
  EXPECT_DOUBLE_EQ(s.standard_error(), want.standard_error()) << what;
}

class RandomizedTest : public ::testing::TestWithParam<std::string> {
 protected:
  void Open() {
    auto pool = log_ ? t::OpenLoggedDatabase(db_->url(), log_) : shared::db::OpenDatabase(db_->url(), "", 2);
    ASSERT_TRUE(pool.ok()) << pool.status();
    auto repo = OpenMetricsRepository(*pool);
    ASSERT_TRUE(repo.ok()) << repo.status();
    repository_ = *repo;
    index_ = std::make_shared<RollupIndex>();
    applier_ = std::make_shared<FeedApplier>(repository_, index_, std::make_shared<JourneyIndex>());
    CX_ASSERT_OK(applier_->Load());
    manager_ = std::make_shared<MetricsManager>(repository_, index_, MetricsManagerOptions{"k"});
  }

  void Reopen() {
    manager_.reset();
    applier_.reset();
    index_.reset();
    repository_.reset();
    Open();
  }

  // A random feed of both services; the model follows it.
  void Generate(std::mt19937_64& rng, int n_feedback, int n_journey) {
    std::uniform_int_distribution<int> pct(0, 99);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
    std::vector<std::pair<bool, int>> order;  // (is journey, index)
    for (int i = 0; i < n_feedback; ++i) order.emplace_back(false, i);
    for (int i = 0; i < n_journey; ++i) order.emplace_back(true, i);
    std::shuffle(order.begin(), order.end(), rng);
    int64_t fseq = 0, jseq = 0;
    for (const auto& [journey, i] : order) {
      const std::string tenant = kTenants[pick(2)];
      if (!journey) {
        RawFeedback f;
        f.tenant = tenant;
        f.id = absl::StrCat("f", i);
        f.customer = absl::StrCat("c", pick(customers_));
        f.metric = static_cast<Metric>(1 + pick(3));
        f.score = f.metric == Metric::kNps ? pick(11) : f.metric == Metric::kCsat ? 1 + pick(5) : 1 + pick(7);
        f.seconds = kBaseHour * 3600 + pick(kHours * 3600);
        f.channel = pick(4);
        f.source = pick(3);
        f.stage = pick(3);
        f.touchpoint = kTouchpoints[pick(4)];
        for (const char* tag : kTags) {
          if (pct(rng) < 30) f.tags.push_back(tag);
        }
        feedback::v1::FeedbackChange change;
        change.set_sequence(++fseq);
        change.set_tenant(tenant);
        auto* fb = change.mutable_feedback_created();
        fb->set_id(f.id);
        fb->set_customer_id(f.customer);
        fb->set_kind(static_cast<feedback::v1::FeedbackKind>(static_cast<int>(f.metric)));
        fb->set_score(f.score);
        fb->mutable_occurred_at()->set_seconds(f.seconds);
        fb->set_channel(static_cast<cx::common::v1::Channel>(f.channel));
        fb->set_source(static_cast<cx::common::v1::Source>(f.source));
        fb->set_journey_stage(static_cast<cx::common::v1::JourneyStage>(f.stage));
        fb->set_touchpoint_id(f.touchpoint);
        for (const auto& tag : f.tags) fb->add_tags(tag);
        if (pct(rng) < 10) {  // comments and star ratings count nowhere
          fb->set_kind(feedback::v1::FEEDBACK_KIND_STAR_RATING);
        } else {
          pending_model_.push_back({fseq, false, f, {}, {}});
        }
        feedback_changes_.push_back(change);
        continue;
      }
      journey::v1::JourneyChange change;
      change.set_sequence(++jseq);
      change.set_tenant(tenant);
      const std::string id = absl::StrCat("c", pick(customers_));
      RawCustomer& shadow = shadow_[{tenant, id}];
      const int what = pct(rng);
      if (what < 60) {
        change.mutable_customer_upserted()->set_customer_id(id);
        const std::string segment = kSegments[pick(4)];
        change.mutable_customer_upserted()->mutable_traits()->set_segment(segment);
        shadow.segment = segment;
      } else if (what < 85) {
        const std::string target = absl::StrCat("c", pick(customers_));
        if (!shadow.parent.empty() || target == id || !shadow_[{tenant, target}].parent.empty()) {
          change.mutable_customer_upserted()->set_customer_id(id);
          change.mutable_customer_upserted()->mutable_traits()->set_segment(shadow.segment);
        } else {
          change.mutable_customers_merged()->mutable_source()->set_customer_id(id);
          change.mutable_customers_merged()->set_target_customer_id(target);
          shadow.parent = target;
        }
      } else if (!shadow.parent.empty()) {
        change.mutable_customers_unmerged()->mutable_source()->set_customer_id(id);
        shadow.parent.clear();
      } else {
        change.mutable_event_recorded()->set_event_id(absl::StrCat("e", i));
      }
      pending_model_.push_back({jseq, true, {}, {tenant, id}, shadow});
      journey_changes_.push_back(change);
    }
  }

  // Applies the next up-to-n changes of each feed, in random-size batches,
  // and the model follows.
  void Feed(std::mt19937_64& rng, size_t n) {
    for (size_t done = 0; done < n && (fpos_ < feedback_changes_.size() || jpos_ < journey_changes_.size());) {
      const bool journey = fpos_ == feedback_changes_.size() || (jpos_ < journey_changes_.size() && rng() % 3 == 0);
      const size_t size = 1 + rng() % 60;
      if (journey) {
        const size_t end = std::min(journey_changes_.size(), jpos_ + size);
        std::vector<journey::v1::JourneyChange> batch(journey_changes_.begin() + jpos_, journey_changes_.begin() + end);
        CX_ASSERT_OK(applier_->ApplyJourney(static_cast<int64_t>(jpos_), batch));
        done += end - jpos_;
        jpos_ = end;
      } else {
        const size_t end = std::min(feedback_changes_.size(), fpos_ + size);
        std::vector<feedback::v1::FeedbackChange> batch(feedback_changes_.begin() + fpos_, feedback_changes_.begin() + end);
        CX_ASSERT_OK(applier_->ApplyFeedback(static_cast<int64_t>(fpos_), batch));
        done += end - fpos_;
        fpos_ = end;
      }
    }
    // The model: every feedback and customer change applied so far.
    model_ = Model{};
    for (const auto& p : pending_model_) {
      if (!p.journey && p.sequence <= static_cast<int64_t>(fpos_)) model_.feedback.push_back(p.feedback);
      if (p.journey && p.sequence <= static_cast<int64_t>(jpos_)) model_.customers[p.customer] = p.state;
    }
  }

  TimeRange RandomRange(std::mt19937_64& rng) {
    const int64_t a = kBaseHour * 3600 - 7200 + static_cast<int64_t>(rng() % ((kHours + 4) * 3600));
    const int64_t b = a + 1 + static_cast<int64_t>(rng() % (kHours * 3600 / 2));
    TimeRange r;
    r.mutable_start_time()->set_seconds(a);
    r.mutable_end_time()->set_seconds(b);
    return r;
  }

  v1::Filters RandomFilters(std::mt19937_64& rng, Filter* filter) {
    v1::Filters f;
    *filter = Filter{};
    const int dims = static_cast<int>(rng() % 4);  // 0 to 3 filtered dimensions
    for (int i = 0; i < dims; ++i) {
      switch (rng() % 6) {
        case 0: f.set_channel(static_cast<cx::common::v1::Channel>(1 + rng() % 3)); (*filter)[kChannel] = std::to_string(f.channel()); break;
        case 1: f.set_source(static_cast<cx::common::v1::Source>(1 + rng() % 2)); (*filter)[kSource] = std::to_string(f.source()); break;
        case 2: f.set_touchpoint_id(kTouchpoints[1 + rng() % 3]); (*filter)[kTouchpoint] = f.touchpoint_id(); break;
        case 3: f.set_journey_stage(static_cast<cx::common::v1::JourneyStage>(1 + rng() % 2)); (*filter)[kStage] = std::to_string(f.journey_stage()); break;
        case 4: f.set_segment(kSegments[1 + rng() % 3]); (*filter)[kSegment] = f.segment(); break;
        default: f.set_tag(kTags[rng() % 3]); (*filter)[kTag] = f.tag(); break;
      }
    }
    return f;
  }

  // Every query kind, compared with the brute force.
  void CheckQueries(std::mt19937_64& rng, int queries) {
    shared::Principal p;
    for (int q = 0; q < queries; ++q) {
      p.tenant = kTenants[rng() % 2];
      const Metric metric = static_cast<Metric>(1 + rng() % 3);
      const auto api_metric = static_cast<v1::Metric>(static_cast<int>(metric));
      Filter filter;
      const v1::Filters filters = RandomFilters(rng, &filter);
      const std::string what = absl::StrCat("query ", q, " tenant ", p.tenant, " metric ", static_cast<int>(metric),
                                            " filters {", filters.ShortDebugString(), "}");

      v1::GetScoreRequest score;
      score.set_metric(api_metric);
      *score.mutable_range() = RandomRange(rng);
      *score.mutable_filters() = filters;
      auto s = manager_->GetScore(p, score);
      ASSERT_TRUE(s.ok()) << s.status();
      const int64_t from = s->range().start_time().seconds(), to = s->range().end_time().seconds();
      EXPECT_EQ(from, score.range().start_time().seconds() / 3600 * 3600) << what;
      EXPECT_EQ(to, (score.range().end_time().seconds() + 3599) / 3600 * 3600) << what;
      ExpectCounts(s->score(), metric, model_.Sum(p.tenant, metric, filter, from, to), "score " + what);
      if (filters.ByteSizeLong() == 0) {
        auto sql = repository_->ScanFacts(p.tenant, metric, from / 3600, to / 3600);
        ASSERT_TRUE(sql.ok()) << sql.status();
        EXPECT_EQ(sql->n, s->score().n()) << what;
        EXPECT_EQ(sql->top, s->score().top_count()) << what;
      }

      v1::GetTrendRequest trend;
      trend.set_metric(api_metric);
      trend.set_interval(rng() % 2 ? v1::INTERVAL_DAY : v1::INTERVAL_HOUR);
      const char* zones[] = {"", "Europe/Paris", "America/New_York"};
      trend.set_time_zone(zones[rng() % 3]);
      *trend.mutable_range() = RandomRange(rng);
      *trend.mutable_filters() = filters;
      auto tr = manager_->GetTrend(p, trend);
      ASSERT_TRUE(tr.ok()) << tr.status();
      ASSERT_GT(tr->points_size(), 0);
      EXPECT_LE(tr->points(0).start_time().seconds(), trend.range().start_time().seconds());
      EXPECT_GE(tr->points(tr->points_size() - 1).end_time().seconds(), trend.range().end_time().seconds());
      absl::TimeZone tz;
      ASSERT_TRUE(absl::LoadTimeZone(trend.time_zone().empty() ? "UTC" : trend.time_zone(), &tz));
      for (int i = 0; i < tr->points_size(); ++i) {
        const auto& point = tr->points(i);
        if (i > 0) {
          EXPECT_EQ(point.start_time().seconds(), tr->points(i - 1).end_time().seconds());
        }
        const absl::CivilSecond local = absl::ToCivilSecond(absl::FromUnixSeconds(point.start_time().seconds()), tz);
        EXPECT_EQ(local.minute(), 0);
        if (trend.interval() == v1::INTERVAL_DAY) {
          EXPECT_EQ(local.hour(), 0) << trend.time_zone();
        }
        ExpectCounts(point.score(), metric,
                     model_.Sum(p.tenant, metric, filter, point.start_time().seconds(), point.end_time().seconds()),
                     absl::StrCat("trend point ", i, " ", what));
      }

      const Dim dim = static_cast<Dim>(rng() % kDims);
      v1::GetBreakdownRequest breakdown;
      breakdown.set_metric(api_metric);
      breakdown.set_dimension(static_cast<v1::Dimension>(dim + 1));
      *breakdown.mutable_range() = RandomRange(rng);
      *breakdown.mutable_filters() = filters;
      auto b = manager_->GetBreakdown(p, breakdown);
      if (dim == kTag && filter[kTag]) {  // no co-occurrence of tags in the rollups
        EXPECT_THAT(b, t::StatusIsField(absl::StatusCode::kInvalidArgument, "filters.tag"));
        continue;
      }
      ASSERT_TRUE(b.ok()) << b.status();
      const int64_t bfrom = b->range().start_time().seconds(), bto = b->range().end_time().seconds();
      auto want = model_.Breakdown(p.tenant, metric, dim, filter, bfrom, bto);
      ASSERT_EQ(b->rows_size(), static_cast<int>(want.size())) << "breakdown " << dim << " " << what;
      std::map<std::string, v1::Score> got;
      for (const auto& row : b->rows()) got[row.value()] = row.score();
      for (const auto& [value, counts] : want) {
        ASSERT_TRUE(got.count(ApiValue(dim, value))) << value;
        ExpectCounts(got[ApiValue(dim, value)], metric, counts, "breakdown row " + value + " " + what);
      }
      for (int i = 1; i < b->rows_size(); ++i) EXPECT_GE(b->rows(i - 1).score().value(), b->rows(i).score().value());

      v1::GetDriversRequest drivers;
      drivers.set_metric(api_metric);
      drivers.set_dimension(breakdown.dimension());
      *drivers.mutable_range() = breakdown.range();
      *drivers.mutable_filters() = filters;
      auto d = manager_->GetDrivers(p, drivers);
      ASSERT_TRUE(d.ok()) << d.status();
      const Counts overall = model_.Sum(p.tenant, metric, filter, bfrom, bto);
      ExpectCounts(d->overall(), metric, overall, "drivers overall " + what);
      ASSERT_EQ(d->drivers_size(), static_cast<int>(want.size()));
      for (const auto& driver : d->drivers()) {
        Counts value_counts;
        for (const auto& [value, counts] : want) {
          if (ApiValue(dim, value) == driver.value()) value_counts = counts;
        }
        const Counts rest = overall - value_counts;
        ExpectCounts(driver.rest(), metric, rest, "driver rest " + what);
        if (rest.n > 0) {
          const Score so = ComputeScore(metric, overall), sr = ComputeScore(metric, rest);
          EXPECT_NEAR(driver.impact(), so.value - sr.value, 1e-9);
          const Score sv = ComputeScore(metric, value_counts);
          const double share = static_cast<double>(value_counts.n) / overall.n;
          EXPECT_NEAR(driver.impact(), share * (sv.value - sr.value), 1e-9);  // the decomposition holds
        }
      }

      v1::CompareScoresRequest compare;
      compare.set_metric(api_metric);
      *compare.mutable_period_a() = RandomRange(rng);
      *compare.mutable_period_b() = RandomRange(rng);
      *compare.mutable_filters() = filters;
      auto c = manager_->CompareScores(p, compare);
      ASSERT_TRUE(c.ok()) << c.status();
      const Counts ca = model_.Sum(p.tenant, metric, filter, c->period_a().start_time().seconds(),
                                   c->period_a().end_time().seconds());
      const Counts cb = model_.Sum(p.tenant, metric, filter, c->period_b().start_time().seconds(),
                                   c->period_b().end_time().seconds());
      ExpectCounts(c->a(), metric, ca, "compare a " + what);
      ExpectCounts(c->b(), metric, cb, "compare b " + what);
      if (ca.n > 0 && cb.n > 0) {
        const Difference diff = metrics::CompareScores(ComputeScore(metric, ca), ComputeScore(metric, cb), 0.95);
        EXPECT_DOUBLE_EQ(c->delta(), diff.delta);
        EXPECT_DOUBLE_EQ(c->delta_standard_error(), diff.standard_error);
        EXPECT_EQ(c->significant(), diff.significant);
      }
      if (HasFatalFailure() || HasFailure()) return;
    }
  }

  struct Pending {
    int64_t sequence;
    bool journey;
    RawFeedback feedback;
    std::pair<std::string, std::string> customer;
    RawCustomer state;
  };

  std::unique_ptr<t::ScratchDatabase> db_;
  std::shared_ptr<t::StatementLog> log_;  // set: a pool that notes its statements
  int customers_ = 30;                     // per tenant, in the generated changes
  std::shared_ptr<MetricsRepository> repository_;
  std::shared_ptr<RollupIndex> index_;
  std::shared_ptr<FeedApplier> applier_;
  std::shared_ptr<MetricsManager> manager_;
  std::vector<feedback::v1::FeedbackChange> feedback_changes_;
  std::vector<journey::v1::JourneyChange> journey_changes_;
  std::vector<Pending> pending_model_;
  std::map<std::pair<std::string, std::string>, RawCustomer> shadow_;
  size_t fpos_ = 0, jpos_ = 0;
  Model model_;
};

TEST_P(RandomizedTest, EveryQueryEqualsBruteForceBeforeAndAfterARestartMidwayAndAfterMergesAndSegmentMoves) {
  const int seeds = GetParam() == "sqlite" ? 12 : 3;
  for (int seed = 1; seed <= seeds; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    db_ = std::make_unique<t::ScratchDatabase>(GetParam(), "metrics_random");
    CX_ASSERT_OK(db_->status());
    feedback_changes_.clear();
    journey_changes_.clear();
    pending_model_.clear();
    shadow_.clear();
    fpos_ = jpos_ = 0;
    std::mt19937_64 rng(static_cast<uint64_t>(seed));
    Open();
    Generate(rng, 1500, 250);
    Feed(rng, 900);
    CheckQueries(rng, 25);
    if (HasFailure()) return;
    Reopen();  // as after a crash: everything from the database
    CheckQueries(rng, 10);
    Feed(rng, 1u << 30);
    CheckQueries(rng, 25);
    if (HasFailure()) return;
    Reopen();
    CheckQueries(rng, 10);
    if (HasFailure()) return;
  }
}

TEST_P(RandomizedTest, AReplayedBatchIsRefusedAndChangesNothing) {
  db_ = std::make_unique<t::ScratchDatabase>(GetParam(), "metrics_replay");
  CX_ASSERT_OK(db_->status());
  std::mt19937_64 rng(7);
  Open();
  Generate(rng, 100, 0);
  std::vector<feedback::v1::FeedbackChange> batch(feedback_changes_.begin(), feedback_changes_.begin() + 50);
  CX_ASSERT_OK(applier_->ApplyFeedback(0, batch));
  // The same batch again (a consumer that did not see its commit): refused.
  EXPECT_THAT(applier_->ApplyFeedback(0, batch), t::StatusIs(absl::StatusCode::kAborted));
  fpos_ = 50;
  Feed(rng, 0);
  shared::Principal p{"acme", shared::kRoleRead, ""};
  for (Metric m : {Metric::kNps, Metric::kCsat, Metric::kCes}) {
    const Counts want = model_.Sum("acme", m, Filter{}, 0, INT64_MAX / 2);
    EXPECT_EQ(index_->Sum("acme", m, Filter{}, 0, INT64_MAX / 3600), want);
  }
  auto cursor = repository_->Cursor(kFeedbackFeed);
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(*cursor, 50);
}

// Applying the feeds (feedback, customers, segment moves, merges, unmerges)
// reads no range bounded by the tenant alone, so the consumer's cost per
// change does not grow with the tenant: on SQLite (its planner without
// statistics) and on MariaDB (with them). Loading at start reads everything
// by design and is not checked.
class MetricsQueryPlans : public RandomizedTest {};

TEST_P(MetricsQueryPlans, ApplyingTheFeedsReadsNoTenantWideRange) {
  db_ = std::make_unique<t::ScratchDatabase>(GetParam(), "metrics_plans");
  CX_ASSERT_OK(db_->status());
  log_ = std::make_shared<t::StatementLog>();
  std::mt19937_64 rng(3);
  Open();
  log_->Take();  // the migrations and the load
  // Tenants of many customers, so MariaDB's optimizer weighs the rows of the
  // whole tenant against those of one customer as in production.
  customers_ = 2000;
  Generate(rng, 3000, 3000);
  Feed(rng, 1u << 30);
  const auto statements = log_->Take();
  ASSERT_GT(statements.size(), 50u);
  auto wide = t::TenantWideReads(db_->url(), statements);
  CX_ASSERT_OK(wide);
  EXPECT_THAT(*wide, ::testing::IsEmpty());
}

std::vector<std::string> Backends() {
  std::vector<std::string> b{"sqlite"};
  b.push_back("mysql");
  return b;
}

INSTANTIATE_TEST_SUITE_P(Backends, RandomizedTest, ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param == "sqlite" ? "SQLite" : "MariaDB"; });
INSTANTIATE_TEST_SUITE_P(Backends, MetricsQueryPlans, ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param == "sqlite" ? "SQLite" : "MariaDB"; });

}  // namespace
}  // namespace cx::metrics
