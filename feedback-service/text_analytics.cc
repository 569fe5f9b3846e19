#include "feedback-service/text_analytics.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "shared/status.h"
#include "shared/text.h"

namespace cx::feedback {
namespace {

using shared::FieldViolation;

// ---------------------------------------------------------------- lexicon --

// Valence of single words, on VADER's -4..4 scale. Inflections are listed;
// there is no stemming. Customer-experience words (late, refund, on hold,
// rude, seamless ...) are included with the weight a CX reader gives them.
const absl::flat_hash_map<std::string, double>& Lexicon() {
  static const auto* lexicon = new absl::flat_hash_map<std::string, double>{
      // positive
      {"good", 1.9}, {"great", 3.1}, {"excellent", 3.2}, {"amazing", 2.8}, {"awesome", 3.1},
      {"fantastic", 2.6}, {"wonderful", 2.7}, {"perfect", 2.7}, {"perfectly", 2.5}, {"brilliant", 2.8},
      {"outstanding", 3.0}, {"superb", 3.1}, {"exceptional", 3.0}, {"incredible", 2.5}, {"love", 3.2},
      {"loved", 2.9}, {"loving", 2.9}, {"loves", 2.7}, {"lovely", 2.8}, {"liked", 1.8}, {"enjoy", 2.2},
      {"enjoyed", 2.3}, {"happy", 2.7}, {"glad", 2.0}, {"pleased", 2.2}, {"satisfied", 1.9},
      {"delighted", 2.9}, {"thrilled", 2.9}, {"impressed", 2.4}, {"impressive", 2.3}, {"nice", 1.8},
      {"pleasant", 2.2}, {"best", 3.2}, {"better", 1.9}, {"helpful", 2.0}, {"friendly", 2.2},
      {"polite", 1.7}, {"courteous", 1.8}, {"kind", 1.5}, {"professional", 1.8}, {"knowledgeable", 1.8},
      {"responsive", 1.8}, {"quick", 1.4}, {"quickly", 1.3}, {"fast", 1.4}, {"speedy", 1.6},
      {"prompt", 1.5}, {"promptly", 1.5}, {"efficient", 1.8}, {"easy", 1.7}, {"easily", 1.5},
      {"simple", 1.0}, {"smooth", 1.6}, {"smoothly", 1.6}, {"seamless", 2.0}, {"intuitive", 1.6},
      {"convenient", 1.7}, {"reliable", 1.8}, {"recommend", 1.6}, {"recommended", 1.6}, {"thanks", 1.9},
      {"thank", 1.5}, {"thankful", 2.0}, {"grateful", 2.2}, {"appreciate", 1.8}, {"appreciated", 1.8},
      {"fine", 0.8}, {"ok", 0.4}, {"okay", 0.4}, {"decent", 1.1}, {"solid", 1.3}, {"worth", 1.3},
      {"affordable", 1.5}, {"reasonable", 1.1}, {"fair", 1.0}, {"bargain", 1.8}, {"clean", 1.3},
      {"comfortable", 1.7}, {"fresh", 1.2}, {"beautiful", 2.9}, {"gorgeous", 3.0}, {"sturdy", 1.5},
      {"durable", 1.6}, {"accurate", 1.4}, {"clear", 1.0}, {"fixed", 1.1}, {"resolved", 1.3},
      {"solved", 1.5}, {"sorted", 1.0}, {"gem", 2.0}, {"fabulous", 2.7}, {"flawless", 2.8},
      {"painless", 1.6}, {"effortless", 2.0}, {"hassle-free", 2.0}, {"well-made", 1.8},
      {"user-friendly", 2.0}, {"top-notch", 2.5}, {"welcoming", 2.0}, {"attentive", 2.0},
      {"patient", 1.5}, {"caring", 2.0}, {"generous", 2.0}, {"pleasure", 2.2}, {"delight", 2.8},
      {"favourite", 2.0}, {"favorite", 2.0}, {"wow", 2.3}, {"yay", 2.4}, {"cool", 1.3}, {"neat", 1.5},
      {"handy", 1.5}, {"useful", 1.8}, {"valuable", 1.9}, {"loyal", 1.5}, {"trust", 1.6},
      {"trusted", 1.6}, {"exceeded", 1.8}, {"exceeds", 1.8}, {"praise", 2.2}, {"kudos", 2.2},
      {"bravo", 2.3}, {"spotless", 2.0}, {"stellar", 2.8}, {"terrific", 2.9},
      {"helped", 1.2}, {"improved", 1.5}, {"improvement", 1.0}, {"delicious", 2.7}, {"tasty", 2.0},
      {"fits", 0.8}, {"accommodating", 1.9}, {"reassuring", 1.8}, {"transparent", 1.4},
      {"quality", 0.6}, {"win", 1.6}, {"excited", 2.2}, {"exciting", 2.2}, {"fun", 2.0},
      {"smart", 1.6}, {"wonderfully", 2.6}, {"nicely", 1.8}, {"beautifully", 2.6}, {"correctly", 1.0},
      {"secure", 1.4}, {"safe", 1.4}, {"flexible", 1.4}, {"refreshing", 2.0}, {"recommending", 1.6},
      {"life-saver", 2.6}, {"lifesaver", 2.6}, {"quicker", 1.4}, {"faster", 1.4}, {"easier", 1.5},
      {"cheaper", 0.8}, {"satisfying", 2.0}, {"smoothest", 2.2}, {"easiest", 2.0}, {"fastest", 1.8},
      {"quickest", 1.8}, {"nicest", 2.2}, {"friendliest", 2.4}, {"finest", 2.4},
      // negative
      {"bad", -2.5}, {"terrible", -2.9}, {"awful", -2.9}, {"horrible", -3.0}, {"horrendous", -3.0},
      {"worst", -3.1}, {"worse", -2.1}, {"poor", -2.1}, {"poorly", -2.0}, {"disappointing", -2.4},
      {"disappointed", -2.3}, {"disappointment", -2.3}, {"frustrating", -2.3}, {"frustrated", -2.2},
      {"frustration", -2.2}, {"annoying", -2.0}, {"annoyed", -1.9}, {"angry", -2.6}, {"furious", -3.0},
      {"upset", -2.0}, {"unhappy", -2.2}, {"sad", -1.9}, {"hate", -2.9}, {"hated", -2.7},
      {"useless", -2.3}, {"pointless", -2.0}, {"rude", -2.3}, {"unhelpful", -2.1},
      {"unprofessional", -2.2}, {"incompetent", -2.5}, {"slow", -1.3}, {"slowly", -1.2},
      {"sluggish", -1.5}, {"late", -1.3}, {"delayed", -1.4}, {"delay", -1.3}, {"delays", -1.3},
      {"broken", -2.0}, {"broke", -1.8}, {"damaged", -2.0}, {"defective", -2.3}, {"faulty", -2.1},
      {"cracked", -1.6}, {"missing", -1.5}, {"lost", -1.5}, {"wrong", -1.7}, {"error", -1.3},
      {"errors", -1.3}, {"bug", -1.4}, {"bugs", -1.4}, {"buggy", -2.0}, {"crash", -1.9},
      {"crashed", -1.9}, {"crashes", -1.9}, {"crashing", -1.9}, {"freeze", -1.4}, {"freezes", -1.4},
      {"froze", -1.4}, {"glitch", -1.4}, {"glitchy", -1.8}, {"failed", -1.8}, {"fail", -1.8},
      {"fails", -1.8}, {"failure", -2.1}, {"problem", -1.5}, {"problems", -1.5}, {"issue", -1.1},
      {"issues", -1.1}, {"complaint", -1.5}, {"complaints", -1.5}, {"complain", -1.4},
      {"confusing", -1.6}, {"confused", -1.4}, {"complicated", -1.3}, {"difficult", -1.5},
      {"hard", -0.9}, {"impossible", -1.8}, {"expensive", -1.3}, {"overpriced", -2.1},
      {"pricey", -1.0}, {"costly", -1.2}, {"overcharged", -2.3}, {"scam", -3.0}, {"fraud", -3.0},
      {"ripoff", -2.8}, {"rip-off", -2.8}, {"refund", -0.5}, {"cancel", -0.3}, {"cancelled", -0.5},
      {"unacceptable", -2.6}, {"ridiculous", -2.3}, {"pathetic", -2.8}, {"mess", -2.0},
      {"messy", -1.6}, {"dirty", -1.9}, {"cold", -0.6}, {"stale", -1.6}, {"noisy", -1.2},
      {"uncomfortable", -1.7}, {"flimsy", -1.8}, {"cheaply", -1.3}, {"unreliable", -2.0},
      {"inaccurate", -1.6}, {"misleading", -2.1}, {"lied", -2.4}, {"ignored", -2.0},
      {"ignore", -1.5}, {"waiting", -0.8}, {"waited", -0.9}, {"nightmare", -2.8}, {"disaster", -2.9},
      {"regret", -2.1}, {"regretted", -2.1}, {"avoid", -1.6}, {"beware", -1.8}, {"sucks", -2.4},
      {"sucked", -2.4}, {"crap", -2.5}, {"garbage", -2.6}, {"rubbish", -2.4}, {"junk", -2.4},
      {"lousy", -2.4}, {"mediocre", -1.4}, {"meh", -1.0}, {"underwhelming", -1.8},
      {"inconvenient", -1.6}, {"hassle", -1.6}, {"painful", -2.0}, {"nasty", -2.3}, {"hostile", -2.4},
      {"dismissive", -2.0}, {"condescending", -2.1}, {"arrogant", -2.1}, {"careless", -1.8},
      {"sloppy", -1.8}, {"unfriendly", -2.0}, {"unusable", -2.4}, {"outdated", -1.2},
      {"clunky", -1.6}, {"awkward", -1.2}, {"tedious", -1.6}, {"lacking", -1.2}, {"lacks", -1.1},
      {"mistake", -1.5}, {"mistakes", -1.5}, {"incorrect", -1.6}, {"shocking", -1.5},
      {"shocked", -1.2}, {"worried", -1.5}, {"concerned", -1.2}, {"concern", -1.0},
      {"scratched", -1.5}, {"leaking", -1.6}, {"leaks", -1.5}, {"leaked", -1.5}, {"torn", -1.5},
      {"ripped", -1.5}, {"dead", -1.5}, {"unanswered", -1.7}, {"unresolved", -1.6},
      {"dropped", -1.2}, {"disconnected", -1.4}, {"overdue", -1.5}, {"fees", -0.8}, {"fee", -0.5},
      {"hidden", -0.6}, {"spam", -1.8}, {"sorry", -0.5}, {"unfortunately", -1.4}, {"sadly", -1.5},
      {"disgusting", -3.0}, {"gross", -2.2}, {"sick", -1.5}, {"hurt", -1.6}, {"yelled", -2.0},
      {"shouted", -1.8}, {"incompetence", -2.4}, {"apathetic", -1.8}, {"unclear", -1.3},
      {"vague", -1.1}, {"angrier", -2.6}, {"worthless", -2.6}, {"dreadful", -2.8},
      {"appalling", -3.0}, {"atrocious", -3.0}, {"abysmal", -3.0}, {"subpar", -1.8},
      {"sub-par", -1.8}, {"inferior", -1.7}, {"tired", -1.0}, {"exhausting", -1.8}, {"stuck", -1.4},
      {"declined", -1.2}, {"denied", -1.5}, {"refused", -1.6}, {"unavailable", -1.2},
      {"cheated", -2.6}, {"stolen", -2.2}, {"threatened", -2.2}, {"harassed", -2.6},
      {"spoiled", -1.8}, {"expired", -1.3}, {"smelled", -1.0}, {"smells", -1.0}, {"leak", -1.4},
      {"weird", -0.8}, {"strange", -0.6}, {"disorganized", -1.8}, {"chaotic", -1.8},
      {"overwhelming", -1.2}, {"misunderstood", -1.2}, {"losing", -1.3}, {"rudely", -2.2},
      {"annoyance", -1.8}, {"irritating", -1.9}, {"irritated", -1.8}, {"complained", -1.4},
      {"hassles", -1.6}, {"confusion", -1.4}, {"slower", -1.2},
      {"costlier", -1.2}, {"unsure", -0.6}, {"doubt", -0.8}, {"skeptical", -1.0},
      {"disappoint", -2.2}, {"disappoints", -2.2}, {"fault", -1.2}, {"blame", -1.4},
      {"struggle", -1.4}, {"struggled", -1.4}, {"struggling", -1.4}, {"lag", -1.2}, {"laggy", -1.6},
      {"overcrowded", -1.5}, {"crowded", -0.8}, {"filthy", -2.6}, {"unsafe", -2.0}, {"scary", -1.8},
      {"broken-down", -2.0}, {"terribly", -2.0}, {"horribly", -2.4}, {"awfully", -1.6},
      // ratings written as fractions
      {"10/10", 2.6}, {"9/10", 2.2}, {"8/10", 1.4}, {"3/10", -1.6}, {"2/10", -2.0}, {"1/10", -2.4},
      {"0/10", -2.6}, {"5/5", 2.6}, {"4/5", 1.2}, {"2/5", -1.2}, {"1/5", -2.2}, {"0/5", -2.6},
  };
  return *lexicon;
}

// Phrases read as one token. Valence 0 with a modifier role marks phrases
// that only change their neighbours ("a bit", "kind of").
struct Phrase {
  std::vector<std::string> words;
  double valence = 0;
  enum Role { kValence, kDiminisher, kNegator, kNeutral } role = kValence;
};

const std::vector<Phrase>& Phrases() {
  static const auto* phrases = [] {
    auto* p = new std::vector<Phrase>;
    auto add = [&](const std::string& text, double valence, Phrase::Role role = Phrase::kValence) {
      p->push_back({absl::StrSplit(text, ' '), valence, role});
    };
    add("waste of time", -3.0); add("waste of money", -3.0); add("a waste", -2.4);
    add("rip off", -2.8); add("never again", -2.6); add("no problem", 1.5); add("no problems", 1.5);
    add("no issues", 1.5); add("no issue", 1.5); add("no complaints", 1.8); add("can't complain", 1.5);
    add("cannot complain", 1.5); add("can't wait", 1.5); add("cannot wait", 1.5);
    add("could be better", -1.2); add("could have been better", -1.2); add("could be improved", -0.8);
    add("needs improvement", -1.2); add("took forever", -2.2); add("takes forever", -2.2);
    add("taking forever", -2.2); add("on hold", -1.2); add("on time", 1.5); add("ahead of schedule", 2.0);
    add("right away", 1.2); add("out of stock", -1.5); add("never arrived", -2.5);
    add("never received", -2.5); add("never showed up", -2.5); add("charged twice", -2.2);
    add("double charged", -2.2); add("above and beyond", 2.6); add("worth it", 1.8);
    add("worth every penny", 2.6); add("let down", -2.0); add("let me down", -2.0);
    add("fell apart", -2.2); add("falling apart", -2.2); add("stopped working", -2.2);
    add("works well", 1.6); add("worked well", 1.6); add("work well", 1.6); add("works great", 2.4);
    add("as described", 1.0); add("as advertised", 1.0); add("as expected", 0.8);
    add("five stars", 2.6); add("5 stars", 2.6); add("4 stars", 1.4); add("four stars", 1.4);
    add("2 stars", -1.2); add("two stars", -1.2); add("one star", -2.2); add("1 star", -2.2);
    add("zero stars", -2.6); add("0 stars", -2.6); add("too long", -1.3); add("long wait", -1.4);
    add("thank you", 1.8); add("hung up", -2.0); add("went wrong", -1.7); add("no response", -1.8);
    add("no reply", -1.8); add("no answer", -1.6); add("no one", 0, Phrase::kNegator);
    add("nobody", 0, Phrase::kNegator); add("no longer", 0, Phrase::kNeutral);
    add("not only", 0, Phrase::kNeutral); add("a bit", 0, Phrase::kDiminisher);
    add("a little", 0, Phrase::kDiminisher); add("a little bit", 0, Phrase::kDiminisher);
    add("kind of", 0, Phrase::kDiminisher); add("sort of", 0, Phrase::kDiminisher);
    add("back and forth", -1.2); add("run around", -1.8); add("the runaround", -1.8);
    add("over and over", -1.0); add("made my day", 2.6); add("go-to", 1.5); add("keep it up", 1.8);
    add("well done", 2.2); add("good job", 2.2); add("great job", 2.8); add("well packaged", 1.5);
    add("not worth", -1.6); add("nothing special", -0.8); add("not bad", 1.2);
    add("hidden fees", -1.8); add("first time", 0, Phrase::kNeutral);
    // Most-specific first: the longest phrase wins at a position.
    std::stable_sort(p->begin(), p->end(),
                     [](const Phrase& a, const Phrase& b) { return a.words.size() > b.words.size(); });
    return p;
  }();
  return *phrases;
}

// The phrases by their first word, each list longest first.
const absl::flat_hash_map<std::string, std::vector<const Phrase*>>& PhrasesByFirstWord() {
  static const auto* index = [] {
    auto* m = new absl::flat_hash_map<std::string, std::vector<const Phrase*>>;
    for (const Phrase& p : Phrases()) (*m)[p.words.front()].push_back(&p);
    return m;
  }();
  return *index;
}

const absl::flat_hash_map<std::string, double>& Intensifiers() {
  static const auto* m = new absl::flat_hash_map<std::string, double>{
      {"very", 1.3}, {"really", 1.3}, {"so", 1.25}, {"extremely", 1.5}, {"super", 1.3},
      {"incredibly", 1.45}, {"absolutely", 1.4}, {"totally", 1.35}, {"completely", 1.35},
      {"utterly", 1.45}, {"highly", 1.35}, {"truly", 1.3}, {"especially", 1.2}, {"particularly", 1.2},
      {"too", 1.25}, {"quite", 1.1}, {"pretty", 1.15}, {"amazingly", 1.4}, {"insanely", 1.45},
      {"seriously", 1.3}, {"deeply", 1.3}, {"entirely", 1.3}, {"remarkably", 1.35}, {"such", 1.2},
      {"way", 1.2}, {"most", 1.2}, {"unbelievably", 1.45}, {"ridiculously", 1.4}, {"exceptionally", 1.4},
      {"painfully", 1.4}, {"thoroughly", 1.3}, {"simply", 1.15}, {"genuinely", 1.2},
      // diminishers
      {"slightly", 0.6}, {"somewhat", 0.65}, {"kinda", 0.6}, {"fairly", 0.8}, {"rather", 0.8},
      {"barely", 0.5}, {"mostly", 0.8}, {"partly", 0.6}, {"marginally", 0.6}, {"reasonably", 0.85},
      {"relatively", 0.8}, {"mildly", 0.6}, {"occasionally", 0.7},
  };
  return *m;
}

// Negators besides the words that end in "n't".
const absl::flat_hash_set<std::string>& Negators() {
  static const auto* set = new absl::flat_hash_set<std::string>{
      "not",    "no",     "never", "none",   "nothing", "neither", "nor",    "without", "hardly",
      "cannot", "cant",   "dont",  "doesnt", "didnt",   "isnt",    "wasnt",  "arent",   "werent",
      "wont",   "wouldnt", "couldnt", "shouldnt", "havent", "hasnt", "hadnt", "aint", "nowhere",
      "nope",   "neednt"};
  return *set;
}

// Verbs of an expectation: neutral alone, a complaint when negated ("never
// arrived", "didn't work", "nobody answered").
const absl::flat_hash_set<std::string>& ExpectationVerbs() {
  static const auto* set = new absl::flat_hash_set<std::string>{
      "arrive",  "arrived", "arrives",  "receive", "received", "work",     "works",    "worked",
      "working", "respond", "responded", "answer", "answered", "reply",    "replied",  "help",
      "helped",  "fix",     "fixed",    "come",    "came",     "show",     "showed",   "load",
      "loads",   "loaded",  "refund",   "refunded", "deliver", "delivered", "solve",   "solved",
      "resolved", "listen", "listened", "care",    "cared",    "bother",   "bothered", "return",
      "returned", "call",   "called",   "contact", "contacted", "get",     "got",      "update",
      "updated", "match",   "matched",  "fit",     "fits",     "last",     "lasted",   "turn",
      "explain", "explained", "apologize", "apologized", "apologise", "apologised", "honor",
      "honored", "honour",  "honoured", "open",    "opens",    "charge",   "reach",    "reached"};
  return *set;
}

// Everything the lists above say about one word, so that a word is looked
// up once, when it is read, rather than once per list as its neighbours are
// weighed.
struct WordInfo {
  bool in_lexicon = false;
  double valence = 0;      // Lexicon()
  double modifier = 1;     // Intensifiers(); 1 when none
  bool negator = false;    // Negators()
  bool expectation = false;  // ExpectationVerbs()
  bool contrast = false;   // "but", "however": what comes before counts half
  bool concessive = false;  // "although", "though", "despite": its clause counts half
  const std::vector<const Phrase*>* phrases = nullptr;  // the phrases it starts, longest first
};

const absl::flat_hash_map<std::string, WordInfo>& Words() {
  static const auto* words = [] {
    auto* m = new absl::flat_hash_map<std::string, WordInfo>;
    for (const auto& [word, valence] : Lexicon()) {
      WordInfo& info = (*m)[word];
      info.in_lexicon = true;
      info.valence = valence;
    }
    for (const auto& [word, factor] : Intensifiers()) (*m)[word].modifier = factor;
    for (const std::string& word : Negators()) (*m)[word].negator = true;
    for (const std::string& word : ExpectationVerbs()) (*m)[word].expectation = true;
    for (const char* word : {"but", "however"}) (*m)[word].contrast = true;
    for (const char* word : {"although", "though", "despite"}) (*m)[word].concessive = true;
    for (const auto& [word, phrases] : PhrasesByFirstWord()) (*m)[word].phrases = &phrases;
    return m;
  }();
  return *words;
}

// ------------------------------------------------------------- tokenizer --

struct Token {
  enum Kind { kWord, kBoundary } kind = kWord;
  std::string text;      // lower-cased word, or "" for a boundary
  double valence = 0;    // set for emoji, emoticons and phrases
  bool has_valence = false;
  bool caps = false;     // written in capitals
  Phrase::Role role = Phrase::kValence;
  bool phrase = false;
  bool symbol = false;   // an emoji or emoticon (text "<symbol>")
  const WordInfo* info = nullptr;  // a plain word's entry in Words(), if it has one
  bool negator = false;  // a plain word that negates ("not", "didn't")
};

struct Tokens {
  std::vector<Token> tokens;
  int exclamations = 0;
  bool has_lower = false;  // any lower-case letter in the text
};

// Decodes one code point of valid or invalid UTF-8; advances *i.
uint32_t NextCodePoint(absl::string_view s, size_t* i) {
  const unsigned char c = s[*i];
  int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
  if (*i + len > s.size()) len = 1;
  uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[*i + k]) & 0x3F);
  *i += len;
  return cp;
}

