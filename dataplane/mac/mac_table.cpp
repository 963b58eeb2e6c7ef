// MacTable implementation: open addressing with linear probing over a power-of-two slot
// array sized once at construction.
// Invariants:
//  - held (occupied slots, live or aged-out-but-not-yet-reclaimed) <= capacity, and the
//    slot count is >= 1.25 * capacity_, so the load factor never exceeds 0.8 and every probe
//    loop meets an empty slot;
//  - no tombstones: an aged-out entry keeps its slot (so it still bridges probe chains) until
//    it is overwritten in place (re-learned, or reused by a new station on the same chain) or
//    removed by backward-shift deletion in a reclaim sweep, which keeps every chain contiguous;
//  - earliest_expiry_ns is a lower bound on the expiry time of every held entry, so a full
//    table skips the O(slots) sweep while no entry can have aged out.
// Thread-safety: none (see mac_table.hpp).
#include "tapwall/mac_table.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace tapwall {

namespace {

using mac_detail::aged_out;
using mac_detail::make_key;
using mac_detail::mix;
using mac_detail::Slot;

inline uint64_t expiry_of(uint64_t last_seen_ns, uint64_t ageing_ns) {
  return last_seen_ns > ~uint64_t{0} - ageing_ns ? ~uint64_t{0} : last_seen_ns + ageing_ns;
}

}  // namespace

struct MacTable::Impl {
  std::vector<Slot> slots;
  uint64_t mask = 0;
  uint64_t seed = 0;
  uint32_t capacity = 0;
  uint64_t ageing_ns = 0;
  std::size_t held = 0;
  std::size_t reclaim_cursor = 0;
  uint64_t earliest_expiry_ns = 0;
  MacTableStats stats;

  std::size_t home(uint64_t key) const { return mix(key, seed) & mask; }

  // Removes slots[i] and closes the gap (Knuth's algorithm R): later members of the run
  // whose home lies cyclically outside (i, j] move back, so lookups never stop early.
  void erase_at(std::size_t i) {
    std::size_t j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (slots[j].port == kNoPort) break;
      const std::size_t h = home(slots[j].key);
      const bool h_in_gap_to_j = (i <= j) ? (i < h && h <= j) : (i < h || h <= j);
      if (h_in_gap_to_j) continue;
      slots[i] = slots[j];
      i = j;
    }
    slots[i] = Slot{};
    --held;
  }

  // Checks `count` slots at the cursor and reclaims aged-out ones. A deletion may shift a
  // not-yet-checked entry into the current slot, so the cursor only advances past live ones.
  std::size_t reclaim_some(std::size_t count, uint64_t now_ns) {
    std::size_t reclaimed = 0;
    for (std::size_t n = 0; n < count; ++n) {
      Slot& s = slots[reclaim_cursor];
      if (s.port != kNoPort && aged_out(s.last_seen_ns, now_ns, ageing_ns)) {
        erase_at(reclaim_cursor);
        ++stats.expired;
        ++reclaimed;
      } else {
        reclaim_cursor = (reclaim_cursor + 1) & mask;
      }
    }
    return reclaimed;
  }

  // Reclaims every aged-out entry and recomputes the earliest expiry among the survivors.
  // The scan starts just after an empty slot, which stays empty (deletion only empties
  // slots), so no run straddles the start; backward shifts move entries only within the
  // current run, towards the scan position, never behind it: every entry is checked once.
  std::size_t reclaim_all(uint64_t now_ns) {
    std::size_t reclaimed = 0;
    uint64_t earliest = ~uint64_t{0};
    std::size_t start = 0;
    while (slots[start].port != kNoPort) start = (start + 1) & mask;
    std::size_t i = (start + 1) & mask;
    for (std::size_t visited = 0; visited < slots.size();) {
      Slot& s = slots[i];
      if (s.port != kNoPort && aged_out(s.last_seen_ns, now_ns, ageing_ns)) {
        erase_at(i);  // slots[i] now holds a shifted entry (or is empty): look again
        ++stats.expired;
        ++reclaimed;
        continue;
      }
      if (s.port != kNoPort) earliest = std::min(earliest, expiry_of(s.last_seen_ns, ageing_ns));
      i = (i + 1) & mask;
      ++visited;
    }
    earliest_expiry_ns = earliest;
    return reclaimed;
  }
};

