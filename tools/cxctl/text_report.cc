// cxctl report: the CX numbers of a tenant as aligned tables: NPS / CSAT /
// CES with their 95% margin of error, the NPS trend by week, NPS by channel
// and by segment, the drivers of NPS by touchpoint, the last 7 days against
// the 7 before, alert rules and alerts, the funnel, retention, churn, CLV,
// support, the top at-risk customers, and the follow-up cases. Used by the
// main job (scripts/run.sh) after the samples.
#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "cx/metrics/v1/metrics_service.grpc.pb.h"
#include "tools/cxctl/commands.h"
#include "tools/cxctl/html_report.h"
#include "shared/config.h"
#include "shared/proto_util.h"
#include "shared/status.h"

namespace {

using cx::metrics::v1::MetricsService;
namespace v1 = cx::metrics::v1;

class Report {
 public:
  Report(std::unique_ptr<MetricsService::Stub> stub, std::string token, int days)
      : stub_(std::move(stub)), token_(std::move(token)) {
    // From midnight UTC `days` days ago through now.
    const absl::Time now = absl::Now();
    const absl::Time today = absl::FromCivil(absl::CivilDay(absl::ToCivilDay(now, absl::UTCTimeZone())),
                                             absl::UTCTimeZone());
    *range_.mutable_start_time() = cx::shared::ToProtoTime(today - absl::Hours(24 * days));
    *range_.mutable_end_time() = cx::shared::ToProtoTime(now);
  }

