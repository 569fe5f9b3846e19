#include "metrics-service/journey_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <unordered_map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cx/common/v1/common.pb.h"
#include "metrics-service/query_checks.h"
#include "shared/proto_util.h"
#include "shared/status.h"
#include "shared/text.h"

namespace cx::metrics {
namespace {

using shared::Principal;

constexpr int64_t kUsPerSecond = 1000000;
constexpr int64_t kUsPerDay = 86400 * kUsPerSecond;
constexpr uint32_t kNoId = std::numeric_limits<uint32_t>::max();
constexpr char kRefundType[] = "refund_issued";
constexpr char kDefaultStartType[] = "subscription_started";
constexpr char kDefaultEndType[] = "subscription_cancelled";
constexpr char kHealthScope[] = "health";

int64_t ToUs(const google::protobuf::Timestamp& t) { return t.seconds() * kUsPerSecond + t.nanos() / 1000; }

google::protobuf::Timestamp TimestampOfUs(int64_t us) {
  google::protobuf::Timestamp t;
  int64_t seconds = us / kUsPerSecond, rest = us % kUsPerSecond;
  if (rest < 0) {
    rest += kUsPerSecond;
    --seconds;
  }
  t.set_seconds(seconds);
  t.set_nanos(static_cast<int32_t>(rest * 1000));
  return t;
}

google::protobuf::Duration DurationOfUs(int64_t us) {
  google::protobuf::Duration d;
  d.set_seconds(us / kUsPerSecond);
  d.set_nanos(static_cast<int32_t>((us % kUsPerSecond) * 1000));
  return d;
}

// Saturates outside google.protobuf.Duration's valid range (about ±10000
// years), so a forged value fails the caller's bounds check instead of
// overflowing.
int64_t DurationUs(const google::protobuf::Duration& d) {
  constexpr int64_t kMaxSeconds = 315'576'000'000;
  if (d.seconds() > kMaxSeconds) return std::numeric_limits<int64_t>::max();
  if (d.seconds() < -kMaxSeconds) return std::numeric_limits<int64_t>::min();
  return d.seconds() * kUsPerSecond + d.nanos() / 1000;
}

// The middle value; the mean of the two middle ones (truncated) when even.
int64_t MedianUs(std::vector<int64_t>& v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  if (n % 2 == 1) return v[n / 2];
  return static_cast<int64_t>((static_cast<__int128>(v[n / 2 - 1]) + v[n / 2]) / 2);
}

int64_t MeanUs(const std::vector<int64_t>& v) {
  if (v.empty()) return 0;
  __int128 sum = 0;
  for (int64_t x : v) sum += x;
  return static_cast<int64_t>(sum / static_cast<__int128>(v.size()));
}

// Nearest rank: the smallest value with at least percent% of values at or
// below it.
int64_t NearestRankUs(std::vector<int64_t>& v, int percent) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = (static_cast<size_t>(percent) * v.size() + 99) / 100;
  return v[std::max<size_t>(rank, 1) - 1];
}

double Ratio(int64_t a, int64_t b) { return b == 0 ? 0 : static_cast<double>(a) / static_cast<double>(b); }

struct UsRange {
  int64_t from = 0, to = 0;
  bool Holds(int64_t t) const { return t >= from && t < to; }
};

UsRange CheckRange(const common::v1::TimeRange& r, const std::string& field, Violations* v) {
  if (!r.has_start_time() || !r.has_end_time()) {
    v->push_back({field, "needs start_time and end_time"});
    return {};
  }
  if (!shared::IsValidTimestamp(r.start_time()) || !shared::IsValidTimestamp(r.end_time())) {
    v->push_back({field, "has a time that is not valid"});
    return {};  // not converted: an invalid time could overflow
  }
  UsRange out{ToUs(r.start_time()), ToUs(r.end_time())};
  if (out.from >= out.to) v->push_back({field, "start_time must be before end_time"});
  return out;
}

void CheckType(const std::string& type, const std::string& field, bool required, Violations* v) {
  if (type.empty()) {
    if (required) v->push_back({field, "is required"});
  } else if (!shared::IsEventType(type)) {
    v->push_back({field, "must be 1 to 64 characters of [a-z0-9_.] starting with a letter"});
  }
}

void CheckFilters(const v1::JourneyFilters& f, Violations* v) {
  if (!common::v1::Channel_IsValid(f.channel())) v->push_back({"filters.channel", "has an unknown value"});
  if (!f.touchpoint_id().empty() && !shared::IsIdentifier(f.touchpoint_id(), 128)) {
    v->push_back({"filters.touchpoint_id", shared::kIdentifierRule});
  }
  if (!f.segment().empty() && !IsLabel(f.segment())) {
    v->push_back({"filters.segment", "must be 1 to 64 characters of [A-Za-z0-9_.:/-]"});
  }
}

// JourneyFilters bound to a tenant's dictionaries.
struct EventFilter {
  int channel = 0;
  bool any_touchpoint = true;
  uint32_t touchpoint = 0;
  bool any_segment = true;
  uint32_t segment = 0;

  EventFilter(const v1::JourneyFilters& f, const TenantJourneys& t)
      : channel(f.channel()), any_touchpoint(f.touchpoint_id().empty()), any_segment(f.segment().empty()) {
    if (!any_touchpoint) touchpoint = t.touchpoints.Find(f.touchpoint_id()).value_or(kNoId);
    if (!any_segment) segment = t.segments.Find(f.segment()).value_or(kNoId);
  }
  bool Passes(const Ev& e) const {
    return (channel == 0 || e.channel == channel) && (any_touchpoint || e.touchpoint == touchpoint);
  }
  bool Admits(const IdentityNode& root) const { return any_segment || root.segment == segment; }
};

// Which events a step, cohort, return or activity is.
struct Matcher {
  enum Kind { kAny, kType, kStage, kNone } kind = kAny;
  uint32_t type = 0;
  uint8_t stage = 0;

