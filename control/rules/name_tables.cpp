// Embedded name tables (see name_tables.hpp). Values are the IANA numbers and the names
// iptables' own extensions (libxt_tcp, libxt_icmp, libip6t_icmp6, libxt_REJECT, libxt_LOG)
// accept; iptables-save prints protocol names from /etc/protocols, so that table is complete
// enough to read back anything it prints for the protocols people filter on.
#include "name_tables.hpp"

#include <array>
#include <charconv>

namespace tapwall::control {
namespace {

template <typename V>
struct Named {
  std::string_view name;
  V value;
};

template <typename V, size_t N>
std::optional<V> lookup(const std::array<Named<V>, N>& table, std::string_view name) {
  for (const auto& e : table)
    if (iequals(e.name, name)) return e.value;
  return std::nullopt;
}

constexpr std::array<Named<uint8_t>, 58> kProtocols{{
    {"all", 0},          {"ip", 0},          {"icmp", 1},         {"igmp", 2},
    {"ggp", 3},          {"ipencap", 4},     {"st", 5},           {"tcp", 6},
    {"egp", 8},          {"igp", 9},         {"pup", 12},         {"udp", 17},
    {"hmp", 20},         {"xns-idp", 22},    {"rdp", 27},         {"iso-tp4", 29},
    {"dccp", 33},        {"xtp", 36},        {"ddp", 37},         {"idpr-cmtp", 38},
    {"ipv6", 41},        {"ipv6-route", 43}, {"ipv6-frag", 44},   {"idrp", 45},
    {"rsvp", 46},        {"gre", 47},        {"esp", 50},         {"ah", 51},
    {"skip", 57},        {"ipv6-icmp", 58},  {"icmpv6", 58},      {"ipv6-nonxt", 59},
    {"ipv6-opts", 60},   {"rspf", 73},       {"vmtp", 81},        {"eigrp", 88},
    {"ospf", 89},        {"ax.25", 93},      {"ipip", 94},        {"etherip", 97},
    {"encap", 98},       {"pim", 103},       {"ipcomp", 108},     {"vrrp", 112},
    {"l2tp", 115},       {"isis", 124},      {"sctp", 132},       {"fc", 133},
    {"mobility-header", 135}, {"mh", 135},   {"udplite", 136},    {"mpls-in-ip", 137},
    {"manet", 138},      {"hip", 139},       {"shim6", 140},      {"wesp", 141},
    {"rohc", 142},       {"ethernet", 143},
}};

constexpr std::array<Named<uint16_t>, 30> kServices{{
    {"ftp-data", 20},   {"ftp", 21},      {"ssh", 22},       {"telnet", 23},
    {"smtp", 25},       {"domain", 53},   {"bootps", 67},    {"bootpc", 68},
    {"tftp", 69},       {"http", 80},     {"www", 80},       {"kerberos", 88},
    {"pop3", 110},      {"sunrpc", 111},  {"ntp", 123},      {"imap", 143},
    {"imap2", 143},     {"snmp", 161},    {"ldap", 389},     {"https", 443},
    {"submissions", 465}, {"smtps", 465}, {"syslog", 514},   {"submission", 587},
    {"ldaps", 636},     {"imaps", 993},   {"pop3s", 995},    {"openvpn", 1194},
    {"dhcpv6-client", 546}, {"dhcpv6-server", 547},
}};

constexpr IcmpTypeName kAnyCode(std::string_view n, uint8_t type) { return {n, type, 0, 0xff}; }
constexpr IcmpTypeName kOneCode(std::string_view n, uint8_t type, uint8_t code) {
  return {n, type, code, code};
}

constexpr std::array<IcmpTypeName, 42> kIcmpTypes{{
    {"any", 0xff, 0, 0xff},  // the parser turns this into IcmpTypeMatch::any_type
    kAnyCode("echo-reply", 0),
    kAnyCode("pong", 0),
    kAnyCode("destination-unreachable", 3),
    kOneCode("network-unreachable", 3, 0),
    kOneCode("host-unreachable", 3, 1),
    kOneCode("protocol-unreachable", 3, 2),
    kOneCode("port-unreachable", 3, 3),
    kOneCode("fragmentation-needed", 3, 4),
    kOneCode("source-route-failed", 3, 5),
    kOneCode("network-unknown", 3, 6),
    kOneCode("host-unknown", 3, 7),
    kOneCode("network-prohibited", 3, 9),
    kOneCode("host-prohibited", 3, 10),
    kOneCode("TOS-network-unreachable", 3, 11),
    kOneCode("TOS-host-unreachable", 3, 12),
    kOneCode("communication-prohibited", 3, 13),
    kOneCode("host-precedence-violation", 3, 14),
    kOneCode("precedence-cutoff", 3, 15),
    kAnyCode("source-quench", 4),
    kAnyCode("redirect", 5),
    kOneCode("network-redirect", 5, 0),
    kOneCode("host-redirect", 5, 1),
    kOneCode("TOS-network-redirect", 5, 2),
    kOneCode("TOS-host-redirect", 5, 3),
    kAnyCode("echo-request", 8),
    kAnyCode("ping", 8),
    kAnyCode("router-advertisement", 9),
    kAnyCode("router-solicitation", 10),
    kAnyCode("time-exceeded", 11),
    kAnyCode("ttl-exceeded", 11),
    kOneCode("ttl-zero-during-transit", 11, 0),
    kOneCode("ttl-zero-during-reassembly", 11, 1),
    kAnyCode("parameter-problem", 12),
    kOneCode("ip-header-bad", 12, 0),
    kOneCode("required-option-missing", 12, 1),
    kAnyCode("timestamp-request", 13),
    kAnyCode("timestamp-reply", 14),
    kAnyCode("address-mask-request", 17),
    kAnyCode("address-mask-reply", 18),
    kAnyCode("information-request", 15),
    kAnyCode("information-reply", 16),
}};

constexpr std::array<IcmpTypeName, 31> kIcmp6Types{{
    kAnyCode("destination-unreachable", 1),
    kOneCode("no-route", 1, 0),
    kOneCode("communication-prohibited", 1, 1),
    kOneCode("beyond-scope", 1, 2),
    kOneCode("address-unreachable", 1, 3),
    kOneCode("port-unreachable", 1, 4),
    kOneCode("failed-policy", 1, 5),
    kOneCode("reject-route", 1, 6),
    kAnyCode("packet-too-big", 2),
    kAnyCode("time-exceeded", 3),
    kAnyCode("ttl-exceeded", 3),
    kOneCode("ttl-zero-during-transit", 3, 0),
    kOneCode("ttl-zero-during-reassembly", 3, 1),
    kAnyCode("parameter-problem", 4),
    kOneCode("bad-header", 4, 0),
    kOneCode("unknown-header-type", 4, 1),
    kOneCode("unknown-option", 4, 2),
    kAnyCode("echo-request", 128),
    kAnyCode("ping", 128),
    kAnyCode("echo-reply", 129),
    kAnyCode("pong", 129),
    kAnyCode("mld-listener-query", 130),
    kAnyCode("mld-listener-report", 131),
    kAnyCode("mld-listener-done", 132),
    kAnyCode("router-solicitation", 133),
    kAnyCode("router-advertisement", 134),
    kAnyCode("neighbour-solicitation", 135),
    kAnyCode("neighbor-solicitation", 135),
    kAnyCode("neighbour-advertisement", 136),
    kAnyCode("neighbor-advertisement", 136),
    kAnyCode("redirect", 137),
}};

// {accepted spelling, canonical spelling}
constexpr std::array<Named<std::string_view>, 16> kRejectV4{{
    {"icmp-net-unreachable", "icmp-net-unreachable"},
    {"net-unreach", "icmp-net-unreachable"},
    {"icmp-host-unreachable", "icmp-host-unreachable"},
    {"host-unreach", "icmp-host-unreachable"},
    {"icmp-port-unreachable", "icmp-port-unreachable"},
    {"port-unreach", "icmp-port-unreachable"},
    {"icmp-proto-unreachable", "icmp-proto-unreachable"},
    {"proto-unreach", "icmp-proto-unreachable"},
    {"icmp-net-prohibited", "icmp-net-prohibited"},
    {"net-prohib", "icmp-net-prohibited"},
    {"icmp-host-prohibited", "icmp-host-prohibited"},
    {"host-prohib", "icmp-host-prohibited"},
    {"icmp-admin-prohibited", "icmp-admin-prohibited"},
    {"admin-prohib", "icmp-admin-prohibited"},
    {"tcp-reset", "tcp-reset"},
    {"tcp-rst", "tcp-reset"},
}};

constexpr std::array<Named<std::string_view>, 14> kRejectV6{{
    {"icmp6-no-route", "icmp6-no-route"},
    {"no-route", "icmp6-no-route"},
    {"icmp6-adm-prohibited", "icmp6-adm-prohibited"},
    {"adm-prohibited", "icmp6-adm-prohibited"},
    {"icmp6-addr-unreachable", "icmp6-addr-unreachable"},
    {"addr-unreach", "icmp6-addr-unreachable"},
    {"icmp6-port-unreachable", "icmp6-port-unreachable"},
    {"port-unreach", "icmp6-port-unreachable"},
    {"icmp6-policy-fail", "icmp6-policy-fail"},
    {"policy-fail", "icmp6-policy-fail"},
    {"icmp6-reject-route", "icmp6-reject-route"},
    {"reject-route", "icmp6-reject-route"},
    {"tcp-reset", "tcp-reset"},
    {"tcp-rst", "tcp-reset"},
}};

constexpr std::array<Named<uint8_t>, 10> kLogLevels{{
    {"emerg", 0}, {"panic", 0}, {"alert", 1}, {"crit", 2}, {"error", 3},
    {"err", 3},   {"warning", 4}, {"notice", 5}, {"info", 6}, {"debug", 7},
}};

constexpr std::array<Named<uint8_t>, 8> kTcpFlags{{
    {"FIN", kTcpFin}, {"SYN", kTcpSyn}, {"RST", kTcpRst}, {"PSH", kTcpPsh},
    {"ACK", kTcpAck}, {"URG", kTcpUrg},
    {"ALL", kTcpFin | kTcpSyn | kTcpRst | kTcpPsh | kTcpAck | kTcpUrg}, {"NONE", 0},
}};

char lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::optional<uint8_t> protocol_by_name(std::string_view name) { return lookup(kProtocols, name); }

std::optional<uint16_t> service_port(std::string_view name) { return lookup(kServices, name); }

std::optional<IcmpTypeName> icmp_type_by_name(std::string_view name, Family family) {
  if (family == Family::Ipv4) {
    for (const auto& e : kIcmpTypes)
      if (iequals(e.name, name)) return e;
  } else {
    for (const auto& e : kIcmp6Types)
      if (iequals(e.name, name)) return e;
  }
  return std::nullopt;
}

std::optional<std::string_view> reject_with_canonical(std::string_view name, Family family) {
  return family == Family::Ipv4 ? lookup(kRejectV4, name) : lookup(kRejectV6, name);
}

std::string_view reject_with_default(Family family) {
  return family == Family::Ipv4 ? "icmp-port-unreachable" : "icmp6-port-unreachable";
}

std::optional<uint8_t> log_level_by_name(std::string_view name) {
  uint8_t level = 0;
  const auto* end = name.data() + name.size();
  if (auto [p, ec] = std::from_chars(name.data(), end, level); ec == std::errc{} && p == end)
    return level <= 7 ? std::optional<uint8_t>(level) : std::nullopt;
  return lookup(kLogLevels, name);
}

std::optional<uint8_t> tcp_flag_by_name(std::string_view name) { return lookup(kTcpFlags, name); }

}  // namespace tapwall::control
