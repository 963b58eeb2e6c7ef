// Test helpers for the policy module: hand-built Decoded packets and RuleSets, so policy
// tests depend neither on the decoder nor on the rules parser.
// Thread-safety: test-only, single-threaded.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "tapwall/policy.hpp"

namespace tapwall::testing {

inline IpAddr v4(const char* dotted) {
  unsigned a, b, c, d;
  if (std::sscanf(dotted, "%u.%u.%u.%u", &a, &b, &c, &d) != 4) ADD_FAILURE() << dotted;
  return IpAddr::from_v4_host((a << 24) | (b << 16) | (c << 8) | d);
}

// "2001:db8::1"-style, only the forms tests use: groups, at most one "::".
inline IpAddr v6(const std::string& text) {
  std::vector<uint16_t> head, tail;
  bool after = false;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 2, "::") == 0) {
      after = true;
      i += 2;
      continue;
    }
    std::size_t j = text.find(':', i);
    if (j == std::string::npos) j = text.size();
    uint16_t g = uint16_t(std::stoul(text.substr(i, j - i), nullptr, 16));
    (after ? tail : head).push_back(g);
    i = j;
    if (i < text.size() && text.compare(i, 2, "::") != 0) ++i;
  }
  IpAddr a;
  for (std::size_t k = 0; k < head.size(); ++k) store_be16(&a.b[2 * k], head[k]);
  for (std::size_t k = 0; k < tail.size(); ++k)
    store_be16(&a.b[16 - 2 * (tail.size() - k)], tail[k]);
  return a;
}

inline MacAddr mac(uint8_t last) { return MacAddr{{0x02, 0, 0, 0, 0, last}}; }

inline Decoded ip_packet(L3Kind l3, IpAddr src, IpAddr dst, uint8_t proto) {
  Decoded d;
  d.l3 = l3;
  d.ethertype = l3 == L3Kind::Ipv4 ? kEthTypeIpv4 : kEthTypeIpv6;
  d.src_ip = src;
  d.dst_ip = dst;
  d.ip_proto = proto;
  d.src_mac = mac(1);
  d.dst_mac = mac(2);
  d.ttl = 64;
  return d;
}

inline Decoded tcp4(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                    uint8_t flags = kTcpSyn) {
  Decoded d = ip_packet(L3Kind::Ipv4, v4(src), v4(dst), kProtoTcp);
  d.l4_ok = true;
  d.sport = sport;
  d.dport = dport;
  d.tcp_flags = flags;
  return d;
}

inline Decoded udp4(const char* src, const char* dst, uint16_t sport, uint16_t dport) {
  Decoded d = ip_packet(L3Kind::Ipv4, v4(src), v4(dst), kProtoUdp);
  d.l4_ok = true;
  d.sport = sport;
  d.dport = dport;
  return d;
}

inline Decoded icmp4(const char* src, const char* dst, uint8_t type, uint8_t code) {
  Decoded d = ip_packet(L3Kind::Ipv4, v4(src), v4(dst), kProtoIcmp);
  d.l4_ok = true;
  d.icmp_type = type;
  d.icmp_code = code;
  return d;
}

inline Decoded tcp6(const std::string& src, const std::string& dst, uint16_t sport,
                    uint16_t dport) {
  Decoded d = ip_packet(L3Kind::Ipv6, v6(src), v6(dst), kProtoTcp);
  d.l4_ok = true;
  d.sport = sport;
  d.dport = dport;
  d.tcp_flags = kTcpSyn;
  return d;
}

inline Rule rule(std::string text, std::vector<Match> matches, TargetKind target,
                 std::string jump = "") {
  Rule r;
  r.loc = SourceLoc{"test.rules", 1};
  r.text = std::move(text);
  r.matches = std::move(matches);
  r.target = target;
  r.jump_chain = std::move(jump);
  return r;
}

inline Rule proto_rule(std::string text, uint8_t proto, std::vector<Match> matches,
                       TargetKind target, std::string jump = "") {
  Rule r = rule(std::move(text), std::move(matches), target, std::move(jump));
  r.proto = ProtoMatch{proto, false};
  return r;
}

