// MacTable: the bridge's learning table (station MAC -> port), bounded and ageing.
// Purpose: learn where stations are, find the egress port for a unicast destination, and
// apply the kernel bridge's L2 admission rules (l2_admission).
// Invariants: at most capacity entries; no allocation after construction; an entry older
// than the ageing time is never returned by lookup(); time is passed in (ns, monotonic).
// When full, learning a new station first reuses an expired entry, else the station is not
// learned (its replies are flooded) and `full_misses` is counted.
// Thread-safety: not thread-safe; one owner (one worker, or guarded by the engine).
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>

#include "tapwall/drop_reason.hpp"
#include "tapwall/net_types.hpp"

namespace tapwall {

struct MacTableConfig {
  uint32_t capacity = 65536;
  uint64_t ageing_ns = 300ull * 1000000000ull;
};

enum class LearnResult : uint8_t { Learned, Refreshed, Moved, Full };

struct MacTableStats {
  uint64_t learned = 0, moves = 0, full_misses = 0, expired = 0;
};

struct MacEntryView {
  MacAddr mac;
  PortId port;
  uint64_t last_seen_ns;
};

// The kernel bridge's admission checks on a frame's addresses, before learning:
// multicast/broadcast or all-zero source MAC, and link-local groups 01:80:C2:00:00:0X
// other than :00 (STP BPDUs are forwarded while STP is off). Returns DropReason::None to admit.
DropReason l2_admission(const MacAddr& src, const MacAddr& dst);

namespace mac_detail {

struct Slot {
  uint64_t key = 0;           // the MAC's 6 bytes in memory order (make_key)
  uint64_t last_seen_ns = 0;
  PortId port = kNoPort;      // kNoPort marks an empty slot
};

// Bytes taken as they lie (not byte-swapped): the key only needs to be unique and cheap.
// Two register loads, not a 6-byte memcpy into a zeroed u64: that compiles to partial stores
// plus a wide reload, a store-forwarding stall that doubled lookup time.
// `mac`: the address's 6 bytes (in a frame, say).
// Keyed by the address alone, whatever a frame's VLAN tags: tapwall is a VLAN-unaware
// bridge, as br0 without vlan_filtering is, whose fdb keys every station by VLAN 0, so a
// tagged frame goes to the port its destination was learned on from any frame, tagged or
// not. (Learning per VLAN flooded such frames to every port, where another guest's policy
// could accept a copy: golden recordings with two guests and tagged traffic,
// tools/golden/README.md.)
inline uint64_t make_key(const uint8_t* mac) {
  uint32_t lo;
  uint16_t hi;
  std::memcpy(&lo, mac, 4);
  std::memcpy(&hi, mac + 4, 2);
  return uint64_t{lo} | (uint64_t{hi} << 32);
}
inline uint64_t make_key(const MacAddr& mac) { return make_key(mac.b.data()); }

// One 64x64->128 multiply folded (hi ^ lo), over a per-table random seed: every key bit
// reaches the low index bits in ~4 cycles, and a station flood with chosen MACs cannot aim
// at one probe chain without knowing the seed.
inline uint64_t mix(uint64_t k, uint64_t seed) {
  const unsigned __int128 p = static_cast<unsigned __int128>(k ^ seed) * 0x9fb21c651e98df25ull;
  return static_cast<uint64_t>(p >> 64) ^ static_cast<uint64_t>(p);
}

// The kernel's rule: gone once updated + ageing <= now. A clock that steps back is not ageing.
inline bool aged_out(uint64_t last_seen_ns, uint64_t now_ns, uint64_t ageing_ns) {
  return now_ns >= last_seen_ns && now_ns - last_seen_ns >= ageing_ns;
}

}  // namespace mac_detail

class MacTable {
 public:
  explicit MacTable(const MacTableConfig& cfg = {});
  ~MacTable();
  MacTable(const MacTable&) = delete;
  MacTable& operator=(const MacTable&) = delete;

