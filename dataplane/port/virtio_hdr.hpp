// VirtioNetHdr: the 10-byte struct virtio_net_hdr that PACKET_VNET_HDR sockets and
// IFF_VNET_HDR taps put before every frame, and its conversion to/from OffloadInfo.
// Invariants: packed, 10 bytes; multi-byte fields in the host's byte order, which is what
// AF_PACKET (vio_le() on little-endian hosts) and a tap with default TUNSETVNETLE
// settings use on the little-endian machines tapwall targets.
// Thread-safety: plain data and pure functions.
#pragma once

#include <cstdint>
#include <cstring>

#include "tapwall/port.hpp"

namespace tapwall::port_detail {

#pragma pack(push, 1)
struct VirtioNetHdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};
#pragma pack(pop)
static_assert(sizeof(VirtioNetHdr) == 10);

inline constexpr uint8_t kVirtioGsoEcn = 0x80;

inline OffloadInfo offload_from_vnet(const uint8_t* p) {
  VirtioNetHdr h;
  std::memcpy(&h, p, sizeof h);
  OffloadInfo o;
  o.flags = h.flags & (kOffloadNeedsCsum | kOffloadDataValid);
  o.gso_ecn = h.gso_type & kVirtioGsoEcn;
  const uint8_t t = h.gso_type & ~kVirtioGsoEcn;
  switch (t) {
    case 1: o.gso_type = GsoType::TcpV4; break;
    case 3: o.gso_type = GsoType::Udp; break;
    case 4: o.gso_type = GsoType::TcpV6; break;
    case 5: o.gso_type = GsoType::UdpL4; break;
    default: o.gso_type = GsoType::None; break;
  }
  o.hdr_len = h.hdr_len;
  o.gso_size = h.gso_size;
  o.csum_start = h.csum_start;
  o.csum_offset = h.csum_offset;
  return o;
}

// kOffloadCsumUnknown is not virtio's: it never reaches the kernel.
inline VirtioNetHdr vnet_from_offload(const OffloadInfo* o) {
  VirtioNetHdr h{};
  if (!o) return h;
  h.flags = o->flags & (kOffloadNeedsCsum | kOffloadDataValid);
  h.gso_type = uint8_t(uint8_t(o->gso_type) | (o->gso_ecn && o->is_gso() ? kVirtioGsoEcn : 0));
  h.hdr_len = o->hdr_len;
  h.gso_size = o->is_gso() ? o->gso_size : 0;
  h.csum_start = o->csum_start;
  h.csum_offset = o->csum_offset;
  return h;
}

}  // namespace tapwall::port_detail