  static Matcher OfType(const TenantJourneys& t, const std::string& name) {
    Matcher m;
    if (name.empty()) return m;
    auto id = t.types.Find(name);
    m.kind = id ? kType : kNone;
    m.type = id.value_or(kNoId);
    return m;
  }
  static Matcher OfStep(const TenantJourneys& t, const v1::FunnelStep& step) {
    if (step.step_case() == v1::FunnelStep::kEventType) return OfType(t, step.event_type());
    Matcher m;
    m.kind = kStage;
    m.stage = static_cast<uint8_t>(step.stage());
    return m;
  }
  bool Matches(const Ev& e) const {
    switch (kind) {
      case kAny: return true;
      case kType: return e.type == type;
      case kStage: return e.stage == stage;
      default: return false;
    }
  }
  // The roots that can hold a matching event.
  std::vector<int> Candidates(const TenantJourneys& t) const {
    switch (kind) {
      case kType: return type < t.by_type.size() ? t.RootsOf(t.by_type[type]) : std::vector<int>{};
      case kStage: return t.RootsOf(t.by_stage[stage]);
      case kAny: return t.Roots();
      default: return {};
    }
  }
};

std::string StepLabel(const v1::FunnelStep& s) {
  return s.step_case() == v1::FunnelStep::kEventType ? s.event_type() : common::v1::JourneyStage_Name(s.stage());
}

// The interval starts from the one holding `start` until one at or after
// `end`, then `extra` more; an error past `max` intervals.
absl::StatusOr<std::vector<int64_t>> Boundaries(int64_t start_us, int64_t end_us, v1::Interval interval,
                                                absl::TimeZone tz, int extra, int max) {
  std::vector<int64_t> out;
  absl::Time b = IntervalBoundary(absl::FromUnixMicros(start_us), interval, tz, true);
  for (;; b = IntervalBoundary(b, interval, tz, false)) {
    out.push_back(absl::ToUnixMicros(b));
    if (out.back() >= end_us) break;
    if (out.size() > static_cast<size_t>(max)) {
      return shared::InvalidField("range", absl::StrCat("holds more than ", max,
                                                        " intervals; use a longer interval or a shorter range"));
    }
  }
  for (int i = 0; i < extra; ++i) {
    b = IntervalBoundary(b, interval, tz, false);
    out.push_back(absl::ToUnixMicros(b));
  }
  return out;
}

bool IsCalendarInterval(v1::Interval i) {
  return i == v1::INTERVAL_DAY || i == v1::INTERVAL_WEEK || i == v1::INTERVAL_MONTH;
}

// A ticket's state from its events (sorted by time, then sequence).
struct TicketState {
  const TicketEvent* opened = nullptr;  // null until the opened event arrives
  bool resolved = false, ever_resolved = false, reopened = false, contact = false;
  int64_t resolution_us = 0;  // opening to last resolution
};

TicketState StateOf(const std::vector<TicketEvent>& events) {
  TicketState s;
  int64_t last_resolved_us = 0;
  for (const TicketEvent& e : events) {
    switch (e.kind) {
      case kTicketOpened:
        if (!s.opened) s.opened = &e;
        break;
      case kTicketContact: s.contact = true; break;
      case kTicketResolved:
        s.resolved = s.ever_resolved = true;
        last_resolved_us = e.time_us;
        break;
      case kTicketReopened:
        s.reopened = true;
        s.resolved = false;
        break;
      default: break;
    }
  }
  if (s.opened) s.resolution_us = std::max<int64_t>(0, last_resolved_us - s.opened->time_us);
  return s;
}

struct SupportAcc {
  int64_t opened = 0, resolved = 0, fcr = 0, ever_resolved = 0, reopened = 0;
  std::vector<int64_t> times;
  void Add(const TicketState& s) {
    ++opened;
    if (s.resolved) {
      ++resolved;
      times.push_back(s.resolution_us);
      if (!s.reopened && !s.contact) ++fcr;
    }
    if (s.ever_resolved) ++ever_resolved;
    if (s.reopened) ++reopened;
  }
  v1::SupportStats ToProto() {
    v1::SupportStats out;
    out.set_opened(opened);
    out.set_resolved(resolved);
    out.set_open(opened - resolved);
    *out.mutable_median_time_to_resolution() = DurationOfUs(NearestRankUs(times, 50));
    *out.mutable_p90_time_to_resolution() = DurationOfUs(NearestRankUs(times, 90));
    out.set_first_contact_resolved(fcr);
    out.set_first_contact_resolution_rate(Ratio(fcr, resolved));
    out.set_ever_resolved(ever_resolved);
    out.set_reopened(reopened);
    out.set_reopen_rate(Ratio(reopened, ever_resolved));
    return out;
  }
};

// The revenue of one root's timeline in a currency over [from, to) and the
// period of the same length before.
RevenueTotals RevenueOf(const Ev* begin, const Ev* end, uint32_t currency, uint32_t refund, int64_t from,
                        int64_t to) {
  RevenueTotals r;
  const int64_t prev_from = from - (to - from);
  bool before = false;
  for (const Ev* e = begin; e != end; ++e) {
    if (e->currency != currency || currency == 0) continue;
    if (e->type == refund) {
      if (e->time_us >= from && e->time_us < to) r.refunds += e->amount_minor;
    } else if (e->amount_minor > 0) {
      if (e->time_us >= from && e->time_us < to) {
        ++r.orders;
        r.gross += e->amount_minor;
      } else if (e->time_us >= prev_from && e->time_us < from) {
        before = true;
      }
    }
  }
  r.purchasers = r.orders > 0 ? 1 : 0;
  r.base = before ? 1 : 0;
  r.kept = before && r.orders > 0 ? 1 : 0;
  return r;
}

bool CheckRate(double x, bool allow_one, const std::string& field, Violations* v) {
  if (!std::isfinite(x) || x < 0 || x > 1 || (!allow_one && x == 1)) {
    v->push_back({field, allow_one ? "must be between 0 and 1" : "must be between 0 and 1 (1 excluded)"});
    return false;
  }
  return true;
}

}  // namespace

void RevenueTotals::Add(const RevenueTotals& o) {
  purchasers += o.purchasers;
  orders += o.orders;
  gross += o.gross;
  refunds += o.refunds;
  base += o.base;
  kept += o.kept;
}

