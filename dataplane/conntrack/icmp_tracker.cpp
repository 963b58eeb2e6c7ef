// ICMP / ICMPv6 tracker implementation (see icmp_tracker.hpp).
// Thread-safety: pure functions.
#include "icmp_tracker.hpp"

namespace tapwall::ct {
namespace {

constexpr uint8_t kNrIcmpTypes = 18;

bool v4_error(uint8_t type) {
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

// MLD query/report/done (130-132), router/neighbour solicitation/advertisement (133-136),
// MLDv2 report (143), multicast router discovery (151, 152): the kernel leaves them
// untracked, so rules see them as UNTRACKED.
bool v6_untracked(uint8_t type) {
  return (type >= 130 && type <= 136) || type == 143 || type == 151 || type == 152;
}

bool link_local(const IpAddr& a) { return a.b[0] == 0xfe && (a.b[1] & 0xc0) == 0x80; }

}  // namespace

IcmpKind icmp_classify(const Decoded& d) {
  const uint8_t type = d.icmp_type;
  if (d.ip_proto == kProtoIcmp) {
    if (type > kNrIcmpTypes) return IcmpKind::Invalid;
    return v4_error(type) ? IcmpKind::Error : IcmpKind::Query;
  }
  if (v6_untracked(type)) return IcmpKind::Untracked;
  if (type == 137) {  // redirect
    // The kernel only relates a redirect that carries the redirected packet's header,
    // comes from a link-local router at hop limit 255, with code 0.
    if (d.icmp_code != 0) return IcmpKind::Query;  // untrackable query: INVALID later
    if (d.ttl != 255 || !link_local(d.src_ip)) return IcmpKind::Invalid;
    return d.quoted.present ? IcmpKind::Error : IcmpKind::Query;
  }
  return type < 128 ? IcmpKind::Error : IcmpKind::Query;
}

bool icmp_can_create(uint8_t proto, uint8_t type) {
  if (proto == kProtoIcmp) return type == 8 || type == 13 || type == 15 || type == 17;
  return type == 128 || type == 139;
}

bool icmp_tuple(const Decoded& d, std::span<const uint8_t> frame, CtTuple& out) {
  if (icmp_inverse_type(d.ip_proto, d.icmp_type) < 0) return false;
  out.src = d.src_ip;
  out.dst = d.dst_ip;
  out.proto = d.ip_proto;
  // Timestamp/information/address-mask messages carry their identifier where echo does;
  // read it from the frame so every query type is keyed by it.
  out.sport = std::size_t(d.l4_off) + 6 <= frame.size() ? load_be16(&frame[d.l4_off + 4])
                                                         : d.icmp_id;
  out.dport = uint16_t((uint16_t{d.icmp_type} << 8) | d.icmp_code);
  return true;
}

bool quoted_tuple(const Decoded& d, CtTuple& out) {
  const QuotedHeader& q = d.quoted;
  if (!q.present) return false;
  out.src = q.src;
  out.dst = q.dst;
  out.proto = q.proto;
  switch (q.proto) {
    case kProtoTcp:
    case kProtoUdp:
      out.sport = q.sport;
      out.dport = q.dport;
      return true;
    case kProtoIcmp:
    case kProtoIcmpv6:
      // The quoted message must itself be a query/reply (an error about an error, or
      // about an untrackable type, relates to nothing).
      if (icmp_inverse_type(q.proto, q.icmp_type) < 0) return false;
      out.sport = q.sport;
      out.dport = uint16_t((uint16_t{q.icmp_type} << 8) | q.icmp_code);
      return true;
    default:
      out.sport = out.dport = 0;
      return true;
  }
}

}  // namespace tapwall::ct
