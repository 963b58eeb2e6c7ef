// Owner steering; see include/tapwall/owner_steering.hpp.
// Why decode_frame() rather than a lighter parser: the owner must agree with what the
// engine's conntrack and defragmenter will key on (VLAN tags, IPv6 extension chains, the
// quoted header of an error), and the one decoder is the definition of that.
#include "tapwall/owner_steering.hpp"

#include <cstring>

#include "tapwall/mac_table.hpp"

namespace tapwall {

namespace {

uint64_t mix64(uint64_t x) {  // splitmix64's finalizer: every input bit reaches every output bit
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

uint64_t addr_hash(const IpAddr& a) {
  uint64_t hi, lo;
  std::memcpy(&hi, a.b.data(), 8);
  std::memcpy(&lo, a.b.data() + 8, 8);
  return mix64(lo ^ mix64(hi ^ 0x9e3779b97f4a7c15ull));
}

}  // namespace

uint64_t pair_hash(const IpAddr& a, const IpAddr& b) {
  // A sum is commutative, so the pair is unordered; the final mix spreads it over n.
  return mix64(addr_hash(a) + addr_hash(b));
}

SteerKey steer_key(std::span<const uint8_t> frame, Decoded& d) {
  SteerKey k;
  const DropReason why = decode_frame(frame, d);
  // A frame with a bad L4 header still has valid L2/L3 fields (decoded.hpp): it belongs to
  // its address pair like the rest of the flow. Anything worse stays with the receiver.
  if (why != DropReason::None && !is_l4_decode_reason(why)) return k;
  // The engine learns the source of every frame that decodes and passes L2 admission.
  k.learnable = why == DropReason::None && l2_admission(d.src_mac, d.dst_mac) == DropReason::None;
  k.src_mac = d.src_mac;
  if (d.l3 != L3Kind::Ipv4 && d.l3 != L3Kind::Ipv6) return k;
  k.has_owner = true;
  // A fragment keeps its datagram's outer pair even when it is an ICMP error: all fragments
  // of one datagram must meet in one defragmenter.
  if (d.quoted.present && !d.is_fragment)
    k.hash = pair_hash(d.quoted.src, d.quoted.dst);
  else
    k.hash = pair_hash(d.src_ip, d.dst_ip);
  return k;
}

}  // namespace tapwall
