// IPv6 extension-header chain walker, shared by the frame decoder and the ICMPv6 quote
// decoder (a quoted packet's chain is walked with the same limits).
// Invariants: reads only inside `dg`; visits at most kIpv6MaxExtHeaders headers; stops at the
// first upper-layer protocol, at No Next Header, or at a Fragment header whose offset is not
// zero (what follows is the middle of a datagram, not a header).
// Thread-safety: pure function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "tapwall/drop_reason.hpp"
#include "tapwall/wire.hpp"

namespace tapwall::net_detail {

// Bounds the work a hostile chain can cause; real traffic carries at most 2-3 headers.
inline constexpr unsigned kIpv6MaxExtHeaders = 8;

struct Ipv6Chain {
  uint8_t proto = 0;             // upper-layer protocol, or 59, or Fragment's next for non-first
  std::size_t l4_off = 0;        // offset in dg where `proto`'s header (or fragment data) starts
  std::size_t frag_hdr_off = 0;  // 0: no Fragment header
  uint16_t frag_field = 0;       // Fragment header offset/flags, host order
  uint32_t frag_id = 0;
  bool non_first_fragment = false;
};

inline bool is_ipv6_ext_header(uint8_t nh) {
  return nh == kIp6HopByHop || nh == kIp6Routing || nh == kIp6Fragment || nh == kIp6Auth ||
         nh == kIp6DestOpts || nh == kIp6Mobility;
}

// Walk from `off` (just after the fixed 40-byte header) with first next-header `nh`.
inline DropReason walk_ipv6_chain(std::span<const uint8_t> dg, std::size_t off, uint8_t nh,
                                  Ipv6Chain& c) {
  unsigned count = 0;
  while (is_ipv6_ext_header(nh)) {
    if (++count > kIpv6MaxExtHeaders) return DropReason::Ipv6ExtTooMany;
    if (nh == kIp6Fragment) {
      const auto* fh = header<Ipv6FragHeader>(dg, off);
      if (!fh) return DropReason::Ipv6ExtTruncated;
      // Only the first Fragment header describes this packet; a second one is part of the
      // fragmentable payload as far as reassembly is concerned.
      if (c.frag_hdr_off == 0) {
        c.frag_hdr_off = off;
        c.frag_field = fh->offset_flags.get();
        c.frag_id = fh->id.get();
      }
      nh = fh->next;
      off += sizeof(Ipv6FragHeader);
      if ((c.frag_field & 0xfff8) != 0) {
        c.non_first_fragment = true;
        break;
      }
      continue;
    }
    const auto* eh = header<Ipv6ExtHeader>(dg, off);
    if (!eh) return DropReason::Ipv6ExtTruncated;
    std::size_t len =
        nh == kIp6Auth ? (std::size_t{eh->len} + 2) * 4 : (std::size_t{eh->len} + 1) * 8;
    if (len > dg.size() - off) return DropReason::Ipv6ExtTruncated;
    nh = eh->next;
    off += len;
  }
  c.proto = nh;
  c.l4_off = off;
  return DropReason::None;
}

}  // namespace tapwall::net_detail
