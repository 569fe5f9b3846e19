// cxctl report --out FILE.html: one self-contained HTML file (inline CSS
// and SVG, no script, no network) with the tenant's CX charts: NPS trend
// with its 95% interval band, CSAT and CES by channel, the funnel, a
// retention heat map, the drivers of NPS, active alerts and open follow-ups.
#ifndef CX_TOOLS_CXCTL_HTML_REPORT_H_
#define CX_TOOLS_CXCTL_HTML_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/cxctl/cli.h"

namespace cx::cxctl {

// What the report shows, fetched from the services.
struct ReportData {
  std::string title;
  absl::Time generated;
  int days = 90;
  metrics::v1::GetScoreResponse nps, csat, ces;
  metrics::v1::GetTrendResponse nps_trend;
  metrics::v1::GetBreakdownResponse csat_by_channel, ces_by_channel;
  metrics::v1::GetFunnelResponse funnel;
  metrics::v1::GetRetentionResponse retention;
  metrics::v1::GetDriversResponse drivers;
  metrics::v1::ListAlertsResponse alerts;
  feedback::v1::ListFollowUpsResponse open_follow_ups;
  feedback::v1::GetFollowUpStatsResponse follow_up_stats;
};

absl::StatusOr<ReportData> FetchReport(Clients& clients, int days);

// The page (pure: the same data gives the same bytes).
std::string RenderHtml(const ReportData& data);

}  // namespace cx::cxctl

#endif  // CX_TOOLS_CXCTL_HTML_REPORT_H_
