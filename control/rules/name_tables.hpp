// Name tables iptables resolves by name: IP protocols (/etc/protocols), TCP/UDP services,
// ICMP and ICMPv6 type names, REJECT --reject-with values, LOG levels, TCP flag names.
// Purpose: embedded so parsing never depends on the host's /etc files (same input, same
// RuleSet on every machine).
// Invariants: lookups are ASCII case-insensitive where iptables' are; tables are constant.
// Thread-safety: constants and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "tapwall/rule_set.hpp"

namespace tapwall::control {

bool iequals(std::string_view a, std::string_view b);

std::optional<uint8_t> protocol_by_name(std::string_view name);  // "tcp" -> 6, "all" -> 0
std::optional<uint16_t> service_port(std::string_view name);     // "ssh" -> 22

struct IcmpTypeName {
  std::string_view name;
  uint8_t type;
  uint8_t code_lo, code_hi;
};
std::optional<IcmpTypeName> icmp_type_by_name(std::string_view name, Family family);

// Canonical iptables spelling of a --reject-with value (aliases resolved), or nullopt.
std::optional<std::string_view> reject_with_canonical(std::string_view name, Family family);
std::string_view reject_with_default(Family family);

std::optional<uint8_t> log_level_by_name(std::string_view name);  // "warning" -> 4, "4" -> 4

inline constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08,
                         kTcpAck = 0x10, kTcpUrg = 0x20;
// One name of a --tcp-flags list: FIN SYN RST PSH ACK URG ALL NONE.
std::optional<uint8_t> tcp_flag_by_name(std::string_view name);

}  // namespace tapwall::control
