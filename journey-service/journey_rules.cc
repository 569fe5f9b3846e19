#include "journey-service/journey_rules.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "shared/auth.h"
#include "shared/proto_util.h"

namespace cx::journey {
namespace {

using cx::common::v1::JourneyStage;
using google::protobuf::util::TimeUtil;

// (source updated-at, source system): the order of trait versions.
bool Newer(int64_t updated_us, const std::string& system, const v1::TraitVersion& stored) {
  const int64_t stored_us = TimeUtil::TimestampToMicroseconds(stored.updated_at());
  if (updated_us != stored_us) return updated_us > stored_us;
  return system > stored.system();
}

}  // namespace

const std::map<std::string, int>& DefaultStageMapping() {
  static const auto* mapping = new std::map<std::string, int>{
      {"ad_click", cx::common::v1::JOURNEY_STAGE_AWARENESS},
      {"page_view", cx::common::v1::JOURNEY_STAGE_AWARENESS},
      {"social_mention", cx::common::v1::JOURNEY_STAGE_AWARENESS},
      {"newsletter_signup", cx::common::v1::JOURNEY_STAGE_AWARENESS},
      {"product_view", cx::common::v1::JOURNEY_STAGE_CONSIDERATION},
      {"store_visit", cx::common::v1::JOURNEY_STAGE_CONSIDERATION},
      {"cart_add", cx::common::v1::JOURNEY_STAGE_CONSIDERATION},
      {"demo_requested", cx::common::v1::JOURNEY_STAGE_CONSIDERATION},
      {"quote_requested", cx::common::v1::JOURNEY_STAGE_CONSIDERATION},
      {"trial_started", cx::common::v1::JOURNEY_STAGE_CONSIDERATION},
      {"order_placed", cx::common::v1::JOURNEY_STAGE_PURCHASE},
      {"invoice_paid", cx::common::v1::JOURNEY_STAGE_PURCHASE},
      {"subscription_started", cx::common::v1::JOURNEY_STAGE_PURCHASE},
      {"delivery_completed", cx::common::v1::JOURNEY_STAGE_RETENTION},
      {"login", cx::common::v1::JOURNEY_STAGE_RETENTION},
      {"support_ticket_opened", cx::common::v1::JOURNEY_STAGE_RETENTION},
      {"support_ticket_resolved", cx::common::v1::JOURNEY_STAGE_RETENTION},
      {"subscription_renewed", cx::common::v1::JOURNEY_STAGE_RETENTION},
      {"refund_issued", cx::common::v1::JOURNEY_STAGE_RETENTION},
      {"review_posted", cx::common::v1::JOURNEY_STAGE_ADVOCACY},
      {"referral_sent", cx::common::v1::JOURNEY_STAGE_ADVOCACY},
  };
  return *mapping;
}

std::vector<v1::StageMappingEntry> EffectiveStageMapping(const StageOverrides& overrides) {
  std::map<std::string, std::pair<int, bool>> merged;
  for (const auto& [type, stage] : DefaultStageMapping()) merged[type] = {stage, true};
  for (const auto& [type, stage] : overrides) merged[type] = {stage, false};
  std::vector<v1::StageMappingEntry> out;
  for (const auto& [type, entry] : merged) {
    v1::StageMappingEntry e;
    e.set_event_type(type);
    e.set_stage(static_cast<JourneyStage>(entry.first));
    e.set_is_default(entry.second);
    out.push_back(std::move(e));
  }
  return out;
}

std::pair<JourneyStage, v1::StageOrigin> ResolveStage(const StageOverrides& overrides, const std::string& type,
                                                      JourneyStage explicit_stage) {
  if (explicit_stage != cx::common::v1::JOURNEY_STAGE_UNSPECIFIED) return {explicit_stage, v1::STAGE_ORIGIN_EXPLICIT};
  int stage = 0;
  if (auto it = overrides.find(type); it != overrides.end()) {
    stage = it->second;
  } else if (auto d = DefaultStageMapping().find(type); d != DefaultStageMapping().end()) {
    stage = d->second;
  }
  if (stage == 0) return {cx::common::v1::JOURNEY_STAGE_UNSPECIFIED, v1::STAGE_ORIGIN_NONE};
  return {static_cast<JourneyStage>(stage), v1::STAGE_ORIGIN_MAPPING};
}

std::pair<absl::Time, bool> CorrectEventTime(absl::Time occurred_at, std::optional<absl::Time> sent_at,
                                             absl::Time received_at) {
  if (!sent_at) return {occurred_at, false};
  const absl::Duration skew = received_at - *sent_at;
  if (absl::AbsDuration(skew) <= limits::kClockSkewTolerance) return {occurred_at, false};
  return {received_at - (*sent_at - occurred_at), true};
}

UpsertOutcome ApplyUpsert(const CustomerUpsert& u, v1::Customer* c) {
  UpsertOutcome outcome;
  auto& versions = *c->mutable_trait_versions();
  // Writes one trait when the upsert's version is newer than the stored one.
  auto offer = [&](const std::string& trait, auto&& write) {
    auto it = versions.find(trait);
    if (it != versions.end() && !Newer(u.source_updated_us, u.source_system, it->second)) {
      // An equal version is the same write again, not a stale one.
      const bool same = TimeUtil::TimestampToMicroseconds(it->second.updated_at()) == u.source_updated_us &&
                        it->second.system() == u.source_system;
      if (!same) outcome.stale_traits.push_back(trait);
      return;
    }
    write();
    v1::TraitVersion& v = versions[trait];
    v.set_system(u.source_system);
    *v.mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(u.source_updated_us);
    outcome.changed = true;
  };
  const v1::Traits& in = u.traits;
  v1::Traits* out = c->mutable_traits();
  if (!in.name().empty()) offer("name", [&] { out->set_name(in.name()); });
  if (!in.email().empty()) offer("email", [&] { out->set_email(in.email()); });
  if (!in.phone().empty()) offer("phone", [&] { out->set_phone(in.phone()); });
  if (!in.segment().empty()) offer("segment", [&] { out->set_segment(in.segment()); });
  if (!in.plan().empty()) offer("plan", [&] { out->set_plan(in.plan()); });
  if (!in.country().empty()) offer("country", [&] { out->set_country(in.country()); });
  if (in.has_signup_time()) offer("signup_time", [&] { *out->mutable_signup_time() = in.signup_time(); });
  // Custom traits in key order, so the stale list is deterministic.
  std::map<std::string, std::string> custom(in.custom().begin(), in.custom().end());
  for (const auto& [key, value] : custom) {
    offer("custom." + key, [&, key = key, value = value] {
      if (value.empty()) out->mutable_custom()->erase(key);
      else (*out->mutable_custom())[key] = value;
    });
  }
  for (const auto& ref : u.crm_references) {
    bool present = false;
    for (const auto& have : c->crm_references()) {
      present = present || (have.system() == ref.system() && have.id() == ref.id());
    }
    if (!present) {
      *c->add_crm_references() = ref;
      outcome.changed = true;
    }
  }
  if (outcome.changed) *c->mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(u.now_us);
  return outcome;
}

std::string DerivedCustomerId(const std::string& tenant, const cx::common::v1::CrmReference& ref) {
  std::string key = absl::StrCat(tenant.size(), ":", tenant, "|", ref.system(), "|", ref.id());
  return "crm-" + shared::Sha256Hex(key).substr(0, 24);
}

void SummarizeJourney(const std::vector<EventPoint>& points, absl::Time now, v1::GetJourneyResponse* r) {
  std::map<int, int64_t> by_stage, by_channel;
  int current = 0;
  v1::StageTransition* open = nullptr;
  for (const EventPoint& p : points) {
    ++by_channel[p.channel];
    if (p.stage == 0) continue;
    ++by_stage[p.stage];
    if (p.stage == current) continue;
    if (open != nullptr) {
      *open->mutable_dwell() = TimeUtil::MicrosecondsToDuration(p.time_us - TimeUtil::TimestampToMicroseconds(open->entered_at()));
    }
    open = r->add_transitions();
    open->set_from_stage(static_cast<JourneyStage>(current));
    open->set_to_stage(static_cast<JourneyStage>(p.stage));
    *open->mutable_entered_at() = TimeUtil::MicrosecondsToTimestamp(p.time_us);
    open->set_event_id(p.event_id);
    current = p.stage;
  }
  if (open != nullptr) {
    open->set_current(true);
    const int64_t entered = TimeUtil::TimestampToMicroseconds(open->entered_at());
    *open->mutable_dwell() = TimeUtil::MicrosecondsToDuration(std::max<int64_t>(0, absl::ToUnixMicros(now) - entered));
  }
  r->set_current_stage(static_cast<JourneyStage>(current));
  for (const auto& [stage, n] : by_stage) {
    auto* c = r->add_stage_counts();
    c->set_stage(static_cast<JourneyStage>(stage));
    c->set_events(n);
  }
  for (const auto& [channel, n] : by_channel) {
    auto* c = r->add_channel_counts();
    c->set_channel(static_cast<cx::common::v1::Channel>(channel));
    c->set_events(n);
  }
  r->set_total_events(static_cast<int64_t>(points.size()));
  if (!points.empty()) {
    *r->mutable_first_event_time() = TimeUtil::MicrosecondsToTimestamp(points.front().time_us);
    *r->mutable_last_event_time() = TimeUtil::MicrosecondsToTimestamp(points.back().time_us);
  }
}

}  // namespace cx::journey
