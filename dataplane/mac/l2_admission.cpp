// l2_admission: the kernel bridge's address checks, applied before learning or forwarding.
// Invariants: pure function of the two addresses; checks run in the kernel's order (source
// first: br_handle_frame rejects a bad source before it looks at the destination).
// Thread-safety: pure, reentrant.
#include "tapwall/mac_table.hpp"

namespace tapwall {

namespace {
// 01:80:C2:00:00:00 .. 0F: IEEE 802.1D reserved group addresses, which a bridge must not
// relay. The block is the 48-bit value with its low 4 bits masked.
constexpr uint64_t kLinkLocalBlock = 0x0180c2000000ull;
}  // namespace

DropReason l2_admission(const MacAddr& src, const MacAddr& dst) {
  if (src.is_multicast()) return DropReason::SrcMacMulticast;
  if (src.is_zero()) return DropReason::SrcMacZero;
  const uint64_t d = dst.as_u64();
  // :00 is the STP group; with STP off the kernel floods BPDUs like any multicast.
  if ((d & ~uint64_t{0xf}) == kLinkLocalBlock && d != kLinkLocalBlock)
    return DropReason::LinkLocalGroup;
  return DropReason::None;
}

}  // namespace tapwall
