// Partition builder: a boundary sweep over one dimension's value space.
// Why a sweep: each constraint contributes start/end events; walking them in value order
// while keeping per-bit coverage counts yields every elementary interval's rule bitset in
// O(events log events + intervals * words), instead of testing every rule on every interval.
// Invariants: see partition.hpp. Thread-safety: compile time only, no shared state.
#include "partition.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace tapwall::policy {

IntervalList normalize(IntervalList v) {
  std::sort(v.begin(), v.end(), [](const Interval& a, const Interval& b) { return a.lo < b.lo; });
  IntervalList out;
  for (const auto& iv : v) {
    if (iv.lo > iv.hi) continue;
    // Merge overlapping and adjacent intervals; hi + 1 cannot overflow when hi < lo of next.
    if (!out.empty() && (iv.lo <= out.back().hi || iv.lo - 1 == out.back().hi)) {
      out.back().hi = std::max(out.back().hi, iv.hi);
    } else {
      out.push_back(iv);
    }
  }
  return out;
}

IntervalList complement(const IntervalList& v, U128 max) {
  IntervalList out;
  U128 next = 0;
  bool done = false;  // next wrapped past max
  for (const auto& iv : v) {
    if (iv.lo > next) out.push_back({next, iv.lo - 1});
    if (iv.hi >= max) {
      done = true;
      break;
    }
    next = iv.hi + 1;
  }
  if (!done) out.push_back({next, max});
  return out;
}

IntervalList intersect(const IntervalList& a, const IntervalList& b) {
  IntervalList out;
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    U128 lo = std::max(a[i].lo, b[j].lo), hi = std::min(a[i].hi, b[j].hi);
    if (lo <= hi) out.push_back({lo, hi});
    if (a[i].hi < b[j].hi) ++i; else ++j;
  }
  return out;
}

uint32_t Partition::class_of(U128 v) const {
  auto it = std::upper_bound(starts.begin(), starts.end(), v);
  return cls[std::size_t(it - starts.begin()) - 1];
}

namespace {

struct Event {
  U128 pos;
  uint32_t bit;
  bool start;
};

// Interns bitsets: equal bitsets get one class id.
class ClassInterner {
 public:
  ClassInterner(Partition& p) : p_(p) {}
  uint32_t intern(const std::vector<uint64_t>& cur) {
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (uint64_t w : cur) h = (h ^ w) * 0xff51afd7ed558ccdull, h ^= h >> 29;
    auto& bucket = map_[h];
    for (uint32_t c : bucket)
      if (cur.empty() || std::memcmp(p_.class_bits(c), cur.data(), cur.size() * 8) == 0)
        return c;
    uint32_t c = p_.nclasses++;
    p_.bits.insert(p_.bits.end(), cur.begin(), cur.end());
    bucket.push_back(c);
    return c;
  }

 private:
  Partition& p_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> map_;
};

}  // namespace

Partition build_partition(U128 max, uint32_t nbits, bool has_absent,
                          std::span<const DimConstraint> constraints) {
  Partition p;
  p.words = (nbits + 63) / 64;
  std::vector<uint32_t> needed(nbits, 0), count(nbits, 0);
  std::vector<Event> events;
  for (const auto& c : constraints) {
    ++needed[c.bit];
    for (const auto& iv : c.set) {
      events.push_back({iv.lo, c.bit, true});
      if (iv.hi < max) events.push_back({iv.hi + 1, c.bit, false});
    }
  }
  p.constrained = !constraints.empty();
  std::sort(events.begin(), events.end(),
            [](const Event& a, const Event& b) { return a.pos < b.pos; });

  std::vector<uint64_t> cur(p.words, 0);
  for (uint32_t b = 0; b < nbits; ++b)
    if (needed[b] == 0) cur[b / 64] |= uint64_t{1} << (b % 64);

  ClassInterner interner(p);
  if (has_absent) p.absent_class = interner.intern(cur);

  std::size_t i = 0;
  U128 pos = 0;
  for (;;) {
    for (; i < events.size() && events[i].pos == pos; ++i) {
      const Event& e = events[i];
      count[e.bit] += e.start ? 1 : uint32_t(-1);
      uint64_t m = uint64_t{1} << (e.bit % 64);
      if (count[e.bit] == needed[e.bit]) cur[e.bit / 64] |= m; else cur[e.bit / 64] &= ~m;
    }
    uint32_t c = interner.intern(cur);
    if (p.cls.empty() || p.cls.back() != c) {
      p.starts.push_back(pos);
      p.cls.push_back(c);
    }
    if (i == events.size()) break;
    pos = events[i].pos;
  }

  p.all_ones.resize(p.nclasses);
  for (uint32_t c = 0; c < p.nclasses; ++c) {
    const uint64_t* b = p.class_bits(c);
    bool ones = true;
    for (uint32_t w = 0; w < p.words && ones; ++w) {
      uint32_t used = std::min<uint32_t>(64, nbits - w * 64);
      uint64_t want = used == 64 ? ~uint64_t{0} : (uint64_t{1} << used) - 1;
      ones = b[w] == want;
    }
    p.all_ones[c] = ones;
  }
  return p;
}

}  // namespace tapwall::policy
