// Generic tracker: any IP protocol without its own tracker (nf_conntrack_proto_generic).
// Purpose: one entry per (source, destination, protocol), NEW until a reply is seen, then
// ESTABLISHED; refreshed to the generic timeout (600 s) by every packet.
// Thread-safety: pure functions over the entry passed in.
#pragma once

#include <cstdint>

#include "ct_entry.hpp"
#include "tapwall/conntrack.hpp"

namespace tapwall::ct {

inline void generic_packet(CtEntry& e, const CtTimeouts& to, uint64_t now_ns) {
  e.expires_ns = now_ns + uint64_t{to.generic} * kNsPerSec;
}

}  // namespace tapwall::ct
