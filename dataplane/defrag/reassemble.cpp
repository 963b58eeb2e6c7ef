// Header rewriting for reassembled datagrams (see reassemble.hpp).
#include "reassemble.hpp"

#include <cstring>

#include "tapwall/wire.hpp"

namespace tapwall::defrag_detail {

uint16_t ipv4_header_checksum(const uint8_t* hdr, uint32_t len) {
  uint32_t sum = 0;
  for (uint32_t i = 0; i + 1 < len; i += 2) {
    if (i == 10) continue;  // the checksum field itself counts as zero
    sum += uint32_t(hdr[i] << 8 | hdr[i + 1]);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

bool write_ipv4_headers(std::span<const uint8_t> first, uint32_t l3_off, uint32_t ihl,
                        uint32_t total, std::span<uint8_t> out) {
  const uint32_t hdr_end = l3_off + ihl;
  if (ihl < sizeof(Ipv4Header) || hdr_end > first.size() || hdr_end > out.size()) return false;
  std::memcpy(out.data(), first.data(), hdr_end);
  auto* ip = header<Ipv4Header>(out, l3_off);
  ip->total_len.set(uint16_t(ihl + total));
  ip->frag.set(ip->frag.get() & kIpv4FlagDf);
  ip->checksum.set(ipv4_header_checksum(out.data() + l3_off, ihl));
  return true;
}

bool write_ipv6_headers(std::span<const uint8_t> first, uint32_t l3_off, uint32_t unfrag_len,
                        uint32_t total, std::span<uint8_t> out) {
  const uint32_t unfrag_end = l3_off + unfrag_len;
  const uint32_t frag_end = unfrag_end + sizeof(Ipv6FragHeader);
  if (unfrag_len < sizeof(Ipv6Header) || frag_end > first.size() || unfrag_end > out.size())
    return false;
  std::memcpy(out.data(), first.data(), unfrag_end);
  // Walk the chain to the Next Header byte that names the Fragment header.
  uint32_t nh_pos = l3_off + 6;  // Ipv6Header::next
  uint32_t off = l3_off + sizeof(Ipv6Header);
  while (off < unfrag_end) {
    const auto* ext = header<Ipv6ExtHeader>(out.first(unfrag_end), off);
    if (!ext) return false;
    const uint8_t kind = out[nh_pos];
    const uint32_t len = kind == kIp6Auth ? (ext->len + 2u) * 4u : (ext->len + 1u) * 8u;
    nh_pos = off;
    off += len;
  }
  if (off != unfrag_end || out[nh_pos] != kIp6Fragment) return false;
  const auto* fh = header<Ipv6FragHeader>(first, unfrag_end);
  out[nh_pos] = fh->next;
  auto* ip6 = header<Ipv6Header>(out, l3_off);
  ip6->payload_len.set(uint16_t(unfrag_len - sizeof(Ipv6Header) + total));
  return true;
}

}  // namespace tapwall::defrag_detail
