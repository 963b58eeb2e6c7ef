// UDP tracker: nf_conntrack_proto_udp semantics (Linux 6.x).
// Purpose: length/checksum validity (udp_error) and the timeout policy: 30 s until a reply
// is seen; afterwards 120 s and ASSURED once the flow has lived more than 2 s (a "stream"),
// else still 30 s.
// Invariants: the caller sets the seen-reply bit after a reply-direction packet, so the
// first reply itself is still judged with the unreplied timeout (as the kernel does).
// Thread-safety: pure functions over the entry passed in.
#pragma once

#include <cstdint>
#include <span>

#include "ct_entry.hpp"
#include "tapwall/conntrack.hpp"
#include "tapwall/decoded.hpp"

namespace tapwall::ct {

// udp_error(): header inside the datagram, length field sane, checksum (if not 0 = none).
bool udp_valid(const Decoded& d, std::span<const uint8_t> frame, bool verify_checksum);
void udp_new(CtEntry& e, uint64_t now_ns);
void udp_packet(CtEntry& e, const CtTimeouts& to, uint64_t now_ns);

}  // namespace tapwall::ct