double EmojiValence(uint32_t cp, bool* known) {
  static const auto* m = new absl::flat_hash_map<uint32_t, double>{
      {0x1F600, 2.0}, {0x1F601, 2.2}, {0x1F602, 1.5}, {0x1F603, 2.2}, {0x1F604, 2.2}, {0x1F605, 0.8},
      {0x1F606, 1.8}, {0x1F609, 1.4}, {0x1F60A, 2.2}, {0x1F60D, 2.8}, {0x1F60E, 1.6}, {0x1F618, 2.2},
      {0x1F642, 1.4}, {0x1F970, 2.8}, {0x1F929, 2.8}, {0x1F44D, 2.0}, {0x1F44C, 1.8}, {0x1F44F, 2.0},
      {0x1F64F, 1.6}, {0x2764, 2.6},  {0x1F495, 2.6}, {0x1F49B, 2.4}, {0x1F499, 2.4}, {0x1F49A, 2.4},
      {0x1F4AF, 2.4}, {0x1F389, 2.2}, {0x2B50, 1.8},  {0x1F31F, 2.0}, {0x2705, 1.2},  {0x1F60C, 1.2},
      {0x1F61E, -2.2}, {0x1F61F, -1.8}, {0x1F620, -2.6}, {0x1F621, -3.0}, {0x1F92C, -3.2},
      {0x1F624, -2.2}, {0x1F622, -2.2}, {0x1F62D, -2.4}, {0x1F612, -1.8}, {0x1F641, -1.6},
      {0x2639, -1.8},  {0x1F44E, -2.4}, {0x1F4A9, -2.6}, {0x1F92E, -2.8}, {0x1F629, -2.2},
      {0x1F62B, -2.2}, {0x1F926, -1.8}, {0x1F616, -2.0}, {0x1F623, -1.8}, {0x1F614, -1.6},
      {0x1F615, -1.2}, {0x1F610, 0.0},  {0x1F611, -0.3}, {0x274C, -1.2},  {0x1F494, -2.4},
      {0x1F631, -1.5}, {0x1F62C, -0.8}, {0x1F644, -1.4}, {0x1F92F, -1.2},
  };
  auto it = m->find(cp);
  *known = it != m->end();
  return *known ? it->second : 0;
}

