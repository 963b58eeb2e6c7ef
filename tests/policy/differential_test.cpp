// Differential test: the compiled matcher (with its memo) against the reference evaluator
// on random rule sets (user chains, jump, goto, RETURN, LOG, no target, negations, every
// match kind, the per-packet ones -m limit, -m length and -m pkttype among them) and random
// packets drawn from the same value pools, so rules hit often and boundaries are
// exercised. Every decision field and every counter delta must agree, on the first
// judgement (memo miss) and on a repeat (memo hit). Token buckets are state: each compiled
// evaluator is paired with a reference evaluator of its own buckets, judging the same
// packets at the same times, so both spend alike.
#include <gtest/gtest.h>

#include <map>
#include <cstdio>
#include <cstring>
#include <random>

#include "../../dataplane/policy/reference_evaluator.hpp"
#include "policy/policy_test_util.hpp"

namespace tapwall::testing {
namespace {

class Gen {
 public:
  Gen(uint32_t seed, Family f) : rng_(seed), fam_(f) {}

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool chance(int percent) { return pick(100) < percent; }

  std::vector<PortDesc> ports() const {
    return {PortDesc{"eth0", PortRole::Uplink}, PortDesc{"tap0", PortRole::Vm},
            PortDesc{"tap1", PortRole::Vm}, PortDesc{"vnet0", PortRole::Vm},
            PortDesc{"tap10", PortRole::Vm}};
  }

  IpAddr pool_addr() {
    if (fam_ == Family::Ipv4) {
      static const uint32_t kPool[] = {0x0a000000, 0x0a010000, 0x0a010200, 0xc0a80000,
                                       0xc0a80080, 0x00000000, 0xac100505, 0xffffffff};
      return IpAddr::from_v4_host(kPool[pick(8)]);
    }
    static const char* kPool[] = {"2001:db8::", "2001:db8:1::", "2001:db8:1:2::80", "fe80::",
                                  "::",         "ff02::1",      "2001:db9::1",      "::ffff:a00:1"};
    return v6(kPool[pick(8)]);
  }
  IpAddr packet_addr() {
    IpAddr a = pool_addr();
    if (chance(70)) a.b[15] = uint8_t(a.b[15] + pick(3) - 1);
    if (chance(20)) a.b[fam_ == Family::Ipv4 ? 13 : 5] ^= uint8_t(1 << pick(8));
    if (chance(5))
      for (int i = fam_ == Family::Ipv4 ? 12 : 0; i < 16; ++i) a.b[i] = uint8_t(pick(256));
    return a;
  }
  uint8_t prefix() {
    static const uint8_t k4[] = {0, 1, 8, 16, 23, 24, 25, 31, 32};
    static const uint8_t k6[] = {0, 1, 16, 32, 48, 64, 120, 127, 128};
    return fam_ == Family::Ipv4 ? k4[pick(9)] : k6[pick(9)];
  }
  uint16_t port() {
    static const uint16_t kPool[] = {0, 1, 22, 53, 67, 68, 80, 443, 1023, 1024, 8080, 65535};
    uint16_t p = kPool[pick(12)];
    if (chance(20)) p = uint16_t(p + pick(3) - 1);
    return p;
  }
  PortRange range() {
    uint16_t a = port(), b = chance(50) ? a : port();
    return PortRange{std::min(a, b), std::max(a, b)};
  }
  uint8_t icmp_proto() const { return fam_ == Family::Ipv4 ? kProtoIcmp : kProtoIcmpv6; }
  uint8_t proto() {
    const uint8_t kPool[] = {kProtoTcp, kProtoUdp, icmp_proto(), 47,
                             fam_ == Family::Ipv4 ? kProtoIcmpv6 : kProtoIcmp};
    return kPool[pick(5)];
  }
  uint8_t icmp_type() {
    static const uint8_t kPool[] = {0, 3, 8, 11, 128, 129, 135};
    return kPool[pick(7)];
  }
  MacAddr mac_addr() { return mac(uint8_t(1 + pick(3))); }
  // A destination: unicast mostly, else broadcast or an IPv4 or IPv6 multicast group.
  MacAddr dst_mac_addr() {
    switch (pick(6)) {
      case 0: return MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
      case 1: return MacAddr{{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}};
      case 2: return MacAddr{{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}};
      default: return mac_addr();
    }
  }
  // An IP length near the boundaries rules draw theirs from.
  uint32_t length() {
    static const uint32_t kPool[] = {20, 40, 64, 84, 100, 576, 1280, 1500, 9000, 65535};
    const uint32_t n = kPool[pick(10)];
    return chance(30) && n < 65535 ? n + 1 - uint32_t(pick(3)) : n;
  }
  // -m limit: from a few per hour to hundreds per second, so packets a few ms apart both
  // empty buckets and find them refilled. avg is in 1/LimitMatch::kScale s per packet.
  LimitMatch limit() {
    static const uint32_t kAvg[] = {20, 100, 2000, 10000, 200000, LimitMatch::kScale * 1200};
    return LimitMatch{kAvg[pick(6)], uint32_t(1 + pick(8))};
  }
  IfacePattern iface() {
    static const char* kNames[] = {"eth0", "tap0", "tap1", "vnet0", "tap", "nope"};
    int i = pick(6);
    return IfacePattern{kNames[i], i == 4 || chance(25)};
  }

