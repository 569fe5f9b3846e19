// Per-tenant topic and follow-up rules: stored through the repository,
// served from a cache that every replica refreshes after `refresh`, and
// the defaults for a tenant that never set its own.
#ifndef CX_FEEDBACK_TENANT_RULES_H_
#define CX_FEEDBACK_TENANT_RULES_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cx/feedback/v1/feedback_service.pb.h"
#include "feedback-service/feedback_repository.h"
#include "feedback-service/text_analytics.h"

namespace cx::feedback {

struct RuleSet {
  explicit RuleSet(v1::TopicRules t, v1::FollowUpRules f)
      : topics(std::move(t)), follow_ups(std::move(f)), topic_matcher(topics) {}
  v1::TopicRules topics;
  v1::FollowUpRules follow_ups;
  TopicMatcher topic_matcher;  // `topics`, prepared once for every comment
};

class TenantRules {
 public:
  TenantRules(std::shared_ptr<FeedbackRepository> repository, std::function<absl::Time()> clock,
              absl::Duration refresh = absl::Seconds(10));

  // The rules in force for `tenant` (cached).
  absl::StatusOr<std::shared_ptr<const RuleSet>> For(const std::string& tenant);

  // Validate, store, and take effect at once on this replica.
  absl::StatusOr<v1::TopicRules> SetTopics(const std::string& tenant, const v1::TopicRules& rules);
  absl::StatusOr<v1::FollowUpRules> SetFollowUps(const std::string& tenant, const v1::FollowUpRules& rules);

 private:
  struct Entry {
    std::shared_ptr<const RuleSet> rules;
    absl::Time loaded;
  };
  absl::StatusOr<std::shared_ptr<const RuleSet>> Load(const std::string& tenant);
  absl::StatusOr<std::shared_ptr<const RuleSet>> Store(const std::string& tenant, RulesKind kind,
                                                       const google::protobuf::Message& rules);

  std::shared_ptr<FeedbackRepository> repository_;
  std::function<absl::Time()> clock_;
  absl::Duration refresh_;
  std::mutex mu_;
  absl::flat_hash_map<std::string, Entry> cache_;
};

}  // namespace cx::feedback

#endif  // CX_FEEDBACK_TENANT_RULES_H_
