// cxctl crm: the contact and case/ticket CSV exports of Salesforce and
// HubSpot into customers with CRM references and support-ticket journey
// events, and customer health and follow-up cases back out as CSV in each
// CRM's import format, only what changed since the last export (a cursor
// file kept locally). Column mappings have defaults per CRM and object and
// can be replaced by an editable mapping file ("target = Source Column").
#ifndef CX_TOOLS_CXCTL_CRM_H_
#define CX_TOOLS_CXCTL_CRM_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/cxctl/cli.h"

namespace cx::cxctl {

enum class Crm { kSalesforce, kHubspot };
// "contacts" and "cases" (HubSpot tickets) are imported; "health" and
// "followups" are exported.
enum class CrmObject { kContacts, kCases, kHealth, kFollowUps };

absl::StatusOr<Crm> ParseCrm(const std::string& name);
absl::StatusOr<CrmObject> ParseCrmObject(const std::string& name);
std::string CrmName(Crm crm);

// target field -> CRM column, in a stable order.
using CrmMapping = std::vector<std::pair<std::string, std::string>>;
CrmMapping DefaultMapping(Crm crm, CrmObject object);
// Reads "target = Column" lines ('#' comments) over the defaults; unknown
// targets are an error naming the line.
absl::StatusOr<CrmMapping> LoadMapping(Crm crm, CrmObject object, const std::string& path);
std::string MappingText(Crm crm, CrmObject object, const CrmMapping& mapping);

struct CrmImportSummary {
  int64_t rows = 0, customers = 0, events = 0, duplicates = 0, rejected = 0;
};
absl::StatusOr<CrmImportSummary> CrmImport(Clients& clients, Crm crm, CrmObject object, const CrmMapping& mapping,
                                           const std::string& file, const std::string& errors_file);

struct CrmExportSummary {
  int64_t written = 0;   // rows in the file
  int64_t skipped = 0;   // changed records without a reference in this CRM
  int64_t cursor_before = 0, cursor_after = 0;
};
// Writes the changes after the cursor stored in `state_file` to `out_file`
// (header included), then stores the new cursor.
absl::StatusOr<CrmExportSummary> CrmExport(Clients& clients, Crm crm, CrmObject object, const CrmMapping& mapping,
                                           const std::string& out_file, const std::string& state_file);

int CrmCommand(Clients& c, const Args& a);

}  // namespace cx::cxctl

#endif  // CX_TOOLS_CXCTL_CRM_H_
