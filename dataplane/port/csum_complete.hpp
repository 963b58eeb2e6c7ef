// Checksum completion on the TX path, for egress ports that cannot take offload metadata.
// Purpose: a frame whose L4 checksum was left to offload (virtio NEEDS_CSUM, or
// TP_STATUS_CSUMNOTREADY) — or whose checksum state is unknown (libpcap) — must leave
// tapwall with a valid checksum, or the receiver's TCP fails while ping works (DESIGN §4).
// Invariants: both functions write only the 2-byte checksum field and only on success;
// a computed 0 is written as 0xffff (equivalent for TCP, required for UDP).
// Thread-safety: pure functions on caller-owned bytes.
#pragma once

#include <cstdint>
#include <span>

namespace tapwall::port_detail {

// virtio semantics: the field at csum_start + csum_offset holds the pseudo-header sum;
// fold the one's-complement sum of [csum_start, end of the IP datagram) into it.
bool complete_partial_csum(std::span<uint8_t> frame, uint32_t csum_start, uint32_t csum_offset);

// Recompute the TCP or UDP checksum of an unfragmented IPv4/IPv6 frame from scratch,
// ignoring whatever the field holds. False for other frames (nothing written).
bool recompute_l4_csum(std::span<uint8_t> frame);

}  // namespace tapwall::port_detail
