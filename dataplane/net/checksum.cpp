// Internet checksum: RFC 1071 sums, IPv4 header check, L4 pseudo-header checksums.
// Invariants: long spans add 8 bytes at a time into a 64-bit accumulator with end-around
// carry, short ones 32-bit words without carries (they cannot overflow 64 bits); no word
// order or alignment assumption is made beyond host endianness, corrected once at the end.
// Thread-safety: pure functions.
#include "tapwall/checksum.hpp"

#include <bit>
#include <cstring>

#include "tapwall/wire.hpp"

namespace tapwall {

using namespace checksum_detail;

namespace {

inline uint64_t add_carry(uint64_t a, uint64_t b) {
  uint64_t s = a + b;
  return s + (s < b);
}

}  // namespace

uint64_t checksum_detail::native_acc(const uint8_t* p, std::size_t n, uint64_t acc) {
  if (n < 64) return word_acc(p, n, acc);
  uint64_t a0 = acc, a1 = 0;  // two chains so the carries of one don't stall the other
  while (n >= 32) {
    uint64_t w[4];
    std::memcpy(w, p, 32);
    a0 = add_carry(a0, w[0]);
    a1 = add_carry(a1, w[1]);
    a0 = add_carry(a0, w[2]);
    a1 = add_carry(a1, w[3]);
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    a0 = add_carry(a0, w);
    p += 8;
    n -= 8;
  }
  return add_carry(add_carry(a0, a1), tail_acc(p, n));
}

namespace {

uint16_t native_sum(const uint8_t* p, std::size_t n) { return fold64(native_acc(p, n, 0)); }

// Where the checksum field sits in the L4 header, or -1 if this function doesn't handle
// the protocol; also whether the protocol uses a pseudo-header.
struct L4Kind {
  int csum_at = -1;
  bool pseudo = true;
};

L4Kind l4_kind(const Decoded& d) {
  if (d.is_fragment || !d.l4_ok) return {};
  const bool v6 = d.l3 == L3Kind::Ipv6;
  if (d.l3 != L3Kind::Ipv4 && !v6) return {};
  switch (d.ip_proto) {
    case kProtoTcp:
      return {16, true};
    case kProtoUdp:
      return {6, true};
    case kProtoIcmp:
      return v6 ? L4Kind{} : L4Kind{2, false};
    case kProtoIcmpv6:
      return v6 ? L4Kind{2, true} : L4Kind{};
    default:
      return {};
  }
}

uint32_t pseudo_header_sum(const Decoded& d, uint32_t l4_len) {
  uint32_t s = 0;
  if (d.l3 == L3Kind::Ipv4) {
    for (int i = 12; i < 16; i += 2) {
      s += load_be16(&d.src_ip.b[i]);
      s += load_be16(&d.dst_ip.b[i]);
    }
  } else {
    for (int i = 0; i < 16; i += 2) {
      s += load_be16(&d.src_ip.b[i]);
      s += load_be16(&d.dst_ip.b[i]);
    }
  }
  // IPv4's 16-bit length and IPv6's 32-bit length sum the same way.
  return s + (l4_len >> 16) + (l4_len & 0xffff) + d.ip_proto;
}

bool l4_span_ok(const Decoded& d, std::size_t frame_size, const L4Kind& k) {
  return k.csum_at >= 0 && d.ip_end <= frame_size && d.l4_off < d.ip_end &&
         std::size_t(d.ip_end - d.l4_off) >= std::size_t(k.csum_at) + 2;
}

}  // namespace

uint16_t inet_sum(std::span<const uint8_t> data, uint32_t initial) {
  uint64_t s = uint64_t{to_be_order(native_sum(data.data(), data.size()))} + initial;
  return fold64(s);
}

uint16_t inet_checksum(std::span<const uint8_t> data, uint32_t initial) {
  return static_cast<uint16_t>(~inet_sum(data, initial));
}

bool checksum_detail::l4_checksum_ok_other(const Decoded& d, std::span<const uint8_t> frame) {
  const L4Kind k = l4_kind(d);
  if (k.csum_at < 0) return true;
  if (!l4_span_ok(d, frame.size(), k)) return false;
  const auto l4 = frame.subspan(d.l4_off, d.ip_end - d.l4_off);
  if (d.ip_proto == kProtoUdp && load_be16(&l4[6]) == 0) return d.l3 == L3Kind::Ipv4;
  const uint32_t initial = k.pseudo ? pseudo_header_sum(d, uint32_t(l4.size())) : 0;
  return inet_checksum(l4, initial) == 0;
}

bool fill_l4_checksum(const Decoded& d, std::span<uint8_t> frame) {
  const L4Kind k = l4_kind(d);
  if (!l4_span_ok(d, frame.size(), k)) return false;
  const auto l4 = frame.subspan(d.l4_off, d.ip_end - d.l4_off);
  store_be16(&l4[k.csum_at], 0);
  const uint32_t initial = k.pseudo ? pseudo_header_sum(d, uint32_t(l4.size())) : 0;
  uint16_t c = inet_checksum(l4, initial);
  if (d.ip_proto == kProtoUdp && c == 0) c = 0xffff;
  store_be16(&l4[k.csum_at], c);
  return true;
}

}  // namespace tapwall
