// Storage interface of journey-service. One implementation for SQLite (the
// embedded default) and MySQL/MariaDB in sql_journey_repository.cc, checked
// by one conformance suite (journey_repository_conformance_test.cc).
//
// Every write takes the feed-sequence row lock inside its transaction, so
// change sequence numbers are contiguous and in commit order and writes that
// touch identities (events, merges, unmerges) see each other's effects.
#ifndef CX_JOURNEY_JOURNEY_REPOSITORY_H_
#define CX_JOURNEY_JOURNEY_REPOSITORY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "cx/journey/v1/journey_service.pb.h"
#include "journey-service/journey_rules.h"

namespace cx::journey {

enum class IdentityKind : int { kCustomer = 1, kAnonymous = 2 };

struct IdentityKey {
  IdentityKind kind = IdentityKind::kCustomer;
  std::string id;
  bool operator==(const IdentityKey& o) const { return kind == o.kind && id == o.id; }
  bool operator<(const IdentityKey& o) const { return kind != o.kind ? kind < o.kind : id < o.id; }
  v1::Identity ToProto() const;
  static IdentityKey Of(const v1::Identity& identity);
};

// A validated event to store: input fields, received_at, event_time and
// clock_corrected set; the repository resolves stage and owner and assigns
// the sequence.
struct NewEvent {
  std::string tenant;
  std::string payload_hash;  // of the event as submitted
  v1::Event event;
};

// kErased: the event's identity was erased; nothing is stored.
enum class EventOutcome { kCreated, kDuplicate, kConflict, kUnknownCustomer, kErased };

struct EventWriteResult {
  EventOutcome outcome;
  v1::Event event;  // as stored (for kConflict: the earlier one; empty for kUnknownCustomer)
};

struct UpsertResult {
  v1::Customer customer;
  bool created = false;
  std::vector<std::string> stale_traits;
};

struct CustomerQuery {
  std::string tenant;
  int current_stage = 0;
  std::string segment;
  std::string crm_system;
  std::optional<int64_t> updated_since_us;
  bool include_merged = false;
  std::string after_customer_id;  // exclusive
  int limit = 50;
};

struct MergeInput {
  std::string tenant;
  IdentityKey source;
  std::string target_customer_id;
  std::string reason;
  std::string actor;
  int64_t now_us = 0;
};

struct UnmergeInput {
  std::string tenant;
  int64_t merge_id = 0;
  std::string reason;
  std::string actor;
  int64_t now_us = 0;
};

struct TimelinePosition {
  int64_t time_us;
  std::string event_id;
};

struct TimelineQuery {
  std::string tenant;
  IdentityKey owner;  // already resolved through merges
  std::optional<TimelinePosition> after;
  int limit = 100;
};

struct Timeline {
  std::vector<v1::Event> page;      // owner set to the current owner
  std::vector<EventPoint> points;   // the whole history, at most kMaxSummarizedEvents
  int64_t total_events = 0;
};

// An erasure to carry out: `erasure` has digest, erased_by and erase_time;
// the repository adds the related digests and counts what it deletes.
struct EraseInput {
  std::string tenant;
  std::string customer_id;
  cx::common::v1::Erasure erasure;
};

struct EraseResult {
  cx::common::v1::Erasure erasure;
  std::vector<std::string> merged_customer_ids;  // erased with the customer
};

// What is held about a customer and the identities merged into it.
struct CustomerExport {
  std::vector<v1::Customer> customers;  // the customer first
  std::vector<std::string> anonymous_ids;
  std::vector<v1::Event> events;  // sequence > after, in sequence order
  int64_t last_sequence = 0;      // the last event row read (0: none)
  bool more = false;              // more events may follow last_sequence
};

class JourneyRepository {
 public:
  virtual ~JourneyRepository() = default;

