// Closed-loop follow-ups: which feedback opens a case (tenant rules), and
// how a case moves (OPEN -> IN_PROGRESS -> RESOLVED with an outcome). Plain
// functions; FollowUpManager stores what they decide.
#ifndef CX_FEEDBACK_FOLLOW_UPS_H_
#define CX_FEEDBACK_FOLLOW_UPS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cx/feedback/v1/feedback_service.pb.h"

namespace cx::feedback {

namespace limits {
constexpr int kMaxFollowUpRules = 50;
constexpr size_t kMaxNoteChars = 2000;
constexpr int kMaxNotes = 200;
constexpr size_t kMaxAssigneeLength = 128;
}  // namespace limits

// nps_detractor (NPS <= 6), csat_low (CSAT <= 2), ces_hard (CES <= 3),
// star_low (star rating <= 2), all NORMAL; negative_comment (sentiment
// <= -0.5), HIGH.
v1::FollowUpRules DefaultFollowUpRules();

// Field paths relative to FollowUpRules ("rules[1].max_score").
absl::Status ValidateFollowUpRules(const v1::FollowUpRules& rules);

// The case `feedback` opens under `rules` (its derived fields, sentiment
// and topics set), or nothing when no rule matches. Name, id and feedback
// are left for the repository. Priority: the highest of the matching rules.
std::optional<v1::FollowUp> FollowUpFor(const v1::Feedback& feedback, const v1::FollowUpRules& rules, absl::Time now);

// Checks an update request on its own (before the case is read).
absl::Status ValidateFollowUpUpdate(const v1::UpdateFollowUpRequest& request);

// Applies a validated update to the current case: FAILED_PRECONDITION for
// a move the state machine does not allow, ABORTED for a stale version.
// Bumps version and update_time; sets resolve_time and time_to_close on
// RESOLVED.
absl::Status ApplyFollowUpUpdate(const v1::UpdateFollowUpRequest& request, const std::string& actor, absl::Time now,
                                 v1::FollowUp* follow_up);

}  // namespace cx::feedback

#endif  // CX_FEEDBACK_FOLLOW_UPS_H_
