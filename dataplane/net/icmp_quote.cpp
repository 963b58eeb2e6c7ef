// Decoding of the packet an ICMP/ICMPv6 error quotes, for conntrack's RELATED lookup.
// Invariants: reads only inside the quote; never fails the outer frame — a quote that is
// short or malformed is simply absent (present = false), and conntrack treats such an error
// as it would any error quoting an untracked flow.
// Thread-safety: pure functions.
#include "decode_l4.hpp"
#include "ipv6_ext.hpp"

namespace tapwall::net_detail {
namespace {

// RFC 792/4443 quote at least 8 bytes of the original L4 header: enough for ports, the TCP
// sequence number, and the ICMP identifier.
constexpr std::size_t kQuotedL4 = 8;

bool decode_quoted_l4(std::span<const uint8_t> q, std::size_t off, uint8_t proto, bool v6,
                      QuotedHeader& out) {
  out.proto = proto;
  bool icmp = proto == (v6 ? kProtoIcmpv6 : kProtoIcmp);
  if (proto != kProtoTcp && proto != kProtoUdp && !icmp) return true;  // addresses suffice
  if (off > q.size() || q.size() - off < kQuotedL4) return false;
  const uint8_t* p = q.data() + off;
  if (icmp) {
    out.icmp_type = p[0];
    out.icmp_code = p[1];
    if (v6 ? icmpv6_is_echo(p[0]) : icmp_has_id(p[0])) out.sport = load_be16(p + 4);
    return true;
  }
  out.sport = load_be16(p);
  out.dport = load_be16(p + 2);
  if (proto == kProtoTcp) out.tcp_seq = load_be32(p + 4);
  return true;
}

}  // namespace

void decode_icmp_quote_v4(std::span<const uint8_t> q, QuotedHeader& out) {
  out = QuotedHeader{};
  const auto* ip = header<Ipv4Header>(q, 0);
  if (!ip || ip->version() != 4) return;
  std::size_t hl = ip->header_len();
  if (hl < sizeof(Ipv4Header) || hl > q.size()) return;
  // A non-first fragment's quote holds payload bytes, not an L4 header to match on.
  if ((ip->frag.get() & kIpv4FragOffsetMask) != 0) return;
  out.src = IpAddr::from_v4(ip->src);
  out.dst = IpAddr::from_v4(ip->dst);
  if (!decode_quoted_l4(q, hl, ip->proto, false, out)) {
    out = QuotedHeader{};
    return;
  }
  out.present = true;
}

void decode_icmp_quote_v6(std::span<const uint8_t> q, QuotedHeader& out) {
  out = QuotedHeader{};
  const auto* ip = header<Ipv6Header>(q, 0);
  if (!ip || ip->version() != 6) return;
  Ipv6Chain c;
  if (walk_ipv6_chain(q, sizeof(Ipv6Header), ip->next, c) != DropReason::None) return;
  if (c.non_first_fragment) return;
  out.src = IpAddr::from_v6(ip->src);
  out.dst = IpAddr::from_v6(ip->dst);
  if (!decode_quoted_l4(q, c.l4_off, c.proto, true, out)) {
    out = QuotedHeader{};
    return;
  }
  out.present = true;
}

}  // namespace tapwall::net_detail