inline PortMatch dport(uint16_t lo, uint16_t hi, bool neg = false) {
  return PortMatch{PortMatch::Field::Dst, {{lo, hi}}, neg};
}
inline PortMatch sport(uint16_t lo, uint16_t hi, bool neg = false) {
  return PortMatch{PortMatch::Field::Src, {{lo, hi}}, neg};
}
inline AddrMatch src_cidr(IpAddr a, uint8_t prefix, bool neg = false) {
  return AddrMatch{AddrMatch::Field::Src, Cidr{a, prefix}, neg};
}
inline AddrMatch dst_cidr(IpAddr a, uint8_t prefix, bool neg = false) {
  return AddrMatch{AddrMatch::Field::Dst, Cidr{a, prefix}, neg};
}
inline PhysdevMatch physdev_in(std::string name, bool wildcard = false, bool neg = false) {
  PhysdevMatch m;
  m.in = IfacePattern{std::move(name), wildcard};
  m.in_negated = neg;
  return m;
}
inline PhysdevMatch physdev_out(std::string name, bool wildcard = false, bool neg = false) {
  PhysdevMatch m;
  m.out = IfacePattern{std::move(name), wildcard};
  m.out_negated = neg;
  return m;
}
inline StateMatch state(CtStateMask mask, bool neg = false) { return StateMatch{mask, neg}; }

// A RuleSet with INPUT, FORWARD, OUTPUT (FORWARD's policy given) and optional user chains.
inline RuleSet ruleset(Family f, PolicyVerdict forward_policy) {
  RuleSet rs;
  rs.family = f;
  rs.path = f == Family::Ipv4 ? "test.rules" : "test6.rules";
  for (const char* n : {"INPUT", "FORWARD", "OUTPUT"}) {
    Chain c;
    c.name = n;
    c.builtin = true;
    c.policy = std::string(n) == "FORWARD" ? forward_policy : PolicyVerdict::Accept;
    c.policy_loc = SourceLoc{rs.path, 1};
    rs.chains.push_back(std::move(c));
  }
  return rs;
}

inline Chain& chain(RuleSet& rs, const std::string& name) {
  for (auto& c : rs.chains)
    if (c.name == name) return c;
  Chain c;
  c.name = name;
  rs.chains.push_back(std::move(c));
  return rs.chains.back();
}

inline std::vector<PortDesc> two_ports() {
  return {PortDesc{"eth0", PortRole::Uplink}, PortDesc{"tap0", PortRole::Vm}};
}

inline std::shared_ptr<const CompiledPolicy> compile_ok(const RuleSet* v4rs, const RuleSet* v6rs,
                                                        const std::vector<PortDesc>& ports) {
  auto r = CompiledPolicy::compile(v4rs, v6rs, ports, 1);
  if (auto* e = std::get_if<ConfigError>(&r)) {
    ADD_FAILURE() << e->to_string();
    return nullptr;
  }
  return std::get<std::shared_ptr<const CompiledPolicy>>(r);
}

inline PolicyQuery query(const Decoded& d, CtState ct, PortId in, PortId out,
                         uint32_t bytes = 100) {
  PolicyQuery q;
  q.pkt = &d;
  q.ct = ct;
  q.in = in;
  q.out = out;
  q.bytes = bytes;
  return q;
}

// Global id of rule `index` in chain `name` of the IPv4 RuleSet (compile numbering).
inline int32_t rule_id(const RuleSet& rs, const std::string& name, std::size_t index,
                       int32_t base = 0) {
  int32_t id = base;
  for (const Chain& c : rs.chains) {
    if (c.name == name) return id + int32_t(index);
    id += int32_t(c.rules.size()) + (c.builtin ? 1 : 0);
  }
  return kNoRule;
}
inline int32_t policy_id(const RuleSet& rs, const std::string& name, int32_t base = 0) {
  int32_t id = base;
  for (const Chain& c : rs.chains) {
    id += int32_t(c.rules.size());
    if (c.name == name) return id;
    id += c.builtin ? 1 : 0;
  }
  return kNoRule;
}

}  // namespace tapwall::testing
