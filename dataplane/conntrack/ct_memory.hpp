// BigArray: a fixed-size array for the conntrack table's large arrays (entries, counters,
// index), allocated once, 2 MB aligned and advised for transparent huge pages.
// Why: lookups hit random entries of arrays of tens of MB; with 4 KB pages nearly every
// lookup also misses the TLB (twice as costly in a VM), huge pages remove most of that.
// Invariants: elements are value-initialised at construction; size never changes.
// Thread-safety: none needed (owned by one table).
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace tapwall::ct {

template <class T>
class BigArray {
 public:
  explicit BigArray(std::size_t n) : n_(n) {
    constexpr std::size_t kHuge = std::size_t{2} << 20;
    std::size_t bytes = n * sizeof(T);
    const std::size_t align = bytes >= kHuge ? kHuge : alignof(T) < 64 ? 64 : alignof(T);
    bytes = (bytes + align - 1) / align * align;
    void* mem = std::aligned_alloc(align, bytes == 0 ? align : bytes);
    if (!mem) throw std::bad_alloc();
    if (align == kHuge) madvise(mem, bytes, MADV_HUGEPAGE);  // a hint: failure is harmless
    p_ = static_cast<T*>(mem);
    for (std::size_t i = 0; i < n; ++i) new (p_ + i) T{};
  }
  ~BigArray() {
    for (std::size_t i = 0; i < n_; ++i) p_[i].~T();
    std::free(p_);
  }
  BigArray(const BigArray&) = delete;
  BigArray& operator=(const BigArray&) = delete;

  T& operator[](std::size_t i) { return p_[i]; }
  const T& operator[](std::size_t i) const { return p_[i]; }
  std::size_t size() const { return n_; }
  T* begin() { return p_; }
  T* end() { return p_ + n_; }

 private:
  T* p_ = nullptr;
  std::size_t n_;
};

}  // namespace tapwall::ct
