// Text analytics of feedback comments: a deterministic lexicon sentiment
// score and keyword topic tagging. Plain functions, no I/O; the evaluation
// program (tools/sentiment_eval.cc) and the unit tests call them directly.
#ifndef CX_FEEDBACK_TEXT_ANALYTICS_H_
#define CX_FEEDBACK_TEXT_ANALYTICS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "cx/feedback/v1/feedback_service.pb.h"

namespace cx::feedback {

// Score in [-1, 1] and label of `text`:
//  1. Words (lower-cased), emoticons and emoji become tokens; a known
//     phrase ("waste of money", "on time") becomes one token.
//  2. Each token with a valence (lexicon, -4..4) is scaled by the
//     intensifiers ("very" x1.3 ...) or diminishers ("a bit" x0.6 ...)
//     right before it, flipped and damped (x -0.74) by a negator ("not",
//     "never", "n't", "no", "without" ...) among the three tokens before it
//     in the same clause, and raised x1.25 when written in capitals in a
//     text that is not all capitals.
//  3. Contrast: valences before "but" / "however" count half and those
//     after it x1.5; a clause opened by "although" / "though" / "despite"
//     counts half.
//  4. The sum s is raised by 0.292 per '!' (at most 4) in its own direction
//     and mapped to s / sqrt(s^2 + 15).
// Label: POSITIVE for score >= 0.05, NEGATIVE for <= -0.05, else NEUTRAL.
// Empty or valence-free text is NEUTRAL with score 0.
v1::Sentiment AnalyzeSentiment(absl::string_view text);

// The rules a tenant gets until it sets its own: delivery, price, support,
// product_quality, billing, website, app, staff.
v1::TopicRules DefaultTopicRules();

// Checks rules as given to SetTopicRules; field paths are relative to
// TopicRules ("rules[2].keywords[0]").
absl::Status ValidateTopicRules(const v1::TopicRules& rules);

// Topic rules prepared for matching, built once per rule set: keywords
// split into words and indexed by their first word (one-word prefixes such
// as "deliver*" by their first letter), so a text is matched in one pass
// over its words, each checked against its few candidate keywords.
class TopicMatcher {
 public:
  explicit TopicMatcher(const v1::TopicRules& rules);

  // Topics whose keywords occur in `text` (as whole words or phrases,
  // ignoring case and punctuation), in rule order, each once.
  std::vector<std::string> Match(absl::string_view text) const;

  struct Index;  // defined in text_analytics.cc
  const Index& index() const { return *index_; }

 private:
  std::shared_ptr<const Index> index_;
};

// TopicMatcher(rules).Match(text).
std::vector<std::string> MatchTopics(absl::string_view text, const v1::TopicRules& rules);

// The sentiment and the topics of one text, which is read (tokenized) once.
struct TextAnalysis {
  v1::Sentiment sentiment;
  std::vector<std::string> topics;
};
TextAnalysis AnalyzeText(absl::string_view text, const TopicMatcher& topics);

}  // namespace cx::feedback

#endif  // CX_FEEDBACK_TEXT_ANALYTICS_H_
