#include "shared/db/erasures.h"

#include <algorithm>

#include "google/protobuf/util/time_util.h"

namespace cx::shared::db {

absl::StatusOr<bool> HasErasures(SqlConnection& c, const std::string& tenant) {
  auto rows = c.Query("SELECT 1 FROM erased_customers WHERE tenant = ? LIMIT 1", {tenant});
  if (!rows.ok()) return rows.status();
  return !rows->empty();
}

absl::Status KeepTenantsWithErasures(SqlConnection& c, std::map<std::string, std::vector<std::string>>* by_tenant) {
  for (auto it = by_tenant->begin(); it != by_tenant->end();) {
    auto has = HasErasures(c, it->first);
    if (!has.ok()) return has.status();
    it = *has ? std::next(it) : by_tenant->erase(it);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::set<std::string>> ErasedAmong(SqlConnection& c, const std::string& tenant,
                                                  std::vector<std::string> digests) {
  std::set<std::string> out;
  if (digests.empty()) return out;
  std::sort(digests.begin(), digests.end());
  digests.erase(std::unique(digests.begin(), digests.end()), digests.end());
  absl::Status s = QueryIn(c, "SELECT digest FROM erased_customers WHERE tenant = ? AND digest IN ", {tenant},
                           digests, "", [&](const SqlRow& row) {
                             out.insert(row.Text(0));
                             return absl::OkStatus();
                           });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::optional<common::v1::Erasure>> StoredErasure(SqlConnection& c, const std::string& tenant,
                                                                 const std::string& digest) {
  auto rows = c.Query("SELECT body FROM erased_customers WHERE tenant = ? AND digest = ?", {tenant, digest});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<common::v1::Erasure>();
  common::v1::Erasure e;
  if (!e.ParseFromString(rows->front().Text(0))) return absl::DataLossError("a stored erasure does not parse");
  return std::optional<common::v1::Erasure>(std::move(e));
}

absl::Status RecordErasure(SqlConnection& c, const std::string& tenant, const common::v1::Erasure& erasure) {
  std::vector<std::string> digests{erasure.customer_digest()};
  digests.insert(digests.end(), erasure.related_digests().begin(), erasure.related_digests().end());
  auto known = ErasedAmong(c, tenant, digests);
  if (!known.ok()) return known.status();
  const int64_t at_us = google::protobuf::util::TimeUtil::TimestampToMicroseconds(erasure.erase_time());
  const std::string body = erasure.SerializeAsString();
  for (const std::string& digest : digests) {
    if (!known->insert(digest).second) continue;
    auto r = c.Execute("INSERT INTO erased_customers (tenant, digest, erased_at_us, body) VALUES (?, ?, ?, ?)",
                       {tenant, digest, at_us, body});
    if (!r.ok()) return r.status();
  }
  return absl::OkStatus();
}

}  // namespace cx::shared::db
