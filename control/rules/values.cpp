// Option value parsers (see values.hpp). Addresses go through inet_pton so only numeric
// forms are accepted: resolving hostnames at load time would make a policy depend on DNS.
#include "values.hpp"

#include <cctype>
#include <cstdint>

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include "name_tables.hpp"

namespace tapwall::control {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return out;
}

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// Prefix length of a contiguous mask, or -1.
int mask_prefix(const uint8_t* m, int bytes) {
  int len = 0;
  bool ended = false;
  for (int i = 0; i < bytes; ++i) {
    for (int bit = 7; bit >= 0; --bit) {
      const bool set = (m[i] >> bit) & 1;
      if (set && ended) return -1;
      if (set) ++len;
      else ended = true;
    }
  }
  return len;
}

Parsed<Cidr> parse_cidr(std::string_view s, Family family) {
  const bool v4 = family == Family::Ipv4;
  const size_t slash = s.find('/');
  const std::string addr_text(s.substr(0, slash));
  const int bits = v4 ? 32 : 128;
  uint8_t raw[16] = {};
  if (inet_pton(v4 ? AF_INET : AF_INET6, addr_text.c_str(), raw) != 1) {
    uint8_t other[16];
    if (inet_pton(v4 ? AF_INET6 : AF_INET, addr_text.c_str(), other) == 1)
      return quoted(addr_text) + (v4 ? " is an IPv6 address in an IPv4 (iptables) rules file"
                                     : " is an IPv4 address in an IPv6 (ip6tables) rules file");
    return quoted(addr_text) + " is not an " + (v4 ? "IPv4" : "IPv6") +
           " address (hostnames are not supported)";
  }
  int prefix = bits;
  if (slash != std::string_view::npos) {
    const std::string_view mask = s.substr(slash + 1);
    if (auto len = parse_uint(mask, 0, uint32_t(bits)); !failed(len)) {
      prefix = int(std::get<uint32_t>(len));
    } else {
      uint8_t m[16] = {};
      if (inet_pton(v4 ? AF_INET : AF_INET6, std::string(mask).c_str(), m) != 1)
        return "bad prefix length or netmask " + quoted(mask) + " (expected 0-" +
               std::to_string(bits) + (v4 ? " or a dotted netmask)" : ")");
      prefix = mask_prefix(m, bits / 8);
      if (prefix < 0) return "non-contiguous netmask " + quoted(mask) + " is not supported";
    }
  }
  // Clear host bits: iptables stores addr & mask, and so prints and matches.
  for (int i = 0; i < bits / 8; ++i) {
    const int keep = prefix - i * 8;
    if (keep <= 0) raw[i] = 0;
    else if (keep < 8) raw[i] &= uint8_t(0xff << (8 - keep));
  }
  Cidr c;
  c.addr = v4 ? IpAddr::from_v4(raw) : IpAddr::from_v6(raw);
  c.prefix = uint8_t(prefix);
  return c;
}

Parsed<uint16_t> parse_port(std::string_view s) {
  if (s.empty()) return std::string("empty port");
  if (auto n = parse_uint(s, 0, 65535); !failed(n)) return uint16_t(std::get<uint32_t>(n));
  if (s[0] >= '0' && s[0] <= '9') return "port " + quoted(s) + " out of range (0-65535)";
  if (auto p = service_port(s)) return *p;
  return "unknown port name " + quoted(s) + " (use a number)";
}

}  // namespace

Parsed<uint32_t> parse_uint(std::string_view s, uint32_t lo, uint32_t hi) {
  uint32_t v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc{} || p != end) return quoted(s) + " is not a number";
  if (v < lo || v > hi)
    return quoted(s) + " out of range (" + std::to_string(lo) + "-" + std::to_string(hi) + ")";
  return v;
}

Parsed<std::vector<Cidr>> parse_cidr_list(std::string_view s, Family family) {
  std::vector<Cidr> out;
  for (auto part : split(s, ',')) {
    if (part.empty()) return "empty element in address list " + quoted(s);
    auto c = parse_cidr(part, family);
    if (failed(c)) return std::get<std::string>(c);
    out.push_back(std::get<Cidr>(c));
  }
  return out;
}

