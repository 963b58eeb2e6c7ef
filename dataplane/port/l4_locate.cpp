// locate_l4(): IP/L4 offsets of a frame for the TX path (see l4_locate.hpp).
// Invariants: every read goes through header<T>() or follows an explicit length check.
// Thread-safety: pure functions.
#include "l4_locate.hpp"

#include "tapwall/net_types.hpp"
#include "tapwall/wire.hpp"

namespace tapwall::port_detail {
namespace {

constexpr uint8_t kIp6HopByHopHdr = 0, kIp6RoutingHdr = 43, kIp6FragmentHdr = 44,
                  kIp6DestOptsHdr = 60;
constexpr int kMaxIpv6Ext = 8;

bool locate_v4(std::span<const uint8_t> f, L4Loc& out) {
  const auto* ip = header<Ipv4Header>(f, out.l3_off);
  if (!ip || ip->version() != 4) return false;
  const uint32_t hl = ip->header_len();
  const uint32_t total = ip->total_len.get();
  if (hl < sizeof(Ipv4Header) || total < hl || f.size() - out.l3_off < total) return false;
  out.ip_version = 4;
  out.proto = ip->proto;
  out.l4_off = out.l3_off + hl;
  out.ip_end = out.l3_off + total;
  out.fragment = (ip->frag.get() & (kIpv4FlagMf | kIpv4FragOffsetMask)) != 0;
  return true;
}

bool locate_v6(std::span<const uint8_t> f, L4Loc& out) {
  const auto* ip = header<Ipv6Header>(f, out.l3_off);
  if (!ip || ip->version() != 6) return false;
  const uint32_t end = out.l3_off + uint32_t(sizeof(Ipv6Header)) + ip->payload_len.get();
  if (end > f.size()) return false;
  uint8_t next = ip->next;
  uint32_t off = out.l3_off + sizeof(Ipv6Header);
  for (int i = 0; i < kMaxIpv6Ext; ++i) {
    if (next == kIp6FragmentHdr) {
      out.fragment = true;
      break;
    }
    if (next != kIp6HopByHopHdr && next != kIp6RoutingHdr && next != kIp6DestOptsHdr) break;
    const auto* ext = header<Ipv6ExtHeader>(f.first(end), off);
    if (!ext) return false;
    next = ext->next;
    off += (uint32_t(ext->len) + 1) * 8;
    if (off > end) return false;
  }
  out.ip_version = 6;
  out.proto = next;
  out.l4_off = off;
  out.ip_end = end;
  return true;
}

}  // namespace

bool locate_l4(std::span<const uint8_t> frame, L4Loc& out) {
  out = L4Loc{};
  const auto* eth = header<EthHeader>(frame, 0);
  if (!eth) return false;
  uint16_t type = eth->type.get();
  uint32_t off = sizeof(EthHeader);
  for (int tags = 0; tags < 2 && (type == kEthTypeVlan || type == kEthTypeQinQ); ++tags) {
    const auto* tag = header<VlanTag>(frame, off);
    if (!tag) return false;
    type = tag->type.get();
    off += sizeof(VlanTag);
  }
  out.l3_off = off;
  if (type == kEthTypeIpv4) return locate_v4(frame, out);
  if (type == kEthTypeIpv6) return locate_v6(frame, out);
  return false;
}

uint32_t pseudo_header_sum(std::span<const uint8_t> frame, const L4Loc& loc, uint32_t l4_len) {
  uint32_t s = 0;
  // The caller located the IP header, so the address fields are inside the frame.
  if (loc.ip_version == 4) {
    const uint8_t* a = frame.data() + loc.l3_off + 12;  // src then dst
    for (int i = 0; i < 8; i += 2) s += load_be16(a + i);
  } else {
    const uint8_t* a = frame.data() + loc.l3_off + 8;
    for (int i = 0; i < 32; i += 2) s += load_be16(a + i);
  }
  return s + (l4_len >> 16) + (l4_len & 0xffff) + loc.proto;
}

}  // namespace tapwall::port_detail
