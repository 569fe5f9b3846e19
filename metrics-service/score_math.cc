#include "metrics-service/score_math.h"

#include <algorithm>
#include <cmath>

namespace cx::metrics {

Counts CountsOf(Metric metric, int score) {
  Counts c;
  c.n = 1;
  c.sum = score;
  c.sum_sq = static_cast<int64_t>(score) * score;
  switch (metric) {
    case Metric::kNps:
      c.top = score >= 9;
      c.bottom = score <= 6;
      break;
    case Metric::kCsat:
      c.top = score >= 4;
      c.bottom = score <= 2;
      break;
    case Metric::kCes:
      c.top = score >= 6;
      c.bottom = score <= 3;
      break;
  }
  return c;
}

void ScaleOf(Metric metric, int* min, int* max) {
  switch (metric) {
    case Metric::kNps: *min = -100; *max = 100; return;
    case Metric::kCsat: *min = 0; *max = 100; return;
    case Metric::kCes: *min = 1; *max = 7; return;
  }
}

Score ComputeScore(Metric metric, const Counts& c) {
  Score s;
  s.n = c.n;
  if (c.n <= 0) return s;
  s.defined = true;
  const double n = static_cast<double>(c.n);
  switch (metric) {
    case Metric::kNps: {
      const double p = c.top / n, d = c.bottom / n;
      s.value = 100.0 * (p - d);
      const double var = std::max(0.0, p + d - (p - d) * (p - d));
      s.standard_error = 100.0 * std::sqrt(var / n);
      break;
    }
    case Metric::kCsat: {
      const double p = c.top / n;
      s.value = 100.0 * p;
      s.standard_error = 100.0 * std::sqrt(p * (1 - p) / n);
      break;
    }
    case Metric::kCes: {
      const double mean = c.sum / n;
      s.value = mean;
      if (c.n > 1) {
        const double var = std::max(0.0, (c.sum_sq - n * mean * mean) / (n - 1));
        s.standard_error = std::sqrt(var / n);
      }
      break;
    }
  }
  s.margin = 1.96 * s.standard_error;
  int lo = 0, hi = 0;
  ScaleOf(metric, &lo, &hi);
  s.low = std::max<double>(lo, s.value - s.margin);
  s.high = std::min<double>(hi, s.value + s.margin);
  return s;
}

double CriticalZ(double confidence) {
  // Inverse of the standard normal CDF at (1 + confidence) / 2 by bisection
  // on erfc: exact to well below the precision anyone reads a z at.
  const double target = (1.0 - confidence) / 2.0;  // upper tail
  double lo = 0, hi = 10;
  for (int i = 0; i < 200; ++i) {
    const double mid = (lo + hi) / 2;
    const double tail = 0.5 * std::erfc(mid / std::sqrt(2.0));
    if (tail > target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

Difference CompareScores(const Score& a, const Score& b, double confidence) {
  Difference d;
  d.delta = b.value - a.value;
  d.standard_error = std::sqrt(a.standard_error * a.standard_error + b.standard_error * b.standard_error);
  if (d.standard_error > 0) d.z = d.delta / d.standard_error;
  d.significant = a.defined && b.defined && d.standard_error > 0 && std::abs(d.z) > CriticalZ(confidence);
  return d;
}

}  // namespace cx::metrics