// ASCII emoticons, longest first.
constexpr std::pair<const char*, double> kEmoticons[] = {
    {":-)", 1.6}, {":-D", 2.2}, {":-(", -1.8}, {":'(", -2.2}, {":-/", -1.0}, {":)", 1.6},
    {":D", 2.2},  {";)", 1.4},  {":(", -1.8},  {"<3", 2.4},   {":/", -1.0},  {":P", 0.8},
};

bool IsWordByte(absl::string_view s, size_t i) {
  const unsigned char c = s[i];
  if (absl::ascii_isalnum(c) || c == '\'') return true;
  // '-' and '/' inside a word or number: "user-friendly", "10/10".
  if ((c == '-' || c == '/') && i > 0 && i + 1 < s.size()) {
    const unsigned char before = s[i - 1], after = s[i + 1];
    if (c == '-') return absl::ascii_isalpha(before) && absl::ascii_isalpha(after);
    return absl::ascii_isdigit(before) && absl::ascii_isdigit(after);
  }
  return false;
}

Tokens Tokenize(absl::string_view s) {
  Tokens out;
  out.tokens.reserve(s.size() / 5 + 2);  // about a word per five bytes of prose
  std::string word;
  bool word_upper = true, word_has_alpha = false;
  auto flush = [&] {
    if (word.empty()) return;
    // Straight apostrophes at the edges are quotes, not part of the word.
    while (!word.empty() && word.front() == '\'') word.erase(word.begin());
    while (!word.empty() && word.back() == '\'') word.pop_back();
    if (!word.empty()) {
      Token t;
      t.text = absl::AsciiStrToLower(word);
      t.caps = word_has_alpha && word_upper && word.size() >= 2;
      if (auto it = Words().find(t.text); it != Words().end()) t.info = &it->second;
      t.negator = (t.info != nullptr && t.info->negator) || absl::EndsWith(t.text, "n't");
      out.tokens.push_back(std::move(t));
    }
    word.clear();
    word_upper = true;
    word_has_alpha = false;
  };
  auto boundary = [&] {
    flush();
    if (!out.tokens.empty() && out.tokens.back().kind == Token::kBoundary) return;
    Token t;
    t.kind = Token::kBoundary;
    out.tokens.push_back(t);
  };
  auto symbol = [&](double valence) {
    flush();
    Token t;
    t.text = "<symbol>";
    t.symbol = true;
    t.valence = valence;
    t.has_valence = true;
    out.tokens.push_back(std::move(t));
  };
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      bool matched = false;
      // An emoticon stands alone: after a space or at the start.
      if ((c == ':' || c == ';' || c == '<') && (i == 0 || s[i - 1] == ' ' || word.empty())) {
        for (const auto& [text, valence] : kEmoticons) {
          const absl::string_view e(text);
          if (absl::StartsWith(s.substr(i), e) &&
              (i + e.size() == s.size() || !absl::ascii_isalnum(static_cast<unsigned char>(s[i + e.size()])))) {
            symbol(valence);
            i += e.size();
            matched = true;
            break;
          }
        }
      }
      if (matched) continue;
      if (IsWordByte(s, i)) {
        if (absl::ascii_isalpha(c)) {
          word_has_alpha = true;
          if (absl::ascii_islower(c)) {
            word_upper = false;
            out.has_lower = true;
          }
        }
        word.push_back(static_cast<char>(c));
      } else if (c == '.' || c == ',' || c == ';' || c == ':' || c == '?' || c == '!' || c == '\n' ||
                 c == '(' || c == ')' || c == '"') {
        if (c == '!') ++out.exclamations;
        boundary();
      } else {
        flush();
      }
      ++i;
      continue;
    }
    const size_t start = i;
    const uint32_t cp = NextCodePoint(s, &i);
    bool known = false;
    const double valence = EmojiValence(cp, &known);
    if (known) {
      symbol(valence);
    } else if (cp == 0x2019 || cp == 0x2018) {
      word.push_back('\'');  // typographic apostrophe: "didn’t"
    } else if ((cp >= 0xC0 && cp < 0x2000 && cp != 0xD7 && cp != 0xF7)) {
      word.append(s.data() + start, i - start);  // accented letters
      out.has_lower = true;
    } else if (cp == 0x2026 || cp == 0x2014 || cp == 0x2013) {
      boundary();  // "…", "—", "–"
    } else {
      flush();
    }
  }
  flush();
  return out;
}

