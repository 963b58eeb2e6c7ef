// Outcome formatting; see outcome_format.hpp.
#include "tapwall/outcome_format.hpp"

#include <cstdio>

#include "tapwall/decoded.hpp"

namespace tapwall::control {

std::string json_escape(const std::string& s) {
  std::string r = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': r += "\\\""; break;
      case '\\': r += "\\\\"; break;
      case '\n': r += "\\n"; break;
      case '\t': r += "\\t"; break;
      case '\r': r += "\\r"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          r += buf;
        } else {
          r += static_cast<char>(c);
        }
    }
  }
  return r + "\"";
}

std::string json_string_or_null(const std::string& s) { return s.empty() ? "null" : json_escape(s); }

std::string rule_ref(const CompiledPolicy& p, int32_t rule) {
  if (rule == kNoRule) return {};
  return p.rule(rule).loc.to_string();
}

std::string rule_json(const CompiledPolicy& p, int32_t id) {
  const RuleInfo& r = p.rule(id);
  const RuleCounter& c = p.counter(id);
  return "{\"id\":" + std::to_string(id) + ",\"family\":" +
         json_escape(r.family == Family::Ipv4 ? "ipv4" : "ipv6") + ",\"chain\":" +
         json_escape(r.chain) + ",\"rule\":" + json_escape(r.loc.to_string()) +
         ",\"text\":" + json_escape(r.text) + ",\"policy\":" + (r.is_policy ? "true" : "false") +
         ",\"packets\":" + std::to_string(c.packets.load(std::memory_order_relaxed)) +
         ",\"bytes\":" + std::to_string(c.bytes.load(std::memory_order_relaxed)) + "}";
}

bool has_drop(const FrameOutcome& o) {
  if (o.reason != DropReason::None) return true;
  for (uint8_t i = 0; i < o.n_per; ++i)
    if (!o.per[i].accept) return true;
  return o.to == 0;
}

namespace {

// Top-level rule/reason: the first drop if there was one, else the first accept.
const PortVerdict* deciding_verdict(const FrameOutcome& o) {
  for (uint8_t i = 0; i < o.n_per; ++i)
    if (!o.per[i].accept) return &o.per[i];
  return o.n_per ? &o.per[0] : nullptr;
}

std::string ct_json(CtState s) {
  return s == CtState::None ? "null" : json_escape(std::string(ct_state_name(s)));
}

}  // namespace

std::string verdict_json(const FrameOutcome& o, const std::vector<PortDesc>& ports,
                         const CompiledPolicy& policy, uint64_t frame_number) {
  std::string j = "{\"in\":" + json_escape(ports[o.in].name) + ",\"n\":" +
                  std::to_string(frame_number) + ",\"to\":[";
  bool first = true;
  for (std::size_t p = 0; p < ports.size(); ++p) {
    if (!(o.to & (PortMask{1} << p))) continue;
    if (!first) j += ',';
    first = false;
    j += json_escape(ports[p].name);
  }
  j += "],\"verdict\":";
  j += o.to ? "\"forward\"" : "\"drop\"";
  j += ",\"ct\":" + ct_json(o.ct);
  std::string reason, rule;
  if (o.reason != DropReason::None) {
    reason = std::string(drop_reason_name(o.reason));
  } else if (const PortVerdict* v = deciding_verdict(o)) {
    if (!v->accept) reason = std::string(drop_reason_name(v->reason));
    rule = rule_ref(policy, v->rule);
  }
  j += ",\"reason\":" + json_string_or_null(reason);
  j += ",\"rule\":" + json_string_or_null(rule);
  j += ",\"per\":[";
  for (uint8_t i = 0; i < o.n_per; ++i) {
    const PortVerdict& v = o.per[i];
    if (i) j += ',';
    j += "{\"port\":" + json_escape(ports[v.port].name) + ",\"verdict\":" +
         (v.accept ? "\"accept\"" : "\"drop\"") +
         ",\"rule\":" + json_string_or_null(rule_ref(policy, v.rule)) + ",\"reason\":" +
         (v.accept ? "null" : json_escape(std::string(drop_reason_name(v.reason)))) + "}";
  }
  j += "]}";
  return j;
}

