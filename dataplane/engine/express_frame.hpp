// ExpressFrame: a frame of the steady state's common shape, read straight from its bytes
// for the engine's express path (express.cpp) without a full decode.
// The shape: untagged Ethernet, IPv4 without options and not a fragment, or IPv6 without
// extension headers; TCP (an ACK-class segment: ACK set, SYN/FIN/RST clear; no options, or
// only the NOP,NOP,timestamp block every Linux segment carries) or UDP; every length field
// consistent. A frame of that shape decodes (decode_frame) without error into the same
// fields; any other frame is left to the general path (parse_express() returns false).
// fill_decoded() gives the general path that decoding without doing it again.
// Thread-safety: pure function; the frame bytes must outlive the ExpressFrame (spans).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

#include "tapwall/checksum.hpp"
#include "tapwall/conntrack.hpp"
#include "tapwall/decoded.hpp"
#include "tapwall/mac_table.hpp"
#include "tapwall/net_types.hpp"

namespace tapwall {

struct ExpressFrame {
  uint64_t dst_key = 0, src_key = 0;  // the MAC addresses as MacTable keys
  const uint8_t* eth = nullptr; // the frame (Ethernet header)
  const uint8_t* ip = nullptr;  // the IP header (IPv4: 20 bytes, IPv6: 40)
  const uint8_t* l4 = nullptr;  // the TCP/UDP header
  uint32_t l4_len = 0;          // segment length
  bool v6 = false;
  CtExpress ct;                 // the key and, for TCP, the segment
};

namespace express_detail {
constexpr std::size_t kEth = 14, kIp = 20, kIp6 = 40, kTcp = 20, kUdp = 8;
// NOP, NOP, timestamp (kind 8, length 10): the option block of an established Linux flow.
constexpr uint32_t kNopNopTimestamp = 0x0101080a;

// IpAddr::from_v4(p) written as two 8-byte stores (::ffff:a.b.c.d: bytes 10-11 0xff).
inline void set_v4(IpAddr& a, const uint8_t* p) {
  uint8_t w[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  std::memcpy(w + 12, p, 4);
  std::memcpy(a.b.data(), w, 16);
}
}  // namespace express_detail

[[gnu::always_inline]] inline bool parse_express(std::span<const uint8_t> frame,
                                                 ExpressFrame& x) {
  using namespace express_detail;
  const uint8_t* p = frame.data();
  const std::size_t n = frame.size();
  // decode_frame() reads at most the first 65535 bytes of a frame.
  if (n < kEth + kIp + kUdp || n > 0xffff) return false;
  const uint16_t type = load_be16(p + 12);
  const uint8_t* ip = p + kEth;
  uint32_t total, header;
  uint8_t proto;
  if (type == kEthTypeIpv4) {
    if (ip[0] != 0x45 || (load_be16(ip + 6) & 0x3fff) != 0) return false;  // options; fragment
    total = load_be16(ip + 2);
    if (total < kIp || total > n - kEth) return false;
    proto = ip[9];
    header = kIp;
  } else if (type == kEthTypeIpv6) {
    if (n < kEth + kIp6 + kUdp || (ip[0] >> 4) != 6) return false;
    const uint32_t payload = load_be16(ip + 4);
    if (payload > n - kEth - kIp6) return false;
    total = kIp6 + payload;
    proto = ip[6];  // TCP or UDP right after the header: no extension headers
    header = kIp6;
  } else {
    return false;
  }
  const uint8_t* l4 = ip + header;
  const uint32_t l4_len = total - header;
  CtExpress& c = x.ct;
  if (proto == kProtoTcp) {
    if (l4_len < kTcp) return false;
    const uint32_t doff = (l4[12] >> 4) * 4u;
    if (doff > l4_len ||
        (doff != kTcp && !(doff == kTcp + 12 && load_be32(l4 + kTcp) == kNopNopTimestamp)))
      return false;
    c.tcp.flags = l4[13];
    if ((c.tcp.flags & (kTcpSyn | kTcpFin | kTcpRst | kTcpAck)) != kTcpAck) return false;
    c.tcp.seq = load_be32(l4 + 4);
    c.tcp.ack = load_be32(l4 + 8);
    c.tcp.win = load_be16(l4 + 14);
    c.tcp.payload_len = l4_len - doff;
    c.tcp.options = {l4 + kTcp, doff - kTcp};
  } else if (proto == kProtoUdp) {
    const uint32_t len = load_be16(l4 + 4);
    if (len < kUdp || len > l4_len) return false;
    c.tcp.flags = 0;
  } else {
    return false;
  }
  x.dst_key = mac_detail::make_key(p);
  x.src_key = mac_detail::make_key(p + 6);
  x.eth = p;
  x.ip = ip;
  x.l4 = l4;
  x.l4_len = l4_len;
  c.ip_len = total;
  x.v6 = type == kEthTypeIpv6;
  if (x.v6) {
    std::memcpy(c.key.src.b.data(), ip + 8, 16);
    std::memcpy(c.key.dst.b.data(), ip + 24, 16);
  } else {
    set_v4(c.key.src, ip + 12);
    set_v4(c.key.dst, ip + 16);
  }
  c.key.sport = load_be16(l4);
  c.key.dport = load_be16(l4 + 2);
  c.key.proto = proto;
  return true;
}

// The IPv4 header checksum (br_netfilter drops on it), and unless !verify_l4 the segment's
// (conntrack calls the packet INVALID) as conntrack checks it: UDP's 0 is "none".
[[gnu::always_inline]] inline bool express_checksums_ok(const ExpressFrame& x, bool verify_l4) {
  using namespace checksum_detail;
  if (!x.v6 && fold64(word_acc(x.ip, express_detail::kIp, 0)) != 0xffff) return false;
  if (!verify_l4 || (x.ct.key.proto == kProtoUdp && load_be16(x.l4 + 6) == 0)) return true;
  return x.v6 ? ipv6_segment_ok(x.ip + 8, x.l4, x.l4_len, x.ct.key.proto)
              : ipv4_segment_ok(x.ip + 12, x.l4, x.l4_len, x.ct.key.proto);
}

// What decode_frame(frame) gives for a frame parse_express() accepted, from what it read
// (cheaper than decoding again when the express path leaves the frame to the general path).
inline void fill_decoded(const ExpressFrame& x, Decoded& d) {
  using namespace express_detail;
  reset_decoded(d);
  std::memcpy(d.dst_mac.b.data(), x.eth, 6);
  std::memcpy(d.src_mac.b.data(), x.eth + 6, 6);
  d.l3_off = kEth;
  d.src_ip = x.ct.key.src;
  d.dst_ip = x.ct.key.dst;
  d.ip_proto = x.ct.key.proto;
  d.ip_end = uint16_t(kEth + x.ct.ip_len);
  if (x.v6) {
    d.ethertype = kEthTypeIpv6;
    d.l3 = L3Kind::Ipv6;
    d.ttl = x.ip[7];
    d.l4_off = uint16_t(kEth + kIp6);
  } else {
    d.ethertype = kEthTypeIpv4;
    d.l3 = L3Kind::Ipv4;
    d.ttl = x.ip[8];
    d.l4_off = uint16_t(kEth + kIp);
    d.frag_id = load_be16(x.ip + 4);
  }
  d.l4_ok = true;
  d.sport = x.ct.key.sport;
  d.dport = x.ct.key.dport;
  if (x.ct.key.proto == kProtoTcp) {
    d.tcp_flags = x.ct.tcp.flags;
    d.tcp_doff = uint8_t(kTcp + x.ct.tcp.options.size());
    d.tcp_seq = x.ct.tcp.seq;
    d.tcp_ack = x.ct.tcp.ack;
    d.tcp_window = x.ct.tcp.win;
    d.l4_payload_off = uint16_t(d.l4_off + d.tcp_doff);
  } else {
    d.l4_payload_off = uint16_t(d.l4_off + kUdp);
  }
}

}  // namespace tapwall
