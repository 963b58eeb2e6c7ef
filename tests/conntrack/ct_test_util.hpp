// Test helpers for conntrack: build real Ethernet/IP/L4 frames (with correct checksums)
// together with the Decoded that decode_frame would produce for them, so the tracker is
// tested on its own, without depending on the decoder.
// Invariants: every Pkt's Decoded describes its frame exactly; checksums are valid unless
// a test corrupts them on purpose.
// Thread-safety: test code only.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tapwall/checksum.hpp"
#include "tapwall/conntrack.hpp"
#include "tapwall/decoded.hpp"

namespace tapwall::test {

inline IpAddr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  const uint8_t p[4] = {a, b, c, d};
  return IpAddr::from_v4(p);
}
// 2001:db8::<last> (or fe80::<last> when link_local)
inline IpAddr v6(uint8_t last, bool link_local = false) {
  uint8_t p[16] = {0x20, 0x01, 0x0d, 0xb8};
  if (link_local) {
    p[0] = 0xfe;
    p[1] = 0x80;
    p[2] = p[3] = 0;
  }
  p[15] = last;
  return IpAddr::from_v6(p);
}

struct Pkt {
  std::vector<uint8_t> frame;
  Decoded d;
  std::span<const uint8_t> span() const { return frame; }
};

namespace detail {

inline void put16(std::vector<uint8_t>& f, std::size_t at, uint16_t v) {
  f[at] = uint8_t(v >> 8);
  f[at + 1] = uint8_t(v);
}
inline void put32(std::vector<uint8_t>& f, std::size_t at, uint32_t v) {
  put16(f, at, uint16_t(v >> 16));
  put16(f, at + 2, uint16_t(v));
}

// Ethernet + IP header around an L4 segment; fills the Decoded L2/L3 fields.
inline Pkt wrap_ip(const IpAddr& src, const IpAddr& dst, uint8_t proto,
                   const std::vector<uint8_t>& l4, uint8_t ttl = 64) {
  Pkt p;
  const bool is4 = src.is_v4_mapped();
  const std::size_t ihl = is4 ? 20 : 40;
  p.frame.assign(14 + ihl + l4.size(), 0);
  auto& f = p.frame;
  const uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 2}, smac[6] = {0x02, 0, 0, 0, 0, 1};
  std::copy(dmac, dmac + 6, f.begin());
  std::copy(smac, smac + 6, f.begin() + 6);
  put16(f, 12, is4 ? kEthTypeIpv4 : kEthTypeIpv6);
  if (is4) {
    f[14] = 0x45;
    put16(f, 16, uint16_t(20 + l4.size()));
    put16(f, 18, 0x1234);
    f[22] = ttl;
    f[23] = proto;
    std::copy(src.b.begin() + 12, src.b.end(), f.begin() + 26);
    std::copy(dst.b.begin() + 12, dst.b.end(), f.begin() + 30);
    put16(f, 24, inet_checksum(std::span<const uint8_t>(f).subspan(14, 20)));
  } else {
    f[14] = 0x60;
    put16(f, 18, uint16_t(l4.size()));
    f[20] = proto;
    f[21] = ttl;
    std::copy(src.b.begin(), src.b.end(), f.begin() + 22);
    std::copy(dst.b.begin(), dst.b.end(), f.begin() + 38);
  }
  std::copy(l4.begin(), l4.end(), f.begin() + 14 + ihl);
  Decoded& d = p.d;
  d.dst_mac = MacAddr::from_bytes(dmac);
  d.src_mac = MacAddr::from_bytes(smac);
  d.ethertype = is4 ? kEthTypeIpv4 : kEthTypeIpv6;
  d.l3_off = 14;
  d.l3 = is4 ? L3Kind::Ipv4 : L3Kind::Ipv6;
  d.src_ip = src;
  d.dst_ip = dst;
  d.ip_proto = proto;
  d.ttl = ttl;
  d.ip_end = uint16_t(f.size());
  d.l4_off = uint16_t(14 + ihl);
  d.l4_ok = true;
  return p;
}

inline void finish_checksum(Pkt& p) { fill_l4_checksum(p.d, p.frame); }

}  // namespace detail

inline Pkt tcp(const IpAddr& src, const IpAddr& dst, uint16_t sport, uint16_t dport,
               uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win = 64000,
               std::size_t payload = 0, std::vector<uint8_t> options = {}) {
  while (options.size() % 4) options.push_back(0);
  std::vector<uint8_t> l4(20 + options.size() + payload, 0);
  detail::put16(l4, 0, sport);
  detail::put16(l4, 2, dport);
  detail::put32(l4, 4, seq);
  detail::put32(l4, 8, ack);
  l4[12] = uint8_t(((20 + options.size()) / 4) << 4);
  l4[13] = flags;
  detail::put16(l4, 14, win);
  std::copy(options.begin(), options.end(), l4.begin() + 20);
  for (std::size_t i = 0; i < payload; ++i) l4[20 + options.size() + i] = uint8_t(i);
  Pkt p = detail::wrap_ip(src, dst, kProtoTcp, l4);
  Decoded& d = p.d;
  d.sport = sport;
  d.dport = dport;
  d.tcp_flags = flags;
  d.tcp_doff = uint8_t(20 + options.size());
  d.tcp_seq = seq;
  d.tcp_ack = ack;
  d.tcp_window = win;
  d.l4_payload_off = uint16_t(d.l4_off + d.tcp_doff);
  detail::finish_checksum(p);
  return p;
}

