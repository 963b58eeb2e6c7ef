// Decoded: what one pass over a frame's headers found, as offsets and extracted fields.
// Purpose: every stage after decode (MAC, defrag, conntrack, policy) reads these fields and
// never re-parses the frame. The frame bytes stay where they are (non-owning view).
// Invariants (when decode returned DropReason::None):
//  - every offset is within the frame and the header it names is fully present;
//  - l3 tells which L3 fields are valid; l4_ok tells whether the L4 fields are valid
//    (false for non-first fragments and unknown protocols);
//  - IPv4 addresses are stored IPv4-mapped in IpAddr (see net_types.hpp);
//  - ip_end is the end of the IP datagram inside the frame (Ethernet padding excluded).
// Thread-safety: plain value, no sharing.
#pragma once

#include <cstdint>
#include <span>

#include "tapwall/drop_reason.hpp"
#include "tapwall/net_types.hpp"

namespace tapwall {

enum class L3Kind : uint8_t { Other, Arp, Ipv4, Ipv6 };

// What an ICMP/ICMPv6 error quotes: the inner packet's header fields, for RELATED lookup.
struct QuotedHeader {
  bool present = false;  // an error message with a decodable quoted IP header
  uint8_t proto = 0;
  IpAddr src, dst;
  uint16_t sport = 0, dport = 0;  // TCP/UDP ports; for quoted ICMP echo: sport=id, dport=0
  uint8_t icmp_type = 0;           // when the quoted packet is ICMP/ICMPv6
  uint8_t icmp_code = 0;
  uint32_t tcp_seq = 0;  // quoted TCP sequence number (first 8 bytes of L4 are always quoted)
};

struct Decoded {
  // --- L2
  MacAddr dst_mac, src_mac;
  uint8_t vlan_count = 0;    // 0, 1 or 2 tags
  uint16_t vlan_ids[2] = {}; // outer first; VID only (12 bits)
  uint16_t vlan = 0;         // innermost VID, 0 untagged (the MAC table ignores it)
  uint16_t ethertype = 0;    // innermost ethertype (after tags)
  uint16_t l3_off = 0;       // offset of the L3 header

  // --- L3
  L3Kind l3 = L3Kind::Other;
  IpAddr src_ip, dst_ip;     // valid for Ipv4/Ipv6
  uint8_t ip_proto = 0;      // IPv4 protocol, or IPv6 upper-layer protocol after ext headers
  uint8_t ttl = 0;           // TTL / hop limit
  uint16_t ip_end = 0;       // end offset of the IP datagram in the frame
  uint16_t l4_off = 0;       // offset of the L4 header (after IPv4 options / IPv6 ext headers)
  bool ipv4_has_options = false;

  // Fragments (IPv4 flags/offset, or IPv6 Fragment extension header).
  bool is_fragment = false;  // MF set or offset != 0
  bool more_fragments = false;
  uint16_t frag_offset = 0;  // in bytes
  uint32_t frag_id = 0;      // IPv4 ID (16 bits) or IPv6 fragment identification
  uint16_t frag_hdr_off = 0; // IPv6: offset of the Fragment ext header; 0 otherwise
  uint16_t frag_unfrag_len = 0;  // IPv6: bytes of IPv6 header + ext headers before Fragment

  // --- L4 (valid when l4_ok)
  bool l4_ok = false;
  uint16_t sport = 0, dport = 0;  // TCP/UDP ports; ICMP echo: sport = identifier
  uint16_t l4_payload_off = 0;    // first byte after the L4 header
  // TCP
  uint8_t tcp_flags = 0;          // FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10 URG=0x20 ECE=0x40 CWR=0x80
  uint8_t tcp_doff = 0;           // header length in bytes
  uint32_t tcp_seq = 0, tcp_ack = 0;
  uint16_t tcp_window = 0;        // raw, unscaled
  int8_t tcp_wscale = -1;         // window-scale option shift, -1 when absent
  bool tcp_sack_perm = false;
  uint16_t tcp_mss = 0;           // 0 when absent
  // ICMP / ICMPv6
  uint8_t icmp_type = 0, icmp_code = 0;
  uint16_t icmp_id = 0;           // echo request/reply identifier
  QuotedHeader quoted;            // filled for ICMP/ICMPv6 error messages
};

// TCP flag bits.
inline constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08,
                         kTcpAck = 0x10, kTcpUrg = 0x20, kTcpEce = 0x40, kTcpCwr = 0x80;

// The IP packet's length as the kernel counts it (rule and conntrack byte counters): from
// the IP header to the datagram's end, less an atomic fragment's Fragment header, which the
// kernel's IPv6 defragmentation removes before its hooks see the packet (seen on the lab's
// br0: 8 bytes fewer a packet in ip6tables counters, and the packet sent on without it).
inline uint32_t counted_ip_bytes(const Decoded& d) {
  if (d.ip_end <= d.l3_off) return 0;
  const uint32_t atomic_frag_header = d.frag_hdr_off != 0 && !d.is_fragment ? 8 : 0;
  return d.ip_end - d.l3_off - atomic_frag_header;
}

// Decode the frame's headers into `out`. Returns DropReason::None on success, or the named
// reason the frame is malformed. Never reads outside `frame`. Non-IP ethertypes and IP
// protocols it does not know decode successfully with l3 = Other / l4_ok = false.
DropReason decode_frame(std::span<const uint8_t> frame, Decoded& out);

// out = Decoded{}, as decode_frame() starts (padding included), for code that fills a
// Decoded by other means (the engine's express path) and must match it byte for byte.
void reset_decoded(Decoded& out);

// Added by the net module. True for the reasons that concern only the L4 header (TCP, UDP,
// ICMP, ICMPv6). When decode_frame() returns one of them, every L2/L3 field is valid (as on
// success) and l4_ok is false. The kernel does not drop such packets before conntrack: its
// trackers call them INVALID, and a policy without a state match still forwards them — so
// the engine may judge them as INVALID instead of dropping them.
constexpr bool is_l4_decode_reason(DropReason r) {
  switch (r) {
    case DropReason::TcpTruncated:
    case DropReason::TcpBadDataOffset:
    case DropReason::TcpBadOptions:
    case DropReason::UdpTruncated:
    case DropReason::UdpBadLength:
    case DropReason::IcmpTruncated:
    case DropReason::Icmpv6Truncated:
      return true;
    default:
      return false;
  }
}

}  // namespace tapwall
