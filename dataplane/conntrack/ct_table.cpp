// CtTable implementation: cuckoo-indexed entry array, early drop, sweeping.
// Invariants: see ct_table.hpp. Every path that frees an entry goes through remove(),
// which clears the entry's index slot, so no slot ever names a free entry.
// Thread-safety: not thread-safe; one owner.
#include "ct_table.hpp"

#include <bit>
#include <cstring>

namespace tapwall::ct {

namespace {
uint32_t clamp_capacity(uint32_t c) { return c == 0 ? 1 : c; }
// 2 index slots per entry (<= 50% load), 8 slots per bucket.
std::size_t bucket_count(uint32_t capacity) {
  const uint64_t want = (uint64_t{capacity} * 2 + 7) / 8;
  return std::bit_ceil(want < 2 ? uint64_t{2} : want);
}
}  // namespace

CtTable::CtTable(uint32_t capacity, uint64_t seed, CtStats& stats)
    : entries_(clamp_capacity(capacity), true),
      counters_(clamp_capacity(capacity), true),
      buckets_(bucket_count(clamp_capacity(capacity))),
      key_(seed),
      stats_(stats) {
  for (auto& b : buckets_) {
    std::memset(b.sig, 0, sizeof b.sig);
    std::memset(b.ref, 0xff, sizeof b.ref);
  }
  mask_ = uint32_t(buckets_.size() - 1);
  free_.reserve(entries_.size());  // reserved, not filled: its pages stay untouched until used
}

void CtTable::clear_verdict_caches() {
  for (uint32_t id = 0; id < never_used_; ++id) {
    entries_[id].vc[0] = CtVerdictCache{};
    entries_[id].vc[1] = CtVerdictCache{};
  }
}

bool CtTable::index_add(uint64_t h, uint32_t ref) {
  const uint32_t sig = sig_of(h);
  const uint32_t b1 = bucket_of(h), b2 = alt_bucket(b1, sig);
  auto free_slot = [](const Bucket& bk) {
    for (int i = 0; i < kWays; ++i)
      if (bk.ref[i] == kEmpty) return i;
    return -1;
  };
  // Primary bucket first: a hit then reads one index line, the one a batch prefetched.
  // (The alternative takes the overflow; at <= 50% load a full primary is rare.)
  for (uint32_t b : {b1, b2}) {
    const int s = free_slot(buckets_[b]);
    if (s >= 0) {
      buckets_[b].sig[s] = sig;
      buckets_[b].ref[s] = ref;
      return true;
    }
  }
  // Both full (rare at <= 50% load): move one resident to its other bucket.
  for (uint32_t b : {b1, b2}) {
    Bucket& bk = buckets_[b];
    for (int i = 0; i < kWays; ++i) {
      const uint32_t ob = alt_bucket(b, bk.sig[i]);
      const int s = free_slot(buckets_[ob]);
      if (s < 0) continue;
      buckets_[ob].sig[s] = bk.sig[i];
      buckets_[ob].ref[s] = bk.ref[i];
      bk.sig[i] = sig;
      bk.ref[i] = ref;
      return true;
    }
  }
  return false;
}

void CtTable::index_del(uint64_t h, uint32_t ref) {
  const uint32_t sig = sig_of(h);
  uint32_t b = bucket_of(h);
  for (int round = 0; round < 2; ++round) {
    Bucket& bk = buckets_[b];
    for (int i = 0; i < kWays; ++i) {
      if (bk.ref[i] == ref) {
        bk.ref[i] = kEmpty;
        bk.sig[i] = 0;
        return;
      }
    }
    b = alt_bucket(b, sig);
  }
}

bool CtTable::can_early_drop(const CtEntry& e) {
  if (e.status & kStPending) return false;  // the packet that made it is still in flight
  if (!(e.status & kStAssured)) return true;
  if (e.proto != kProtoTcp) return false;
  switch (e.tcp_state) {
    case kTcpFinWait:
    case kTcpCloseWait:
    case kTcpLastAck:
    case kTcpTimeWait:
    case kTcpClose:
      return true;
    default:
      return false;
  }
}

// The kernel scans the chains of up to 8 buckets from the new tuple's bucket and drops the
// first non-assured entry. Here: up to 8 occupied slots from the tuple's bucket onwards;
// an expired entry found is reclaimed outright, else the candidate that would expire
// first is evicted (the least loss).
uint32_t CtTable::early_drop(uint64_t h, uint64_t now_ns) {
  constexpr int kCandidates = 8, kBuckets = 8;
  uint32_t victim = kNoCtEntry;
  uint64_t victim_exp = ~uint64_t{0};
  int seen = 0;
  uint32_t b = bucket_of(h);
  for (int nb = 0; nb < kBuckets && seen < kCandidates; ++nb, b = (b + 1) & mask_) {
    const Bucket& bk = buckets_[b];
    for (int i = 0; i < kWays && seen < kCandidates; ++i) {
      if (bk.ref[i] == kEmpty) continue;
      ++seen;
      const uint32_t id = bk.ref[i];
      const CtEntry& e = entries_[id];
      if (expired(e, now_ns) && !(e.status & kStPending)) {
        remove(id);
        ++stats_.expired;
        return id;
      }
      if (can_early_drop(e) && e.expires_ns < victim_exp) {
        victim = id;
        victim_exp = e.expires_ns;
      }
    }
  }
  if (victim != kNoCtEntry) {
    remove(victim);
    ++stats_.early_drops;
  }
  return victim;
}

uint32_t CtTable::insert(const CtTuple& t, uint64_t h, uint64_t now_ns) {
  if (free_.empty() && never_used_ == entries_.size() && early_drop(h, now_ns) == kNoCtEntry)
    return kNoCtEntry;
  // A freed entry first (its lines may still be cached), else one never used.
  const bool recycled = !free_.empty();
  const uint32_t id = recycled ? free_.back() : never_used_;
  CtEntry& e = entries_[id];
  std::memset(static_cast<void*>(&e), 0, sizeof e);
  e.vc[0] = CtVerdictCache{};
  e.vc[1] = CtVerdictCache{};
  e.src = t.src;
  e.dst = t.dst;
  e.sport = t.sport;
  e.dport = t.dport;
  e.proto = t.proto;
  e.status = kStInUse;
  e.expires_ns = ~uint64_t{0};
  if (!index_add(h, id)) {  // both buckets and their residents' others full
    e.status = 0;             // still free: not shown as live, handed out again next
    return kNoCtEntry;
  }
  if (recycled)
    free_.pop_back();
  else
    ++never_used_;
  ++used_;
  return id;
}

void CtTable::remove(uint32_t id) {
  CtEntry& e = entries_[id];
  if (!(e.status & kStInUse)) return;
  index_del(hash(e.orig_tuple()), id);
  e.status = 0;
  e.vc[0] = CtVerdictCache{};
  e.vc[1] = CtVerdictCache{};
  free_.push_back(id);
  --used_;
}

void CtTable::expire_all(uint64_t now_ns) {
  for (uint32_t id = 0; id < never_used_; ++id) {
    const CtEntry& e = entries_[id];
    if ((e.status & kStInUse) && !(e.status & kStPending) && expired(e, now_ns)) {
      remove(id);
      ++stats_.expired;
    }
  }
}

void CtTable::for_each_live(uint64_t now_ns, const std::function<void(uint32_t)>& fn) const {
  for (uint32_t id = 0; id < never_used_; ++id) {
    const CtEntry& e = entries_[id];
    if ((e.status & kStInUse) && !(e.status & kStPending) && !expired(e, now_ns)) fn(id);
  }
}

}  // namespace tapwall::ct
