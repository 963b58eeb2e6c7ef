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

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>

#include "tapwall/decoded.hpp"

namespace tapwall {

// The per-frame checks are inline (every IPv4 frame has its header checked, every tracked
// TCP/UDP packet its L4 checksum): as calls they cost more than their 20-byte sums.
namespace checksum_detail {

// The high half of x + rotr(x, half) is the one's-complement (end-around carry) sum of x's
// two halves: two add-rotate steps instead of four add-mask-shift-add rounds.
inline uint16_t fold64(uint64_t s) {
  const uint32_t w = static_cast<uint32_t>((s + std::rotr(s, 32)) >> 32);
  return static_cast<uint16_t>((w + std::rotr(w, 16)) >> 16);
}

// The tail of a sum (< 8 bytes) in host word order.
inline uint64_t tail_acc(const uint8_t* p, std::size_t n) {
  uint64_t t = 0;
  if (n >= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    t += w;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    t += w;
    p += 2;
    n -= 2;
  }
  if (n) {
    // The odd byte is the high byte of a big-endian word: where it sits in a host word
    // depends on endianness.
    t += std::endian::native == std::endian::little ? uint64_t{p[0]} : uint64_t{p[0]} << 8;
  }
  return t;
}

// Short spans (headers, ACK segments: nearly every frame): 32-bit words added into a 64-bit
// accumulator cannot overflow it, so no carry needs handling until the fold; 2^16 = 1
// (mod 2^16 - 1) makes the folded sum that of the 16-bit words.
inline uint64_t word_acc_loop(const uint8_t* p, std::size_t n, uint64_t acc) {
  uint64_t a1 = 0;
  for (; n >= 8; p += 8, n -= 8) {
    uint32_t w[2];
    std::memcpy(w, p, 8);
    acc += w[0];
    a1 += w[1];
  }
  return acc + a1 + tail_acc(p, n);
}

// Forced inline: the 20-byte case (an IPv4 header, a TCP header without options) is most
// frames' whole sum, a few instructions next to a call.
[[gnu::always_inline]] inline uint64_t word_acc(const uint8_t* p, std::size_t n, uint64_t acc) {
  if (n == 20) {
    // Five word loads: one 20-byte memcpy into an array went through the stack (a 16-byte
    // store and five reloads, ~6 instructions more per sum).
    auto w = [p](int i) {
      uint32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      return uint64_t{v};
    };
    return acc + (w(0) + w(1)) + (w(2) + w(3)) + w(4);
  }
  return word_acc_loop(p, n, acc);
}

// One's-complement sum of data in host word order, added to `acc` (end-around carry), not
// folded: callers add more terms (a pseudo-header) before folding once. `acc` < 2^63.
uint64_t native_acc(const uint8_t* p, std::size_t n, uint64_t acc);

inline uint16_t to_be_order(uint16_t host_sum) {
  if constexpr (std::endian::native == std::endian::little)
    return static_cast<uint16_t>((host_sum >> 8) | (host_sum << 8));
  return host_sum;
}

// TCP/UDP over IPv4, the bulk of traffic: pseudo-header and segment summed in one host-order
// accumulator and folded once (the sum is order independent, RFC 1071 §2(A,B)), instead of
// a pseudo-header in network order plus a separately folded and swapped segment sum.
// Same result as the general path: the folded total is 0xffff exactly when the checksum
// verifies (0 only when every summed word is 0, which the protocol word rules out).
// `addrs`: the 8 bytes of source and destination address (an IPv4 header's bytes 12-19);
// `l4`, `len`: the TCP/UDP segment, at least its checksum field long.
[[gnu::always_inline]] inline bool ipv4_segment_ok(const uint8_t* addrs, const uint8_t* l4,
                                                   uint32_t len, uint8_t proto) {
  if (proto == kProtoUdp && load_be16(l4 + 6) == 0) return true;  // "no checksum"
  uint32_t src, dst;
  std::memcpy(&src, addrs, 4);  // host-order words of network-order bytes
  std::memcpy(&dst, addrs + 4, 4);
  const uint64_t pseudo =
      uint64_t{src} + dst + to_be_order(uint16_t(len)) + to_be_order(uint16_t(proto));
  const uint64_t acc = len < 64 ? word_acc(l4, len, pseudo) : native_acc(l4, len, pseudo);
  return fold64(acc) == 0xffff;
}

// The same over IPv6: `addrs` the 32 bytes of source and destination address (an IPv6
// header's bytes 8-39). UDP's checksum 0 is refused, as RFC 8200 requires (conntrack's UDP
// tracker, which takes it as "none" in both families, checks that before asking).
[[gnu::always_inline]] inline bool ipv6_segment_ok(const uint8_t* addrs, const uint8_t* l4,
                                                   uint32_t len, uint8_t proto) {
  const uint64_t pseudo = word_acc_loop(addrs, 32, 0) + to_be_order(uint16_t(len)) +
                          to_be_order(uint16_t(len >> 16)) + to_be_order(uint16_t(proto));
  const uint64_t acc = len < 64 ? word_acc(l4, len, pseudo) : native_acc(l4, len, pseudo);
  return fold64(acc) == 0xffff;
}

[[gnu::always_inline]] inline bool ipv4_tcp_udp_ok(const Decoded& d,
                                                   std::span<const uint8_t> frame) {
  const std::size_t csum_at = d.ip_proto == kProtoTcp ? 16 : 6;
  if (d.ip_end > frame.size() || d.l4_off >= d.ip_end ||
      std::size_t(d.ip_end - d.l4_off) < csum_at + 2)
    return false;
  // IPv4-mapped addresses: the IPv4 address is the last 4 of 16 bytes, src then dst.
  uint8_t addrs[8];
  std::memcpy(addrs, &d.src_ip.b[12], 4);
  std::memcpy(addrs + 4, &d.dst_ip.b[12], 4);
  return ipv4_segment_ok(addrs, frame.data() + d.l4_off, uint32_t(d.ip_end - d.l4_off),
                         d.ip_proto);
}

bool l4_checksum_ok_other(const Decoded& d, std::span<const uint8_t> frame);

}  // namespace checksum_detail

// One's-complement sum of `data` read as big-endian 16-bit words (an odd last byte is
// padded with zero), plus `initial`, folded to 16 bits. Not complemented: use it to chain
// partial sums (e.g. a pseudo-header) into inet_checksum().
uint16_t inet_sum(std::span<const uint8_t> data, uint32_t initial = 0);

// The Internet checksum of `data` with `initial` (an unfolded or folded partial sum) added:
// ~inet_sum(data, initial). Over bytes that include a correct checksum field it returns 0.
uint16_t inet_checksum(std::span<const uint8_t> data, uint32_t initial = 0);

// `ip_header` starts at an IPv4 header; the header length comes from its IHL. False when
// the span is shorter than 20 bytes or than IHL*4, or the checksum does not verify.
inline bool ipv4_header_checksum_ok(std::span<const uint8_t> ip_header) {
  if (ip_header.size() < 20) return false;
  const std::size_t hl = (ip_header[0] & 0x0f) * 4u;
  if (hl < 20 || hl > ip_header.size()) return false;
  // Checked for every IPv4 frame: sum in host order and fold once (the folded sum is 0xffff
  // exactly when inet_checksum() would be 0; byte order does not change that value).
  return checksum_detail::fold64(checksum_detail::word_acc(ip_header.data(), hl, 0)) == 0xffff;
}

// Verifies the L4 checksum of a successfully decoded frame: TCP and UDP over IPv4/IPv6,
// ICMP over IPv4, ICMPv6 over IPv6, over [l4_off, ip_end) with the pseudo-header where the
// protocol has one. UDP over IPv4 with checksum 0 ("none") is OK; over IPv6 it is not.
// Returns true when there is no checksum to check: not IP, other protocols, fragments
// (only the reassembled datagram can be checked).
[[gnu::always_inline]] inline bool l4_checksum_ok(const Decoded& d,
                                                  std::span<const uint8_t> frame) {
  if (d.l3 == L3Kind::Ipv4 && d.l4_ok && !d.is_fragment &&
      (d.ip_proto == kProtoTcp || d.ip_proto == kProtoUdp))
    return checksum_detail::ipv4_tcp_udp_ok(d, frame);
  return checksum_detail::l4_checksum_ok_other(d, frame);
}

// Computes and writes the L4 checksum of a decoded frame (same cases as l4_checksum_ok;
// UDP's computed 0 is sent as 0xffff). Whatever the checksum field held (e.g. an offload's
// pseudo-header partial sum) is ignored. Returns false, writing nothing, when the frame has
// no checksum this function knows how to fill (as above) or is shorter than d.ip_end.
bool fill_l4_checksum(const Decoded& d, std::span<uint8_t> frame);

}  // namespace tapwall
