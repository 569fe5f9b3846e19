#include "feedback-service/follow_up_manager.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "feedback-service/follow_ups.h"
#include "google/protobuf/util/time_util.h"
#include "shared/proto_util.h"
#include "shared/status.h"
#include "shared/text.h"

namespace cx::feedback {
namespace {

using google::protobuf::util::TimeUtil;
using shared::FieldViolation;
using shared::InvalidField;
using shared::Principal;

constexpr int kMaxPageSize = 1000;
constexpr int kDefaultPageSize = 50;

// The id of "followups/{id}", or INVALID_ARGUMENT naming `name`.
absl::StatusOr<int64_t> ParseName(const std::string& name) {
  constexpr absl::string_view kPrefix = "followups/";
  int64_t id = 0;
  if (!absl::StartsWith(name, kPrefix) || !absl::SimpleAtoi(name.substr(kPrefix.size()), &id) || id <= 0) {
    return InvalidField("name", "must look like followups/{id}");
  }
  return id;
}

// Nearest-rank percentile of sorted values.
int64_t Percentile(const std::vector<int64_t>& sorted, double p) {
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

}  // namespace

FollowUpManager::FollowUpManager(std::shared_ptr<FeedbackRepository> repository, std::shared_ptr<TenantRules> rules,
                                 FollowUpManagerOptions options)
    : repository_(std::move(repository)),
      rules_(std::move(rules)),
      options_(std::move(options)),
      page_tokens_(options_.page_token_key) {}

absl::StatusOr<v1::SetTopicRulesResponse> FollowUpManager::SetTopicRules(const Principal& principal,
                                                                         const v1::SetTopicRulesRequest& request) {
  auto rules = rules_->SetTopics(principal.tenant, request.rules());
  if (!rules.ok()) return rules.status();
  v1::SetTopicRulesResponse response;
  *response.mutable_rules() = *std::move(rules);
  return response;
}

absl::StatusOr<v1::GetTopicRulesResponse> FollowUpManager::GetTopicRules(const Principal& principal,
                                                                         const v1::GetTopicRulesRequest&) {
  auto set = rules_->For(principal.tenant);
  if (!set.ok()) return set.status();
  v1::GetTopicRulesResponse response;
  *response.mutable_rules() = (*set)->topics;
  return response;
}

absl::StatusOr<v1::SetFollowUpRulesResponse> FollowUpManager::SetFollowUpRules(
    const Principal& principal, const v1::SetFollowUpRulesRequest& request) {
  auto rules = rules_->SetFollowUps(principal.tenant, request.rules());
  if (!rules.ok()) return rules.status();
  v1::SetFollowUpRulesResponse response;
  *response.mutable_rules() = *std::move(rules);
  return response;
}

absl::StatusOr<v1::GetFollowUpRulesResponse> FollowUpManager::GetFollowUpRules(const Principal& principal,
                                                                               const v1::GetFollowUpRulesRequest&) {
  auto set = rules_->For(principal.tenant);
  if (!set.ok()) return set.status();
  v1::GetFollowUpRulesResponse response;
  *response.mutable_rules() = (*set)->follow_ups;
  return response;
}

absl::StatusOr<v1::GetFollowUpResponse> FollowUpManager::Get(const Principal& principal,
                                                             const v1::GetFollowUpRequest& request) {
  auto id = ParseName(request.name());
  if (!id.ok()) return id.status();
  auto found = repository_->GetFollowUp(principal.tenant, *id);
  if (!found.ok()) return found.status();
  // Another tenant's case is reported exactly like a missing one.
  if (!found->has_value()) return absl::NotFoundError(absl::StrCat(request.name(), " not found"));
  v1::GetFollowUpResponse response;
  *response.mutable_follow_up() = std::move(**found);
  return response;
}

absl::StatusOr<v1::ListFollowUpsResponse> FollowUpManager::List(const Principal& principal,
                                                                const v1::ListFollowUpsRequest& request) {
  std::vector<FieldViolation> v;
  if (request.page_size() < 0 || request.page_size() > kMaxPageSize) {
    v.push_back({"page_size", absl::StrCat("must be between 0 and ", kMaxPageSize)});
  }
  if (!v1::FollowUpStatus_IsValid(request.status())) {
    v.push_back({"status", absl::StrCat("has unknown value ", request.status())});
  }
  if (!request.customer_id().empty() && !shared::IsIdentifier(request.customer_id(), 128)) {
    v.push_back({"customer_id", shared::kIdentifierRule});
  }
  if (!request.assignee().empty() && !shared::IsIdentifier(request.assignee(), limits::kMaxAssigneeLength)) {
    v.push_back({"assignee", shared::kIdentifierRule});
  }
  const shared::OptionalRange created = shared::CheckOptionalRange(request.created(), "created", &v);
  if (!v.empty()) return shared::WithViolations(absl::StatusCode::kInvalidArgument, v);

  const std::string fingerprint = shared::FilterFingerprint(request);
  FollowUpQuery query;
  const int page_size = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  query.limit = page_size + 1;  // one more tells whether another page exists
  if (!request.page_token().empty()) {
    auto position = page_tokens_.Decode(request.page_token(), principal.tenant, fingerprint);
    if (!position.ok()) return position.status();
    if (position->size() != 2) return InvalidField("page_token", "is not a token this server issued");
    query.after = std::make_pair((*position)[0], (*position)[1]);
  }
  query.filter.tenant = principal.tenant;
  query.filter.status = request.status();
  query.filter.customer_id = request.customer_id();
  query.filter.assignee = request.assignee();
  query.filter.created_from_us = created.from_us;
  query.filter.created_to_us = created.to_us;
  auto rows = repository_->ListFollowUps(query);
  if (!rows.ok()) return rows.status();
  const bool more = static_cast<int>(rows->size()) > page_size;
  if (more) rows->resize(page_size);
  v1::ListFollowUpsResponse response;
  for (auto& f : *rows) *response.add_follow_ups() = std::move(f);
  if (more) {
    const v1::FollowUp& last = response.follow_ups(response.follow_ups_size() - 1);
    int64_t id = 0;
    (void)absl::SimpleAtoi(last.id(), &id);
    response.set_next_page_token(page_tokens_.Encode(
        principal.tenant, fingerprint, {TimeUtil::TimestampToMicroseconds(last.create_time()), id}));
  }
  return response;
}

absl::StatusOr<v1::UpdateFollowUpResponse> FollowUpManager::Update(const Principal& principal,
                                                                   const v1::UpdateFollowUpRequest& request) {
  auto id = ParseName(request.name());
  if (!id.ok()) return id.status();
  if (absl::Status s = ValidateFollowUpUpdate(request); !s.ok()) return s;
  const absl::Time now = options_.clock();
  auto updated = repository_->UpdateFollowUp(principal.tenant, *id, [&](v1::FollowUp* f) {
    return ApplyFollowUpUpdate(request, principal.actor, now, f);
  });
  if (!updated.ok()) return updated.status();
  if (options_.on_commit) options_.on_commit();
  v1::UpdateFollowUpResponse response;
  *response.mutable_follow_up() = *std::move(updated);
  return response;
}

absl::StatusOr<v1::GetFollowUpStatsResponse> FollowUpManager::Stats(const Principal& principal,
                                                                    const v1::GetFollowUpStatsRequest& request) {
  std::vector<FieldViolation> v;
  const shared::OptionalRange range = shared::CheckOptionalRange(request.range(), "range", &v);
  if (!v.empty()) return shared::WithViolations(absl::StatusCode::kInvalidArgument, v);
  auto counts = repository_->CountFollowUps(principal.tenant, range.from_us, range.to_us);
  if (!counts.ok()) return counts.status();
  v1::GetFollowUpStatsResponse response;
  response.set_open_count(counts->open);
  response.set_in_progress_count(counts->in_progress);
  response.set_resolved_count(counts->resolved);
  std::map<int, int64_t> by_outcome;
  std::vector<int64_t> durations;
  durations.reserve(counts->closed.size());
  for (const auto& c : counts->closed) {
    ++by_outcome[c.outcome];
    durations.push_back(c.time_to_close_us);
  }
  for (const auto& [outcome, n] : by_outcome) {
    v1::OutcomeCount* oc = response.add_resolved_by_outcome();
    oc->set_outcome(static_cast<v1::FollowUpOutcome>(outcome));
    oc->set_count(n);
  }
  if (!durations.empty()) {
    std::sort(durations.begin(), durations.end());
    long double total = 0;
    for (int64_t d : durations) total += d;
    *response.mutable_time_to_close_median() = TimeUtil::MicrosecondsToDuration(Percentile(durations, 0.5));
    *response.mutable_time_to_close_p90() = TimeUtil::MicrosecondsToDuration(Percentile(durations, 0.9));
    *response.mutable_time_to_close_mean() =
        TimeUtil::MicrosecondsToDuration(static_cast<int64_t>(std::llround(total / durations.size())));
  }
  return response;
}

}  // namespace cx::feedback
