// User-space GSO segmentation (see gso_segment.hpp).
// Invariants: all offsets come from a successful locate_l4() plus a length check of the
// L4 header, so every copy below stays inside `frame` and `out`.
// Thread-safety: pure functions.
#include "gso_segment.hpp"

#include <algorithm>
#include <cstring>

#include "tapwall/checksum.hpp"
#include "tapwall/decoded.hpp"
#include "tapwall/net_types.hpp"
#include "tapwall/wire.hpp"

namespace tapwall::port_detail {

namespace {
constexpr uint32_t kUdpHdr = 8;

void store_l4_csum(uint8_t* seg, const L4Loc& loc, uint32_t l4_len, uint32_t at) {
  std::span<const uint8_t> s(seg, loc.l4_off + l4_len);
  store_be16(seg + loc.l4_off + at, 0);
  uint16_t c = inet_checksum(s.subspan(loc.l4_off, l4_len), pseudo_header_sum(s, loc, l4_len));
  store_be16(seg + loc.l4_off + at, c == 0 ? 0xffff : c);
}
}  // namespace

uint32_t l3l4_header_len(std::span<const uint8_t> frame, const L4Loc& loc, bool udp) {
  if (udp) return loc.ip_end - loc.l4_off >= kUdpHdr ? loc.l4_off + kUdpHdr - loc.l3_off : 0;
  const auto* tcp = header<TcpHeader>(frame.first(loc.ip_end), loc.l4_off);
  if (!tcp || tcp->header_len() < sizeof(TcpHeader) ||
      loc.ip_end - loc.l4_off < tcp->header_len())
    return 0;
  return loc.l4_off + tcp->header_len() - loc.l3_off;
}

bool plan_segments(std::span<const uint8_t> frame, bool udp, uint32_t mss, GsoPlan& plan) {
  plan = GsoPlan{};
  if (mss == 0 || !locate_l4(frame, plan.loc) || plan.loc.fragment) return false;
  if (plan.loc.proto != (udp ? kProtoUdp : kProtoTcp)) return false;
  const uint32_t l34 = l3l4_header_len(frame, plan.loc, udp);
  if (l34 == 0) return false;
  plan.udp = udp;
  plan.hdr_len = plan.loc.l3_off + l34;
  plan.payload_len = plan.loc.ip_end - plan.hdr_len;
  plan.mss = mss;
  plan.segments = plan.payload_len == 0 ? 1 : (plan.payload_len + mss - 1) / mss;
  plan.out_bytes = plan.segments * plan.hdr_len + plan.payload_len;
  return true;
}

bool write_segments(std::span<const uint8_t> frame, const GsoPlan& plan, std::span<uint8_t> out,
                    std::span<uint32_t> seg_lens) {
  if (out.size() < plan.out_bytes || seg_lens.size() < plan.segments || plan.segments == 0)
    return false;
  const L4Loc& loc = plan.loc;
  const uint8_t* src = frame.data();
  const auto* ip4 = reinterpret_cast<const Ipv4Header*>(src + loc.l3_off);
  const uint16_t id0 = loc.ip_version == 4 ? ip4->id.get() : 0;
  uint32_t seq0 = 0;
  uint8_t flags0 = 0;
  if (!plan.udp) {
    const auto* tcp = reinterpret_cast<const TcpHeader*>(src + loc.l4_off);
    seq0 = tcp->seq.get();
    flags0 = tcp->flags;
  }
  uint8_t* dst = out.data();
  uint32_t done = 0;
  for (uint32_t k = 0; k < plan.segments; ++k) {
    const uint32_t chunk = std::min(plan.mss, plan.payload_len - done);
    std::memcpy(dst, src, plan.hdr_len);
    std::memcpy(dst + plan.hdr_len, src + plan.hdr_len + done, chunk);
    const uint32_t l4_len = plan.hdr_len - loc.l4_off + chunk;
    const uint32_t ip_len = plan.hdr_len - loc.l3_off + chunk;
    if (loc.ip_version == 4) {
      auto* ip = reinterpret_cast<Ipv4Header*>(dst + loc.l3_off);
      ip->total_len.set(uint16_t(ip_len));
      ip->id.set(uint16_t(id0 + k));
      ip->checksum.set(0);
      ip->checksum.set(inet_checksum({dst + loc.l3_off, ip->header_len()}));
    } else {
      auto* ip = reinterpret_cast<Ipv6Header*>(dst + loc.l3_off);
      ip->payload_len.set(uint16_t(ip_len - sizeof(Ipv6Header)));
    }
    if (plan.udp) {
      auto* udp = reinterpret_cast<UdpHeader*>(dst + loc.l4_off);
      udp->len.set(uint16_t(l4_len));
      store_l4_csum(dst, loc, l4_len, 6);
    } else {
      auto* tcp = reinterpret_cast<TcpHeader*>(dst + loc.l4_off);
      tcp->seq.set(seq0 + done);
      uint8_t f = flags0;
      if (k + 1 != plan.segments) f &= uint8_t(~(kTcpFin | kTcpPsh));
      if (k != 0) f &= uint8_t(~kTcpCwr);
      tcp->flags = f;
      store_l4_csum(dst, loc, l4_len, 16);
    }
    seg_lens[k] = plan.hdr_len + chunk;
    dst += plan.hdr_len + chunk;
    done += chunk;
  }
  return true;
}

}  // namespace tapwall::port_detail
