// The in-memory side of the rollups: hourly cells of mergeable counters
// (score_math.h Counts), kept as cumulative sums so any time range of one
// series is two binary searches. Per (tenant, metric) it keeps
//   - the total series (every answer once),
//   - one series per value of each dimension (answers of that value),
//   - one series per pair of values of two dimensions,
//   - one series per full combination of dimension values (a cell key).
// A query picks the smallest of these that can answer it: no filter -> the
// total; one or two dimensions (filters plus the breakdown dimension) ->
// those series; otherwise it adds up the matching combinations. The database holds the cell keys' hourly counters
// (the truth, updated in the same transaction as the feed cursor); this index
// is rebuilt from them at start and updated after every commit.
//
// Tags: an answer with tags t1..tk contributes to the cell of its key with
// tag "" (all answers) and to one cell per tag. Filtering or breaking down by
// tag reads the tagged cells; everything else reads the "" cells.
#ifndef CX_METRICS_ROLLUP_INDEX_H_
#define CX_METRICS_ROLLUP_INDEX_H_

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "metrics-service/compact_vector.h"
#include "metrics-service/dictionary.h"
#include "metrics-service/position_index.h"
#include "metrics-service/score_math.h"

namespace cx::metrics {

// Dimensions in the order of a cell key.
enum Dim : int { kChannel = 0, kSource = 1, kTouchpoint = 2, kStage = 3, kSegment = 4, kTag = 5 };
inline constexpr int kDims = 6;

// The values of a cell: channel, source and stage as decimal enum numbers,
// touchpoint, segment and tag as strings ("" when absent; tag "" is the
// all-answers cell).
using CellKey = std::array<std::string, kDims>;
// Equality filters per dimension.
using Filter = std::array<std::optional<std::string>, kDims>;

struct CellDelta {
  std::string tenant;
  Metric metric;
  int64_t hour;  // hours since the epoch (UTC)
  CellKey key;
  Counts delta;
};

// One series of hourly cells, compressed, answering "sum before hour h" in
// O(log cells). Cells are kept in blocks of up to kBlockCells; a block holds
// the sum of every cell before it (the cumulative sums) and its cells as
// varints: the distance in hours from the previous cell, then the counters.
// A cell of one answer (most cells of a fine series) takes two bytes in all,
// so a cell costs about 3 bytes instead of the 48 of a plain (hour, Counts).
class Series {
 public:
  using Cells = std::vector<std::pair<int64_t, Counts>>;

  // Sum of the cells with from <= hour < to.
  Counts Range(int64_t from, int64_t to) const { return Before(to) - Before(from); }
  // Sum of the cells with hour < h.
  Counts Before(int64_t h) const;
  // Adds the cells with boundaries[i] <= hour < boundaries[i + 1] to
  // (*out)[i] (boundaries ascending; out has one fewer). A range of few
  // blocks is decoded once, cell by cell; a long one with few intervals
  // takes two Before()s per interval.
  void AddIntervals(const std::vector<int64_t>& boundaries, std::vector<Counts>* out) const;
  // Adds deltas (any order, repeats allowed). Only the blocks from the one
  // holding the earliest changed hour on are re-encoded, so new recent
  // answers (the usual case) cost O(kBlockCells), not O(series).
  void Merge(Cells& deltas);
  // Every cell in hour order (for tests).
  Cells Decoded() const;
  size_t cells() const { return cells_; }
  // Moves the buffers of every series in `all` to fresh allocations of
  // their exact size, made one after another once all the old ones are
  // freed. After a rebuild, whose many growing buffers leave the heap full
  // of small holes, this packs the series together again.
  static void Compact(const std::vector<Series*>& all);
  bool empty() const { return cells_ == 0; }

  static constexpr uint32_t kBlockCells = 256;

