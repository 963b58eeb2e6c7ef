// CtTuple: the key of one direction of a tracked flow, and the rules to invert it.
// Purpose: the table stores each entry under two tuples (original and reply) so one lookup
// with the packet's own tuple finds the entry and tells the direction.
// Invariants: addresses are IPv4-mapped for IPv4 (one type for both families); ports are
// TCP/UDP ports, or for ICMP/ICMPv6 queries sport = identifier and dport = type<<8 | code
// (the kernel keys ICMP by id, type and code; the reply tuple carries the reply type);
// other protocols use ports 0/0 (the kernel's generic tracker keys by addresses+protocol).
// Thread-safety: value types and pure functions.
#pragma once

#include <cstdint>
#include <cstring>

#include "tapwall/flow_key.hpp"
#include "tapwall/net_types.hpp"

namespace tapwall::ct {

using CtTuple = FlowKey;  // public, so the engine's express path can build one

// The query/reply pairs of ICMP (RFC 792: echo, timestamp, information, address mask) and
// ICMPv6 (echo, node information). Returns the paired type, or -1 when the type is not a
// query or reply: such a packet cannot be tracked as a flow.
constexpr int icmp_inverse_type(uint8_t proto, uint8_t type) {
  if (proto == kProtoIcmp) {
    switch (type) {
      case 8: return 0;
      case 0: return 8;
      case 13: return 14;
      case 14: return 13;
      case 15: return 16;
      case 16: return 15;
      case 17: return 18;
      case 18: return 17;
      default: return -1;
    }
  }
  switch (type) {  // ICMPv6
    case 128: return 129;
    case 129: return 128;
    case 139: return 140;
    case 140: return 139;
    default: return -1;
  }
}

constexpr bool is_icmp_proto(uint8_t proto) { return proto == kProtoIcmp || proto == kProtoIcmpv6; }

// Ports of the reply-direction tuple of an entry whose original tuple has these ports.
inline void reply_ports(uint8_t proto, uint16_t sport, uint16_t dport, uint16_t& rs,
                        uint16_t& rd) {
  if (is_icmp_proto(proto)) {
    // The stored original type is always invertible (only queries create entries).
    const int inv = icmp_inverse_type(proto, uint8_t(dport >> 8));
    rs = sport;
    rd = uint16_t((uint16_t(inv < 0 ? 0 : inv) << 8) | (dport & 0xff));
    return;
  }
  rs = dport;
  rd = sport;
}

inline CtTuple invert(const CtTuple& t) {
  CtTuple r;
  r.src = t.dst;
  r.dst = t.src;
  r.proto = t.proto;
  reply_ports(t.proto, t.sport, t.dport, r.sport, r.dport);
  return r;
}

// Keyed hash of a tuple. A per-table random seed keeps an attacker who controls addresses
// and ports from aiming many flows at one bucket.
inline uint64_t ct_mix(uint64_t a, uint64_t b) {
  const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(p) ^ static_cast<uint64_t>(p >> 64);
}

inline uint64_t ct_hash(const CtTuple& t, uint64_t seed) {
  uint64_t w[4];
  std::memcpy(&w[0], t.src.b.data(), 8);
  std::memcpy(&w[1], t.src.b.data() + 8, 8);
  std::memcpy(&w[2], t.dst.b.data(), 8);
  std::memcpy(&w[3], t.dst.b.data() + 8, 8);
  const uint64_t ports = (uint64_t{t.sport} << 32) | (uint64_t{t.dport} << 16) | t.proto;
  const uint64_t a = ct_mix(w[0] ^ seed, w[1] ^ 0x9e3779b97f4a7c15ull);
  const uint64_t b = ct_mix(w[2] ^ 0xbf58476d1ce4e5b9ull, w[3] ^ seed);
  return ct_mix(a ^ ports ^ 0x94d049bb133111ebull, b ^ (seed >> 17) ^ 0x2545f4914f6cdd1dull);
}

}  // namespace tapwall::ct