  // Inline for its common case (a known station seen again on its port: the slot's time
  // refreshed); anything else is learn_other().
  LearnResult learn(const MacAddr& mac, PortId port, uint64_t now_ns) {
    return learn_key(mac_detail::make_key(mac), port, now_ns);
  }
  // The same three for a station given by its key (mac_detail::make_key): a caller that
  // uses one station several times makes its key once.
  LearnResult learn_key(uint64_t key, PortId port, uint64_t now_ns) {
    mac_detail::Slot& s = slots_[mac_detail::mix(key, seed_) & mask_];
    if (s.key == key && s.port == port && port != kNoPort &&
        !mac_detail::aged_out(s.last_seen_ns, now_ns, ageing_ns_)) {
      version_ += s.last_seen_ns != now_ns;
      s.last_seen_ns = now_ns;
      return LearnResult::Refreshed;
    }
    return learn_other(key, port, now_ns);
  }
  // Changes whenever an entry does (learned, moved, refreshed to another time, reclaimed),
  // and on every learn that takes the slow path. While it stays the same, lookup() and
  // learn() with the same arguments give the same results, and a repeated learn() is a
  // no-op: the engine's express path keeps them per ingress port instead of repeating them.
  uint64_t version() const { return version_; }
  // Port the station was last seen on, or kNoPort when unknown or aged out. Inline: every
  // unicast frame looks its destination up.
  PortId lookup(const MacAddr& mac, uint64_t now_ns) const {
    return lookup_key(mac_detail::make_key(mac), now_ns);
  }
  PortId lookup_key(uint64_t key, uint64_t now_ns) const {
    for (uint64_t i = mac_detail::mix(key, seed_) & mask_;; i = (i + 1) & mask_) {
      const mac_detail::Slot& s = slots_[i];
      if (s.port == kNoPort) return kNoPort;
      if (s.key == key)
        return mac_detail::aged_out(s.last_seen_ns, now_ns, ageing_ns_) ? kNoPort : s.port;
    }
  }
  // The live entry of `mac` with its port and last-seen time (as lookup(): false when
  // unknown or aged out).
  bool find(const MacAddr& mac, uint64_t now_ns, MacEntryView& out) const;
  // Hint: start loading the slot `mac` hashes to. For a batch, prefetch every frame's
  // addresses first, then learn()/lookup(): large tables then overlap their cache misses.
  // Forced inline: gcc counts a function whose only effect is a prefetch as free of side
  // effects and deletes calls to it, so a prefetch left out of line never happens.
  [[gnu::always_inline]] void prefetch(const MacAddr& mac) const {
    prefetch_key(mac_detail::make_key(mac));
  }
  [[gnu::always_inline]] void prefetch_key(uint64_t key) const {
    const mac_detail::Slot* s = &slots_[mac_detail::mix(key, seed_) & mask_];
    __builtin_prefetch(s);
    // A 24-byte slot may straddle two cache lines.
    __builtin_prefetch(reinterpret_cast<const char*>(s) + sizeof(*s) - 1);
  }
  // Reclaims every entry aged out at now_ns (counted in `expired`); returns how many. Ageing
  // is otherwise lazy, so call this from housekeeping before reading size()/for_each().
  // O(1) while no entry can have aged out, else O(slots).
  std::size_t expire(uint64_t now_ns);
  // Entries held, including aged-out ones not yet reclaimed (see expire()).
  std::size_t size() const;
  std::size_t capacity() const;
  const MacTableStats& stats() const;
  // Visits held entries in table order; may include aged-out ones (check last_seen_ns).
  void for_each(const std::function<void(const MacEntryView&)>& fn) const;

 private:
  LearnResult learn_other(uint64_t key, PortId port, uint64_t now_ns);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  // Impl's slot array and its constants, copied here for the inline lookup() and learn():
  // the array is sized once at construction and never moves.
  mac_detail::Slot* slots_ = nullptr;
  uint64_t mask_ = 0, seed_ = 0, ageing_ns_ = 0;
  uint64_t version_ = 0;
};

}  // namespace tapwall