v1::CustomerValue ValueOf(const std::string& scope, const RevenueTotals& totals,
                          const RevenueTotals& retention_source, const ValueParams& params) {
  v1::CustomerValue out;
  out.set_scope(scope);
  out.set_purchasers(totals.purchasers);
  out.set_orders(totals.orders);
  out.set_gross_revenue_minor(totals.gross);
  out.set_refunds_minor(totals.refunds);
  const int64_t net = totals.gross - totals.refunds;
  out.set_net_revenue_minor(net);
  const double aov = totals.orders > 0 ? static_cast<double>(net) / static_cast<double>(totals.orders) : 0;
  const double frequency = Ratio(totals.orders, totals.purchasers);
  const double value = aov * frequency;
  out.set_average_order_value_minor(aov);
  out.set_purchase_frequency(frequency);
  out.set_value_per_period_minor(value);
  out.set_gross_margin(params.margin);
  out.set_discount_rate(params.discount);
  bool has_r = false;
  double r = 0;
  if (params.retention > 0) {
    has_r = true;
    r = params.retention;
  } else if (retention_source.base > 0) {
    has_r = true;
    r = Ratio(retention_source.kept, retention_source.base);
    out.set_retention_rate_measured(true);
    out.set_retention_base(retention_source.base);
  }
  out.set_retention_rate(r);
  bool has_lifespan = false;
  double lifespan = 0;
  if (params.lifespan > 0) {
    has_lifespan = true;
    lifespan = params.lifespan;
  } else if (has_r && r < 1) {
    has_lifespan = true;
    lifespan = 1 / (1 - r);
  }
  out.set_expected_lifespan_periods(lifespan);
  out.set_defined(totals.orders > 0 && has_lifespan);
  if (out.defined()) out.set_lifetime_value_minor(value * lifespan * params.margin);
  if (totals.orders > 0 && has_r && 1 + params.discount - r > 0) {
    out.set_retention_form_value_minor(value * params.margin * r / (1 + params.discount - r));
  }
  return out;
}

JourneyMetrics::JourneyMetrics(std::shared_ptr<JourneyIndex> index, JourneyMetricsOptions options)
    : index_(std::move(index)), options_(std::move(options)), tokens_(options_.page_token_key) {}

absl::StatusOr<v1::GetFunnelResponse> JourneyMetrics::GetFunnel(const Principal& p,
                                                                const v1::GetFunnelRequest& r) const {
  Violations v;
  if (r.steps_size() == 0) v.push_back({"steps", "needs at least one step"});
  if (r.steps_size() > kMaxFunnelSteps) v.push_back({"steps", absl::StrCat("holds more than ", kMaxFunnelSteps)});
  for (int i = 0; i < r.steps_size() && i < kMaxFunnelSteps; ++i) {
    const v1::FunnelStep& s = r.steps(i);
    const std::string field = absl::StrCat("steps[", i, "]");
    if (s.step_case() == v1::FunnelStep::kEventType) {
      CheckType(s.event_type(), field + ".event_type", true, &v);
    } else if (s.step_case() != v1::FunnelStep::kStage || s.stage() < common::v1::JOURNEY_STAGE_AWARENESS ||
               s.stage() > common::v1::JOURNEY_STAGE_ADVOCACY) {
      v.push_back({field, "needs an event_type or a stage from AWARENESS to ADVOCACY"});
    }
  }
  const int64_t window = DurationUs(r.conversion_window());
  if (window <= 0 || window > 365 * kUsPerDay) v.push_back({"conversion_window", "must be above 0 and at most 365 days"});
  const UsRange range = CheckRange(r.range(), "range", &v);
  CheckFilters(r.filters(), &v);
  if (r.order() < v1::FUNNEL_ORDER_UNSPECIFIED || r.order() > v1::FUNNEL_ORDER_ANY) {
    v.push_back({"order", "must be FUNNEL_ORDER_STRICT or FUNNEL_ORDER_ANY"});
  }
  const bool any_order = r.order() == v1::FUNNEL_ORDER_ANY;
  if (any_order) {
    std::set<std::string> seen;
    for (const auto& s : r.steps()) {
      if (!seen.insert(s.SerializeAsString()).second) v.push_back({"steps", "must be distinct when order is ANY"});
    }
  }
  if (!v.empty()) return Invalid(v);

  const size_t k_steps = static_cast<size_t>(r.steps_size());
  std::vector<int64_t> reached(k_steps, 0);
  std::vector<std::vector<int64_t>> from_first(k_steps), from_previous(k_steps);
  index_->Read(p.tenant, [&](const TenantJourneys& t) {
    const EventFilter filter(r.filters(), t);
    std::vector<Matcher> steps;
    for (const auto& s : r.steps()) steps.push_back(Matcher::OfStep(t, s));
    std::vector<Ev> scratch;
    std::vector<int64_t> at(k_steps);
    for (int root : steps[0].Candidates(t)) {
      if (!filter.Admits(t.nodes[root])) continue;
      const auto [begin, end] = t.Timeline(root, &scratch);
      const Ev* entry = begin;
      while (entry != end && !(steps[0].Matches(*entry) && filter.Passes(*entry) && range.Holds(entry->time_us))) {
        ++entry;
      }
      if (entry == end) continue;
      const int64_t deadline = entry->time_us + window;
      at[0] = entry->time_us;
      size_t k = 1;
      if (!any_order) {
        for (const Ev* e = entry + 1; k < k_steps && e != end && e->time_us <= deadline; ++e) {
          if (steps[k].Matches(*e) && filter.Passes(*e)) at[k++] = e->time_us;
        }
      } else {
        for (; k < k_steps; ++k) {
          const Ev* e = entry + 1;
          while (e != end && e->time_us <= deadline && !(steps[k].Matches(*e) && filter.Passes(*e))) ++e;
          if (e == end || e->time_us > deadline) break;
          at[k] = std::max(at[k - 1], e->time_us);
        }
      }
      for (size_t j = 0; j < k; ++j) {
        ++reached[j];
        from_first[j].push_back(at[j] - at[0]);
        from_previous[j].push_back(j == 0 ? 0 : at[j] - at[j - 1]);
      }
    }
  });
  v1::GetFunnelResponse out;
  for (size_t j = 0; j < k_steps; ++j) {
    v1::FunnelStepResult* s = out.add_steps();
    *s->mutable_step() = r.steps(static_cast<int>(j));
    s->set_label(StepLabel(r.steps(static_cast<int>(j))));
    s->set_customers(reached[j]);
    s->set_conversion_from_first(Ratio(reached[j], reached[0]));
    s->set_conversion_from_previous(j == 0 ? Ratio(reached[0], reached[0]) : Ratio(reached[j], reached[j - 1]));
    s->set_drop_off(j == 0 ? 0 : reached[j - 1] - reached[j]);
    *s->mutable_mean_time_from_first() = DurationOfUs(MeanUs(from_first[j]));
    *s->mutable_median_time_from_first() = DurationOfUs(MedianUs(from_first[j]));
    *s->mutable_mean_time_from_previous() = DurationOfUs(MeanUs(from_previous[j]));
    *s->mutable_median_time_from_previous() = DurationOfUs(MedianUs(from_previous[j]));
  }
  out.set_overall_conversion(Ratio(reached.back(), reached.front()));
  *out.mutable_range() = r.range();
  *out.mutable_conversion_window() = r.conversion_window();
  out.set_order(any_order ? v1::FUNNEL_ORDER_ANY : v1::FUNNEL_ORDER_STRICT);
  return out;
}

