// The domain rules of journey-service that do not need storage: the default
// event type -> stage mapping and how an event's stage is resolved, clock-skew
// correction, the per-trait last-writer-wins rule of customer upserts, and
// the stage transitions and counts of a timeline. Plain functions, unit-tested
// directly; the repository calls the first and third inside its transactions.
#ifndef CX_JOURNEY_JOURNEY_RULES_H_
#define CX_JOURNEY_JOURNEY_RULES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "cx/journey/v1/journey_service.pb.h"

namespace cx::journey {

namespace limits {
constexpr int kMaxBatchEvents = 500;
constexpr int kMaxPageSize = 1000;
constexpr int kDefaultCustomerPageSize = 50;
constexpr int kDefaultExportPageSize = 500;
constexpr int kDefaultJourneyPageSize = 100;
constexpr size_t kMaxIdLength = 128;
constexpr size_t kMaxEventTypeLength = 64;
constexpr size_t kMaxMapEntries = 50;
constexpr size_t kMaxMapKeyLength = 64;
constexpr size_t kMaxMapValueChars = 1024;
constexpr size_t kMaxCrmReferences = 20;
constexpr size_t kMaxNameChars = 200;
constexpr size_t kMaxEmailLength = 254;
constexpr size_t kMaxReasonChars = 500;
constexpr size_t kMaxStageOverrides = 200;
constexpr int64_t kMaxRevenueMinor = 1'000'000'000'000'000;  // 10^15 minor units
constexpr absl::Duration kMaxFutureSkew = absl::Minutes(5);
// A client clock further off than this (received_at - sent_at) is corrected.
constexpr absl::Duration kClockSkewTolerance = absl::Minutes(1);
// Events summarized per journey (transitions and counts).
constexpr int kMaxSummarizedEvents = 200'000;
}  // namespace limits

// Event type -> stage overrides of one tenant (stage 0 = no stage).
using StageOverrides = std::map<std::string, int>;

// The built-in mapping, sorted by type.
const std::map<std::string, int>& DefaultStageMapping();

// The effective mapping: defaults overridden by the tenant's entries.
std::vector<v1::StageMappingEntry> EffectiveStageMapping(const StageOverrides& overrides);

// An event's stage: its explicit stage, else the tenant's mapping of its type.
std::pair<cx::common::v1::JourneyStage, v1::StageOrigin> ResolveStage(const StageOverrides& overrides,
                                                                    const std::string& type,
                                                                    cx::common::v1::JourneyStage explicit_stage);

// Event time from the client's occurred_at and sent_at and our received_at:
// occurred_at, or received_at - (sent_at - occurred_at) when the client's
// clock is off by more than the tolerance. Returns (event_time, corrected).
std::pair<absl::Time, bool> CorrectEventTime(absl::Time occurred_at, std::optional<absl::Time> sent_at,
                                             absl::Time received_at);

// One customer upsert as the repository applies it.
struct CustomerUpsert {
  std::string tenant;
  std::string customer_id;  // resolved (given, found by reference, or derived)
  std::vector<cx::common::v1::CrmReference> crm_references;
  v1::Traits traits;
  std::string source_system;
  int64_t source_updated_us = 0;
  int64_t now_us = 0;
};

struct UpsertOutcome {
  bool changed = false;
  std::vector<std::string> stale_traits;
};

// Applies the traits of an upsert to a stored customer by the per-trait
// last-writer-wins rule: a trait is written when the upsert's version
// (source updated-at, then source system name) is greater than the stored
// trait's version. Equal versions change nothing (a retry is harmless).
// CRM references are added when missing. Sets update_time when changed.
UpsertOutcome ApplyUpsert(const CustomerUpsert& upsert, v1::Customer* customer);

// The id a customer created from a CRM reference gets: "crm-" and 24 hex
// digits of SHA-256 over tenant, system and id.
std::string DerivedCustomerId(const std::string& tenant, const cx::common::v1::CrmReference& ref);

// What the timeline summary needs of each event, in (event_time, event_id) order.
struct EventPoint {
  int64_t time_us;
  std::string event_id;
  int stage;
  int channel;
};

// Fills transitions, stage and channel counts, totals, first/last times and
// the current stage of `response` from the whole history.
void SummarizeJourney(const std::vector<EventPoint>& points, absl::Time now, v1::GetJourneyResponse* response);

}  // namespace cx::journey

#endif  // CX_JOURNEY_JOURNEY_RULES_H_
