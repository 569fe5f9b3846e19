// Storage interface of feedback-service. Implementations: SQLite (embedded
// default) and MySQL/MariaDB, both in sql_feedback_repository.cc, checked by
// one conformance suite (feedback_repository_conformance_test.cc).
#ifndef CX_FEEDBACK_FEEDBACK_REPOSITORY_H_
#define CX_FEEDBACK_FEEDBACK_REPOSITORY_H_

#include <cstdint>
#include <functional>
#include <utility>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "cx/feedback/v1/feedback_service.pb.h"

namespace cx::feedback {

using v1::Feedback;
using v1::FeedbackChange;

// A validated feedback to store. `feedback` has every input and derived
// field set; the repository assigns sequence, id and name.
struct NewFeedback {
  std::string tenant;
  std::string request_id;
  std::string payload_hash;  // of the request as submitted
  Feedback feedback;
  // The case a follow-up rule opens with this feedback: stored in the same
  // transaction, only when the feedback is new (never for a duplicate).
  std::optional<v1::FollowUp> follow_up;
};

// kErased: the customer was erased; nothing is stored.
enum class WriteOutcome { kCreated, kDuplicate, kConflict, kErased };

struct WriteResult {
  WriteOutcome outcome;
  Feedback feedback;  // as stored (for kConflict: the earlier one)
};

struct FeedbackFilter {
  std::string tenant;
  std::string customer_id;
  int kind = 0;
  int channel = 0;
  int source = 0;
  std::string touchpoint_id;
  int journey_stage = 0;
  std::string tag;
  std::optional<int64_t> occurred_from_us;  // inclusive
  std::optional<int64_t> occurred_to_us;    // exclusive
  std::optional<int> min_score;
  std::optional<int> max_score;
};

// Rows come newest first by (occurred_at, sequence); `after` is the last row
// of the previous page.
struct ListPosition {
  int64_t occurred_at_us;
  int64_t sequence;
};

struct FeedbackQuery {
  FeedbackFilter filter;
  std::optional<ListPosition> after;
  int limit = 50;
};

struct FollowUpFilter {
  std::string tenant;
  int status = 0;
  std::string customer_id;
  std::string assignee;
  std::optional<int64_t> created_from_us;  // inclusive
  std::optional<int64_t> created_to_us;    // exclusive
};

// Cases come newest first by (create_time, id).
struct FollowUpQuery {
  FollowUpFilter filter;
  std::optional<std::pair<int64_t, int64_t>> after;  // (created_us, id) of the previous page's last row
  int limit = 50;
};

struct FollowUpCounts {
  int64_t open = 0, in_progress = 0, resolved = 0;  // of cases created in the range
  struct Closed {
    int outcome;
    int64_t time_to_close_us;
  };
  std::vector<Closed> closed;  // cases resolved in the range
};

// An erasure to carry out: `erasure` has digest, erased_by and erase_time;
// the repository counts what it deletes.
struct EraseInput {
  std::string tenant;
  std::string customer_id;
  cx::common::v1::Erasure erasure;
};

// Per-tenant settings stored as serialized messages.
enum class RulesKind { kTopics, kFollowUps };

struct StoredRules {
  std::string body;
  int64_t updated_us = 0;
};

class FeedbackRepository {
 public:
  virtual ~FeedbackRepository() = default;

  // Stores a batch in one transaction: all or nothing. (tenant, request_id)
  // is unique: an existing key yields kDuplicate when its payload_hash is
  // equal, kConflict otherwise; a key repeated inside the batch behaves as if
  // the items came one after another. New rows get contiguous feed sequence
  // numbers in commit order; a new item's follow-up case takes the number
  // right after its feedback, as a change of its own, and the feedback's
  // `follow_up` names it. Results are in input order.
  virtual absl::StatusOr<std::vector<WriteResult>> Write(absl::Span<const NewFeedback> batch) = 0;

  virtual absl::StatusOr<std::optional<Feedback>> Get(const std::string& tenant, int64_t sequence) = 0;

  virtual absl::StatusOr<std::vector<Feedback>> List(const FeedbackQuery& query) = 0;

  // Changes with sequence > after in sequence order (stored feedback and
  // follow-up changes); every tenant when `tenant` is empty.
  virtual absl::StatusOr<std::vector<FeedbackChange>> ListChanges(
      const std::optional<std::string>& tenant, int64_t after, int limit) = 0;

  virtual absl::StatusOr<std::optional<v1::FollowUp>> GetFollowUp(const std::string& tenant, int64_t id) = 0;

  virtual absl::StatusOr<std::vector<v1::FollowUp>> ListFollowUps(const FollowUpQuery& query) = 0;

  // Reads the case, lets `update` change it, and stores the result with a
  // new change in the feed, all in one transaction that holds the feed
  // sequence. NOT_FOUND when the tenant has no such case; an error from
  // `update` stores nothing and is returned as is.
  virtual absl::StatusOr<v1::FollowUp> UpdateFollowUp(const std::string& tenant, int64_t id,
                                                      const std::function<absl::Status(v1::FollowUp*)>& update) = 0;

  virtual absl::StatusOr<FollowUpCounts> CountFollowUps(const std::string& tenant, std::optional<int64_t> from_us,
                                                        std::optional<int64_t> to_us) = 0;

  virtual absl::StatusOr<std::optional<StoredRules>> GetRules(const std::string& tenant, RulesKind kind) = 0;
  virtual absl::Status PutRules(const std::string& tenant, RulesKind kind, const StoredRules& rules) = 0;

  // Erases a customer in one transaction holding the feed sequence: deletes
  // their feedback and follow-up cases, replaces each of their feed records
  // with `redacted`, appends a customer_erased tombstone naming what was
  // deleted, and records the erasure (from then on Write answers kErased
  // for the customer). A customer erased before gets the stored record with
  // already_erased set, and nothing changes.
  virtual absl::StatusOr<cx::common::v1::Erasure> EraseCustomer(const EraseInput& input) = 0;

  // A customer's feedback with sequence > after, oldest first.
  virtual absl::StatusOr<std::vector<Feedback>> CustomerFeedback(const std::string& tenant,
                                                                 const std::string& customer_id, int64_t after,
                                                                 int limit) = 0;

  virtual absl::Status Ping() = 0;
};

}  // namespace cx::feedback

#endif  // CX_FEEDBACK_FEEDBACK_REPOSITORY_H_
