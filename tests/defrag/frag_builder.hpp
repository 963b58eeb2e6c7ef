// Test/bench fixture builder: Ethernet frames carrying IPv4/IPv6 fragments, with the Decoded
// the frame decoder would produce, computed here from the bytes built (the defrag tests must
// not depend on the decoder, which is written and tested separately).
// Invariants: every Decoded field the defragmenter reads (l3, l3_off, ip_end, src/dst,
// ip_proto, vlan ids, is_fragment, more_fragments, frag_offset, frag_id, frag_hdr_off,
// frag_unfrag_len) matches the bytes; IPv4 header checksums are correct.
// Thread-safety: pure functions. Header-only so bench/ can share it.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "tapwall/decoded.hpp"
#include "tapwall/net_types.hpp"

namespace tapwall::test {

struct Built {
  std::vector<uint8_t> bytes;
  Decoded d;
  std::span<const uint8_t> span() const { return bytes; }
};

struct L2Spec {
  std::array<uint8_t, 6> dst{0x02, 0, 0, 0, 0, 0x02};
  std::array<uint8_t, 6> src{0x02, 0, 0, 0, 0, 0x01};
  std::vector<uint16_t> vlans;  // outer first, at most 2
};

struct Ipv4Spec {
  L2Spec l2;
  uint32_t src = 0x0a000001, dst = 0x0a000002;
  uint8_t proto = kProtoUdp;
  uint16_t id = 0x1234;
  uint8_t ttl = 64;
  bool df = false;
  std::vector<uint8_t> options;  // length a multiple of 4, at most 40
};

struct Ipv6Spec {
  L2Spec l2;
  std::array<uint8_t, 16> src{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  std::array<uint8_t, 16> dst{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  uint8_t upper = kProtoUdp;
  uint32_t id = 0xcafe0001;
  uint8_t hop_limit = 64;
  std::vector<uint8_t> ext_types;  // 8-byte option headers (0 HBH, 60 DestOpts) before Frag
};

inline uint16_t ones_sum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}

// Checksum over `n` bytes (the field itself included as it stands).
inline uint16_t inet_checksum(const uint8_t* p, std::size_t n) {
  uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += uint32_t(p[n - 1] << 8);
  return uint16_t(~ones_sum_fold(sum));
}

inline void put16(std::vector<uint8_t>& f, uint16_t v) {
  f.push_back(uint8_t(v >> 8));
  f.push_back(uint8_t(v));
}
inline void put32(std::vector<uint8_t>& f, uint32_t v) {
  put16(f, uint16_t(v >> 16));
  put16(f, uint16_t(v));
}

inline void write_l2(std::vector<uint8_t>& f, const L2Spec& l2, uint16_t ethertype, Decoded& d) {
  f.insert(f.end(), l2.dst.begin(), l2.dst.end());
  f.insert(f.end(), l2.src.begin(), l2.src.end());
  d.dst_mac = MacAddr::from_bytes(l2.dst.data());
  d.src_mac = MacAddr::from_bytes(l2.src.data());
  d.vlan_count = uint8_t(l2.vlans.size());
  for (std::size_t i = 0; i < l2.vlans.size(); ++i) {
    put16(f, i == 0 && l2.vlans.size() == 2 ? kEthTypeQinQ : kEthTypeVlan);
    put16(f, l2.vlans[i]);
    d.vlan_ids[i] = l2.vlans[i];
    d.vlan = l2.vlans[i];
  }
  put16(f, ethertype);
  d.ethertype = ethertype;
  d.l3_off = uint16_t(f.size());
}

// An IPv4 packet; a fragment when mf or frag_offset (bytes, multiple of 8) is set.
// pad_to: Ethernet padding appended after the datagram up to that frame size.
inline Built ipv4_packet(const Ipv4Spec& s, uint16_t frag_offset, bool mf,
                         std::span<const uint8_t> payload, std::size_t pad_to = 0) {
  Built b;
  auto& f = b.bytes;
  Decoded& d = b.d;
  write_l2(f, s.l2, kEthTypeIpv4, d);
  const std::size_t l3 = f.size();
  const auto ihl = uint8_t(20 + s.options.size());
  f.push_back(uint8_t(0x40 | ihl / 4));
  f.push_back(0);
  put16(f, uint16_t(ihl + payload.size()));
  put16(f, s.id);
  put16(f, uint16_t((s.df ? 0x4000 : 0) | (mf ? 0x2000 : 0) | frag_offset / 8));
  f.push_back(s.ttl);
  f.push_back(s.proto);
  put16(f, 0);
  put32(f, s.src);
  put32(f, s.dst);
  f.insert(f.end(), s.options.begin(), s.options.end());
  const uint16_t c = inet_checksum(f.data() + l3, ihl);
  f[l3 + 10] = uint8_t(c >> 8);
  f[l3 + 11] = uint8_t(c);
  f.insert(f.end(), payload.begin(), payload.end());
  d.l3 = L3Kind::Ipv4;
  d.src_ip = IpAddr::from_v4_host(s.src);
  d.dst_ip = IpAddr::from_v4_host(s.dst);
  d.ip_proto = s.proto;
  d.ttl = s.ttl;
  d.ip_end = uint16_t(f.size());
  d.l4_off = uint16_t(l3 + ihl);
  d.ipv4_has_options = !s.options.empty();
  d.is_fragment = mf || frag_offset != 0;
  d.more_fragments = mf;
  d.frag_offset = frag_offset;
  d.frag_id = s.id;
  if (f.size() < pad_to) f.resize(pad_to, 0);
  return b;
}

inline void write_ipv6_ext(std::vector<uint8_t>& f, uint8_t next) {
  const uint8_t h[8] = {next, 0, 1, 4, 0, 0, 0, 0};  // one PadN option filling 6 bytes
  f.insert(f.end(), h, h + 8);
}

inline std::size_t write_ipv6_fixed(std::vector<uint8_t>& f, const Ipv6Spec& s, uint8_t next,
                                    uint16_t payload_len, Decoded& d) {
  write_l2(f, s.l2, kEthTypeIpv6, d);
  const std::size_t l3 = f.size();
  put32(f, 0x60000000u);
  put16(f, payload_len);
  f.push_back(next);
  f.push_back(s.hop_limit);
  f.insert(f.end(), s.src.begin(), s.src.end());
  f.insert(f.end(), s.dst.begin(), s.dst.end());
  d.l3 = L3Kind::Ipv6;
  d.src_ip = IpAddr::from_v6(s.src.data());
  d.dst_ip = IpAddr::from_v6(s.dst.data());
  d.ip_proto = s.upper;
  d.ttl = s.hop_limit;
  return l3;
}

// An IPv6 fragment: IPv6 header, s.ext_types, Fragment header, payload.
inline Built ipv6_fragment(const Ipv6Spec& s, uint16_t frag_offset, bool mf,
                           std::span<const uint8_t> payload, std::size_t pad_to = 0) {
  Built b;
  auto& f = b.bytes;
  const std::size_t ext_len = s.ext_types.size() * 8;
  const uint8_t first = s.ext_types.empty() ? uint8_t(44) : s.ext_types[0];
  const std::size_t l3 = write_ipv6_fixed(f, s, first, uint16_t(ext_len + 8 + payload.size()), b.d);
  for (std::size_t i = 0; i < s.ext_types.size(); ++i)
    write_ipv6_ext(f, i + 1 < s.ext_types.size() ? s.ext_types[i + 1] : uint8_t(44));
  const std::size_t fh = f.size();
  f.push_back(s.upper);
  f.push_back(0);
  put16(f, uint16_t(frag_offset | (mf ? 1 : 0)));
  put32(f, s.id);
  f.insert(f.end(), payload.begin(), payload.end());
  Decoded& d = b.d;
  d.ip_end = uint16_t(f.size());
  d.l4_off = uint16_t(fh + 8);
  d.is_fragment = mf || frag_offset != 0;
  d.more_fragments = mf;
  d.frag_offset = frag_offset;
  d.frag_id = s.id;
  d.frag_hdr_off = uint16_t(fh);
  d.frag_unfrag_len = uint16_t(fh - l3);
  if (f.size() < pad_to) f.resize(pad_to, 0);
  return b;
}

// The unfragmented IPv6 packet the fragments above reassemble to.
inline Built ipv6_packet(const Ipv6Spec& s, std::span<const uint8_t> payload) {
  Built b;
  auto& f = b.bytes;
  const std::size_t ext_len = s.ext_types.size() * 8;
  const uint8_t first = s.ext_types.empty() ? s.upper : s.ext_types[0];
  write_ipv6_fixed(f, s, first, uint16_t(ext_len + payload.size()), b.d);
  for (std::size_t i = 0; i < s.ext_types.size(); ++i)
    write_ipv6_ext(f, i + 1 < s.ext_types.size() ? s.ext_types[i + 1] : s.upper);
  b.d.l4_off = uint16_t(f.size());
  f.insert(f.end(), payload.begin(), payload.end());
  b.d.ip_end = uint16_t(f.size());
  return b;
}

// A UDP datagram: header (ports, length, a fixed checksum value) and a byte pattern.
inline std::vector<uint8_t> udp_datagram(uint16_t sport, uint16_t dport, std::size_t data_len,
                                         uint8_t seed = 3) {
  std::vector<uint8_t> u;
  put16(u, sport);
  put16(u, dport);
  put16(u, uint16_t(8 + data_len));
  put16(u, 0xbeef);
  for (std::size_t i = 0; i < data_len; ++i) u.push_back(uint8_t(i * 7 + seed));
  return u;
}

// Splits `payload` into fragments of the given payload sizes (all but the last a multiple
// of 8). Non-first IPv4 fragments carry no options unless copy_options.
inline std::vector<Built> fragment_v4(const Ipv4Spec& s, std::span<const uint8_t> payload,
                                      const std::vector<std::size_t>& sizes,
                                      bool copy_options = false) {
  std::vector<Built> out;
  std::size_t off = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    Ipv4Spec si = s;
    if (i > 0 && !copy_options) si.options.clear();
    const bool last = i + 1 == sizes.size();
    out.push_back(ipv4_packet(si, uint16_t(off), !last, payload.subspan(off, sizes[i])));
    off += sizes[i];
  }
  return out;
}

inline std::vector<Built> fragment_v6(const Ipv6Spec& s, std::span<const uint8_t> payload,
                                      const std::vector<std::size_t>& sizes) {
  std::vector<Built> out;
  std::size_t off = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const bool last = i + 1 == sizes.size();
    out.push_back(ipv6_fragment(s, uint16_t(off), !last, payload.subspan(off, sizes[i])));
    off += sizes[i];
  }
  return out;
}

}  // namespace tapwall::test
