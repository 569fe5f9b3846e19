// The compressed Series against a plain map of hourly cells: random merges
// (appends, late hours, retractions to nothing, large counters), then every
// Before() and the decoded cells compared.
#include "metrics-service/rollup_index.h"

#include <map>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "metrics-service/position_index.h"

namespace cx::metrics {
namespace {

Counts Answer(Metric metric, int score) { return CountsOf(metric, score); }

TEST(SeriesTest, EqualsAPlainMapUnderRandomMerges) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 20; ++round) {
    Series series;
    std::map<int64_t, Counts> model;
    std::vector<std::pair<int64_t, Counts>> added;  // what can be retracted
    int64_t latest = 400000;
    for (int merge = 0; merge < 200; ++merge) {
      Series::Cells deltas;
      const int count = 1 + static_cast<int>(rng() % 40);
      for (int i = 0; i < count; ++i) {
        const uint64_t what = rng() % 10;
        if (what < 2 && !added.empty()) {  // retract an earlier answer
          const size_t k = rng() % added.size();
          Counts minus;
          minus -= added[k].second;
          deltas.emplace_back(added[k].first, minus);
          added.erase(added.begin() + static_cast<std::ptrdiff_t>(k));
          continue;
        }
        int64_t hour = what < 7 ? latest + static_cast<int64_t>(rng() % 3) : 400000 + static_cast<int64_t>(rng() % 2000);
        latest = std::max(latest, hour);
        Counts c = Answer(static_cast<Metric>(1 + rng() % 3), static_cast<int>(rng() % 8));
        if (what == 9) {  // a large pre-summed cell
          c.n = 1'000'000'007;
          c.sum = 9'000'000'000;
          c.sum_sq = 81'000'000'000;
        }
        deltas.emplace_back(hour, c);
        added.emplace_back(hour, c);
      }
      for (const auto& [h, c] : deltas) {
        model[h] += c;
        if (model[h] == Counts{}) model.erase(h);
      }
      series.Merge(deltas);
    }
    const Series::Cells cells = series.Decoded();
    ASSERT_EQ(cells.size(), model.size());
    ASSERT_EQ(series.cells(), model.size());
    size_t i = 0;
    for (const auto& [h, c] : model) {
      ASSERT_EQ(cells[i].first, h);
      ASSERT_TRUE(cells[i].second == c) << "hour " << h;
      ++i;
    }
    Counts running;
    auto it = model.begin();
    for (int64_t h = 399990; h <= latest + 2; ++h) {
      while (it != model.end() && it->first < h) running += (it++)->second;
      ASSERT_TRUE(series.Before(h) == running) << "round " << round << " hour " << h;
    }
    // Interval sums, over short ranges of many intervals (decoded cell by
    // cell) and long ranges of few (two Before()s per interval).
    for (int trial = 0; trial < 50; ++trial) {
      std::vector<int64_t> boundaries;
      const int64_t from = 399990 + static_cast<int64_t>(rng() % 2100);
      const int intervals = 1 + static_cast<int>(rng() % 40);
      const int64_t step = trial % 2 == 0 ? 1 + static_cast<int64_t>(rng() % 3) : 100 + static_cast<int64_t>(rng() % 400);
      boundaries.push_back(from);
      for (int k = 0; k < intervals; ++k) boundaries.push_back(boundaries.back() + static_cast<int64_t>(rng() % 2) * step);
      std::vector<Counts> got(boundaries.size() - 1);
      series.AddIntervals(boundaries, &got);
      for (size_t k = 0; k + 1 < boundaries.size(); ++k) {
        ASSERT_TRUE(got[k] == series.Range(boundaries[k], boundaries[k + 1])) << "round " << round << " interval " << k;
      }
    }
  }
}

TEST(SeriesTest, CompactKeepsEveryCellAndMergesGoOn) {
  std::mt19937_64 rng(11);
  std::vector<Series> series(50);
  std::vector<std::map<int64_t, Counts>> model(series.size());
  auto merge_some = [&] {
    for (size_t s = 0; s < series.size(); ++s) {
      Series::Cells deltas;
      for (int i = 0; i < static_cast<int>(rng() % 400); ++i) {
        deltas.emplace_back(400000 + static_cast<int64_t>(rng() % 3000),
                            Answer(static_cast<Metric>(1 + rng() % 3), static_cast<int>(rng() % 8)));
      }
      for (const auto& [h, c] : deltas) model[s][h] += c;
      series[s].Merge(deltas);
    }
  };
  auto check = [&] {
    for (size_t s = 0; s < series.size(); ++s) {
      const Series::Cells cells = series[s].Decoded();
      ASSERT_EQ(cells.size(), model[s].size());
      size_t i = 0;
      for (const auto& [h, c] : model[s]) {
        ASSERT_EQ(cells[i].first, h);
        ASSERT_TRUE(cells[i++].second == c);
      }
    }
  };
  merge_some();
  std::vector<Series*> all;
  for (Series& s : series) all.push_back(&s);
  Series::Compact(all);
  check();
  merge_some();  // the compacted buffers grow again
  check();
}

TEST(SeriesTest, EmptyAndRetractedToNothing) {
  Series series;
  EXPECT_TRUE(series.empty());
  EXPECT_TRUE(series.Before(100) == Counts{});
  Series::Cells add = {{10, Answer(Metric::kNps, 9)}, {12, Answer(Metric::kNps, 3)}};
  series.Merge(add);
  EXPECT_EQ(series.cells(), 2u);
  EXPECT_EQ(series.Range(10, 13).n, 2);
  EXPECT_EQ(series.Range(11, 13).bottom, 1);
  Counts minus;
  minus -= Answer(Metric::kNps, 9);
  Series::Cells retract = {{10, minus}};
  series.Merge(retract);
  EXPECT_EQ(series.cells(), 1u);
  EXPECT_EQ(series.Before(100).n, 1);
  EXPECT_EQ(series.Before(12).n, 0);
}

TEST(PositionIndexTest, FindsRecordsByTheirOwnKeys) {
  std::vector<std::string> names;
  struct NameOf {
    const std::vector<std::string>* names;
    std::string_view operator()(uint32_t i) const { return (*names)[i]; }
  };
  PositionIndex<std::string_view, NameOf> index{NameOf{&names}};
  for (int i = 0; i < 5000; ++i) {  // grows the vector and rehashes the set many times
    names.push_back("customer-" + std::to_string(i));
    index.Insert(static_cast<uint32_t>(names.size() - 1));
  }
  for (int i = 0; i < 5000; i += 7) {
    auto found = index.Find("customer-" + std::to_string(i));
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(*found, static_cast<uint32_t>(i));
  }
  EXPECT_FALSE(index.Find("customer-5000").has_value());
  EXPECT_FALSE(index.Find("").has_value());
}

}  // namespace
}  // namespace cx::metrics
