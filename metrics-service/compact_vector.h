// A vector of trivially copyable values in 16 bytes (a pointer and 32-bit
// size and capacity) instead of std::vector's 24: the journey index keeps two
// per identity and the rollup index one per series, and both are many. Grows
// by a quarter (most stop growing), never past 2^32 - 1 elements.
#ifndef CX_METRICS_COMPACT_VECTOR_H_
#define CX_METRICS_COMPACT_VECTOR_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>

namespace cx::metrics {

template <class T>
class CompactVector {
  static_assert(std::is_trivially_copyable_v<T>, "CompactVector copies its values with memcpy");

 public:
  CompactVector() = default;
  CompactVector(CompactVector&& o) noexcept : data_(std::move(o.data_)), size_(o.size_), capacity_(o.capacity_) {
    o.size_ = o.capacity_ = 0;
  }
  CompactVector& operator=(CompactVector&& o) noexcept {
    data_ = std::move(o.data_);
    size_ = o.size_;
    capacity_ = o.capacity_;
    o.size_ = o.capacity_ = 0;
    return *this;
  }
  CompactVector(const CompactVector&) = delete;
  CompactVector& operator=(const CompactVector&) = delete;

  const T* data() const { return data_.get(); }
  const T* begin() const { return data_.get(); }
  const T* end() const { return data_.get() + size_; }
  T* begin() { return data_.get(); }
  T* end() { return data_.get() + size_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const T& back() const { return data_[size_ - 1]; }

  void push_back(const T& value) { insert(end(), value); }
  // Inserts before `at` (a pointer into this vector, or end()).
  void insert(const T* at, const T& value) {
    const size_t index = static_cast<size_t>(at - data_.get());
    if (size_ == capacity_) Grow(size_ + 1);
    T* base = data_.get();
    std::memmove(base + index + 1, base + index, (size_ - index) * sizeof(T));
    base[index] = value;
    ++size_;
  }
  // Appends [first, last) (not a range of this vector). Into an empty
  // vector without capacity, the allocation is exactly its size.
  void append(const T* first, const T* last) {
    const size_t count = static_cast<size_t>(last - first);
    if (size_ + count > capacity_) Grow(size_ + count);
    if (count > 0) std::memcpy(data_.get() + size_, first, count * sizeof(T));
    size_ += static_cast<uint32_t>(count);
  }
  // Keeps the first `size` values (size <= size()).
  void truncate(size_t size) { size_ = static_cast<uint32_t>(std::min<size_t>(size, size_)); }
  // Frees the values and the capacity.
  void release() { *this = CompactVector(); }
  void shrink_to_fit() {
    if (capacity_ != size_) Reallocate(size_);
  }

 private:
  void Grow(size_t need) {
    Reallocate(static_cast<uint32_t>(std::max<size_t>(need, capacity_ == 0 ? 0 : capacity_ + capacity_ / 4 + 1)));
  }
  void Reallocate(uint32_t capacity) {
    std::unique_ptr<T[]> data(capacity == 0 ? nullptr : new T[capacity]);
    if (size_ > 0) std::memcpy(data.get(), data_.get(), size_ * sizeof(T));
    data_ = std::move(data);
    capacity_ = capacity;
  }

  std::unique_ptr<T[]> data_;
  uint32_t size_ = 0, capacity_ = 0;
};

}  // namespace cx::metrics

#endif  // CX_METRICS_COMPACT_VECTOR_H_