absl::StatusOr<v1::GetRetentionResponse> JourneyMetrics::GetRetention(const Principal& p,
                                                                      const v1::GetRetentionRequest& r) const {
  Violations v;
  CheckType(r.cohort_event_type(), "cohort_event_type", false, &v);
  CheckType(r.return_event_type(), "return_event_type", false, &v);
  if (!IsCalendarInterval(r.interval())) v.push_back({"interval", "must be INTERVAL_DAY, INTERVAL_WEEK or INTERVAL_MONTH"});
  if (r.periods() < 1 || r.periods() > kMaxRetentionPeriods) {
    v.push_back({"periods", absl::StrCat("must be between 1 and ", kMaxRetentionPeriods)});
  }
  if (r.mode() < v1::RETENTION_MODE_UNSPECIFIED || r.mode() > v1::RETENTION_MODE_ON_OR_AFTER) {
    v.push_back({"mode", "must be RETENTION_MODE_ON or RETENTION_MODE_ON_OR_AFTER"});
  }
  const UsRange range = CheckRange(r.range(), "range", &v);
  const absl::TimeZone tz = CheckTimeZone(r.time_zone(), "time_zone", &v);
  CheckFilters(r.filters(), &v);
  if (!v.empty()) return Invalid(v);
  const int periods = r.periods();
  auto bounds = Boundaries(range.from, range.to, r.interval(), tz, periods + 1, kMaxJourneyIntervals);
  if (!bounds.ok()) return bounds.status();
  const std::vector<int64_t>& b = *bounds;
  const size_t cohorts = b.size() - static_cast<size_t>(periods) - 2;  // cohort c is [b[c], b[c+1])
  const bool on_or_after = r.mode() == v1::RETENTION_MODE_ON_OR_AFTER;
  const int64_t now = absl::ToUnixMicros(options_.clock());

  std::vector<int64_t> sizes(cohorts, 0);
  std::vector<std::vector<int64_t>> retained(cohorts, std::vector<int64_t>(periods + 1, 0));
  index_->Read(p.tenant, [&](const TenantJourneys& t) {
    const EventFilter filter(r.filters(), t);
    const Matcher cohort = Matcher::OfType(t, r.cohort_event_type());
    const Matcher back = Matcher::OfType(t, r.return_event_type());
    std::vector<Ev> scratch;
    std::vector<char> hit(periods + 1);
    for (int root : cohort.Candidates(t)) {
      if (!filter.Admits(t.nodes[root])) continue;
      const auto [begin, end] = t.Timeline(root, &scratch);
      const Ev* first = begin;
      while (first != end && !(cohort.Matches(*first) && filter.Passes(*first))) ++first;
      if (first == end || first->time_us < b[0] || first->time_us >= b[cohorts]) continue;
      const size_t c = static_cast<size_t>(std::upper_bound(b.begin(), b.end(), first->time_us) - b.begin()) - 1;
      ++sizes[c];
      std::fill(hit.begin(), hit.end(), 0);
      int latest = 0;
      for (const Ev* e = first; e != end; ++e) {
        if (e->time_us < b[c + 1] || !back.Matches(*e) || !filter.Passes(*e)) continue;
        const size_t bucket = static_cast<size_t>(std::upper_bound(b.begin(), b.end(), e->time_us) - b.begin()) - 1;
        const int k = static_cast<int>(std::min<size_t>(bucket - c, static_cast<size_t>(periods) + 1));
        if (k <= periods) hit[k] = 1;
        latest = std::max(latest, std::min(k, periods));
      }
      for (int k = 1; k <= periods; ++k) {
        if (on_or_after ? k <= latest : hit[k] != 0) ++retained[c][k];
      }
    }
  });
  v1::GetRetentionResponse out;
  std::vector<int64_t> sum_retained(periods + 1, 0), sum_size(periods + 1, 0);
  std::vector<bool> all_complete(periods + 1, true), present(periods + 1, false);
  for (size_t c = 0; c < cohorts; ++c) {
    v1::RetentionCohort* row = out.add_cohorts();
    *row->mutable_start_time() = TimestampOfUs(b[c]);
    *row->mutable_end_time() = TimestampOfUs(b[c + 1]);
    row->set_size(sizes[c]);
    for (int k = 0; k <= periods; ++k) {
      if (b[c + k] > now) break;
      const int64_t kept = k == 0 ? sizes[c] : retained[c][k];
      v1::RetentionCell* cell = row->add_cells();
      cell->set_period(k);
      cell->set_retained(kept);
      cell->set_rate(Ratio(kept, sizes[c]));
      cell->set_complete(b[c + k + 1] <= now);
      sum_retained[k] += kept;
      sum_size[k] += sizes[c];
      present[k] = true;
      all_complete[k] = all_complete[k] && cell->complete();
    }
  }
  for (int k = 0; k <= periods; ++k) {
    if (!present[k]) break;
    v1::RetentionCell* cell = out.add_average();
    cell->set_period(k);
    cell->set_retained(sum_retained[k]);
    cell->set_rate(Ratio(sum_retained[k], sum_size[k]));
    cell->set_complete(all_complete[k]);
  }
  out.mutable_range()->mutable_start_time()->CopyFrom(TimestampOfUs(b[0]));
  out.mutable_range()->mutable_end_time()->CopyFrom(TimestampOfUs(b[cohorts]));
  out.set_time_zone(r.time_zone().empty() ? "UTC" : r.time_zone());
  return out;
}

