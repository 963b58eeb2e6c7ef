// libFuzzer target for decode_frame() and the checksum helpers on arbitrary bytes.
// Built and run by tools/fuzz.sh (CMake option TAPWALL_FUZZ, clang): `tools/fuzz.sh 60
// decode_fuzz`.
// Besides ASan/UBSan catching any out-of-bounds read, it aborts when a successful decode
// breaks an invariant decoded.hpp promises (offsets inside the frame and ordered).
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "tapwall/checksum.hpp"
#include "tapwall/decoded.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapwall;
  // An exact-size heap copy, so a read one past the end is caught.
  std::vector<uint8_t> frame(data, data + size);
  Decoded d;
  if (decode_frame(frame, d) != DropReason::None) return 0;
  check(d.vlan_count <= 2);
  check(d.l3_off == 14u + 4u * d.vlan_count && d.l3_off <= size);
  if (d.l3 == L3Kind::Ipv4 || d.l3 == L3Kind::Ipv6) {
    check(d.l3_off < d.l4_off && d.l4_off <= d.ip_end && d.ip_end <= size);
    if (d.frag_hdr_off) check(d.frag_hdr_off + 8u <= d.ip_end);
    if (d.l3 == L3Kind::Ipv4) {
      check(!ipv4_header_checksum_ok(std::span(frame).subspan(d.l3_off)) ||
            ipv4_header_checksum_ok(std::span(frame).subspan(d.l3_off, d.l4_off - d.l3_off)));
    }
  } else {
    check(!d.l4_ok);
  }
  if (d.l4_ok) {
    check(d.l4_off < d.l4_payload_off && d.l4_payload_off <= d.ip_end);
    check(d.frag_offset == 0);
    // Filling then verifying must agree, whatever the bytes were.
    if (fill_l4_checksum(d, frame)) check(l4_checksum_ok(d, frame));
  }
  return 0;
}