  // -m iprange: between two pool addresses, mostly in order (reversed: matches nothing).
  AddrRangeMatch addr_range() {
    IpAddr a = pool_addr(), b = chance(80) ? pool_addr() : a;
    if (chance(85) && std::memcmp(a.b.data(), b.b.data(), 16) > 0) std::swap(a, b);
    return AddrRangeMatch{chance(50) ? AddrMatch::Field::Src : AddrMatch::Field::Dst, a, b,
                          chance(25)};
  }

  Match match() {
    switch (pick(10)) {
      case 0:
      case 1:
        if (chance(30)) return addr_range();
        return AddrMatch{chance(50) ? AddrMatch::Field::Src : AddrMatch::Field::Dst,
                         Cidr{pool_addr(), prefix()}, chance(25)};
      case 2: {
        PortMatch m;
        m.field = PortMatch::Field(pick(3));
        int n = 1 + pick(3);
        for (int i = 0; i < n; ++i) m.ranges.push_back(range());
        m.negated = chance(25);
        return m;
      }
      case 3: {
        IcmpTypeMatch m;
        m.any_type = chance(15);
        m.type = icmp_type();
        if (chance(50)) {
          m.code_lo = m.code_hi = uint8_t(pick(4));
        }
        m.negated = chance(25);
        return m;
      }
      case 4: return StateMatch{CtStateMask(1 + pick(31)), chance(25)};
      case 5: {
        PhysdevMatch m;
        if (chance(60)) m.in = iface(), m.in_negated = chance(25);
        if (chance(60)) m.out = iface(), m.out_negated = chance(25);
        if (chance(10)) m.is_bridged = chance(80);
        if (chance(5)) m.is_in = chance(80);
        if (chance(5)) m.is_out = chance(80);
        return m;
      }
      case 6:
        if (chance(30)) {
          static const char* kNames[] = {"br0", "br", "eth0", "tap0", "b"};
          const int i = pick(5);
          return IfaceMatch{chance(50), IfacePattern{kNames[i], i == 1 || i == 4 || chance(20)},
                            chance(25)};
        }
        return MacMatch{mac_addr(), chance(25)};
      case 7: {
        uint8_t mask = uint8_t(pick(256)), comp = uint8_t(pick(256)) & mask;
        if (chance(30)) mask = kTcpSyn | kTcpRst | kTcpAck | kTcpFin, comp = kTcpSyn;
        return TcpFlagsMatch{mask, comp, chance(25)};
      }
      case 8: return FragmentMatch{chance(50)};
      default:
        switch (pick(3)) {
          case 0: return limit();
          case 1: {
            uint32_t lo = chance(20) ? 0 : length(), hi = chance(20) ? 0xffff : length();
            if (chance(85) && lo > hi) std::swap(lo, hi);  // else reversed: matches nothing
            return LengthMatch{lo, hi, chance(25)};
          }
          default: return PktTypeMatch{uint8_t(pick(4)), chance(25)};
        }
    }
  }

