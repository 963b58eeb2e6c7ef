// FrameBuilder: assembles test frames (Ethernet, VLAN tags, IPv4/IPv6 with options and
// extension headers, TCP/UDP/ICMP/ICMPv6 or raw L4 bytes) with correct lengths and
// checksums, for every module's tests.
// Invariants: header-only and self-contained (its checksum is a deliberately plain
// reference implementation, independent of dataplane/net/checksum.cpp, so it can serve as
// the oracle for that code); build() never fails — malformed fixtures are made by building
// a good frame and then editing bytes.
// Thread-safety: a builder is a plain value.
//
// Example:
//   using namespace tapwall::test;
//   Bytes f = FrameBuilder{}.vlan(10).ipv4({.src = ip4(10,0,0,1), .dst = ip4(10,0,0,2)})
//                .tcp({.sport = 1234, .dport = 80, .flags = kTcpSyn}).build();
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tapwall/decoded.hpp"
#include "tapwall/net_types.hpp"

namespace tapwall::test {

using Bytes = std::vector<uint8_t>;

inline MacAddr mac(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t e, uint8_t f) {
  MacAddr m;
  m.b = {a, b, c, d, e, f};
  return m;
}
inline IpAddr ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  uint8_t p[4] = {a, b, c, d};
  return IpAddr::from_v4(p);
}
// Parses IPv6 text ("2001:db8::1"); an unparsable string gives ::, which tests would notice.
inline IpAddr ip6(const char* text) {
  uint8_t p[16] = {};
  if (inet_pton(AF_INET6, text, p) != 1) return IpAddr{};
  return IpAddr::from_v6(p);
}

// Reference one's-complement sum: 16 bits at a time, the obvious way.
inline uint32_t ref_sum(const uint8_t* p, std::size_t n, uint32_t s = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) s += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) s += uint32_t(p[n - 1]) << 8;
  return s;
}
inline uint16_t ref_checksum(const uint8_t* p, std::size_t n, uint32_t s = 0) {
  s = ref_sum(p, n, s);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint16_t(~s);
}

inline void put16(Bytes& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}
inline void put32(Bytes& b, uint32_t v) {
  put16(b, uint16_t(v >> 16));
  put16(b, uint16_t(v));
}
inline void set16(Bytes& b, std::size_t at, uint16_t v) {
  b[at] = uint8_t(v >> 8);
  b[at + 1] = uint8_t(v);
}

struct TcpSpec {
  uint16_t sport = 40000, dport = 80;
  uint32_t seq = 1000, ack = 0;
  uint8_t flags = kTcpAck;
  uint16_t window = 65535;
  Bytes options;  // raw option bytes; zero-padded to a multiple of 4
  Bytes payload;
};

struct UdpSpec {
  uint16_t sport = 40000, dport = 53;
  Bytes payload;
  std::optional<uint16_t> length;  // override the UDP length field
  bool zero_checksum = false;      // send checksum 0 ("none" on IPv4)
};

// ICMP or ICMPv6: 8-byte header (type, code, checksum, then id/seq — or the 4 bytes an error
// or ND message puts there), then body (a quoted packet for errors, ND fields...).
struct IcmpSpec {
  uint8_t type = 8, code = 0;
  uint16_t id = 0, seq = 0;
  Bytes body;
};

struct Ipv4Spec {
  IpAddr src = ip4(192, 168, 1, 10), dst = ip4(192, 168, 1, 20);
  uint8_t ttl = 64, tos = 0;
  uint16_t id = 0x1234;
  bool df = false, mf = false;
  uint16_t frag_offset = 0;      // bytes, multiple of 8
  Bytes options;                 // raw options; zero-padded (EOL) to a multiple of 4
  std::optional<uint8_t> proto;  // override the protocol field (default: from the L4 part)
};

struct Ipv6Ext {
  uint8_t type = 60;  // 0 HbH, 43 Routing, 44 Fragment, 51 AH, 60 DestOpts, 135 Mobility
  Bytes body;         // bytes after next-header and length; padded to the header's unit
};
// A Fragment extension header (body: reserved, offset|M, identification).
inline Ipv6Ext ipv6_frag_ext(uint16_t offset_bytes, bool more, uint32_t id) {
  Ipv6Ext e{44, {}};
  put16(e.body, uint16_t((offset_bytes & 0xfff8) | (more ? 1 : 0)));
  put32(e.body, id);
  return e;
}

struct Ipv6Spec {
  IpAddr src = ip6("2001:db8::10"), dst = ip6("2001:db8::20");
  uint8_t hop_limit = 64;
  uint32_t flow = 0;
  std::vector<Ipv6Ext> ext;
  std::optional<uint8_t> proto;  // override the upper-layer protocol
};

