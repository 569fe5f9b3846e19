// sentiment-eval: scores labelled comments with the feedback-service
// sentiment method and prints accuracy, per-label precision / recall / F1
// and the confusion matrix of each file.
//   sentiment-eval [--errors] FILE.tsv...   (lines: label<TAB>comment; '#' comments)
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "feedback-service/text_analytics.h"

namespace {

using cx::feedback::AnalyzeSentiment;
namespace v1 = cx::feedback::v1;

const char* const kLabels[] = {"positive", "neutral", "negative"};

std::string LabelName(v1::SentimentLabel label) {
  switch (label) {
    case v1::SENTIMENT_LABEL_POSITIVE: return "positive";
    case v1::SENTIMENT_LABEL_NEGATIVE: return "negative";
    default: return "neutral";
  }
}

struct Tally {
  int total = 0, correct = 0;
  std::map<std::string, std::map<std::string, int>> confusion;  // truth -> predicted -> n
};

void Print(const std::string& title, const Tally& t) {
  std::printf("%s: %d comments, accuracy %.1f%% (%d correct)\n", title.c_str(), t.total,
              t.total ? 100.0 * t.correct / t.total : 0.0, t.correct);
  std::printf("  %-9s %9s %7s %6s %5s\n", "label", "precision", "recall", "F1", "n");
  for (const char* label : kLabels) {
    int tp = 0, predicted = 0, actual = 0;
    for (const auto& [truth, row] : t.confusion) {
      for (const auto& [pred, n] : row) {
        if (pred == label) predicted += n;
        if (truth == label) actual += n;
        if (pred == label && truth == label) tp += n;
      }
    }
    const double p = predicted ? 1.0 * tp / predicted : 0, r = actual ? 1.0 * tp / actual : 0;
    std::printf("  %-9s %8.1f%% %6.1f%% %5.2f %5d\n", label, 100 * p, 100 * r, p + r > 0 ? 2 * p * r / (p + r) : 0.0,
                actual);
  }
  std::printf("  confusion (rows: truth, columns: predicted)\n  %-9s", "");
  for (const char* label : kLabels) std::printf(" %9s", label);
  std::printf("\n");
  for (const char* truth : kLabels) {
    std::printf("  %-9s", truth);
    for (const char* pred : kLabels) {
      auto row = t.confusion.find(truth);
      int n = 0;
      if (row != t.confusion.end()) {
        auto cell = row->second.find(pred);
        if (cell != row->second.end()) n = cell->second;
      }
      std::printf(" %9d", n);
    }
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool errors = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--errors") errors = true;
    else if (arg == "--help" || arg == "-h") {
      std::printf("usage: sentiment-eval [--errors] FILE.tsv...\n");
      return 0;
    } else files.push_back(arg);
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: sentiment-eval [--errors] FILE.tsv...\n");
    return 2;
  }
  Tally all;
  for (const std::string& file : files) {
    std::ifstream in(file);
    if (!in) {
      std::fprintf(stderr, "cannot open %s\n", file.c_str());
      return 1;
    }
    Tally t;
    std::string line;
    int line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.empty() || line[0] == '#') continue;
      std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits('\t', 1));
      if (parts.size() != 2 || (parts[0] != "positive" && parts[0] != "neutral" && parts[0] != "negative")) {
        std::fprintf(stderr, "%s:%d: expected label<TAB>comment\n", file.c_str(), line_no);
        return 1;
      }
      const v1::Sentiment s = AnalyzeSentiment(parts[1]);
      const std::string predicted = LabelName(s.label());
      for (Tally* x : {&t, &all}) {
        ++x->total;
        if (predicted == parts[0]) ++x->correct;
        ++x->confusion[parts[0]][predicted];
      }
      if (errors && predicted != parts[0]) {
        std::printf("  %s:%d want %-8s got %-8s %+.3f  %s\n", file.c_str(), line_no, parts[0].c_str(),
                    predicted.c_str(), s.score(), parts[1].c_str());
      }
    }
    Print(file, t);
  }
  if (files.size() > 1) Print("all files", all);
  return 0;
}
