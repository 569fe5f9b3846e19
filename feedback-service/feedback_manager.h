// The domain rules of feedback-service: validation of every field against
// its kind's scale and caps, idempotency by request_id, derived fields, the
// group-commit path to the repository, paging and the change feed. No gRPC
// or SQL here; unit tests drive it with a fake repository.
#ifndef CX_FEEDBACK_FEEDBACK_MANAGER_H_
#define CX_FEEDBACK_FEEDBACK_MANAGER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cx/feedback/v1/feedback_service.pb.h"
#include "feedback-service/feedback_repository.h"
#include "feedback-service/tenant_rules.h"
#include "shared/auth.h"
#include "shared/group_commit.h"
#include "shared/import_session.h"
#include "shared/page_token.h"

namespace cx::feedback {

namespace limits {
constexpr int kMaxBatchItems = 500;
constexpr int kMaxPageSize = 1000;
constexpr int kDefaultPageSize = 50;
constexpr int kDefaultExportPageSize = 500;
constexpr int kMaxExportFollowUps = 1000;
constexpr size_t kMaxCommentChars = 4000;
constexpr size_t kMaxIdLength = 128;
constexpr size_t kMaxTags = 20;
constexpr size_t kMaxTagLength = 64;
constexpr size_t kMaxLocaleLength = 35;
constexpr absl::Duration kMaxFutureSkew = absl::Minutes(5);
}  // namespace limits

// Checks one feedback as submitted; field paths are relative to it
// ("score", "comment", ...). Collects every violation.
absl::Status ValidateFeedback(const v1::Feedback& feedback, absl::Time now);

// Score range of a kind; false for COMMENT and unknown kinds.
bool ScoreRange(v1::FeedbackKind kind, int* min, int* max);

struct FeedbackManagerOptions {
  shared::GroupCommitOptions commit;
  std::string page_token_key;
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Told after every successful commit (wakes change-feed streams).
  std::function<void()> on_commit;
  // Told the size of every group-commit batch and the queue depth.
  std::function<void(const shared::CommitObservation&)> observe_batch;
};

class FeedbackManager {
 public:
  // `rules` gives each tenant's topic and follow-up rules.
  FeedbackManager(std::shared_ptr<FeedbackRepository> repository, std::shared_ptr<TenantRules> rules,
                  FeedbackManagerOptions options);
  ~FeedbackManager();

  template <class T>
  using Done = std::function<void(absl::StatusOr<T>)>;

  void Submit(const shared::Principal& principal, const v1::SubmitFeedbackRequest& request,
              Done<v1::SubmitFeedbackResponse> done);
  void BatchSubmit(const shared::Principal& principal, const v1::BatchSubmitFeedbackRequest& request,
                   Done<v1::BatchSubmitFeedbackResponse> done);
  std::unique_ptr<shared::ImportSession<v1::ImportFeedbackRequest, v1::ImportFeedbackResponse>>
  StartImport(const shared::Principal& principal);

  absl::StatusOr<v1::GetFeedbackResponse> Get(const shared::Principal& principal,
                                              const v1::GetFeedbackRequest& request);
  absl::StatusOr<v1::ListFeedbackResponse> List(const shared::Principal& principal,
                                                const v1::ListFeedbackRequest& request);
  absl::StatusOr<v1::ListChangesResponse> ListChanges(const shared::Principal& principal,
                                                      const v1::ListChangesRequest& request);
  // Checks a watch request; returns the tenant scope (empty: every tenant).
  absl::StatusOr<std::optional<std::string>> WatchScope(const shared::Principal& principal,
                                                        const v1::WatchChangesRequest& request);
  // The change source of WatchChanges streams.
  absl::StatusOr<std::vector<v1::FeedbackChange>> FetchChanges(const std::optional<std::string>& tenant,
                                                               int64_t after, int limit);

  absl::StatusOr<v1::EraseCustomerResponse> EraseCustomer(const shared::Principal& principal,
                                                          const v1::EraseCustomerRequest& request);
  absl::StatusOr<v1::ExportCustomerDataResponse> ExportCustomerData(const shared::Principal& principal,
                                                                    const v1::ExportCustomerDataRequest& request);

  absl::Status Ping() { return repository_->Ping(); }

  // Commits what is queued and stops accepting writes.
  void Stop();

 private:
  // Validates and converts one submit request: derived fields, sentiment
  // and topics of the comment, and the follow-up case `rules` open.
  absl::StatusOr<NewFeedback> Prepare(const std::string& tenant, const v1::SubmitFeedbackRequest& request,
                                      const RuleSet& rules, absl::Time now) const;
  // Validates every item, writes the valid ones, fills one result per item.
  void WriteItems(const std::string& tenant,
                  const google::protobuf::RepeatedPtrField<v1::SubmitFeedbackRequest>& items,
                  std::function<void(absl::StatusOr<std::vector<v1::FeedbackItemResult>>)> done);

  std::shared_ptr<FeedbackRepository> repository_;
  std::shared_ptr<TenantRules> rules_;
  FeedbackManagerOptions options_;
  shared::PageTokenCodec page_tokens_;
  std::unique_ptr<shared::RecordWriter<NewFeedback, WriteResult>> writer_;
};

}  // namespace cx::feedback

#endif  // CX_FEEDBACK_FEEDBACK_MANAGER_H_
