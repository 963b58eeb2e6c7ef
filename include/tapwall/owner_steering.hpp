// Owner steering: which data-path worker judges a frame when the bridge runs several.
// Purpose: every worker has its own conntrack and defragmenter, so every packet whose
// verdict depends on shared state must be judged by the one worker holding that state. The
// kernel's fanout hash cannot promise this (it includes ports, ignores what an ICMP error
// quotes, and hashes fragments differently from their flow), so each worker recomputes the
// frame's owner and hands frames it does not own to their owner.
// The owner of an IP frame is a symmetric hash of its unordered address pair modulo the
// worker count:
//  - both directions of a flow have the same pair;
//  - an ICMP/ICMPv6 error (not itself fragmented) uses the pair of the packet it quotes, so
//    it meets the flow it is RELATED to;
//  - every fragment of a datagram (first or later, v4 or v6) carries the datagram's pair,
//    and the reassembled datagram's flow has that pair too.
// Frames without an owner (ARP and other ethertypes, frames that do not decode) are
// judged by the worker that received them: they touch no conntrack or fragment state.
// Invariants: pure functions of the frame bytes; never read outside the frame.
// Thread-safety: pure; call from any thread.
#pragma once

#include <cstdint>
#include <span>

#include "tapwall/decoded.hpp"
#include "tapwall/net_types.hpp"

namespace tapwall {

// A hash of the unordered pair {a, b}: pair_hash(a, b) == pair_hash(b, a).
uint64_t pair_hash(const IpAddr& a, const IpAddr& b);

struct SteerKey {
  bool has_owner = false;  // false: judged by the receiving worker
  uint64_t hash = 0;       // pair_hash of the owning address pair, when has_owner
  // What the engine's MAC learning will do with the frame (decoded and admitted at L2):
  // the learning worker announces the station to the others (mac_sync.hpp).
  bool learnable = false;
  MacAddr src_mac;
};

// Decodes `frame` (into the caller's scratch `d`) and returns its steering key.
SteerKey steer_key(std::span<const uint8_t> frame, Decoded& d);

// The worker that owns a frame with key k, among n workers; `receiver` for frames without
// an owner.
inline uint32_t owner_of(const SteerKey& k, uint32_t n, uint32_t receiver) {
  return k.has_owner ? uint32_t(k.hash % n) : receiver;
}

}  // namespace tapwall
