// Checksum completion (see csum_complete.hpp).
// Thread-safety: pure functions.
#include "csum_complete.hpp"

#include "l4_locate.hpp"
#include "tapwall/checksum.hpp"
#include "tapwall/net_types.hpp"

namespace tapwall::port_detail {

namespace {
constexpr uint32_t kTcpCsumAt = 16, kUdpCsumAt = 6, kTcpMinHdr = 20, kUdpHdr = 8;

void store_csum(uint8_t* p, uint16_t c) { store_be16(p, c == 0 ? 0xffff : c); }
}  // namespace

bool complete_partial_csum(std::span<uint8_t> frame, uint32_t csum_start, uint32_t csum_offset) {
  uint32_t end = uint32_t(frame.size());
  L4Loc loc;
  if (locate_l4(frame, loc) && csum_start >= loc.l3_off && csum_start < loc.ip_end) end = loc.ip_end;
  if (csum_start >= end || end - csum_start < csum_offset + 2) return false;
  const uint16_t c = inet_checksum(frame.subspan(csum_start, end - csum_start));
  store_csum(frame.data() + csum_start + csum_offset, c);
  return true;
}

bool recompute_l4_csum(std::span<uint8_t> frame) {
  L4Loc loc;
  if (!locate_l4(frame, loc) || loc.fragment) return false;
  uint32_t at;
  if (loc.proto == kProtoTcp && loc.ip_end - loc.l4_off >= kTcpMinHdr) {
    at = kTcpCsumAt;
  } else if (loc.proto == kProtoUdp && loc.ip_end - loc.l4_off >= kUdpHdr) {
    at = kUdpCsumAt;
  } else {
    return false;
  }
  const uint32_t l4_len = loc.ip_end - loc.l4_off;
  uint8_t* field = frame.data() + loc.l4_off + at;
  store_be16(field, 0);
  const uint16_t c = inet_checksum(frame.subspan(loc.l4_off, l4_len),
                                   pseudo_header_sum(frame, loc, l4_len));
  store_csum(field, c);
  return true;
}

}  // namespace tapwall::port_detail
