// Turns batches of the two change feeds into rollup changes, exactly once:
// each batch runs in one repository transaction that also moves the feed's
// cursor, and the committed cell deltas are then applied to the in-memory
// index. A retraction (a customer's segment changes, an identity is merged or
// unmerged) moves each affected feedback's counters from its old cells to its
// new ones, so the rollups always equal a recomputation from the raw records
// with every customer's current segment (the segment of the customer an
// identity is merged into). Journey events, identities, feedback facts and
// health versions go the same way into the journey index.
#ifndef CX_METRICS_FEED_APPLIER_H_
#define CX_METRICS_FEED_APPLIER_H_

#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "cx/feedback/v1/feedback_service.pb.h"
#include "cx/journey/v1/journey_service.pb.h"
#include "metrics-service/journey_index.h"
#include "metrics-service/metrics_repository.h"
#include "metrics-service/rollup_index.h"

namespace cx::metrics {

inline constexpr char kFeedbackFeed[] = "feedback";
inline constexpr char kJourneyFeed[] = "journey";

// The fact a feedback adds, without its segment; nullopt when it has no
// NPS / CSAT / CES score.
std::optional<Fact> FactOf(const std::string& tenant, const feedback::v1::Feedback& f);
// The cells a fact adds (sign +1) or removes (-1): its key with tag "" and
// one per distinct tag.
void AppendCells(const Fact& fact, int sign, std::vector<CellDelta>* out);
// The event as the journey metrics count it.
JourneyEventRow EventRowOf(const std::string& tenant, int64_t sequence, const journey::v1::Event& e);

// What one committed batch changes in memory.
struct BatchEffects {
  std::vector<CellDelta> cells;
  std::vector<std::pair<std::string, CustomerNode>> nodes;  // in order
  std::vector<JourneyEventRow> events;
  std::vector<Fact> facts;
  // (tenant, customer, change of its open follow-up cases).
  std::vector<std::tuple<std::string, std::string, int>> open_follow_ups;
  std::map<std::string, std::vector<std::pair<std::string, int64_t>>> versions;  // by tenant
  // Identities whose health inputs changed, by tenant.
  std::map<std::string, std::set<std::string>> touched;
  // Tenants whose journey index is rebuilt from the repository after the
  // commit (an erasure removed some of their identities or facts).
  std::set<std::string> reload;
};

class FeedApplier {
 public:
  // `on_applied(tenants)` runs after each committed batch (alert checks).
  FeedApplier(std::shared_ptr<MetricsRepository> repository, std::shared_ptr<RollupIndex> index,
              std::shared_ptr<JourneyIndex> journeys,
              std::function<void(const std::vector<std::string>&)> on_applied = nullptr)
      : repository_(std::move(repository)), index_(std::move(index)), journeys_(std::move(journeys)),
        on_applied_(std::move(on_applied)) {}

  // Fills the indexes from the stored cells, identities, events and facts
  // (at start).
  absl::Status Load();

  absl::StatusOr<int64_t> Cursor(const std::string& feed) { return repository_->Cursor(feed); }

  // Applies changes that follow `after` (the stored cursor) in one
  // transaction; the cursor becomes the last change's sequence.
  absl::Status ApplyFeedback(int64_t after, const std::vector<feedback::v1::FeedbackChange>& changes);
  absl::Status ApplyJourney(int64_t after, const std::vector<journey::v1::JourneyChange>& changes);

 private:
  // Stores the latest state of each case and counts the open ones per customer.
  absl::Status ApplyFollowUps(RollupTx& tx, const std::string& tenant,
                              const std::vector<const feedback::v1::FollowUp*>& list, BatchEffects* effects);
  // Fills `into` with the stored identities, events, facts and cases (of
  // one tenant, or of all).
  absl::Status LoadJourneys(JourneyIndex& into, const std::optional<std::string>& tenant);
  // Retracts what an erasure tombstone of either feed names.
  absl::Status EraseFeedback(RollupTx& tx, const std::string& tenant, const feedback::v1::CustomerErased& erased,
                             BatchEffects* effects);
  absl::Status EraseIdentities(RollupTx& tx, const std::string& tenant, const common::v1::Erasure& erasure,
                               BatchEffects* effects);
  absl::Status Commit(const std::string& feed, int64_t after, int64_t next,
                      const std::function<absl::Status(RollupTx&, BatchEffects*)>& body,
                      std::vector<std::string> tenants);

  std::shared_ptr<MetricsRepository> repository_;
  std::shared_ptr<RollupIndex> index_;
  std::shared_ptr<JourneyIndex> journeys_;
  std::function<void(const std::vector<std::string>&)> on_applied_;
  // One writer at a time: both feeds update the same cells and customers.
  std::mutex write_mu_;
};

}  // namespace cx::metrics

#endif  // CX_METRICS_FEED_APPLIER_H_
