// ReferenceEvaluator (see reference_evaluator.hpp): recursion mirrors iptables' jump
// stack; a goto returns the target chain's outcome as its own, so the target's RETURN
// lands in the caller of the chain that did the goto.
// Thread-safety: const evaluation only.
#include "reference_evaluator.hpp"

#include <cstring>
#include <variant>

namespace tapwall::policy {

namespace {

bool prefix_equal(const IpAddr& a, const IpAddr& net, int first_byte, int prefix) {
  for (int bit = 0; bit < prefix; ++bit) {
    int byte = first_byte + bit / 8, shift = 7 - bit % 8;
    if (((a.b[byte] >> shift) & 1) != ((net.b[byte] >> shift) & 1)) return false;
  }
  return true;
}

bool in_ranges(const std::vector<PortRange>& ranges, uint16_t v) {
  for (const PortRange& r : ranges)
    if (r.contains(v)) return true;
  return false;
}

const std::string& port_name(const std::vector<PortDesc>& ports, PortId id) {
  static const std::string kEmpty;
  return id < ports.size() ? ports[id].name : kEmpty;
}

bool match_one(const Match& m, Family family, const PolicyQuery& q,
               const std::vector<PortDesc>& ports, const std::string& bridge_name) {
  const Decoded& p = *q.pkt;
  if (const auto* a = std::get_if<AddrMatch>(&m)) {
    const IpAddr& v = a->field == AddrMatch::Field::Src ? p.src_ip : p.dst_ip;
    bool in = family == Family::Ipv4 ? prefix_equal(v, a->cidr.addr, 12, a->cidr.prefix)
                                     : prefix_equal(v, a->cidr.addr, 0, a->cidr.prefix);
    return in != a->negated;
  }
  if (const auto* pm = std::get_if<PortMatch>(&m)) {
    bool has_ports = p.l4_ok && (p.ip_proto == kProtoTcp || p.ip_proto == kProtoUdp);
    if (!has_ports) return false;
    bool in = false;
    switch (pm->field) {
      case PortMatch::Field::Src: in = in_ranges(pm->ranges, p.sport); break;
      case PortMatch::Field::Dst: in = in_ranges(pm->ranges, p.dport); break;
      case PortMatch::Field::Either:
        in = in_ranges(pm->ranges, p.sport) || in_ranges(pm->ranges, p.dport);
        break;
    }
    return in != pm->negated;
  }
  if (const auto* im = std::get_if<IcmpTypeMatch>(&m)) {
    uint8_t icmp = family == Family::Ipv4 ? kProtoIcmp : kProtoIcmpv6;
    if (!p.l4_ok || p.ip_proto != icmp) return false;
    bool in = im->any_type || (p.icmp_type == im->type && p.icmp_code >= im->code_lo &&
                               p.icmp_code <= im->code_hi);
    return in != im->negated;
  }
  if (const auto* sm = std::get_if<StateMatch>(&m)) {
    bool in = (sm->mask & ct_bit(q.ct)) != 0;
    return in != sm->negated;
  }
  if (const auto* pd = std::get_if<PhysdevMatch>(&m)) {
    if (pd->is_bridged && !*pd->is_bridged) return false;
    if (pd->is_in && !*pd->is_in) return false;
    if (pd->is_out && !*pd->is_out) return false;
    if (pd->in && pd->in->matches(port_name(ports, q.in)) == pd->in_negated) return false;
    if (pd->out && pd->out->matches(port_name(ports, q.out)) == pd->out_negated) return false;
    return true;
  }
  if (const auto* mm = std::get_if<MacMatch>(&m)) return (p.src_mac == mm->mac) != mm->negated;
  if (const auto* tf = std::get_if<TcpFlagsMatch>(&m)) {
    if (!p.l4_ok || p.ip_proto != kProtoTcp) return false;
    return ((p.tcp_flags & tf->mask) == tf->comp) != tf->negated;
  }
  if (const auto* fm = std::get_if<FragmentMatch>(&m)) {
    bool non_first = p.is_fragment && p.frag_offset != 0;
    return non_first != fm->negated;
  }
  // br_netfilter's FORWARD hook sees the bridge as both devices of a bridged frame.
  if (const auto* im = std::get_if<IfaceMatch>(&m)) return im->iface.matches(bridge_name) != im->negated;
  if (const auto* k = std::get_if<PktTypeMatch>(&m)) {
    // A bridged frame at FORWARD: broadcast or multicast by its destination MAC, else
    // unicast (br_netfilter turns the port's "other host" into "host" for the hook).
    const MacAddr& dst = q.pkt->dst_mac;
    const uint8_t type = dst.is_broadcast() ? 1 : dst.is_multicast() ? 2 : 0;
    return (type == k->type) != k->negated;
  }
  if (const auto* n = std::get_if<LengthMatch>(&m)) {
    // The packet's length at the hook (skb->len): what its byte counters count.
    return (n->lo <= q.bytes && q.bytes <= n->hi) != n->negated;
  }
  if (const auto* r = std::get_if<AddrRangeMatch>(&m)) {
    // Bytes in network order compare as the numbers do (v4-mapped: the same 12-byte prefix).
    const IpAddr& v = r->field == AddrMatch::Field::Src ? p.src_ip : p.dst_ip;
    bool in = std::memcmp(v.b.data(), r->lo.b.data(), 16) >= 0 &&
              std::memcmp(v.b.data(), r->hi.b.data(), 16) <= 0;
    return in != r->negated;
  }
  return false;
}

}  // namespace

bool reference_rule_matches(const Rule& rule, Family family, const PolicyQuery& q,
                            const std::vector<PortDesc>& ports, const std::string& bridge_name,
                            const LimitFn& limit) {
  if (rule.proto && (q.pkt->ip_proto == rule.proto->proto) == rule.proto->negated) return false;
  uint32_t k = 0;
  for (const Match& m : rule.matches) {
    if (std::holds_alternative<LimitMatch>(m)) {
      if (limit && !limit(k)) return false;
      ++k;
    } else if (!match_one(m, family, q, ports, bridge_name)) {
      return false;
    }
  }
  return true;
}

ReferenceEvaluator::ReferenceEvaluator(const RuleSet* v4, const RuleSet* v6,
                                       std::vector<PortDesc> ports, std::string bridge_name)
    : ports_(std::move(ports)),
      bridge_name_(std::move(bridge_name)),
      own_limits_(std::make_unique<LimitBuckets>(v4, v6)),
      limits_(own_limits_.get()) {
  int32_t next = 0;
  const RuleSet* sets[2] = {v4, v6};
  for (int f = 0; f < 2; ++f) {
    FamilyRules& fr = fam_[f];
    fr.rs = sets[f];
    if (!fr.rs) continue;
    for (const Chain& c : fr.rs->chains) {
      std::vector<int32_t> ids;
      for (std::size_t i = 0; i < c.rules.size(); ++i) ids.push_back(next++);
      fr.ids.push_back(std::move(ids));
      fr.policy_ids.push_back(c.builtin ? next++ : kNoRule);
    }
  }
}

void ReferenceEvaluator::use_limits(const LimitBuckets* limits, bool take) {
  limits_ = limits;
  take_ = take;
}

ReferenceResult ReferenceEvaluator::judge(const PolicyQuery& q, const TraceFn& trace) const {
  ReferenceResult res;
  const Decoded& p = *q.pkt;
  int f;
  if (p.l3 == L3Kind::Ipv4) f = 0;
  else if (p.l3 == L3Kind::Ipv6) f = 1;
  else return res;
  const FamilyRules& fr = fam_[f];
  if (!fr.rs) return res;
  const RuleSet& rs = *fr.rs;
  const Family family = Family(f);
  auto index_of = [&](const std::string& name) -> std::size_t {
    for (std::size_t i = 0; i < rs.chains.size(); ++i)
      if (rs.chains[i].name == name) return i;
    return rs.chains.size();
  };

  // Returns true when a terminal verdict was reached (stored in res.decision).
  auto run = [&](auto& self, std::size_t ci) -> bool {
    const Chain& c = rs.chains[ci];
    for (std::size_t i = 0; i < c.rules.size(); ++i) {
      const Rule& r = c.rules[i];
      const int32_t id = fr.ids[ci][i];
      const LimitProbe limits{limits_, id, q.now_ns, take_};
      bool matched = reference_rule_matches(r, family, q, ports_, bridge_name_, std::cref(limits));
      if (trace) trace(TraceStep{id, &r, &c.name, matched});
      if (!matched) continue;
      res.counted.push_back(id);
      switch (r.target) {
        case TargetKind::Accept:
          res.decision = PolicyDecision{true, id, DropReason::None, res.decision.log_rule};
          return true;
        case TargetKind::Drop:
        case TargetKind::Reject:
          res.decision = PolicyDecision{
              false, id,
              r.target == TargetKind::Drop ? DropReason::RuleDrop : DropReason::RuleReject,
              res.decision.log_rule};
          return true;
        case TargetKind::Return: return false;
        case TargetKind::Jump:
          if (self(self, index_of(r.jump_chain))) return true;
          break;
        case TargetKind::Goto: return self(self, index_of(r.jump_chain));
        case TargetKind::Log:
          if (res.decision.log_rule == kNoRule) res.decision.log_rule = id;
          break;
        case TargetKind::None: break;
      }
    }
    return false;
  };

  const std::size_t fwd = index_of("FORWARD");
  if (fwd == rs.chains.size()) return res;
  if (!run(run, fwd)) {
    const Chain& c = rs.chains[fwd];
    const int32_t id = fr.policy_ids[fwd];
    if (trace) trace(TraceStep{id, nullptr, &c.name, true});
    res.counted.push_back(id);
    bool accept = c.policy == PolicyVerdict::Accept;
    res.decision = PolicyDecision{accept, id, accept ? DropReason::None : DropReason::ChainPolicy,
                                  res.decision.log_rule};
  }
  return res;
}

}  // namespace tapwall::policy