 private:
  struct Block {
    Counts before;       // sum of every cell in earlier blocks
    int64_t first_hour;  // hour of the block's first cell
    uint32_t offset;     // into bytes_
    uint32_t cells;
  };
  // The first block (nothing before it, offset 0) is kept in the series
  // itself, so a series of up to kBlockCells cells, as most fine
  // combinations are, has one allocation: its bytes.
  size_t BlockCount() const { return first_cells_ == 0 ? 0 : 1 + LaterCount(); }
  size_t LaterCount() const { return later_ ? later_->size() : 0; }
  Block BlockAt(size_t i) const { return i == 0 ? Block{Counts{}, first_hour_, 0, first_cells_} : (*later_)[i - 1]; }
  // The number of blocks whose first hour is below `h` (inclusive: at or below).
  size_t BlocksStartingBefore(int64_t h, bool inclusive) const;
  // Appends the cells of blocks [first, end) to *out.
  void DecodeFrom(size_t first, Cells* out) const;
  // Appends cells (ascending hours, none empty) as new blocks after `before`.
  void Append(const Cells& cells, Counts before);

  // 40 bytes in all: series are many (one per combination of values).
  std::unique_ptr<std::vector<Block>> later_;  // blocks 1.., null when none
  CompactVector<uint8_t> bytes_;               // the encoded cells of every block
  int64_t first_hour_ = 0;
  uint32_t first_cells_ = 0;
  uint32_t cells_ = 0;
};

class RollupIndex {
 public:
  // Applies deltas (a committed batch).
  void Apply(const std::vector<CellDelta>& deltas);

  Counts Sum(const std::string& tenant, Metric metric, const Filter& filter, int64_t from_hour,
             int64_t to_hour) const;
  // Sums per interval [boundaries[i], boundaries[i+1]); boundaries ascending.
  std::vector<Counts> SumIntervals(const std::string& tenant, Metric metric, const Filter& filter,
                                   const std::vector<int64_t>& boundaries) const;
  // Sums per value of `dim` with answers (n != 0) in the range.
  std::map<std::string, Counts> Breakdown(const std::string& tenant, Metric metric, Dim dim, const Filter& filter,
                                          int64_t from_hour, int64_t to_hour) const;

  // Cells in the index (all series), for the benchmark's report.
  size_t cells() const;
  // Packs every series' buffers (Series::Compact), without spare capacity
  // (after a rebuild, when most stop growing for a while).
  void Compact();

 private:
  // A full combination of values, as ids of the metric's dictionaries.
  using ComboKey = std::array<uint32_t, kDims>;
  struct Combo {
    ComboKey key;
    Series series;
  };
  struct PairSeries {
    std::string first, second;  // the values of the pair's two dimensions
    Series series;
  };
  static constexpr int kPairs = kDims * (kDims - 1) / 2;
  // Index of the pair of dimensions a < b.
  static int PairIndex(int a, int b) { return a * (2 * kDims - a - 1) / 2 + (b - a - 1); }
  struct ComboKeyOf {
    const std::deque<Combo>* combos;
    const ComboKey& operator()(uint32_t i) const { return (*combos)[i].key; }
  };
  struct MetricSeries {
    MetricSeries() = default;
    MetricSeries(const MetricSeries&) = delete;  // combo_index refers to combos
    MetricSeries& operator=(const MetricSeries&) = delete;

    Series total;
    std::array<std::unordered_map<std::string, Series>, kDims> by_value;
    std::array<std::unordered_map<std::string, PairSeries>, kPairs> by_pair;  // by "first\x1fsecond"
    std::array<Dictionary, kDims> values;  // each dimension's values as ids
    std::deque<Combo> combos;              // a deque: pointers stay valid as it grows
    PositionIndex<ComboKey, ComboKeyOf> combo_index{ComboKeyOf{&combos}};  // key -> position in combos
  };
  using TenantMetric = std::pair<std::string, int>;

  const MetricSeries* Find(const std::string& tenant, Metric metric) const;
  // Calls fn(combo) for every combination the filter selects, with the tag
  // rule above (`tag_breakdown`: the tagged cells).
  template <class Fn>
  static void ForMatchingCombos(const MetricSeries& m, const Filter& filter, bool tag_breakdown, Fn fn);
  // The single series answering a filter on at most one dimension, nullptr
  // when there is none with data, or `*needs_scan` when it takes a scan.
  static const Series* Direct(const MetricSeries& m, const Filter& filter, bool* needs_scan);

  mutable std::shared_mutex mu_;
  std::map<TenantMetric, MetricSeries> data_;
};

}  // namespace cx::metrics

#endif  // CX_METRICS_ROLLUP_INDEX_H_
