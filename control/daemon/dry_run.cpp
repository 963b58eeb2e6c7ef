// Reload dry-run; see dry_run.hpp.
#include "dry_run.hpp"

#include <memory>

#include "tapwall/outcome_format.hpp"

namespace tapwall::control {

namespace {

// A packet of the flow in one direction, as the policy sees it.
Decoded flow_packet(const CtEntryView& v, bool reply) {
  Decoded d;
  bool v4 = v.orig_src.is_v4_mapped();
  d.l3 = v4 ? L3Kind::Ipv4 : L3Kind::Ipv6;
  d.ethertype = v4 ? kEthTypeIpv4 : kEthTypeIpv6;
  d.ip_proto = v.proto;
  d.src_ip = reply ? v.orig_dst : v.orig_src;
  d.dst_ip = reply ? v.orig_src : v.orig_dst;
  d.l4_ok = true;
  if (v.proto == kProtoTcp || v.proto == kProtoUdp) {
    d.sport = reply ? v.orig_dport : v.orig_sport;
    d.dport = reply ? v.orig_sport : v.orig_dport;
    d.tcp_flags = kTcpAck;
  } else if (v.proto == kProtoIcmp || v.proto == kProtoIcmpv6) {
    bool icmp4 = v.proto == kProtoIcmp;
    d.icmp_type = reply ? (icmp4 ? 0 : 129) : (icmp4 ? 8 : 128);
    d.icmp_id = v.orig_sport;
  }
  return d;
}

}  // namespace

std::string dry_run_changes(std::span<const CtEntryView> flows, const CompiledPolicy& current,
                            const CompiledPolicy& next, const std::vector<PortDesc>& ports) {
  // Evaluators over shared_ptr that do not own: the policies outlive this call.
  PolicyEvaluator cur(std::shared_ptr<const CompiledPolicy>(&current, [](const CompiledPolicy*) {}));
  PolicyEvaluator nxt(std::shared_ptr<const CompiledPolicy>(&next, [](const CompiledPolicy*) {}));
  std::string j = "[";
  bool first_flow = true;
  for (const CtEntryView& v : flows) {
    std::string changes;
    for (int dir = 0; dir < 2; ++dir) {
      if (dir == 1 && !v.seen_reply) continue;
      Decoded d = flow_packet(v, dir == 1);
      PolicyQuery q;
      q.pkt = &d;
      q.ct = v.seen_reply ? CtState::Established : CtState::New;
      for (std::size_t in = 0; in < ports.size(); ++in) {
        for (std::size_t out = 0; out < ports.size(); ++out) {
          if (in == out || ports[in].role == PortRole::Host || ports[out].role == PortRole::Host)
            continue;
          q.in = PortId(in);
          q.out = PortId(out);
          PolicyDecision a = cur.decide(q), b = nxt.decide(q);
          if (a.accept == b.accept) continue;
          if (!changes.empty()) changes += ',';
          changes += "{\"dir\":" + std::string(dir ? "\"reply\"" : "\"original\"") +
                     ",\"in\":" + json_escape(ports[in].name) + ",\"out\":" + json_escape(ports[out].name) +
                     ",\"old\":" + (a.accept ? "\"accept\"" : "\"drop\"") +
                     ",\"new\":" + (b.accept ? "\"accept\"" : "\"drop\"") +
                     ",\"old_rule\":" + json_string_or_null(rule_ref(current, a.rule)) +
                     ",\"new_rule\":" + json_string_or_null(rule_ref(next, b.rule)) + "}";
        }
      }
    }
    if (changes.empty()) continue;
    if (!first_flow) j += ',';
    first_flow = false;
    j += "{\"flow\":{\"proto\":" + std::to_string(v.proto) + ",\"src\":" +
         json_escape(v.orig_src.to_string()) + ",\"dst\":" + json_escape(v.orig_dst.to_string()) +
         ",\"sport\":" + std::to_string(v.orig_sport) + ",\"dport\":" + std::to_string(v.orig_dport) +
         ",\"state\":" + json_escape(v.state_name ? v.state_name : "") + "},\"changes\":[" + changes + "]}";
  }
  return j + "]";
}

}  // namespace tapwall::control
