// cxctl import: CSV files of feedback, customers (with CRM ids) or journey
// events into the services, in batches, with a progress display, a report
// of every rejected row, and a checkpoint beside the file so an interrupted
// import resumes where it stopped. Rows without an id column get one
// derived from their content, so a resumed or repeated import never stores
// a row twice (identical rows are one record).
#ifndef CX_TOOLS_CXCTL_IMPORTER_H_
#define CX_TOOLS_CXCTL_IMPORTER_H_

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/cxctl/cli.h"

namespace cx::cxctl {

enum class ImportKind { kFeedback, kCustomers, kEvents };

// A CSV header: column name (lower case) -> position.
class Header {
 public:
  // INVALID_ARGUMENT for an unknown or repeated column (a typo would
  // otherwise drop data silently). Columns starting with `open_prefix`
  // ("prop." for events, "custom." for customers) are accepted.
  static absl::StatusOr<Header> Of(const std::vector<std::string>& names, const std::vector<std::string>& known,
                                   const std::string& open_prefix = "");
  // The value of `column` in `row`, "" when absent.
  std::string Get(const std::vector<std::string>& row, const std::string& column) const;
  bool Has(const std::string& column) const { return index_.count(column) > 0; }
  // Columns that start with the open prefix, with their positions.
  const std::vector<std::pair<std::string, size_t>>& open() const { return open_; }

 private:
  std::map<std::string, size_t> index_;
  std::vector<std::pair<std::string, size_t>> open_;
};

// The columns each kind reads (documented in the README).
const std::vector<std::string>& FeedbackColumns();
const std::vector<std::string>& CustomerColumns();
const std::vector<std::string>& EventColumns();

// Row -> request. Errors are INVALID_ARGUMENT naming the column. `derived_id`
// is used when the row has no request_id / event_id.
absl::StatusOr<feedback::v1::SubmitFeedbackRequest> FeedbackFromRow(const Header& h, const std::vector<std::string>& row,
                                                                    const std::string& derived_id);
absl::StatusOr<journey::v1::UpsertCustomerRequest> CustomerFromRow(const Header& h, const std::vector<std::string>& row,
                                                                   const std::string& default_source);
absl::StatusOr<journey::v1::Event> EventFromRow(const Header& h, const std::vector<std::string>& row,
                                                const std::string& derived_id);

// An id from a row's content: "csv-" and 32 hex digits.
std::string DerivedId(ImportKind kind, const std::vector<std::string>& row);

struct ImportOptions {
  std::string file;
  std::string errors_file;  // default: <file>.errors.csv
  int batch = 500;
  int parallel = 8;  // concurrent upserts for customers
  bool restart = false;  // ignore the checkpoint
  std::string source_system = "csv";  // customers without a source_system column
};

struct ImportSummary {
  int64_t rows = 0;        // data rows read in this run (after the resumed ones)
  int64_t resumed = 0;     // rows skipped thanks to the checkpoint
  int64_t accepted = 0, duplicates = 0, rejected = 0;
  double seconds = 0;
};

absl::StatusOr<ImportSummary> RunImport(Clients& clients, ImportKind kind, const ImportOptions& options,
                                        std::ostream& progress, bool progress_bar);

}  // namespace cx::cxctl

#endif  // CX_TOOLS_CXCTL_IMPORTER_H_
