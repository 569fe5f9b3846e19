// The erased_customers table every service that holds customer data has:
// the suppression list and the audit record of erasures in one, keyed by
// (tenant, digest) with digests from shared/erasure.h and the
// cx.common.v1.Erasure record as body. Related digests (merged identities,
// CRM references) get rows of their own carrying the same record.
#ifndef CX_SHARED_DB_ERASURES_H_
#define CX_SHARED_DB_ERASURES_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cx/common/v1/common.pb.h"
#include "shared/db/sql.h"

namespace cx::shared::db {

// Whether anyone was ever erased in `tenant`: one index probe.
absl::StatusOr<bool> HasErasures(SqlConnection& c, const std::string& tenant);

// Drops from `by_tenant` (digest lists keyed by tenant) every tenant that
// has never erased anyone: a write batch lists its tenants, calls this, and
// computes and looks up digests only for the tenants that remain.
absl::Status KeepTenantsWithErasures(SqlConnection& c, std::map<std::string, std::vector<std::string>>* by_tenant);

// The digests among `digests` that are erased in `tenant`.
absl::StatusOr<std::set<std::string>> ErasedAmong(SqlConnection& c, const std::string& tenant,
                                                  std::vector<std::string> digests);

// The record stored for a digest, if it was erased.
absl::StatusOr<std::optional<common::v1::Erasure>> StoredErasure(SqlConnection& c, const std::string& tenant,
                                                                 const std::string& digest);

// Stores the record under its customer digest and each related digest not
// yet erased.
absl::Status RecordErasure(SqlConnection& c, const std::string& tenant, const common::v1::Erasure& erasure);

}  // namespace cx::shared::db

#endif  // CX_SHARED_DB_ERASURES_H_
