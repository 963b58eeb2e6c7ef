// L4 header decoders (TCP, UDP, ICMP, ICMPv6), inlined into decode_frame().
// Invariants: `dg` is the frame cut at the end of the IP datagram, so no decoder can read
// Ethernet padding as header bytes; a decoder sets out.l4_ok only when it returns None.
// Thread-safety: pure functions on caller-owned data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "tapwall/decoded.hpp"
#include "tapwall/wire.hpp"

namespace tapwall::net_detail {

// Fill out.quoted from an ICMP / ICMPv6 error's quoted packet (bytes after the 8-byte
// header). A quote that is cut short or malformed leaves quoted.present = false; it never
// makes the outer packet a drop. Out of line: errors are rare.
void decode_icmp_quote_v4(std::span<const uint8_t> quote, QuotedHeader& q);
void decode_icmp_quote_v6(std::span<const uint8_t> quote, QuotedHeader& q);

inline constexpr uint8_t kTcpOptEol = 0, kTcpOptNop = 1, kTcpOptMss = 2, kTcpOptWscale = 3,
                         kTcpOptSackPerm = 4;
inline constexpr uint8_t kTcpMaxWscale = 14;  // RFC 7323; the kernel clamps larger shifts

inline DropReason decode_tcp_options(const uint8_t* p, std::size_t n, Decoded& out) {
  std::size_t i = 0;
  while (i < n) {
    uint8_t kind = p[i];
    if (kind == kTcpOptEol) break;
    if (kind == kTcpOptNop) {
      ++i;
      continue;
    }
    if (n - i < 2) return DropReason::TcpBadOptions;
    uint8_t len = p[i + 1];
    if (len < 2 || len > n - i) return DropReason::TcpBadOptions;
    // A known kind with the wrong length is skipped, not trusted (as the kernel does).
    if (kind == kTcpOptMss && len == 4) {
      out.tcp_mss = load_be16(p + i + 2);
    } else if (kind == kTcpOptWscale && len == 3) {
      uint8_t s = p[i + 2];
      out.tcp_wscale = static_cast<int8_t>(s > kTcpMaxWscale ? kTcpMaxWscale : s);
    } else if (kind == kTcpOptSackPerm && len == 2) {
      out.tcp_sack_perm = true;
    }
    i += len;
  }
  return DropReason::None;
}

[[gnu::always_inline]] inline DropReason decode_tcp(std::span<const uint8_t> dg, std::size_t off,
                                                    Decoded& out) {
  const auto* th = header<TcpHeader>(dg, off);
  if (!th) return DropReason::TcpTruncated;
  std::size_t doff = th->header_len();
  if (doff < sizeof(TcpHeader) || doff > dg.size() - off) return DropReason::TcpBadDataOffset;
  out.sport = th->sport.get();
  out.dport = th->dport.get();
  out.tcp_seq = th->seq.get();
  out.tcp_ack = th->ack.get();
  out.tcp_flags = th->flags;
  out.tcp_doff = static_cast<uint8_t>(doff);
  out.tcp_window = th->window.get();
  if (doff > sizeof(TcpHeader)) {
    DropReason r =
        decode_tcp_options(dg.data() + off + sizeof(TcpHeader), doff - sizeof(TcpHeader), out);
    if (r != DropReason::None) return r;
  }
  out.l4_payload_off = static_cast<uint16_t>(off + doff);
  out.l4_ok = true;
  return DropReason::None;
}

// `first_fragment`: the UDP length names the whole datagram, which this fragment only
// starts, so it cannot be checked against the bytes present.
[[gnu::always_inline]] inline DropReason decode_udp(std::span<const uint8_t> dg, std::size_t off,
                                                    bool first_fragment, Decoded& out) {
  const auto* uh = header<UdpHeader>(dg, off);
  if (!uh) return DropReason::UdpTruncated;
  std::size_t len = uh->len.get();
  if (len < sizeof(UdpHeader) || (!first_fragment && len > dg.size() - off))
    return DropReason::UdpBadLength;
  out.sport = uh->sport.get();
  out.dport = uh->dport.get();
  out.l4_payload_off = static_cast<uint16_t>(off + sizeof(UdpHeader));
  out.l4_ok = true;
  return DropReason::None;
}

// ICMP query messages that carry an identifier conntrack keys on (echo, timestamp,
// information, address mask), requests and replies.
inline bool icmp_has_id(uint8_t type) {
  return type == 0 || type == 8 || (type >= 13 && type <= 18);
}
inline bool icmp_is_error(uint8_t type) {
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

[[gnu::always_inline]] inline DropReason decode_icmp(std::span<const uint8_t> dg, std::size_t off,
                                                     Decoded& out) {
  const auto* ih = header<IcmpHeader>(dg, off);
  if (!ih) return DropReason::IcmpTruncated;
  out.icmp_type = ih->type;
  out.icmp_code = ih->code;
  std::size_t body = off + sizeof(IcmpHeader);
  if (icmp_has_id(ih->type)) {
    out.icmp_id = ih->id.get();
    out.sport = out.icmp_id;
  } else if (icmp_is_error(ih->type)) {
    decode_icmp_quote_v4(dg.subspan(body), out.quoted);
  }
  out.l4_payload_off = static_cast<uint16_t>(body);
  out.l4_ok = true;
  return DropReason::None;
}

inline bool icmpv6_is_error(uint8_t type) { return type >= 1 && type <= 4; }
inline bool icmpv6_is_echo(uint8_t type) { return type == 128 || type == 129; }

inline DropReason decode_icmpv6(std::span<const uint8_t> dg, std::size_t off, Decoded& out) {
  // Type, code and checksum are the whole common header (RFC 4443 §2.1).
  constexpr std::size_t kCommon = 4;
  if (off > dg.size() || dg.size() - off < kCommon) return DropReason::Icmpv6Truncated;
  uint8_t type = dg[off];
  out.icmp_type = type;
  out.icmp_code = dg[off + 1];
  std::size_t hdr = kCommon;
  if (icmpv6_is_echo(type) || icmpv6_is_error(type)) {
    const auto* ih = header<IcmpHeader>(dg, off);
    if (!ih) return DropReason::Icmpv6Truncated;
    hdr = sizeof(IcmpHeader);
    if (icmpv6_is_echo(type)) {
      out.icmp_id = ih->id.get();
      out.sport = out.icmp_id;
    } else {
      decode_icmp_quote_v6(dg.subspan(off + hdr), out.quoted);
    }
  }
  out.l4_payload_off = static_cast<uint16_t>(off + hdr);
  out.l4_ok = true;
  return DropReason::None;
}

}  // namespace tapwall::net_detail
