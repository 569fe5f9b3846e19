// Digests that name an erased identity without holding it: the suppression
// lists, the audit records and the feed tombstones of every service use
// them, so after an erasure no stored row keeps the customer's id while a
// later record for the same id is still recognised and refused.
#ifndef CX_SHARED_ERASURE_H_
#define CX_SHARED_ERASURE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cx/common/v1/common.pb.h"

namespace cx::shared {

// Hex SHA-256 of tenant, NUL, customer id.
std::string CustomerDigest(absl::string_view tenant, absl::string_view customer_id);
// Hex SHA-256 of tenant, NUL, "anonymous", NUL, anonymous id.
std::string AnonymousDigest(absl::string_view tenant, absl::string_view anonymous_id);
// Hex SHA-256 of tenant, NUL, "crm", NUL, system, NUL, CRM id.
std::string CrmDigest(absl::string_view tenant, absl::string_view system, absl::string_view id);

// The record an erasure of `customer_id` starts from: the digest, who
// erased (the principal's actor) and when; the repository adds the rest.
common::v1::Erasure NewErasure(absl::string_view tenant, absl::string_view actor, absl::string_view customer_id,
                               absl::Time now);

// FAILED_PRECONDITION naming `field`: it names an erased customer.
absl::Status ErasedStatus(absl::string_view field);

}  // namespace cx::shared

#endif  // CX_SHARED_ERASURE_H_