MacTable::MacTable(const MacTableConfig& cfg) : impl_(std::make_unique<Impl>()) {
  Impl& t = *impl_;
  t.capacity = std::max<uint32_t>(cfg.capacity, 1);
  t.ageing_ns = cfg.ageing_ns;
  const uint64_t want = uint64_t{t.capacity} + uint64_t{t.capacity} / 4 + 1;
  const uint64_t n = std::bit_ceil(std::max<uint64_t>(want, 8));
  t.slots.assign(n, Slot{});
  t.mask = n - 1;
  std::random_device rd;
  t.seed = (uint64_t{rd()} << 32) ^ rd();
  t.earliest_expiry_ns = ~uint64_t{0};
  slots_ = t.slots.data();
  mask_ = t.mask;
  seed_ = t.seed;
  ageing_ns_ = t.ageing_ns;
}

MacTable::~MacTable() = default;

LearnResult MacTable::learn_other(uint64_t key, PortId port, uint64_t now_ns) {
  Impl& t = *impl_;
  ++version_;  // (whether or not anything changes: the slow path is rare)
  if (port >= kMaxPorts) return LearnResult::Full;  // not a port: nothing sensible to learn
  std::size_t i = t.home(key);
  std::size_t reusable = SIZE_MAX;  // first aged-out slot on this chain
  for (;; i = (i + 1) & t.mask) {
    Slot& s = t.slots[i];
    if (s.port == kNoPort) break;
    const bool old = aged_out(s.last_seen_ns, now_ns, t.ageing_ns);
    if (s.key == key) {
      if (old) {
        ++t.stats.expired;
        ++t.stats.learned;
        s.port = port;
        s.last_seen_ns = now_ns;
        t.earliest_expiry_ns = std::min(t.earliest_expiry_ns, expiry_of(now_ns, t.ageing_ns));
        return LearnResult::Learned;
      }
      s.last_seen_ns = now_ns;
      if (s.port == port) return LearnResult::Refreshed;
      s.port = port;
      ++t.stats.moves;
      return LearnResult::Moved;
    }
    if (old && reusable == SIZE_MAX) reusable = i;
  }
  // New station. Overwriting an aged-out entry earlier on the chain is safe: the key is not
  // on the chain (we reached its end), and the slot stays occupied so the run stays intact.
  if (reusable != SIZE_MAX) {
    ++t.stats.expired;
    ++t.stats.learned;
    t.slots[reusable] = Slot{key, now_ns, port};
    t.earliest_expiry_ns = std::min(t.earliest_expiry_ns, expiry_of(now_ns, t.ageing_ns));
    return LearnResult::Learned;
  }
  if (t.held >= t.capacity) {
    if (now_ns < t.earliest_expiry_ns || t.reclaim_all(now_ns) == 0) {
      ++t.stats.full_misses;
      return LearnResult::Full;
    }
    // The sweep shifted entries; find this key's insertion point again.
    i = t.home(key);
    while (t.slots[i].port != kNoPort) i = (i + 1) & t.mask;
  } else {
    // Amortised background ageing: each new station pays for checking two slots, so
    // aged-out entries leave the chains long before the table fills up.
    if (t.reclaim_some(2, now_ns) != 0) {
      i = t.home(key);
      while (t.slots[i].port != kNoPort) i = (i + 1) & t.mask;
    }
  }
  t.slots[i] = Slot{key, now_ns, port};
  ++t.held;
  ++t.stats.learned;
  t.earliest_expiry_ns = std::min(t.earliest_expiry_ns, expiry_of(now_ns, t.ageing_ns));
  return LearnResult::Learned;
}

bool MacTable::find(const MacAddr& mac, uint64_t now_ns, MacEntryView& out) const {
  const Impl& t = *impl_;
  const uint64_t key = make_key(mac);
  for (std::size_t i = t.home(key);; i = (i + 1) & t.mask) {
    const Slot& s = t.slots[i];
    if (s.port == kNoPort) return false;
    if (s.key != key) continue;
    if (aged_out(s.last_seen_ns, now_ns, t.ageing_ns)) return false;
    out = MacEntryView{mac, s.port, s.last_seen_ns};
    return true;
  }
}

std::size_t MacTable::expire(uint64_t now_ns) {
  Impl& t = *impl_;
  if (now_ns < t.earliest_expiry_ns) return 0;
  const std::size_t reclaimed = t.reclaim_all(now_ns);
  if (reclaimed != 0) ++version_;
  return reclaimed;
}

std::size_t MacTable::size() const { return impl_->held; }
std::size_t MacTable::capacity() const { return impl_->capacity; }
const MacTableStats& MacTable::stats() const { return impl_->stats; }

void MacTable::for_each(const std::function<void(const MacEntryView&)>& fn) const {
  for (const Slot& s : impl_->slots) {
    if (s.port == kNoPort) continue;
    MacEntryView v;
    std::memcpy(v.mac.b.data(), &s.key, 6);
    v.port = s.port;
    v.last_seen_ns = s.last_seen_ns;
    fn(v);
  }
}

}  // namespace tapwall