// Replaces known phrases by one token each.
void MergePhrases(std::vector<Token>* tokens) {
  std::vector<Token> out;
  out.reserve(tokens->size());
  for (size_t i = 0; i < tokens->size();) {
    Token& t = (*tokens)[i];
    const Phrase* hit = nullptr;
    if (t.info != nullptr && t.info->phrases != nullptr) {
      for (const Phrase* p : *t.info->phrases) {
        if (i + p->words.size() > tokens->size()) continue;
        bool all = true;
        for (size_t k = 1; k < p->words.size() && all; ++k) {
          const Token& u = (*tokens)[i + k];
          all = u.kind == Token::kWord && u.text == p->words[k];
        }
        if (all) {
          hit = p;
          break;
        }
      }
    }
    if (hit == nullptr) {
      out.push_back(std::move(t));
      ++i;
      continue;
    }
    Token merged;
    merged.text = absl::StrJoin(hit->words, " ");
    merged.phrase = true;
    merged.role = hit->role;
    merged.valence = hit->valence;
    merged.has_valence = hit->role == Phrase::kValence;
    for (size_t k = 0; k < hit->words.size(); ++k) merged.caps = merged.caps || (*tokens)[i + k].caps;
    out.push_back(std::move(merged));
    i += hit->words.size();
  }
  *tokens = std::move(out);
}

