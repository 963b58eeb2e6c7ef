// ICMP / ICMPv6 tracker: nf_conntrack_proto_icmp{,v6} semantics (Linux 6.x).
// Purpose: classify a message as an error (judged RELATED through the flow it quotes), a
// query/reply (tracked by id/type/code: only requests create entries), untracked (ICMPv6
// neighbour discovery and multicast listener messages) or invalid; build the tuples.
// Invariants: IPv4 types > 18 are invalid; IPv4 errors are 3, 4, 5, 11, 12; every ICMPv6
// type < 128 is handled as an error (as the kernel does).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>

#include "ct_entry.hpp"
#include "ct_tuple.hpp"
#include "tapwall/conntrack.hpp"
#include "tapwall/decoded.hpp"

namespace tapwall::ct {

enum class IcmpKind : uint8_t { Error, Query, Untracked, Invalid };

// d is an ICMP message over IPv4 or ICMPv6 over IPv6 with l4_ok (checksum checked already).
IcmpKind icmp_classify(const Decoded& d);

// Only requests (echo, timestamp, information, address mask; ICMPv6 echo and node
// information query) may create an entry.
bool icmp_can_create(uint8_t proto, uint8_t type);

// The tuple of a query/reply message; false if its type has no pair.
bool icmp_tuple(const Decoded& d, std::span<const uint8_t> frame, CtTuple& out);

// The tuple of the packet an error quotes, as it travelled (its sender's direction);
// false when nothing trackable is quoted.
bool quoted_tuple(const Decoded& d, CtTuple& out);

inline void icmp_packet(CtEntry& e, uint32_t timeout_s, uint64_t now_ns) {
  e.expires_ns = now_ns + uint64_t{timeout_s} * kNsPerSec;
}

}  // namespace tapwall::ct
