// UDP tracker implementation (see udp_tracker.hpp).
// Thread-safety: pure functions over the entry passed in.
#include "udp_tracker.hpp"

#include "tapwall/checksum.hpp"

namespace tapwall::ct {

namespace {
constexpr uint64_t kStreamAfterNs = 2 * kNsPerSec;
}

bool udp_valid(const Decoded& d, std::span<const uint8_t> frame, bool verify_checksum) {
  if (d.ip_end > frame.size() || d.ip_end < d.l4_off || d.ip_end - d.l4_off < 8) return false;
  const uint8_t* h = frame.data() + d.l4_off;
  const uint32_t udplen = uint32_t(d.ip_end - d.l4_off);
  const uint16_t len = load_be16(h + 4);
  if (len > udplen || len < 8) return false;
  // Checksum 0 means "none" to the kernel's tracker in both families.
  if (load_be16(h + 6) == 0) return true;
  return !verify_checksum || l4_checksum_ok(d, frame);
}

void udp_new(CtEntry& e, uint64_t now_ns) { e.l4.udp.stream_ns = now_ns + kStreamAfterNs; }

void udp_packet(CtEntry& e, const CtTimeouts& to, uint64_t now_ns) {
  uint64_t timeout_s = to.udp;
  if (e.status & kStSeenReply) {
    // Still active after two seconds with traffic both ways: a stream, worth keeping.
    if (now_ns > e.l4.udp.stream_ns) {
      timeout_s = to.udp_stream;
      e.status |= kStAssured;
    }
  }
  e.expires_ns = now_ns + timeout_s * kNsPerSec;
}

}  // namespace tapwall::ct