absl::StatusOr<v1::GetChurnResponse> JourneyMetrics::GetChurn(const Principal& p, const v1::GetChurnRequest& r) const {
  Violations v;
  const UsRange range = CheckRange(r.range(), "range", &v);
  if (r.interval() != v1::INTERVAL_UNSPECIFIED && !IsCalendarInterval(r.interval())) {
    v.push_back({"interval", "must be unset, INTERVAL_DAY, INTERVAL_WEEK or INTERVAL_MONTH"});
  }
  const absl::TimeZone tz = CheckTimeZone(r.time_zone(), "time_zone", &v);
  const bool recent = r.definition() == v1::ACTIVITY_DEFINITION_RECENT_ACTIVITY;
  if (r.definition() != v1::ACTIVITY_DEFINITION_RECENT_ACTIVITY && r.definition() != v1::ACTIVITY_DEFINITION_NOT_ENDED) {
    v.push_back({"definition", "must be ACTIVITY_DEFINITION_RECENT_ACTIVITY or ACTIVITY_DEFINITION_NOT_ENDED"});
  }
  if (recent && (r.activity_days() < 1 || r.activity_days() > 3650)) {
    v.push_back({"activity_days", "must be between 1 and 3650 for RECENT_ACTIVITY"});
  }
  CheckType(r.activity_event_type(), "activity_event_type", false, &v);
  CheckType(r.start_event_type(), "start_event_type", false, &v);
  CheckType(r.end_event_type(), "end_event_type", false, &v);
  CheckFilters(r.filters(), &v);
  if (!v.empty()) return Invalid(v);
  std::vector<int64_t> points{range.from, range.to};
  if (r.interval() != v1::INTERVAL_UNSPECIFIED) {
    auto b = Boundaries(range.from, range.to, r.interval(), tz, 0, kMaxJourneyIntervals);
    if (!b.ok()) return b.status();
    points = *b;
  }
  const size_t n = points.size();
  std::vector<int64_t> s(n - 1, 0), e(n - 1, 0), fresh(n - 1, 0), kept(n - 1, 0);
  const int64_t days_us = static_cast<int64_t>(r.activity_days()) * kUsPerDay;
  index_->Read(p.tenant, [&](const TenantJourneys& t) {
    const EventFilter filter(r.filters(), t);
    const Matcher activity = Matcher::OfType(t, r.activity_event_type());
    const Matcher start = Matcher::OfType(t, r.start_event_type().empty() ? kDefaultStartType : r.start_event_type());
    const Matcher stop = Matcher::OfType(t, r.end_event_type().empty() ? kDefaultEndType : r.end_event_type());
    std::vector<Ev> scratch;
    std::vector<int64_t> times;
    std::vector<std::pair<int64_t, bool>> lifecycle;  // (time, is end)
    std::vector<char> active(n);
    for (int root : (recent ? activity : Matcher()).Candidates(t)) {
      if (!filter.Admits(t.nodes[root])) continue;
      const auto [begin, end] = t.Timeline(root, &scratch);
      times.clear();
      lifecycle.clear();
      for (const Ev* ev = begin; ev != end; ++ev) {
        if (!filter.Passes(*ev)) continue;
        if (recent) {
          if (activity.Matches(*ev)) times.push_back(ev->time_us);
        } else {
          times.push_back(ev->time_us);
          if (stop.Matches(*ev)) lifecycle.emplace_back(ev->time_us, true);
          else if (start.Matches(*ev)) lifecycle.emplace_back(ev->time_us, false);
        }
      }
      if (times.empty()) continue;
      for (size_t i = 0; i < n; ++i) {
        const int64_t at = points[i];
        if (recent) {
          auto it = std::upper_bound(times.begin(), times.end(), at);
          active[i] = it != times.begin() && *(it - 1) > at - days_us;
        } else {
          auto it = std::upper_bound(lifecycle.begin(), lifecycle.end(), std::make_pair(at, true),
                                     [](const auto& a, const auto& b) { return a.first < b.first; });
          active[i] = times.front() <= at && (it == lifecycle.begin() || !(it - 1)->second);
        }
      }
      for (size_t i = 0; i + 1 < n; ++i) {
        s[i] += active[i];
        e[i] += active[i + 1];
        fresh[i] += active[i + 1] && !active[i];
        kept[i] += active[i + 1] && active[i];
      }
    }
  });
  v1::GetChurnResponse out;
  out.set_definition(r.definition());
  for (size_t i = 0; i + 1 < n; ++i) {
    v1::ChurnPeriod* period = out.add_periods();
    *period->mutable_start_time() = TimestampOfUs(points[i]);
    *period->mutable_end_time() = TimestampOfUs(points[i + 1]);
    period->set_active_at_start(s[i]);
    period->set_active_at_end(e[i]);
    period->set_new_active(fresh[i]);
    period->set_retained(e[i] - fresh[i]);
    period->set_lost(s[i] - (e[i] - fresh[i]));
    period->set_defined(s[i] > 0);
    period->set_churn_rate(Ratio(period->lost(), s[i]));
    period->set_retention_rate(Ratio(period->retained(), s[i]));
  }
  return out;
}

