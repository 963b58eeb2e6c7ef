// CtTable: fixed-capacity store of conntrack entries with a two-way tuple index.
// Purpose: find an entry from either direction's tuple in one lookup, insert new entries
// (evicting a non-assured one when full, as the kernel's early_drop), free expired ones
// lazily (when a lookup meets them) and incrementally (sweep), without allocating.
// Design: entries live in a flat array (index = entry id, what CtResult::entry carries);
// the index is a bucketized cuckoo table of 64-byte buckets, 8 slots of (32-bit hash
// signature, entry id). The tuple hash is symmetric (ct_tuple.hpp), so one slot serves
// both directions: a lookup compares the packet's tuple with the entry's original tuple
// and its inverse. Each entry may sit in one of two buckets (partial-key cuckoo: the
// alternative bucket is derived from the signature), so a lookup reads at most two index
// lines plus the matching entry. The index has 2 slots per entry (load <= 50%), so an
// insert almost never needs to move anything. An entry goes to its primary bucket unless
// that is full, so a hit nearly always costs one index line, and a batch can prefetch just
// that line. Why one slot, not one per direction: a new flow then writes one index line,
// not two, the second of which no batch prefetch had loaded (new UDP flows 1.7x faster in
// the engine benchmark, side by side); the index is also half the size.
// Invariants: an in-use entry has exactly one index slot; a free entry has none and is on
// the free list or at/after never_used_ (entries are handed out in id order first, so an
// untouched tail of the arrays costs no resident memory); capacity never changes.
// Thread-safety: not thread-safe; one owner.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "ct_entry.hpp"
#include "ct_memory.hpp"
#include "tapwall/conntrack.hpp"

namespace tapwall::ct {

class CtTable {
 public:
  CtTable(uint32_t capacity, uint64_t seed, CtStats& stats);

  uint64_t hash(const CtTuple& t) const { return ct_hash(t, key_); }
  uint64_t hash_not_icmp(const CtTuple& t) const { return ct_hash_not_icmp(t, key_); }
  // Hint the tuple's primary index line into cache (batch processing, stage 1).
  void prefetch(uint64_t h) const;
  // Stage 2: read the primary line and hint the entries (both lines) whose
  // signature matches; if none does, hint the alternative line instead. Returns the first
  // matching slot's entry id, or kNoRef.
  uint32_t prefetch_entries(uint64_t h) const;
  static constexpr uint32_t kNoRef = 0xffffffffu;
  // Empty every entry's verdict cache slots.
  void clear_verdict_caches();

  // The live entry whose original or reply tuple is `t`, or kNoCtEntry. Sets `reply` to
  // the direction matched. An expired entry it meets is freed (counted as expired).
  uint32_t find(const CtTuple& t, uint64_t h, uint64_t now_ns, bool& reply);
  // The entry indexed under `t`, expired or not, changing nothing (the engine's express
  // path looks before it commits); kNoCtEntry if none.
  uint32_t locate(const CtTuple& t, uint64_t h, bool& reply) const;
  // The same, trying first the entry prefetch_entries() returned (the table may have
  // changed since: it is only trusted if it is in use and holds `t`).
  uint32_t locate(const CtTuple& t, uint64_t h, uint32_t ref, bool& reply) const;
  bool expired(const CtEntry& e, uint64_t now_ns) const { return now_ns >= e.expires_ns; }

  // A new entry for original tuple `t` (hash h), zeroed, status kStInUse, expiring never
  // until the tracker sets it. When no entry is free, evicts an early-drop candidate from
  // the tuple's neighbourhood (counted); returns kNoCtEntry if there is none.
  uint32_t insert(const CtTuple& t, uint64_t h, uint64_t now_ns);

  void remove(uint32_t id);

  // Free up to `budget` expired entries, continuing where the last call stopped.
  void sweep(uint64_t now_ns, uint32_t budget);
  void expire_all(uint64_t now_ns);

