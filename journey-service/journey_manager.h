// The domain layer of journey-service: validation of every request, event
// preparation (payload hash, clock-skew correction), the group-commit path of
// event writes, and the customer, identity, stage-mapping, journey and
// change-feed operations over the repository. No gRPC or SQL here.
#ifndef CX_JOURNEY_JOURNEY_MANAGER_H_
#define CX_JOURNEY_JOURNEY_MANAGER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cx/journey/v1/journey_service.pb.h"
#include "journey-service/journey_repository.h"
#include "shared/auth.h"
#include "shared/group_commit.h"
#include "shared/import_session.h"
#include "shared/page_token.h"
#include "shared/status.h"

namespace cx::journey {

// Checks one event as submitted (field paths relative to it) and computes
// its event time; `received` is the server's receive time.
absl::Status ValidateEvent(const v1::Event& event, absl::Time received);

// Checks customer traits; paths relative to them ("email", "custom[k]").
void CheckTraits(const v1::Traits& traits, absl::Time now, const std::string& prefix,
                 std::vector<shared::FieldViolation>* violations);

struct JourneyManagerOptions {
  shared::GroupCommitOptions commit;
  std::string page_token_key;
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Told after every successful commit (wakes change-feed streams).
  std::function<void()> on_commit;
  // Told the size of every group-commit batch and the queue depth.
  std::function<void(const shared::CommitObservation&)> observe_batch;
};

class JourneyManager {
 public:
  JourneyManager(std::shared_ptr<JourneyRepository> repository, JourneyManagerOptions options);
  ~JourneyManager();

  template <class T>
  using Done = std::function<void(absl::StatusOr<T>)>;
  using ItemsDone = std::function<void(absl::StatusOr<std::vector<v1::EventItemResult>>)>;

  void RecordEvent(const shared::Principal& principal, const v1::RecordEventRequest& request,
                   Done<v1::RecordEventResponse> done);
  void BatchRecordEvents(const shared::Principal& principal, const v1::BatchRecordEventsRequest& request,
                         Done<v1::BatchRecordEventsResponse> done);
  std::unique_ptr<shared::ImportSession<v1::ImportEventsRequest, v1::ImportEventsResponse>> StartImport(
      const shared::Principal& principal);

  absl::StatusOr<v1::UpsertCustomerResponse> UpsertCustomer(const shared::Principal& principal,
                                                            const v1::UpsertCustomerRequest& request);
  absl::StatusOr<v1::GetCustomerResponse> GetCustomer(const shared::Principal& principal,
                                                      const v1::GetCustomerRequest& request);
  absl::StatusOr<v1::LookupCustomerResponse> LookupCustomer(const shared::Principal& principal,
                                                            const v1::LookupCustomerRequest& request);
  absl::StatusOr<v1::ListCustomersResponse> ListCustomers(const shared::Principal& principal,
                                                          const v1::ListCustomersRequest& request);
  absl::StatusOr<v1::MergeCustomersResponse> MergeCustomers(const shared::Principal& principal,
                                                            const v1::MergeCustomersRequest& request);
  absl::StatusOr<v1::UnmergeCustomersResponse> UnmergeCustomers(const shared::Principal& principal,
                                                                const v1::UnmergeCustomersRequest& request);
  absl::StatusOr<v1::EraseCustomerResponse> EraseCustomer(const shared::Principal& principal,
                                                          const v1::EraseCustomerRequest& request);
  absl::StatusOr<v1::ExportCustomerDataResponse> ExportCustomerData(const shared::Principal& principal,
                                                                    const v1::ExportCustomerDataRequest& request);
  absl::StatusOr<v1::SetStageMappingResponse> SetStageMapping(const shared::Principal& principal,
                                                              const v1::SetStageMappingRequest& request);
  absl::StatusOr<v1::GetStageMappingResponse> GetStageMapping(const shared::Principal& principal,
                                                              const v1::GetStageMappingRequest& request);
  absl::StatusOr<v1::GetJourneyResponse> GetJourney(const shared::Principal& principal,
                                                    const v1::GetJourneyRequest& request);
  absl::StatusOr<v1::ListChangesResponse> ListChanges(const shared::Principal& principal,
                                                      const v1::ListChangesRequest& request);
  // Checks a watch request; returns the tenant scope (empty: every tenant).
  absl::StatusOr<std::optional<std::string>> WatchScope(const shared::Principal& principal,
                                                        const v1::WatchChangesRequest& request);

  absl::Status Ping() { return repository_->Ping(); }
  // Commits what is queued and stops accepting writes.
  void Stop();

 private:
  absl::StatusOr<NewEvent> Prepare(const std::string& tenant, const v1::Event& event, absl::Time now) const;
  // Validates every event, writes the valid ones in one group commit, and
  // answers one result per event.
  void WriteEvents(const std::string& tenant, const google::protobuf::RepeatedPtrField<v1::Event>& events,
                   ItemsDone done);
  void Committed() const;

  std::shared_ptr<JourneyRepository> repository_;
  JourneyManagerOptions options_;
  shared::PageTokenCodec page_tokens_;
  std::unique_ptr<shared::RecordWriter<NewEvent, EventWriteResult>> writer_;
};

}  // namespace cx::journey

#endif  // CX_JOURNEY_JOURNEY_MANAGER_H_
