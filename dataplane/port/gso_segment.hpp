// User-space segmentation of GSO super-frames (TCP, and UDP with UDP_L4 / USO semantics),
// for egress ports that cannot take virtio offload metadata.
// Purpose: a VM or a GRO-ing NIC hands tapwall frames far larger than the MTU; an egress
// without PACKET_VNET_HDR/IFF_VNET_HDR (or libpcap) needs MTU-sized, finished frames.
// Semantics (as the kernel's tcp_gso_segment): payload split at `mss`; every segment
// carries a copy of the L2+L3+L4 headers with IPv4 total length / IPv6 payload length
// fixed, IPv4 ID incremented per segment and its header checksum recomputed, TCP sequence
// advanced by the payload before it, FIN and PSH kept only on the last segment, CWR only
// on the first, and the TCP/UDP checksum computed in full (the super-frame's checksum field
// — often a partial pseudo-header sum — is ignored). Ethernet padding is not copied.
// Invariants: plan_segments() accepts only an unfragmented IPv4/IPv6 TCP (or UDP) frame
// whose headers lie inside it; write_segments() writes exactly plan.out_bytes bytes.
// Thread-safety: pure functions on caller-owned memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "l4_locate.hpp"

namespace tapwall::port_detail {

struct GsoPlan {
  L4Loc loc;
  bool udp = false;
  uint32_t hdr_len = 0;      // bytes copied in front of every segment's payload
  uint32_t payload_len = 0;  // of the super-frame
  uint32_t mss = 0;
  uint32_t segments = 0;
  uint32_t out_bytes = 0;    // total bytes of all segments
};

// L3+L4 header bytes of a located TCP/UDP frame (what to subtract from the MTU to get the
// MSS); 0 when the L4 header is not whole.
uint32_t l3l4_header_len(std::span<const uint8_t> frame, const L4Loc& loc, bool udp);

// Plan the segmentation of `frame` (TCP when !udp) at `mss` payload bytes per segment.
bool plan_segments(std::span<const uint8_t> frame, bool udp, uint32_t mss, GsoPlan& plan);

// Write the planned segments back to back into `out` (>= plan.out_bytes); seg_lens
// (>= plan.segments) receives each segment's length.
bool write_segments(std::span<const uint8_t> frame, const GsoPlan& plan, std::span<uint8_t> out,
                    std::span<uint32_t> seg_lens);

}  // namespace tapwall::port_detail
