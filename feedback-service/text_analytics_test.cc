#include "feedback-service/text_analytics.h"

#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shared/status.h"

namespace cx::feedback {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

double Score(absl::string_view text) { return AnalyzeSentiment(text).score(); }
v1::SentimentLabel Label(absl::string_view text) { return AnalyzeSentiment(text).label(); }

TEST(SentimentTest, EmptyAndValenceFreeTextIsNeutralZero) {
  EXPECT_EQ(Score(""), 0);
  EXPECT_EQ(Label(""), v1::SENTIMENT_LABEL_NEUTRAL);
  EXPECT_EQ(Score("   \n\t "), 0);
  EXPECT_EQ(Score("I ordered on Tuesday."), 0);
  EXPECT_EQ(Label("The order number is 48213."), v1::SENTIMENT_LABEL_NEUTRAL);
}

TEST(SentimentTest, PolarityAndBounds) {
  EXPECT_GT(Score("good"), 0.05);
  EXPECT_LT(Score("bad"), -0.05);
  EXPECT_EQ(Label("Great service, thank you"), v1::SENTIMENT_LABEL_POSITIVE);
  EXPECT_EQ(Label("Terrible service, the parcel was damaged"), v1::SENTIMENT_LABEL_NEGATIVE);
  // Many strong words stay within [-1, 1].
  std::string rave, rant;
  for (int i = 0; i < 500; ++i) {
    rave += "excellent amazing perfect!!! ";
    rant += "awful terrible worst!!! ";
  }
  EXPECT_LE(Score(rave), 1.0);
  EXPECT_GT(Score(rave), 0.99);
  EXPECT_GE(Score(rant), -1.0);
  EXPECT_LT(Score(rant), -0.99);
}

TEST(SentimentTest, NegationFlipsAndDamps) {
  EXPECT_LT(Score("not good"), 0);
  EXPECT_GT(Score("not good"), -Score("good"));  // damped: less negative than "good" is positive
  EXPECT_GT(Score("not bad"), 0);
  EXPECT_LT(Score("The agent wasn't helpful"), 0);
  EXPECT_LT(Score("The agent wasn’t helpful"), 0);  // typographic apostrophe
  EXPECT_LT(Score("I would never recommend them"), 0);
  EXPECT_GT(Score("no problems at all"), 0);
  // Within three words, and not across a clause.
  EXPECT_LT(Score("not very good"), 0);
  EXPECT_GT(Score("Not what I ordered, but great anyway"), 0);
  EXPECT_GT(Score("No. Great service."), 0);
  // Negated expectations are complaints.
  EXPECT_LT(Score("My order never arrived"), 0);
  EXPECT_LT(Score("The app doesn't work"), 0);
  EXPECT_LT(Score("nobody answered"), 0);
  EXPECT_EQ(Score("It arrived"), 0);
}

TEST(SentimentTest, IntensifiersRaiseAndDiminishersLower) {
  EXPECT_LT(Score("very bad"), Score("bad"));
  EXPECT_LT(Score("extremely bad"), Score("very bad"));
  EXPECT_GT(Score("really good"), Score("good"));
  EXPECT_GT(Score("a bit slow"), Score("slow"));
  EXPECT_LT(Score("a bit slow"), 0);
  EXPECT_GT(Score("slightly disappointing"), Score("disappointing"));
  // Capitals and exclamation marks add emphasis.
  EXPECT_LT(Score("the service was BAD"), Score("the service was bad"));
  EXPECT_GT(Score("great!!"), Score("great"));
  EXPECT_LT(Score("awful!!"), Score("awful"));
}

TEST(SentimentTest, ContrastWeighsTheClauseAfterBut) {
  EXPECT_LT(Score("The product is great but the delivery was terrible"), 0);
  EXPECT_GT(Score("The delivery was terrible but the product is great"), 0);
  EXPECT_GT(Score("Delivery was slow. However, the support team was excellent."), 0);
  // A concessive clause counts half.
  EXPECT_GT(Score("Although the first call was slow, the second agent was great"), 0);
  EXPECT_LT(Score("Although the staff were friendly, the food was awful"), 0);
}

TEST(SentimentTest, EmojiAndEmoticons) {
  EXPECT_EQ(Label("😊"), v1::SENTIMENT_LABEL_POSITIVE);
  EXPECT_EQ(Label("👎"), v1::SENTIMENT_LABEL_NEGATIVE);
  EXPECT_EQ(Label("delivered 😡"), v1::SENTIMENT_LABEL_NEGATIVE);
  EXPECT_EQ(Label("thanks :)"), v1::SENTIMENT_LABEL_POSITIVE);
  EXPECT_EQ(Label("still waiting :("), v1::SENTIMENT_LABEL_NEGATIVE);
  EXPECT_EQ(Label("😐"), v1::SENTIMENT_LABEL_NEUTRAL);
  // An emoji is not negated by words before it.
  EXPECT_LT(Score("no notice 👎"), 0);
  // Emoji joiners and skin tones are ignored, not errors.
  EXPECT_GT(Score("👍🏽"), 0);
  EXPECT_GT(Score("❤️"), 0);
}

TEST(SentimentTest, DeterministicAndSafeOnOddInput) {
  const std::string text = "Good but slow 😞 — not great!!";
  EXPECT_EQ(Score(text), Score(text));
  // Invalid UTF-8, lone bytes and control characters do not crash.
  const char odd[] = "\xff\xfe\x80 abc \xe2\x82";
  EXPECT_EQ(Label(std::string(odd, sizeof(odd) - 1)), v1::SENTIMENT_LABEL_NEUTRAL);
  EXPECT_EQ(Label(std::string("\0\0\0", 3)), v1::SENTIMENT_LABEL_NEUTRAL);
  EXPECT_EQ(Label("'''---///:::"), v1::SENTIMENT_LABEL_NEUTRAL);
}

TEST(SentimentTest, RatingsWrittenAsFractions) {
  EXPECT_GT(Score("10/10"), 0.3);
  EXPECT_LT(Score("1/5 would not buy again"), -0.3);
}

TEST(TopicsTest, DefaultsTagCommonCxTopics) {
  const v1::TopicRules rules = DefaultTopicRules();
  EXPECT_TRUE(rules.defaults());
  EXPECT_TRUE(ValidateTopicRules(rules).ok());
  EXPECT_THAT(MatchTopics("The delivery was late and the agent was rude", rules), ElementsAre("delivery", "support"));
  EXPECT_THAT(MatchTopics("Way too expensive", rules), ElementsAre("price"));
  EXPECT_THAT(MatchTopics("I was charged twice on my invoice", rules), ElementsAre("billing"));
  EXPECT_THAT(MatchTopics("The app crashes at checkout on the website", rules), ElementsAre("website", "app"));
  EXPECT_THAT(MatchTopics("It broke after a week", rules), ElementsAre("product_quality"));
  EXPECT_THAT(MatchTopics("Lovely people", rules), IsEmpty());
  EXPECT_THAT(MatchTopics("", rules), IsEmpty());
}

TEST(TopicsTest, KeywordsMatchWholeWordsPhrasesAndPrefixes) {
  v1::TopicRules rules;
  auto* r = rules.add_rules();
  r->set_topic("delivery");
  r->add_keywords("deliver*");
  auto* hold = rules.add_rules();
  hold->set_topic("wait");
  hold->add_keywords("on hold");
  auto* app = rules.add_rules();
  app->set_topic("app");
  app->add_keywords("app");
  EXPECT_THAT(MatchTopics("DELIVERED yesterday", rules), ElementsAre("delivery"));
  EXPECT_THAT(MatchTopics("the deliveries", rules), ElementsAre("delivery"));
  EXPECT_THAT(MatchTopics("undelivered", rules), IsEmpty());  // prefix of a word, not a substring
  EXPECT_THAT(MatchTopics("I was on hold forever", rules), ElementsAre("wait"));
  EXPECT_THAT(MatchTopics("I was on. Hold on", rules), IsEmpty());  // phrases do not cross punctuation
  EXPECT_THAT(MatchTopics("a happy customer", rules), IsEmpty());   // "app" is not in "happy"
  EXPECT_THAT(MatchTopics("the app, the app, the app", rules), ElementsAre("app"));  // each topic once
  auto* late = rules.add_rules();
  late->set_topic("late");
  late->add_keywords("arrived very late*");  // a phrase whose last word is a prefix
  EXPECT_THAT(MatchTopics("it ARRIVED very lately", rules), ElementsAre("late"));
  EXPECT_THAT(MatchTopics("arrived late, very late", rules), IsEmpty());  // its first word, not the phrase
  EXPECT_THAT(MatchTopics("it arrived, very late", rules), IsEmpty());
}

TEST(TopicsTest, MatcherChecksOnlyCandidatesYetFindsEveryKind) {
  v1::TopicRules rules;
  auto add = [&](const std::string& topic, std::vector<std::string> keywords) {
    auto* r = rules.add_rules();
    r->set_topic(topic);
    for (auto& k : keywords) r->add_keywords(k);
  };
  add("a", {"zebra"});
  add("b", {"de*", "deliver*"});                // two prefixes with one first letter
  add("c", {"late", "took too long*"});          // a word and a phrase ending in a prefix
  add("d", {"late"});                            // the same keyword as another rule
  add("e", {"d*"});                              // a one-letter prefix
  const TopicMatcher matcher(rules);
  EXPECT_THAT(matcher.Match("It was late"), ElementsAre("c", "d"));
  EXPECT_THAT(matcher.Match("it took too LONGGG"), ElementsAre("c"));
  EXPECT_THAT(matcher.Match("took too, long"), IsEmpty());
  EXPECT_THAT(matcher.Match("Delivered"), ElementsAre("b", "e"));
  EXPECT_THAT(matcher.Match("dog"), ElementsAre("e"));
  EXPECT_THAT(matcher.Match("a zebra, late, delayed"), ElementsAre("a", "b", "c", "d", "e"));
  EXPECT_THAT(matcher.Match("zebras"), IsEmpty());
  EXPECT_THAT(TopicMatcher(v1::TopicRules()).Match("anything at all"), IsEmpty());
}

// The manager's one-pass analysis gives what the two functions give apart,
// on every comment of both sentiment sets, with the default topics.
TEST(TextAnalysisTest, OnePassEqualsSentimentAndTopicsApart) {
  const v1::TopicRules rules = DefaultTopicRules();
  const TopicMatcher matcher(rules);
  std::vector<std::string> texts = {"", "  ", "Never again!! :( \xf0\x9f\x98\xa1", "a little bit late but OK"};
  for (const char* file : {"/sentiment_dev.tsv", "/sentiment_test.tsv"}) {
    std::ifstream in(std::string(CX_FEEDBACK_TESTDATA) + file);
    ASSERT_TRUE(in) << file;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line[0] != '#') texts.push_back(line.substr(line.find('\t') + 1));
    }
  }
  ASSERT_GT(texts.size(), 200u);
  int with_topics = 0;
  for (const std::string& text : texts) {
    const TextAnalysis one = AnalyzeText(text, matcher);
    const v1::Sentiment apart = AnalyzeSentiment(text);
    EXPECT_EQ(one.sentiment.score(), apart.score()) << text;
    EXPECT_EQ(one.sentiment.label(), apart.label()) << text;
    EXPECT_EQ(one.topics, MatchTopics(text, rules)) << text;
    with_topics += !one.topics.empty();
  }
  EXPECT_GT(with_topics, 50);
}

