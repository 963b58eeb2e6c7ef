// Defragmenter: holds IPv4/IPv6 fragments until their datagram is complete, as the kernel's
// nf_defrag does before conntrack, so that every fragment gets the datagram's verdict.
// Purpose: tapwall judges a fragmented datagram once, on its reassembled form, then releases
// the original fragments together (it forwards them unchanged; it does not refragment).
// Invariants: bounded memory (max_bytes of held frames, max_datagrams slots), no allocation
// per packet after construction; overlapping fragments drop the whole datagram (as Linux
// does since 2018 for IPv6 and IPv4); a datagram not complete within timeout_ns expires.
// Fragment keys: IPv4 (src, dst, proto, id, vlan); IPv6 (src, dst, id, vlan). "vlan" is both
// VLAN ids of the frame (outer and inner), so QinQ-separated networks never mix.
//
// Semantics, per fragment (mirroring Linux ip_frag_queue / nf_ct_frag6_queue and
// inet_frag_queue_insert, 5.x–6.x):
//  - Complete when the last fragment (MF=0) has been seen and [0, total) is fully covered.
//  - Overlap: a fragment whose range partly intersects what is held drops the WHOLE datagram
//    (FragOverlap, every held fragment plus this one listed).
//  - Duplicate: a fragment lying entirely inside one contiguous run of held fragments (a
//    "run" is the kernel's: fragments that arrived in ascending, back-to-back order) is a
//    duplicate. Like the kernel, only that fragment is dropped (FragDuplicate, listed alone,
//    counted in stats().duplicates) and the datagram is kept and can still complete. So an
//    exact retransmission does not kill the datagram, but the same bytes straddling two
//    runs (out-of-order arrival) are an overlap, exactly as in the kernel.
//  - FragBad: zero-length fragment; second last fragment with a different end; a last
//    fragment ending before data already held; data beyond a known end. IPv4 drops the whole
//    datagram for these (kernel: discard_qp); IPv6 drops only this fragment and keeps the
//    datagram (kernel nf_ct_frag6_queue: "goto err" without killing the queue).
//    A non-last fragment whose payload is not a multiple of 8 drops the whole datagram for
//    both families (IPv6 as the kernel; the IPv4 kernel instead trims it to 8 bytes, which
//    tapwall cannot mirror because it forwards the original fragments unchanged).
//  - FragTooLarge: the datagram would exceed 65535 bytes (IPv4 total length with the
//    fragment's header; IPv6 payload length with the unfragmentable part): whole datagram,
//    as soon as it is seen (the kernel notices only at completion; same verdict).
//  - A fragment for a datagram whose timer has run out (now >= first + timeout) starts a new
//    datagram, as in the kernel; the stale one is reported by the next expire().
// Memory (FragNoMemory): memory is an arena of max_bytes, carved in kAllocUnit-byte units,
// holding copies of held frames and each completed datagram's reassembled frame; bytes_held()
// is the units in use times kAllocUnit. As in the kernel since 4.17 (no LRU eviction), when a
// fragment does not fit, or no datagram slot is free, only that fragment is refused
// (Dropped, listed alone) and older datagrams are kept: they complete or time out. Call
// expire() before add() (the engine does, per batch) so timed-out memory is reclaimed and
// reported. The fragment that exceeds max_fragments_per_datagram drops the whole datagram
// (FragNoMemory): it could never complete. If a completed datagram's reassembled frame does
// not fit, the whole datagram is dropped (FragNoMemory).
// Views: when add() returns Dropped, the fragment passed to that call may not have been
// copied: its HeldFragment::bytes may view the caller's frame (valid while the caller keeps
// it). A lone-fragment drop uses a special handle valid until the next add(); release() on
// it is a no-op. Stats count events (datagrams or lone fragments), not frames, except `fragments`.
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
  static constexpr uint32_t kAllocUnit = 64;  // arena granularity of max_bytes / bytes_held()
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
  uint64_t duplicates = 0, too_large = 0;  // added by the defrag module
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
