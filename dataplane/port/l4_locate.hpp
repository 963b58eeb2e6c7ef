// locate_l4(): where a frame's IP and TCP/UDP headers are, for checksum completion and
// segmentation on the TX path.
// Purpose: the port module needs only offsets, over frames up to 64 KiB + L2 (GSO
// super-frames), so it does not depend on the engine's 16-bit Decoded offsets.
// Invariants: on success every offset lies inside the frame, l4_off + the L4 header's fixed
// part <= ip_end <= frame size; up to two VLAN tags; IPv6 Hop-by-Hop, Routing and
// Destination Options headers are skipped, a Fragment header marks the frame a fragment.
// Thread-safety: pure function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tapwall::port_detail {

struct L4Loc {
  uint32_t l3_off = 0;
  uint32_t l4_off = 0;
  uint32_t ip_end = 0;    // end of the IP datagram (padding excluded)
  uint8_t ip_version = 0; // 4 or 6
  uint8_t proto = 0;      // upper-layer protocol
  bool fragment = false;  // any fragment: no complete L4 here
};

// False when the frame is not IPv4/IPv6 or its IP header is malformed or cut short.
bool locate_l4(std::span<const uint8_t> frame, L4Loc& out);

// Sum of the pseudo-header for `l4_len` bytes of `loc.proto` (IPv4 or IPv6), unfolded.
uint32_t pseudo_header_sum(std::span<const uint8_t> frame, const L4Loc& loc, uint32_t l4_len);

}  // namespace tapwall::port_detail
