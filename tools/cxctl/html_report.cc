#include "tools/cxctl/html_report.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "shared/proto_util.h"

namespace cx::cxctl {
namespace {

namespace fb = feedback::v1;
namespace mx = metrics::v1;

std::string Esc(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string Day(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%b %d", shared::ToTime(t), absl::UTCTimeZone());
}

std::string Num(double v, int decimals = 1) { return absl::StrFormat("%.*f", decimals, v); }

constexpr int kW = 640, kH = 240, kLeft = 48, kRight = 16, kTop = 16, kBottom = 36;

// A line chart of NPS by period with the 95% interval as a band.
std::string TrendChart(const mx::GetTrendResponse& trend) {
  std::vector<const mx::TrendPoint*> pts;
  for (const auto& p : trend.points()) {
    if (p.score().defined()) pts.push_back(&p);
  }
  std::string svg = absl::StrFormat(
      R"(<svg class="chart" id="nps-trend" viewBox="0 0 %d %d" role="img" aria-label="NPS trend">)", kW, kH);
  if (pts.empty()) return svg + R"(<text x="20" y="40" class="empty">No NPS answers in the range</text></svg>)";
  double lo = -100, hi = 100;
  double min_v = 100, max_v = -100;
  for (const auto* p : pts) {
    min_v = std::min(min_v, p->score().interval_low());
    max_v = std::max(max_v, p->score().interval_high());
  }
  lo = std::max(-100.0, std::floor((min_v - 5) / 10) * 10);
  hi = std::min(100.0, std::ceil((max_v + 5) / 10) * 10);
  if (hi - lo < 20) hi = std::min(100.0, lo + 20);
  const double plot_w = kW - kLeft - kRight, plot_h = kH - kTop - kBottom;
  auto x = [&](size_t i) { return kLeft + (pts.size() == 1 ? plot_w / 2 : plot_w * i / (pts.size() - 1)); };
  auto y = [&](double v) { return kTop + plot_h * (hi - std::clamp(v, lo, hi)) / (hi - lo); };
  for (double g = lo; g <= hi + 1e-9; g += (hi - lo) / 4) {
    absl::StrAppendFormat(&svg, R"(<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>)", kLeft, kW - kRight, y(g), y(g));
    absl::StrAppendFormat(&svg, R"(<text class="axis" x="%d" y="%.1f" text-anchor="end">%.0f</text>)", kLeft - 6, y(g) + 4, g);
  }
  std::string band = "M";
  for (size_t i = 0; i < pts.size(); ++i) {
    absl::StrAppendFormat(&band, "%s%.1f %.1f", i ? " L" : "", x(i), y(pts[i]->score().interval_high()));
  }
  for (size_t i = pts.size(); i-- > 0;) absl::StrAppendFormat(&band, " L%.1f %.1f", x(i), y(pts[i]->score().interval_low()));
  absl::StrAppend(&svg, R"(<path class="band" d=")", band, R"( Z"/>)");
  std::string line = "M";
  for (size_t i = 0; i < pts.size(); ++i) absl::StrAppendFormat(&line, "%s%.1f %.1f", i ? " L" : "", x(i), y(pts[i]->score().value()));
  absl::StrAppend(&svg, R"(<path class="line" d=")", line, R"("/>)");
  for (size_t i = 0; i < pts.size(); ++i) {
    const auto& s = pts[i]->score();
    absl::StrAppendFormat(&svg, R"(<circle class="point" cx="%.1f" cy="%.1f" r="3.5"><title>%s: NPS %.1f ±%.1f (n=%d)</title></circle>)",
                          x(i), y(s.value()), Day(pts[i]->start_time()), s.value(), s.margin_of_error(), s.n());
    if (pts.size() <= 8 || i % ((pts.size() + 7) / 8) == 0) {
      const char* anchor = i == 0 && pts.size() > 1 ? "start" : i + 1 == pts.size() && pts.size() > 1 ? "end" : "middle";
      absl::StrAppendFormat(&svg, R"(<text class="axis" x="%.1f" y="%d" text-anchor="%s">%s</text>)", x(i), kH - 12,
                            anchor, Day(pts[i]->start_time()));
    }
  }
  return svg + "</svg>";
}

// Horizontal bars, one per row, with an optional whisker per bar.
struct Bar {
  std::string label;
  double value;
  double low, high;  // whisker; low > high means none
  std::string tip;
  std::string suffix = "";  // after the value label
};

// "CHANNEL_IN_APP" -> "in app".
std::string Short(const std::string& enum_name) {
  std::string s = enum_name;
  if (const size_t u = s.find('_'); u != std::string::npos && absl::StrContains(s.substr(0, u + 1), "CHANNEL_")) {
    s = s.substr(u + 1);
  }
  s = absl::AsciiStrToLower(s);
  for (char& c : s) c = c == '_' ? ' ' : c;
  return s;
}

std::string BarChart(const std::string& id, const std::vector<Bar>& bars, double lo, double hi, const std::string& unit) {
  const int row = 26, label_w = 130, h = kTop + row * static_cast<int>(std::max<size_t>(bars.size(), 1)) + kBottom;
  std::string svg = absl::StrFormat(R"(<svg class="chart" id="%s" viewBox="0 0 %d %d" role="img">)", id, kW, h);
  if (bars.empty()) return svg + R"(<text x="20" y="40" class="empty">No data in the range</text></svg>)";
  const double plot_w = kW - label_w - kRight - 50;
  auto x = [&](double v) { return label_w + plot_w * (std::clamp(v, lo, hi) - lo) / (hi - lo); };
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double top = kTop + row * static_cast<double>(i);
    const double x0 = x(std::max(lo, 0.0)), x1 = x(b.value);
    absl::StrAppendFormat(&svg, R"(<text class="label" x="%d" y="%.1f" text-anchor="end">%s</text>)", label_w - 8,
                          top + 17, Esc(b.label));
    absl::StrAppendFormat(&svg, R"(<rect class="bar%s" x="%.1f" y="%.1f" width="%.1f" height="18"><title>%s</title></rect>)",
                          b.value < 0 ? " negative" : "", std::min(x0, x1), top + 4, std::max(1.0, std::fabs(x1 - x0)),
                          Esc(b.tip));
    if (b.low <= b.high) {
      absl::StrAppendFormat(&svg, R"(<line class="whisker" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>)", x(b.low), x(b.high),
                            top + 13, top + 13);
    }
    const double right = b.low <= b.high ? std::max({x0, x1, x(b.high)}) : std::max(x0, x1);
    absl::StrAppendFormat(&svg, R"(<text class="value" x="%.1f" y="%.1f">%s%s%s</text>)", right + 6, top + 17,
                          b.value == std::floor(b.value) && unit.empty() && std::fabs(hi - lo) > 10
                              ? Num(b.value, 0)
                              : Num(b.value, std::fabs(hi - lo) <= 10 ? 2 : 1),
                          unit, Esc(b.suffix));
  }
  return svg + "</svg>";
}

std::string RetentionHeatmap(const mx::GetRetentionResponse& r) {
  const int cell_w = 64, cell_h = 24, left = 110, top = 30;
  size_t periods = 0;
  for (const auto& c : r.cohorts()) periods = std::max<size_t>(periods, c.cells_size());
  const int w = left + cell_w * static_cast<int>(std::max<size_t>(periods, 1)) + 20;
  const int h = top + cell_h * std::max(r.cohorts_size(), 1) + 10;
  std::string svg = absl::StrFormat(R"(<svg class="chart" id="retention" viewBox="0 0 %d %d" role="img">)", w, h);
  if (r.cohorts_size() == 0) return svg + R"(<text x="20" y="40" class="empty">No cohorts in the range</text></svg>)";
  for (size_t p = 0; p < periods; ++p) {
    absl::StrAppendFormat(&svg, R"(<text class="axis" x="%d" y="%d" text-anchor="middle">+%d</text>)",
                          left + cell_w * static_cast<int>(p) + cell_w / 2, top - 10, p);
  }
  for (int i = 0; i < r.cohorts_size(); ++i) {
    const auto& c = r.cohorts(i);
    const int y = top + cell_h * i;
    absl::StrAppendFormat(&svg, R"(<text class="label" x="%d" y="%d" text-anchor="end">%s (%d)</text>)", left - 8, y + 16,
                          Day(c.start_time()), c.size());
    for (int p = 0; p < c.cells_size(); ++p) {
      const auto& cell = c.cells(p);
      // Darker for higher retention: lightness 96% (0) to 30% (100%).
      const double light = 96 - 66 * std::clamp(cell.rate(), 0.0, 1.0);
      absl::StrAppendFormat(&svg,
                            R"x(<rect class="cell%s" x="%d" y="%d" width="%d" height="%d" fill="hsl(212, 70%%, %.0f%%)">)x"
                            R"x(<title>cohort %s, period +%d: %d of %d (%.1f%%)%s</title></rect>)x",
                            cell.complete() ? "" : " incomplete", left + cell_w * p, y, cell_w - 2, cell_h - 2, light,
                            Day(c.start_time()), p, cell.retained(), c.size(), 100 * cell.rate(),
                            cell.complete() ? "" : ", period not over");
      absl::StrAppendFormat(&svg, R"(<text class="cell-label%s" x="%d" y="%d" text-anchor="middle">%.0f%%</text>)",
                            light < 60 ? " dark" : "", left + cell_w * p + cell_w / 2 - 1, y + 16, 100 * cell.rate());
    }
  }
  return svg + "</svg>";
}

std::string ScoreCard(const char* name, const mx::Score& s, int decimals) {
  return absl::StrFormat(
      R"(<div class="card"><div class="metric">%s</div><div class="big">%s</div><div class="small">±%s (95%%), n = %d<br>%s</div></div>)",
      name, s.defined() ? Num(s.value(), decimals) : "–", s.defined() ? Num(s.margin_of_error(), decimals) : "–", s.n(),
      Esc(s.scale().description()));
}

constexpr char kStyle[] = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f5f7fa;color:#1f2933}
header{background:#1f3a5f;color:#fff;padding:20px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.8;font-size:13px}main{padding:24px 32px;max-width:1400px}
.cards{display:flex;gap:16px;flex-wrap:wrap}.card{background:#fff;border-radius:8px;padding:16px 20px;min-width:180px;
box-shadow:0 1px 3px rgba(0,0,0,.08)}.metric{font-size:13px;color:#52606d;text-transform:uppercase;letter-spacing:.05em}
.big{font-size:34px;font-weight:600;margin:4px 0}.small{font-size:12px;color:#7b8794}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:20px;margin-top:20px}
section{background:#fff;border-radius:8px;padding:16px 20px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
section h2{font-size:16px;margin:0 0 4px}section p.note{font-size:12px;color:#7b8794;margin:0 0 8px}
svg.chart{width:100%;height:auto;display:block}.grid{stroke:#e4e7eb}.axis,.label,.value{font-size:11px;fill:#52606d}
.band{fill:#9fb3c8;opacity:.45}.line{fill:none;stroke:#1f3a5f;stroke-width:2.5}.point{fill:#1f3a5f}
.bar{fill:#3e7cb1}.bar.negative{fill:#c44536}.whisker{stroke:#1f2933;stroke-width:1.5}
.cell.incomplete{opacity:.55}.cell-label{font-size:11px;fill:#1f2933}.cell-label.dark{fill:#fff}.empty{fill:#9aa5b1;font-size:14px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e4e7eb}
th{color:#52606d;font-weight:600}td.num{text-align:right}.pill{display:inline-block;padding:1px 8px;border-radius:10px;
font-size:11px;background:#e4e7eb}.pill.high{background:#f8d7d3;color:#8a1c10}.ok{color:#2f855a}
)";

}  // namespace

absl::StatusOr<ReportData> FetchReport(Clients& c, int days) {
  ReportData d;
  d.generated = absl::Now();
  d.days = days;
  common::v1::TimeRange range;
  const absl::Time today = absl::FromCivil(absl::CivilDay(absl::ToCivilDay(d.generated, absl::UTCTimeZone())),
                                           absl::UTCTimeZone());
  *range.mutable_start_time() = shared::ToProtoTime(today - absl::Hours(24 * days));
  *range.mutable_end_time() = shared::ToProtoTime(d.generated);
  auto score = [&](mx::Metric m, mx::GetScoreResponse* out) -> absl::Status {
    mx::GetScoreRequest r;
    r.set_metric(m);
    *r.mutable_range() = range;
    auto resp = c.Call(c.metrics(), &mx::MetricsService::Stub::GetScore, r);
    if (!resp.ok()) return resp.status();
    *out = *std::move(resp);
    return absl::OkStatus();
  };
  for (auto [m, out] : {std::pair{mx::METRIC_NPS, &d.nps}, {mx::METRIC_CSAT, &d.csat}, {mx::METRIC_CES, &d.ces}}) {
    if (auto s = score(m, out); !s.ok()) return s;
  }
  mx::GetTrendRequest trend;
  trend.set_metric(mx::METRIC_NPS);
  trend.set_interval(mx::INTERVAL_WEEK);
  trend.set_time_zone("UTC");
  *trend.mutable_range() = range;
  auto t = c.Call(c.metrics(), &mx::MetricsService::Stub::GetTrend, trend);
  if (!t.ok()) return t.status();
  d.nps_trend = *std::move(t);
  for (auto [m, out] : {std::pair{mx::METRIC_CSAT, &d.csat_by_channel}, {mx::METRIC_CES, &d.ces_by_channel}}) {
    mx::GetBreakdownRequest r;
    r.set_metric(m);
    r.set_dimension(mx::DIMENSION_CHANNEL);
    *r.mutable_range() = range;
    auto b = c.Call(c.metrics(), &mx::MetricsService::Stub::GetBreakdown, r);
    if (!b.ok()) return b.status();
    *out = *std::move(b);
  }
  mx::GetFunnelRequest funnel;
  for (const char* type : {"page_view", "product_view", "cart_add", "order_placed"}) funnel.add_steps()->set_event_type(type);
  funnel.mutable_conversion_window()->set_seconds(14 * 86400);
  *funnel.mutable_range() = range;
  auto f = c.Call(c.metrics(), &mx::MetricsService::Stub::GetFunnel, funnel);
  if (!f.ok()) return f.status();
  d.funnel = *std::move(f);
  mx::GetRetentionRequest retention;
  retention.set_cohort_event_type("page_view");
  retention.set_return_event_type("app_login");
  retention.set_interval(mx::INTERVAL_WEEK);
  retention.set_periods(6);
  retention.set_mode(mx::RETENTION_MODE_ON);
  retention.set_time_zone("UTC");
  *retention.mutable_range() = range;
  auto r = c.Call(c.metrics(), &mx::MetricsService::Stub::GetRetention, retention);
  if (!r.ok()) return r.status();
  d.retention = *std::move(r);
  mx::GetDriversRequest drivers;
  drivers.set_metric(mx::METRIC_NPS);
  drivers.set_dimension(mx::DIMENSION_TOUCHPOINT);
  *drivers.mutable_range() = range;
  auto dr = c.Call(c.metrics(), &mx::MetricsService::Stub::GetDrivers, drivers);
  if (!dr.ok()) return dr.status();
  d.drivers = *std::move(dr);
  mx::ListAlertsRequest alerts;
  alerts.set_page_size(20);
  auto al = c.Call(c.metrics(), &mx::MetricsService::Stub::ListAlerts, alerts);
  if (!al.ok()) return al.status();
  d.alerts = *std::move(al);
  fb::ListFollowUpsRequest open;
  open.set_status(fb::FOLLOW_UP_STATUS_OPEN);
  open.set_page_size(12);
  auto fu = c.Call(c.feedback(), &fb::FeedbackService::Stub::ListFollowUps, open);
  if (!fu.ok()) return fu.status();
  d.open_follow_ups = *std::move(fu);
  fb::GetFollowUpStatsRequest stats;
  auto st = c.Call(c.feedback(), &fb::FeedbackService::Stub::GetFollowUpStats, stats);
  if (!st.ok()) return st.status();
  d.follow_up_stats = *std::move(st);
  return d;
}

std::string RenderHtml(const ReportData& d) {
  std::string h = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                  "<title>CX report</title><style>";
  h += kStyle;
  h += "</style></head><body>";
  absl::StrAppendFormat(&h, "<header><h1>CX report</h1><p>Last %d days up to %s UTC · generated by cxctl from "
                            "metrics-service and feedback-service</p></header><main>",
                        d.days, absl::FormatTime("%Y-%m-%d %H:%M", d.generated, absl::UTCTimeZone()));
  h += "<div class=\"cards\">";
  h += ScoreCard("NPS", d.nps.score(), 1);
  h += ScoreCard("CSAT", d.csat.score(), 1);
  h += ScoreCard("CES", d.ces.score(), 2);
  absl::StrAppendFormat(&h,
                        R"(<div class="card"><div class="metric">Follow-ups</div><div class="big">%d</div>)"
                        R"(<div class="small">open · %d in progress · %d resolved<br>median time to close %s</div></div>)",
                        d.follow_up_stats.open_count(), d.follow_up_stats.in_progress_count(),
                        d.follow_up_stats.resolved_count(),
                        d.follow_up_stats.resolved_count() > 0
                            ? absl::StrFormat("%.1f h", d.follow_up_stats.time_to_close_median().seconds() / 3600.0)
                            : "–");
  h += "</div><div class=\"grid2\">";

  h += "<section><h2>NPS by week</h2><p class=\"note\">Line: NPS; band: its 95% interval.</p>";
  h += TrendChart(d.nps_trend);
  h += "</section>";

  std::vector<Bar> drivers;
  for (const auto& dr : d.drivers.drivers()) {
    drivers.push_back({dr.value().empty() ? "(none)" : dr.value(), dr.impact(), dr.impact_low(), dr.impact_high(),
                       absl::StrFormat("%s: impact %.1f points [%.1f, %.1f]%s; NPS %.1f vs %.1f for the rest",
                                       dr.value(), dr.impact(), dr.impact_low(), dr.impact_high(),
                                       dr.significant() ? ", significant" : "", dr.score().value(),
                                       dr.rest().value())});
  }
  double span = 5;
  for (const auto& b : drivers) span = std::max({span, std::fabs(b.low), std::fabs(b.high)});
  h += "<section><h2>What drives NPS, by touchpoint</h2><p class=\"note\">Impact: how far overall NPS would move "
       "if the touchpoint scored like the rest; whiskers: 95% interval.</p>";
  h += BarChart("drivers", drivers, -span, span, "");
  h += "</section>";

  for (auto [title, data, lo, hi, id] :
       {std::tuple{"CSAT by channel", &d.csat_by_channel, 0.0, 100.0, "csat-by-channel"},
        std::tuple{"CES by channel", &d.ces_by_channel, 1.0, 7.0, "ces-by-channel"}}) {
    std::vector<Bar> bars;
    for (const auto& row : data->rows()) {
      if (!row.score().defined()) continue;
      bars.push_back({Short(row.value()), row.score().value(), row.score().interval_low(), row.score().interval_high(),
                      absl::StrFormat("%s: %.2f ±%.2f (n=%d)", row.value(), row.score().value(),
                                      row.score().margin_of_error(), row.score().n())});
    }
    absl::StrAppendFormat(&h, "<section><h2>%s</h2><p class=\"note\">%s; whiskers: 95%% interval.</p>", title,
                          Esc(data->total().scale().description()));
    h += BarChart(id, bars, lo, hi, std::string(id) == "csat-by-channel" ? "%" : "");
    h += "</section>";
  }

  std::vector<Bar> steps;
  double first = 1;
  for (int i = 0; i < d.funnel.steps_size(); ++i) {
    const auto& s = d.funnel.steps(i);
    if (i == 0) first = std::max<double>(1, s.customers());
    steps.push_back({s.label(), static_cast<double>(s.customers()), 1, 0,
                     absl::StrFormat("%s: %d customers, %.1f%% of the first step, %.1f%% of the previous", s.label(),
                                     s.customers(), 100 * s.conversion_from_first(), 100 * s.conversion_from_previous()),
                     absl::StrFormat(" (%.0f%%)", 100 * s.conversion_from_first())});
  }
  h += absl::StrFormat("<section><h2>Funnel</h2><p class=\"note\">Customers reaching each step in order within 14 "
                       "days; overall conversion %.1f%%.</p>",
                       100 * d.funnel.overall_conversion());
  h += BarChart("funnel", steps, 0, first, "");
  h += "</section>";

  h += "<section><h2>Weekly retention</h2><p class=\"note\">Cohorts by week of first page view; share with an "
       "app login in each later week (faded: week not over).</p>";
  h += RetentionHeatmap(d.retention);
  h += "</section>";

  h += "<section><h2>Active alerts</h2>";
  if (d.alerts.alerts_size() == 0) {
    h += "<p class=\"ok\">No alert has fired.</p>";
  } else {
    h += "<table id=\"alerts\"><tr><th>fired</th><th>rule</th><th>drop</th><th>p-value</th><th>why</th></tr>";
    for (const auto& a : d.alerts.alerts()) {
      absl::StrAppendFormat(&h, "<tr><td>%s</td><td>%s</td><td class=\"num\">%.1f</td><td class=\"num\">%.4f</td><td>%s</td></tr>",
                            FormatTime(a.fire_time()), Esc(a.rule_display_name()), a.drop(), a.p_value(), Esc(a.reason()));
    }
    h += "</table>";
  }
  h += "</section>";

  h += "<section><h2>Open follow-ups</h2>";
  if (d.open_follow_ups.follow_ups_size() == 0) {
    h += "<p class=\"ok\">No open follow-up case.</p>";
  } else {
    h += "<table id=\"follow-ups\"><tr><th>case</th><th>priority</th><th>customer</th><th>score</th><th>opened</th>"
         "<th>comment</th></tr>";
    for (const auto& f : d.open_follow_ups.follow_ups()) {
      const bool high = f.priority() == fb::FOLLOW_UP_PRIORITY_HIGH;
      absl::StrAppendFormat(
          &h, "<tr><td>%s</td><td><span class=\"pill%s\">%s</span></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>",
          Esc(f.name()), high ? " high" : "",
          EnumLabel(fb::FollowUpPriority_descriptor(), "FOLLOW_UP_PRIORITY_", f.priority()), Esc(f.customer_id()),
          f.has_score() ? absl::StrCat(EnumLabel(fb::FeedbackKind_descriptor(), "FEEDBACK_KIND_", f.kind()), " ", f.score())
                        : "–",
          FormatTime(f.create_time()), Esc(f.comment().substr(0, 120)));
    }
    h += "</table>";
  }
  h += "</section></div></main></body></html>\n";
  return h;
}

}  // namespace cx::cxctl
