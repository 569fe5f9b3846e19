#include "metrics-service/rollup_index.h"

#include <algorithm>
#include <mutex>

#include "absl/strings/str_join.h"

namespace cx::metrics {

Counts Series::Before(int64_t h) const {
  auto it = std::lower_bound(hours_.begin(), hours_.end(), h);
  if (it == hours_.begin()) return Counts{};
  return cumulative_[static_cast<size_t>(it - hours_.begin()) - 1];
}

void Series::Merge(std::vector<std::pair<int64_t, Counts>>& deltas) {
  if (deltas.empty()) return;
  std::sort(deltas.begin(), deltas.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  // Only the cells from the earliest changed hour on are rebuilt, so new
  // recent answers (the usual case) cost O(changes), not O(series).
  const size_t first = static_cast<size_t>(
      std::lower_bound(hours_.begin(), hours_.end(), deltas.front().first) - hours_.begin());
  const Counts base = first == 0 ? Counts{} : cumulative_[first - 1];
  thread_local std::vector<std::pair<int64_t, Counts>> suffix;  // reused: merges are many and small
  suffix.clear();
  Counts previous = base;
  for (size_t i = first; i < hours_.size(); ++i) {
    suffix.emplace_back(hours_[i], cumulative_[i] - previous);
    previous = cumulative_[i];
  }
  hours_.resize(first);
  cumulative_.resize(first);
  Counts running = base;
  size_t i = 0, j = 0;
  while (i < suffix.size() || j < deltas.size()) {
    const int64_t hour = (j == deltas.size() || (i < suffix.size() && suffix[i].first < deltas[j].first))
                             ? suffix[i].first
                             : deltas[j].first;
    Counts cell;
    if (i < suffix.size() && suffix[i].first == hour) cell = suffix[i++].second;
    while (j < deltas.size() && deltas[j].first == hour) cell += deltas[j++].second;
    if (cell == Counts{}) continue;  // retracted to nothing: drop the cell
    running += cell;
    hours_.push_back(hour);
    cumulative_.push_back(running);
  }
}

namespace {

std::string JoinKey(const CellKey& key) { return absl::StrJoin(key, "\x1f"); }

bool Matches(const CellKey& key, const Filter& filter) {
  for (int d = 0; d < kDims; ++d) {
    if (filter[d] && key[d] != *filter[d]) return false;
  }
  return true;
}

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
    Combo& combo = m.combos[JoinKey(d.key)];
    if (combo.series.empty()) combo.key = d.key;
    pending[&combo.series].emplace_back(d.hour, d.delta);
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
  for (const auto& [joined, combo] : m.combos) {
    if (combo.key[kTag].empty() == tagged) continue;
    if (!Matches(combo.key, filter)) continue;
    fn(combo.key, combo.series);
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
    ForMatchingCombos(*m, filter, false, [&](const CellKey&, const Series& s) { sum += s.Range(from_hour, to_hour); });
  }
  return sum;
}

std::vector<Counts> RollupIndex::SumIntervals(const std::string& tenant, Metric metric, const Filter& filter,
                                              const std::vector<int64_t>& boundaries) const {
  std::vector<Counts> out(boundaries.empty() ? 0 : boundaries.size() - 1);
  std::shared_lock<std::shared_mutex> lock(mu_);
  const MetricSeries* m = Find(tenant, metric);
  if (m == nullptr || out.empty()) return out;
  auto add = [&](const Series& s) {
    Counts previous = s.Before(boundaries[0]);
    for (size_t i = 0; i < out.size(); ++i) {
      Counts next = s.Before(boundaries[i + 1]);
      Counts cell = next;
      cell -= previous;
      out[i] += cell;
      previous = next;
    }
  };
  bool scan = false;
  if (const Series* s = Direct(*m, filter, &scan)) {
    add(*s);
  } else if (scan) {
    ForMatchingCombos(*m, filter, false, [&](const CellKey&, const Series& s) { add(s); });
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
  ForMatchingCombos(*m, filter, dim == kTag, [&](const CellKey& key, const Series& s) {
    Counts c = s.Range(from_hour, to_hour);
    if (c.n != 0) out[key[dim]] += c;
  });
  return out;
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
    for (const auto& [j, c] : m.combos) n += c.series.cells();
  }
  return n;
}

}  // namespace cx::metrics
