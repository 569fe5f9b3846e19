#include "journey-service/journey_manager.h"

#include <google/protobuf/util/time_util.h>

#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "shared/change_feed.h"
#include "shared/erasure.h"
#include "shared/item_results.h"
#include "shared/proto_util.h"
#include "shared/status.h"
#include "shared/text.h"

namespace cx::journey {
namespace {

using google::protobuf::util::TimeUtil;
using shared::FieldViolation;
using shared::InvalidField;
using shared::kIdentifierRule;
using shared::Principal;

bool IsId(const std::string& id) { return shared::IsIdentifier(id, limits::kMaxIdLength); }

using shared::IsEventType;
using shared::IsLabel;

bool IsMapKey(const std::string& key) {
  if (key.empty() || key.size() > limits::kMaxMapKeyLength) return false;
  for (unsigned char c : key) {
    if (!(absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-')) return false;
  }
  return true;
}

void CheckText(const std::string& text, size_t max_chars, const std::string& field, std::vector<FieldViolation>* v) {
  if (!shared::IsValidUtf8(text)) {
    v->push_back({field, "is not valid UTF-8"});
  } else if (shared::Utf8Length(text) > max_chars) {
    v->push_back({field, absl::StrCat("is longer than ", max_chars, " characters")});
  }
}

void CheckStringMap(const google::protobuf::Map<std::string, std::string>& map, const std::string& field,
                    std::vector<FieldViolation>* v) {
  if (map.size() > limits::kMaxMapEntries) {
    v->push_back({field, absl::StrCat("holds ", map.size(), " entries; the most is ", limits::kMaxMapEntries)});
    return;
  }
  std::set<std::string> keys;  // sorted, so violations come in a stable order
  for (const auto& [key, value] : map) keys.insert(key);
  for (const auto& key : keys) {
    const std::string path = absl::StrCat(field, "[", shared::IsValidUtf8(key) ? key : "?", "]");
    if (!IsMapKey(key)) {
      v->push_back({path, "key must be 1 to 64 characters of [A-Za-z0-9_.-]"});
      continue;
    }
    CheckText(map.at(key), limits::kMaxMapValueChars, path, v);
  }
}

void CheckPageSize(int page_size, std::vector<FieldViolation>* v) {
  if (page_size < 0 || page_size > limits::kMaxPageSize) {
    v->push_back({"page_size", absl::StrCat("must be between 0 and ", limits::kMaxPageSize)});
  }
}

void CheckIdentity(const v1::Identity& identity, const std::string& field, std::vector<FieldViolation>* v) {
  switch (identity.kind_case()) {
    case v1::Identity::kCustomerId:
      if (!IsId(identity.customer_id())) v->push_back({field + ".customer_id", kIdentifierRule});
      break;
    case v1::Identity::kAnonymousId:
      if (!IsId(identity.anonymous_id())) v->push_back({field + ".anonymous_id", kIdentifierRule});
      break;
    default:
      v->push_back({field, "is required: set customer_id or anonymous_id"});
  }
}

absl::Status Invalid(const std::vector<FieldViolation>& v) {
  if (v.empty()) return absl::OkStatus();
  return shared::WithViolations(absl::StatusCode::kInvalidArgument, v);
}

v1::EventItemResult Rejected(int index, const std::string& event_id, const absl::Status& status) {
  v1::EventItemResult result;
  result.set_index(index);
  result.set_event_id(event_id);
  result.set_outcome(cx::common::v1::ITEM_OUTCOME_REJECTED);
  *result.mutable_error() = shared::ToItemError(status);
  return result;
}

absl::Status UnknownCustomerStatus() {
  return shared::WithViolations(absl::StatusCode::kNotFound,
                                {{"customer_id", "no such customer (upsert it first, or send anonymous_id)"}});
}

}  // namespace

absl::Status ValidateEvent(const v1::Event& e, absl::Time received) {
  std::vector<FieldViolation> v;
  if (e.event_id().empty()) v.push_back({"event_id", "is required (the client's id of the event, its dedup key)"});
  else if (!IsId(e.event_id())) v.push_back({"event_id", kIdentifierRule});
  if (e.customer_id().empty() && e.anonymous_id().empty()) {
    v.push_back({"customer_id", "customer_id or anonymous_id is required"});
  }
  if (!e.customer_id().empty() && !IsId(e.customer_id())) v.push_back({"customer_id", kIdentifierRule});
  if (!e.anonymous_id().empty() && !IsId(e.anonymous_id())) v.push_back({"anonymous_id", kIdentifierRule});
  if (e.type().empty()) v.push_back({"type", "is required"});
  else if (!IsEventType(e.type())) v.push_back({"type", "must be 1 to 64 characters of [a-z0-9_.] starting with a letter"});
  if (!cx::common::v1::Channel_IsValid(e.channel())) v.push_back({"channel", absl::StrCat("has unknown value ", e.channel())});
  if (!e.touchpoint_id().empty() && !IsId(e.touchpoint_id())) v.push_back({"touchpoint_id", kIdentifierRule});
  if (!cx::common::v1::JourneyStage_IsValid(e.stage())) v.push_back({"stage", absl::StrCat("has unknown value ", e.stage())});
  if (!e.session_id().empty() && !IsId(e.session_id())) v.push_back({"session_id", kIdentifierRule});
  if (e.has_revenue()) {
    const std::string& code = e.revenue().currency_code();
    bool iso = code.size() == 3;
    for (char c : code) iso = iso && absl::ascii_isupper(static_cast<unsigned char>(c));
    if (!iso) v.push_back({"revenue.currency_code", "must be an ISO 4217 code such as EUR"});
    if (e.revenue().amount_minor() < 0) {
      v.push_back({"revenue.amount_minor", "must not be negative (record a refund_issued event instead)"});
    } else if (e.revenue().amount_minor() > limits::kMaxRevenueMinor) {
      v.push_back({"revenue.amount_minor", absl::StrCat("must be at most ", limits::kMaxRevenueMinor)});
    }
  }
  CheckStringMap(e.properties(), "properties", &v);
  const bool occurred_ok = !e.has_occurred_at() || shared::IsValidTimestamp(e.occurred_at());
  if (!occurred_ok) v.push_back({"occurred_at", "is not a valid timestamp"});
  const bool sent_ok = !e.has_sent_at() || shared::IsValidTimestamp(e.sent_at());
  if (!sent_ok) v.push_back({"sent_at", "is not a valid timestamp"});
  if (e.has_sent_at() && !e.has_occurred_at()) v.push_back({"occurred_at", "is required when sent_at is given"});
  if (occurred_ok && sent_ok && e.has_occurred_at()) {
    // The corrected time is what must be plausible.
    std::optional<absl::Time> sent;
    if (e.has_sent_at()) sent = shared::ToTime(e.sent_at());
    auto [event_time, corrected] = CorrectEventTime(shared::ToTime(e.occurred_at()), sent, received);
    shared::CheckEventTime(shared::ToProtoTime(event_time), received, limits::kMaxFutureSkew, "occurred_at", &v);
  }
  return Invalid(v);
}

void CheckTraits(const v1::Traits& t, absl::Time now, const std::string& p, std::vector<FieldViolation>* v) {
  CheckText(t.name(), limits::kMaxNameChars, p + "name", v);
  if (!t.email().empty()) {
    const size_t at = t.email().find('@');
    const bool ok = shared::IsIdentifier(t.email(), limits::kMaxEmailLength) && at != std::string::npos && at > 0 &&
                    at + 1 < t.email().size() && t.email().find('@', at + 1) == std::string::npos;
    if (!ok) v->push_back({p + "email", "must be an address such as ana@example.com"});
  }
  if (!t.phone().empty()) {
    bool ok = t.phone()[0] == '+' && t.phone().size() >= 7 && t.phone().size() <= 16;
    for (size_t i = 1; i < t.phone().size(); ++i) ok = ok && absl::ascii_isdigit(static_cast<unsigned char>(t.phone()[i]));
    if (!ok) v->push_back({p + "phone", "must be E.164: '+' and 6 to 15 digits"});
  }
  if (!t.segment().empty() && !IsLabel(t.segment())) v->push_back({p + "segment", "must be 1 to 64 characters of [A-Za-z0-9_.:/-]"});
  if (!t.plan().empty() && !IsLabel(t.plan())) v->push_back({p + "plan", "must be 1 to 64 characters of [A-Za-z0-9_.:/-]"});
  if (!t.country().empty()) {
    const bool ok = t.country().size() == 2 && absl::ascii_isupper(static_cast<unsigned char>(t.country()[0])) &&
                    absl::ascii_isupper(static_cast<unsigned char>(t.country()[1]));
    if (!ok) v->push_back({p + "country", "must be an ISO 3166-1 alpha-2 code such as DE"});
  }
  if (t.has_signup_time()) shared::CheckEventTime(t.signup_time(), now, limits::kMaxFutureSkew, p + "signup_time", v);
  CheckStringMap(t.custom(), p + "custom", v);
}

JourneyManager::JourneyManager(std::shared_ptr<JourneyRepository> repository, JourneyManagerOptions options)
    : repository_(std::move(repository)), options_(std::move(options)), page_tokens_(options_.page_token_key) {
  writer_ = std::make_unique<shared::RecordWriter<NewEvent, EventWriteResult>>(
      options_.commit, [this](absl::Span<const NewEvent> batch) { return repository_->WriteEvents(batch); },
      options_.on_commit, options_.observe_batch);
}

JourneyManager::~JourneyManager() { Stop(); }

void JourneyManager::Stop() { writer_->Stop(); }

void JourneyManager::Committed() const {
  if (options_.on_commit) options_.on_commit();
}

// ---- events ----

absl::StatusOr<NewEvent> JourneyManager::Prepare(const std::string& tenant, const v1::Event& input,
                                                 absl::Time now) const {
  if (absl::Status s = ValidateEvent(input, now); !s.ok()) return s;
  NewEvent record;
  record.tenant = tenant;
  v1::Event& e = record.event;
  e = input;
  // Output-only fields are ignored on input.
  e.clear_received_at();
  e.clear_event_time();
  e.clear_clock_corrected();
  e.clear_resolved_stage();
  e.clear_stage_origin();
  e.clear_owner();
  e.clear_sequence();
  record.payload_hash = shared::PayloadHash(e);
  *e.mutable_received_at() = shared::ToProtoTime(now);
  if (!e.has_occurred_at()) *e.mutable_occurred_at() = e.received_at();
  std::optional<absl::Time> sent;
  if (e.has_sent_at()) sent = shared::ToTime(e.sent_at());
  auto [event_time, corrected] = CorrectEventTime(shared::ToTime(e.occurred_at()), sent, now);
  *e.mutable_event_time() = shared::ToProtoTime(event_time);
  e.set_clock_corrected(corrected);
  return record;
}

void JourneyManager::WriteEvents(const std::string& tenant, const google::protobuf::RepeatedPtrField<v1::Event>& events,
                                 ItemsDone done) {
  const absl::Time now = options_.clock();
  auto results = std::make_shared<std::vector<v1::EventItemResult>>(events.size());
  std::vector<int> positions;
  std::vector<NewEvent> records;
  for (int i = 0; i < events.size(); ++i) {
    auto record = Prepare(tenant, events[i], now);
    if (!record.ok()) {
      (*results)[i] = Rejected(i, events[i].event_id(), record.status());
      continue;
    }
    positions.push_back(i);
    records.push_back(*std::move(record));
  }
  if (records.empty()) {
    done(std::move(*results));
    return;
  }
  std::vector<std::string> ids;
  std::vector<const char*> subject_fields;  // what an erased subject's error names
  for (int index : positions) {
    ids.push_back(events[index].event_id());
    subject_fields.push_back(events[index].customer_id().empty() ? "anonymous_id" : "customer_id");
  }
  writer_->Submit(std::move(records), [results, positions = std::move(positions), ids = std::move(ids),
                                       subject_fields = std::move(subject_fields),
                                       done](absl::StatusOr<std::vector<EventWriteResult>> written) {
    if (!written.ok()) {
      done(written.status());
      return;
    }
    for (size_t k = 0; k < positions.size(); ++k) {
      const int index = positions[k];
      v1::EventItemResult& result = (*results)[index];
      EventWriteResult& w = (*written)[k];
      switch (w.outcome) {
        case EventOutcome::kCreated:
        case EventOutcome::kDuplicate:
          result.set_index(index);
          result.set_event_id(ids[k]);
          result.set_outcome(w.outcome == EventOutcome::kCreated ? cx::common::v1::ITEM_OUTCOME_ACCEPTED
                                                                 : cx::common::v1::ITEM_OUTCOME_DUPLICATE);
          *result.mutable_event() = std::move(w.event);
          break;
        case EventOutcome::kConflict:
          result = Rejected(index, ids[k], shared::KeyReusedStatus("event_id"));
          break;
        case EventOutcome::kUnknownCustomer:
          result = Rejected(index, ids[k], UnknownCustomerStatus());
          break;
        case EventOutcome::kErased:
          result = Rejected(index, ids[k], shared::ErasedStatus(subject_fields[k]));
          break;
      }
    }
    done(std::move(*results));
  });
}

void JourneyManager::RecordEvent(const Principal& principal, const v1::RecordEventRequest& request,
                                 Done<v1::RecordEventResponse> done) {
  if (!request.has_event()) {
    done(InvalidField("event", "is required"));
    return;
  }
  google::protobuf::RepeatedPtrField<v1::Event> one;
  *one.Add() = request.event();
  WriteEvents(principal.tenant, one, [done](absl::StatusOr<std::vector<v1::EventItemResult>> results) {
    if (!results.ok()) {
      done(results.status());
      return;
    }
    v1::EventItemResult& r = results->front();
    if (r.outcome() == cx::common::v1::ITEM_OUTCOME_REJECTED) {
      std::vector<FieldViolation> v;
      for (const auto& fv : r.error().field_violations()) v.push_back({"event." + fv.field(), fv.description()});
      done(shared::WithViolations(static_cast<absl::StatusCode>(r.error().code()), v));
      return;
    }
    v1::RecordEventResponse response;
    response.set_outcome(r.outcome());
    *response.mutable_event() = std::move(*r.mutable_event());
    done(std::move(response));
  });
}

void JourneyManager::BatchRecordEvents(const Principal& principal, const v1::BatchRecordEventsRequest& request,
                                       Done<v1::BatchRecordEventsResponse> done) {
  if (request.events_size() == 0) {
    done(InvalidField("events", "must hold at least one event"));
    return;
  }
  if (request.events_size() > limits::kMaxBatchEvents) {
    done(InvalidField("events", absl::StrCat("holds ", request.events_size(), " events; the most is ",
                                             limits::kMaxBatchEvents)));
    return;
  }
  WriteEvents(principal.tenant, request.events(), [done](absl::StatusOr<std::vector<v1::EventItemResult>> results) {
    if (!results.ok()) {
      done(results.status());
      return;
    }
    v1::BatchRecordEventsResponse response;
    shared::FillBatchResponse(*std::move(results), "events", &response);
    done(std::move(response));
  });
}

std::unique_ptr<shared::ImportSession<v1::ImportEventsRequest, v1::ImportEventsResponse>>
JourneyManager::StartImport(const Principal& principal) {
  std::string tenant = principal.tenant;
  using Session = shared::ItemImportSession<v1::ImportEventsRequest, v1::ImportEventsResponse, v1::Event,
                                            v1::EventItemResult>;
  return std::make_unique<Session>(
      [this, tenant](const google::protobuf::RepeatedPtrField<v1::Event>& events, Session::ResultsDone done) {
        WriteEvents(tenant, events, std::move(done));
      },
      [](v1::ImportEventsRequest& r) { return std::move(*r.mutable_event()); }, "event");
}

// ---- customers ----

absl::StatusOr<v1::UpsertCustomerResponse> JourneyManager::UpsertCustomer(const Principal& principal,
                                                                          const v1::UpsertCustomerRequest& request) {
  const absl::Time now = options_.clock();
  std::vector<FieldViolation> v;
  if (!request.customer_id().empty() && !IsId(request.customer_id())) v.push_back({"customer_id", kIdentifierRule});
  if (request.customer_id().empty() && request.crm_references_size() == 0) {
    v.push_back({"customer_id", "customer_id or at least one crm_references entry is required"});
  }
  if (static_cast<size_t>(request.crm_references_size()) > limits::kMaxCrmReferences) {
    v.push_back({"crm_references", absl::StrCat("holds ", request.crm_references_size(), " references; the most is ",
                                                limits::kMaxCrmReferences)});
  } else {
    std::set<std::pair<std::string, std::string>> seen;
    for (int i = 0; i < request.crm_references_size(); ++i) {
      const auto& ref = request.crm_references(i);
      const std::string prefix = absl::StrCat("crm_references[", i, "].");
      shared::CheckCrmReference(ref, prefix, &v);
      if (!seen.insert({ref.system(), ref.id()}).second) {
        v.push_back({absl::StrCat("crm_references[", i, "]"), "repeats an earlier reference"});
      }
    }
  }
  CheckTraits(request.traits(), now, "traits.", &v);
  if (request.source_system().empty()) v.push_back({"source_system", "is required (the sending connector, e.g. salesforce)"});
  else if (!shared::IsCrmSystem(request.source_system())) v.push_back({"source_system", "must be 1 to 32 characters of [a-z0-9_-]"});
  if (!request.has_source_updated_at()) {
    v.push_back({"source_updated_at", "is required (the record's updated-at in the source system)"});
  } else {
    shared::CheckEventTime(request.source_updated_at(), now, limits::kMaxFutureSkew, "source_updated_at", &v);
  }
  if (absl::Status s = Invalid(v); !s.ok()) return s;

  CustomerUpsert upsert;
  upsert.tenant = principal.tenant;
  upsert.customer_id = request.customer_id();
  upsert.crm_references.assign(request.crm_references().begin(), request.crm_references().end());
  upsert.traits = request.traits();
  upsert.source_system = request.source_system();
  upsert.source_updated_us = TimeUtil::TimestampToMicroseconds(request.source_updated_at());
  upsert.now_us = absl::ToUnixMicros(now);
  auto result = repository_->UpsertCustomer(upsert);
  if (!result.ok()) return result.status();
  Committed();
  v1::UpsertCustomerResponse response;
  *response.mutable_customer() = std::move(result->customer);
  response.set_created(result->created);
  for (auto& t : result->stale_traits) response.add_stale_traits(std::move(t));
  return response;
}

absl::StatusOr<v1::GetCustomerResponse> JourneyManager::GetCustomer(const Principal& principal,
                                                                    const v1::GetCustomerRequest& request) {
  if (!IsId(request.customer_id())) return InvalidField("customer_id", kIdentifierRule);
  auto found = repository_->GetCustomer(principal.tenant, request.customer_id());
  if (!found.ok()) return found.status();
  // Another tenant's customer is reported exactly like a missing one.
  if (!found->has_value()) return absl::NotFoundError(absl::StrCat("customers/", request.customer_id(), " not found"));
  v1::GetCustomerResponse response;
  *response.mutable_customer() = std::move(**found);
  return response;
}

absl::StatusOr<v1::LookupCustomerResponse> JourneyManager::LookupCustomer(const Principal& principal,
                                                                          const v1::LookupCustomerRequest& request) {
  std::vector<FieldViolation> v;
  if (!request.has_crm_reference()) v.push_back({"crm_reference", "is required"});
  else shared::CheckCrmReference(request.crm_reference(), "crm_reference.", &v);
  if (absl::Status s = Invalid(v); !s.ok()) return s;
  auto holder = repository_->FindCrmHolder(principal.tenant, request.crm_reference());
  if (!holder.ok()) return holder.status();
  if (!holder->has_value()) return absl::NotFoundError("no customer holds that CRM reference");
  auto root = repository_->Resolve(principal.tenant, {IdentityKind::kCustomer, **holder});
  if (!root.ok()) return root.status();
  auto customer = repository_->GetCustomer(principal.tenant, root->id);
  if (!customer.ok()) return customer.status();
  if (!customer->has_value()) return absl::InternalError("a merge target is missing");
  v1::LookupCustomerResponse response;
  *response.mutable_customer() = std::move(**customer);
  response.set_holder_customer_id(**holder);
  return response;
}

absl::StatusOr<v1::ListCustomersResponse> JourneyManager::ListCustomers(const Principal& principal,
                                                                        const v1::ListCustomersRequest& request) {
  std::vector<FieldViolation> v;
  CheckPageSize(request.page_size(), &v);
  if (!cx::common::v1::JourneyStage_IsValid(request.current_stage())) {
    v.push_back({"current_stage", absl::StrCat("has unknown value ", request.current_stage())});
  }
  if (!request.segment().empty() && !IsLabel(request.segment())) v.push_back({"segment", "must be 1 to 64 characters of [A-Za-z0-9_.:/-]"});
  if (!request.crm_system().empty() && !shared::IsCrmSystem(request.crm_system())) {
    v.push_back({"crm_system", "must be 1 to 32 characters of [a-z0-9_-]"});
  }
  if (request.has_updated_since() && !shared::IsValidTimestamp(request.updated_since())) {
    v.push_back({"updated_since", "is not a valid timestamp"});
  }
  if (absl::Status s = Invalid(v); !s.ok()) return s;
  const std::string fingerprint = shared::FilterFingerprint(request);

  CustomerQuery query;
  query.tenant = principal.tenant;
  if (!request.page_token().empty()) {
    auto position = page_tokens_.DecodePosition(request.page_token(), principal.tenant, fingerprint);
    if (!position.ok()) return position.status();
    query.after_customer_id = position->key;
  }
  query.current_stage = request.current_stage();
  query.segment = request.segment();
  query.crm_system = request.crm_system();
  if (request.has_updated_since()) query.updated_since_us = TimeUtil::TimestampToMicroseconds(request.updated_since());
  query.include_merged = request.include_merged();
  const int page_size = request.page_size() == 0 ? limits::kDefaultCustomerPageSize : request.page_size();
  query.limit = page_size + 1;
  auto rows = repository_->ListCustomers(query);
  if (!rows.ok()) return rows.status();
  v1::ListCustomersResponse response;
  const bool more = static_cast<int>(rows->size()) > page_size;
  if (more) rows->resize(page_size);
  for (auto& c : *rows) *response.add_customers() = std::move(c);
  if (more) {
    shared::PagePosition position;
    position.key = response.customers(response.customers_size() - 1).customer_id();
    response.set_next_page_token(page_tokens_.EncodePosition(principal.tenant, fingerprint, position));
  }
  return response;
}

// ---- identities ----

absl::StatusOr<v1::MergeCustomersResponse> JourneyManager::MergeCustomers(const Principal& principal,
                                                                          const v1::MergeCustomersRequest& request) {
  std::vector<FieldViolation> v;
  CheckIdentity(request.source(), "source", &v);
  if (request.target_customer_id().empty()) v.push_back({"target_customer_id", "is required"});
  else if (!IsId(request.target_customer_id())) v.push_back({"target_customer_id", kIdentifierRule});
  if (request.source().kind_case() == v1::Identity::kCustomerId &&
      request.source().customer_id() == request.target_customer_id()) {
    v.push_back({"source.customer_id", "must differ from target_customer_id"});
  }
  if (request.reason().empty()) v.push_back({"reason", "is required (why, for the audit record)"});
  else CheckText(request.reason(), limits::kMaxReasonChars, "reason", &v);
  if (absl::Status s = Invalid(v); !s.ok()) return s;
  MergeInput input;
  input.tenant = principal.tenant;
  input.source = IdentityKey::Of(request.source());
  input.target_customer_id = request.target_customer_id();
  input.reason = request.reason();
  input.actor = principal.actor;
  input.now_us = absl::ToUnixMicros(options_.clock());
  auto merge = repository_->Merge(input);
  if (!merge.ok()) return merge.status();
  Committed();
  v1::MergeCustomersResponse response;
  *response.mutable_merge() = *std::move(merge);
  return response;
}

absl::StatusOr<v1::UnmergeCustomersResponse> JourneyManager::UnmergeCustomers(
    const Principal& principal, const v1::UnmergeCustomersRequest& request) {
  std::vector<FieldViolation> v;
  int64_t merge_id = 0;
  if (!absl::SimpleAtoi(request.merge_id(), &merge_id) || merge_id <= 0) {
    v.push_back({"merge_id", "must be the merge_id a merge returned"});
  }
  if (request.reason().empty()) v.push_back({"reason", "is required (why, for the audit record)"});
  else CheckText(request.reason(), limits::kMaxReasonChars, "reason", &v);
  if (absl::Status s = Invalid(v); !s.ok()) return s;
  UnmergeInput input;
  input.tenant = principal.tenant;
  input.merge_id = merge_id;
  input.reason = request.reason();
  input.actor = principal.actor;
  input.now_us = absl::ToUnixMicros(options_.clock());
  auto merge = repository_->Unmerge(input);
  if (!merge.ok()) return merge.status();
  Committed();
  v1::UnmergeCustomersResponse response;
  *response.mutable_merge() = *std::move(merge);
  return response;
}

// ---- erasure and access ----

absl::StatusOr<v1::EraseCustomerResponse> JourneyManager::EraseCustomer(const Principal& principal,
                                                                       const v1::EraseCustomerRequest& request) {
  if (request.customer_id().empty()) return InvalidField("customer_id", "is required");
  if (!IsId(request.customer_id())) return InvalidField("customer_id", kIdentifierRule);
  EraseInput input;
  input.tenant = principal.tenant;
  input.customer_id = request.customer_id();
  input.erasure = shared::NewErasure(principal.tenant, principal.actor, request.customer_id(), options_.clock());
  auto erased = repository_->EraseCustomer(input);
  if (!erased.ok()) return erased.status();
  if (!erased->erasure.already_erased()) Committed();
  v1::EraseCustomerResponse response;
  *response.mutable_erasure() = std::move(erased->erasure);
  for (auto& id : erased->merged_customer_ids) response.add_merged_customer_ids(std::move(id));
  return response;
}

absl::StatusOr<v1::ExportCustomerDataResponse> JourneyManager::ExportCustomerData(
    const Principal& principal, const v1::ExportCustomerDataRequest& request) {
  std::vector<FieldViolation> v;
  if (request.customer_id().empty()) v.push_back({"customer_id", "is required"});
  else if (!IsId(request.customer_id())) v.push_back({"customer_id", kIdentifierRule});
  if (request.page_size() < 0 || request.page_size() > limits::kMaxPageSize) {
    v.push_back({"page_size", absl::StrCat("must be between 0 and ", limits::kMaxPageSize)});
  }
  if (absl::Status s = Invalid(v); !s.ok()) return s;
  const std::string fingerprint = shared::FilterFingerprint(request);
  auto after = page_tokens_.DecodeAfter(request.page_token(), principal.tenant, fingerprint);
  if (!after.ok()) return after.status();
  const int page_size = request.page_size() == 0 ? limits::kDefaultExportPageSize : request.page_size();
  auto exported = repository_->ExportCustomer(principal.tenant, request.customer_id(), *after, page_size);
  if (!exported.ok()) return exported.status();
  v1::ExportCustomerDataResponse response;
  for (auto& c : exported->customers) *response.add_customers() = std::move(c);
  for (auto& id : exported->anonymous_ids) response.add_anonymous_ids(std::move(id));
  for (auto& e : exported->events) *response.add_events() = std::move(e);
  if (exported->more) {
    response.set_next_page_token(page_tokens_.Encode(principal.tenant, fingerprint, {exported->last_sequence}));
  }
  return response;
}

// ---- stages and journeys ----

absl::StatusOr<v1::SetStageMappingResponse> JourneyManager::SetStageMapping(const Principal& principal,
                                                                            const v1::SetStageMappingRequest& request) {
  std::vector<FieldViolation> v;
  if (static_cast<size_t>(request.overrides_size()) > limits::kMaxStageOverrides) {
    v.push_back({"overrides", absl::StrCat("holds ", request.overrides_size(), " entries; the most is ",
                                           limits::kMaxStageOverrides)});
  }
  StageOverrides overrides;
  for (const auto& [type, stage] : request.overrides()) overrides[type] = stage;
  for (const auto& [type, stage] : overrides) {
    const std::string path = absl::StrCat("overrides[", shared::IsValidUtf8(type) ? type : "?", "]");
    if (!IsEventType(type)) v.push_back({path, "key must be an event type: [a-z0-9_.], starting with a letter"});
    else if (!cx::common::v1::JourneyStage_IsValid(stage)) v.push_back({path, absl::StrCat("has unknown stage ", stage)});
  }
  if (absl::Status s = Invalid(v); !s.ok()) return s;
  if (absl::Status s = repository_->SetStageOverrides(principal.tenant, overrides); !s.ok()) return s;
  v1::SetStageMappingResponse response;
  for (auto& e : EffectiveStageMapping(overrides)) *response.add_entries() = std::move(e);
  return response;
}

absl::StatusOr<v1::GetStageMappingResponse> JourneyManager::GetStageMapping(const Principal& principal,
                                                                            const v1::GetStageMappingRequest&) {
  auto overrides = repository_->GetStageOverrides(principal.tenant);
  if (!overrides.ok()) return overrides.status();
  v1::GetStageMappingResponse response;
  for (auto& e : EffectiveStageMapping(*overrides)) *response.add_entries() = std::move(e);
  return response;
}

absl::StatusOr<v1::GetJourneyResponse> JourneyManager::GetJourney(const Principal& principal,
                                                                  const v1::GetJourneyRequest& request) {
  std::vector<FieldViolation> v;
  CheckIdentity(request.identity(), "identity", &v);
  CheckPageSize(request.page_size(), &v);
  if (absl::Status s = Invalid(v); !s.ok()) return s;
  const IdentityKey asked = IdentityKey::Of(request.identity());
  const std::string fingerprint =
      shared::Sha256Hex(absl::StrCat(static_cast<int>(asked.kind), ":", asked.id));
  TimelineQuery query;
  query.tenant = principal.tenant;
  if (!request.page_token().empty()) {
    auto position = page_tokens_.DecodePosition(request.page_token(), principal.tenant, fingerprint);
    if (!position.ok()) return position.status();
    if (position->numbers.size() != 1) return InvalidField("page_token", "is not a token this server issued");
    query.after = TimelinePosition{position->numbers[0], position->key};
  }
  auto owner = repository_->Resolve(principal.tenant, asked);
  if (!owner.ok()) return owner.status();
  auto exists = repository_->IdentityExists(principal.tenant, *owner);
  if (!exists.ok()) return exists.status();
  // Another tenant's customer is reported exactly like a missing one.
  if (!*exists) return absl::NotFoundError("no customer or visitor with that id");
  query.owner = *owner;
  const int page_size = request.page_size() == 0 ? limits::kDefaultJourneyPageSize : request.page_size();
  query.limit = page_size + 1;
  auto timeline = repository_->GetTimeline(query);
  if (!timeline.ok()) return timeline.status();

  v1::GetJourneyResponse response;
  *response.mutable_identity() = owner->ToProto();
  SummarizeJourney(timeline->points, options_.clock(), &response);
  response.set_total_events(timeline->total_events);
  const bool more = static_cast<int>(timeline->page.size()) > page_size;
  if (more) timeline->page.resize(page_size);
  for (auto& e : timeline->page) *response.add_events() = std::move(e);
  if (more) {
    const v1::Event& last = response.events(response.events_size() - 1);
    shared::PagePosition position{{TimeUtil::TimestampToMicroseconds(last.event_time())}, last.event_id()};
    response.set_next_page_token(page_tokens_.EncodePosition(principal.tenant, fingerprint, position));
  }
  return response;
}

// ---- change feed ----

absl::StatusOr<v1::ListChangesResponse> JourneyManager::ListChanges(const Principal& principal,
                                                                    const v1::ListChangesRequest& request) {
  return shared::ListChangesPage<v1::ListChangesRequest, v1::ListChangesResponse>(
      principal, request, [this](const std::optional<std::string>& scope, int64_t after, int limit) {
        return repository_->ListChanges(scope, after, limit);
      });
}

absl::StatusOr<std::optional<std::string>> JourneyManager::WatchScope(const Principal& principal,
                                                                       const v1::WatchChangesRequest& request) {
  return shared::WatchScope(principal, request);
}

}  // namespace cx::journey