absl::StatusOr<v1::GetCustomerLifetimeValueResponse> JourneyMetrics::GetCustomerLifetimeValue(
    const Principal& p, const v1::GetCustomerLifetimeValueRequest& r) const {
  Violations v;
  const std::string& code = r.currency_code();
  if (code.size() != 3 || !std::all_of(code.begin(), code.end(), [](char c) { return absl::ascii_isupper(c); })) {
    v.push_back({"currency_code", "must be an ISO 4217 code such as EUR"});
  }
  const UsRange range = CheckRange(r.range(), "range", &v);
  if (!r.customer_id().empty() && !shared::IsIdentifier(r.customer_id(), 128)) {
    v.push_back({"customer_id", shared::kIdentifierRule});
  }
  if (!r.segment().empty() && !IsLabel(r.segment())) v.push_back({"segment", "must be 1 to 64 characters of [A-Za-z0-9_.:/-]"});
  CheckRate(r.gross_margin(), true, "gross_margin", &v);  // 0 means 1 (no margin given)
  CheckRate(r.discount_rate(), true, "discount_rate", &v);
  CheckRate(r.retention_rate(), false, "retention_rate", &v);
  if (!std::isfinite(r.expected_lifespan_periods()) || r.expected_lifespan_periods() < 0 ||
      r.expected_lifespan_periods() > 1000) {
    v.push_back({"expected_lifespan_periods", "must be between 0 and 1000"});
  }
  if (!v.empty()) return Invalid(v);
  ValueParams params;
  params.margin = r.gross_margin() == 0 ? 1 : r.gross_margin();
  params.discount = r.discount_rate();
  params.retention = r.retention_rate();
  params.lifespan = r.expected_lifespan_periods();

  v1::GetCustomerLifetimeValueResponse out;
  absl::Status status;
  index_->Read(p.tenant, [&](const TenantJourneys& t) {
    const uint32_t currency = t.currencies.Find(code).value_or(0);
    const uint32_t refund = t.types.Find(kRefundType).value_or(kNoId);
    RevenueTotals all;
    std::map<std::string, RevenueTotals> segments;
    std::vector<Ev> scratch;
    if (currency != 0) {
      for (int root : t.Roots()) {
        if (!r.segment().empty() && t.SegmentOf(root) != r.segment()) continue;
        const auto [begin, end] = t.Timeline(root, &scratch);
        const RevenueTotals mine = RevenueOf(begin, end, currency, refund, range.from, range.to);
        all.Add(mine);
        segments[t.SegmentOf(root)].Add(mine);
      }
    }
    if (!r.segment().empty()) segments.emplace(r.segment(), RevenueTotals{});
    *out.mutable_overall() = ValueOf(r.segment().empty() ? "all" : "segment:" + r.segment(), all, all, params);
    for (const auto& [name, totals] : segments) *out.add_segments() = ValueOf("segment:" + name, totals, totals, params);
    if (!r.customer_id().empty()) {
      const int node = t.Find(r.customer_id());
      if (node < 0) {
        status = shared::WithViolations(absl::StatusCode::kNotFound, {{"customer_id", "no such customer"}});
        return;
      }
      const int root = t.Root(node);
      const auto [begin, end] = t.Timeline(root, &scratch);
      const RevenueTotals mine = currency != 0 ? RevenueOf(begin, end, currency, refund, range.from, range.to)
                                               : RevenueTotals{};
      auto seg = segments.find(t.SegmentOf(root));
      *out.mutable_customer() = ValueOf("customer:" + std::string(t.KeyOf(root)), mine,
                                        seg != segments.end() ? seg->second : RevenueTotals{}, params);
    }
  });
  if (!status.ok()) return status;
  out.set_currency_code(code);
  *out.mutable_period() = DurationOfUs(range.to - range.from);
  *out.mutable_range() = r.range();
  return out;
}

absl::StatusOr<v1::GetSupportMetricsResponse> JourneyMetrics::GetSupportMetrics(
    const Principal& p, const v1::GetSupportMetricsRequest& r) const {
  Violations v;
  const UsRange range = CheckRange(r.range(), "range", &v);
  CheckFilters(r.filters(), &v);
  if (!v.empty()) return Invalid(v);
  SupportAcc total;
  std::map<int, SupportAcc> by_channel;
  std::map<std::string, SupportAcc> by_touchpoint;
  index_->Read(p.tenant, [&](const TenantJourneys& t) {
    const EventFilter filter(r.filters(), t);
    for (const auto& [id, events] : t.tickets) {
      const TicketState state = StateOf(events);
      const TicketEvent* opened = state.opened;
      if (!opened || !range.Holds(opened->time_us)) continue;
      Ev probe;
      probe.channel = opened->channel;
      probe.touchpoint = opened->touchpoint;
      if (!filter.Passes(probe) || !filter.Admits(t.nodes[t.Root(opened->node)])) continue;
      total.Add(state);
      by_channel[opened->channel].Add(state);
      by_touchpoint[t.touchpoints.Name(opened->touchpoint)].Add(state);
    }
  });
  v1::GetSupportMetricsResponse out;
  *out.mutable_total() = total.ToProto();
  for (auto& [channel, acc] : by_channel) {
    v1::SupportRow* row = out.add_by_channel();
    row->set_value(common::v1::Channel_Name(static_cast<common::v1::Channel>(channel)));
    *row->mutable_stats() = acc.ToProto();
  }
  for (auto& [touchpoint, acc] : by_touchpoint) {
    v1::SupportRow* row = out.add_by_touchpoint();
    row->set_value(touchpoint);
    *row->mutable_stats() = acc.ToProto();
  }
  *out.mutable_range() = r.range();
  return out;
}

RevenueTotals JourneyMetrics::SegmentTotals(const std::string& tenant, const TenantJourneys& t,
                                            const std::string& segment, uint32_t currency, int64_t from_us,
                                            int64_t to_us, absl::Time now) const {
  const auto key = std::make_tuple(tenant, segment, currency);
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && now - it->second.first < options_.segment_value_ttl && now >= it->second.first) {
      return it->second.second;
    }
  }
  const uint32_t refund = t.types.Find(kRefundType).value_or(kNoId);
  RevenueTotals totals;
  std::vector<Ev> scratch;
  for (int root : t.Roots()) {
    if (t.SegmentOf(root) != segment) continue;
    const auto [begin, end] = t.Timeline(root, &scratch);
    totals.Add(RevenueOf(begin, end, currency, refund, from_us, to_us));
  }
  std::lock_guard<std::mutex> lock(cache_mu_);
  cache_[key] = {now, totals};
  return totals;
}