class FrameBuilder {
 public:
  FrameBuilder& eth(MacAddr dst, MacAddr src) {
    dst_ = dst;
    src_ = src;
    return *this;
  }
  FrameBuilder& vlan(uint16_t vid, uint16_t tpid = 0x8100, uint8_t pcp = 0) {
    tags_.push_back({tpid, uint16_t((pcp << 13) | (vid & 0x0fff))});
    return *this;
  }
  FrameBuilder& ethertype(uint16_t t) {  // for non-IP payloads (with raw())
    ethertype_ = t;
    return *this;
  }
  FrameBuilder& ipv4(const Ipv4Spec& s = {}) {
    v4_ = s;
    v6_.reset();
    return *this;
  }
  FrameBuilder& ipv6(const Ipv6Spec& s = {}) {
    v6_ = s;
    v4_.reset();
    return *this;
  }
  FrameBuilder& tcp(const TcpSpec& s = {}) {
    l4_kind_ = L4::Tcp;
    tcp_ = s;
    return *this;
  }
  FrameBuilder& udp(const UdpSpec& s = {}) {
    l4_kind_ = L4::Udp;
    udp_ = s;
    return *this;
  }
  FrameBuilder& icmp(const IcmpSpec& s = {}) {  // ICMP over IPv4, ICMPv6 over IPv6
    l4_kind_ = L4::Icmp;
    icmp_ = s;
    return *this;
  }
  // Verbatim bytes after L3 (or after L2 when no IP layer); `proto` is the IP protocol.
  FrameBuilder& raw(uint8_t proto, Bytes bytes) {
    l4_kind_ = L4::Raw;
    raw_proto_ = proto;
    raw_ = std::move(bytes);
    return *this;
  }
  FrameBuilder& pad_to(std::size_t n) {  // Ethernet padding after the datagram
    pad_to_ = n;
    return *this;
  }

  // The L4 segment exactly as build() would put it after the IP header (checksums filled
  // for the builder's addresses) — slice it to make fragments.
  Bytes l4() const {
    Bytes b;
    switch (l4_kind_) {
      case L4::None:
        break;
      case L4::Raw:
        b = raw_;
        break;
      case L4::Tcp: {
        put16(b, tcp_.sport);
        put16(b, tcp_.dport);
        put32(b, tcp_.seq);
        put32(b, tcp_.ack);
        Bytes opt = tcp_.options;
        while (opt.size() % 4) opt.push_back(0);
        b.push_back(uint8_t(((20 + opt.size()) / 4) << 4));
        b.push_back(tcp_.flags);
        put16(b, tcp_.window);
        put16(b, 0);
        put16(b, 0);
        b.insert(b.end(), opt.begin(), opt.end());
        b.insert(b.end(), tcp_.payload.begin(), tcp_.payload.end());
        set16(b, 16, ref_checksum(b.data(), b.size(), pseudo_sum(b.size())));
        break;
      }
      case L4::Udp: {
        put16(b, udp_.sport);
        put16(b, udp_.dport);
        put16(b, udp_.length.value_or(uint16_t(8 + udp_.payload.size())));
        put16(b, 0);
        b.insert(b.end(), udp_.payload.begin(), udp_.payload.end());
        if (!udp_.zero_checksum) {
          uint16_t c = ref_checksum(b.data(), b.size(), pseudo_sum(b.size()));
          set16(b, 6, c == 0 ? 0xffff : c);
        }
        break;
      }
      case L4::Icmp: {
        b.push_back(icmp_.type);
        b.push_back(icmp_.code);
        put16(b, 0);
        put16(b, icmp_.id);
        put16(b, icmp_.seq);
        b.insert(b.end(), icmp_.body.begin(), icmp_.body.end());
        set16(b, 2, ref_checksum(b.data(), b.size(), v6_ ? pseudo_sum(b.size()) : 0));
        break;
      }
    }
    return b;
  }

  // The IP packet alone (no L2): what an ICMP error quotes.
  Bytes ip_packet() const {
    Bytes seg = l4();
    if (v4_) return ipv4_header(seg);
    if (v6_) return ipv6_header(seg);
    return seg;
  }

  Bytes build() const {
    Bytes f;
    f.insert(f.end(), dst_.b.begin(), dst_.b.end());
    f.insert(f.end(), src_.b.begin(), src_.b.end());
    for (auto [tpid, tci] : tags_) {
      put16(f, tpid);
      put16(f, tci);
    }
    put16(f, v4_ ? kEthTypeIpv4 : v6_ ? kEthTypeIpv6 : ethertype_);
    Bytes p = ip_packet();
    f.insert(f.end(), p.begin(), p.end());
    if (f.size() < pad_to_) f.resize(pad_to_, 0);
    return f;
  }

 private:
  enum class L4 { None, Tcp, Udp, Icmp, Raw };