  CtEntry& entry(uint32_t id) { return entries_[id]; }
  const CtEntry& entry(uint32_t id) const { return entries_[id]; }
  CtCounters& counters(uint32_t id) { return counters_[id]; }
  const CtCounters& counters(uint32_t id) const { return counters_[id]; }
  std::size_t size() const { return used_; }
  std::size_t capacity() const { return entries_.size(); }
  std::size_t memory_bytes() const {
    return entries_.bytes() + counters_.bytes() + buckets_.bytes() +
           free_.capacity() * sizeof(uint32_t);
  }

  void for_each_live(uint64_t now_ns, const std::function<void(uint32_t)>& fn) const;

  // Early drop: the kernel may evict any entry that is not assured, and (its GC, when the
  // table is nearly full) assured TCP entries that are closing.
  static bool can_early_drop(const CtEntry& e);

 private:
  static constexpr int kWays = 8;
  static constexpr uint32_t kEmpty = 0xffffffffu;
  struct alignas(64) Bucket {
    uint32_t sig[kWays];
    uint32_t ref[kWays];
  };
  static_assert(sizeof(Bucket) == 64);

  uint32_t bucket_of(uint64_t h) const { return uint32_t(h) & mask_; }
  static uint32_t sig_of(uint64_t h) { return uint32_t(h >> 32); }
  uint32_t alt_bucket(uint32_t b, uint32_t sig) const {
    // Symmetric: alt(alt(b)) == b. The "| 1" keeps the two choices distinct.
    return (b ^ ((sig * 0x5bd1e995u) | 1u)) & mask_;
  }
  // Does entry `id` hold `t`? Sets `reply` to the direction it holds it in.
  bool holds(uint32_t id, const CtTuple& t, bool& reply) const;
  // Slots of `bk` whose signature is `sig` (bit i = slot i); empty slots have signature 0
  // and ref kEmpty, so callers still check ref.
  static uint32_t sig_matches(const Bucket& bk, uint32_t sig);
  bool index_add(uint64_t h, uint32_t ref);
  void index_del(uint64_t h, uint32_t ref);
  uint32_t early_drop(uint64_t h, uint64_t now_ns);

  BigArray<CtEntry> entries_;
  BigArray<CtCounters> counters_;
  BigArray<Bucket> buckets_;
  std::vector<uint32_t> free_;  // stack of freed entry ids (below never_used_)
  uint32_t never_used_ = 0;     // entries [never_used_, capacity) were never handed out
  uint32_t mask_ = 0;
  CtHashKey key_;
  std::size_t used_ = 0;
  uint32_t sweep_cursor_ = 0;
  CtStats& stats_;
};

// The per-packet parts (lookup, the incremental sweep) are inline: each is a few dozen
// instructions, and tracking an established packet called them through the library.

inline uint32_t CtTable::sig_matches(const Bucket& bk, uint32_t sig) {
#if defined(__SSE2__)
  // One compare for the 8 signatures instead of 8 unpredictable branches.
  const __m128i s = _mm_set1_epi32(int(sig));
  const __m128i lo = _mm_cmpeq_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(bk.sig)), s);
  const __m128i hi =
      _mm_cmpeq_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(bk.sig + 4)), s);
  return uint32_t(_mm_movemask_ps(_mm_castsi128_ps(lo))) |
         uint32_t(_mm_movemask_ps(_mm_castsi128_ps(hi))) << 4;
#else
  uint32_t m = 0;
  for (int i = 0; i < kWays; ++i) m |= uint32_t(bk.sig[i] == sig) << i;
  return m;
#endif
}

// Forced inline: gcc counts a function whose only effect is a prefetch as free of side
// effects and deletes calls to it (MacTable::prefetch_key says more).
[[gnu::always_inline]] inline void CtTable::prefetch(uint64_t h) const {
  __builtin_prefetch(&buckets_[bucket_of(h)]);
}