v1::CustomerHealth JourneyMetrics::HealthOf(const std::string& tenant, const TenantJourneys& t, int id,
                                            absl::Time now) const {
  const IdentityNode& node = t.nodes[id];
  v1::CustomerHealth h;
  h.set_customer_id(std::string(t.KeyOf(id)));
  h.set_version(node.version);
  *h.mutable_as_of() = shared::ToProtoTime(now);
  if (node.parent >= 0) {
    h.set_merged_into(std::string(t.KeyOf(t.Root(id))));
    return h;
  }
  const int64_t now_us = absl::ToUnixMicros(now);
  h.set_segment(t.SegmentOf(id));
  std::vector<int> members;
  t.Subtree(id, &members);
  FeedbackSummary feedback;
  int64_t open_follow_ups = 0;
  for (int m : members) {
    feedback.Merge(t.nodes[m].feedback);
    open_follow_ups += t.nodes[m].open_follow_ups;
  }
  h.set_open_follow_ups(open_follow_ups);
  std::vector<Ev> scratch;
  const auto [begin, end] = t.Timeline(id, &scratch);
  h.set_events(end - begin);

  std::vector<v1::RiskFactor> factors;
  auto factor = [&](const char* code, int points, std::string description) {
    v1::RiskFactor f;
    f.set_code(code);
    f.set_points(points);
    f.set_description(std::move(description));
    factors.push_back(std::move(f));
  };

  if (feedback.has_nps) {
    h.set_has_nps(true);
    h.set_latest_nps_score(feedback.nps_score);
    const char* category = feedback.nps_score >= 9 ? "promoter" : feedback.nps_score >= 7 ? "passive" : "detractor";
    h.set_latest_nps_category(category);
    *h.mutable_latest_nps_time() = TimestampOfUs(feedback.nps_time_us);
  }
  h.set_csat_count(feedback.csat_n);
  h.set_csat_average(feedback.csat_n ? static_cast<double>(feedback.csat_sum) / feedback.csat_n : 0);
  h.set_ces_count(feedback.ces_n);
  h.set_ces_average(feedback.ces_n ? static_cast<double>(feedback.ces_sum) / feedback.ces_n : 0);

  int64_t last_us = feedback.any ? feedback.last_time_us : std::numeric_limits<int64_t>::min();
  if (begin != end) last_us = std::max(last_us, (end - 1)->time_us);
  const bool has_activity = feedback.any || begin != end;
  if (has_activity) *h.mutable_last_activity_time() = TimestampOfUs(last_us);
  for (const Ev* e = end; e != begin;) {
    --e;
    if (e->stage != 0) {
      h.set_current_stage(static_cast<common::v1::JourneyStage>(e->stage));
      break;
    }
  }
  // Lifecycle, refunds, tickets and the currency of most orders.
  const uint32_t refund = t.types.Find(kRefundType).value_or(kNoId);
  const uint32_t start_type = t.types.Find(kDefaultStartType).value_or(kNoId);
  const uint32_t end_type = t.types.Find(kDefaultEndType).value_or(kNoId);
  bool ended = false, recent_refund = false;
  std::set<uint32_t> tickets;
  std::map<uint32_t, int64_t> orders_by_currency;
  for (const Ev* e = begin; e != end; ++e) {
    if (e->type == end_type) ended = true;
    else if (e->type == start_type) ended = false;
    if (e->type == refund && e->time_us > now_us - 90 * kUsPerDay && e->time_us <= now_us) recent_refund = true;
    if (e->ticket != 0) tickets.insert(e->ticket);
    if (e->currency != 0 && e->type != refund && e->amount_minor > 0) ++orders_by_currency[e->currency];
  }
  int64_t open = 0;
  for (uint32_t ticket : tickets) {
    auto it = t.tickets.find(ticket);
    if (it == t.tickets.end()) continue;
    const TicketState state = StateOf(it->second);
    if (!state.opened || t.Root(state.opened->node) != id) continue;
    if (!state.resolved) ++open;
  }
  h.set_open_tickets(open);

  uint32_t currency = 0;
  int64_t most = 0;
  for (const auto& [c, count] : orders_by_currency) {
    if (count > most || (count == most && t.currencies.Name(c) < t.currencies.Name(currency))) {
      currency = c;
      most = count;
    }
  }
  if (currency != 0) {
    const int64_t from = now_us - 365 * kUsPerDay;
    const RevenueTotals mine = RevenueOf(begin, end, currency, refund, from, now_us);
    const RevenueTotals segment = SegmentTotals(tenant, t, t.SegmentOf(id), currency, from, now_us, now);
    h.set_currency_code(t.currencies.Name(currency));
    *h.mutable_lifetime_value() = ValueOf("customer:" + std::string(t.KeyOf(id)), mine, segment, ValueParams{});
  }

  if (ended) factor("ended", 50, "the latest subscription event is subscription_cancelled");
  if (has_activity && now_us - last_us >= 90 * kUsPerDay) {
    factor("inactive_90d", 30, "no activity for 90 days or more");
  } else if (has_activity && now_us - last_us >= 30 * kUsPerDay) {
    factor("inactive_30d", 15, "no activity for 30 days or more");
  }
  if (feedback.has_nps && feedback.nps_score <= 6) {
    factor("nps_detractor", 25, absl::StrCat("latest NPS answer ", feedback.nps_score, " (detractor)"));
  } else if (feedback.has_nps && feedback.nps_score <= 8) {
    factor("nps_passive", 10, absl::StrCat("latest NPS answer ", feedback.nps_score, " (passive)"));
  }
  if (feedback.csat_n > 0 && feedback.csat_sum < 3 * feedback.csat_n) {
    factor("low_csat", 15, absl::StrCat("CSAT average ", h.csat_average(), " is below 3"));
  }
  if (feedback.ces_n > 0 && feedback.ces_sum <= 3 * feedback.ces_n) {
    factor("high_effort", 10, absl::StrCat("CES average ", h.ces_average(), " is 3 or less"));
  }
  if (open > 0) factor("open_tickets", 10, absl::StrCat(open, " open support ticket(s)"));
  if (recent_refund) factor("recent_refund", 10, "a refund_issued in the last 90 days");
  int score = 0;
  for (const auto& f : factors) score += f.points();
  score = std::min(score, 100);
  v1::ChurnRisk* risk = h.mutable_churn_risk();
  risk->set_score(score);
  risk->set_level(score >= 60 ? v1::RISK_LEVEL_HIGH : score >= 30 ? v1::RISK_LEVEL_MEDIUM : v1::RISK_LEVEL_LOW);
  for (auto& f : factors) *risk->add_factors() = std::move(f);
  return h;
}