  // Stores events in one transaction. (tenant, event_id) is unique: an
  // existing id yields kDuplicate when its payload_hash is equal, kConflict
  // otherwise; an id repeated in the batch behaves as if the items came one
  // after another. An event whose customer_id names no customer of its tenant
  // yields kUnknownCustomer. Results are in input order.
  virtual absl::StatusOr<std::vector<EventWriteResult>> WriteEvents(absl::Span<const NewEvent> batch) = 0;

  // Creates or updates a customer by the rules of ApplyUpsert. The customer
  // is upsert.customer_id when set, else the holder of the first known CRM
  // reference, else a new one with DerivedCustomerId. FAILED_PRECONDITION
  // naming crm_references[i] when a reference belongs to another customer.
  virtual absl::StatusOr<UpsertResult> UpsertCustomer(const CustomerUpsert& upsert) = 0;

  // The record itself, with current_stage, last_activity_time, merged_into
  // and merges filled in.
  virtual absl::StatusOr<std::optional<v1::Customer>> GetCustomer(const std::string& tenant,
                                                                  const std::string& customer_id) = 0;
  // The holder of a reference (empty when none holds it).
  virtual absl::StatusOr<std::optional<std::string>> FindCrmHolder(const std::string& tenant,
                                                                   const cx::common::v1::CrmReference& ref) = 0;
  // Customers in customer_id order after `after_customer_id`.
  virtual absl::StatusOr<std::vector<v1::Customer>> ListCustomers(const CustomerQuery& query) = 0;

  // The identity whose events `identity`'s events count for (itself unless merged).
  virtual absl::StatusOr<IdentityKey> Resolve(const std::string& tenant, const IdentityKey& identity) = 0;

  // NOT_FOUND naming target_customer_id / source.customer_id when a customer
  // is missing; FAILED_PRECONDITION when the target is merged or the source
  // is merged into another customer. A source already merged into the same
  // target returns that merge.
  virtual absl::StatusOr<v1::Merge> Merge(const MergeInput& input) = 0;
  // NOT_FOUND naming merge_id when the tenant has no such merge. An undone
  // merge is returned as it is.
  virtual absl::StatusOr<v1::Merge> Unmerge(const UnmergeInput& input) = 0;

  virtual absl::StatusOr<StageOverrides> GetStageOverrides(const std::string& tenant) = 0;
  virtual absl::Status SetStageOverrides(const std::string& tenant, const StageOverrides& overrides) = 0;

  virtual absl::StatusOr<Timeline> GetTimeline(const TimelineQuery& query) = 0;
  // True when the identity has a customer record or any event.
  virtual absl::StatusOr<bool> IdentityExists(const std::string& tenant, const IdentityKey& identity) = 0;

  // Changes with sequence > after in sequence order; every tenant when
  // `tenant` is empty.
  virtual absl::StatusOr<std::vector<v1::JourneyChange>> ListChanges(const std::optional<std::string>& tenant,
                                                                     int64_t after, int limit) = 0;

  // Erases a customer and every identity merged into it (directly or not),
  // in one transaction holding the feed sequence: customer records with
  // their CRM references, events, merge records naming any of them and
  // their stage states are deleted, each of their feed records becomes
  // `redacted`, a customer_erased tombstone is appended, and the erasure is
  // recorded under the digests of the customer, the merged identities and
  // the CRM references (from then on writes naming any of them are refused).
  // A customer erased before gets the stored record with already_erased set.
  virtual absl::StatusOr<EraseResult> EraseCustomer(const EraseInput& input) = 0;

  // NOT_FOUND naming customer_id when the tenant holds nothing of the id.
  virtual absl::StatusOr<CustomerExport> ExportCustomer(const std::string& tenant, const std::string& customer_id,
                                                        int64_t after_sequence, int limit) = 0;

  virtual absl::Status Ping() = 0;
};

}  // namespace cx::journey

#endif  // CX_JOURNEY_JOURNEY_REPOSITORY_H_
