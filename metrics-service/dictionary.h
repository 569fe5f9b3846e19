// Interned strings: each distinct name gets a small id, so indexes hold
// 4-byte ids instead of strings. Id 0 is "".
#ifndef CX_METRICS_DICTIONARY_H_
#define CX_METRICS_DICTIONARY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace cx::metrics {

class Dictionary {
 public:
  Dictionary() : names_{""} { ids_[""] = 0; }
  uint32_t Intern(const std::string& name) {
    auto [it, added] = ids_.emplace(name, static_cast<uint32_t>(names_.size()));
    if (added) names_.push_back(name);
    return it->second;
  }
  std::optional<uint32_t> Find(const std::string& name) const {
    auto it = ids_.find(name);
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  const std::string& Name(uint32_t id) const { return names_[id]; }
  size_t size() const { return names_.size(); }

 private:
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<std::string> names_;
};

}  // namespace cx::metrics

#endif  // CX_METRICS_DICTIONARY_H_