Parsed<uint32_t> parse_limit_rate(std::string_view s) {
  const std::string bad = "bad rate '" + std::string(s) + "' (expected N/second, N/minute, N/hour or N/day)";
  const size_t slash = s.find('/');
  uint64_t mult = 1;
  if (slash != std::string_view::npos) {
    const std::string_view unit = s.substr(slash + 1);
    auto prefix_of = [&](std::string_view word) {
      if (unit.empty() || unit.size() > word.size()) return false;
      for (size_t i = 0; i < unit.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(unit[i])) != word[i]) return false;
      return true;
    };
    // In iptables' order: "m" is a minute.
    if (prefix_of("second")) mult = 1;
    else if (prefix_of("minute")) mult = 60;
    else if (prefix_of("hour")) mult = 60 * 60;
    else if (prefix_of("day")) mult = 24 * 60 * 60;
    else return bad;
  }
  const auto n = parse_uint(s.substr(0, slash), 1, UINT32_MAX);
  if (failed(n)) return bad;
  const uint64_t avg = LimitMatch::kScale * mult / std::get<uint32_t>(n);
  if (avg == 0) return "rate too fast '" + std::string(s) + "' (at most 10000/second)";
  return uint32_t(avg);
}

Parsed<std::pair<uint32_t, uint32_t>> parse_length_range(std::string_view s) {
  const std::string bad = "bad --length '" + std::string(s) + "' (expected LENGTH[:LENGTH], 0-65535)";
  // An empty end is open: 0 below, 65535 above.
  auto end = [](std::string_view t, uint32_t open) -> Parsed<uint32_t> {
    return t.empty() ? Parsed<uint32_t>{open} : parse_uint(t, 0, 0xffff);
  };
  const size_t colon = s.find(':');
  if (colon == std::string_view::npos) {
    const auto n = parse_uint(s, 0, 0xffff);
    if (failed(n)) return bad;
    return std::pair{std::get<uint32_t>(n), std::get<uint32_t>(n)};
  }
  const auto lo = end(s.substr(0, colon), 0), hi = end(s.substr(colon + 1), 0xffff);
  if (s.size() == 1 || failed(lo) || failed(hi)) return bad;
  return std::pair{std::get<uint32_t>(lo), std::get<uint32_t>(hi)};
}

Parsed<uint32_t> parse_limit_burst(std::string_view s) {
  const auto n = parse_uint(s, 0, 10000);
  if (failed(n)) return "bad --limit-burst '" + std::string(s) + "' (0-10000)";
  return n;
}

Parsed<std::pair<IpAddr, IpAddr>> parse_ip_range(std::string_view s, Family family) {
  const bool v4 = family == Family::Ipv4;
  auto one = [&](std::string_view a) -> Parsed<IpAddr> {
    uint8_t raw[16] = {};
    if (a.empty() || inet_pton(v4 ? AF_INET : AF_INET6, std::string(a).c_str(), raw) != 1)
      return "bad " + std::string(v4 ? "IPv4" : "IPv6") + " address " + quoted(a) + " in range " +
             quoted(s);
    return v4 ? IpAddr::from_v4(raw) : IpAddr::from_v6(raw);
  };
  const size_t dash = s.find('-');
  auto lo = one(s.substr(0, dash));
  if (failed(lo)) return std::get<std::string>(lo);
  if (dash == std::string_view::npos) return std::pair{std::get<IpAddr>(lo), std::get<IpAddr>(lo)};
  auto hi = one(s.substr(dash + 1));
  if (failed(hi)) return std::get<std::string>(hi);
  return std::pair{std::get<IpAddr>(lo), std::get<IpAddr>(hi)};
}

Parsed<uint8_t> parse_protocol(std::string_view s) {
  if (auto n = parse_uint(s, 0, 255); !failed(n)) return uint8_t(std::get<uint32_t>(n));
  if (auto p = protocol_by_name(s)) return *p;
  return "unknown protocol " + quoted(s);
}

Parsed<PortRange> parse_port_range(std::string_view s) {
  PortRange r;
  const size_t colon = s.find(':');
  if (colon == std::string_view::npos) {
    auto p = parse_port(s);
    if (failed(p)) return std::get<std::string>(p);
    r.lo = r.hi = std::get<uint16_t>(p);
    return r;
  }
  const auto lo = s.substr(0, colon), hi = s.substr(colon + 1);
  if (!lo.empty()) {
    auto p = parse_port(lo);
    if (failed(p)) return std::get<std::string>(p);
    r.lo = std::get<uint16_t>(p);
  }
  if (!hi.empty()) {
    auto p = parse_port(hi);
    if (failed(p)) return std::get<std::string>(p);
    r.hi = std::get<uint16_t>(p);
  }
  if (r.lo > r.hi) return "invalid port range " + quoted(s) + " (min > max)";
  return r;
}

