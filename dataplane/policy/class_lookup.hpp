// Class lookup tables: the per-packet side of a Partition.
// Why several shapes: small fields (ports, ICMP type/code, protocol, flags, ct state,
// port ids) use a direct table indexed by the value, O(1). Addresses use a sorted interval
// array whose search is narrowed by a 4096-entry table on the top 12 bits, so a lookup
// costs one table read plus a binary search among the boundaries inside that /12 (IPv4)
// or top-12-bit block (IPv6). Source MACs use a tiny open-addressing hash of the
// MACs rules name; any other MAC is the "other" value.
// Invariants: built from a Partition; every value maps to exactly one class.
// Thread-safety: immutable after build; lookups are const and allocation-free.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "partition.hpp"

namespace tapwall::policy {

// Dense value -> class table over [0, size). T is uint16_t for the 65536-value fields.
template <class T>
struct DirectTable {
  std::vector<T> table;
  uint32_t absent = 0;
  bool constrained = false;

  // Returns false if a class id does not fit T.
  bool build(const Partition& p, uint32_t size) {
    constrained = p.constrained;
    absent = p.absent_class;
    table.assign(size, 0);
    for (std::size_t i = 0; i < p.starts.size(); ++i) {
      uint32_t lo = uint32_t(p.starts[i]);
      uint32_t hi = i + 1 < p.starts.size() ? uint32_t(p.starts[i + 1]) : size;
      if (p.cls[i] > T(~T{0})) return false;
      std::fill(table.begin() + lo, table.begin() + std::min(hi, size), T(p.cls[i]));
    }
    return true;
  }
  uint32_t lookup(uint32_t v) const { return constrained ? table[v] : 0; }
};

// 65536-value table as 256 blocks of 256 entries, identical blocks stored once. Port and
// ICMP partitions are mostly uniform runs, so this keeps the per-packet footprint to a few
// cache lines instead of a 128 KiB flat table competing with the memo for L2.
struct BlockTable16 {
  std::vector<uint16_t> top;     // 256: block index
  std::vector<uint16_t> blocks;  // nblocks * 256
  uint32_t absent = 0;
  bool constrained = false;

  // Returns false if a class id does not fit 16 bits.
  bool build(const Partition& p) {
    DirectTable<uint32_t> flat;
    flat.build(p, 65536);
    for (uint32_t c : flat.table)
      if (c > 0xffff) return false;
    constrained = p.constrained;
    absent = p.absent_class;
    top.assign(256, 0);
    blocks.clear();
    std::vector<std::pair<std::vector<uint16_t>, uint16_t>> seen;  // few distinct blocks
    for (uint32_t b = 0; b < 256; ++b) {
      std::vector<uint16_t> blk(flat.table.begin() + b * 256, flat.table.begin() + (b + 1) * 256);
      uint16_t idx = uint16_t(seen.size());
      bool found = false;
      for (const auto& [content, i] : seen)
        if (content == blk) {
          idx = i;
          found = true;
          break;
        }
      if (!found) {
        seen.emplace_back(blk, idx);
        blocks.insert(blocks.end(), blk.begin(), blk.end());
      }
      top[b] = idx;
    }
    return true;
  }
  uint32_t lookup_or_absent(bool present, uint32_t v) const {
    if (!constrained) return 0;
    return present ? blocks[std::size_t(top[v >> 8]) * 256 + (v & 0xff)] : absent;
  }
};

// Sorted intervals with a top-12-bit index. K is uint32_t (IPv4) or U128 (IPv6).
template <class K>
struct IntervalIndex {
  static constexpr int kTopBits = 12;  // 16 KiB index: stays cache-resident
  static constexpr std::size_t kTop = std::size_t{1} << kTopBits;
  static constexpr int kShift = int(sizeof(K) * 8) - kTopBits;
  static constexpr std::size_t kSmall = 16;  // below this, search the whole array
  std::vector<K> starts;
  std::vector<uint32_t> cls;
  std::vector<uint32_t> chunk;  // kTop + 1 entries when used
  bool constrained = false;

  void build(const Partition& p) {
    constrained = p.constrained;
    starts.clear();
    for (U128 s : p.starts) starts.push_back(K(s));
    cls = p.cls;
    chunk.clear();
    if (starts.size() <= kSmall) return;
    chunk.resize(kTop + 1);
    std::size_t j = 0;
    for (std::size_t h = 0; h < kTop; ++h) {
      K base = K(h) << kShift;
      while (j + 1 < starts.size() && starts[j + 1] <= base) ++j;
      chunk[h] = uint32_t(j);
    }
    chunk[kTop] = uint32_t(starts.size() - 1);
  }

  uint32_t lookup(K v) const {
    if (!constrained) return 0;
    std::size_t lo = 0, hi = starts.size();
    if (!chunk.empty()) {
      std::size_t h = std::size_t(v >> kShift);
      lo = chunk[h];
      hi = std::size_t(chunk[h + 1]) + 1;
    }
    // Largest i in [lo, hi) with starts[i] <= v; starts[lo] <= v holds by construction.
    while (hi - lo > 1) {
      std::size_t mid = (lo + hi) / 2;
      if (starts[mid] <= v) lo = mid; else hi = mid;
    }
    return cls[lo];
  }
};

// Source MAC -> index of the rule-named MAC, or `other` (== count of named MACs).
struct MacIndex {
  struct Slot {
    uint64_t key_plus_one = 0;  // 0 = empty; MACs are 48-bit so +1 never wraps
    uint32_t index = 0;
  };
  std::vector<Slot> slots;
  uint32_t other = 0;

  void build(const std::vector<uint64_t>& macs) {
    other = uint32_t(macs.size());
    slots.clear();
    if (macs.empty()) return;
    std::size_t n = 4;
    while (n < macs.size() * 2) n *= 2;
    slots.resize(n);
    for (uint32_t i = 0; i < macs.size(); ++i) {
      std::size_t s = hash(macs[i]) & (n - 1);
      while (slots[s].key_plus_one != 0) s = (s + 1) & (n - 1);
      slots[s] = {macs[i] + 1, i};
    }
  }
  static std::size_t hash(uint64_t m) { return std::size_t((m * 0x9E3779B97F4A7C15ull) >> 40); }
  uint32_t lookup(uint64_t mac) const {
    if (slots.empty()) return other;
    std::size_t mask = slots.size() - 1, s = hash(mac) & mask;
    for (;;) {
      const Slot& e = slots[s];
      if (e.key_plus_one == mac + 1) return e.index;
      if (e.key_plus_one == 0) return other;
      s = (s + 1) & mask;
    }
  }
};

}  // namespace tapwall::policy
