// A hash index over records kept by position in a container: the set holds
// 4-byte positions and hashes and compares the records' own keys through
// `KeyOf`, so an entry costs a few bytes instead of a copy of its key. The
// container must not move while the index refers to it, and a record's key
// must not change once it is indexed.
#ifndef CX_METRICS_POSITION_INDEX_H_
#define CX_METRICS_POSITION_INDEX_H_

#include <cstdint>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"

namespace cx::metrics {

// KeyOf: a copyable functor, position -> Key (or a reference to it).
template <class Key, class KeyOf>
class PositionIndex {
 public:
  explicit PositionIndex(KeyOf key_of) : set_(0, Hash{key_of}, Eq{key_of}) {}

  std::optional<uint32_t> Find(const Key& key) const {
    auto it = set_.find(key);
    if (it == set_.end()) return std::nullopt;
    return *it;
  }
  // Indexes the record at `position` (already in the container).
  void Insert(uint32_t position) { set_.insert(position); }

 private:
  struct Hash {
    using is_transparent = void;
    KeyOf key_of;
    size_t operator()(uint32_t position) const { return absl::Hash<Key>()(key_of(position)); }
    size_t operator()(const Key& key) const { return absl::Hash<Key>()(key); }
  };
  struct Eq {
    using is_transparent = void;
    KeyOf key_of;
    bool operator()(uint32_t a, uint32_t b) const { return a == b; }
    bool operator()(uint32_t a, const Key& b) const { return key_of(a) == b; }
    bool operator()(const Key& a, uint32_t b) const { return a == key_of(b); }
  };
  absl::flat_hash_set<uint32_t, Hash, Eq> set_;
};

}  // namespace cx::metrics

#endif  // CX_METRICS_POSITION_INDEX_H_