  template <class Req, class Resp>
  bool Call(grpc::Status (MetricsService::Stub::*method)(grpc::ClientContext*, const Req&, Resp*), const Req& req,
            Resp* resp) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token_);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status s = (stub_.get()->*method)(&ctx, req, resp);
    if (!s.ok()) std::cerr << "  (" << cx::shared::FromGrpcStatus(s) << ")\n";
    return s.ok();
  }

  int64_t TotalAnswers() {
    int64_t n = 0;
    for (auto metric : {v1::METRIC_NPS, v1::METRIC_CSAT, v1::METRIC_CES}) {
      v1::GetScoreRequest r;
      r.set_metric(metric);
      *r.mutable_range() = range_;
      v1::GetScoreResponse resp;
      if (!Call(&MetricsService::Stub::GetScore, r, &resp)) return -1;
      n += resp.score().n();
    }
    return n;
  }

  // Journey events metrics-service holds (of the types the report uses).
  int64_t JourneyEvents() {
    int64_t n = 0;
    for (const char* type : {"page_view", "app_login", "order_placed"}) {
      v1::GetNextStepsRequest r;
      r.set_event_type(type);
      *r.mutable_range() = range_;
      r.mutable_range()->mutable_start_time()->set_seconds(0);
      v1::GetNextStepsResponse resp;
      if (!Call(&MetricsService::Stub::GetNextSteps, r, &resp)) return -1;
      n += resp.occurrences();
    }
    return n;
  }

  // metrics-service follows the feeds; wait until its counts stop moving.
  void WaitUntilSettled() {
    int64_t last = -2;
    int stable = 0;
    for (int i = 0; i < 150 && stable < 5; ++i) {
      const int64_t answers = TotalAnswers(), events = JourneyEvents();
      const int64_t n = answers < 0 || events < 0 ? -1 : answers + events * 1000000;
      stable = (n == last && n >= 0) ? stable + 1 : 0;
      last = n;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  static std::string Value(const v1::Score& s) {
    if (!s.defined()) return "-";
    return s.metric() == v1::METRIC_CES ? absl::StrFormat("%.2f", s.value()) : absl::StrFormat("%.1f", s.value());
  }
  static std::string Margin(const v1::Score& s) {
    if (!s.defined()) return "";
    return s.metric() == v1::METRIC_CES ? absl::StrFormat("±%.2f", s.margin_of_error())
                                        : absl::StrFormat("±%.1f", s.margin_of_error());
  }

  void Scores() {
    std::cout << absl::StrFormat("  %-6s %8s %8s %6s  %-17s %s\n", "metric", "value", "95%", "n", "interval", "scale");
    for (auto metric : {v1::METRIC_NPS, v1::METRIC_CSAT, v1::METRIC_CES}) {
      v1::GetScoreRequest r;
      r.set_metric(metric);
      *r.mutable_range() = range_;
      v1::GetScoreResponse resp;
      if (!Call(&MetricsService::Stub::GetScore, r, &resp)) continue;
      const auto& s = resp.score();
      std::cout << absl::StrFormat("  %-6s %8s %8s %6d  [%6.1f, %6.1f]  %s\n", v1::Metric_Name(metric).substr(7),
                                   Value(s), Margin(s), s.n(), s.interval_low(), s.interval_high(),
                                   s.scale().description());
    }
  }

  void Trend() {
    v1::GetTrendRequest r;
    r.set_metric(v1::METRIC_NPS);
    r.set_interval(v1::INTERVAL_WEEK);
    *r.mutable_range() = range_;
    v1::GetTrendResponse resp;
    if (!Call(&MetricsService::Stub::GetTrend, r, &resp)) return;
    std::cout << absl::StrFormat("  %-12s %8s %8s %6s\n", "week of", "NPS", "95%", "n");
    for (const auto& p : resp.points()) {
      std::cout << absl::StrFormat("  %-12s %8s %8s %6d\n",
                                   absl::FormatTime("%Y-%m-%d", cx::shared::ToTime(p.start_time()), absl::UTCTimeZone()),
                                   Value(p.score()), Margin(p.score()), p.score().n());
    }
  }

  void Breakdown(v1::Dimension dimension) {
    v1::GetBreakdownRequest r;
    r.set_metric(v1::METRIC_NPS);
    r.set_dimension(dimension);
    *r.mutable_range() = range_;
    v1::GetBreakdownResponse resp;
    if (!Call(&MetricsService::Stub::GetBreakdown, r, &resp)) return;
    std::cout << absl::StrFormat("  %-22s %8s %8s %6s\n", "value", "NPS", "95%", "n");
    for (const auto& row : resp.rows()) {
      std::cout << absl::StrFormat("  %-22s %8s %8s %6d\n", row.value().empty() ? "(none)" : row.value(),
                                   Value(row.score()), Margin(row.score()), row.score().n());
    }
  }

  void Drivers() {
    v1::GetDriversRequest r;
    r.set_metric(v1::METRIC_NPS);
    r.set_dimension(v1::DIMENSION_TOUCHPOINT);
    *r.mutable_range() = range_;
    v1::GetDriversResponse resp;
    if (!Call(&MetricsService::Stub::GetDrivers, r, &resp)) return;
    std::cout << absl::StrFormat("  %-14s %6s %8s %8s %8s  %-16s %s\n", "touchpoint", "share", "NPS", "rest", "impact",
                                 "impact 95%", "significant");
    for (const auto& d : resp.drivers()) {
      std::cout << absl::StrFormat("  %-14s %5.0f%% %8s %8s %+8.1f  [%+5.1f, %+5.1f]   %s\n", d.value(),
                                   100 * d.share(), Value(d.score()), Value(d.rest()), d.impact(), d.impact_low(),
                                   d.impact_high(), d.significant() ? "yes" : "no");
    }
  }

  void Compare() {
    const absl::Time now = absl::Now();
    v1::CompareScoresRequest r;
    r.set_metric(v1::METRIC_NPS);
    *r.mutable_period_a()->mutable_start_time() = cx::shared::ToProtoTime(now - absl::Hours(24 * 14));
    *r.mutable_period_a()->mutable_end_time() = cx::shared::ToProtoTime(now - absl::Hours(24 * 7));
    *r.mutable_period_b()->mutable_start_time() = cx::shared::ToProtoTime(now - absl::Hours(24 * 7));
    *r.mutable_period_b()->mutable_end_time() = cx::shared::ToProtoTime(now);
    v1::CompareScoresResponse resp;
    if (!Call(&MetricsService::Stub::CompareScores, r, &resp)) return;
    std::cout << absl::StrFormat("  NPS %s (n=%d) -> %s (n=%d): change %+.1f ± %.1f (SE %.1f, z %.2f, p %.3f): %s\n",
                                 Value(resp.a()), resp.a().n(), Value(resp.b()), resp.b().n(), resp.delta(),
                                 1.96 * resp.delta_standard_error(), resp.delta_standard_error(), resp.z(),
                                 resp.p_value(), resp.significant() ? "significant at 95%" : "not significant at 95%");
  }

  void Alerts() {
    v1::CreateAlertRuleRequest create;
    create.set_request_id("sample-nps-drop-rule");
    auto* rule = create.mutable_rule();
    rule->set_display_name("NPS dropped day over day");
    rule->set_metric(v1::METRIC_NPS);
    rule->mutable_window()->set_seconds(24 * 3600);
    rule->set_min_drop(10);
    rule->set_min_sample(30);
    rule->set_significance_level(0.05);
    v1::CreateAlertRuleResponse created;
    Call(&MetricsService::Stub::CreateAlertRule, create, &created);
    v1::ListAlertRulesResponse rules;
    if (Call(&MetricsService::Stub::ListAlertRules, v1::ListAlertRulesRequest{}, &rules)) {
      for (const auto& r : rules.rules()) {
        std::cout << absl::StrFormat("  rule %s \"%s\": %s drop >= %.0f over %dh windows, n >= %d, p < %.2f%s\n",
                                     r.name(), r.display_name(), v1::Metric_Name(r.metric()).substr(7), r.min_drop(),
                                     r.window().seconds() / 3600, r.min_sample(), r.significance_level(),
                                     r.in_breach() ? " (in breach)" : "");
      }
    }
    v1::ListAlertsResponse alerts;
    if (Call(&MetricsService::Stub::ListAlerts, v1::ListAlertsRequest{}, &alerts)) {
      if (alerts.alerts_size() == 0) std::cout << "  no alerts fired\n";
      for (const auto& a : alerts.alerts()) std::cout << "  " << a.name() << ": " << a.reason() << "\n";
    }
  }

 private:
  std::unique_ptr<MetricsService::Stub> stub_;
  std::string token_;
  cx::common::v1::TimeRange range_;
};

// The journey part of the report.
class JourneyReport {
 public:
  JourneyReport(Report& report, int days) : report_(report), days_(days) {}

  cx::common::v1::TimeRange Range(int days) const {
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    cx::common::v1::TimeRange r;
    r.mutable_start_time()->set_seconds((now / 86400 - days) * 86400);
    r.mutable_end_time()->set_seconds(now);
    return r;
  }

  void Funnel() {
    v1::GetFunnelRequest r;
    for (const char* type : {"page_view", "product_view", "cart_add", "order_placed"}) r.add_steps()->set_event_type(type);
    r.mutable_conversion_window()->set_seconds(14 * 86400);
    *r.mutable_range() = Range(days_ + 5);
    v1::GetFunnelResponse f;
    if (!report_.Call(&MetricsService::Stub::GetFunnel, r, &f)) return;
    std::cout << absl::StrFormat("  %-14s %9s %9s %9s %9s %14s\n", "step", "customers", "of first", "of prev",
                                 "drop-off", "median time");
    for (const auto& s : f.steps()) {
      std::cout << absl::StrFormat("  %-14s %9d %8.1f%% %8.1f%% %9d %14s\n", s.label(), s.customers(),
                                   100 * s.conversion_from_first(), 100 * s.conversion_from_previous(), s.drop_off(),
                                   absl::FormatDuration(absl::Seconds(s.median_time_from_first().seconds())));
    }
  }

  void Retention() {
    v1::GetRetentionRequest r;
    r.set_cohort_event_type("page_view");
    r.set_return_event_type("app_login");
    r.set_interval(v1::INTERVAL_WEEK);
    r.set_periods(4);
    r.set_mode(v1::RETENTION_MODE_ON_OR_AFTER);
    *r.mutable_range() = Range(days_ + 5);
    v1::GetRetentionResponse out;
    if (!report_.Call(&MetricsService::Stub::GetRetention, r, &out)) return;
    std::cout << absl::StrFormat("  %-12s %6s", "week of", "size");
    for (int k = 1; k <= 4; ++k) std::cout << absl::StrFormat(" %7s", absl::StrCat("week ", k));
    std::cout << "\n";
    for (const auto& c : out.cohorts()) {
      std::cout << absl::StrFormat("  %-12s %6d",
                                   absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(c.start_time().seconds()),
                                                    absl::UTCTimeZone()),
                                   c.size());
      for (const auto& cell : c.cells()) {
        if (cell.period() == 0) continue;
        std::cout << absl::StrFormat(" %6.0f%%%s", 100 * cell.rate(), cell.complete() ? "" : "*");
      }
      std::cout << "\n";
    }
    std::cout << "  (on or after: came back with app_login in that week or later; * the week is not over)\n";
  }

  void Churn() {
    v1::GetChurnRequest r;
    *r.mutable_range() = Range(days_);
    r.set_definition(v1::ACTIVITY_DEFINITION_RECENT_ACTIVITY);
    r.set_activity_days(14);
    v1::GetChurnResponse out;
    if (!report_.Call(&MetricsService::Stub::GetChurn, r, &out) || out.periods_size() == 0) return;
    const auto& p = out.periods(0);
    std::cout << absl::StrFormat("  active (an event in 14 days): %d at start, %d at end, %d new; "
                                 "retention %.1f%%, churn %.1f%%\n",
                                 p.active_at_start(), p.active_at_end(), p.new_active(), 100 * p.retention_rate(),
                                 100 * p.churn_rate());
  }

  void LifetimeValue() {
    v1::GetCustomerLifetimeValueRequest r;
    r.set_currency_code("EUR");
    *r.mutable_range() = Range(days_);
    r.set_expected_lifespan_periods(12);
    r.set_gross_margin(0.4);
    v1::GetCustomerLifetimeValueResponse out;
    if (!report_.Call(&MetricsService::Stub::GetCustomerLifetimeValue, r, &out)) return;
    for (const auto& v : out.segments()) {
      std::cout << absl::StrFormat("  %-20s %3d buyers, AOV %8.2f EUR x %.2f orders = %8.2f EUR per %d days; "
                                   "CLV (12 periods, 40%% margin) %9.2f EUR\n",
                                   v.scope(), v.purchasers(), v.average_order_value_minor() / 100,
                                   v.purchase_frequency(), v.value_per_period_minor() / 100, days_,
                                   v.lifetime_value_minor() / 100);
    }
  }

  void Support() {
    v1::GetSupportMetricsRequest r;
    *r.mutable_range() = Range(days_ + 5);
    v1::GetSupportMetricsResponse out;
    if (!report_.Call(&MetricsService::Stub::GetSupportMetrics, r, &out)) return;
    const auto& t = out.total();
    std::cout << absl::StrFormat("  %d tickets, %d resolved; time to resolution median %s, p90 %s; "
                                 "first-contact resolution %.0f%%, reopened %.0f%%\n",
                                 t.opened(), t.resolved(),
                                 absl::FormatDuration(absl::Seconds(t.median_time_to_resolution().seconds())),
                                 absl::FormatDuration(absl::Seconds(t.p90_time_to_resolution().seconds())),
                                 100 * t.first_contact_resolution_rate(), 100 * t.reopen_rate());
  }

  void AtRisk() {
    std::vector<v1::CustomerHealth> all;
    v1::ListCustomerHealthRequest r;
    r.set_page_size(500);
    for (int page = 0; page < 1000; ++page) {
      v1::ListCustomerHealthResponse out;
      if (!report_.Call(&MetricsService::Stub::ListCustomerHealth, r, &out)) return;
      for (const auto& h : out.customers()) {
        if (h.merged_into().empty()) all.push_back(h);
      }
      if (out.next_page_token().empty()) break;
      r.set_page_token(out.next_page_token());
    }
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return a.churn_risk().score() != b.churn_risk().score() ? a.churn_risk().score() > b.churn_risk().score()
                                                              : a.customer_id() < b.customer_id();
    });
    std::cout << absl::StrFormat("  %-10s %4s %-6s %-12s %4s  %s\n", "customer", "risk", "level", "stage", "NPS",
                                 "why");
    for (size_t i = 0; i < all.size() && i < 5; ++i) {
      const auto& h = all[i];
      std::string why;
      for (const auto& f : h.churn_risk().factors()) absl::StrAppend(&why, why.empty() ? "" : "; ", f.description());
      std::cout << absl::StrFormat("  %-10s %4d %-6s %-12s %4s  %s\n", h.customer_id(), h.churn_risk().score(),
                                   v1::RiskLevel_Name(h.churn_risk().level()).substr(11),
                                   cx::common::v1::JourneyStage_Name(h.current_stage()).substr(14),
                                   h.has_nps() ? std::to_string(h.latest_nps_score()) : "-", why);
    }
    std::cout << absl::StrFormat("  (%d customers synced through ListCustomerHealth)\n", all.size());
  }

 private:
  Report& report_;
  int days_;
};

}  // namespace

