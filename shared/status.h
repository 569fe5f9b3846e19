// One mapping from absl::Status to grpc::Status, and the helpers that attach
// google.rpc.BadRequest field violations to an absl::Status so the manager
// layer can name the offending field without knowing about gRPC.
#ifndef CX_SHARED_STATUS_H_
#define CX_SHARED_STATUS_H_

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace cx::shared {

struct FieldViolation {
  std::string field;
  std::string description;
  bool operator==(const FieldViolation& o) const {
    return field == o.field && description == o.description;
  }
};

// INVALID_ARGUMENT naming one field: the message reads "<field>: <description>".
absl::Status InvalidField(absl::string_view field, absl::string_view description);

// A status of the given code carrying field violations (message is built from them).
absl::Status WithViolations(absl::StatusCode code, const std::vector<FieldViolation>& violations);

// The violations attached to a status (empty when none).
std::vector<FieldViolation> FieldViolations(const absl::Status& status);

// Prefixes every violation's field with `prefix` (e.g. "requests[3].").
absl::Status PrefixFields(const absl::Status& status, absl::string_view prefix);

// The one place absl -> gRPC status conversion happens. Messages are
// truncated; violations travel as google.rpc.Status in the binary details.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The inverse, for clients and tests: reads code, message and violations.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace cx::shared

#endif  // CX_SHARED_STATUS_H_
