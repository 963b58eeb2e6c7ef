// MacTable: the bridge's learning table (station MAC + VLAN -> port), bounded and ageing.
// Purpose: learn where stations are, find the egress port for a unicast destination, and
// apply the kernel bridge's L2 admission rules (l2_admission).
// Invariants: at most capacity entries; no allocation after construction; an entry older
// than the ageing time is never returned by lookup(); time is passed in (ns, monotonic).
// When full, learning a new station first reuses an expired entry, else the station is not
// learned (its replies are flooded) and `full_misses` is counted.
// Thread-safety: not thread-safe; one owner (one worker, or guarded by the engine).
#pragma once

#include <cstdint>
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
  uint16_t vlan;
  PortId port;
  uint64_t last_seen_ns;
};

// The kernel bridge's admission checks on a frame's addresses, before learning:
// multicast/broadcast or all-zero source MAC, and link-local groups 01:80:C2:00:00:0X
// other than :00 (STP BPDUs are forwarded while STP is off). Returns DropReason::None to admit.
DropReason l2_admission(const MacAddr& src, const MacAddr& dst);

class MacTable {
 public:
  explicit MacTable(const MacTableConfig& cfg = {});
  ~MacTable();
  MacTable(const MacTable&) = delete;
  MacTable& operator=(const MacTable&) = delete;

  LearnResult learn(const MacAddr& mac, uint16_t vlan, PortId port, uint64_t now_ns);
  // Port the station was last seen on, or kNoPort when unknown or aged out.
  PortId lookup(const MacAddr& mac, uint16_t vlan, uint64_t now_ns) const;
  // The live entry of (mac, vlan) with its port and last-seen time (as lookup(): false when
  // unknown or aged out).
  bool find(const MacAddr& mac, uint16_t vlan, uint64_t now_ns, MacEntryView& out) const;
  // Hint: start loading the slot (mac, vlan) hashes to. For a batch, prefetch every frame's
  // addresses first, then learn()/lookup(): large tables then overlap their cache misses.
  void prefetch(const MacAddr& mac, uint16_t vlan) const;
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
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tapwall