namespace cx::cxctl {

int ReportCommand(Clients& c, const Args& a) {
  if (auto s = a.OnlyKnown({"days", "out"}); !s.ok()) return Fail(s);
  auto days_flag = a.Int("days", 30);
  if (!days_flag.ok()) return Fail(days_flag.status());
  const int days = static_cast<int>(std::clamp<int64_t>(*days_flag, 1, 3660));
  Report report(MetricsService::NewStub(Channel(c.settings().metrics)), c.settings().token, days);
  report.WaitUntilSettled();
  if (a.Has("out")) {
    auto data = FetchReport(c, days);
    if (!data.ok()) return Fail(data.status());
    std::ofstream out(a.Get("out"), std::ios::trunc | std::ios::binary);
    out << RenderHtml(*data);
    out.flush();
    if (!out) return Fail(absl::InternalError("cannot write " + a.Get("out")));
    std::cout << "wrote " << a.Get("out") << "\n";
    return 0;
  }
  std::cout << absl::StrFormat("Scores since midnight UTC %d days ago (95%% margin of error):\n", days);
  report.Scores();
  std::cout << "\nNPS by week (UTC):\n";
  report.Trend();
  std::cout << "\nNPS by channel, best first:\n";
  report.Breakdown(v1::DIMENSION_CHANNEL);
  std::cout << "\nNPS by customer segment (from journey-service):\n";
  report.Breakdown(v1::DIMENSION_SEGMENT);
  std::cout << "\nWhat drives NPS, by touchpoint (impact: how far NPS would move if it scored like the rest):\n";
  report.Drivers();
  std::cout << "\nLast 7 days against the 7 before:\n";
  report.Compare();
  std::cout << "\nAlerts:\n";
  report.Alerts();
  JourneyReport journeys(report, days);
  std::cout << "\nFunnel (first page view in range, 14-day window, steps in order):\n";
  journeys.Funnel();
  std::cout << "\nWeekly retention of first page views (UTC weeks from Monday):\n";
  journeys.Retention();
  std::cout << "\nChurn over the report's days:\n";
  journeys.Churn();
  std::cout << "\nCustomer lifetime value by segment (orders in EUR over the report's days):\n";
  journeys.LifetimeValue();
  std::cout << "\nSupport:\n";
  journeys.Support();
  std::cout << "\nTop at-risk customers (churn-risk points and why):\n";
  journeys.AtRisk();
  std::cout << "\nFollow-up cases (feedback-service):\n";
  cx::feedback::v1::GetFollowUpStatsRequest stats_request;
  auto stats = c.Call(c.feedback(), &cx::feedback::v1::FeedbackService::Stub::GetFollowUpStats, stats_request);
  if (stats.ok()) {
    std::cout << absl::StrFormat("  %d open, %d in progress, %d resolved", stats->open_count(), stats->in_progress_count(),
                                 stats->resolved_count());
    if (stats->resolved_count() > 0) {
      std::cout << absl::StrFormat("; time to close median %.1f h, p90 %.1f h",
                                   stats->time_to_close_median().seconds() / 3600.0,
                                   stats->time_to_close_p90().seconds() / 3600.0);
    }
    std::cout << "\n";
  } else {
    std::cerr << "  (" << stats.status() << ")\n";
  }
  return 0;
}

}  // namespace cx::cxctl
