// decode_frame(): one pass over a frame's L2/L3/L4 headers into a Decoded.
// Invariants: every header is reached through header<T>() (bounds-checked) or after an
// explicit length check; L4 decoders see the frame cut at the IP datagram's end, so padding
// is never parsed. Offsets in Decoded are 16-bit: frames are considered only up to their
// first 65535 bytes, so an IP datagram ending past that is reported as a bad length.
// Fragments: a non-first fragment has no L4 header (l4_ok = false); a first fragment's L4
// header is decoded when it is whole and well formed, else l4_ok = false — the fragment
// is still valid, the reassembled datagram is judged in full.
// Thread-safety: pure function on caller-owned data; no allocation, no exceptions.
#include <cstring>
#include <type_traits>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "decode_l4.hpp"
#include "ipv6_ext.hpp"
#include "tapwall/decoded.hpp"
#include "tapwall/wire.hpp"

namespace tapwall {
namespace {

using net_detail::Ipv6Chain;

constexpr std::size_t kMaxOffset = 0xffff;
constexpr uint16_t kEthTypeVlan9100 = 0x9100;  // pre-standard QinQ TPID, seen as outer tag
constexpr unsigned kMaxVlanTags = 2;

constexpr uint8_t kIpv4OptEol = 0, kIpv4OptNop = 1;

// out = Decoded{}, minus the cost: compilers lower a 156-byte zeroing (a plain loop too)
// to `rep stos`, whose start-up latency alone was ~40% of decoding a TCP ACK. Instead, copy
// a default-constructed Decoded in unrolled 16-byte blocks: whatever defaults decoded.hpp
// declares are honoured, and the compiler folds the loads into register constants.
static_assert(std::is_trivially_copyable_v<Decoded>);
const Decoded kFresh{};
#if defined(__SSE2__)
template <std::size_t... I>
inline void copy_blocks(unsigned char* dst, const unsigned char* src, std::index_sequence<I...>) {
  (_mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 16 * I),
                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16 * I))),
   ...);
}
#endif
inline void reset(Decoded& out) {
#if defined(__SSE2__)
  static_assert(sizeof(Decoded) >= 16);
  constexpr std::size_t kSize = sizeof(Decoded);
  auto* dst = reinterpret_cast<unsigned char*>(&out);
  const auto* src = reinterpret_cast<const unsigned char*>(&kFresh);
  copy_blocks(dst, src, std::make_index_sequence<kSize / 16>{});
  if constexpr (kSize % 16 != 0)
    copy_blocks(dst + kSize - 16, src + kSize - 16, std::make_index_sequence<1>{});
#else
  out = Decoded{};
#endif
}

// IpAddr::from_v4 into a field reset() already zeroed, without building a temporary.
inline void set_v4(IpAddr& a, const uint8_t* p) {
  a.b[10] = 0xff;
  a.b[11] = 0xff;
  std::memcpy(&a.b[12], p, 4);
}

bool is_vlan_tpid(uint16_t t) {
  return t == kEthTypeVlan || t == kEthTypeQinQ || t == kEthTypeVlan9100;
}

bool ipv4_options_ok(const uint8_t* p, std::size_t n) {
  std::size_t i = 0;
  while (i < n) {
    uint8_t type = p[i];
    if (type == kIpv4OptEol) return true;
    if (type == kIpv4OptNop) {
      ++i;
      continue;
    }
    if (n - i < 2) return false;
    uint8_t len = p[i + 1];
    if (len < 2 || len > n - i) return false;
    i += len;
  }
  return true;
}

// L4 dispatch on the datagram `dg` (frame cut at ip_end). A first fragment's L4 problems
// are not the fragment's fault: its header may legitimately continue in the next fragment.
[[gnu::always_inline]] inline DropReason decode_l4(std::span<const uint8_t> dg, bool v6,
                                                   Decoded& out) {
  const std::size_t off = out.l4_off;
  const bool frag = out.is_fragment;
  DropReason r;
  switch (out.ip_proto) {
    case kProtoTcp:
      r = net_detail::decode_tcp(dg, off, out);
      break;
    case kProtoUdp:
      r = net_detail::decode_udp(dg, off, frag, out);
      break;
    case kProtoIcmp:
      if (v6) return DropReason::None;
      r = net_detail::decode_icmp(dg, off, out);
      break;
    case kProtoIcmpv6:
      if (!v6) return DropReason::None;
      r = net_detail::decode_icmpv6(dg, off, out);
      break;
    default:
      return DropReason::None;
  }
  if (r != DropReason::None && frag) {
    out.l4_ok = false;
    return DropReason::None;
  }
  return r;
}

