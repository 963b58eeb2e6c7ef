// Test helper: renders parsed rules as short canonical strings, so tests assert exact,
// readable outcomes ("proto=6 dport=1024-65535 -> ACCEPT") and compare RuleSets from
// different formats. Written independently of the parser (no shared code), so a parser bug
// cannot hide itself in its own printer.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "tapwall/rules_parser.hpp"

namespace tapwall::rules_test {

inline std::string ip(const IpAddr& a) {
  char buf[64];
  if (a.is_v4_mapped()) {
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a.b[12], a.b[13], a.b[14], a.b[15]);
    return buf;
  }
  std::string s;
  for (int i = 0; i < 16; i += 2) {
    std::snprintf(buf, sizeof buf, "%s%x", i ? ":" : "", (a.b[i] << 8) | a.b[i + 1]);
    s += buf;
  }
  return s;
}

inline std::string ranges(const std::vector<PortRange>& rs) {
  std::string s;
  for (const auto& r : rs) {
    if (!s.empty()) s += ",";
    s += std::to_string(r.lo);
    if (r.hi != r.lo) s += "-" + std::to_string(r.hi);
  }
  return s;
}

inline std::string neg(bool n) { return n ? "!" : ""; }

inline std::string describe(const Match& m) {
  if (auto* a = std::get_if<AddrMatch>(&m))
    return neg(a->negated) + (a->field == AddrMatch::Field::Src ? "src=" : "dst=") + ip(a->cidr.addr) +
           "/" + std::to_string(a->cidr.prefix);
  if (auto* p = std::get_if<PortMatch>(&m)) {
    const char* f = p->field == PortMatch::Field::Src ? "sport=" : p->field == PortMatch::Field::Dst ? "dport=" : "port=";
    return neg(p->negated) + f + ranges(p->ranges);
  }
  if (auto* i = std::get_if<IcmpTypeMatch>(&m)) {
    if (i->any_type) return neg(i->negated) + "icmp=any";
    std::string s = neg(i->negated) + "icmp=" + std::to_string(i->type);
    if (i->code_lo == 0 && i->code_hi == 255) return s;
    s += "/" + std::to_string(i->code_lo);
    if (i->code_hi != i->code_lo) s += "-" + std::to_string(i->code_hi);
    return s;
  }
  if (auto* st = std::get_if<StateMatch>(&m)) {
    std::string s;
    const std::pair<CtState, const char*> names[] = {{CtState::New, "NEW"}, {CtState::Established, "EST"},
                                                     {CtState::Related, "REL"}, {CtState::Invalid, "INV"},
                                                     {CtState::Untracked, "UNT"}};
    for (auto [bit, name] : names)
      if (st->mask & ct_bit(bit)) s += std::string(s.empty() ? "" : ",") + name;
    return neg(st->negated) + "state=" + s;
  }
  if (auto* p = std::get_if<PhysdevMatch>(&m)) {
    std::string s;
    auto add = [&](const std::string& x) { s += (s.empty() ? "" : ",") + x; };
    if (p->in) add(neg(p->in_negated) + "in=" + p->in->name + (p->in->wildcard ? "+" : ""));
    if (p->out) add(neg(p->out_negated) + "out=" + p->out->name + (p->out->wildcard ? "+" : ""));
    if (p->is_bridged) add(neg(!*p->is_bridged) + "bridged");
    if (p->is_in) add(neg(!*p->is_in) + "is-in");
    if (p->is_out) add(neg(!*p->is_out) + "is-out");
    return "physdev(" + s + ")";
  }
  if (auto* mac = std::get_if<MacMatch>(&m)) {
    char buf[32];
    const auto& b = mac->mac.b;
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
    return neg(mac->negated) + "mac=" + buf;
  }
  if (auto* f = std::get_if<TcpFlagsMatch>(&m)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "flags=0x%02x/0x%02x", f->mask, f->comp);
    return neg(f->negated) + buf;
  }
  if (auto* fr = std::get_if<FragmentMatch>(&m)) return neg(fr->negated) + "frag";
  if (auto* k = std::get_if<PktTypeMatch>(&m))
    return neg(k->negated) + "pkttype=" + std::to_string(k->type);
  if (auto* n = std::get_if<LengthMatch>(&m))
    return neg(n->negated) + "length=" + std::to_string(n->lo) + ":" + std::to_string(n->hi);
  if (auto* l = std::get_if<LimitMatch>(&m))
    return "limit avg=" + std::to_string(l->avg) + " burst=" + std::to_string(l->burst);
  if (auto* i = std::get_if<IfaceMatch>(&m))
    return neg(i->negated) + (i->out ? "out=" : "in=") + i->iface.name + (i->iface.wildcard ? "+" : "");
  if (auto* r = std::get_if<AddrRangeMatch>(&m))
    return neg(r->negated) + (r->field == AddrMatch::Field::Src ? "srcrange=" : "dstrange=") +
           ip(r->lo) + "-" + ip(r->hi);
  return "?";
}

