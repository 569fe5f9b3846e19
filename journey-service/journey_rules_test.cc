// Unit tests of the storage-free rules: stage resolution, clock-skew
// correction, per-trait last-writer-wins, and the journey summary.
#include "journey-service/journey_rules.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

namespace cx::journey {
namespace {

using cx::common::v1::JourneyStage;
using google::protobuf::util::TimeUtil;

TEST(StageRules, ExplicitStageWinsThenTheTenantsOverrideThenTheDefault) {
  StageOverrides overrides{{"page_view", 0}, {"webinar_attended", 2}};
  EXPECT_EQ(ResolveStage({}, "page_view", cx::common::v1::JOURNEY_STAGE_UNSPECIFIED).first,
            cx::common::v1::JOURNEY_STAGE_AWARENESS);
  auto removed = ResolveStage(overrides, "page_view", cx::common::v1::JOURNEY_STAGE_UNSPECIFIED);
  EXPECT_EQ(removed.first, cx::common::v1::JOURNEY_STAGE_UNSPECIFIED);
  EXPECT_EQ(removed.second, v1::STAGE_ORIGIN_NONE);
  EXPECT_EQ(ResolveStage(overrides, "webinar_attended", cx::common::v1::JOURNEY_STAGE_UNSPECIFIED).first,
            cx::common::v1::JOURNEY_STAGE_CONSIDERATION);
  auto explicit_stage = ResolveStage(overrides, "page_view", cx::common::v1::JOURNEY_STAGE_ADVOCACY);
  EXPECT_EQ(explicit_stage.first, cx::common::v1::JOURNEY_STAGE_ADVOCACY);
  EXPECT_EQ(explicit_stage.second, v1::STAGE_ORIGIN_EXPLICIT);
  // Every default maps to a real stage, and the effective mapping marks overrides.
  for (const auto& [type, stage] : DefaultStageMapping()) EXPECT_TRUE(stage >= 1 && stage <= 5) << type;
  bool saw_override = false;
  for (const auto& e : EffectiveStageMapping(overrides)) {
    if (e.event_type() == "page_view") {
      EXPECT_FALSE(e.is_default());
      EXPECT_EQ(e.stage(), cx::common::v1::JOURNEY_STAGE_UNSPECIFIED);
      saw_override = true;
    }
  }
  EXPECT_TRUE(saw_override);
}

TEST(ClockSkew, ASmallDifferenceIsLatencyAndABigOneIsCorrected) {
  const absl::Time received = absl::FromUnixSeconds(1'700'000'000);
  // Client clock right (30 s of queueing on a phone): kept.
  auto [kept, corrected] = CorrectEventTime(received - absl::Minutes(5), received - absl::Seconds(30), received);
  EXPECT_EQ(kept, received - absl::Minutes(5));
  EXPECT_FALSE(corrected);
  // Client clock two hours ahead: the event happened 5 minutes before it was sent.
  auto [fixed, was_corrected] =
      CorrectEventTime(received + absl::Hours(2) - absl::Minutes(5), received + absl::Hours(2), received);
  EXPECT_EQ(fixed, received - absl::Minutes(5));
  EXPECT_TRUE(was_corrected);
  // Without sent_at nothing can be known.
  EXPECT_FALSE(CorrectEventTime(received + absl::Hours(2), std::nullopt, received).second);
}

CustomerUpsert U(const std::string& system, int64_t updated_us) {
  CustomerUpsert u;
  u.tenant = "acme";
  u.customer_id = "c1";
  u.source_system = system;
  u.source_updated_us = updated_us;
  u.now_us = 42;
  return u;
}

TEST(UpsertRule, EachTraitIsLastWriterWinsBySourceUpdatedAtThenSystem) {
  v1::Customer c;
  CustomerUpsert a = U("salesforce", 100);
  a.traits.set_name("Ana");
  a.traits.set_segment("smb");
  (*a.traits.mutable_custom())["tier"] = "gold";
  EXPECT_TRUE(ApplyUpsert(a, &c).changed);

  CustomerUpsert older = U("hubspot", 50);
  older.traits.set_name("Old");
  older.traits.set_plan("pro");
  UpsertOutcome o = ApplyUpsert(older, &c);
  EXPECT_TRUE(o.changed);
  EXPECT_EQ(o.stale_traits, std::vector<std::string>{"name"});
  EXPECT_EQ(c.traits().name(), "Ana");
  EXPECT_EQ(c.traits().plan(), "pro");

  // Same time: the greater system name wins, whichever arrives first.
  CustomerUpsert tie = U("zendesk", 100);
  tie.traits.set_segment("enterprise");
  EXPECT_TRUE(ApplyUpsert(tie, &c).changed);
  EXPECT_EQ(c.traits().segment(), "enterprise");
  CustomerUpsert tie_back = U("salesforce", 100);
  tie_back.traits.set_segment("smb");
  EXPECT_EQ(ApplyUpsert(tie_back, &c).stale_traits, std::vector<std::string>{"segment"});

  // The same write again is neither a change nor stale.
  UpsertOutcome again = ApplyUpsert(a, &c);
  EXPECT_EQ(again.stale_traits, std::vector<std::string>{"segment"});  // zendesk's is newer
  CustomerUpsert same = U("zendesk", 100);
  same.traits.set_segment("enterprise");
  UpsertOutcome repeat = ApplyUpsert(same, &c);
  EXPECT_FALSE(repeat.changed);
  EXPECT_TRUE(repeat.stale_traits.empty());

  // An empty custom value removes the trait when newer.
  CustomerUpsert remove = U("salesforce", 200);
  (*remove.traits.mutable_custom())["tier"] = "";
  EXPECT_TRUE(ApplyUpsert(remove, &c).changed);
  EXPECT_EQ(c.traits().custom().count("tier"), 0u);
  EXPECT_EQ(c.trait_versions().at("custom.tier").system(), "salesforce");
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(c.update_time()), 42);
}

TEST(UpsertRule, ReferencesAreAddedOnceAndDerivedIdsAreStable) {
  v1::Customer c;
  CustomerUpsert u = U("crm", 1);
  cx::common::v1::CrmReference ref;
  ref.set_system("hubspot");
  ref.set_id("12345");
  u.crm_references = {ref, ref};
  EXPECT_TRUE(ApplyUpsert(u, &c).changed);
  EXPECT_EQ(c.crm_references_size(), 1);
  EXPECT_FALSE(ApplyUpsert(u, &c).changed);
  EXPECT_EQ(DerivedCustomerId("acme", ref), DerivedCustomerId("acme", ref));
  EXPECT_NE(DerivedCustomerId("acme", ref), DerivedCustomerId("globex", ref));
  EXPECT_EQ(DerivedCustomerId("acme", ref).size(), 4u + 24u);
}

TEST(JourneySummary, TransitionsDwellAndCountsFollowEventTime) {
  const int64_t m = 60'000'000;
  std::vector<EventPoint> points = {
      {0 * m, "a", 1, 1},  // awareness
      {1 * m, "b", 0, 2},  // no stage
      {2 * m, "c", 1, 1},  // still awareness
      {5 * m, "d", 3, 6},  // purchase
      {9 * m, "e", 4, 5},  // retention
  };
  v1::GetJourneyResponse r;
  SummarizeJourney(points, absl::FromUnixMicros(19 * m), &r);
  ASSERT_EQ(r.transitions_size(), 3);
  EXPECT_EQ(r.transitions(0).from_stage(), cx::common::v1::JOURNEY_STAGE_UNSPECIFIED);
  EXPECT_EQ(r.transitions(0).to_stage(), cx::common::v1::JOURNEY_STAGE_AWARENESS);
  EXPECT_EQ(TimeUtil::DurationToMicroseconds(r.transitions(0).dwell()), 5 * m);
  EXPECT_EQ(r.transitions(1).event_id(), "d");
  EXPECT_EQ(TimeUtil::DurationToMicroseconds(r.transitions(1).dwell()), 4 * m);
  EXPECT_TRUE(r.transitions(2).current());
  EXPECT_EQ(TimeUtil::DurationToMicroseconds(r.transitions(2).dwell()), 10 * m);
  EXPECT_EQ(r.current_stage(), cx::common::v1::JOURNEY_STAGE_RETENTION);
  ASSERT_EQ(r.stage_counts_size(), 3);
  EXPECT_EQ(r.stage_counts(0).events(), 2);  // awareness
  ASSERT_EQ(r.channel_counts_size(), 4);
  EXPECT_EQ(r.channel_counts(0).events(), 2);  // web
  EXPECT_EQ(r.total_events(), 5);
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(r.last_event_time()), 9 * m);
}

}  // namespace
}  // namespace cx::journey
