// CtTuple: the key of one direction of a tracked flow, the rules to invert it, and its hash.
// Purpose: a packet's own tuple finds its entry whichever direction it travels: the hash is
// the same for a tuple and its inverse, and comparing with the entry tells the direction.
// Invariants: addresses are IPv4-mapped for IPv4 (one type for both families); ports are
// TCP/UDP ports, or for ICMP/ICMPv6 queries sport = identifier and dport = type<<8 | code
// (the kernel keys ICMP by id, type and code; the reply tuple carries the reply type);
// other protocols use ports 0/0 (the kernel's generic tracker keys by addresses+protocol).
// ct_hash(t) == ct_hash(invert(t)) for every tuple of a trackable packet.
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

// The tuple hash is keyed (a table's random seed), so an attacker who controls addresses
// and ports cannot aim many flows at one bucket, and symmetric: a tuple and its inverse
// hash the same, so the table indexes an entry once, under either direction's tuple.
inline uint64_t ct_mix(uint64_t a, uint64_t b) {
  const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(p) ^ static_cast<uint64_t>(p >> 64);
}

// The secret keys, derived from the seed (splitmix64 steps; the multipliers are odd).
struct CtHashKey {
  uint64_t addr0, addr1, port, ext, fin;
  explicit CtHashKey(uint64_t seed) {
    auto next = [&seed] {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      return z ^ (z >> 31);
    };
    addr0 = next();
    addr1 = next();
    port = next() | 1;
    ext = next() | 1;
    fin = next();
  }
};

// One end of a flow, (address, port), under the key.
inline uint64_t ct_end_hash(const IpAddr& a, uint16_t port, const CtHashKey& k) {
  uint64_t w0, w1;
  std::memcpy(&w0, a.b.data(), 8);
  std::memcpy(&w1, a.b.data() + 8, 8);
  return ct_mix(w0 ^ k.addr0, w1 ^ k.addr1) ^ (uint64_t{port} * k.port);
}

// Why the ends are combined by sum and xor: both are symmetric, so the inverse tuple (ends
// swapped) gives the same hash without ordering the ends first (an unpredictable branch
// per packet). `ext`: what else the tuple is keyed by.
inline uint64_t ct_hash_ends(const IpAddr& src, uint16_t ps, const IpAddr& dst, uint16_t pd,
                             uint64_t ext, const CtHashKey& k) {
  const uint64_t a = ct_end_hash(src, ps, k), b = ct_end_hash(dst, pd, k);
  return ct_mix((a + b) ^ (ext * k.ext), (a ^ b) ^ k.fin);
}

// ct_hash() of a tuple known not to be ICMP (the engine's express path: TCP and UDP).
inline uint64_t ct_hash_not_icmp(const CtTuple& t, const CtHashKey& k) {
  return ct_hash_ends(t.src, t.sport, t.dst, t.dport, t.proto, k);
}

// ICMP's ports are not ends: the identifier is the same both ways and the type becomes its
// inverse, so they join the hash as the query/reply pair's lower type.
inline uint64_t ct_hash(const CtTuple& t, const CtHashKey& k) {
  if (!is_icmp_proto(t.proto)) [[likely]] return ct_hash_not_icmp(t, k);
  const uint8_t type = uint8_t(t.dport >> 8);
  const int inv = icmp_inverse_type(t.proto, type);
  const uint8_t low = inv >= 0 && uint8_t(inv) < type ? uint8_t(inv) : type;
  const uint64_t ext = t.proto | uint64_t{t.sport} << 8 | uint64_t{low} << 24 |
                       uint64_t{uint8_t(t.dport)} << 32;
  return ct_hash_ends(t.src, 0, t.dst, 0, ext, k);
}

}  // namespace tapwall::ct