  uint8_t proto() const {
    switch (l4_kind_) {
      case L4::Tcp:
        return kProtoTcp;
      case L4::Udp:
        return kProtoUdp;
      case L4::Icmp:
        return v6_ ? kProtoIcmpv6 : kProtoIcmp;
      case L4::Raw:
        return raw_proto_;
      case L4::None:
        break;
    }
    return 59;  // No Next Header (IPv6); IPv4 has no such thing, 59 is as good as any
  }
  uint8_t l3_proto() const {
    if (v4_ && v4_->proto) return *v4_->proto;
    if (v6_ && v6_->proto) return *v6_->proto;
    return proto();
  }

  uint32_t pseudo_sum(std::size_t l4_len) const {
    uint32_t s = 0;
    if (v4_) {
      s = ref_sum(&v4_->src.b[12], 4, s);
      s = ref_sum(&v4_->dst.b[12], 4, s);
    } else if (v6_) {
      s = ref_sum(v6_->src.b.data(), 16, s);
      s = ref_sum(v6_->dst.b.data(), 16, s);
    }
    return s + uint32_t(l4_len >> 16) + uint32_t(l4_len & 0xffff) + l3_proto();
  }

  Bytes ipv4_header(const Bytes& seg) const {
    const Ipv4Spec& s = *v4_;
    Bytes opt = s.options;
    while (opt.size() % 4) opt.push_back(0);
    std::size_t hl = 20 + opt.size();
    Bytes h;
    h.push_back(uint8_t(0x40 | (hl / 4)));
    h.push_back(s.tos);
    put16(h, uint16_t(hl + seg.size()));
    put16(h, s.id);
    put16(h, uint16_t((s.df ? 0x4000 : 0) | (s.mf ? 0x2000 : 0) | ((s.frag_offset / 8) & 0x1fff)));
    h.push_back(s.ttl);
    h.push_back(l3_proto());
    put16(h, 0);
    h.insert(h.end(), s.src.b.begin() + 12, s.src.b.end());
    h.insert(h.end(), s.dst.b.begin() + 12, s.dst.b.end());
    h.insert(h.end(), opt.begin(), opt.end());
    set16(h, 10, ref_checksum(h.data(), h.size()));
    h.insert(h.end(), seg.begin(), seg.end());
    return h;
  }

  Bytes ipv6_header(const Bytes& seg) const {
    const Ipv6Spec& s = *v6_;
    Bytes ext;
    for (std::size_t i = 0; i < s.ext.size(); ++i) {
      const Ipv6Ext& e = s.ext[i];
      uint8_t next = i + 1 < s.ext.size() ? s.ext[i + 1].type : l3_proto();
      Bytes body = e.body;
      ext.push_back(next);
      if (e.type == 44) {
        body.resize(6, 0);
        ext.push_back(0);
      } else if (e.type == 51) {
        while ((2 + body.size()) % 4 || 2 + body.size() < 8) body.push_back(0);
        ext.push_back(uint8_t((2 + body.size()) / 4 - 2));
      } else {
        while ((2 + body.size()) % 8) body.push_back(0);  // Pad1 options
        ext.push_back(uint8_t((2 + body.size()) / 8 - 1));
      }
      ext.insert(ext.end(), body.begin(), body.end());
    }
    Bytes h;
    put32(h, (6u << 28) | (s.flow & 0xfffff));
    put16(h, uint16_t(ext.size() + seg.size()));
    h.push_back(s.ext.empty() ? l3_proto() : s.ext[0].type);
    h.push_back(s.hop_limit);
    h.insert(h.end(), s.src.b.begin(), s.src.b.end());
    h.insert(h.end(), s.dst.b.begin(), s.dst.b.end());
    h.insert(h.end(), ext.begin(), ext.end());
    h.insert(h.end(), seg.begin(), seg.end());
    return h;
  }

  MacAddr dst_ = mac(0x02, 0, 0, 0, 0, 0x02), src_ = mac(0x02, 0, 0, 0, 0, 0x01);
  std::vector<std::pair<uint16_t, uint16_t>> tags_;
  uint16_t ethertype_ = 0x88b5;  // local experimental: "not IP" by default
  std::optional<Ipv4Spec> v4_;
  std::optional<Ipv6Spec> v6_;
  L4 l4_kind_ = L4::None;
  TcpSpec tcp_;
  UdpSpec udp_;
  IcmpSpec icmp_;
  uint8_t raw_proto_ = 0;
  Bytes raw_;
  std::size_t pad_to_ = 0;
};

// Offset of the L3 header in a frame built with `tags` VLAN tags.
inline constexpr std::size_t l3_offset(std::size_t tags = 0) { return 14 + 4 * tags; }

}  // namespace tapwall::test
