// Internet checksum (RFC 1071) helpers: IPv4 header, and TCP/UDP/ICMP/ICMPv6 over IPv4/IPv6
// with their pseudo-headers.
// Purpose: decode never verifies checksums (that is a policy of the caller: conntrack
// checks L4 checksums unless the frame carries an unfinished offloaded one; the engine may
// check the IPv4 header and drop with Ipv4BadChecksum). Port backends use fill_l4_checksum()
// to complete frames whose checksum was left to offload.
// Invariants: sums are computed 64 bits at a time in host order and byte-swapped once
// (the one's-complement sum is byte-order independent, RFC 1071 §2(B)); values are returned
// in host order, ready for store_be16().
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>

#include "tapwall/decoded.hpp"

namespace tapwall {

// One's-complement sum of `data` read as big-endian 16-bit words (an odd last byte is
// padded with zero), plus `initial`, folded to 16 bits. Not complemented: use it to chain
// partial sums (e.g. a pseudo-header) into inet_checksum().
uint16_t inet_sum(std::span<const uint8_t> data, uint32_t initial = 0);

// The Internet checksum of `data` with `initial` (an unfolded or folded partial sum) added:
// ~inet_sum(data, initial). Over bytes that include a correct checksum field it returns 0.
uint16_t inet_checksum(std::span<const uint8_t> data, uint32_t initial = 0);

// `ip_header` starts at an IPv4 header; the header length comes from its IHL. False when
// the span is shorter than 20 bytes or than IHL*4, or the checksum does not verify.
bool ipv4_header_checksum_ok(std::span<const uint8_t> ip_header);

// Verifies the L4 checksum of a successfully decoded frame: TCP and UDP over IPv4/IPv6,
// ICMP over IPv4, ICMPv6 over IPv6, over [l4_off, ip_end) with the pseudo-header where the
// protocol has one. UDP over IPv4 with checksum 0 ("none") is OK; over IPv6 it is not.
// Returns true when there is no checksum to check: not IP, other protocols, fragments
// (only the reassembled datagram can be checked).
bool l4_checksum_ok(const Decoded& d, std::span<const uint8_t> frame);

// Computes and writes the L4 checksum of a decoded frame (same cases as l4_checksum_ok;
// UDP's computed 0 is sent as 0xffff). Whatever the checksum field held (e.g. an offload's
// pseudo-header partial sum) is ignored. Returns false, writing nothing, when the frame has
// no checksum this function knows how to fill (as above) or is shorter than d.ip_end.
bool fill_l4_checksum(const Decoded& d, std::span<uint8_t> frame);

}  // namespace tapwall
