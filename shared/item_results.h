// Per-item results of batch and import RPCs, shared by every service. The
// templates rely on the common shape of the contracts: a result message with
// index, outcome and error (cx.common.v1.ItemError); a batch response with
// results and accepted/duplicate/rejected counts; an import summary with
// received/accepted/duplicate/rejected counts and the first rejected items.
#ifndef CX_SHARED_ITEM_RESULTS_H_
#define CX_SHARED_ITEM_RESULTS_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/repeated_ptr_field.h>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "cx/common/v1/common.pb.h"
#include "shared/import_session.h"

namespace cx::shared {

// Rejected items kept in an import summary.
inline constexpr int kMaxReportedRejections = 100;

// Prefixes the field violations of a result's error with `prefix`.
template <class Result>
void PrefixItemFields(const std::string& prefix, Result* result) {
  for (auto& fv : *result->mutable_error()->mutable_field_violations()) fv.set_field(prefix + fv.field());
}

// Moves per-item results into a batch response, naming fields
// "<list>[<index>].<field>" and counting outcomes.
template <class Response, class Result>
void FillBatchResponse(std::vector<Result> results, const std::string& list, Response* response) {
  for (auto& r : results) {
    PrefixItemFields(absl::StrCat(list, "[", r.index(), "]."), &r);
    switch (r.outcome()) {
      case cx::common::v1::ITEM_OUTCOME_ACCEPTED: response->set_accepted_count(response->accepted_count() + 1); break;
      case cx::common::v1::ITEM_OUTCOME_DUPLICATE: response->set_duplicate_count(response->duplicate_count() + 1); break;
      default: response->set_rejected_count(response->rejected_count() + 1);
    }
    *response->add_results() = std::move(r);
  }
}

// An import session that writes each chunk through `write` (the same path
// as the batch RPC) and sums the results.
template <class Request, class Summary, class Item, class Result>
class ItemImportSession final : public ImportSession<Request, Summary> {
 public:
  using ResultsDone = std::function<void(absl::StatusOr<std::vector<Result>>)>;
  using WriteFn = std::function<void(const google::protobuf::RepeatedPtrField<Item>&, ResultsDone)>;
  using TakeFn = std::function<Item(Request&)>;

  // `item_field` names the item in a stream message ("item", "event").
  ItemImportSession(WriteFn write, TakeFn take, std::string item_field)
      : write_(std::move(write)), take_(std::move(take)), item_field_(std::move(item_field)) {}

  void Process(std::vector<Request> chunk, int64_t first_index, std::function<void(absl::Status)> done) override {
    auto items = std::make_shared<google::protobuf::RepeatedPtrField<Item>>();
    for (auto& c : chunk) *items->Add() = take_(c);
    write_(*items, [this, items, first_index, done](absl::StatusOr<std::vector<Result>> results) {
      if (!results.ok()) {
        done(results.status());
        return;
      }
      for (auto& r : *results) {
        summary_.set_received_count(summary_.received_count() + 1);
        switch (r.outcome()) {
          case cx::common::v1::ITEM_OUTCOME_ACCEPTED: summary_.set_accepted_count(summary_.accepted_count() + 1); break;
          case cx::common::v1::ITEM_OUTCOME_DUPLICATE: summary_.set_duplicate_count(summary_.duplicate_count() + 1); break;
          default:
            summary_.set_rejected_count(summary_.rejected_count() + 1);
            if (summary_.rejected_size() < kMaxReportedRejections) {
              r.set_index(static_cast<int32_t>(first_index + r.index()));
              PrefixItemFields(absl::StrCat("stream[", r.index(), "].", item_field_, "."), &r);
              *summary_.add_rejected() = std::move(r);
            }
        }
      }
      done(absl::OkStatus());
    });
  }

  Summary Finish() override { return summary_; }

 private:
  WriteFn write_;
  TakeFn take_;
  std::string item_field_;
  Summary summary_;
};

}  // namespace cx::shared

#endif  // CX_SHARED_ITEM_RESULTS_H_
