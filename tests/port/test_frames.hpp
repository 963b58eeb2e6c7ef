// Test helpers: crafting Ethernet/IPv4/IPv6/TCP/UDP frames and checking them with an
// independent, deliberately naive Internet checksum (a word-at-a-time loop, sharing no
// code with the implementation under test).
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace tapwall::test {

inline uint16_t naive_csum(const uint8_t* p, std::size_t n, uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += uint32_t(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

inline uint16_t rd16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t rd32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline void wr16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
inline void wr32(uint8_t* p, uint32_t v) {
  wr16(p, uint16_t(v >> 16));
  wr16(p + 2, uint16_t(v));
}

struct FrameSpec {
  bool v6 = false;
  bool udp = false;
  int vlan = -1;  // VID, or -1 untagged
  uint8_t src_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
  uint8_t dst_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
  uint16_t ip_id = 0x1234;
  uint32_t seq = 1000;
  uint8_t tcp_flags = 0x10;
  int tcp_opt_words = 3;  // 12 bytes of NOP options
  uint16_t sport = 40000, dport = 5001;
  std::size_t payload = 100;
  uint8_t fill_seed = 7;
};

struct Built {
  std::vector<uint8_t> bytes;
  std::size_t l3 = 0, l4 = 0, payload_off = 0;
};

// Pseudo-header sum (unfolded, not complemented) for an L4 length.
inline uint32_t pseudo_sum(const std::vector<uint8_t>& f, std::size_t l3, bool v6, uint8_t proto,
                           uint32_t l4_len) {
  uint32_t s = 0;
  if (!v6) {
    for (std::size_t i = 12; i < 20; i += 2) s += rd16(&f[l3 + i]);
  } else {
    for (std::size_t i = 8; i < 40; i += 2) s += rd16(&f[l3 + i]);
  }
  return s + (l4_len >> 16) + (l4_len & 0xffff) + proto;
}

// A well-formed frame with correct checksums (IPv4 header and L4).
inline Built build_frame(const FrameSpec& s) {
  Built b;
  auto& f = b.bytes;
  f.insert(f.end(), s.dst_mac, s.dst_mac + 6);
  f.insert(f.end(), s.src_mac, s.src_mac + 6);
  if (s.vlan >= 0) {
    f.push_back(0x81);
    f.push_back(0x00);
    f.push_back(uint8_t((s.vlan >> 8) & 0x0f));
    f.push_back(uint8_t(s.vlan));
  }
  f.push_back(s.v6 ? 0x86 : 0x08);
  f.push_back(s.v6 ? 0xdd : 0x00);
  b.l3 = f.size();
  const std::size_t l4_hdr = s.udp ? 8 : 20 + 4 * std::size_t(s.tcp_opt_words);
  const std::size_t l4_len = l4_hdr + s.payload;
  const uint8_t proto = s.udp ? 17 : 6;
  if (!s.v6) {
    f.resize(f.size() + 20);
    uint8_t* ip = &f[b.l3];
    ip[0] = 0x45;
    wr16(ip + 2, uint16_t(20 + l4_len));
    wr16(ip + 4, s.ip_id);
    wr16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = proto;
    const uint8_t src[4] = {192, 0, 2, 1}, dst[4] = {192, 0, 2, 2};
    std::memcpy(ip + 12, src, 4);
    std::memcpy(ip + 16, dst, 4);
    wr16(ip + 10, naive_csum(ip, 20));
  } else {
    f.resize(f.size() + 40);
    uint8_t* ip = &f[b.l3];
    ip[0] = 0x60;
    wr16(ip + 4, uint16_t(l4_len));
    ip[6] = proto;
    ip[7] = 64;
    const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    uint8_t dst[16];
    std::memcpy(dst, src, 16);
    dst[15] = 2;
    std::memcpy(ip + 8, src, 16);
    std::memcpy(ip + 24, dst, 16);
  }
  b.l4 = f.size();
  f.resize(f.size() + l4_hdr);
  uint8_t* l4 = &f[b.l4];
  wr16(l4, s.sport);
  wr16(l4 + 2, s.dport);
  if (s.udp) {
    wr16(l4 + 4, uint16_t(l4_len));
  } else {
    wr32(l4 + 4, s.seq);
    wr32(l4 + 8, 77);
    l4[12] = uint8_t((l4_hdr / 4) << 4);
    l4[13] = s.tcp_flags;
    wr16(l4 + 14, 65535);
    for (std::size_t i = 20; i < l4_hdr; ++i) l4[i] = 1;  // NOP
  }
  b.payload_off = f.size();
  for (std::size_t i = 0; i < s.payload; ++i) f.push_back(uint8_t(i * 31 + s.fill_seed + (i >> 8)));
  const std::size_t csum_at = b.l4 + (s.udp ? 6 : 16);
  const uint16_t c = naive_csum(&f[b.l4], l4_len, pseudo_sum(f, b.l3, s.v6, proto, uint32_t(l4_len)));
  wr16(&f[csum_at], c == 0 && s.udp ? 0xffff : c);
  return b;
}

// True when the frame's IPv4 header checksum (if v4) and TCP/UDP checksum verify.
inline bool checksums_ok(const std::vector<uint8_t>& f, std::size_t l3, bool v6, bool udp) {
  std::size_t l4, l4_len;
  if (!v6) {
    const std::size_t ihl = (f[l3] & 0x0f) * 4u;
    if (naive_csum(&f[l3], ihl) != 0) return false;
    l4 = l3 + ihl;
    l4_len = rd16(&f[l3 + 2]) - ihl;
  } else {
    l4 = l3 + 40;
    l4_len = rd16(&f[l3 + 4]);
  }
  if (l4 + l4_len > f.size()) return false;
  return naive_csum(&f[l4], l4_len, pseudo_sum(f, l3, v6, udp ? 17 : 6, uint32_t(l4_len))) == 0;
}

}  // namespace tapwall::test
