#include "metrics-service/metrics_manager.h"

#include "metrics-service/query_checks.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "cx/common/v1/common.pb.h"
#include "shared/proto_util.h"
#include "shared/status.h"
#include "shared/text.h"

namespace cx::metrics {
namespace {

using shared::FieldViolation;
using shared::Principal;

constexpr int64_t kSecondsPerHour = 3600;
constexpr int kMaxRulesPage = 100;
constexpr int kMaxAlertsPage = 200;
constexpr int kDefaultPage = 50;
constexpr int64_t kMaxWindowHours = 90 * 24;
constexpr char kRulePrefix[] = "alertRules/";

std::optional<Metric> MetricOf(v1::Metric m) {
  switch (m) {
    case v1::METRIC_NPS: return Metric::kNps;
    case v1::METRIC_CSAT: return Metric::kCsat;
    case v1::METRIC_CES: return Metric::kCes;
    default: return std::nullopt;
  }
}

std::optional<Metric> CheckMetric(v1::Metric m, const std::string& field, Violations* v) {
  auto metric = MetricOf(m);
  if (!metric) v->push_back({field, "must be METRIC_NPS, METRIC_CSAT or METRIC_CES"});
  return metric;
}

std::optional<Dim> CheckDimension(v1::Dimension d, Violations* v) {
  if (d >= v1::DIMENSION_CHANNEL && d <= v1::DIMENSION_TAG) return static_cast<Dim>(d - 1);
  v->push_back({"dimension", "must be one of DIMENSION_CHANNEL, _SOURCE, _TOUCHPOINT, _JOURNEY_STAGE, _SEGMENT, _TAG"});
  return std::nullopt;
}

Filter CheckFilters(const v1::Filters& f, const std::string& prefix, Violations* v) {
  Filter out;
  if (f.channel() != 0) {
    if (!cx::common::v1::Channel_IsValid(f.channel())) v->push_back({prefix + "channel", "is not a known channel"});
    out[kChannel] = std::to_string(f.channel());
  }
  if (f.source() != 0) {
    if (!cx::common::v1::Source_IsValid(f.source())) v->push_back({prefix + "source", "is not a known source"});
    out[kSource] = std::to_string(f.source());
  }
  if (!f.touchpoint_id().empty()) {
    if (!shared::IsIdentifier(f.touchpoint_id(), 128)) v->push_back({prefix + "touchpoint_id", shared::kIdentifierRule});
    out[kTouchpoint] = f.touchpoint_id();
  }
  if (f.journey_stage() != 0) {
    if (!cx::common::v1::JourneyStage_IsValid(f.journey_stage())) {
      v->push_back({prefix + "journey_stage", "is not a known journey stage"});
    }
    out[kStage] = std::to_string(f.journey_stage());
  }
  if (!f.segment().empty()) {
    if (!IsLabel(f.segment())) v->push_back({prefix + "segment", "must be 1 to 64 characters of [A-Za-z0-9_.:/-]"});
    out[kSegment] = f.segment();
  }
  if (!f.tag().empty()) {
    if (!IsLabel(f.tag())) v->push_back({prefix + "tag", "must be 1 to 64 characters of [A-Za-z0-9_.:/-]"});
    out[kTag] = f.tag();
  }
  return out;
}

// Rollups count an answer once per tag, not per pair of tags, so answers
// with one tag cannot be broken down by their other tags.
void CheckTagBreakdown(const std::optional<Dim>& dim, const Filter& filter, Violations* v) {
  if (dim == kTag && filter[kTag]) v->push_back({"filters.tag", "cannot be combined with DIMENSION_TAG"});
}

struct HourRange {
  int64_t from = 0;  // hours since the epoch, inclusive
  int64_t to = 0;    // exclusive
};

int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Checks a time range and widens it to whole hours.
HourRange CheckRange(const cx::common::v1::TimeRange& r, const std::string& field, Violations* v) {
  HourRange out;
  if (!r.has_start_time() || !r.has_end_time()) {
    v->push_back({field, "needs start_time and end_time"});
    return out;
  }
  if (!shared::IsValidTimestamp(r.start_time())) v->push_back({field + ".start_time", "is not a valid time"});
  if (!shared::IsValidTimestamp(r.end_time())) v->push_back({field + ".end_time", "is not a valid time"});
  const absl::Time start = shared::ToTime(r.start_time()), end = shared::ToTime(r.end_time());
  if (start >= end) v->push_back({field, "start_time must be before end_time"});
  out.from = FloorDiv(r.start_time().seconds(), kSecondsPerHour);
  const int64_t end_seconds = r.end_time().seconds() + (r.end_time().nanos() > 0 ? 1 : 0);
  out.to = FloorDiv(end_seconds + kSecondsPerHour - 1, kSecondsPerHour);
  return out;
}

cx::common::v1::TimeRange ToProtoRange(int64_t from_hour, int64_t to_hour) {
  cx::common::v1::TimeRange r;
  r.mutable_start_time()->set_seconds(from_hour * kSecondsPerHour);
  r.mutable_end_time()->set_seconds(to_hour * kSecondsPerHour);
  return r;
}


// The checked fields of a request over one dimension (breakdown, drivers).
struct DimensionQuery {
  Metric metric;
  Dim dim;
  HourRange range;
  Filter filter;
};

template <class Request>
absl::StatusOr<DimensionQuery> CheckDimensionQuery(const Request& r) {
  Violations v;
  auto metric = CheckMetric(r.metric(), "metric", &v);
  auto dim = CheckDimension(r.dimension(), &v);
  DimensionQuery q{Metric::kNps, kChannel, CheckRange(r.range(), "range", &v), CheckFilters(r.filters(), "filters.", &v)};
  CheckTagBreakdown(dim, q.filter, &v);
  if (!v.empty()) return Invalid(v);
  q.metric = *metric;
  q.dim = *dim;
  return q;
}

// The name of a dimension value as the API shows it.
std::string ValueName(Dim dim, const std::string& value) {
  int number = 0;
  switch (dim) {
    case kChannel:
      absl::SimpleAtoi(value, &number);
      return number == 0 ? "" : cx::common::v1::Channel_Name(static_cast<cx::common::v1::Channel>(number));
    case kSource:
      absl::SimpleAtoi(value, &number);
      return number == 0 ? "" : cx::common::v1::Source_Name(static_cast<cx::common::v1::Source>(number));
    case kStage:
      absl::SimpleAtoi(value, &number);
      return number == 0 ? "" : cx::common::v1::JourneyStage_Name(static_cast<cx::common::v1::JourneyStage>(number));
    default:
      return value;
  }
}

double TwoSidedP(double z) { return std::erfc(std::fabs(z) / std::sqrt(2.0)); }

std::optional<std::string> RuleIdOf(const std::string& name) {
  if (!absl::StartsWith(name, kRulePrefix)) return std::nullopt;
  std::string id = name.substr(sizeof(kRulePrefix) - 1);
  if (!shared::IsIdentifier(id, 32)) return std::nullopt;
  return id;
}

// Rule ids sort in creation order: microseconds (strictly increasing within
// the process), then random digits so replicas never collide.
std::string NewRuleId(absl::Time now) {
  static std::mt19937_64 random(std::random_device{}());
  static std::mutex mu;
  static int64_t last = 0;
  std::lock_guard<std::mutex> lock(mu);
  last = std::max(last + 1, absl::ToUnixMicros(now));
  return absl::StrFormat("%013x%04x", last, random() & 0xffff);
}

}  // namespace

v1::Score ToScore(Metric metric, const Counts& counts) {
  const Score s = ComputeScore(metric, counts);
  v1::Score out;
  out.set_metric(static_cast<v1::Metric>(metric));
  out.set_defined(s.defined);
  out.set_n(counts.n);
  out.set_top_count(counts.top);
  out.set_bottom_count(counts.bottom);
  out.set_middle_count(counts.n - counts.top - counts.bottom);
  if (s.defined) {
    out.set_value(s.value);
    out.set_standard_error(s.standard_error);
    out.set_margin_of_error(s.margin);
    out.set_interval_low(s.low);
    out.set_interval_high(s.high);
  }
  int lo = 0, hi = 0;
  ScaleOf(metric, &lo, &hi);
  out.mutable_scale()->set_min(lo);
  out.mutable_scale()->set_max(hi);
  out.mutable_scale()->set_description(metric == Metric::kNps    ? "NPS -100..100 from answers 0-10"
                                       : metric == Metric::kCsat ? "CSAT % of 4-5 answers on 1-5"
                                                                 : "CES mean answer on 1-7 (7 = very easy)");
  return out;
}

MetricsManager::MetricsManager(std::shared_ptr<MetricsRepository> repository, std::shared_ptr<RollupIndex> index,
                               MetricsManagerOptions options)
    : repository_(std::move(repository)), index_(std::move(index)), options_(std::move(options)),
      tokens_(options_.page_token_key) {}

absl::StatusOr<v1::GetScoreResponse> MetricsManager::GetScore(const Principal& p, const v1::GetScoreRequest& r) const {
  Violations v;
  auto metric = CheckMetric(r.metric(), "metric", &v);
  HourRange range = CheckRange(r.range(), "range", &v);
  Filter filter = CheckFilters(r.filters(), "filters.", &v);
  if (!v.empty()) return Invalid(v);
  v1::GetScoreResponse out;
  *out.mutable_score() = ToScore(*metric, index_->Sum(p.tenant, *metric, filter, range.from, range.to));
  *out.mutable_range() = ToProtoRange(range.from, range.to);
  return out;
}

absl::StatusOr<v1::GetTrendResponse> MetricsManager::GetTrend(const Principal& p, const v1::GetTrendRequest& r) const {
  Violations v;
  auto metric = CheckMetric(r.metric(), "metric", &v);
  HourRange range = CheckRange(r.range(), "range", &v);
  Filter filter = CheckFilters(r.filters(), "filters.", &v);
  if (r.interval() < v1::INTERVAL_HOUR || r.interval() > v1::INTERVAL_MONTH) {
    v.push_back({"interval", "must be INTERVAL_HOUR, INTERVAL_DAY, INTERVAL_WEEK or INTERVAL_MONTH"});
  }
  absl::TimeZone tz = CheckTimeZone(r.time_zone(), "time_zone", &v);
  const std::string zone = r.time_zone().empty() ? "UTC" : r.time_zone();
  if (!v.empty()) return Invalid(v);

  // Interval starts in the zone from the one holding the range's start.
  const absl::Time start = shared::ToTime(r.range().start_time()), end = shared::ToTime(r.range().end_time());
  std::vector<int64_t> boundaries;
  for (absl::Time b = IntervalBoundary(start, r.interval(), tz, true);;
       b = IntervalBoundary(b, r.interval(), tz, false)) {
    const int64_t seconds = absl::ToUnixSeconds(b);
    if (seconds % kSecondsPerHour != 0 || absl::ToUnixNanos(b) % 1000000000 != 0) {
      return shared::InvalidField("time_zone", "has an offset that is not a whole number of hours in the range "
                                               "(rollups are hourly)");
    }
    boundaries.push_back(seconds / kSecondsPerHour);
    if (b >= end) break;
    if (boundaries.size() > static_cast<size_t>(kMaxTrendPoints)) {
      return shared::InvalidField("range", absl::StrCat("holds more than ", kMaxTrendPoints,
                                                        " intervals; use a longer interval or a shorter range"));
    }
  }
  (void)range;
  std::vector<Counts> sums = index_->SumIntervals(p.tenant, *metric, filter, boundaries);
  v1::GetTrendResponse out;
  for (size_t i = 0; i < sums.size(); ++i) {
    v1::TrendPoint* point = out.add_points();
    point->mutable_start_time()->set_seconds(boundaries[i] * kSecondsPerHour);
    point->mutable_end_time()->set_seconds(boundaries[i + 1] * kSecondsPerHour);
    *point->mutable_score() = ToScore(*metric, sums[i]);
  }
  *out.mutable_range() = ToProtoRange(boundaries.front(), boundaries.back());
  out.set_time_zone(zone);
  return out;
}

absl::StatusOr<v1::GetBreakdownResponse> MetricsManager::GetBreakdown(const Principal& p,
                                                                      const v1::GetBreakdownRequest& r) const {
  auto q = CheckDimensionQuery(r);
  if (!q.ok()) return q.status();
  const Metric metric = q->metric;
  const Dim dim = q->dim;
  const HourRange range = q->range;
  const Filter& filter = q->filter;
  auto values = index_->Breakdown(p.tenant, metric, dim, filter, range.from, range.to);
  v1::GetBreakdownResponse out;
  for (const auto& [value, counts] : values) {
    v1::BreakdownRow* row = out.add_rows();
    row->set_value(ValueName(dim, value));
    *row->mutable_score() = ToScore(metric, counts);
  }
  std::sort(out.mutable_rows()->begin(), out.mutable_rows()->end(), [](const auto& a, const auto& b) {
    if (a.score().value() != b.score().value()) return a.score().value() > b.score().value();
    if (a.score().n() != b.score().n()) return a.score().n() > b.score().n();
    return a.value() < b.value();
  });
  *out.mutable_total() = ToScore(metric, index_->Sum(p.tenant, metric, filter, range.from, range.to));
  *out.mutable_range() = ToProtoRange(range.from, range.to);
  return out;
}

absl::StatusOr<v1::CompareScoresResponse> MetricsManager::CompareScores(const Principal& p,
                                                                        const v1::CompareScoresRequest& r) const {
  Violations v;
  auto metric = CheckMetric(r.metric(), "metric", &v);
  HourRange a = CheckRange(r.period_a(), "period_a", &v);
  HourRange b = CheckRange(r.period_b(), "period_b", &v);
  Filter filter = CheckFilters(r.filters(), "filters.", &v);
  const double level = r.confidence_level() == 0 ? 0.95 : r.confidence_level();
  if (!(level >= 0.5 && level <= 0.999)) v.push_back({"confidence_level", "must be between 0.5 and 0.999 (0: 0.95)"});
  if (!v.empty()) return Invalid(v);
  const Counts ca = index_->Sum(p.tenant, *metric, filter, a.from, a.to);
  const Counts cb = index_->Sum(p.tenant, *metric, filter, b.from, b.to);
  const Score sa = ComputeScore(*metric, ca), sb = ComputeScore(*metric, cb);
  v1::CompareScoresResponse out;
  *out.mutable_a() = ToScore(*metric, ca);
  *out.mutable_b() = ToScore(*metric, cb);
  out.set_confidence_level(level);
  *out.mutable_period_a() = ToProtoRange(a.from, a.to);
  *out.mutable_period_b() = ToProtoRange(b.from, b.to);
  if (sa.defined && sb.defined) {
    const Difference d = metrics::CompareScores(sa, sb, level);
    out.set_delta(d.delta);
    out.set_delta_standard_error(d.standard_error);
    out.set_z(d.z);
    out.set_p_value(d.standard_error > 0 ? TwoSidedP(d.z) : (d.delta == 0 ? 1.0 : 0.0));
    out.set_significant(d.significant);
  } else {
    out.set_p_value(1.0);
  }
  return out;
}

absl::StatusOr<v1::GetDriversResponse> MetricsManager::GetDrivers(const Principal& p,
                                                                  const v1::GetDriversRequest& r) const {
  auto q = CheckDimensionQuery(r);
  if (!q.ok()) return q.status();
  const Metric metric = q->metric;
  const Dim dim = q->dim;
  const HourRange range = q->range;
  const Filter& filter = q->filter;
  const Counts overall = index_->Sum(p.tenant, metric, filter, range.from, range.to);
  const Score so = ComputeScore(metric, overall);
  v1::GetDriversResponse out;
  *out.mutable_overall() = ToScore(metric, overall);
  *out.mutable_range() = ToProtoRange(range.from, range.to);
  for (const auto& [value, counts] : index_->Breakdown(p.tenant, metric, dim, filter, range.from, range.to)) {
    Counts rest = overall;
    rest -= counts;
    const Score sv = ComputeScore(metric, counts), sr = ComputeScore(metric, rest);
    v1::Driver* d = out.add_drivers();
    d->set_value(ValueName(dim, value));
    d->set_share(overall.n > 0 ? static_cast<double>(counts.n) / overall.n : 0);
    *d->mutable_score() = ToScore(metric, counts);
    *d->mutable_rest() = ToScore(metric, rest);
    if (sr.defined) {
      // overall = share * value + (1 - share) * rest, so overall - rest = share * (value - rest).
      d->set_impact(so.value - sr.value);
      const double se = d->share() * std::sqrt(sv.standard_error * sv.standard_error +
                                               sr.standard_error * sr.standard_error);
      d->set_impact_standard_error(se);
      d->set_impact_low(d->impact() - 1.96 * se);
      d->set_impact_high(d->impact() + 1.96 * se);
      d->set_significant(d->impact_low() > 0 || d->impact_high() < 0);
    }
  }
  std::sort(out.mutable_drivers()->begin(), out.mutable_drivers()->end(), [](const auto& a, const auto& b) {
    if (a.impact() != b.impact()) return a.impact() < b.impact();
    return a.value() < b.value();
  });
  return out;
}

absl::StatusOr<v1::CreateAlertRuleResponse> MetricsManager::CreateAlertRule(const Principal& p,
                                                                            const v1::CreateAlertRuleRequest& r) {
  Violations v;
  if (!shared::IsIdentifier(r.request_id(), 128)) v.push_back({"request_id", shared::kIdentifierRule});
  const v1::AlertRule& in = r.rule();
  const size_t name_length = shared::Utf8Length(in.display_name());
  if (name_length == 0 || name_length > 200) v.push_back({"rule.display_name", "must be 1 to 200 characters"});
  auto metric = CheckMetric(in.metric(), "rule.metric", &v);
  CheckFilters(in.filters(), "rule.filters.", &v);
  const int64_t window_seconds = in.window().seconds();
  if (!in.has_window() || in.window().nanos() != 0 || window_seconds % kSecondsPerHour != 0 ||
      window_seconds < kSecondsPerHour || window_seconds > kMaxWindowHours * kSecondsPerHour) {
    v.push_back({"rule.window", "must be whole hours from 1 hour to 90 days"});
  }
  if (metric) {
    int lo = 0, hi = 0;
    ScaleOf(*metric, &lo, &hi);
    if (!(in.min_drop() > 0 && in.min_drop() <= hi - lo)) {
      v.push_back({"rule.min_drop", absl::StrCat("must be greater than 0 and at most ", hi - lo)});
    }
  }
  if (in.min_sample() < 2 || in.min_sample() > 1000000000) v.push_back({"rule.min_sample", "must be 2 to 1e9"});
  if (in.significance_level() != 0 && !(in.significance_level() >= 0.0001 && in.significance_level() <= 0.5)) {
    v.push_back({"rule.significance_level", "must be between 0.0001 and 0.5 (0: 0.05)"});
  }
  if (!v.empty()) return Invalid(v);

  v1::AlertRule rule;
  rule.set_display_name(in.display_name());
  rule.set_metric(in.metric());
  *rule.mutable_filters() = in.filters();
  *rule.mutable_window() = in.window();
  rule.set_min_drop(in.min_drop());
  rule.set_min_sample(in.min_sample());
  rule.set_significance_level(in.significance_level() == 0 ? 0.05 : in.significance_level());
  const std::string hash = shared::PayloadHash(rule);
  const absl::Time now = options_.clock();
  rule.set_rule_id(NewRuleId(now));
  rule.set_name(kRulePrefix + rule.rule_id());
  *rule.mutable_create_time() = shared::ToProtoTime(now);
  rule.set_created_by(p.actor);
  auto stored = repository_->CreateRule(p.tenant, r.request_id(), hash, rule);
  if (!stored.ok()) {
    if (absl::IsAlreadyExists(stored.status())) return shared::KeyReusedStatus("request_id");
    return stored.status();
  }
  v1::CreateAlertRuleResponse out;
  *out.mutable_rule() = stored->first;
  if (stored->second) (void)EvaluateAlerts({p.tenant});
  return out;
}

absl::StatusOr<v1::ListAlertRulesResponse> MetricsManager::ListAlertRules(const Principal& p,
                                                                          const v1::ListAlertRulesRequest& r) const {
  if (r.page_size() < 0 || r.page_size() > kMaxRulesPage) {
    return shared::InvalidField("page_size", absl::StrCat("must be between 0 and ", kMaxRulesPage));
  }
  const int size = r.page_size() == 0 ? kDefaultPage : r.page_size();
  std::string after;
  if (!r.page_token().empty()) {
    auto position = tokens_.DecodePosition(r.page_token(), p.tenant, "rules");
    if (!position.ok()) return position.status();
    after = position->key;
  }
  auto rules = repository_->ListRules(p.tenant, after, size + 1);
  if (!rules.ok()) return rules.status();
  v1::ListAlertRulesResponse out;
  for (size_t i = 0; i < rules->size() && i < static_cast<size_t>(size); ++i) *out.add_rules() = (*rules)[i].second;
  if (rules->size() > static_cast<size_t>(size)) {
    out.set_next_page_token(tokens_.EncodePosition(p.tenant, "rules", {{}, out.rules(size - 1).rule_id()}));
  }
  return out;
}

absl::StatusOr<v1::DeleteAlertRuleResponse> MetricsManager::DeleteAlertRule(const Principal& p,
                                                                            const v1::DeleteAlertRuleRequest& r) {
  auto id = RuleIdOf(r.name());
  if (!id) return shared::InvalidField("name", "must be alertRules/{rule_id}");
  auto deleted = repository_->DeleteRule(p.tenant, *id);
  if (!deleted.ok()) return deleted.status();
  if (!*deleted) return absl::NotFoundError("alert rule not found");
  return v1::DeleteAlertRuleResponse{};
}

absl::StatusOr<v1::ListAlertsResponse> MetricsManager::ListAlerts(const Principal& p,
                                                                  const v1::ListAlertsRequest& r) const {
  Violations v;
  if (r.page_size() < 0 || r.page_size() > kMaxAlertsPage) {
    v.push_back({"page_size", absl::StrCat("must be between 0 and ", kMaxAlertsPage)});
  }
  std::string rule_id;
  if (!r.rule_name().empty()) {
    auto id = RuleIdOf(r.rule_name());
    if (!id) v.push_back({"rule_name", "must be alertRules/{rule_id}"});
    else rule_id = *id;
  }
  if (!v.empty()) return Invalid(v);
  const int size = r.page_size() == 0 ? kDefaultPage : r.page_size();
  int64_t before = 0;
  if (!r.page_token().empty()) {
    auto position = tokens_.Decode(r.page_token(), p.tenant, "alerts:" + rule_id);
    if (!position.ok()) return position.status();
    if (position->size() != 1) return shared::InvalidField("page_token", "is not valid");
    before = (*position)[0];
  }
  auto alerts = repository_->AlertsBefore(p.tenant, before, rule_id, size + 1);
  if (!alerts.ok()) return alerts.status();
  v1::ListAlertsResponse out;
  for (size_t i = 0; i < alerts->size() && i < static_cast<size_t>(size); ++i) *out.add_alerts() = (*alerts)[i];
  if (alerts->size() > static_cast<size_t>(size)) {
    out.set_next_page_token(tokens_.Encode(p.tenant, "alerts:" + rule_id, {out.alerts(size - 1).sequence()}));
  }
  return out;
}

absl::StatusOr<std::optional<std::string>> MetricsManager::WatchAlertsScope(const Principal& p,
                                                                             const v1::WatchAlertsRequest& r) const {
  if (r.after_sequence() < 0) return shared::InvalidField("after_sequence", "must not be negative");
  return std::optional<std::string>(p.tenant);
}

absl::Status MetricsManager::EvaluateAlerts(const std::vector<std::string>& tenants) {
  std::lock_guard<std::mutex> lock(evaluate_mu_);
  const absl::Time now = options_.clock();
  auto check = [&](const std::optional<std::string>& tenant) -> absl::Status {
    auto rules = repository_->ListRules(tenant, "", 1 << 30);
    if (!rules.ok()) return rules.status();
    for (const auto& [rule_tenant, rule] : *rules) {
      if (auto s = EvaluateRule(rule_tenant, rule, now); !s.ok()) return s;
    }
    return absl::OkStatus();
  };
  if (tenants.empty()) return check(std::nullopt);
  for (const std::string& tenant : tenants) {
    if (auto s = check(tenant); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status MetricsManager::EvaluateRule(const std::string& tenant, const v1::AlertRule& rule, absl::Time now) {
  auto metric = MetricOf(rule.metric());
  if (!metric) return absl::OkStatus();
  Violations ignored;
  const Filter filter = CheckFilters(rule.filters(), "", &ignored);
  const int64_t window = rule.window().seconds() / kSecondsPerHour;
  const int64_t end = FloorDiv(absl::ToUnixSeconds(now), kSecondsPerHour) + 1;  // through the current hour
  const Counts previous = index_->Sum(tenant, *metric, filter, end - 2 * window, end - window);
  const Counts current = index_->Sum(tenant, *metric, filter, end - window, end);
  const Score sp = ComputeScore(*metric, previous), sc = ComputeScore(*metric, current);
  const double drop = sp.value - sc.value;
  const double se = std::sqrt(sp.standard_error * sp.standard_error + sc.standard_error * sc.standard_error);
  const double z = se > 0 ? drop / se : (drop > 0 ? INFINITY : 0);
  const double p_value = se > 0 ? 0.5 * std::erfc(z / std::sqrt(2.0)) : (drop > 0 ? 0.0 : 1.0);
  const bool breach = previous.n >= rule.min_sample() && current.n >= rule.min_sample() &&
                      drop >= rule.min_drop() && p_value < rule.significance_level();
  if (!breach) {
    return rule.in_breach() ? repository_->SetInBreach(tenant, rule.rule_id(), false) : absl::OkStatus();
  }
  if (rule.in_breach()) return absl::OkStatus();  // once per breach
  v1::Alert alert;
  alert.set_rule_name(rule.name());
  alert.set_rule_display_name(rule.display_name());
  alert.set_metric(rule.metric());
  *alert.mutable_filters() = rule.filters();
  *alert.mutable_fire_time() = shared::ToProtoTime(now);
  *alert.mutable_previous_window() = ToProtoRange(end - 2 * window, end - window);
  *alert.mutable_current_window() = ToProtoRange(end - window, end);
  *alert.mutable_previous() = ToScore(*metric, previous);
  *alert.mutable_current() = ToScore(*metric, current);
  alert.set_drop(drop);
  alert.set_drop_standard_error(se);
  alert.set_z(std::isfinite(z) ? z : 0);
  alert.set_p_value(p_value);
  alert.set_significance_level(rule.significance_level());
  alert.set_min_drop(rule.min_drop());
  alert.set_min_sample(rule.min_sample());
  alert.set_reason(absl::StrFormat(
      "%s fell from %.2f (n=%d) to %.2f (n=%d): a drop of %.2f >= %.2f with SE %.2f, z %.2f, one-sided p %.4g < %.4g",
      v1::Metric_Name(rule.metric()), sp.value, previous.n, sc.value, current.n, drop, rule.min_drop(), se,
      std::isfinite(z) ? z : 0.0, p_value, rule.significance_level()));
  auto stored = repository_->InsertAlert(tenant, rule.rule_id(), std::move(alert));
  if (!stored.ok()) return stored.status();
  if (options_.on_alert) options_.on_alert();
  return absl::OkStatus();
}

}  // namespace cx::metrics
