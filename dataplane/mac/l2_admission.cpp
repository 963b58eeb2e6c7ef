// l2_admission: the kernel bridge's address checks, applied before learning or forwarding.
// Invariants: pure function of the two addresses; checks run in the kernel's order (source
// first: br_handle_frame rejects a bad source before it looks at the destination).
// Thread-safety: pure, reentrant.
#include "tapwall/mac_table.hpp"

namespace tapwall {

namespace {
// 01:80:C2:00:00:00 .. 0F: IEEE 802.1D reserved group addresses, which a bridge must not
// relay. Only the first 5 bytes identify the block; the last byte's high nibble must be 0.
constexpr uint8_t kLinkLocalPrefix[5] = {0x01, 0x80, 0xc2, 0x00, 0x00};
}  // namespace

DropReason l2_admission(const MacAddr& src, const MacAddr& dst) {
  if (src.is_multicast()) return DropReason::SrcMacMulticast;
  if (src.is_zero()) return DropReason::SrcMacZero;
  bool link_local = (dst.b[5] & 0xf0) == 0;
  for (int i = 0; i < 5 && link_local; ++i) link_local = dst.b[i] == kLinkLocalPrefix[i];
  // :00 is the STP group; with STP off the kernel floods BPDUs like any multicast.
  if (link_local && dst.b[5] != 0x00) return DropReason::LinkLocalGroup;
  return DropReason::None;
}

}  // namespace tapwall