inline std::string describe_target(const Rule& r) {
  switch (r.target) {
    case TargetKind::Accept: return "ACCEPT";
    case TargetKind::Drop: return "DROP";
    case TargetKind::Reject: return "REJECT(" + r.reject_with + ")";
    case TargetKind::Return: return "RETURN";
    case TargetKind::Jump: return "jump " + r.jump_chain;
    case TargetKind::Goto: return "goto " + r.jump_chain;
    case TargetKind::Log: return "LOG(" + r.log_prefix + ")";
    case TargetKind::None: return "none";
  }
  return "?";
}

// sorted=true orders the matches, for comparing sources that order options differently
// (iptables-save prints -s/-d/-p first and a match's options in its own order).
inline std::string describe(const Rule& r, bool sorted = false) {
  std::vector<std::string> parts;
  for (const auto& m : r.matches) parts.push_back(describe(m));
  if (sorted) std::sort(parts.begin(), parts.end());
  std::string s;
  if (r.proto) s = neg(r.proto->negated) + "proto=" + std::to_string(r.proto->proto);
  for (const auto& p : parts) s += (s.empty() ? "" : " ") + p;
  if (!r.comment.empty()) s += (s.empty() ? "" : " ") + std::string("comment=") + r.comment;
  return s + (s.empty() ? "" : " ") + "-> " + describe_target(r);
}

inline std::vector<std::string> describe(const Chain& c, bool sorted = false) {
  std::vector<std::string> out;
  for (const auto& r : c.rules) out.push_back(describe(r, sorted));
  return out;
}

// The tables a source skipped, one "name rules/drop_policies @first_line" each.
inline std::vector<std::string> describe(const std::vector<SkippedTable>& skipped) {
  std::vector<std::string> out;
  for (const SkippedTable& t : skipped)
    out.push_back(t.name + " " + std::to_string(t.rules) + "/" + std::to_string(t.drop_policies) +
                  " @" + std::to_string(t.first_line));
  return out;
}

inline std::string policy(const Chain& c) {
  if (!c.builtin) return "-";
  return c.policy == PolicyVerdict::Accept ? "ACCEPT" : "DROP";
}

// Parses or fails the test with the error text.
inline RuleSet parse_ok(std::string_view text, Family family = Family::Ipv4, const std::string& path = "t.rules") {
  auto r = parse_rules(text, path, family);
  if (auto* e = std::get_if<ConfigError>(&r)) {
    ADD_FAILURE() << "unexpected error: " << e->to_string();
    return RuleSet{};
  }
  return std::get<RuleSet>(std::move(r));
}

inline ConfigError parse_err(std::string_view text, Family family = Family::Ipv4, const std::string& path = "t.rules") {
  auto r = parse_rules(text, path, family);
  if (auto* e = std::get_if<ConfigError>(&r)) return *e;
  ADD_FAILURE() << "expected an error for:\n" << text;
  return ConfigError{};
}

inline std::string fixture(const std::string& name) { return std::string(TAPWALL_SOURCE_DIR) + "/tests/rules/fixtures/" + name; }

// Rules of `chain` in a script made of "iptables " + each line, rendered.
inline std::vector<std::string> rules_of(const RuleSet& rs, const std::string& chain) {
  const Chain* c = rs.find(chain);
  if (!c) {
    ADD_FAILURE() << "no chain " << chain;
    return {};
  }
  return describe(*c);
}

}  // namespace tapwall::rules_test
