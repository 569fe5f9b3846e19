#include "metrics-service/rollup_index.h"

#include <algorithm>
#include <array>
#include <mutex>

#include "metrics-service/varint.h"

namespace cx::metrics {

namespace {

// Cell encoding: varint((hour - previous hour) << 1 | one), then for a cell of
// one answer (one = 1; n = 1, top and bottom 0 or 1, sum_sq = sum^2,
// 0 <= sum < 32) a byte top << 6 | bottom << 5 | sum, else the five counters
// as zigzag varints: either as they are, or as differences from the previous
// cell of the block (zero counters before its first cell), whichever is
// shorter. Dense series (totals, values, pairs) hold similar counts hour
// after hour, so their differences take fewer bytes. The first varint
// carries the choice in its low bit: zigzag(n or its difference) << 1 |
// difference (counters stay below 2^62).
bool IsOneAnswer(const Counts& c) {
  return c.n == 1 && (c.top == 0 || c.top == 1) && (c.bottom == 0 || c.bottom == 1) && c.sum >= 0 && c.sum < 32 &&
         c.sum_sq == c.sum * c.sum;
}

// The five counters as zigzag values, the first shifted left to make room
// for the flag bit.
std::array<uint64_t, 5> CounterCodes(const Counts& c, bool difference) {
  return {Zigzag(c.n) << 1 | (difference ? 1 : 0), Zigzag(c.top), Zigzag(c.bottom), Zigzag(c.sum),
          Zigzag(c.sum_sq)};
}

size_t CodesLength(const std::array<uint64_t, 5>& codes) {
  size_t n = 0;
  for (uint64_t v : codes) n += VarintLength(v);
  return n;
}

// Encodes one cell; `previous` is the block's previous cell (zero counters
// for its first).
void EncodeCell(int64_t hour_delta, const Counts& c, const Counts& previous, std::vector<uint8_t>* out) {
  const bool one = IsOneAnswer(c);
  PutVarint(static_cast<uint64_t>(hour_delta) << 1 | (one ? 1 : 0), out);
  if (one) {
    out->push_back(static_cast<uint8_t>(c.top << 6 | c.bottom << 5 | c.sum));
    return;
  }
  Counts difference = c;
  difference -= previous;
  const auto as_is = CounterCodes(c, false);
  const auto as_difference = CounterCodes(difference, true);
  for (uint64_t v : CodesLength(as_difference) < CodesLength(as_is) ? as_difference : as_is) PutVarint(v, out);
}

// Decodes one cell at p (advancing it); *hour and *previous are the previous
// cell's hour and counters on entry (zero counters before a block's first
// cell), and this cell's on return.
Counts DecodeCell(const uint8_t*& p, int64_t* hour, Counts* previous) {
  const uint64_t head = GetVarint(p);
  *hour += static_cast<int64_t>(head >> 1);
  Counts c;
  if (head & 1) {
    const uint8_t b = *p++;
    c.n = 1;
    c.top = b >> 6 & 1;
    c.bottom = b >> 5 & 1;
    c.sum = b & 31;
    c.sum_sq = c.sum * c.sum;
  } else {
    const uint64_t first = GetVarint(p);
    c.n = Unzigzag(first >> 1);
    c.top = Unzigzag(GetVarint(p));
    c.bottom = Unzigzag(GetVarint(p));
    c.sum = Unzigzag(GetVarint(p));
    c.sum_sq = Unzigzag(GetVarint(p));
    if (first & 1) c += *previous;
  }
  *previous = c;
  return c;
}

// Appends `tail` to `v`, growing the capacity by a quarter rather than
// doubling it: series are many, and most stop growing.
template <class T, class It>
void AppendGrowing(std::vector<T>& v, It begin, It end) {
  const size_t need = v.size() + static_cast<size_t>(end - begin);
  if (need > v.capacity()) v.reserve(std::max(need, v.capacity() + v.capacity() / 4 + 1));
  v.insert(v.end(), begin, end);
}

}  // namespace

size_t Series::BlocksStartingBefore(int64_t h, bool inclusive) const {
  auto starts_before = [&](int64_t first_hour) { return inclusive ? first_hour <= h : first_hour < h; };
  if (first_cells_ == 0 || !starts_before(first_hour_)) return 0;
  if (!later_) return 1;
  return 1 + static_cast<size_t>(std::partition_point(later_->begin(), later_->end(),
                                                      [&](const Block& b) { return starts_before(b.first_hour); }) -
                                 later_->begin());
}

Counts Series::Before(int64_t h) const {
  const size_t count = BlocksStartingBefore(h, false);
  if (count == 0) return Counts{};
  const Block block = BlockAt(count - 1);
  Counts sum = block.before;
  const uint8_t* p = bytes_.data() + block.offset;
  int64_t hour = block.first_hour;
  Counts previous;
  for (uint32_t i = 0; i < block.cells; ++i) {
    const Counts cell = DecodeCell(p, &hour, &previous);
    if (hour >= h) break;
    sum += cell;
  }
  return sum;
}

void Series::AddIntervals(const std::vector<int64_t>& boundaries, std::vector<Counts>* out) const {
  if (boundaries.size() < 2 || empty()) return;
  const size_t intervals = boundaries.size() - 1;
  const size_t starting_at_or_before = BlocksStartingBefore(boundaries.front(), true);
  const size_t first = starting_at_or_before == 0 ? 0 : starting_at_or_before - 1;
  const size_t end = BlocksStartingBefore(boundaries.back(), false);
  if (end <= first) return;  // every cell is at or after the last boundary
  if (end - first > intervals) {
    Counts previous = Before(boundaries[0]);
    for (size_t i = 0; i < intervals; ++i) {
      const Counts next = Before(boundaries[i + 1]);
      Counts cell = next;
      cell -= previous;
      (*out)[i] += cell;
      previous = next;
    }
    return;
  }
  size_t i = 0;
  for (size_t b = first; b < end; ++b) {
    const Block block = BlockAt(b);
    const uint8_t* p = bytes_.data() + block.offset;
    int64_t hour = block.first_hour;
    Counts previous;
    for (uint32_t k = 0; k < block.cells; ++k) {
      const Counts cell = DecodeCell(p, &hour, &previous);
      if (hour < boundaries.front()) continue;
      if (hour >= boundaries.back()) return;
      while (hour >= boundaries[i + 1]) ++i;
      (*out)[i] += cell;
    }
  }
}

void Series::DecodeFrom(size_t first, Cells* out) const {
  for (size_t b = first; b < BlockCount(); ++b) {
    const Block block = BlockAt(b);
    const uint8_t* p = bytes_.data() + block.offset;
    int64_t hour = block.first_hour;
    Counts previous;
    for (uint32_t i = 0; i < block.cells; ++i) {
      Counts c = DecodeCell(p, &hour, &previous);
      out->emplace_back(hour, c);
    }
  }
}

Series::Cells Series::Decoded() const {
  Cells out;
  DecodeFrom(0, &out);
  return out;
}

void Series::Append(const Cells& cells, Counts before) {
  thread_local std::vector<Block> new_blocks;  // reused: merges are many and small
  thread_local std::vector<uint8_t> new_bytes;
  new_blocks.clear();
  new_bytes.clear();
  const size_t base = bytes_.size();
  int64_t previous = 0;
  Counts previous_cell;
  for (const auto& [hour, cell] : cells) {
    if (new_blocks.empty() || new_blocks.back().cells == kBlockCells) {
      new_blocks.push_back(Block{before, hour, static_cast<uint32_t>(base + new_bytes.size()), 0});
      previous = hour;
      previous_cell = Counts{};
    }
    EncodeCell(hour - previous, cell, previous_cell, &new_bytes);
    previous = hour;
    previous_cell = cell;
    before += cell;
    ++new_blocks.back().cells;
  }
  auto first_new = new_blocks.begin();
  if (first_cells_ == 0 && first_new != new_blocks.end()) {  // the series' first block
    first_hour_ = first_new->first_hour;
    first_cells_ = first_new->cells;
    ++first_new;
  }
  if (first_new != new_blocks.end()) {
    if (!later_) later_ = std::make_unique<std::vector<Block>>();
    AppendGrowing(*later_, first_new, new_blocks.end());
  }
  bytes_.append(new_bytes.data(), new_bytes.data() + new_bytes.size());
  cells_ += static_cast<uint32_t>(cells.size());
}

void Series::Compact(const std::vector<Series*>& all) {
  size_t bytes = 0, blocks = 0;
  for (const Series* s : all) {
    bytes += s->bytes_.size();
    blocks += s->LaterCount();
  }
  // Stash everything (one large allocation each, outside the small-chunk
  // heap), free every buffer, then allocate them again in a row.
  std::vector<uint8_t> byte_stash;
  std::vector<Block> block_stash;
  std::vector<uint32_t> byte_counts, later_counts;
  byte_stash.reserve(bytes);
  block_stash.reserve(blocks);
  byte_counts.reserve(all.size());
  later_counts.reserve(all.size());
  for (Series* s : all) {
    byte_stash.insert(byte_stash.end(), s->bytes_.begin(), s->bytes_.end());
    byte_counts.push_back(static_cast<uint32_t>(s->bytes_.size()));
    later_counts.push_back(static_cast<uint32_t>(s->LaterCount()));
    if (s->later_) block_stash.insert(block_stash.end(), s->later_->begin(), s->later_->end());
    s->bytes_.release();
    s->later_.reset();
  }
  const uint8_t* next_bytes = byte_stash.data();
  const Block* next_block = block_stash.data();
  for (size_t i = 0; i < all.size(); ++i) {
    Series* s = all[i];
    s->bytes_.append(next_bytes, next_bytes + byte_counts[i]);  // exactly its size
    next_bytes += byte_counts[i];
    if (later_counts[i] > 0) {
      s->later_ = std::make_unique<std::vector<Block>>(next_block, next_block + later_counts[i]);
      next_block += later_counts[i];
    }
  }
}

void Series::Merge(Cells& deltas) {
  if (deltas.empty()) return;
  std::sort(deltas.begin(), deltas.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  // The first block that can change: the last one starting at or before the
  // earliest delta (a delta before every cell changes the first block).
  size_t first = BlocksStartingBefore(deltas.front().first, true);
  if (first > 0) --first;
  thread_local Cells suffix;  // reused: merges are many and small
  thread_local Cells merged;
  suffix.clear();
  merged.clear();
  DecodeFrom(first, &suffix);
  const Counts before = first < BlockCount() ? BlockAt(first).before : Counts{};
  if (first < BlockCount()) {  // drop blocks [first, end): they are re-encoded below
    bytes_.truncate(BlockAt(first).offset);
    if (later_) later_->resize(first == 0 ? 0 : first - 1);
    if (first == 0) first_cells_ = 0;
  }
  cells_ -= static_cast<uint32_t>(suffix.size());
  size_t i = 0, j = 0;
  while (i < suffix.size() || j < deltas.size()) {
    const int64_t hour = (j == deltas.size() || (i < suffix.size() && suffix[i].first < deltas[j].first))
                             ? suffix[i].first
                             : deltas[j].first;
    Counts cell;
    if (i < suffix.size() && suffix[i].first == hour) cell = suffix[i++].second;
    while (j < deltas.size() && deltas[j].first == hour) cell += deltas[j++].second;
    if (cell == Counts{}) continue;  // retracted to nothing: drop the cell
    merged.emplace_back(hour, cell);
  }
  Append(merged, before);
}

namespace {

// How many dimensions the filter names; `first` and `last` of them.
int FilteredDims(const Filter& filter, int* last, int* first = nullptr) {
  int count = 0;
  for (int d = 0; d < kDims; ++d) {
    if (filter[d]) {
      if (count == 0 && first != nullptr) *first = d;
      ++count;
      *last = d;
    }
  }
  return count;
}

}  // namespace

void RollupIndex::Apply(const std::vector<CellDelta>& deltas) {
  using Pending = std::vector<std::pair<int64_t, Counts>>;
  std::unique_lock<std::shared_mutex> lock(mu_);
  std::unordered_map<Series*, Pending> pending;
  pending.reserve(deltas.size() * 4);
  std::string pair_key;
  for (const CellDelta& d : deltas) {
    MetricSeries& m = data_[{d.tenant, static_cast<int>(d.metric)}];
    const bool all = d.key[kTag].empty();
    auto pair = [&](int a, int b) {
      pair_key.assign(d.key[a]).append(1, '\x1f').append(d.key[b]);  // no allocation once it has grown
      PairSeries& ps = m.by_pair[PairIndex(a, b)][pair_key];
      if (ps.series.empty()) {
        ps.first = d.key[a];
        ps.second = d.key[b];
      }
      pending[&ps.series].emplace_back(d.hour, d.delta);
    };
    if (all) {
      pending[&m.total].emplace_back(d.hour, d.delta);
      for (int dim = 0; dim < kTag; ++dim) pending[&m.by_value[dim][d.key[dim]]].emplace_back(d.hour, d.delta);
      for (int a = 0; a < kTag; ++a) {
        for (int b = a + 1; b < kTag; ++b) pair(a, b);
      }
    } else {
      pending[&m.by_value[kTag][d.key[kTag]]].emplace_back(d.hour, d.delta);
      for (int a = 0; a < kTag; ++a) pair(a, kTag);
    }
    ComboKey key;
    for (int dim = 0; dim < kDims; ++dim) key[dim] = m.values[dim].Intern(d.key[dim]);
    std::optional<uint32_t> position = m.combo_index.Find(key);
    if (!position) {
      m.combos.push_back(Combo{key, Series{}});
      position = static_cast<uint32_t>(m.combos.size() - 1);
      m.combo_index.Insert(*position);
    }
    pending[&m.combos[*position].series].emplace_back(d.hour, d.delta);
  }
  for (auto& [series, list] : pending) series->Merge(list);
}

const RollupIndex::MetricSeries* RollupIndex::Find(const std::string& tenant, Metric metric) const {
  auto it = data_.find({tenant, static_cast<int>(metric)});
  return it == data_.end() ? nullptr : &it->second;
}

template <class Fn>
void RollupIndex::ForMatchingCombos(const MetricSeries& m, const Filter& filter, bool tag_breakdown, Fn fn) {
  const bool tagged = tag_breakdown || filter[kTag].has_value();
  // The filter as ids; a value never seen matches nothing.
  std::array<std::optional<uint32_t>, kDims> ids;
  for (int d = 0; d < kDims; ++d) {
    if (!filter[d]) continue;
    ids[d] = m.values[d].Find(*filter[d]);
    if (!ids[d]) return;
  }
  for (const Combo& combo : m.combos) {
    if ((combo.key[kTag] == 0) == tagged) continue;  // id 0 is "": the all-answers cell
    bool match = true;
    for (int d = 0; d < kDims && match; ++d) match = !ids[d] || combo.key[d] == *ids[d];
    if (match) fn(combo);
  }
}

const Series* RollupIndex::Direct(const MetricSeries& m, const Filter& filter, bool* needs_scan) {
  *needs_scan = false;
  int a = -1, b = -1;
  const int count = FilteredDims(filter, &b, &a);
  if (count == 0) return &m.total;
  if (count == 1) {
    auto it = m.by_value[b].find(*filter[b]);
    return it == m.by_value[b].end() ? nullptr : &it->second;
  }
  if (count == 2) {
    const auto& pairs = m.by_pair[PairIndex(a, b)];
    auto it = pairs.find(*filter[a] + '\x1f' + *filter[b]);
    return it == pairs.end() ? nullptr : &it->second.series;
  }
  *needs_scan = true;
  return nullptr;
}

Counts RollupIndex::Sum(const std::string& tenant, Metric metric, const Filter& filter, int64_t from_hour,
                        int64_t to_hour) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  const MetricSeries* m = Find(tenant, metric);
  if (m == nullptr) return Counts{};
  bool scan = false;
  if (const Series* s = Direct(*m, filter, &scan)) return s->Range(from_hour, to_hour);
  Counts sum;
  if (scan) {
    ForMatchingCombos(*m, filter, false, [&](const Combo& c) { sum += c.series.Range(from_hour, to_hour); });
  }
  return sum;
}

std::vector<Counts> RollupIndex::SumIntervals(const std::string& tenant, Metric metric, const Filter& filter,
                                              const std::vector<int64_t>& boundaries) const {
  std::vector<Counts> out(boundaries.empty() ? 0 : boundaries.size() - 1);
  std::shared_lock<std::shared_mutex> lock(mu_);
  const MetricSeries* m = Find(tenant, metric);
  if (m == nullptr || out.empty()) return out;
  auto add = [&](const Series& s) { s.AddIntervals(boundaries, &out); };
  bool scan = false;
  if (const Series* s = Direct(*m, filter, &scan)) {
    add(*s);
  } else if (scan) {
    ForMatchingCombos(*m, filter, false, [&](const Combo& c) { add(c.series); });
  }
  return out;
}

std::map<std::string, Counts> RollupIndex::Breakdown(const std::string& tenant, Metric metric, Dim dim,
                                                     const Filter& filter, int64_t from_hour,
                                                     int64_t to_hour) const {
  std::map<std::string, Counts> out;
  std::shared_lock<std::shared_mutex> lock(mu_);
  const MetricSeries* m = Find(tenant, metric);
  if (m == nullptr) return out;
  int only = -1;
  const int filtered = FilteredDims(filter, &only);
  if (filtered == 0 || (filtered == 1 && only == dim)) {
    for (const auto& [value, series] : m->by_value[dim]) {
      if (filtered == 1 && value != *filter[dim]) continue;
      Counts c = series.Range(from_hour, to_hour);
      if (c.n != 0) out[value] += c;
    }
    return out;
  }
  if (filtered == 1) {  // one filter and the breakdown: the pair's series
    const int a = std::min<int>(only, dim), b = std::max<int>(only, dim);
    for (const auto& [joined, ps] : m->by_pair[PairIndex(a, b)]) {
      const std::string& filtered_value = only == a ? ps.first : ps.second;
      if (filtered_value != *filter[only]) continue;
      Counts c = ps.series.Range(from_hour, to_hour);
      if (c.n != 0) out[only == a ? ps.second : ps.first] += c;
    }
    return out;
  }
  std::map<uint32_t, Counts> by_id;
  ForMatchingCombos(*m, filter, dim == kTag, [&](const Combo& combo) {
    Counts c = combo.series.Range(from_hour, to_hour);
    if (c.n != 0) by_id[combo.key[dim]] += c;
  });
  for (const auto& [id, c] : by_id) out[m->values[dim].Name(id)] += c;
  return out;
}

void RollupIndex::Compact() {
  std::unique_lock<std::shared_mutex> lock(mu_);
  std::vector<Series*> all;
  for (auto& [k, m] : data_) {
    all.push_back(&m.total);
    for (auto& values : m.by_value) {
      for (auto& [v, s] : values) all.push_back(&s);
    }
    for (auto& pairs : m.by_pair) {
      for (auto& [v, ps] : pairs) all.push_back(&ps.series);
    }
    for (Combo& c : m.combos) all.push_back(&c.series);
  }
  Series::Compact(all);
}

size_t RollupIndex::cells() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [k, m] : data_) {
    n += m.total.cells();
    for (const auto& values : m.by_value) {
      for (const auto& [v, s] : values) n += s.cells();
    }
    for (const auto& pairs : m.by_pair) {
      for (const auto& [v, ps] : pairs) n += ps.series.cells();
    }
    for (const Combo& c : m.combos) n += c.series.cells();
  }
  return n;
}

}  // namespace cx::metrics
