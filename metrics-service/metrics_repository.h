// Storage of metrics-service: the feed cursors, what it knows of customers
// (segment and merge parent), one fact per scored feedback (so a segment
// change or a merge can move that feedback's contribution exactly), the
// hourly rollup cells, alert rules and alerts. One implementation over the
// shared SQL layer serves SQLite and MySQL/MariaDB.
#ifndef CX_METRICS_METRICS_REPOSITORY_H_
#define CX_METRICS_METRICS_REPOSITORY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "cx/metrics/v1/metrics_service.pb.h"
#include "metrics-service/rollup_index.h"
#include "metrics-service/score_math.h"

namespace cx::metrics {

// One scored feedback as the rollups count it.
struct Fact {
  std::string tenant;
  std::string feedback_id;
  std::string customer_id;
  Metric metric = Metric::kNps;
  int score = 0;
  int64_t hour = 0;
  // When it happened (microseconds since the epoch).
  int64_t time_us = 0;
  // key[kSegment] is the segment it is counted under now; key[kTag] is "".
  CellKey key;
  std::vector<std::string> tags;
};

// What metrics-service knows of a journey identity: a customer id, or
// kAnonymousPrefix + an anonymous id.
struct CustomerNode {
  std::string customer_id;
  std::string segment;
  std::string parent;  // the customer it is merged into; "" when none
  // Moves whenever the customer's health inputs change.
  int64_t health_version = 0;
};

// Ids are printable ASCII without spaces, so this prefix cannot clash.
inline constexpr char kAnonymousPrefix[] = " a:";

// One journey event as the journey metrics count it.
struct JourneyEventRow {
  std::string tenant;
  std::string event_id;
  // The identity it was recorded for (customer id or kAnonymousPrefix + id).
  std::string subject;
  // The journey feed's sequence: orders events of the same time.
  int64_t sequence = 0;
  int64_t time_us = 0;
  std::string type;
  int channel = 0;
  std::string touchpoint;
  int stage = 0;  // the resolved stage
  std::string currency;  // "" without revenue
  int64_t amount_minor = 0;
  std::string ticket_id;  // the "ticket_id" property
};

// The operations of one consumer transaction.
// A follow-up case of the feedback feed, as customer health counts it.
struct FollowUpRow {
  std::string tenant;
  std::string follow_up;  // "followups/{id}"
  std::string customer_id;
  bool open = false;
};

class RollupTx {
 public:
  virtual ~RollupTx() = default;
  // The known customers among `ids`.
  virtual absl::StatusOr<std::map<std::string, CustomerNode>> Customers(const std::string& tenant,
                                                                       const std::vector<std::string>& ids) = 0;
  virtual absl::Status PutCustomer(const std::string& tenant, const CustomerNode& node) = 0;
  // Customers merged directly into one of `ids`.
  virtual absl::StatusOr<std::vector<std::string>> ChildrenOf(const std::string& tenant,
                                                              const std::vector<std::string>& ids) = 0;
  virtual absl::StatusOr<std::vector<Fact>> FactsOf(const std::string& tenant,
                                                    const std::vector<std::string>& customer_ids) = 0;
  virtual absl::Status InsertFacts(const std::vector<Fact>& facts) = 0;
  // (feedback id, segment) pairs of one tenant.
  virtual absl::Status SetFactSegments(const std::string& tenant,
                                       const std::vector<std::pair<std::string, std::string>>& segments) = 0;
  virtual absl::Status AddCells(const std::vector<CellDelta>& deltas) = 0;
  // The ids among `event_ids` already stored.
  virtual absl::StatusOr<std::set<std::string>> ExistingEvents(const std::string& tenant,
                                                               const std::vector<std::string>& event_ids) = 0;
  virtual absl::Status InsertEvents(const std::vector<JourneyEventRow>& events) = 0;
  // Stored cases among `follow_ups` (names), by name; inserts or replaces.
  virtual absl::StatusOr<std::map<std::string, FollowUpRow>> FollowUpsOf(const std::string& tenant,
                                                                         const std::vector<std::string>& follow_ups) = 0;
  virtual absl::Status PutFollowUps(const std::vector<FollowUpRow>& rows) = 0;
  // Erasure: the stored facts among `feedback_ids`, and their removal.
  virtual absl::StatusOr<std::vector<Fact>> FactsById(const std::string& tenant,
                                                      const std::vector<std::string>& feedback_ids) = 0;
  virtual absl::Status DeleteFacts(const std::string& tenant, const std::vector<std::string>& feedback_ids) = 0;
  virtual absl::Status DeleteFollowUps(const std::string& tenant, const std::vector<std::string>& follow_ups) = 0;
  // Removes identities (customer ids or kAnonymousPrefix keys) and the
  // journey events recorded for them.
  virtual absl::Status DeleteIdentities(const std::string& tenant, const std::vector<std::string>& keys) = 0;
  // Reserves `count` health versions and returns the first one (versions
  // are unique across the service).
  virtual absl::StatusOr<int64_t> ReserveHealthVersions(int64_t count) = 0;
  // Sets the health version of identities, adding unknown ones.
  virtual absl::Status SetHealthVersions(const std::string& tenant,
                                         const std::vector<std::pair<std::string, int64_t>>& versions) = 0;
};

class MetricsRepository {
 public:
  virtual ~MetricsRepository() = default;
  virtual absl::Status Ping() = 0;

