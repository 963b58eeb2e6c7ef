// Trace formatting; see include/tapwall/trace_format.hpp. Both forms come from one
// TracePath so they always say the same thing.
#include "tapwall/trace_format.hpp"

#include "tapwall/outcome_format.hpp"

namespace tapwall::control {

namespace {

struct TracedPort {
  PortId port;
  bool judged;
  const PortVerdict* verdict;  // null when not judged
  std::vector<PolicyTraceStep> steps;
  std::string not_judged_why;
};

struct TracePath {
  std::string frame;      // one-line summary
  std::string decode;     // "ok" or the drop reason
  std::string l2;         // where it was headed and why
  std::vector<TracedPort> ports;
};

TracePath build(const FrameOutcome& o, const std::vector<PortDesc>& ports, const CompiledPolicy& policy) {
  TracePath t;
  t.frame = frame_summary(o.bytes);
  Decoded d;
  DropReason dr = decode_frame(o.bytes, d);
  t.decode = dr == DropReason::None ? "ok" : std::string(drop_reason_name(dr));
  if (dr == DropReason::None) {
    t.l2 = "src " + d.src_mac.to_string() + " learned on " + ports[o.in].name + "; dst " +
           d.dst_mac.to_string() +
           (d.dst_mac.is_broadcast() ? " (broadcast: flood)" : d.dst_mac.is_multicast() ? " (multicast: flood)" : "");
  }
  const bool ip = dr == DropReason::None && (d.l3 == L3Kind::Ipv4 || d.l3 == L3Kind::Ipv6);
  PortMask seen = 0;
  for (uint8_t i = 0; i < o.n_per; ++i) {
    const PortVerdict& v = o.per[i];
    TracedPort tp{v.port, true, &v, {}, {}};
    seen |= PortMask{1} << v.port;
    bool host = ports[o.in].role == PortRole::Host || ports[v.port].role == PortRole::Host;
    if (host) {
      tp.judged = false;
      tp.not_judged_why = "host port: the kernel's INPUT/OUTPUT filter it, not FORWARD";
    } else if (dr == DropReason::None && !ip) {
      // A copy the bridge failed to send (the only verdict a non-IP frame can have).
      tp.judged = false;
      tp.not_judged_why = "not IP: iptables does not see it";
    } else if (ip) {
      PolicyQuery q;
      q.pkt = &d;
      q.ct = o.ct;
      q.in = o.in;
      q.out = v.port;
      q.bytes = uint32_t(o.bytes.size());
      q.now_ns = o.ts_ns;  // a limit is shown as it stands at the frame's time
      tp.steps = policy.trace(q);
    }
    t.ports.push_back(std::move(tp));
  }
  for (std::size_t p = 0; p < ports.size(); ++p) {  // delivered without a judgement (ARP, ...)
    if (!(o.to & (PortMask{1} << p)) || (seen & (PortMask{1} << p))) continue;
    t.ports.push_back({PortId(p), false, nullptr, {}, "not IP: iptables does not see it"});
  }
  return t;
}

std::string verdict_word(const TracedPort& p, const FrameOutcome& o) {
  if (p.verdict) return p.verdict->accept ? "accept" : "drop";
  return (o.to & (PortMask{1} << p.port)) ? "accept" : "drop";
}

}  // namespace

std::string trace_json(const FrameOutcome& o, const std::vector<PortDesc>& ports,
                       const CompiledPolicy& policy) {
  TracePath t = build(o, ports, policy);
  std::string j = "{\"in\":" + json_escape(ports[o.in].name) + ",\"ts_ns\":" + std::to_string(o.ts_ns) +
                  ",\"frame\":" + json_escape(t.frame) + ",\"decode\":" + json_escape(t.decode) +
                  ",\"l2\":" + json_string_or_null(t.l2) + ",\"ct\":" +
                  (o.ct == CtState::None ? "null" : json_escape(std::string(ct_state_name(o.ct)))) +
                  ",\"reason\":" +
                  (o.reason == DropReason::None ? "null" : json_escape(std::string(drop_reason_name(o.reason)))) +
                  ",\"ports\":[";
  for (std::size_t i = 0; i < t.ports.size(); ++i) {
    const TracedPort& p = t.ports[i];
    if (i) j += ',';
    j += "{\"port\":" + json_escape(ports[p.port].name) + ",\"verdict\":\"" + verdict_word(p, o) + "\"";
    if (p.verdict && !p.verdict->accept)
      j += ",\"reason\":" + json_escape(std::string(drop_reason_name(p.verdict->reason)));
    if (p.verdict) j += ",\"rule\":" + json_string_or_null(rule_ref(policy, p.verdict->rule));
    if (!p.not_judged_why.empty()) j += ",\"not_judged\":" + json_escape(p.not_judged_why);
    j += ",\"tried\":[";
    for (std::size_t k = 0; k < p.steps.size(); ++k) {
      const RuleInfo& r = policy.rule(p.steps[k].rule);
      if (k) j += ',';
      j += "{\"rule\":" + json_escape(r.loc.to_string()) + ",\"chain\":" + json_escape(r.chain) +
           ",\"text\":" + json_escape(r.text) + ",\"matched\":" + (p.steps[k].matched ? "true" : "false") + "}";
    }
    j += "]}";
  }
  return j + "]}";
}

std::string trace_text(const FrameOutcome& o, const std::vector<PortDesc>& ports,
                       const CompiledPolicy& policy) {
  TracePath t = build(o, ports, policy);
  std::string s = "trace " + ports[o.in].name + ": " + t.frame + "\n";
  s += "  decode: " + t.decode + "\n";
  if (!t.l2.empty()) s += "  l2: " + t.l2 + "\n";
  s += "  ct: " + (o.ct == CtState::None ? std::string("-") : std::string(ct_state_name(o.ct))) + "\n";
  if (o.reason != DropReason::None)
    s += "  dropped: " + std::string(drop_reason_name(o.reason)) + " (" +
         std::string(drop_reason_description(o.reason)) + ")\n";
  for (const TracedPort& p : t.ports) {
    s += "  -> " + ports[p.port].name + ": ";
    if (!p.not_judged_why.empty()) s += "(" + p.not_judged_why + ") ";
    s += "\n";
    for (const PolicyTraceStep& st : p.steps) {
      const RuleInfo& r = policy.rule(st.rule);
      s += std::string("       ") + (st.matched ? "match   " : "no match") + "  " + r.loc.to_string() +
           "  [" + r.chain + "] " + r.text + "\n";
    }
    s += "     verdict: " + verdict_word(p, o);
    if (p.verdict && !p.verdict->accept) s += " (" + std::string(drop_reason_name(p.verdict->reason)) + ")";
    s += "\n";
  }
  return s;
}

}  // namespace tapwall::control