inline Pkt udp(const IpAddr& src, const IpAddr& dst, uint16_t sport, uint16_t dport,
               std::size_t payload = 16) {
  std::vector<uint8_t> l4(8 + payload, 0xab);
  detail::put16(l4, 0, sport);
  detail::put16(l4, 2, dport);
  detail::put16(l4, 4, uint16_t(8 + payload));
  detail::put16(l4, 6, 0);
  Pkt p = detail::wrap_ip(src, dst, kProtoUdp, l4);
  p.d.sport = sport;
  p.d.dport = dport;
  p.d.l4_payload_off = uint16_t(p.d.l4_off + 8);
  detail::finish_checksum(p);
  return p;
}

// ICMP (IPv4 addresses) or ICMPv6 (IPv6 addresses). `quoted`: the packet an error quotes
// (its IP header and first 8 bytes of L4 go in the body). `proto_override`: put an ICMP
// message in a packet of the other family.
inline Pkt icmp(const IpAddr& src, const IpAddr& dst, uint8_t type, uint8_t code,
                uint16_t id = 0, const Pkt* quoted = nullptr, uint8_t ttl = 64) {
  const bool is4 = src.is_v4_mapped();
  std::vector<uint8_t> l4(8, 0);
  l4[0] = type;
  l4[1] = code;
  detail::put16(l4, 4, id);
  detail::put16(l4, 6, 1);  // sequence
  if (quoted) {
    const std::size_t n = std::min<std::size_t>(quoted->frame.size() - 14,
                                                quoted->d.l4_off - 14 + 8);
    l4.insert(l4.end(), quoted->frame.begin() + 14, quoted->frame.begin() + 14 + long(n));
  } else {
    l4.resize(8 + 16, 0x5a);
  }
  Pkt p = detail::wrap_ip(src, dst, is4 ? kProtoIcmp : kProtoIcmpv6, l4, ttl);
  Decoded& d = p.d;
  d.icmp_type = type;
  d.icmp_code = code;
  d.icmp_id = id;
  d.sport = id;
  d.l4_payload_off = uint16_t(d.l4_off + 8);
  if (quoted) {
    QuotedHeader& q = d.quoted;
    q.present = true;
    q.proto = quoted->d.ip_proto;
    q.src = quoted->d.src_ip;
    q.dst = quoted->d.dst_ip;
    if (q.proto == kProtoTcp || q.proto == kProtoUdp) {
      q.sport = quoted->d.sport;
      q.dport = quoted->d.dport;
      q.tcp_seq = quoted->d.tcp_seq;
    } else if (q.proto == kProtoIcmp || q.proto == kProtoIcmpv6) {
      q.sport = quoted->d.icmp_id;
      q.icmp_type = quoted->d.icmp_type;
      q.icmp_code = quoted->d.icmp_code;
    }
  }
  detail::finish_checksum(p);
  return p;
}

inline Pkt raw_ip(const IpAddr& src, const IpAddr& dst, uint8_t proto, std::size_t len = 24) {
  Pkt p = detail::wrap_ip(src, dst, proto, std::vector<uint8_t>(len, 0x11));
  p.d.l4_ok = false;
  return p;
}

// Track and confirm as accepted, as the engine does for a forwarded frame.
inline CtResult pass(Conntrack& ct, const Pkt& p, uint64_t now) {
  CtResult r = ct.track(p.d, p.span(), now);
  ct.confirm(r, true);
  return r;
}

struct EntryInfo {
  bool found = false;
  CtEntryView v{};
  std::string state;
};

// The live entry whose original tuple starts at `src` with protocol `proto`.
inline EntryInfo find_entry(const Conntrack& ct, uint64_t now, const IpAddr& src,
                            uint8_t proto, uint16_t sport) {
  EntryInfo e;
  ct.for_each(now, [&](const CtEntryView& v) {
    if (v.proto == proto && v.orig_src == src && v.orig_sport == sport) {
      e.found = true;
      e.v = v;
      e.state = v.state_name;
    }
  });
  return e;
}

constexpr uint64_t kSec = kNsPerSec;

// Tests use small tables: a default one (262144 entries) costs ~40 MB to set up.
inline CtConfig test_cfg(uint32_t capacity = 64) {
  CtConfig c;
  c.capacity = capacity;
  return c;
}

}  // namespace tapwall::test