  RuleSet ruleset_() {
    RuleSet rs = ruleset(fam_, chance(50) ? PolicyVerdict::Accept : PolicyVerdict::Drop);
    const int nuser = pick(5);
    for (int i = 0; i < nuser; ++i) chain(rs, "U" + std::to_string(i));
    // Chain k (0 = FORWARD, then U0..) may jump only to later user chains: acyclic.
    for (int k = 0; k <= nuser; ++k) {
      Chain& c = chain(rs, k == 0 ? "FORWARD" : "U" + std::to_string(k - 1));
      const int nrules = pick(9);
      for (int r = 0; r < nrules; ++r) {
        Rule rule;
        rule.loc = SourceLoc{"rand", r + 1};
        rule.text = c.name + " rule " + std::to_string(r);
        if (chance(50)) rule.proto = ProtoMatch{proto(), chance(20)};
        const int nm = pick(4) == 0 ? 0 : 1 + pick(2);
        for (int m = 0; m < nm; ++m) rule.matches.push_back(match());
        const int later = nuser - k;  // user chains after this one
        static const TargetKind kTargets[] = {
            TargetKind::Accept, TargetKind::Accept, TargetKind::Drop, TargetKind::Drop,
            TargetKind::Reject, TargetKind::Return, TargetKind::Jump, TargetKind::Jump,
            TargetKind::Jump,   TargetKind::Goto,   TargetKind::Goto, TargetKind::Log,
            TargetKind::None};
        TargetKind t = kTargets[pick(13)];
        const bool jumps = t == TargetKind::Jump || t == TargetKind::Goto;
        if (jumps && later == 0) t = TargetKind::None;
        rule.target = t;
        if (jumps && later > 0) rule.jump_chain = "U" + std::to_string(k + pick(later));
        c.rules.push_back(std::move(rule));
      }
    }
    return rs;
  }

  Decoded packet() {
    Decoded d = ip_packet(fam_ == Family::Ipv4 ? L3Kind::Ipv4 : L3Kind::Ipv6, packet_addr(),
                          packet_addr(), proto());
    d.src_mac = mac_addr();
    d.dst_mac = dst_mac_addr();
    d.l4_ok = chance(90);
    if (!d.l4_ok && chance(70)) {
      d.is_fragment = true;
      d.frag_offset = uint16_t(8 * (1 + pick(100)));
    } else if (chance(10)) {
      d.is_fragment = true;
      d.more_fragments = true;
    }
    d.sport = port();
    d.dport = port();
    d.tcp_flags = chance(50) ? uint8_t(pick(256)) : kTcpSyn;
    d.icmp_type = icmp_type();
    d.icmp_code = uint8_t(pick(4));
    return d;
  }

  CtState ct() {
    static const CtState kAll[] = {CtState::None,    CtState::New,     CtState::Established,
                                   CtState::Related, CtState::Invalid, CtState::Untracked};
    return kAll[pick(6)];
  }
  PortId port_id() { return chance(3) ? kNoPort : PortId(pick(5)); }

