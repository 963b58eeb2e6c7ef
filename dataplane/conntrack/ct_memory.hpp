// BigArray: a fixed-size array for the conntrack table's large arrays (entries, counters,
// index), allocated once; from 2 MB up, mapped 2 MB aligned and advised for transparent
// huge pages.
// Why: lookups hit random entries of arrays of tens of MB; with 4 KB pages nearly every
// lookup also misses the TLB (twice as costly in a VM), huge pages remove most of that.
// Invariants: elements are value-initialised at construction (by the kernel's zero pages
// when T{} is all zero bytes and the array is mapped); size never changes.
// Thread-safety: none needed (owned by one table).
#pragma once

#include <sys/mman.h>

#include <cassert>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace tapwall::ct {

template <class T>
class BigArray {
 public:
  // zero_is_default: T{} is all zero bytes, so memory fresh from mmap (zero-filled by the
  // kernel) needs no initialising; its pages then stay unmapped until used, and a table
  // sized for a million flows costs resident memory only for the flows it holds.
  explicit BigArray(std::size_t n, bool zero_is_default = false) : n_(n) {
    constexpr std::size_t kHuge = std::size_t{2} << 20;
    const std::size_t bytes = (n == 0 ? 1 : n) * sizeof(T);
    if (bytes >= kHuge) {
      // Straight from mmap, not malloc: once glibc has raised its mmap threshold (after a
      // few large frees) a big malloc comes from the heap, whose pages are already faulted
      // in small, and the advice then never takes effect. Over-map by 2 MB to align.
      map_len_ = (bytes + kHuge - 1) / kHuge * kHuge + kHuge;
      void* m = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
      if (m == MAP_FAILED) throw std::bad_alloc();
      map_ = m;
      const auto a = (reinterpret_cast<std::uintptr_t>(m) + kHuge - 1) & ~(kHuge - 1);
      p_ = reinterpret_cast<T*>(a);
      madvise(p_, map_len_ - (a - reinterpret_cast<std::uintptr_t>(m)), MADV_HUGEPAGE);  // a hint
    } else {
      const std::size_t align = alignof(T) < 64 ? 64 : alignof(T);
      void* mem = std::aligned_alloc(align, (bytes + align - 1) / align * align);
      if (!mem) throw std::bad_alloc();
      p_ = static_cast<T*>(mem);
    }
    if (map_ != nullptr && zero_is_default) {
      assert(is_all_zero(T{}));
      return;  // the objects are the zero bytes already there (implicit-lifetime types)
    }
    for (std::size_t i = 0; i < n; ++i) new (p_ + i) T{};
  }
  ~BigArray() {
    for (std::size_t i = 0; i < n_; ++i) p_[i].~T();
    if (map_ != nullptr)
      munmap(map_, map_len_);
    else
      std::free(p_);
  }
  BigArray(const BigArray&) = delete;
  BigArray& operator=(const BigArray&) = delete;

  T& operator[](std::size_t i) { return p_[i]; }
  const T& operator[](std::size_t i) const { return p_[i]; }
  std::size_t size() const { return n_; }
  T* begin() { return p_; }
  T* end() { return p_ + n_; }
  // Bytes of memory the array occupies (for memory accounting).
  std::size_t bytes() const { return map_ != nullptr ? map_len_ : n_ * sizeof(T); }

 private:
  static bool is_all_zero(const T& v) {
    const auto* b = reinterpret_cast<const unsigned char*>(&v);
    for (std::size_t i = 0; i < sizeof(T); ++i)
      if (b[i] != 0) return false;
    return true;
  }

  T* p_ = nullptr;
  std::size_t n_;
  void* map_ = nullptr;  // the mapping when mmapped (p_ is inside it)
  std::size_t map_len_ = 0;
};

}  // namespace tapwall::ct