TEST(TopicsTest, ValidationNamesTheField) {
  v1::TopicRules rules;
  auto* r = rules.add_rules();
  r->set_topic("bad topic");
  r->add_keywords("Upper");
  r->add_keywords("ok");
  auto* dup = rules.add_rules();
  dup->set_topic("x");
  dup->add_keywords("*");
  auto* dup2 = rules.add_rules();
  dup2->set_topic("x");
  auto* spaces = rules.add_rules();
  spaces->set_topic("y");
  spaces->add_keywords("two  spaces");
  spaces->add_keywords(" lead");
  spaces->add_keywords(std::string(65, 'a'));
  absl::Status s = ValidateTopicRules(rules);
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> fields;
  for (const auto& v : shared::FieldViolations(s)) fields.push_back(v.field);
  EXPECT_THAT(fields, ElementsAre("rules[0].topic", "rules[0].keywords[0]", "rules[1].keywords[0]", "rules[2].topic",
                                  "rules[2].keywords", "rules[3].keywords[0]", "rules[3].keywords[1]",
                                  "rules[3].keywords[2]"));
  v1::TopicRules many;
  for (int i = 0; i < 51; ++i) {
    auto* x = many.add_rules();
    x->set_topic("t" + std::to_string(i));
    x->add_keywords("k");
  }
  EXPECT_EQ(shared::FieldViolations(ValidateTopicRules(many)).front().field, "rules");
  EXPECT_TRUE(ValidateTopicRules(v1::TopicRules()).ok());  // no rules: no topics
}

}  // namespace
}  // namespace cx::feedback
