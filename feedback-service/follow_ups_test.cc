#include "feedback-service/follow_ups.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shared/status.h"

namespace cx::feedback {
namespace {

using ::testing::ElementsAre;

const absl::Time kNow = absl::FromUnixSeconds(1'750'000'000);

v1::Feedback Scored(v1::FeedbackKind kind, int score, double sentiment = 0.5, std::vector<std::string> topics = {}) {
  v1::Feedback f;
  f.set_customer_id("c1");
  f.set_kind(kind);
  f.set_score(score);
  f.set_comment("words");
  f.mutable_sentiment()->set_score(sentiment);
  for (auto& t : topics) f.add_topics(t);
  return f;
}

TEST(FollowUpRulesTest, DefaultsOpenCasesForUnhappyCustomersOnly) {
  const v1::FollowUpRules rules = DefaultFollowUpRules();
  EXPECT_TRUE(ValidateFollowUpRules(rules).ok());
  for (int score = 0; score <= 10; ++score) {
    EXPECT_EQ(FollowUpFor(Scored(v1::FEEDBACK_KIND_NPS, score), rules, kNow).has_value(), score <= 6) << score;
  }
  for (int score = 1; score <= 5; ++score) {
    EXPECT_EQ(FollowUpFor(Scored(v1::FEEDBACK_KIND_CSAT, score), rules, kNow).has_value(), score <= 2) << score;
  }
  for (int score = 1; score <= 7; ++score) {  // 7 = very easy
    EXPECT_EQ(FollowUpFor(Scored(v1::FEEDBACK_KIND_CES, score), rules, kNow).has_value(), score <= 3) << score;
  }
  // A happy score with a very negative comment opens a HIGH case.
  auto angry = FollowUpFor(Scored(v1::FEEDBACK_KIND_NPS, 9, -0.8), rules, kNow);
  ASSERT_TRUE(angry.has_value());
  EXPECT_THAT(angry->reasons(), ElementsAre("negative_comment"));
  EXPECT_EQ(angry->priority(), v1::FOLLOW_UP_PRIORITY_HIGH);
  // Without a comment there is no sentiment to match.
  v1::Feedback silent = Scored(v1::FEEDBACK_KIND_NPS, 9);
  silent.clear_sentiment();
  EXPECT_FALSE(FollowUpFor(silent, rules, kNow).has_value());
}

TEST(FollowUpRulesTest, OneCaseListsEveryMatchingRuleWithTheHighestPriority) {
  auto c = FollowUpFor(Scored(v1::FEEDBACK_KIND_NPS, 2, -0.9), DefaultFollowUpRules(), kNow);
  ASSERT_TRUE(c.has_value());
  EXPECT_THAT(c->reasons(), ElementsAre("nps_detractor", "negative_comment"));
  EXPECT_EQ(c->priority(), v1::FOLLOW_UP_PRIORITY_HIGH);
  EXPECT_EQ(c->status(), v1::FOLLOW_UP_STATUS_OPEN);
  EXPECT_EQ(c->version(), 1);
  EXPECT_EQ(c->customer_id(), "c1");
  EXPECT_EQ(c->score(), 2);
  EXPECT_EQ(c->create_time().seconds(), 1'750'000'000);
}

TEST(FollowUpRulesTest, EveryConditionOfARuleMustHold) {
  v1::FollowUpRules rules;
  auto* r = rules.add_rules();
  r->set_name("late_and_angry");
  r->set_topic("delivery");
  r->set_max_sentiment(-0.2);
  EXPECT_TRUE(ValidateFollowUpRules(rules).ok());
  EXPECT_TRUE(FollowUpFor(Scored(v1::FEEDBACK_KIND_CSAT, 5, -0.5, {"price", "delivery"}), rules, kNow).has_value());
  EXPECT_FALSE(FollowUpFor(Scored(v1::FEEDBACK_KIND_CSAT, 5, 0.5, {"delivery"}), rules, kNow).has_value());
  EXPECT_FALSE(FollowUpFor(Scored(v1::FEEDBACK_KIND_CSAT, 5, -0.5, {"price"}), rules, kNow).has_value());
  // No rules: no cases.
  EXPECT_FALSE(FollowUpFor(Scored(v1::FEEDBACK_KIND_NPS, 0, -1), v1::FollowUpRules(), kNow).has_value());
}

TEST(FollowUpRulesTest, ValidationNamesTheField) {
  v1::FollowUpRules rules;
  auto* a = rules.add_rules();
  a->set_name("bad name");
  a->set_max_score(3);  // no kind
  auto* b = rules.add_rules();
  b->set_name("b");
  b->set_kind(v1::FEEDBACK_KIND_CSAT);
  b->set_max_score(9);
  b->set_max_sentiment(2);
  auto* c = rules.add_rules();
  c->set_name("b");  // repeated; and no condition
  std::vector<std::string> fields;
  for (const auto& v : shared::FieldViolations(ValidateFollowUpRules(rules))) fields.push_back(v.field);
  EXPECT_THAT(fields, ElementsAre("rules[0].name", "rules[0].kind", "rules[1].max_score", "rules[1].max_sentiment",
                                  "rules[2].name", "rules[2]"));
}

v1::FollowUp OpenCase() {
  auto c = FollowUpFor(Scored(v1::FEEDBACK_KIND_NPS, 3), DefaultFollowUpRules(), kNow);
  c->set_name("followups/7");
  return *c;
}

v1::UpdateFollowUpRequest Move(v1::FollowUpStatus status, v1::FollowUpOutcome outcome = v1::FOLLOW_UP_OUTCOME_UNSPECIFIED) {
  v1::UpdateFollowUpRequest r;
  r.set_name("followups/7");
  r.set_status(status);
  r.set_outcome(outcome);
  return r;
}

TEST(FollowUpStateTest, OpenToInProgressToResolvedWithTimeToClose) {
  v1::FollowUp c = OpenCase();
  auto start = Move(v1::FOLLOW_UP_STATUS_IN_PROGRESS);
  start.set_assignee("agent-1");
  start.set_note("Calling the customer today");
  ASSERT_TRUE(ValidateFollowUpUpdate(start).ok());
  ASSERT_TRUE(ApplyFollowUpUpdate(start, "token:abc", kNow + absl::Minutes(5), &c).ok());
  EXPECT_EQ(c.status(), v1::FOLLOW_UP_STATUS_IN_PROGRESS);
  EXPECT_EQ(c.assignee(), "agent-1");
  ASSERT_EQ(c.notes_size(), 1);
  EXPECT_EQ(c.notes(0).author(), "token:abc");
  EXPECT_EQ(c.version(), 2);
  auto done = Move(v1::FOLLOW_UP_STATUS_RESOLVED, v1::FOLLOW_UP_OUTCOME_RESOLVED);
  done.set_version(2);
  ASSERT_TRUE(ValidateFollowUpUpdate(done).ok());
  ASSERT_TRUE(ApplyFollowUpUpdate(done, "token:abc", kNow + absl::Hours(3), &c).ok());
  EXPECT_EQ(c.status(), v1::FOLLOW_UP_STATUS_RESOLVED);
  EXPECT_EQ(c.outcome(), v1::FOLLOW_UP_OUTCOME_RESOLVED);
  EXPECT_EQ(c.time_to_close().seconds(), 3 * 3600);
  EXPECT_EQ(c.resolve_time().seconds(), 1'750'000'000 + 3 * 3600);
  EXPECT_EQ(c.version(), 3);
}

TEST(FollowUpStateTest, IllegalMovesAreRefusedAndChangeNothing) {
  v1::FollowUp c = OpenCase();
  const v1::FollowUp before = c;
  // OPEN -> RESOLVED skips IN_PROGRESS.
  auto skip = Move(v1::FOLLOW_UP_STATUS_RESOLVED, v1::FOLLOW_UP_OUTCOME_NOT_REACHED);
  EXPECT_EQ(ApplyFollowUpUpdate(skip, "a", kNow, &c).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(c.SerializeAsString(), before.SerializeAsString());
  ASSERT_TRUE(ApplyFollowUpUpdate(Move(v1::FOLLOW_UP_STATUS_IN_PROGRESS), "a", kNow, &c).ok());
  ASSERT_TRUE(ApplyFollowUpUpdate(Move(v1::FOLLOW_UP_STATUS_RESOLVED, v1::FOLLOW_UP_OUTCOME_UNRESOLVED), "a", kNow, &c).ok());
  // A resolved case no longer changes, not even by a note.
  v1::UpdateFollowUpRequest note;
  note.set_note("late note");
  EXPECT_EQ(ApplyFollowUpUpdate(note, "a", kNow, &c).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ApplyFollowUpUpdate(Move(v1::FOLLOW_UP_STATUS_IN_PROGRESS), "a", kNow, &c).code(),
            absl::StatusCode::kFailedPrecondition);
  // Back to OPEN and bad outcomes are refused before the case is read.
  EXPECT_EQ(shared::FieldViolations(ValidateFollowUpUpdate(Move(v1::FOLLOW_UP_STATUS_OPEN))).front().field, "status");
  EXPECT_EQ(shared::FieldViolations(ValidateFollowUpUpdate(Move(v1::FOLLOW_UP_STATUS_RESOLVED))).front().field,
            "outcome");
  EXPECT_EQ(shared::FieldViolations(
                ValidateFollowUpUpdate(Move(v1::FOLLOW_UP_STATUS_IN_PROGRESS, v1::FOLLOW_UP_OUTCOME_RESOLVED)))
                .front()
                .field,
            "outcome");
  EXPECT_EQ(ValidateFollowUpUpdate(Move(v1::FOLLOW_UP_STATUS_UNSPECIFIED)).code(), absl::StatusCode::kInvalidArgument);
}

TEST(FollowUpStateTest, AStaleVersionIsAborted) {
  v1::FollowUp c = OpenCase();
  auto r = Move(v1::FOLLOW_UP_STATUS_IN_PROGRESS);
  r.set_version(5);
  EXPECT_EQ(ApplyFollowUpUpdate(r, "a", kNow, &c).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(c.status(), v1::FOLLOW_UP_STATUS_OPEN);
  r.set_version(1);
  EXPECT_TRUE(ApplyFollowUpUpdate(r, "a", kNow, &c).ok());
}

TEST(FollowUpStateTest, AssignAndUnassign) {
  v1::FollowUp c = OpenCase();
  v1::UpdateFollowUpRequest assign;
  assign.set_assignee("agent-2");
  ASSERT_TRUE(ApplyFollowUpUpdate(assign, "a", kNow, &c).ok());
  EXPECT_EQ(c.assignee(), "agent-2");
  EXPECT_EQ(c.status(), v1::FOLLOW_UP_STATUS_OPEN);
  v1::UpdateFollowUpRequest clear;
  clear.set_clear_assignee(true);
  ASSERT_TRUE(ApplyFollowUpUpdate(clear, "a", kNow, &c).ok());
  EXPECT_TRUE(c.assignee().empty());
  v1::UpdateFollowUpRequest both = assign;
  both.set_clear_assignee(true);
  EXPECT_EQ(shared::FieldViolations(ValidateFollowUpUpdate(both)).front().field, "clear_assignee");
  v1::UpdateFollowUpRequest spaced;
  spaced.set_assignee("two words");
  EXPECT_EQ(shared::FieldViolations(ValidateFollowUpUpdate(spaced)).front().field, "assignee");
  v1::UpdateFollowUpRequest long_note;
  long_note.set_note(std::string(2001, 'x'));
  EXPECT_EQ(shared::FieldViolations(ValidateFollowUpUpdate(long_note)).front().field, "note");
}

}  // namespace
}  // namespace cx::feedback
