// CompiledPolicy::compile: validate the RuleSets, number the rules, lower every rule
// reachable from FORWARD into per-dimension constraints, partition, and build lookups.
// Rule ids (dense, stable for a given input): IPv4 RuleSet first, then IPv6; within a
// RuleSet, chains in their order, each chain's rules in order, then (built-in chains
// only) the chain's policy pseudo-rule. reference_evaluator.cpp numbers the same way.
// Invariants: compile() either returns a fully built policy or a ConfigError; it never
// leaves a partially usable object. Thread-safety: compile() is reentrant.
#include <algorithm>
#include <unordered_map>

#include "policy_impl.hpp"
#include "reference_evaluator.hpp"
#include "rule_lowering.hpp"

namespace tapwall {

using namespace tapwall::policy;

namespace {

ConfigError make_error(const std::string& path, int line, std::string token, std::string msg) {
  ConfigError e;
  e.path = path;
  e.line = line;
  e.token = std::move(token);
  e.message = std::move(msg);
  return e;
}

std::string target_text(const Rule& r) {
  if (!r.host_only.empty()) return "(host only)";
  switch (r.target) {
    case TargetKind::Accept: return "ACCEPT";
    case TargetKind::Drop: return "DROP";
    case TargetKind::Reject: return "REJECT";
    case TargetKind::Return: return "RETURN";
    case TargetKind::Jump: return r.jump_chain;
    case TargetKind::Goto: return "goto:" + r.jump_chain;
    case TargetKind::Log: return "LOG";
    case TargetKind::None: break;
  }
  return "";
}

struct FamilyInput {
  const RuleSet* rs = nullptr;
  Family family = Family::Ipv4;
};

// Numbers rules and policies, validates jumps and acyclicity, fills infos/print chains,
// and builds the matcher. Returns an error or nothing.
std::optional<ConfigError> compile_family(const RuleSet& rs, Family family,
                                          std::span<const PortDesc> ports,
                                          std::string_view bridge_name,
                                          CompiledPolicy::Impl& impl) {
  const int fi = int(family);
  std::unordered_map<std::string, uint32_t> chain_idx;
  for (uint32_t c = 0; c < rs.chains.size(); ++c) {
    if (!chain_idx.emplace(rs.chains[c].name, c).second)
      return make_error(rs.path, rs.chains[c].policy_loc.line, rs.chains[c].name,
                        "duplicate chain");
  }
  auto fwd_it = chain_idx.find("FORWARD");
  if (fwd_it == chain_idx.end()) return make_error(rs.path, 0, "FORWARD", "no FORWARD chain");
  if (!rs.chains[fwd_it->second].builtin)
    return make_error(rs.path, 0, "FORWARD", "FORWARD is not a built-in chain");

  // Validate targets of every chain (not only reachable ones), number rules.
  std::vector<std::vector<int32_t>> ids(rs.chains.size());
  std::vector<int32_t> policy_ids(rs.chains.size(), kNoRule);
  for (uint32_t c = 0; c < rs.chains.size(); ++c) {
    const Chain& ch = rs.chains[c];
    PrintChain pc;
    pc.name = ch.name;
    pc.builtin = ch.builtin;
    pc.policy = ch.policy;
    for (const Rule& r : ch.rules) {
      if (r.target == TargetKind::Jump || r.target == TargetKind::Goto) {
        auto it = chain_idx.find(r.jump_chain);
        if (it == chain_idx.end())
          return make_error(r.loc.path, r.loc.line, r.jump_chain, "jump to a missing chain");
        if (rs.chains[it->second].builtin)
          return make_error(r.loc.path, r.loc.line, r.jump_chain, "jump to a built-in chain");
      }
      int32_t id = int32_t(impl.infos.size());
      RuleInfo info;
      info.loc = r.loc;
      info.chain = ch.name;
      info.text = r.text;
      info.family = family;
      info.target = r.target;
      impl.infos.push_back(std::move(info));
      ids[c].push_back(id);
      pc.rules.push_back(id);
      pc.targets.push_back(target_text(r));
    }
    if (ch.builtin) {
      int32_t id = int32_t(impl.infos.size());
      RuleInfo info;
      info.loc = ch.policy_loc;
      info.chain = ch.name;
      info.text = "-P " + ch.name + (ch.policy == PolicyVerdict::Accept ? " ACCEPT" : " DROP");
      info.family = family;
      info.target = ch.policy == PolicyVerdict::Accept ? TargetKind::Accept : TargetKind::Drop;
      info.is_policy = true;
      impl.infos.push_back(std::move(info));
      policy_ids[c] = id;
      pc.policy_id = id;
    }
    impl.print_chains[fi].push_back(std::move(pc));
  }
  for (const Chain& ch : rs.chains)
    for (const Rule& r : ch.rules)
      if (r.target == TargetKind::Jump || r.target == TargetKind::Goto)
        ++impl.print_chains[fi][chain_idx.at(r.jump_chain)].references;

  // Reachability from FORWARD with cycle detection (0 = unseen, 1 = on stack, 2 = done).
  std::vector<uint8_t> color(rs.chains.size(), 0);
  std::optional<ConfigError> cycle;
  auto dfs = [&](auto& self, uint32_t c) -> void {
    color[c] = 1;
    for (const Rule& r : rs.chains[c].rules) {
      if (cycle) return;
      if (r.target != TargetKind::Jump && r.target != TargetKind::Goto) continue;
      uint32_t t = chain_idx.at(r.jump_chain);
      if (color[t] == 1) {
        cycle = make_error(r.loc.path, r.loc.line, r.jump_chain, "chain loop");
        return;
      }
      if (color[t] == 0) self(self, t);
    }
    color[c] = 2;
  };
  dfs(dfs, fwd_it->second);
  if (cycle) return cycle;

  // Layout: reachable chains in RuleSet order, rules contiguous.
  FamilyMatcher& fm = impl.fam[fi];
  fm.present = true;
  fm.icmp_proto = family == Family::Ipv4 ? kProtoIcmp : kProtoIcmpv6;
  fm.nports = uint32_t(ports.size());
  std::vector<uint32_t> compiled_of(rs.chains.size(), UINT32_MAX);
  std::vector<const Rule*> rule_src;
  for (uint32_t c = 0; c < rs.chains.size(); ++c) {
    if (color[c] != 2) continue;
    compiled_of[c] = uint32_t(fm.chains.size());
    CChain cc;
    cc.begin = uint32_t(fm.rules.size());
    cc.builtin = rs.chains[c].builtin;
    cc.policy = rs.chains[c].policy;
    cc.policy_id = policy_ids[c];
    for (std::size_t k = 0; k < rs.chains[c].rules.size(); ++k) {
      const Rule& r = rs.chains[c].rules[k];
      CRule cr;
      cr.target = r.target;
      cr.id = ids[c][k];
      fm.rules.push_back(cr);
      rule_src.push_back(&r);
    }
    cc.end = uint32_t(fm.rules.size());
    fm.chains.push_back(cc);
  }
  fm.forward = compiled_of[fwd_it->second];
  for (std::size_t i = 0; i < fm.rules.size(); ++i)
    if (fm.rules[i].target == TargetKind::Jump || fm.rules[i].target == TargetKind::Goto)
      fm.rules[i].jump_chain = compiled_of[chain_idx.at(rule_src[i]->jump_chain)];
  fm.nrules = uint32_t(fm.rules.size());

  // Lower.
  LoweringContext cx;
  cx.family = family;
  cx.bridge_name = bridge_name;
  for (const PortDesc& p : ports) cx.port_names.push_back(p.name);
  std::vector<uint64_t> macs;
  for (const Rule* r : rule_src)
    for (const Match& m : r->matches)
      if (const auto* mm = std::get_if<MacMatch>(&m))
        if (cx.mac_index.emplace(mm->mac.as_u64(), uint32_t(macs.size())).second)
          macs.push_back(mm->mac.as_u64());
  cx.mac_count = uint32_t(macs.size());
  cx.next_aux_bit = fm.nrules;
  std::vector<DimConstraint> cons[kDimCount];
  for (uint32_t i = 0; i < fm.nrules; ++i) {
    const Rule& r = *rule_src[i];
    const auto dynamic = std::find_if(r.matches.begin(), r.matches.end(), is_per_packet);
    if (dynamic == r.matches.end()) {
      if (auto err = lower_rule(r, i, cx, cons, fm.aux)) return err;
      continue;
    }
    // The bit: the matches before the first per-packet one; the rest, tested per packet.
    Rule prefix = r, tail;
    prefix.matches.assign(r.matches.begin(), dynamic);
    tail.matches.assign(dynamic, r.matches.end());
    if (auto err = lower_rule(prefix, i, cx, cons, fm.aux)) return err;
    fm.rules[i].tail = int32_t(fm.tails.size());
    fm.rules[i].tail_varies =
        std::any_of(tail.matches.begin(), tail.matches.end(),
                    [](const Match& m) { return std::holds_alternative<LimitMatch>(m); });
    // A length test changes its answer at lo and just past hi.
    for (const Match& m : tail.matches)
      if (const auto* n = std::get_if<LengthMatch>(&m)) {
        impl.length_cuts.push_back(n->lo);
        if (n->hi != UINT32_MAX) impl.length_cuts.push_back(n->hi + 1);
      }
    fm.tails.push_back(std::move(tail));
  }
  fm.nbits = cx.next_aux_bit;
  fm.words = (fm.nbits + 63) / 64;
  fm.aux_word_begin.assign(fm.words + 1, 0);
  for (const EitherAux& a : fm.aux) ++fm.aux_word_begin[a.rule_bit / 64 + 1];
  for (uint32_t w = 0; w < fm.words; ++w) fm.aux_word_begin[w + 1] += fm.aux_word_begin[w];

  // Partition and build lookups.
  static constexpr bool kHasAbsent[kDimCount] = {false, false, false, true, true, true,
                                                 true,  false, false, false, false, false};
  for (int d = 0; d < kDimCount; ++d)
    fm.dims[d] = build_partition(dim_max(Dim(d), cx), fm.nbits, kHasAbsent[d], cons[d]);
  auto too_many = [&](const char* what) {
    return make_error(rs.path, 0, what, "too many distinct classes for a 16-bit field");
  };
  fm.proto.build(fm.dims[kDimProto], 256);
  fm.tcp_flags.build(fm.dims[kDimTcpFlags], 256);
  fm.ct.build(fm.dims[kDimCt], kCtIndexCount);
  fm.in_port.build(fm.dims[kDimIn], fm.nports + 1);
  fm.out_port.build(fm.dims[kDimOut], fm.nports + 1);
  fm.mac_cls.build(fm.dims[kDimMac], cx.mac_count + 1);
  fm.frag.build(fm.dims[kDimFrag], 2);
  if (!fm.sport.build(fm.dims[kDimSport])) return too_many("sport");
  if (!fm.dport.build(fm.dims[kDimDport])) return too_many("dport");
  if (!fm.icmp.build(fm.dims[kDimIcmp])) return too_many("icmp");
  if (family == Family::Ipv4) {
    fm.src4.build(fm.dims[kDimSrc]);
    fm.dst4.build(fm.dims[kDimDst]);
  } else {
    fm.src6.build(fm.dims[kDimSrc]);
    fm.dst6.build(fm.dims[kDimDst]);
  }
  fm.mac.build(macs);
  // The memo key holds each class id in 16 bits (policy_impl.hpp).
  fm.memo_ok = std::all_of(std::begin(fm.dims), std::end(fm.dims),
                           [](const Partition& p) { return p.nclasses <= (1u << 16); });
  // The interval arrays now live in the lookup structures.
  for (auto& d : fm.dims) {
    d.starts = {};
    d.cls = {};
  }
  return std::nullopt;
}

}  // namespace

std::variant<std::shared_ptr<const CompiledPolicy>, ConfigError> CompiledPolicy::compile(
    const RuleSet* v4, const RuleSet* v6, std::span<const PortDesc> ports, uint64_t generation,
    std::string_view bridge_name) {
  if (ports.size() > kMaxPorts)
    return make_error("", 0, std::to_string(ports.size()),
                      "more than " + std::to_string(kMaxPorts) + " bridge ports");
  auto impl = std::make_unique<Impl>();
  impl->generation = generation;
  const FamilyInput inputs[2] = {{v4, Family::Ipv4}, {v6, Family::Ipv6}};
  for (const FamilyInput& in : inputs) {
    if (!in.rs) continue;
    if (in.rs->family != in.family)
      return make_error(in.rs->path, 0, "", "RuleSet of the wrong address family");
    impl->has[int(in.family)] = true;
    impl->path[int(in.family)] = in.rs->path;
    if (auto err = compile_family(*in.rs, in.family, ports, bridge_name, *impl)) return *err;
    impl->rules[int(in.family)] = *in.rs;
  }
  std::sort(impl->length_cuts.begin(), impl->length_cuts.end());
  impl->length_cuts.erase(std::unique(impl->length_cuts.begin(), impl->length_cuts.end()),
                          impl->length_cuts.end());
  // A length class is keyed in 24 bits (the engine packs it beside the TCP flags).
  if (impl->length_cuts.size() >= (std::size_t{1} << 24))
    return make_error("", 0, "", "too many distinct -m length bounds");
  impl->ports.assign(ports.begin(), ports.end());
  impl->bridge_name = bridge_name;
  impl->limits = std::make_unique<policy::LimitBuckets>(impl->rules[0] ? &*impl->rules[0] : nullptr,
                                                        impl->rules[1] ? &*impl->rules[1] : nullptr);
  impl->counters = std::make_unique<RuleCounter[]>(impl->infos.size());
  return std::shared_ptr<const CompiledPolicy>(new CompiledPolicy(std::move(impl)));
}

CompiledPolicy::CompiledPolicy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::vector<PolicyTraceStep> CompiledPolicy::trace(const PolicyQuery& q, PolicyDecision* decision) const {
  const Impl& im = *impl_;
  policy::ReferenceEvaluator ref(im.rules[0] ? &*im.rules[0] : nullptr,
                                 im.rules[1] ? &*im.rules[1] : nullptr, im.ports,
                                 im.bridge_name);
  ref.use_limits(im.limits.get(), false);  // a limit is shown as it stands, none spent
  std::vector<PolicyTraceStep> steps;
  policy::ReferenceResult r = ref.judge(q, [&](const policy::TraceStep& t) {
    steps.push_back({t.rule_id, t.matched});
  });
  if (decision) *decision = r.decision;
  return steps;
}
CompiledPolicy::~CompiledPolicy() = default;
uint64_t CompiledPolicy::generation() const { return impl_->generation; }
std::size_t CompiledPolicy::rule_count() const { return impl_->infos.size(); }
const RuleInfo& CompiledPolicy::rule(int32_t id) const { return impl_->infos.at(std::size_t(id)); }
const RuleCounter& CompiledPolicy::counter(int32_t id) const {
  return impl_->counters[std::size_t(id)];
}

void CompiledPolicy::count_path(const PolicyPath& path, uint64_t packets, uint64_t bytes) const {
  RuleCounter* counters = impl_->counters.get();
  for (uint32_t i = 0; i < path.len; ++i) {
    counters[path.ids[i]].packets.fetch_add(packets, std::memory_order_relaxed);
    counters[path.ids[i]].bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
}
bool CompiledPolicy::filters(Family f) const { return impl_->has[int(f)]; }
std::span<const uint32_t> CompiledPolicy::length_cuts() const { return impl_->length_cuts; }

}  // namespace tapwall
