#include "feedback-service/follow_ups.h"

#include <cmath>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "feedback-service/feedback_manager.h"
#include "google/protobuf/util/time_util.h"
#include "shared/proto_util.h"
#include "shared/status.h"
#include "shared/text.h"

namespace cx::feedback {
namespace {

using google::protobuf::util::TimeUtil;
using shared::FieldViolation;

bool Matches(const v1::FollowUpRule& rule, const v1::Feedback& f) {
  if (rule.kind() != v1::FEEDBACK_KIND_UNSPECIFIED && rule.kind() != f.kind()) return false;
  if (rule.has_max_score() && (!f.has_score() || f.score() > rule.max_score())) return false;
  if (rule.has_max_sentiment() && (!f.has_sentiment() || f.sentiment().score() > rule.max_sentiment())) return false;
  if (!rule.topic().empty()) {
    bool found = false;
    for (const auto& t : f.topics()) found = found || t == rule.topic();
    if (!found) return false;
  }
  return true;
}

}  // namespace

v1::FollowUpRules DefaultFollowUpRules() {
  v1::FollowUpRules rules;
  auto score_rule = [&](const char* name, v1::FeedbackKind kind, int max) {
    v1::FollowUpRule* r = rules.add_rules();
    r->set_name(name);
    r->set_kind(kind);
    r->set_max_score(max);
    r->set_priority(v1::FOLLOW_UP_PRIORITY_NORMAL);
  };
  score_rule("nps_detractor", v1::FEEDBACK_KIND_NPS, 6);
  score_rule("csat_low", v1::FEEDBACK_KIND_CSAT, 2);
  score_rule("ces_hard", v1::FEEDBACK_KIND_CES, 3);
  score_rule("star_low", v1::FEEDBACK_KIND_STAR_RATING, 2);
  v1::FollowUpRule* negative = rules.add_rules();
  negative->set_name("negative_comment");
  negative->set_max_sentiment(-0.5);
  negative->set_priority(v1::FOLLOW_UP_PRIORITY_HIGH);
  rules.set_defaults(true);
  return rules;
}

absl::Status ValidateFollowUpRules(const v1::FollowUpRules& rules) {
  std::vector<FieldViolation> v;
  if (rules.rules_size() > limits::kMaxFollowUpRules) {
    v.push_back({"rules", absl::StrCat("holds ", rules.rules_size(), " rules; the most is ", limits::kMaxFollowUpRules)});
  }
  std::set<std::string> names;
  for (int i = 0; i < rules.rules_size() && i < limits::kMaxFollowUpRules; ++i) {
    const v1::FollowUpRule& r = rules.rules(i);
    const std::string at = absl::StrCat("rules[", i, "].");
    if (!shared::IsLabel(r.name())) {
      v.push_back({at + "name", "must be 1 to 64 characters of [A-Za-z0-9_.:/-]"});
    } else if (!names.insert(r.name()).second) {
      v.push_back({at + "name", absl::StrCat("repeats the name ", r.name())});
    }
    if (!v1::FeedbackKind_IsValid(r.kind())) v.push_back({at + "kind", absl::StrCat("has unknown value ", r.kind())});
    if (r.has_max_score()) {
      int min = 0, max = 0;
      if (!ScoreRange(r.kind(), &min, &max)) {
        v.push_back({at + "kind", "must be a scored kind (NPS, CSAT, CES, STAR_RATING) with max_score"});
      } else if (r.max_score() < min || r.max_score() > max) {
        v.push_back({at + "max_score", absl::StrCat("must be between ", min, " and ", max, " for ",
                                                    v1::FeedbackKind_Name(r.kind()))});
      }
    }
    if (r.has_max_sentiment() && !(std::isfinite(r.max_sentiment()) && r.max_sentiment() >= -1 && r.max_sentiment() <= 1)) {
      v.push_back({at + "max_sentiment", "must be between -1 and 1"});
    }
    if (!r.topic().empty() && !shared::IsLabel(r.topic())) {
      v.push_back({at + "topic", "must be 1 to 64 characters of [A-Za-z0-9_.:/-]"});
    }
    if (!v1::FollowUpPriority_IsValid(r.priority())) {
      v.push_back({at + "priority", absl::StrCat("has unknown value ", r.priority())});
    }
    if (!r.has_max_score() && !r.has_max_sentiment() && r.topic().empty()) {
      v.push_back({at.substr(0, at.size() - 1), "needs at least one of max_score, max_sentiment, topic"});
    }
  }
  if (v.empty()) return absl::OkStatus();
  return shared::WithViolations(absl::StatusCode::kInvalidArgument, v);
}

std::optional<v1::FollowUp> FollowUpFor(const v1::Feedback& f, const v1::FollowUpRules& rules, absl::Time now) {
  v1::FollowUp out;
  for (const v1::FollowUpRule& rule : rules.rules()) {
    if (!Matches(rule, f)) continue;
    out.add_reasons(rule.name());
    const v1::FollowUpPriority p =
        rule.priority() == v1::FOLLOW_UP_PRIORITY_UNSPECIFIED ? v1::FOLLOW_UP_PRIORITY_NORMAL : rule.priority();
    if (p > out.priority()) out.set_priority(p);
  }
  if (out.reasons_size() == 0) return std::nullopt;
  out.set_customer_id(f.customer_id());
  if (f.has_crm_reference()) *out.mutable_crm_reference() = f.crm_reference();
  out.set_status(v1::FOLLOW_UP_STATUS_OPEN);
  *out.mutable_create_time() = shared::ToProtoTime(now);
  *out.mutable_update_time() = out.create_time();
  out.set_version(1);
  out.set_kind(f.kind());
  if (f.has_score()) out.set_score(f.score());
  out.set_comment(f.comment());
  if (f.has_sentiment()) *out.mutable_sentiment() = f.sentiment();
  out.set_channel(f.channel());
  out.set_touchpoint_id(f.touchpoint_id());
  return out;
}

absl::Status ValidateFollowUpUpdate(const v1::UpdateFollowUpRequest& r) {
  std::vector<FieldViolation> v;
  if (r.version() < 0) v.push_back({"version", "must not be negative"});
  if (!r.assignee().empty() && !shared::IsIdentifier(r.assignee(), limits::kMaxAssigneeLength)) {
    v.push_back({"assignee", "must be 1 to 128 printable ASCII characters without spaces"});
  }
  if (!r.assignee().empty() && r.clear_assignee()) v.push_back({"clear_assignee", "cannot be set with assignee"});
  if (!shared::IsValidUtf8(r.note())) {
    v.push_back({"note", "is not valid UTF-8"});
  } else if (shared::Utf8Length(r.note()) > limits::kMaxNoteChars) {
    v.push_back({"note", absl::StrCat("is longer than ", limits::kMaxNoteChars, " characters")});
  }
  if (!v1::FollowUpStatus_IsValid(r.status())) {
    v.push_back({"status", absl::StrCat("has unknown value ", r.status())});
  } else if (r.status() == v1::FOLLOW_UP_STATUS_OPEN) {
    v.push_back({"status", "cannot be set back to FOLLOW_UP_STATUS_OPEN"});
  }
  if (!v1::FollowUpOutcome_IsValid(r.outcome())) {
    v.push_back({"outcome", absl::StrCat("has unknown value ", r.outcome())});
  } else if (r.status() == v1::FOLLOW_UP_STATUS_RESOLVED && r.outcome() == v1::FOLLOW_UP_OUTCOME_UNSPECIFIED) {
    v.push_back({"outcome", "is required to resolve a case"});
  } else if (r.status() != v1::FOLLOW_UP_STATUS_RESOLVED && r.outcome() != v1::FOLLOW_UP_OUTCOME_UNSPECIFIED) {
    v.push_back({"outcome", "is set only with status FOLLOW_UP_STATUS_RESOLVED"});
  }
  if (r.assignee().empty() && !r.clear_assignee() && r.note().empty() &&
      r.status() == v1::FOLLOW_UP_STATUS_UNSPECIFIED) {
    v.push_back({"status", "the update changes nothing: set assignee, clear_assignee, note or status"});
  }
  if (v.empty()) return absl::OkStatus();
  return shared::WithViolations(absl::StatusCode::kInvalidArgument, v);
}

absl::Status ApplyFollowUpUpdate(const v1::UpdateFollowUpRequest& r, const std::string& actor, absl::Time now,
                                 v1::FollowUp* c) {
  if (r.version() != 0 && r.version() != c->version()) {
    return absl::AbortedError(
        absl::StrCat(c->name(), " is at version ", c->version(), ", not ", r.version(), "; read it again"));
  }
  if (c->status() == v1::FOLLOW_UP_STATUS_RESOLVED) {
    return absl::FailedPreconditionError(absl::StrCat(c->name(), " is resolved and can no longer change"));
  }
  if (r.status() != v1::FOLLOW_UP_STATUS_UNSPECIFIED && r.status() != c->status()) {
    const bool allowed =
        (c->status() == v1::FOLLOW_UP_STATUS_OPEN && r.status() == v1::FOLLOW_UP_STATUS_IN_PROGRESS) ||
        (c->status() == v1::FOLLOW_UP_STATUS_IN_PROGRESS && r.status() == v1::FOLLOW_UP_STATUS_RESOLVED);
    if (!allowed) {
      return absl::FailedPreconditionError(absl::StrCat(c->name(), " cannot move from ",
                                                        v1::FollowUpStatus_Name(c->status()), " to ",
                                                        v1::FollowUpStatus_Name(r.status()),
                                                        "; cases go OPEN -> IN_PROGRESS -> RESOLVED"));
    }
  }
  if (!r.note().empty() && c->notes_size() >= limits::kMaxNotes) {
    return absl::FailedPreconditionError(absl::StrCat(c->name(), " already holds ", limits::kMaxNotes, " notes"));
  }
  const auto stamp = shared::ToProtoTime(now);
  if (!r.assignee().empty()) c->set_assignee(r.assignee());
  if (r.clear_assignee()) c->clear_assignee();
  if (!r.note().empty()) {
    v1::FollowUpNote* note = c->add_notes();
    note->set_author(actor);
    note->set_text(r.note());
    *note->mutable_create_time() = stamp;
  }
  if (r.status() != v1::FOLLOW_UP_STATUS_UNSPECIFIED) c->set_status(r.status());
  if (r.status() == v1::FOLLOW_UP_STATUS_RESOLVED) {
    c->set_outcome(r.outcome());
    *c->mutable_resolve_time() = stamp;
    const int64_t micros = TimeUtil::TimestampToMicroseconds(stamp) - TimeUtil::TimestampToMicroseconds(c->create_time());
    *c->mutable_time_to_close() = TimeUtil::MicrosecondsToDuration(std::max<int64_t>(0, micros));
  }
  *c->mutable_update_time() = stamp;
  c->set_version(c->version() + 1);
  return absl::OkStatus();
}

}  // namespace cx::feedback