 private:
  std::mt19937 rng_;
  Family fam_;
};

std::string describe(const Decoded& d, const PolicyQuery& q) {
  std::string s = "proto=" + std::to_string(d.ip_proto) + " l4_ok=" + std::to_string(d.l4_ok) +
                  " sport=" + std::to_string(d.sport) + " dport=" + std::to_string(d.dport) +
                  " flags=" + std::to_string(d.tcp_flags) +
                  " icmp=" + std::to_string(d.icmp_type) + "/" + std::to_string(d.icmp_code) +
                  " frag_off=" + std::to_string(d.frag_offset) +
                  " ct=" + std::to_string(int(q.ct)) + " in=" + std::to_string(q.in) +
                  " out=" + std::to_string(q.out) + " src=";
  for (int i = 0; i < 16; ++i) s += std::to_string(d.src_ip.b[i]) + (i < 15 ? "." : "");
  return s;
}

// Per global rule id (compile numbering: each chain's rules, then a built-in chain's
// policy), which per-packet match kinds the rule has: 1 limit, 2 length, 4 pkttype.
std::vector<uint8_t> per_packet_kinds(const RuleSet& rs) {
  std::vector<uint8_t> kinds;
  for (const Chain& c : rs.chains) {
    for (const Rule& r : c.rules) {
      uint8_t k = 0;
      for (const Match& m : r.matches)
        k |= std::holds_alternative<LimitMatch>(m)    ? 1
             : std::holds_alternative<LengthMatch>(m) ? 2
             : std::holds_alternative<PktTypeMatch>(m) ? 4
                                                       : 0;
      kinds.push_back(k);
    }
    if (c.builtin) kinds.push_back(0);
  }
  return kinds;
}

void run_family(Family fam, uint32_t base_seed, int sets, int packets) {
  // Coverage of the generated cases, so the comparison is known not to be vacuous.
  uint64_t by_rule = 0, by_policy = 0, in_user_chain = 0, logged = 0, dropped = 0;
  uint64_t counted_kind[3] = {};  // rules counted that have a limit / length / pkttype
  uint64_t limit_refused = 0;     // limit rules a bucket kept from matching
  for (int s = 0; s < sets; ++s) {
    const uint32_t seed = base_seed + uint32_t(s);
    Gen g(seed, fam);
    RuleSet rs = g.ruleset_();
    const auto ports = g.ports();
    const RuleSet* v4rs = fam == Family::Ipv4 ? &rs : nullptr;
    const RuleSet* v6rs = fam == Family::Ipv6 ? &rs : nullptr;
    // Two compilations: each has its own token buckets, spent only by its own evaluator.
    auto pol = compile_ok(v4rs, v6rs, ports);
    auto pol_direct = compile_ok(v4rs, v6rs, ports);
    ASSERT_TRUE(pol && pol_direct) << "seed " << seed;
    PolicyEvaluator ev(pol);
    PolicyEvaluator no_memo(pol_direct);  // the memo-miss path on every packet
    no_memo.set_memo_enabled(false);
    policy::ReferenceEvaluator ref(v4rs, v6rs, ports), ref_direct(v4rs, v6rs, ports);
    const std::vector<uint8_t> kinds = per_packet_kinds(rs);
    std::vector<uint64_t> before(pol->rule_count());
    uint64_t now = 1'000'000'000;
    for (int p = 0; p < packets; ++p) {
      const Decoded d = g.packet();
      PolicyQuery q = query(d, g.ct(), g.port_id(), g.port_id(), g.length());
      now += uint64_t(g.pick(20'000)) * 1000;  // 0-20 ms after the previous packet
      q.now_ns = now;
      const policy::ReferenceResult want_direct = ref_direct.judge(q);
      const PolicyDecision direct = no_memo.judge(q);
      ASSERT_EQ(direct.rule, want_direct.decision.rule) << "seed " << seed << " packet " << p;
      ASSERT_EQ(direct.log_rule, want_direct.decision.log_rule)
          << "seed " << seed << " packet " << p;
      for (int round = 0; round < 2; ++round) {  // miss, then (usually) memo hit
        policy::ReferenceResult want;
        // A limit rule tried, not matched, though all else in it matched: a bucket said no.
        const auto tried = [&](const policy::TraceStep& st) {
          if (round == 0 && st.rule && !st.matched && (kinds[std::size_t(st.rule_id)] & 1) &&
              policy::reference_rule_matches(*st.rule, fam, q, ports))
            ++limit_refused;
        };
        want = ref.judge(q, tried);
        if (round == 0) {
          if (want.decision.rule != kNoRule) {
            const RuleInfo& info = pol->rule(want.decision.rule);
            (info.is_policy ? by_policy : by_rule) += 1;
            in_user_chain += info.chain[0] == 'U';
          }
          logged += want.decision.log_rule != kNoRule;
          dropped += !want.decision.accept;
          for (int32_t id : want.counted)
            for (int k = 0; k < 3; ++k) counted_kind[k] += (kinds[std::size_t(id)] >> k) & 1;
        }
        std::map<int32_t, uint64_t> want_counts;
        for (int32_t id : want.counted) ++want_counts[id];
        for (std::size_t i = 0; i < before.size(); ++i)
          before[i] = pol->counter(int32_t(i)).packets.load();
        PolicyDecision got = ev.judge(q);
        bool same = got.accept == want.decision.accept && got.rule == want.decision.rule &&
                    got.reason == want.decision.reason &&
                    got.log_rule == want.decision.log_rule;
        for (std::size_t i = 0; i < before.size() && same; ++i) {
          uint64_t delta = pol->counter(int32_t(i)).packets.load() - before[i];
          auto it = want_counts.find(int32_t(i));
          same = delta == (it == want_counts.end() ? 0u : it->second);
        }
        ASSERT_TRUE(same) << "seed " << seed << " packet " << p << " round " << round << ": "
                          << describe(d, q) << " got rule " << got.rule << " want "
                          << want.decision.rule << " (log " << got.log_rule << " vs "
                          << want.decision.log_rule << ")";
      }
    }
  }
  const uint64_t total = uint64_t(sets) * uint64_t(packets);
  EXPECT_GT(by_rule, total / 5);
  EXPECT_GT(by_policy, total / 5);
  EXPECT_GT(in_user_chain, total / 20);
  EXPECT_GT(logged, total / 20);
  EXPECT_GT(dropped, total / 5);
  for (uint64_t n : counted_kind) EXPECT_GT(n, total / 100);
  EXPECT_GT(limit_refused, total / 200);
  std::printf("coverage: by_rule=%llu by_policy=%llu user_chain=%llu logged=%llu dropped=%llu "
              "counted limit=%llu length=%llu pkttype=%llu limit_refused=%llu\n",
              (unsigned long long)by_rule, (unsigned long long)by_policy,
              (unsigned long long)in_user_chain, (unsigned long long)logged,
              (unsigned long long)dropped, (unsigned long long)counted_kind[0],
              (unsigned long long)counted_kind[1], (unsigned long long)counted_kind[2],
              (unsigned long long)limit_refused);
}

TEST(Differential, Ipv4RandomRuleSets) { run_family(Family::Ipv4, 1000, 300, 200); }

TEST(Differential, Ipv6RandomRuleSets) { run_family(Family::Ipv6, 9000, 150, 200); }

// Bigger rule sets (many classes per dimension, several bitset words).
TEST(Differential, LargeRuleSet) {
  for (uint32_t seed : {77u, 78u}) {
    Gen g(seed, Family::Ipv4);
    RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Drop);
    Chain& fwd = chain(rs, "FORWARD");
    for (int r = 0; r < 400; ++r) {
      Rule rule;
      rule.loc = SourceLoc{"big", r + 1};
      rule.text = "big " + std::to_string(r);
      if (g.chance(50)) rule.proto = ProtoMatch{g.proto(), g.chance(10)};
      const int nm = 1 + g.pick(3);
      for (int m = 0; m < nm; ++m) rule.matches.push_back(g.match());
      static const TargetKind kT[] = {TargetKind::Accept, TargetKind::Drop, TargetKind::None,
                                      TargetKind::Log, TargetKind::Reject};
      rule.target = g.chance(90) ? TargetKind::None : kT[g.pick(5)];
      fwd.rules.push_back(std::move(rule));
    }
    const auto ports = g.ports();
    auto pol = compile_ok(&rs, nullptr, ports);
    ASSERT_TRUE(pol);
    PolicyEvaluator ev(pol);
    policy::ReferenceEvaluator ref(&rs, nullptr, ports);
    std::vector<uint64_t> expected(pol->rule_count(), 0);
    for (int p = 0; p < 3000; ++p) {
      const Decoded d = g.packet();
      const PolicyQuery q = query(d, g.ct(), g.port_id(), g.port_id());
      policy::ReferenceResult want = ref.judge(q);
      for (int32_t id : want.counted) ++expected[std::size_t(id)];
      PolicyDecision got = ev.judge(q);
      ASSERT_EQ(got.rule, want.decision.rule) << "seed " << seed << " packet " << p;
      ASSERT_EQ(got.accept, want.decision.accept);
      ASSERT_EQ(got.log_rule, want.decision.log_rule);
    }
    for (std::size_t i = 0; i < expected.size(); ++i)
      ASSERT_EQ(pol->counter(int32_t(i)).packets.load(), expected[i]) << "rule " << i;
  }
}

}  // namespace
}  // namespace tapwall::testing