inline uint32_t CtTable::prefetch_entries(uint64_t h) const {
  const uint32_t sig = sig_of(h);
  const uint32_t b = bucket_of(h);
  const Bucket& bk = buckets_[b];
  uint32_t m = sig_matches(bk, sig);
  if (m == 0) {
    // Not in the primary line: in the alternative one, or a new flow (track() reads both).
    __builtin_prefetch(&buckets_[alt_bucket(b, sig)]);
    return kNoRef;
  }
  uint32_t first = kNoRef;
  for (; m != 0; m &= m - 1) {
    const uint32_t ref = bk.ref[std::countr_zero(m)];
    if (ref == kEmpty) continue;
    if (first == kNoRef) first = ref;
    const char* e = reinterpret_cast<const char*>(&entries_[ref]);
    // Written by the tracker (state, expiry, windows) and by finish() (counts).
    __builtin_prefetch(e, 1);
    __builtin_prefetch(e + 64, 1);
  }
  return first;
}

// Forced: gcc kept these out of line (several callers), a call per packet for a short loop.
[[gnu::always_inline]] inline uint32_t CtTable::locate(const CtTuple& t, uint64_t h,
                                                       bool& reply) const {
  const uint32_t sig = sig_of(h);
  uint32_t b = bucket_of(h);
  for (int round = 0; round < 2; ++round) {
    const Bucket& bk = buckets_[b];
    for (uint32_t m = sig_matches(bk, sig); m != 0; m &= m - 1) {
      const uint32_t id = bk.ref[std::countr_zero(m)];
      if (id != kEmpty && holds(id, t, reply)) return id;  // a tuple is in one entry at most
    }
    b = alt_bucket(b, sig);
  }
  return kNoCtEntry;
}

// The reply tuple first: a flow whose reply tuple equals its original (the same address
// and port at both ends) has every packet after its first count as a reply, as in the
// kernel (whose hash chain holds the reply tuple ahead of the original; seen on the lab's
// br0: a second such packet made the entry replied and the flow ESTABLISHED).
[[gnu::always_inline]] inline bool CtTable::holds(uint32_t id, const CtTuple& t,
                                                  bool& reply) const {
  const CtEntry& e = entries_[id];
  if (e.matches(t, true)) {
    reply = true;
    return true;
  }
  if (e.matches(t, false)) {
    reply = false;
    return true;
  }
  return false;
}

// An entry in use is in the index and a tuple is in one entry at most, so an entry in use
// that holds `t` is what locate() would find.
[[gnu::always_inline]] inline uint32_t CtTable::locate(const CtTuple& t, uint64_t h, uint32_t ref,
                                                       bool& reply) const {
  if (ref != kNoRef && ref < never_used_ && (entries_[ref].status & kStInUse) &&
      holds(ref, t, reply))
    return ref;
  return locate(t, h, reply);
}

[[gnu::always_inline]] inline uint32_t CtTable::find(const CtTuple& t, uint64_t h,
                                                     uint64_t now_ns, bool& reply) {
  bool dir = false;
  const uint32_t id = locate(t, h, dir);
  if (id == kNoCtEntry) return kNoCtEntry;
  const CtEntry& e = entries_[id];
  if (expired(e, now_ns) && !(e.status & kStPending)) {
    remove(id);
    ++stats_.expired;
    return kNoCtEntry;
  }
  reply = dir;
  return id;
}

inline void CtTable::sweep(uint64_t now_ns, uint32_t budget) {
  const uint32_t n = never_used_;  // entries beyond were never used
  for (uint32_t k = 0; k < budget && used_ > 0; ++k) {
    const uint32_t id = sweep_cursor_ < n ? sweep_cursor_ : 0;
    sweep_cursor_ = id + 1 == n ? 0 : id + 1;
    const CtEntry& e = entries_[id];
    if ((e.status & kStInUse) && !(e.status & kStPending) && expired(e, now_ns)) {
      remove(id);
      ++stats_.expired;
    }
    // The entry the sweep reaches next time, budget entries on: on a large table a cache
    // miss that, unhinted, the next batch's first frame waits for. (A division only when
    // the cursor wraps.)
    const uint32_t ahead = sweep_cursor_ + budget;
    __builtin_prefetch(&entries_[ahead < n ? ahead : ahead % n]);
  }
}

}  // namespace tapwall::ct
