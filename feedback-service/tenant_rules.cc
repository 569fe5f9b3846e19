#include "feedback-service/tenant_rules.h"

#include <utility>

#include "feedback-service/follow_ups.h"
#include "feedback-service/text_analytics.h"
#include "shared/proto_util.h"

namespace cx::feedback {
namespace {

// Parses stored rules, or gives the defaults when none were stored.
template <class Rules>
absl::StatusOr<Rules> FromStored(const std::optional<StoredRules>& stored, Rules defaults) {
  if (!stored) return defaults;
  auto rules = shared::ParseStored<Rules>(stored->body);
  if (!rules.ok()) return rules.status();
  rules->set_defaults(false);
  *rules->mutable_update_time() = shared::ToProtoTime(absl::FromUnixMicros(stored->updated_us));
  return rules;
}

}  // namespace

TenantRules::TenantRules(std::shared_ptr<FeedbackRepository> repository, std::function<absl::Time()> clock,
                         absl::Duration refresh)
    : repository_(std::move(repository)), clock_(std::move(clock)), refresh_(refresh) {}

absl::StatusOr<std::shared_ptr<const RuleSet>> TenantRules::For(const std::string& tenant) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(tenant);
    if (it != cache_.end() && clock_() - it->second.loaded < refresh_) return it->second.rules;
  }
  return Load(tenant);
}

absl::StatusOr<std::shared_ptr<const RuleSet>> TenantRules::Load(const std::string& tenant) {
  const absl::Time now = clock_();
  auto topics = repository_->GetRules(tenant, RulesKind::kTopics);
  if (!topics.ok()) return topics.status();
  auto follow_ups = repository_->GetRules(tenant, RulesKind::kFollowUps);
  if (!follow_ups.ok()) return follow_ups.status();
  auto t = FromStored(*topics, DefaultTopicRules());
  if (!t.ok()) return t.status();
  auto f = FromStored(*follow_ups, DefaultFollowUpRules());
  if (!f.ok()) return f.status();
  auto set = std::make_shared<RuleSet>(*std::move(t), *std::move(f));
  std::lock_guard<std::mutex> lock(mu_);
  cache_[tenant] = {set, now};
  return std::shared_ptr<const RuleSet>(set);
}

absl::StatusOr<std::shared_ptr<const RuleSet>> TenantRules::Store(const std::string& tenant, RulesKind kind,
                                                                  const google::protobuf::Message& rules) {
  const StoredRules stored{rules.SerializeAsString(), absl::ToUnixMicros(clock_())};
  if (auto s = repository_->PutRules(tenant, kind, stored); !s.ok()) return s;
  return Load(tenant);
}

absl::StatusOr<v1::TopicRules> TenantRules::SetTopics(const std::string& tenant, const v1::TopicRules& rules) {
  if (absl::Status s = ValidateTopicRules(rules); !s.ok()) return shared::PrefixFields(s, "rules.");
  v1::TopicRules stored;  // output-only fields are not stored
  *stored.mutable_rules() = rules.rules();
  auto set = Store(tenant, RulesKind::kTopics, stored);
  if (!set.ok()) return set.status();
  return (*set)->topics;
}

absl::StatusOr<v1::FollowUpRules> TenantRules::SetFollowUps(const std::string& tenant, const v1::FollowUpRules& rules) {
  if (absl::Status s = ValidateFollowUpRules(rules); !s.ok()) return shared::PrefixFields(s, "rules.");
  v1::FollowUpRules stored;
  *stored.mutable_rules() = rules.rules();
  auto set = Store(tenant, RulesKind::kFollowUps, stored);
  if (!set.ok()) return set.status();
  return (*set)->follow_ups;
}

}  // namespace cx::feedback