bool NegatesLike(const Token& t) {
  return t.kind == Token::kWord && ((t.phrase && t.role == Phrase::kNegator) || (!t.phrase && t.negator));
}

// The intensifier factor of a token, 1 when it is none.
double ModifierOf(const Token& t) {
  if (t.kind != Token::kWord) return 1;
  if (t.phrase) return t.role == Phrase::kDiminisher ? 0.6 : 1;
  return t.info != nullptr ? t.info->modifier : 1;
}

v1::Sentiment SentimentOf(Tokens tk) {
  std::vector<Token>& tokens = tk.tokens;
  MergePhrases(&tokens);

  // Contrast weights: before the last "but"/"however" x0.5, after x1.5.
  std::vector<double> weight(tokens.size(), 1.0);
  for (size_t i = tokens.size(); i-- > 0;) {
    if (tokens[i].info != nullptr && tokens[i].info->contrast) {
      for (size_t k = 0; k < tokens.size(); ++k) weight[k] = k < i ? 0.5 : 1.5;
      break;
    }
  }
  // A concessive clause ("although it was late, ...") counts half.
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].info == nullptr || !tokens[i].info->concessive) continue;
    for (size_t k = i + 1; k < tokens.size() && tokens[k].kind == Token::kWord; ++k) weight[k] *= 0.5;
  }

  double sum = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (t.kind != Token::kWord) continue;
    double v = 0;
    bool expectation = false;
    if (t.has_valence) {
      v = t.valence;
    } else if (!t.phrase) {
      const bool listed = t.info != nullptr && t.info->in_lexicon;
      if (listed) v = t.info->valence;
      expectation = t.info != nullptr && t.info->expectation;
      // "super" and "pretty" modify a following word; alone they praise.
      if (!listed && (t.text == "super") &&
          (i + 1 >= tokens.size() || tokens[i + 1].kind != Token::kWord)) {
        v = 2.0;
      }
    }
    if (v == 0 && !expectation) continue;
    if (t.symbol) {  // emoji and emoticons are read as they are
      sum += v * weight[i];
      continue;
    }
    // Modifiers and negators before the word, within the clause.
    double factor = 1;
    bool negated = false;
    for (size_t back = 1; back <= 3 && back <= i; ++back) {
      const Token& p = tokens[i - back];
      if (p.kind != Token::kWord) break;
      if (p.info != nullptr && (p.info->contrast || p.info->concessive)) break;
      if (NegatesLike(p)) {
        negated = true;
        continue;
      }
      const double m = ModifierOf(p);
      if (m != 1 && !negated) factor *= back == 1 ? m : 1 + (m - 1) * 0.8;
    }
    v *= factor;
    if (t.caps && tk.has_lower) v *= 1.25;
    if (negated) v = expectation ? std::min(-1.8, v * -0.74) : v * -0.74;
    sum += v * weight[i];
  }
  if (sum != 0) {
    const double emphasis = std::min(tk.exclamations, 4) * 0.292;
    sum += sum > 0 ? emphasis : -emphasis;
  }
  double score = sum / std::sqrt(sum * sum + 15.0);
  score = std::max(-1.0, std::min(1.0, score));
  score = std::round(score * 10000) / 10000;  // stable across platforms
  v1::Sentiment out;
  out.set_score(score);
  out.set_label(score >= 0.05    ? v1::SENTIMENT_LABEL_POSITIVE
                : score <= -0.05 ? v1::SENTIMENT_LABEL_NEGATIVE
                                 : v1::SENTIMENT_LABEL_NEUTRAL);
  return out;
}

}  // namespace

