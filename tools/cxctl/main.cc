// cxctl: the command-line client of CX Suite for people and CRM connectors.
#include <iostream>

#include "tools/cxctl/cli.h"
#include "tools/cxctl/commands.h"
#include "tools/cxctl/crm.h"

namespace {

constexpr char kUsage[] = R"(usage: cxctl COMMAND [ARGS] [--flags]

Connection (flag, else environment, else config file, else default):
  --feedback HOST:PORT   CX_FEEDBACK_ENDPOINT  feedback   127.0.0.1:50051
  --journey HOST:PORT    CX_JOURNEY_ENDPOINT   journey    127.0.0.1:50052
  --metrics HOST:PORT    CX_METRICS_ENDPOINT   metrics    127.0.0.1:50053
  --token T              CX_TOKEN              token
  --token-file F         CX_TOKEN_FILE         token_file
  --config F             CXCTL_CONFIG          (default ~/.config/cxctl/config, "key = value" lines)
  --json                 JSON instead of tables

Commands:
  submit --customer ID --kind nps|csat|ces|star-rating|comment [--score N] [--comment TEXT]
         --channel CH [--source survey] [--touchpoint ID] [--stage S] [--tags a;b] [--request-id K]
  import feedback|customers|events FILE.csv [--errors FILE] [--batch 500] [--restart]
  score [--metric nps|csat|ces] [--days 30]
  trend [--metric nps] [--interval day|week|month] [--days 90]
  breakdown [--metric nps] --by channel|source|touchpoint|journey-stage|segment [--days 30]
  funnel --steps page_view,add_to_cart,order_placed [--window 7d] [--order strict|any] [--days 30]
  retention [--cohort page_view] [--return page_view] [--interval week] [--periods 8] [--days 90]
  health [CUSTOMER_ID] [--changed-since VERSION] [--limit 50]
  followups [list [--status open|in-progress|resolved] [--customer ID] [--assignee A]]
  followups show followups/ID
  followups update followups/ID [--status in-progress|resolved] [--outcome resolved|unresolved|not-reached|
                                no-action-needed] [--assignee A | --unassign] [--note TEXT] [--version V]
  followups stats [--days 30]
  tail feedback|journey [--after SEQUENCE] [--max N] [--timeout 30s]
  report [--days 30] [--out report.html]   (tables, or one self-contained HTML page with SVG charts)
  erase CUSTOMER_ID   (right to be forgotten: journey-service, then feedback-service for the customer and every
                       customer merged into it; metrics-service retracts through the feeds' tombstones)
  export CUSTOMER_ID  (right of access: one JSON document with everything each service holds about the customer)
  crm import salesforce|hubspot contacts|cases FILE.csv [--mapping F] [--errors F]
  crm export salesforce|hubspot health|followups --out FILE.csv [--mapping F] [--state F]
  crm mapping salesforce|hubspot contacts|cases|health|followups   (prints the default mapping file)
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace cx::cxctl;
  Args args = Args::Parse(argc, argv);
  if (args.words.empty() || args.words[0] == "help" || args.Has("help")) {
    std::cout << kUsage;
    return args.words.empty() && !args.Has("help") ? 2 : 0;
  }
  auto settings = Settings::Resolve(args);
  if (!settings.ok()) return Fail(settings.status());
  Clients clients(*std::move(settings));
  const std::string& cmd = args.words[0];
  if (cmd == "submit") return Submit(clients, args);
  if (cmd == "import") return Import(clients, args);
  if (cmd == "score") return ScoreCommand(clients, args);
  if (cmd == "trend") return TrendCommand(clients, args);
  if (cmd == "breakdown") return BreakdownCommand(clients, args);
  if (cmd == "funnel") return FunnelCommand(clients, args);
  if (cmd == "retention") return RetentionCommand(clients, args);
  if (cmd == "health") return HealthCommand(clients, args);
  if (cmd == "followups") return FollowUpsCommand(clients, args);
  if (cmd == "tail") return TailCommand(clients, args);
  if (cmd == "report") return ReportCommand(clients, args);
  if (cmd == "crm") return CrmCommand(clients, args);
  if (cmd == "erase") return EraseCommand(clients, args);
  if (cmd == "export") return ExportCommand(clients, args);
  std::cerr << "cxctl: unknown command '" << cmd << "'\n\n" << kUsage;
  return 2;
}
