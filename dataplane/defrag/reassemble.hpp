// Reassembled-frame header rewriting: turns the first fragment's L2 + IP headers into the
// headers of the whole, unfragmented datagram.
// Purpose: the reassembled frame must decode as an ordinary packet so conntrack and the
// policy read its L4 ports; these functions are the only place fragment fields are cleared.
// Invariants: write only inside `out`; return false (never read out of bounds) when the
// first fragment's header chain is inconsistent with the offsets given.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>

namespace tapwall::defrag_detail {

uint16_t ipv4_header_checksum(const uint8_t* hdr, uint32_t len);

// out = [L2 (l3_off bytes) | IPv4 header (ihl bytes) | payload space]; copies the first
// fragment's L2 and IPv4 header (options as the first fragment has them), clears MF and the
// offset (DF is kept), sets total length = ihl + total and the header checksum.
bool write_ipv4_headers(std::span<const uint8_t> first, uint32_t l3_off, uint32_t ihl,
                        uint32_t total, std::span<uint8_t> out);

// out = [L2 | IPv6 header + ext headers before the Fragment header (unfrag_len bytes) |
// payload]; drops the Fragment header, points the Next Header that named it at the
// Fragment header's Next Header, sets payload length = unfrag_len - 40 + total.
bool write_ipv6_headers(std::span<const uint8_t> first, uint32_t l3_off, uint32_t unfrag_len,
                        uint32_t total, std::span<uint8_t> out);

}  // namespace tapwall::defrag_detail
