#include "feedback-service/feedback_manager.h"

#include <google/protobuf/util/time_util.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "feedback-service/follow_ups.h"
#include "feedback-service/text_analytics.h"
#include "shared/change_feed.h"
#include "shared/erasure.h"
#include "shared/item_results.h"
#include "shared/proto_util.h"
#include "shared/status.h"
#include "shared/text.h"

namespace cx::feedback {
namespace {

using google::protobuf::util::TimeUtil;
using shared::FieldViolation;
using shared::InvalidField;
using shared::Principal;

bool IsLocale(const std::string& locale) {
  if (locale.size() > limits::kMaxLocaleLength) return false;
  for (unsigned char c : locale) {
    if (!(absl::ascii_isalnum(c) || c == '-' || c == '_')) return false;
  }
  return true;
}

cx::common::v1::SourceCategory CategoryOf(cx::common::v1::Source source) {
  switch (source) {
    case cx::common::v1::SOURCE_SURVEY:
    case cx::common::v1::SOURCE_INTERVIEW:
    case cx::common::v1::SOURCE_SUPPORT:
      return cx::common::v1::SOURCE_CATEGORY_DIRECT;
    case cx::common::v1::SOURCE_REVIEW_SITE:
    case cx::common::v1::SOURCE_SOCIAL_MEDIA:
    case cx::common::v1::SOURCE_FORUM:
      return cx::common::v1::SOURCE_CATEGORY_INDIRECT;
    default:
      return cx::common::v1::SOURCE_CATEGORY_UNSPECIFIED;
  }
}

}  // namespace

bool ScoreRange(v1::FeedbackKind kind, int* min, int* max) {
  switch (kind) {
    case v1::FEEDBACK_KIND_NPS: *min = 0; *max = 10; return true;
    case v1::FEEDBACK_KIND_CSAT: *min = 1; *max = 5; return true;
    case v1::FEEDBACK_KIND_CES: *min = 1; *max = 7; return true;
    case v1::FEEDBACK_KIND_STAR_RATING: *min = 1; *max = 5; return true;
    default: return false;
  }
}

absl::Status ValidateFeedback(const v1::Feedback& f, absl::Time now) {
  std::vector<FieldViolation> v;
  if (f.customer_id().empty()) {
    v.push_back({"customer_id", "is required"});
  } else if (!shared::IsIdentifier(f.customer_id(), limits::kMaxIdLength)) {
    v.push_back({"customer_id", "must be 1 to 128 printable ASCII characters without spaces"});
  }
  if (f.has_crm_reference()) shared::CheckCrmReference(f.crm_reference(), "crm_reference.", &v);
  const bool kind_known = v1::FeedbackKind_IsValid(f.kind());
  if (f.kind() == v1::FEEDBACK_KIND_UNSPECIFIED) {
    v.push_back({"kind", "is required"});
  } else if (!kind_known) {
    v.push_back({"kind", absl::StrCat("has unknown value ", f.kind())});
  }
  int min = 0, max = 0;
  if (kind_known && ScoreRange(f.kind(), &min, &max)) {
    if (!f.has_score()) {
      v.push_back({"score", absl::StrCat("is required for ", v1::FeedbackKind_Name(f.kind()))});
    } else if (f.score() < min || f.score() > max) {
      v.push_back({"score", absl::StrCat("must be between ", min, " and ", max, " for ",
                                         v1::FeedbackKind_Name(f.kind()), "; got ", f.score())});
    }
  } else if (f.kind() == v1::FEEDBACK_KIND_COMMENT) {
    if (f.has_score()) v.push_back({"score", "must be absent for FEEDBACK_KIND_COMMENT"});
    if (f.comment().empty()) v.push_back({"comment", "is required for FEEDBACK_KIND_COMMENT"});
  }
  if (!shared::IsValidUtf8(f.comment())) {
    v.push_back({"comment", "is not valid UTF-8"});
  } else if (shared::Utf8Length(f.comment()) > limits::kMaxCommentChars) {
    v.push_back({"comment", absl::StrCat("is longer than ", limits::kMaxCommentChars, " characters")});
  }
  if (f.source() == cx::common::v1::SOURCE_UNSPECIFIED) {
    v.push_back({"source", "is required"});
  } else if (!cx::common::v1::Source_IsValid(f.source())) {
    v.push_back({"source", absl::StrCat("has unknown value ", f.source())});
  }
  if (f.channel() == cx::common::v1::CHANNEL_UNSPECIFIED) {
    v.push_back({"channel", "is required"});
  } else if (!cx::common::v1::Channel_IsValid(f.channel())) {
    v.push_back({"channel", absl::StrCat("has unknown value ", f.channel())});
  }
  if (!f.touchpoint_id().empty() && !shared::IsIdentifier(f.touchpoint_id(), limits::kMaxIdLength)) {
    v.push_back({"touchpoint_id", "must be 1 to 128 printable ASCII characters without spaces"});
  }
  if (!cx::common::v1::JourneyStage_IsValid(f.journey_stage())) {
    v.push_back({"journey_stage", absl::StrCat("has unknown value ", f.journey_stage())});
  }
  if (static_cast<size_t>(f.tags_size()) > limits::kMaxTags) {
    v.push_back({"tags", absl::StrCat("holds ", f.tags_size(), " tags; the most is ", limits::kMaxTags)});
  } else {
    for (int i = 0; i < f.tags_size(); ++i) {
      if (!shared::IsLabel(f.tags(i))) {
        v.push_back({absl::StrCat("tags[", i, "]"), "must be 1 to 64 characters of [A-Za-z0-9_.:/-]"});
      }
    }
  }
  if (!IsLocale(f.locale())) v.push_back({"locale", "must be a BCP 47 tag such as en-US"});
  if (f.has_occurred_at()) shared::CheckEventTime(f.occurred_at(), now, limits::kMaxFutureSkew, "occurred_at", &v);
  if (v.empty()) return absl::OkStatus();
  return shared::WithViolations(absl::StatusCode::kInvalidArgument, v);
}

FeedbackManager::FeedbackManager(std::shared_ptr<FeedbackRepository> repository, std::shared_ptr<TenantRules> rules,
                                 FeedbackManagerOptions options)
    : repository_(std::move(repository)),
      rules_(std::move(rules)),
      options_(std::move(options)),
      page_tokens_(options_.page_token_key) {
  writer_ = std::make_unique<shared::RecordWriter<NewFeedback, WriteResult>>(
      options_.commit, [this](absl::Span<const NewFeedback> batch) { return repository_->Write(batch); },
      options_.on_commit, options_.observe_batch);
}

FeedbackManager::~FeedbackManager() { Stop(); }

void FeedbackManager::Stop() { writer_->Stop(); }

absl::StatusOr<NewFeedback> FeedbackManager::Prepare(const std::string& tenant,
                                                     const v1::SubmitFeedbackRequest& request,
                                                     const RuleSet& rules, absl::Time now) const {
  std::vector<FieldViolation> violations;
  if (request.request_id().empty()) {
    violations.push_back({"request_id", "is required (an idempotency key such as a UUID)"});
  } else if (!shared::IsIdentifier(request.request_id(), limits::kMaxIdLength)) {
    violations.push_back({"request_id", "must be 1 to 128 printable ASCII characters without spaces"});
  }
  if (!request.has_feedback()) {
    violations.push_back({"feedback", "is required"});
  } else if (absl::Status s = ValidateFeedback(request.feedback(), now); !s.ok()) {
    for (auto& fv : shared::FieldViolations(s)) violations.push_back({"feedback." + fv.field, fv.description});
  }
  if (!violations.empty()) return shared::WithViolations(absl::StatusCode::kInvalidArgument, violations);

  NewFeedback record;
  record.tenant = tenant;
  record.request_id = request.request_id();
  v1::Feedback& f = record.feedback;
  f = request.feedback();
  // Output-only fields are ignored on input.
  f.clear_name();
  f.clear_id();
  f.clear_received_at();
  f.clear_request_id();
  f.clear_sequence();
  f.clear_source_category();
  f.clear_nps_category();
  f.clear_sentiment();
  f.clear_topics();
  f.clear_follow_up();
  record.payload_hash = shared::PayloadHash(f);
  *f.mutable_received_at() = shared::ToProtoTime(now);
  if (!f.has_occurred_at()) *f.mutable_occurred_at() = f.received_at();
  f.set_source_category(CategoryOf(f.source()));
  if (f.kind() == v1::FEEDBACK_KIND_NPS) {
    f.set_nps_category(f.score() >= 9   ? v1::NPS_CATEGORY_PROMOTER
                       : f.score() >= 7 ? v1::NPS_CATEGORY_PASSIVE
                                        : v1::NPS_CATEGORY_DETRACTOR);
  }
  if (!f.comment().empty()) {
    TextAnalysis text = AnalyzeText(f.comment(), rules.topic_matcher);
    *f.mutable_sentiment() = std::move(text.sentiment);
    for (auto& topic : text.topics) f.add_topics(std::move(topic));
  }
  record.follow_up = FollowUpFor(f, rules.follow_ups, now);
  return record;
}

void FeedbackManager::Submit(const Principal& principal, const v1::SubmitFeedbackRequest& request,
                             Done<v1::SubmitFeedbackResponse> done) {
  auto rules = rules_->For(principal.tenant);
  if (!rules.ok()) {
    done(rules.status());
    return;
  }
  auto record = Prepare(principal.tenant, request, **rules, options_.clock());
  if (!record.ok()) {
    done(record.status());
    return;
  }
  std::vector<NewFeedback> records;
  records.push_back(*std::move(record));
  writer_->Submit(std::move(records), [done](absl::StatusOr<std::vector<WriteResult>> results) {
    if (!results.ok()) {
      done(results.status());
      return;
    }
    WriteResult& r = results->front();
    if (r.outcome == WriteOutcome::kConflict) {
      done(shared::KeyReusedStatus("request_id"));
      return;
    }
    if (r.outcome == WriteOutcome::kErased) {
      done(shared::ErasedStatus("feedback.customer_id"));
      return;
    }
    v1::SubmitFeedbackResponse response;
    *response.mutable_feedback() = std::move(r.feedback);
    done(std::move(response));
  });
}

void FeedbackManager::WriteItems(
    const std::string& tenant, const google::protobuf::RepeatedPtrField<v1::SubmitFeedbackRequest>& items,
    std::function<void(absl::StatusOr<std::vector<v1::FeedbackItemResult>>)> done) {
  const absl::Time now = options_.clock();
  auto rules = rules_->For(tenant);
  if (!rules.ok()) {
    done(rules.status());
    return;
  }
  auto results = std::make_shared<std::vector<v1::FeedbackItemResult>>(items.size());
  std::vector<int> positions;
  std::vector<NewFeedback> records;
  for (int i = 0; i < items.size(); ++i) {
    v1::FeedbackItemResult& result = (*results)[i];
    result.set_index(i);
    result.set_request_id(items[i].request_id());
    auto record = Prepare(tenant, items[i], **rules, now);
    if (!record.ok()) {
      result.set_outcome(cx::common::v1::ITEM_OUTCOME_REJECTED);
      *result.mutable_error() = shared::ToItemError(record.status());
      continue;
    }
    positions.push_back(i);
    records.push_back(*std::move(record));
  }
  if (records.empty()) {
    done(std::move(*results));
    return;
  }
  writer_->Submit(std::move(records), [results, positions = std::move(positions), done](
                                absl::StatusOr<std::vector<WriteResult>> written) {
    if (!written.ok()) {
      done(written.status());
      return;
    }
    for (size_t k = 0; k < positions.size(); ++k) {
      v1::FeedbackItemResult& result = (*results)[positions[k]];
      WriteResult& w = (*written)[k];
      switch (w.outcome) {
        case WriteOutcome::kCreated:
          result.set_outcome(cx::common::v1::ITEM_OUTCOME_ACCEPTED);
          *result.mutable_feedback() = std::move(w.feedback);
          break;
        case WriteOutcome::kDuplicate:
          result.set_outcome(cx::common::v1::ITEM_OUTCOME_DUPLICATE);
          *result.mutable_feedback() = std::move(w.feedback);
          break;
        case WriteOutcome::kConflict:
          result.set_outcome(cx::common::v1::ITEM_OUTCOME_REJECTED);
          *result.mutable_error() = shared::ToItemError(shared::KeyReusedStatus("request_id"));
          break;
        case WriteOutcome::kErased:
          result.set_outcome(cx::common::v1::ITEM_OUTCOME_REJECTED);
          *result.mutable_error() = shared::ToItemError(shared::ErasedStatus("feedback.customer_id"));
          break;
      }
    }
    done(std::move(*results));
  });
}

void FeedbackManager::BatchSubmit(const Principal& principal, const v1::BatchSubmitFeedbackRequest& request,
                                  Done<v1::BatchSubmitFeedbackResponse> done) {
  if (request.requests_size() == 0) {
    done(InvalidField("requests", "must hold at least one item"));
    return;
  }
  if (request.requests_size() > limits::kMaxBatchItems) {
    done(InvalidField("requests", absl::StrCat("holds ", request.requests_size(),
                                               " items; the most is ", limits::kMaxBatchItems)));
    return;
  }
  WriteItems(principal.tenant, request.requests(),
             [done](absl::StatusOr<std::vector<v1::FeedbackItemResult>> results) {
               if (!results.ok()) {
                 done(results.status());
                 return;
               }
               v1::BatchSubmitFeedbackResponse response;
               shared::FillBatchResponse(*std::move(results), "requests", &response);
               done(std::move(response));
             });
}

std::unique_ptr<shared::ImportSession<v1::ImportFeedbackRequest, v1::ImportFeedbackResponse>>
FeedbackManager::StartImport(const Principal& principal) {
  std::string tenant = principal.tenant;
  using Session = shared::ItemImportSession<v1::ImportFeedbackRequest, v1::ImportFeedbackResponse,
                                            v1::SubmitFeedbackRequest, v1::FeedbackItemResult>;
  return std::make_unique<Session>(
      [this, tenant](const google::protobuf::RepeatedPtrField<v1::SubmitFeedbackRequest>& items,
                     Session::ResultsDone done) { WriteItems(tenant, items, std::move(done)); },
      [](v1::ImportFeedbackRequest& r) { return std::move(*r.mutable_item()); }, "item");
}

absl::StatusOr<v1::GetFeedbackResponse> FeedbackManager::Get(const Principal& principal,
                                                             const v1::GetFeedbackRequest& request) {
  constexpr absl::string_view kPrefix = "feedback/";
  int64_t sequence = 0;
  if (!absl::StartsWith(request.name(), kPrefix) ||
      !absl::SimpleAtoi(request.name().substr(kPrefix.size()), &sequence) || sequence <= 0) {
    return InvalidField("name", "must look like feedback/{id}");
  }
  auto found = repository_->Get(principal.tenant, sequence);
  if (!found.ok()) return found.status();
  // Another tenant's feedback is reported exactly like a missing one.
  if (!found->has_value()) return absl::NotFoundError(absl::StrCat(request.name(), " not found"));
  v1::GetFeedbackResponse response;
  *response.mutable_feedback() = std::move(**found);
  return response;
}

absl::StatusOr<v1::ListFeedbackResponse> FeedbackManager::List(const Principal& principal,
                                                               const v1::ListFeedbackRequest& request) {
  std::vector<FieldViolation> v;
  if (request.page_size() < 0 || request.page_size() > limits::kMaxPageSize) {
    v.push_back({"page_size", absl::StrCat("must be between 0 and ", limits::kMaxPageSize)});
  }
  if (!request.customer_id().empty() && !shared::IsIdentifier(request.customer_id(), limits::kMaxIdLength)) {
    v.push_back({"customer_id", "must be 1 to 128 printable ASCII characters without spaces"});
  }
  if (!v1::FeedbackKind_IsValid(request.kind())) v.push_back({"kind", absl::StrCat("has unknown value ", request.kind())});
  if (!cx::common::v1::Channel_IsValid(request.channel())) v.push_back({"channel", absl::StrCat("has unknown value ", request.channel())});
  if (!cx::common::v1::Source_IsValid(request.source())) v.push_back({"source", absl::StrCat("has unknown value ", request.source())});
  if (!cx::common::v1::JourneyStage_IsValid(request.journey_stage())) {
    v.push_back({"journey_stage", absl::StrCat("has unknown value ", request.journey_stage())});
  }
  if (!request.touchpoint_id().empty() && !shared::IsIdentifier(request.touchpoint_id(), limits::kMaxIdLength)) {
    v.push_back({"touchpoint_id", "must be 1 to 128 printable ASCII characters without spaces"});
  }
  if (!request.tag().empty() && !shared::IsLabel(request.tag())) v.push_back({"tag", "must be 1 to 64 characters of [A-Za-z0-9_.:/-]"});
  const shared::OptionalRange occurred = shared::CheckOptionalRange(request.occurred(), "occurred", &v);
  if (request.has_min_score() && (request.min_score() < 0 || request.min_score() > 10)) v.push_back({"min_score", "must be between 0 and 10"});
  if (request.has_max_score() && (request.max_score() < 0 || request.max_score() > 10)) v.push_back({"max_score", "must be between 0 and 10"});
  if (request.has_min_score() && request.has_max_score() && request.min_score() > request.max_score()) {
    v.push_back({"min_score", "must not exceed max_score"});
  }
  if (!v.empty()) return shared::WithViolations(absl::StatusCode::kInvalidArgument, v);

  const std::string fingerprint = shared::FilterFingerprint(request);

  FeedbackQuery query;
  query.limit = (request.page_size() == 0 ? limits::kDefaultPageSize : request.page_size());
  if (!request.page_token().empty()) {
    auto position = page_tokens_.Decode(request.page_token(), principal.tenant, fingerprint);
    if (!position.ok()) return position.status();
    if (position->size() != 2) return InvalidField("page_token", "is not a token this server issued");
    query.after = ListPosition{(*position)[0], (*position)[1]};
  }
  FeedbackFilter& filter = query.filter;
  filter.tenant = principal.tenant;
  filter.customer_id = request.customer_id();
  filter.kind = request.kind();
  filter.channel = request.channel();
  filter.source = request.source();
  filter.touchpoint_id = request.touchpoint_id();
  filter.journey_stage = request.journey_stage();
  filter.tag = request.tag();
  filter.occurred_from_us = occurred.from_us;
  filter.occurred_to_us = occurred.to_us;
  if (request.has_min_score()) filter.min_score = request.min_score();
  if (request.has_max_score()) filter.max_score = request.max_score();

  const int page_size = query.limit;
  query.limit = page_size + 1;  // one more tells whether another page exists
  auto rows = repository_->List(query);
  if (!rows.ok()) return rows.status();
  v1::ListFeedbackResponse response;
  const bool more = static_cast<int>(rows->size()) > page_size;
  if (more) rows->resize(page_size);
  for (auto& f : *rows) *response.add_feedback() = std::move(f);
  if (more) {
    const v1::Feedback& last = response.feedback(response.feedback_size() - 1);
    response.set_next_page_token(page_tokens_.Encode(
        principal.tenant, fingerprint,
        {TimeUtil::TimestampToMicroseconds(last.occurred_at()), last.sequence()}));
  }
  return response;
}

absl::StatusOr<v1::EraseCustomerResponse> FeedbackManager::EraseCustomer(const Principal& principal,
                                                                        const v1::EraseCustomerRequest& request) {
  if (request.customer_id().empty()) return InvalidField("customer_id", "is required");
  if (!shared::IsIdentifier(request.customer_id(), limits::kMaxIdLength)) {
    return InvalidField("customer_id", "must be 1 to 128 printable ASCII characters without spaces");
  }
  EraseInput input;
  input.tenant = principal.tenant;
  input.customer_id = request.customer_id();
  input.erasure = shared::NewErasure(principal.tenant, principal.actor, request.customer_id(), options_.clock());
  auto erasure = repository_->EraseCustomer(input);
  if (!erasure.ok()) return erasure.status();
  if (!erasure->already_erased() && options_.on_commit) options_.on_commit();
  v1::EraseCustomerResponse response;
  *response.mutable_erasure() = *std::move(erasure);
  return response;
}

absl::StatusOr<v1::ExportCustomerDataResponse> FeedbackManager::ExportCustomerData(
    const Principal& principal, const v1::ExportCustomerDataRequest& request) {
  std::vector<FieldViolation> v;
  if (request.customer_id().empty()) v.push_back({"customer_id", "is required"});
  else if (!shared::IsIdentifier(request.customer_id(), limits::kMaxIdLength)) {
    v.push_back({"customer_id", "must be 1 to 128 printable ASCII characters without spaces"});
  }
  if (request.page_size() < 0 || request.page_size() > limits::kMaxPageSize) {
    v.push_back({"page_size", absl::StrCat("must be between 0 and ", limits::kMaxPageSize)});
  }
  if (!v.empty()) return shared::WithViolations(absl::StatusCode::kInvalidArgument, v);
  const std::string fingerprint = shared::FilterFingerprint(request);
  auto after = page_tokens_.DecodeAfter(request.page_token(), principal.tenant, fingerprint);
  if (!after.ok()) return after.status();
  const int page_size = request.page_size() == 0 ? limits::kDefaultExportPageSize : request.page_size();
  auto rows = repository_->CustomerFeedback(principal.tenant, request.customer_id(), *after, page_size + 1);
  if (!rows.ok()) return rows.status();
  FollowUpQuery cases;
  cases.filter.tenant = principal.tenant;
  cases.filter.customer_id = request.customer_id();
  cases.limit = limits::kMaxExportFollowUps;
  auto follow_ups = repository_->ListFollowUps(cases);
  if (!follow_ups.ok()) return follow_ups.status();
  v1::ExportCustomerDataResponse response;
  const bool more = static_cast<int>(rows->size()) > page_size;
  if (more) rows->resize(page_size);
  for (auto& f : *rows) *response.add_feedback() = std::move(f);
  for (auto& f : *follow_ups) *response.add_follow_ups() = std::move(f);
  if (more) {
    response.set_next_page_token(page_tokens_.Encode(
        principal.tenant, fingerprint, {response.feedback(response.feedback_size() - 1).sequence()}));
  }
  return response;
}

absl::StatusOr<v1::ListChangesResponse> FeedbackManager::ListChanges(const Principal& principal,
                                                                    const v1::ListChangesRequest& request) {
  return shared::ListChangesPage<v1::ListChangesRequest, v1::ListChangesResponse>(
      principal, request, [this](const std::optional<std::string>& scope, int64_t after, int limit) {
        return repository_->ListChanges(scope, after, limit);
      });
}

absl::StatusOr<std::optional<std::string>> FeedbackManager::WatchScope(const Principal& principal,
                                                                       const v1::WatchChangesRequest& request) {
  return shared::WatchScope(principal, request);
}

absl::StatusOr<std::vector<v1::FeedbackChange>> FeedbackManager::FetchChanges(
    const std::optional<std::string>& tenant, int64_t after, int limit) {
  return repository_->ListChanges(tenant, after, limit);
}

}  // namespace cx::feedback