DropReason decode_ipv4(std::span<const uint8_t> f, std::size_t off, Decoded& out) {
  const auto* ip = header<Ipv4Header>(f, off);
  if (!ip) return DropReason::Ipv4Truncated;
  if (ip->version() != 4) return DropReason::Ipv4BadVersion;
  const std::size_t hl = ip->header_len();
  if (hl < sizeof(Ipv4Header)) return DropReason::Ipv4BadIhl;
  const std::size_t avail = f.size() - off;
  if (hl > avail) return DropReason::Ipv4Truncated;
  const std::size_t total = ip->total_len.get();
  if (total < hl || total > avail) return DropReason::Ipv4BadTotalLength;
  if (hl > sizeof(Ipv4Header) &&
      !ipv4_options_ok(f.data() + off + sizeof(Ipv4Header), hl - sizeof(Ipv4Header)))
    return DropReason::Ipv4BadOptions;

  out.l3 = L3Kind::Ipv4;
  set_v4(out.src_ip, ip->src);
  set_v4(out.dst_ip, ip->dst);
  out.ip_proto = ip->proto;
  out.ttl = ip->ttl;
  out.ip_end = static_cast<uint16_t>(off + total);
  out.l4_off = static_cast<uint16_t>(off + hl);
  out.ipv4_has_options = hl > sizeof(Ipv4Header);

  const uint16_t frag = ip->frag.get();
  out.frag_id = ip->id.get();
  out.more_fragments = (frag & kIpv4FlagMf) != 0;
  out.frag_offset = static_cast<uint16_t>((frag & kIpv4FragOffsetMask) * 8u);
  out.is_fragment = out.more_fragments || out.frag_offset != 0;
  if (out.frag_offset != 0) return DropReason::None;  // payload continues a datagram
  return decode_l4(f.first(out.ip_end), false, out);
}

DropReason decode_ipv6(std::span<const uint8_t> f, std::size_t off, Decoded& out) {
  const auto* ip = header<Ipv6Header>(f, off);
  if (!ip) return DropReason::Ipv6Truncated;
  if (ip->version() != 6) return DropReason::Ipv6BadVersion;
  const std::size_t plen = ip->payload_len.get();
  // Payload length 0 with a Hop-by-Hop header announces a jumbogram (RFC 2675): a bridge
  // never legitimately carries one, and its real length is unknowable here.
  if (plen == 0 && ip->next == kIp6HopByHop) return DropReason::Ipv6BadPayloadLength;
  if (plen > f.size() - off - sizeof(Ipv6Header)) return DropReason::Ipv6BadPayloadLength;
  const std::size_t end = off + sizeof(Ipv6Header) + plen;
  const std::span<const uint8_t> dg = f.first(end);

  Ipv6Chain c;
  DropReason r = net_detail::walk_ipv6_chain(dg, off + sizeof(Ipv6Header), ip->next, c);
  if (r != DropReason::None) return r;

  out.l3 = L3Kind::Ipv6;
  std::memcpy(out.src_ip.b.data(), ip->src, 16);
  std::memcpy(out.dst_ip.b.data(), ip->dst, 16);
  out.ttl = ip->hop_limit;
  out.ip_end = static_cast<uint16_t>(end);
  out.ip_proto = c.proto;
  out.l4_off = static_cast<uint16_t>(c.l4_off);
  if (c.frag_hdr_off != 0) {
    out.frag_hdr_off = static_cast<uint16_t>(c.frag_hdr_off);
    out.frag_unfrag_len = static_cast<uint16_t>(c.frag_hdr_off - off);
    out.frag_id = c.frag_id;
    out.frag_offset = c.frag_field & 0xfff8;  // 13-bit offset in 8-byte units, pre-shifted
    out.more_fragments = (c.frag_field & 1) != 0;
    // An atomic fragment (offset 0, M clear) is a whole datagram (RFC 6946).
    out.is_fragment = out.more_fragments || out.frag_offset != 0;
  }
  if (c.non_first_fragment || c.proto == kIp6NoNext) return DropReason::None;
  return decode_l4(dg, true, out);
}

DropReason decode_arp(std::span<const uint8_t> f, std::size_t off, Decoded& out) {
  const auto* ah = header<ArpHeader>(f, off);
  if (!ah) return DropReason::ArpTruncated;
  if (ah->htype.get() == 1 && ah->ptype.get() == kEthTypeIpv4 && ah->hlen == 6 && ah->plen == 4 &&
      !header<ArpEthIpv4>(f, off))
    return DropReason::ArpTruncated;
  out.l3 = L3Kind::Arp;
  return DropReason::None;
}

}  // namespace

void reset_decoded(Decoded& out) { reset(out); }

DropReason decode_frame(std::span<const uint8_t> frame, Decoded& out) {
  reset(out);
  if (frame.size() > kMaxOffset) frame = frame.first(kMaxOffset);
  const auto* eth = header<EthHeader>(frame, 0);
  if (!eth) return DropReason::EthTruncated;
  std::memcpy(out.dst_mac.b.data(), eth->dst, 6);
  std::memcpy(out.src_mac.b.data(), eth->src, 6);
  uint16_t type = eth->type.get();
  std::size_t off = sizeof(EthHeader);
  while (is_vlan_tpid(type)) {
    if (out.vlan_count == kMaxVlanTags) return DropReason::VlanTooManyTags;
    const auto* tag = header<VlanTag>(frame, off);
    if (!tag) return DropReason::VlanTruncated;
    out.vlan_ids[out.vlan_count++] = tag->vid();
    type = tag->type.get();
    off += sizeof(VlanTag);
  }
  out.vlan = out.vlan_count ? out.vlan_ids[out.vlan_count - 1] : 0;
  out.ethertype = type;
  out.l3_off = static_cast<uint16_t>(off);
  switch (type) {
    case kEthTypeIpv4:
      return decode_ipv4(frame, off, out);
    case kEthTypeIpv6:
      return decode_ipv6(frame, off, out);
    case kEthTypeArp:
      return decode_arp(frame, off, out);
    default:
      return DropReason::None;
  }
}

}  // namespace tapwall
