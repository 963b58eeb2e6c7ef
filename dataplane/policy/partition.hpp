// Partition: one match dimension (protocol, an address, a port, ...) cut into equivalence
// classes at compile time, and the lookup structures that find a packet's class.
// Why: the compiled matcher never asks "does rule r match?" per packet. Each dimension's
// value space is split at every boundary any rule names; values between two boundaries
// behave identically for every rule, and intervals whose rule bitsets are equal share one
// class id. A class carries the bitset of rules whose constraints on this dimension hold.
// Invariants: a Partition's starts[0] == 0, starts strictly increase, adjacent intervals
// have different classes; bits holds nclasses * words words, bits beyond nbits are zero;
// a rule with no constraint on the dimension has its bit set in every class; a rule with
// a constraint never has its bit set in the absent class (a packet without that field).
// Thread-safety: built once by the compiler, then read-only.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace tapwall::policy {

using U128 = unsigned __int128;

struct Interval {
  U128 lo = 0, hi = 0;  // inclusive
};
using IntervalList = std::vector<Interval>;

// Sorted, disjoint, non-adjacent (adjacent intervals merged).
IntervalList normalize(IntervalList v);
// The values of [0, max] not in `v` (v normalized).
IntervalList complement(const IntervalList& v, U128 max);
// Intersection of two normalized lists.
IntervalList intersect(const IntervalList& a, const IntervalList& b);

// "Bit `bit` may be set only where the value lies in `set`." Several constraints on one
// bit are ANDed (a rule with two matches on one dimension).
struct DimConstraint {
  uint32_t bit = 0;
  IntervalList set;  // normalized, within [0, max]
};

struct Partition {
  std::vector<U128> starts;
  std::vector<uint32_t> cls;
  uint32_t absent_class = 0;
  uint32_t nclasses = 0;
  uint32_t words = 0;
  std::vector<uint64_t> bits;       // class c's bitset: bits[c * words, (c + 1) * words)
  std::vector<uint8_t> all_ones;    // class c constrains nothing: AND with it is a no-op
  bool constrained = false;         // some rule constrains this dimension

  const uint64_t* class_bits(uint32_t c) const { return bits.data() + std::size_t(c) * words; }
  // Class of value v (binary search; the compiler turns this into faster tables).
  uint32_t class_of(U128 v) const;
};

// Sweep the constraints' boundaries over [0, max]. `has_absent` adds a class for packets
// that lack the field (its bitset: only unconstrained bits).
Partition build_partition(U128 max, uint32_t nbits, bool has_absent,
                          std::span<const DimConstraint> constraints);

}  // namespace tapwall::policy
