// The statistics of CX scores, exactly as the architecture states them, over
// mergeable counters: a rollup bucket holds Counts, a query adds buckets and
// turns the sum into a Score with its standard error and 95% interval.
//
//   NPS  = 100 (P - D) / n;  Var = pP + pD - (pP - pD)^2;  SE = 100 sqrt(Var / n)
//   CSAT = 100 * share of 4-5 answers on 1-5;  SE = 100 sqrt(p (1 - p) / n)
//   CES  = mean on 1-7;  SE = s / sqrt(n) with the sample standard deviation s
//   Difference of two periods: SE = sqrt(SE1^2 + SE2^2), significant when
//   |delta| > z * SE for the chosen two-sided level.
#ifndef CX_METRICS_SCORE_MATH_H_
#define CX_METRICS_SCORE_MATH_H_

#include <cstdint>

namespace cx::metrics {

enum class Metric { kNps = 1, kCsat = 2, kCes = 3 };

// Mergeable counters of one metric. For NPS `top` counts promoters (9-10)
// and `bottom` detractors (0-6); for CSAT `top` counts 4-5 and `bottom` 1-2;
// for CES `top` counts 6-7 (easy) and `bottom` 1-3 (hard). `sum` and
// `sum_sq` are of the raw scores.
struct Counts {
  int64_t n = 0;
  int64_t top = 0;
  int64_t bottom = 0;
  int64_t sum = 0;
  int64_t sum_sq = 0;

  Counts& operator+=(const Counts& o) {
    n += o.n;
    top += o.top;
    bottom += o.bottom;
    sum += o.sum;
    sum_sq += o.sum_sq;
    return *this;
  }
  Counts& operator-=(const Counts& o) {
    n -= o.n;
    top -= o.top;
    bottom -= o.bottom;
    sum -= o.sum;
    sum_sq -= o.sum_sq;
    return *this;
  }
  Counts operator-(const Counts& o) const {
    Counts r = *this;
    r -= o;
    return r;
  }
  bool operator==(const Counts& o) const {
    return n == o.n && top == o.top && bottom == o.bottom && sum == o.sum && sum_sq == o.sum_sq;
  }
};

// The counters one answer contributes to its metric.
Counts CountsOf(Metric metric, int score);

// The scale a metric is reported on.
void ScaleOf(Metric metric, int* min, int* max);

struct Score {
  int64_t n = 0;
  double value = 0;           // NPS -100..100, CSAT 0..100 (%), CES 1..7
  double standard_error = 0;  // in the value's unit
  double margin = 0;          // 1.96 * standard_error
  double low = 0;             // value - margin, clamped to the scale
  double high = 0;
  bool defined = false;       // false when n == 0
};

Score ComputeScore(Metric metric, const Counts& counts);

struct Difference {
  double delta = 0;           // b - a
  double standard_error = 0;  // sqrt(SE_a^2 + SE_b^2)
  double z = 0;               // delta / standard_error (0 when SE is 0)
  bool significant = false;
};

// Two-sided test at `confidence` (e.g. 0.95) of b - a.
Difference CompareScores(const Score& a, const Score& b, double confidence);

// The two-sided critical value of the standard normal for a confidence level.
double CriticalZ(double confidence);

}  // namespace cx::metrics

#endif  // CX_METRICS_SCORE_MATH_H_