  // After a batch that erased records: see shared::db::ScrubDeleted.
  virtual absl::Status ScrubDeleted() = 0;

  // The cursor of a feed ("feedback", "journey"); 0 before the first batch.
  virtual absl::StatusOr<int64_t> Cursor(const std::string& feed) = 0;
  // Runs fn in one write transaction that also moves the feed's cursor from
  // `expected` to `next`; ABORTED (nothing written) when the stored cursor
  // is not `expected`.
  virtual absl::Status Apply(const std::string& feed, int64_t expected, int64_t next,
                             const std::function<absl::Status(RollupTx&)>& fn) = 0;
  // Every stored cell, to rebuild the index.
  virtual absl::Status ForEachCell(const std::function<void(CellDelta&&)>& fn) = 0;
  // Every stored journey event, identity and scored feedback (to rebuild
  // the journey index at start), in pages of bounded memory.
  // `tenant` limits them to one tenant (to rebuild it after an erasure).
  virtual absl::Status ForEachEvent(const std::optional<std::string>& tenant,
                                    const std::function<void(JourneyEventRow&&)>& fn) = 0;
  virtual absl::Status ForEachCustomer(const std::optional<std::string>& tenant,
                                       const std::function<void(const std::string& tenant, CustomerNode&&)>& fn) = 0;
  virtual absl::Status ForEachFact(const std::optional<std::string>& tenant, const std::function<void(Fact&&)>& fn) = 0;
  virtual absl::Status ForEachFollowUp(const std::optional<std::string>& tenant,
                                       const std::function<void(FollowUpRow&&)>& fn) = 0;
  // The same aggregate as the rollups, straight from the facts: the SQL
  // baseline of the benchmark and a cross-check of the tests.
  virtual absl::StatusOr<Counts> ScanFacts(const std::string& tenant, Metric metric, int64_t from_hour,
                                           int64_t to_hour) = 0;

  // Alert rules. Creating returns the stored rule and whether it is new; the
  // same request_id with another payload hash is ALREADY_EXISTS.
  virtual absl::StatusOr<std::pair<v1::AlertRule, bool>> CreateRule(const std::string& tenant,
                                                                     const std::string& request_id,
                                                                     const std::string& payload_hash,
                                                                     const v1::AlertRule& rule) = 0;
  // Rules after `after_rule_id` in id order; every tenant when tenant is empty.
  virtual absl::StatusOr<std::vector<std::pair<std::string, v1::AlertRule>>> ListRules(
      const std::optional<std::string>& tenant, const std::string& after_rule_id, int limit) = 0;
  // False when there was no such rule.
  virtual absl::StatusOr<bool> DeleteRule(const std::string& tenant, const std::string& rule_id) = 0;
  virtual absl::Status SetInBreach(const std::string& tenant, const std::string& rule_id, bool in_breach) = 0;
  // Stores an alert with the next sequence and marks its rule in breach, in
  // one transaction; returns the alert with sequence and name.
  virtual absl::StatusOr<v1::Alert> InsertAlert(const std::string& tenant, const std::string& rule_id,
                                                v1::Alert alert) = 0;
  // Alerts with sequence > after, ascending (every tenant when empty).
  virtual absl::StatusOr<std::vector<v1::Alert>> AlertsAfter(const std::optional<std::string>& tenant,
                                                             int64_t after, int limit) = 0;
  // A tenant's alerts with sequence < before (0: no bound), newest first,
  // optionally of one rule.
  virtual absl::StatusOr<std::vector<v1::Alert>> AlertsBefore(const std::string& tenant, int64_t before,
                                                              const std::string& rule_id, int limit) = 0;
};

}  // namespace cx::metrics

#endif  // CX_METRICS_METRICS_REPOSITORY_H_