std::string drop_comment(const FrameOutcome& o, const std::vector<PortDesc>& ports,
                         const CompiledPolicy& policy) {
  std::string ct = o.ct == CtState::None ? "-" : std::string(ct_state_name(o.ct));
  auto line = [&](DropReason r, int32_t rule, const std::string& out) {
    std::string s = "drop reason=" + std::string(drop_reason_name(r));
    if (rule != kNoRule) {
      const RuleInfo& ri = policy.rule(rule);
      s += " rule=" + ri.loc.to_string() + " chain=" + ri.chain;
    } else {
      s += " rule=-";
    }
    s += " ct=" + ct + " in=" + ports[o.in].name + " out=" + out;
    if (rule != kNoRule) s += " text=\"" + policy.rule(rule).text + "\"";
    return s;
  };
  if (o.reason != DropReason::None) return line(o.reason, kNoRule, "-");
  std::string c;
  for (uint8_t i = 0; i < o.n_per; ++i) {
    const PortVerdict& v = o.per[i];
    if (v.accept) continue;
    if (!c.empty()) c += '\n';
    c += line(v.reason, v.rule, ports[v.port].name);
  }
  return c;
}

std::string record_comment(const FrameOutcome& o, const std::vector<PortDesc>& ports,
                           const CompiledPolicy& policy) {
  if (has_drop(o)) return drop_comment(o, ports, policy);
  std::string to;
  for (std::size_t p = 0; p < ports.size(); ++p)
    if (o.to & (PortMask{1} << p)) to += (to.empty() ? "" : ",") + ports[p].name;
  std::string rule = o.n_per ? rule_ref(policy, o.per[0].rule) : "";
  return "accept to=" + to + " ct=" + (o.ct == CtState::None ? "-" : std::string(ct_state_name(o.ct))) +
         " in=" + ports[o.in].name + " rule=" + (rule.empty() ? "-" : rule);
}

std::string frame_summary(std::span<const uint8_t> frame) {
  Decoded d;
  DropReason r = decode_frame(frame, d);
  if (r != DropReason::None) return "malformed (" + std::string(drop_reason_name(r)) + ")";
  std::string s;
  if (d.vlan_count) s += "vlan " + std::to_string(d.vlan) + " ";
  switch (d.l3) {
    case L3Kind::Arp: return s + "arp " + d.src_mac.to_string() + " > " + d.dst_mac.to_string();
    case L3Kind::Other: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "ethertype 0x%04x ", d.ethertype);
      return s + buf + d.src_mac.to_string() + " > " + d.dst_mac.to_string();
    }
    default: break;
  }
  bool v6 = d.l3 == L3Kind::Ipv6;
  auto addr = [&](const IpAddr& a, uint16_t port, bool with_port) {
    std::string t = a.to_string();
    if (!with_port) return t;
    return (v6 ? "[" + t + "]" : t) + ":" + std::to_string(port);
  };
  bool ports = d.l4_ok && (d.ip_proto == kProtoTcp || d.ip_proto == kProtoUdp);
  std::string proto;
  switch (d.ip_proto) {
    case kProtoTcp: proto = "tcp"; break;
    case kProtoUdp: proto = "udp"; break;
    case kProtoIcmp: proto = "icmp"; break;
    case kProtoIcmpv6: proto = "icmpv6"; break;
    default: proto = "proto " + std::to_string(d.ip_proto);
  }
  s += proto + " " + addr(d.src_ip, d.sport, ports) + " > " + addr(d.dst_ip, d.dport, ports);
  if (d.ip_proto == kProtoTcp && d.l4_ok) {
    static constexpr char kFlags[] = "FSRPAUEC";
    s += " [";
    for (int b = 0; b < 8; ++b)
      if (d.tcp_flags & (1 << b)) s += kFlags[b];
    s += "]";
  }
  if ((d.ip_proto == kProtoIcmp || d.ip_proto == kProtoIcmpv6) && d.l4_ok)
    s += " type " + std::to_string(d.icmp_type) + " code " + std::to_string(d.icmp_code);
  if (d.is_fragment) s += " frag off " + std::to_string(d.frag_offset) + (d.more_fragments ? " MF" : "");
  return s;
}

}  // namespace tapwall::control
