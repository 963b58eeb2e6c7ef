// Defragmenter: holds IPv4/IPv6 fragments until their datagram is complete, as the kernel's
// nf_defrag does before conntrack, so that every fragment gets the datagram's verdict.
// Purpose: tapwall judges a fragmented datagram once, on its reassembled form, then releases
// the original fragments together (it forwards them unchanged; it does not refragment).
// Invariants: bounded memory (max_bytes of held frames, max_datagrams slots), no allocation
// per packet after construction; overlapping fragments drop the whole datagram (as Linux
// does since 2018 for IPv6 and IPv4); a datagram not complete within timeout_ns expires.
// Fragment keys: IPv4 (src, dst, proto, id, vlan); IPv6 (src, dst, id, vlan).
// Thread-safety: not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "tapwall/decoded.hpp"
#include "tapwall/drop_reason.hpp"

namespace tapwall {

struct DefragConfig {
  uint32_t max_bytes = 4u << 20;    // held frames + reassembly buffers
  uint32_t max_datagrams = 1024;
  uint32_t max_fragments_per_datagram = 64;
  uint64_t timeout_ns = 30ull * 1000000000ull;  // ipfrag_time default
};

// One held fragment frame, copied into the defragmenter's memory.
struct HeldFragment {
  uint64_t cookie;   // caller's id of the frame (e.g. input index and frame number)
  PortId in_port;
  uint64_t ts_ns;
  std::span<const uint8_t> bytes;  // the original frame
};

enum class DefragStatus : uint8_t { Held, Complete, Dropped };

struct DefragResult {
  DefragStatus status = DefragStatus::Held;
  DropReason reason = DropReason::None;  // for Dropped
  uint32_t datagram = 0;                 // handle for reassembled()/fragments()/release()
};

struct DefragStats {
  uint64_t fragments = 0, completed = 0, overlaps = 0, timeouts = 0, no_memory = 0, bad = 0;
};

class Defragmenter {
 public:
  explicit Defragmenter(const DefragConfig& cfg = {});
  ~Defragmenter();
  Defragmenter(const Defragmenter&) = delete;
  Defragmenter& operator=(const Defragmenter&) = delete;

  // Add one fragment (d.is_fragment). Complete: reassembled() and fragments() are valid for
  // `datagram` until release(). Dropped: fragments() lists every fragment held for it,
  // including this one, all to be dropped with `reason`; then release(). Held: nothing to do.
  // When no memory is left and nothing can be reclaimed, returns Dropped(FragNoMemory) for
  // this fragment alone (fragments() lists just it).
  DefragResult add(const Decoded& d, std::span<const uint8_t> frame, PortId in_port,
                   uint64_t now_ns, uint64_t cookie);
  // The whole datagram as one frame: the first fragment's L2 header (tags included) and
  // IP header with fragmentation fields cleared (IPv6: Fragment header removed), lengths and
  // IPv4 header checksum fixed, and the full payload. Decode it to judge the datagram.
  std::span<const uint8_t> reassembled(uint32_t datagram) const;
  // Held fragments in arrival order.
  std::span<const HeldFragment> fragments(uint32_t datagram) const;
  void release(uint32_t datagram);
  // Expire datagrams older than timeout: for each, call fn(datagram) (fragments() is valid
  // inside, reason FragTimeout), then release it.
  void expire(uint64_t now_ns, const std::function<void(uint32_t datagram)>& fn);
  const DefragStats& stats() const;
  std::size_t bytes_held() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tapwall