v1::Sentiment AnalyzeSentiment(absl::string_view text) { return SentimentOf(Tokenize(text)); }

// ------------------------------------------------------------------ topics --

v1::TopicRules DefaultTopicRules() {
  const std::vector<std::pair<std::string, std::vector<std::string>>> defaults = {
      {"delivery",
       {"deliver*", "shipping", "shipped", "shipment*", "courier*", "package*", "parcel*", "arriv*",
        "dispatch*", "tracking", "postage", "on time", "late", "never came", "doorstep"}},
      {"price",
       {"price*", "pricing", "pricey", "expensive", "cheap*", "overpriced", "cost*", "afford*",
        "value for money", "discount*", "coupon*", "promo*", "fee", "fees", "rip off", "ripoff", "rip-off"}},
      {"support",
       {"support", "customer service", "customer care", "agent*", "representative*", "rep", "reps",
        "helpdesk", "help desk", "call center", "call centre", "on hold", "ticket*", "callback*",
        "called back", "live chat", "hung up"}},
      {"product_quality",
       {"quality", "broke", "broken", "defect*", "faulty", "damaged", "flimsy", "sturdy", "durable",
        "fell apart", "falling apart", "material*", "build quality", "well-made", "cheaply made",
        "stopped working", "crack*", "leak*", "torn", "scratch*"}},
      {"billing",
       {"bill", "bills", "billing", "billed", "invoice*", "charge", "charges", "charged", "overcharg*",
        "double charged", "refund*", "payment*", "paid", "credit card", "subscription*", "renewal*",
        "receipt*"}},
      {"website",
       {"website*", "site", "web", "webpage*", "checkout", "check-out", "login", "log in", "password*",
        "link*", "browser*", "online", "navigat*", "search"}},
      {"app", {"app", "apps", "mobile", "ios", "android", "notification*", "crash*", "update*", "iphone"}},
      {"staff",
       {"staff", "employee*", "cashier*", "manager", "managers", "clerk*", "salesperson", "sales assistant",
        "store team", "shop assistant", "waiter*", "waitress*"}},
  };
  v1::TopicRules rules;
  for (const auto& [topic, keywords] : defaults) {
    v1::TopicRule* r = rules.add_rules();
    r->set_topic(topic);
    for (const auto& k : keywords) r->add_keywords(k);
  }
  rules.set_defaults(true);
  return rules;
}