Parsed<std::vector<PortRange>> parse_port_list(std::string_view s) {
  constexpr int kMaxPorts = 15;  // XT_MULTI_PORTS
  std::vector<PortRange> out;
  int used = 0;
  for (auto part : split(s, ',')) {
    PortRange r;
    const size_t colon = part.find(':');
    if (colon == std::string_view::npos) {
      auto p = parse_port(part);
      if (failed(p)) return std::get<std::string>(p);
      r.lo = r.hi = std::get<uint16_t>(p);
      used += 1;
    } else {
      auto lo = parse_port(part.substr(0, colon));
      if (failed(lo)) return std::get<std::string>(lo);
      auto hi = parse_port(part.substr(colon + 1));
      if (failed(hi)) return std::get<std::string>(hi);
      r.lo = std::get<uint16_t>(lo);
      r.hi = std::get<uint16_t>(hi);
      if (r.lo > r.hi) return "invalid port range " + quoted(part) + " (min > max)";
      used += 2;
    }
    if (used > kMaxPorts)
      return "too many ports in " + quoted(s) + " (at most 15, a range counting as two)";
    out.push_back(r);
  }
  return out;
}

Parsed<IcmpTypeMatch> parse_icmp_type(std::string_view s, Family family) {
  IcmpTypeMatch m;
  if (auto named = icmp_type_by_name(s, family)) {
    if (named->name == "any") {
      m.any_type = true;
      return m;
    }
    m.type = named->type;
    m.code_lo = named->code_lo;
    m.code_hi = named->code_hi;
    return m;
  }
  const size_t slash = s.find('/');
  auto type = parse_uint(s.substr(0, slash), 0, 255);
  if (failed(type))
    return "unknown " + std::string(family == Family::Ipv4 ? "ICMP" : "ICMPv6") + " type " +
           quoted(s);
  m.type = uint8_t(std::get<uint32_t>(type));
  if (slash != std::string_view::npos) {
    auto code = parse_uint(s.substr(slash + 1), 0, 255);
    if (failed(code)) return "bad ICMP code in " + quoted(s) + ": " + std::get<std::string>(code);
    m.code_lo = m.code_hi = uint8_t(std::get<uint32_t>(code));
  }
  return m;
}

Parsed<MacAddr> parse_mac(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  MacAddr mac;
  bool ok = s.size() == 17;
  for (size_t i = 0; ok && i < 6; ++i) {
    const int hi = hex(s[i * 3]), lo = hex(s[i * 3 + 1]);
    ok = hi >= 0 && lo >= 0 && (i == 5 || s[i * 3 + 2] == ':');
    if (ok) mac.b[i] = uint8_t(hi << 4 | lo);
  }
  if (!ok) return "bad MAC address " + quoted(s) + " (expected XX:XX:XX:XX:XX:XX)";
  return mac;
}

Parsed<CtStateMask> parse_state_list(std::string_view s) {
  CtStateMask mask = 0;
  for (auto part : split(s, ',')) {
    if (iequals(part, "NEW")) mask |= ct_bit(CtState::New);
    else if (iequals(part, "ESTABLISHED")) mask |= ct_bit(CtState::Established);
    else if (iequals(part, "RELATED")) mask |= ct_bit(CtState::Related);
    else if (iequals(part, "INVALID")) mask |= ct_bit(CtState::Invalid);
    else if (iequals(part, "UNTRACKED")) mask |= ct_bit(CtState::Untracked);
    else if (iequals(part, "SNAT") || iequals(part, "DNAT"))
      return "conntrack state " + quoted(part) + " is not supported (tapwall does no NAT)";
    else return "unknown conntrack state " + quoted(part);
  }
  return mask;
}

Parsed<IfacePattern> parse_iface(std::string_view s) {
  constexpr size_t kMaxName = 15;  // IFNAMSIZ - 1
  IfacePattern p;
  p.wildcard = !s.empty() && s.back() == '+';
  const std::string_view name = p.wildcard ? s.substr(0, s.size() - 1) : s;
  if (s.empty()) return std::string("empty interface name");
  if (s.size() > kMaxName) return "interface name " + quoted(s) + " longer than 15 characters";
  for (char c : name)
    if (c == '/' || c == '+' || c == ' ' || c == '\t' || c == ':')
      return "bad interface name " + quoted(s);
  p.name = std::string(name);
  return p;
}

Parsed<uint8_t> parse_tcp_flag_list(std::string_view s) {
  uint8_t flags = 0;
  for (auto part : split(s, ',')) {
    auto f = tcp_flag_by_name(part);
    if (!f) return "unknown TCP flag " + quoted(part) + " (FIN, SYN, RST, PSH, ACK, URG, ALL, NONE)";
    flags |= *f;
  }
  return flags;
}

}  // namespace tapwall::control
