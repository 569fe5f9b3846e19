// The follow-up and rules RPCs of feedback-service: topic and follow-up
// rules per tenant, and the cases follow-up rules open (get, list, update
// along the state machine, statistics). No gRPC or SQL here.
#ifndef CX_FEEDBACK_FOLLOW_UP_MANAGER_H_
#define CX_FEEDBACK_FOLLOW_UP_MANAGER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cx/feedback/v1/feedback_service.pb.h"
#include "feedback-service/feedback_repository.h"
#include "feedback-service/tenant_rules.h"
#include "shared/auth.h"
#include "shared/page_token.h"

namespace cx::feedback {

struct FollowUpManagerOptions {
  std::string page_token_key;
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Told after every committed update (wakes change-feed streams).
  std::function<void()> on_commit;
};

class FollowUpManager {
 public:
  FollowUpManager(std::shared_ptr<FeedbackRepository> repository, std::shared_ptr<TenantRules> rules,
                  FollowUpManagerOptions options);

  absl::StatusOr<v1::SetTopicRulesResponse> SetTopicRules(const shared::Principal& principal,
                                                          const v1::SetTopicRulesRequest& request);
  absl::StatusOr<v1::GetTopicRulesResponse> GetTopicRules(const shared::Principal& principal,
                                                          const v1::GetTopicRulesRequest& request);
  absl::StatusOr<v1::SetFollowUpRulesResponse> SetFollowUpRules(const shared::Principal& principal,
                                                                const v1::SetFollowUpRulesRequest& request);
  absl::StatusOr<v1::GetFollowUpRulesResponse> GetFollowUpRules(const shared::Principal& principal,
                                                                const v1::GetFollowUpRulesRequest& request);
  absl::StatusOr<v1::GetFollowUpResponse> Get(const shared::Principal& principal, const v1::GetFollowUpRequest& request);
  absl::StatusOr<v1::ListFollowUpsResponse> List(const shared::Principal& principal,
                                                 const v1::ListFollowUpsRequest& request);
  absl::StatusOr<v1::UpdateFollowUpResponse> Update(const shared::Principal& principal,
                                                    const v1::UpdateFollowUpRequest& request);
  absl::StatusOr<v1::GetFollowUpStatsResponse> Stats(const shared::Principal& principal,
                                                     const v1::GetFollowUpStatsRequest& request);

 private:
  std::shared_ptr<FeedbackRepository> repository_;
  std::shared_ptr<TenantRules> rules_;
  FollowUpManagerOptions options_;
  shared::PageTokenCodec page_tokens_;
};

}  // namespace cx::feedback

#endif  // CX_FEEDBACK_FOLLOW_UP_MANAGER_H_
