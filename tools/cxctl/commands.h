// The cxctl subcommands. Each returns the process exit code.
#ifndef CX_TOOLS_CXCTL_COMMANDS_H_
#define CX_TOOLS_CXCTL_COMMANDS_H_

#include "tools/cxctl/cli.h"

namespace cx::cxctl {

int Submit(Clients& c, const Args& a);
int Import(Clients& c, const Args& a);
int ScoreCommand(Clients& c, const Args& a);
int TrendCommand(Clients& c, const Args& a);
int BreakdownCommand(Clients& c, const Args& a);
int FunnelCommand(Clients& c, const Args& a);
int RetentionCommand(Clients& c, const Args& a);
int HealthCommand(Clients& c, const Args& a);
int FollowUpsCommand(Clients& c, const Args& a);
int TailCommand(Clients& c, const Args& a);
// Erasure across the services, and the export of one customer's data.
int EraseCommand(Clients& c, const Args& a);
int ExportCommand(Clients& c, const Args& a);
// The text report of the tenant's CX numbers (all three services).
int ReportCommand(Clients& c, const Args& a);

}  // namespace cx::cxctl

#endif  // CX_TOOLS_CXCTL_COMMANDS_H_
