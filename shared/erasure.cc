#include "shared/erasure.h"

#include "absl/strings/str_cat.h"
#include "shared/auth.h"
#include "shared/proto_util.h"
#include "shared/status.h"

namespace cx::shared {

std::string CustomerDigest(absl::string_view tenant, absl::string_view customer_id) {
  return Sha256Hex(absl::StrCat(tenant, absl::string_view("\0", 1), customer_id));
}

std::string AnonymousDigest(absl::string_view tenant, absl::string_view anonymous_id) {
  const absl::string_view nul("\0", 1);
  return Sha256Hex(absl::StrCat(tenant, nul, "anonymous", nul, anonymous_id));
}

std::string CrmDigest(absl::string_view tenant, absl::string_view system, absl::string_view id) {
  const absl::string_view nul("\0", 1);
  return Sha256Hex(absl::StrCat(tenant, nul, "crm", nul, system, nul, id));
}

common::v1::Erasure NewErasure(absl::string_view tenant, absl::string_view actor, absl::string_view customer_id,
                               absl::Time now) {
  common::v1::Erasure erasure;
  erasure.set_customer_digest(CustomerDigest(tenant, customer_id));
  erasure.set_erased_by(std::string(actor));
  *erasure.mutable_erase_time() = ToProtoTime(now);
  return erasure;
}

absl::Status ErasedStatus(absl::string_view field) {
  return WithViolations(absl::StatusCode::kFailedPrecondition,
                        {{std::string(field), "names an erased customer; records for it are refused"}});
}

}  // namespace cx::shared
