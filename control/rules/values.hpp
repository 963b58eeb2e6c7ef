// Parsers for the values of iptables options: addresses and prefixes, ports and port lists,
// ICMP type specs, MAC addresses, conntrack state lists, physdev interface patterns.
// Invariants: each returns the value or a message saying what is wrong with the text (the
// caller attaches path, line, column and token); nothing here is approximated — a value
// tapwall cannot represent exactly is an error.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tapwall/rule_set.hpp"

namespace tapwall::control {

template <typename T>
using Parsed = std::variant<T, std::string>;  // value, or why the text is not one

template <typename T>
bool failed(const Parsed<T>& p) {
  return std::holds_alternative<std::string>(p);
}

// Decimal integer in [lo, hi], digits only.
Parsed<uint32_t> parse_uint(std::string_view s, uint32_t lo, uint32_t hi);

// -s/-d: "addr", "addr/len", "addr/dotted-mask" (IPv4), comma lists (iptables makes one rule
// per element). Host bits are cleared, as iptables does.
Parsed<std::vector<Cidr>> parse_cidr_list(std::string_view s, Family family);

// -m iprange --src-range/--dst-range: "addr" or "addr-addr" (numeric addresses of the
// family; a reversed range is kept as written).
Parsed<std::pair<IpAddr, IpAddr>> parse_ip_range(std::string_view s, Family family);
// -m limit --limit N[/UNIT] (UNIT: any leading part of second, minute, hour or day; per
// second without one), as iptables turns it into LimitMatch::avg.
Parsed<uint32_t> parse_limit_rate(std::string_view s);
// -m length --length LO[:HI] (LO: empty = 0, HI: empty = 65535; 0-65535).
Parsed<std::pair<uint32_t, uint32_t>> parse_length_range(std::string_view s);
// --limit-burst N, 0-10000 as iptables takes it.
Parsed<uint32_t> parse_limit_burst(std::string_view s);

// -p: name, number or "all"; 0 means all protocols.
Parsed<uint8_t> parse_protocol(std::string_view s);

// --sport/--dport: "p", "lo:hi", ":hi", "lo:", names from the services table.
Parsed<PortRange> parse_port_range(std::string_view s);

// multiport: "p,lo:hi,..." — at most 15 ports, a range counting as two (as iptables).
Parsed<std::vector<PortRange>> parse_port_list(std::string_view s);

// --icmp-type / --icmpv6-type: "any" (v4), a name, "type" or "type/code".
Parsed<IcmpTypeMatch> parse_icmp_type(std::string_view s, Family family);

// --mac-source: exactly six two-digit hex groups separated by ':'.
Parsed<MacAddr> parse_mac(std::string_view s);

// --state / --ctstate: comma list of NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED.
Parsed<CtStateMask> parse_state_list(std::string_view s);

// --physdev-in/--physdev-out: an interface name, '+' at the end meaning any suffix.
Parsed<IfacePattern> parse_iface(std::string_view s);

// --tcp-flags lists: comma list of FIN, SYN, RST, PSH, ACK, URG, ALL, NONE.
Parsed<uint8_t> parse_tcp_flag_list(std::string_view s);

}  // namespace tapwall::control
