// The score formulas against the published worked example, direct
// computation from raw answers, and the significance test of a difference.
#include "metrics-service/score_math.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace cx::metrics {
namespace {

Counts Sum(Metric metric, const std::vector<int>& scores) {
  Counts c;
  for (int s : scores) c += CountsOf(metric, s);
  return c;
}

TEST(ScoreMath, ThePublishedNpsExampleIs30PlusMinus7Point65) {
  // 400 answers: 200 promoters, 120 passives, 80 detractors.
  std::vector<int> scores;
  for (int i = 0; i < 200; ++i) scores.push_back(9 + i % 2);
  for (int i = 0; i < 120; ++i) scores.push_back(7 + i % 2);
  for (int i = 0; i < 80; ++i) scores.push_back(i % 7);
  Score s = ComputeScore(Metric::kNps, Sum(Metric::kNps, scores));
  EXPECT_EQ(s.n, 400);
  EXPECT_DOUBLE_EQ(s.value, 30.0);
  EXPECT_NEAR(s.margin, 7.65, 0.005);
  EXPECT_NEAR(s.standard_error, 100 * std::sqrt(0.61 / 400), 1e-12);
  EXPECT_NEAR(s.low, 30.0 - 7.654, 0.001);
}

TEST(ScoreMath, CsatIsTheTopTwoBoxShareAndCesTheMeanWithSampleStandardError) {
  Score csat = ComputeScore(Metric::kCsat, Sum(Metric::kCsat, {5, 4, 3, 2, 1, 5, 4, 4}));
  EXPECT_DOUBLE_EQ(csat.value, 62.5);
  EXPECT_NEAR(csat.standard_error, 100 * std::sqrt(0.625 * 0.375 / 8), 1e-12);

  const std::vector<int> ces = {7, 6, 5, 5, 3, 7, 2};
  Score s = ComputeScore(Metric::kCes, Sum(Metric::kCes, ces));
  double mean = 0;
  for (int x : ces) mean += x;
  mean /= ces.size();
  double var = 0;
  for (int x : ces) var += (x - mean) * (x - mean);
  var /= ces.size() - 1;
  EXPECT_NEAR(s.value, mean, 1e-12);
  EXPECT_NEAR(s.standard_error, std::sqrt(var / ces.size()), 1e-12);
  int lo = 0, hi = 0;
  ScaleOf(Metric::kCes, &lo, &hi);
  EXPECT_EQ(lo, 1);
  EXPECT_EQ(hi, 7);
}

TEST(ScoreMath, CountersMergeAndRetractExactly) {
  std::mt19937 rng(7);
  Counts all, part;
  std::vector<int> scores;
  for (int i = 0; i < 1000; ++i) {
    int s = static_cast<int>(rng() % 11);
    scores.push_back(s);
    all += CountsOf(Metric::kNps, s);
    if (i % 3 == 0) part += CountsOf(Metric::kNps, s);
  }
  Counts rest = all;
  rest -= part;
  Counts again = rest;
  again += part;
  EXPECT_EQ(again, all);
  // Equal to a direct computation over the raw answers.
  int p = 0, d = 0;
  for (int s : scores) {
    p += s >= 9;
    d += s <= 6;
  }
  EXPECT_DOUBLE_EQ(ComputeScore(Metric::kNps, all).value, 100.0 * (p - d) / scores.size());
  EXPECT_FALSE(ComputeScore(Metric::kNps, Counts()).defined);
}

TEST(ScoreMath, ADifferenceIsSignificantOnlyBeyondItsCriticalValue) {
  EXPECT_NEAR(CriticalZ(0.95), 1.959964, 1e-5);
  EXPECT_NEAR(CriticalZ(0.99), 2.575829, 1e-5);
  Score a, b;
  a.defined = b.defined = true;
  a.value = 30;
  a.standard_error = 3;
  b.value = 20;
  b.standard_error = 4;  // SE of the difference: 5
  Difference d = CompareScores(a, b, 0.95);
  EXPECT_DOUBLE_EQ(d.delta, -10);
  EXPECT_DOUBLE_EQ(d.standard_error, 5);
  EXPECT_TRUE(d.significant);          // |z| = 2 > 1.96
  EXPECT_FALSE(CompareScores(a, b, 0.99).significant);  // 2 < 2.58
  b.value = 25;
  EXPECT_FALSE(CompareScores(a, b, 0.95).significant);
}

}  // namespace
}  // namespace cx::metrics