absl::StatusOr<v1::GetCustomerHealthResponse> JourneyMetrics::GetCustomerHealth(
    const Principal& p, const v1::GetCustomerHealthRequest& r) const {
  if (!shared::IsIdentifier(r.customer_id(), 128)) {
    return shared::InvalidField("customer_id", r.customer_id().empty() ? "is required" : shared::kIdentifierRule);
  }
  v1::GetCustomerHealthResponse out;
  bool found = false;
  const absl::Time now = options_.clock();
  index_->Read(p.tenant, [&](const TenantJourneys& t) {
    const int node = t.Find(r.customer_id());
    if (node < 0) return;
    found = true;
    *out.mutable_health() = HealthOf(p.tenant, t, node, now);
  });
  if (!found) return shared::WithViolations(absl::StatusCode::kNotFound, {{"customer_id", "no such customer"}});
  return out;
}

std::vector<v1::CustomerHealth> JourneyMetrics::HealthAfter(const std::string& tenant, int64_t after,
                                                            int limit) const {
  std::vector<v1::CustomerHealth> out;
  const absl::Time now = options_.clock();
  index_->Read(tenant, [&](const TenantJourneys& t) {
    for (auto it = t.by_version.upper_bound({after, std::numeric_limits<int>::max()});
         it != t.by_version.end() && static_cast<int>(out.size()) < limit; ++it) {
      out.push_back(HealthOf(tenant, t, it->second, now));
    }
  });
  return out;
}

absl::StatusOr<v1::ListCustomerHealthResponse> JourneyMetrics::ListCustomerHealth(
    const Principal& p, const v1::ListCustomerHealthRequest& r) const {
  Violations v;
  if (r.page_size() < 0 || r.page_size() > kMaxHealthPage) {
    v.push_back({"page_size", absl::StrCat("must be between 0 and ", kMaxHealthPage)});
  }
  if (r.changed_since() < 0) v.push_back({"changed_since", "must not be negative"});
  if (!v.empty()) return Invalid(v);
  int64_t after = r.changed_since();
  if (!r.page_token().empty()) {
    auto position = tokens_.Decode(r.page_token(), p.tenant, kHealthScope);
    if (!position.ok()) return position.status();
    if (position->size() != 1) return shared::InvalidField("page_token", "is not valid");
    after = (*position)[0];
  }
  const int size = r.page_size() == 0 ? 100 : r.page_size();
  std::vector<v1::CustomerHealth> rows = HealthAfter(p.tenant, after, size + 1);
  v1::ListCustomerHealthResponse out;
  for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(size); ++i) *out.add_customers() = std::move(rows[i]);
  out.set_version(out.customers().empty() ? after : out.customers(out.customers_size() - 1).version());
  if (rows.size() > static_cast<size_t>(size)) {
    out.set_next_page_token(tokens_.Encode(p.tenant, kHealthScope, {out.version()}));
  }
  return out;
}

absl::StatusOr<std::optional<std::string>> JourneyMetrics::WatchHealthScope(
    const Principal& p, const v1::WatchCustomerHealthRequest& r) const {
  if (r.changed_since() < 0) return shared::InvalidField("changed_since", "must not be negative");
  return std::optional<std::string>(p.tenant);
}

absl::StatusOr<v1::GetNextStepsResponse> JourneyMetrics::GetNextSteps(const Principal& p,
                                                                      const v1::GetNextStepsRequest& r) const {
  Violations v;
  CheckType(r.event_type(), "event_type", true, &v);
  const UsRange range = CheckRange(r.range(), "range", &v);
  CheckFilters(r.filters(), &v);
  if (r.limit() < 0 || r.limit() > 100) v.push_back({"limit", "must be between 0 and 100"});
  if (!v.empty()) return Invalid(v);
  struct Next {
    int64_t count = 0;
    std::set<int> customers;
    std::vector<int64_t> times;
  };
  int64_t occurrences = 0, exits = 0, customers = 0;
  std::map<std::string, Next> next;
  index_->Read(p.tenant, [&](const TenantJourneys& t) {
    const EventFilter filter(r.filters(), t);
    const Matcher from = Matcher::OfType(t, r.event_type());
    std::vector<Ev> scratch;
    for (int root : from.Candidates(t)) {
      if (!filter.Admits(t.nodes[root])) continue;
      const auto [begin, end] = t.Timeline(root, &scratch);
      bool counted = false;
      const Ev* previous = nullptr;  // the last passing event
      for (const Ev* e = begin; e != end; ++e) {
        if (!filter.Passes(*e)) continue;
        if (previous) {
          Next& n = next[t.types.Name(e->type)];
          ++n.count;
          n.customers.insert(root);
          n.times.push_back(e->time_us - previous->time_us);
        }
        previous = nullptr;
        if (from.Matches(*e) && range.Holds(e->time_us)) {
          ++occurrences;
          if (!counted) ++customers;
          counted = true;
          previous = e;
        }
      }
      if (previous) ++exits;
    }
  });
  std::vector<std::pair<std::string, Next*>> rows;
  for (auto& [type, n] : next) rows.emplace_back(type, &n);
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.second->count != b.second->count ? a.second->count > b.second->count : a.first < b.first;
  });
  v1::GetNextStepsResponse out;
  out.set_occurrences(occurrences);
  out.set_customers(customers);
  out.set_exits(exits);
  const size_t limit = r.limit() == 0 ? 10 : static_cast<size_t>(r.limit());
  for (size_t i = 0; i < rows.size() && i < limit; ++i) {
    v1::NextStep* s = out.add_steps();
    s->set_event_type(rows[i].first);
    s->set_count(rows[i].second->count);
    s->set_share(Ratio(rows[i].second->count, occurrences));
    s->set_customers(static_cast<int64_t>(rows[i].second->customers.size()));
    *s->mutable_median_time() = DurationOfUs(MedianUs(rows[i].second->times));
  }
  *out.mutable_range() = r.range();
  return out;
}

}  // namespace cx::metrics