namespace {

constexpr int kMaxTopicRules = 50;
constexpr int kMaxKeywords = 100;
constexpr size_t kMaxKeywordLength = 64;

bool IsKeyword(absl::string_view k) {
  if (k.empty() || k.size() > kMaxKeywordLength || !shared::IsValidUtf8(k)) return false;
  if (k.front() == ' ' || k.back() == ' ' || absl::StrContains(k, "  ")) return false;
  if (k.back() == '*') {
    k.remove_suffix(1);
    if (k.empty() || k.back() == ' ') return false;
  }
  for (unsigned char c : k) {
    if (c >= 0x80) continue;
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == ' ' || c == '-' || c == '\'' || c == '/')) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::Status ValidateTopicRules(const v1::TopicRules& rules) {
  std::vector<FieldViolation> v;
  if (rules.rules_size() > kMaxTopicRules) {
    v.push_back({"rules", absl::StrCat("holds ", rules.rules_size(), " rules; the most is ", kMaxTopicRules)});
  }
  std::set<std::string> topics;
  for (int i = 0; i < rules.rules_size() && i < kMaxTopicRules; ++i) {
    const v1::TopicRule& r = rules.rules(i);
    const std::string at = absl::StrCat("rules[", i, "]");
    if (!shared::IsLabel(r.topic())) {
      v.push_back({at + ".topic", "must be 1 to 64 characters of [A-Za-z0-9_.:/-]"});
    } else if (!topics.insert(r.topic()).second) {
      v.push_back({at + ".topic", absl::StrCat("repeats the topic ", r.topic())});
    }
    if (r.keywords_size() == 0 || r.keywords_size() > kMaxKeywords) {
      v.push_back({at + ".keywords", absl::StrCat("must hold 1 to ", kMaxKeywords, " keywords")});
      continue;
    }
    for (int k = 0; k < r.keywords_size(); ++k) {
      if (!IsKeyword(r.keywords(k))) {
        v.push_back({absl::StrCat(at, ".keywords[", k, "]"),
                     "must be 1 to 64 characters of lower-case letters, digits, single spaces, '-', '/' and "
                     "'\\'', optionally ending in '*'"});
      }
    }
  }
  if (v.empty()) return absl::OkStatus();
  return shared::WithViolations(absl::StatusCode::kInvalidArgument, v);
}

struct TopicMatcher::Index {
  struct Keyword {
    std::vector<std::string> words;
    bool prefix = false;  // the last word is a prefix ("deliver*")
    size_t rule = 0;
  };
  std::vector<std::string> topics;  // rule order
  std::vector<Keyword> keywords;
  // Keywords by their first word, and the one-word prefixes by their first
  // byte: each word of a text is checked against its few candidates only.
  absl::flat_hash_map<std::string, std::vector<size_t>> by_first_word;
  std::array<std::vector<size_t>, 256> by_first_byte;
};

TopicMatcher::TopicMatcher(const v1::TopicRules& rules) {
  auto index = std::make_shared<Index>();
  for (const v1::TopicRule& rule : rules.rules()) {
    const size_t r = index->topics.size();
    index->topics.push_back(rule.topic());
    for (const std::string& keyword : rule.keywords()) {
      Index::Keyword k;
      k.words = absl::StrSplit(keyword, ' ');
      k.rule = r;
      std::string& last = k.words.back();
      if (!last.empty() && last.back() == '*') {
        last.pop_back();
        k.prefix = true;
      }
      if (k.words.front().empty()) continue;  // never valid: matches nothing
      const size_t at = index->keywords.size();
      if (k.prefix && k.words.size() == 1) {
        index->by_first_byte[static_cast<unsigned char>(k.words.front().front())].push_back(at);
      } else {
        index->by_first_word[k.words.front()].push_back(at);
      }
      index->keywords.push_back(std::move(k));
    }
  }
  index_ = std::move(index);
}

namespace {

std::vector<std::string> MatchTokens(const TopicMatcher::Index& index, const std::vector<Token>& tokens) {
  std::vector<bool> found(index.topics.size());
  auto check = [&](size_t at, size_t i) {
    const TopicMatcher::Index::Keyword& k = index.keywords[at];
    if (found[k.rule] || i + k.words.size() > tokens.size()) return;
    for (size_t w = 0; w < k.words.size(); ++w) {
      const Token& t = tokens[i + w];
      const bool last = w + 1 == k.words.size();
      if (t.kind != Token::kWord || !(last && k.prefix ? absl::StartsWith(t.text, k.words[w]) : t.text == k.words[w])) {
        return;
      }
    }
    found[k.rule] = true;
  };
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (t.kind != Token::kWord || t.text.empty()) continue;
    if (auto it = index.by_first_word.find(t.text); it != index.by_first_word.end()) {
      for (size_t at : it->second) check(at, i);
    }
    for (size_t at : index.by_first_byte[static_cast<unsigned char>(t.text.front())]) check(at, i);
  }
  std::vector<std::string> out;
  for (size_t r = 0; r < found.size(); ++r) {
    if (found[r]) out.push_back(index.topics[r]);
  }
  return out;
}

}  // namespace

std::vector<std::string> TopicMatcher::Match(absl::string_view text) const {
  return MatchTokens(index(), Tokenize(text).tokens);
}

std::vector<std::string> MatchTopics(absl::string_view text, const v1::TopicRules& rules) {
  return TopicMatcher(rules).Match(text);
}

TextAnalysis AnalyzeText(absl::string_view text, const TopicMatcher& topics) {
  TextAnalysis out;
  Tokens tk = Tokenize(text);
  out.topics = MatchTokens(topics.index(), tk.tokens);
  out.sentiment = SentimentOf(std::move(tk));
  return out;
}

}  // namespace cx::feedback
