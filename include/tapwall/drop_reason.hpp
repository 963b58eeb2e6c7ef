// Drop reasons: the one list every drop in tapwall names.
// Purpose: a dropped frame is never silently freed; it is counted under exactly one reason
// from this list and routed to the drop sink. Names are stable: they appear in
// `--verdicts` JSON, pcapng comments, `--list-reasons` and metrics.
// Invariants: kNone is 0 and means "not dropped"; names are unique snake_case.
// Thread-safety: constants only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tapwall {

// X(enum_name, "wire_name", "one-line explanation")
#define TAPWALL_DROP_REASONS(X)                                                                  \
  X(None, "none", "not dropped")                                                                 \
  /* Ethernet / VLAN */                                                                          \
  X(EthTruncated, "eth_truncated", "frame shorter than an Ethernet header")                      \
  X(VlanTruncated, "vlan_truncated", "VLAN tag cut short")                                       \
  X(VlanTooManyTags, "vlan_too_many_tags", "more than two stacked VLAN tags")                    \
  X(SrcMacMulticast, "src_mac_multicast", "source MAC is multicast/broadcast (kernel drops)")   \
  X(SrcMacZero, "src_mac_zero", "source MAC is all zeros (kernel drops)")                        \
  X(LinkLocalGroup, "link_local_group", "01:80:C2:00:00:0X group address, not forwarded")        \
  X(SamePort, "same_port", "destination MAC was learned on the ingress port")                    \
  X(NoEgressPort, "no_egress_port", "no other port to send to")                                  \
  /* ARP */                                                                                      \
  X(ArpTruncated, "arp_truncated", "ARP packet cut short")                                       \
  /* IPv4 */                                                                                     \
  X(Ipv4Truncated, "ipv4_truncated", "IPv4 header cut short")                                    \
  X(Ipv4BadVersion, "ipv4_bad_version", "IPv4 ethertype but version is not 4")                   \
  X(Ipv4BadIhl, "ipv4_bad_ihl", "IPv4 header length below 20 bytes")                             \
  X(Ipv4BadTotalLength, "ipv4_bad_total_length", "IPv4 total length beyond the frame or below the header") \
  X(Ipv4BadOptions, "ipv4_bad_options", "IPv4 options malformed or truncated")                   \
  X(Ipv4BadChecksum, "ipv4_bad_checksum", "IPv4 header checksum wrong")                          \
  /* IPv6 */                                                                                     \
  X(Ipv6Truncated, "ipv6_truncated", "IPv6 header cut short")                                    \
  X(Ipv6BadVersion, "ipv6_bad_version", "IPv6 ethertype but version is not 6")                   \
  X(Ipv6BadPayloadLength, "ipv6_bad_payload_length", "IPv6 payload length beyond the frame")     \
  X(Ipv6ExtTruncated, "ipv6_ext_truncated", "IPv6 extension header cut short")                   \
  X(Ipv6ExtTooMany, "ipv6_ext_too_many", "IPv6 extension header chain too long")                 \
  /* L4 */                                                                                       \
  X(TcpTruncated, "tcp_truncated", "TCP header cut short")                                       \
  X(TcpBadDataOffset, "tcp_bad_data_offset", "TCP data offset below 5 or beyond the packet")     \
  X(TcpBadOptions, "tcp_bad_options", "TCP options malformed or truncated")                      \
  X(UdpTruncated, "udp_truncated", "UDP header cut short")                                       \
  X(UdpBadLength, "udp_bad_length", "UDP length field inconsistent with the packet")             \
  X(IcmpTruncated, "icmp_truncated", "ICMP header cut short")                                    \
  X(Icmpv6Truncated, "icmpv6_truncated", "ICMPv6 header cut short")                              \
  /* Fragments */                                                                                \
  X(FragOverlap, "frag_overlap", "overlapping fragments: the whole datagram is dropped")         \
  X(FragDuplicate, "frag_duplicate", "fragment inside data already held: only it is dropped")    \
  X(FragTimeout, "frag_timeout", "datagram incomplete when its reassembly timer expired")        \
  X(FragNoMemory, "frag_no_memory", "reassembly memory or slots exhausted")                      \
  X(FragTooLarge, "frag_too_large", "reassembled datagram would exceed 65535 bytes")             \
  X(FragBad, "frag_bad", "fragment inconsistent (bad length, offset, or duplicate last)")        \
  /* Conntrack */                                                                                \
  X(CtTableFull, "ct_table_full", "conntrack table full and no entry could be evicted")          \
  /* Policy */                                                                                   \
  X(RuleDrop, "rule_drop", "a rule with -j DROP matched")                                        \
  X(RuleReject, "rule_reject", "a rule with -j REJECT matched")                                  \
  X(ChainPolicy, "chain_policy", "the FORWARD chain policy dropped it")                          \
  /* Ports */                                                                                    \
  X(MtuExceeded, "mtu_exceeded", "larger than the egress MTU and cannot be segmented")           \
  X(TxError, "tx_error", "the egress port refused the frame")                                   \
  /* Workers */                                                                                  \
  X(WorkerHandoffFull, "worker_handoff_full", "the owning worker's handoff ring was full")

enum class DropReason : uint8_t {
#define TAPWALL_X(e, n, d) e,
  TAPWALL_DROP_REASONS(TAPWALL_X)
#undef TAPWALL_X
};

inline constexpr std::size_t kDropReasonCount = 0
#define TAPWALL_X(e, n, d) +1
    TAPWALL_DROP_REASONS(TAPWALL_X)
#undef TAPWALL_X
    ;

constexpr std::string_view drop_reason_name(DropReason r) {
  constexpr std::string_view kNames[] = {
#define TAPWALL_X(e, n, d) n,
      TAPWALL_DROP_REASONS(TAPWALL_X)
#undef TAPWALL_X
  };
  return kNames[static_cast<std::size_t>(r)];
}

constexpr std::string_view drop_reason_description(DropReason r) {
  constexpr std::string_view kText[] = {
#define TAPWALL_X(e, n, d) d,
      TAPWALL_DROP_REASONS(TAPWALL_X)
#undef TAPWALL_X
  };
  return kText[static_cast<std::size_t>(r)];
}

}  // namespace tapwall
