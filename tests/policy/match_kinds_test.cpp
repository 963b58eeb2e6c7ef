// Every match kind, plain and negated, judged by the compiled policy and the reference
// evaluator (which must agree). A rule "<match> -j ACCEPT" in FORWARD (policy DROP):
// matched -> accepted by that rule; not matched -> dropped by the chain policy.
#include <gtest/gtest.h>

#include "../../dataplane/policy/reference_evaluator.hpp"
#include "policy/policy_test_util.hpp"

namespace tapwall::testing {
namespace {

std::vector<PortDesc> four_ports() {
  return {PortDesc{"eth0", PortRole::Uplink}, PortDesc{"tap0", PortRole::Vm},
          PortDesc{"tap1", PortRole::Vm}, PortDesc{"vnet0", PortRole::Vm}};
}

// Does a FORWARD rule with `r`'s matches (target ACCEPT) match this packet? Checks that the
// compiled and reference evaluators agree on the decision.
bool matches(Rule r, const Decoded& d, CtState ct = CtState::New, PortId in = 0, PortId out = 1,
             Family f = Family::Ipv4) {
  RuleSet rs = ruleset(f, PolicyVerdict::Drop);
  r.target = TargetKind::Accept;
  chain(rs, "FORWARD").rules.push_back(r);
  auto ports = four_ports();
  const RuleSet* v4rs = f == Family::Ipv4 ? &rs : nullptr;
  const RuleSet* v6rs = f == Family::Ipv6 ? &rs : nullptr;
  auto pol = compile_ok(v4rs, v6rs, ports);
  if (!pol) return false;
  PolicyEvaluator ev(pol);
  policy::ReferenceEvaluator ref(v4rs, v6rs, ports);
  PolicyQuery q = query(d, ct, in, out);
  PolicyDecision got = ev.judge(q);
  PolicyDecision want = ref.judge(q).decision;
  EXPECT_EQ(got.accept, want.accept) << r.text;
  EXPECT_EQ(got.rule, want.rule) << r.text;
  EXPECT_EQ(got.reason, want.reason) << r.text;
  const int32_t rid = rule_id(rs, "FORWARD", 0);
  if (got.accept) {
    EXPECT_EQ(got.rule, rid);
  } else {
    EXPECT_EQ(got.rule, policy_id(rs, "FORWARD"));
    EXPECT_EQ(got.reason, DropReason::ChainPolicy);
  }
  return got.accept;
}

Rule with(Match m) { return rule("match", {std::move(m)}, TargetKind::Accept); }

TEST(MatchKinds, Proto) {
  Rule tcp = proto_rule("-p tcp", kProtoTcp, {}, TargetKind::Accept);
  EXPECT_TRUE(matches(tcp, tcp4("1.1.1.1", "2.2.2.2", 1000, 80)));
  EXPECT_FALSE(matches(tcp, udp4("1.1.1.1", "2.2.2.2", 1000, 80)));
  tcp.proto->negated = true;
  EXPECT_FALSE(matches(tcp, tcp4("1.1.1.1", "2.2.2.2", 1000, 80)));
  EXPECT_TRUE(matches(tcp, udp4("1.1.1.1", "2.2.2.2", 1000, 80)));
  EXPECT_TRUE(matches(tcp, icmp4("1.1.1.1", "2.2.2.2", 8, 0)));
}

TEST(MatchKinds, SourceAndDestinationCidr) {
  const Decoded in_net = tcp4("10.255.255.255", "192.168.1.1", 1, 2);
  const Decoded below = tcp4("9.255.255.255", "192.168.1.2", 1, 2);
  const Decoded above = tcp4("11.0.0.0", "192.168.2.0", 1, 2);
  EXPECT_TRUE(matches(with(src_cidr(v4("10.0.0.0"), 8)), in_net));
  EXPECT_FALSE(matches(with(src_cidr(v4("10.0.0.0"), 8)), below));
  EXPECT_FALSE(matches(with(src_cidr(v4("10.0.0.0"), 8)), above));
  EXPECT_FALSE(matches(with(src_cidr(v4("10.0.0.0"), 8, true)), in_net));
  EXPECT_TRUE(matches(with(src_cidr(v4("10.0.0.0"), 8, true)), below));
  EXPECT_TRUE(matches(with(dst_cidr(v4("192.168.1.1"), 32)), in_net));
  EXPECT_FALSE(matches(with(dst_cidr(v4("192.168.1.1"), 32)), below));
  EXPECT_TRUE(matches(with(dst_cidr(v4("192.168.1.1"), 32, true)), below));
  EXPECT_TRUE(matches(with(dst_cidr(v4("192.168.0.0"), 23)), below));
  EXPECT_FALSE(matches(with(dst_cidr(v4("192.168.0.0"), 23)), above));
  EXPECT_TRUE(matches(with(src_cidr(v4("0.0.0.0"), 0)), above));
  EXPECT_FALSE(matches(with(src_cidr(v4("0.0.0.0"), 0, true)), above));
}

// br_netfilter's FORWARD hook shows a bridged frame with the bridge as its in and out
// device: -i / -o compare with the bridge's name, never a port's.
TEST(MatchKinds, InAndOutInterfaceNameTheBridge) {
  auto iface = [](bool out, const char* name, bool wildcard, bool neg = false) {
    return with(IfaceMatch{out, IfacePattern{name, wildcard}, neg});
  };
  const Decoded d = tcp4("1.1.1.1", "2.2.2.2", 1, 2);
  EXPECT_TRUE(matches(iface(false, "br0", false), d));
  EXPECT_TRUE(matches(iface(true, "br0", false), d));
  EXPECT_TRUE(matches(iface(true, "br", true), d));
  EXPECT_FALSE(matches(iface(false, "br0", false, true), d));
  // A port's name never matches, whichever port the frame came in on or goes out of.
  EXPECT_FALSE(matches(iface(false, "eth0", false), d, CtState::New, 0, 1));
  EXPECT_FALSE(matches(iface(true, "tap0", false), d, CtState::New, 0, 1));
  EXPECT_TRUE(matches(iface(true, "tap", true, true), d, CtState::New, 0, 1));
  EXPECT_FALSE(matches(iface(false, "br1", false), d));
}

// Another bridge name (compile's bridge_name), for both the compiled and reference walks.
TEST(MatchKinds, InterfaceNamesTheBridgeTheRulesWereWrittenFor) {
  RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  Rule r = with(IfaceMatch{false, IfacePattern{"virbr0", false}, false});
  chain(rs, "FORWARD").rules.push_back(r);
  const auto ports = four_ports();
  const Decoded d = tcp4("1.1.1.1", "2.2.2.2", 1, 2);  // q points at it
  const PolicyQuery q = query(d, CtState::New, 0, 1);
  for (const char* bridge : {"virbr0", "br0"}) {
    auto c = CompiledPolicy::compile(&rs, nullptr, ports, 1, bridge);
    ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const CompiledPolicy>>(c));
    const bool want = std::string(bridge) == "virbr0";
    EXPECT_EQ(PolicyEvaluator(std::get<std::shared_ptr<const CompiledPolicy>>(c)).judge(q).accept, want);
    EXPECT_EQ(policy::ReferenceEvaluator(&rs, nullptr, ports, bridge).judge(q).decision.accept, want);
  }
}

TEST(MatchKinds, AddressRange) {
  auto range = [](AddrMatch::Field f, const char* lo, const char* hi, bool neg = false) {
    return with(AddrRangeMatch{f, v4(lo), v4(hi), neg});
  };
  const auto S = AddrMatch::Field::Src, D = AddrMatch::Field::Dst;
  // Bounds are inclusive, and the range crosses a /24 (no prefix could say it alone).
  EXPECT_TRUE(matches(range(S, "192.0.2.250", "198.51.100.3"), tcp4("192.0.2.250", "1.1.1.1", 1, 2)));
  EXPECT_TRUE(matches(range(S, "192.0.2.250", "198.51.100.3"), tcp4("198.51.100.3", "1.1.1.1", 1, 2)));
  EXPECT_TRUE(matches(range(S, "192.0.2.250", "198.51.100.3"), tcp4("192.0.3.0", "1.1.1.1", 1, 2)));
  EXPECT_FALSE(matches(range(S, "192.0.2.250", "198.51.100.3"), tcp4("192.0.2.249", "1.1.1.1", 1, 2)));
  EXPECT_FALSE(matches(range(S, "192.0.2.250", "198.51.100.3"), tcp4("198.51.100.4", "1.1.1.1", 1, 2)));
  EXPECT_TRUE(matches(range(S, "192.0.2.250", "198.51.100.3", true), tcp4("198.51.100.4", "1.1.1.1", 1, 2)));
  EXPECT_TRUE(matches(range(D, "10.0.0.5", "10.0.0.5"), udp4("1.1.1.1", "10.0.0.5", 1, 2)));
  EXPECT_FALSE(matches(range(D, "10.0.0.5", "10.0.0.5"), udp4("10.0.0.5", "10.0.0.6", 1, 2)));
  // Reversed: matches nothing, so negated, everything.
  EXPECT_FALSE(matches(range(S, "10.0.0.9", "10.0.0.1"), tcp4("10.0.0.5", "1.1.1.1", 1, 2)));
  EXPECT_TRUE(matches(range(S, "10.0.0.9", "10.0.0.1", true), tcp4("10.0.0.5", "1.1.1.1", 1, 2)));
}

TEST(MatchKinds, DestinationPort) {
  EXPECT_TRUE(matches(with(dport(1024, 65535)), tcp4("1.1.1.1", "2.2.2.2", 5, 1024)));
  EXPECT_TRUE(matches(with(dport(1024, 65535)), udp4("1.1.1.1", "2.2.2.2", 5, 65535)));
  EXPECT_FALSE(matches(with(dport(1024, 65535)), tcp4("1.1.1.1", "2.2.2.2", 5000, 1023)));
  EXPECT_TRUE(matches(with(dport(1024, 65535, true)), tcp4("1.1.1.1", "2.2.2.2", 5000, 1023)));
  EXPECT_FALSE(matches(with(dport(1024, 65535, true)), tcp4("1.1.1.1", "2.2.2.2", 5, 1024)));
}

TEST(MatchKinds, SourcePort) {
  EXPECT_TRUE(matches(with(sport(67, 68)), udp4("1.1.1.1", "2.2.2.2", 67, 68)));
  EXPECT_FALSE(matches(with(sport(67, 68)), udp4("1.1.1.1", "2.2.2.2", 69, 68)));
  EXPECT_TRUE(matches(with(sport(67, 68, true)), udp4("1.1.1.1", "2.2.2.2", 69, 68)));
  EXPECT_FALSE(matches(with(sport(67, 68, true)), udp4("1.1.1.1", "2.2.2.2", 68, 68)));
}

TEST(MatchKinds, PortsNeverMatchWithoutAPortHeader) {
  Decoded frag = tcp4("1.1.1.1", "2.2.2.2", 5, 80);
  frag.l4_ok = false;  // a non-first fragment
  frag.is_fragment = true;
  frag.frag_offset = 1480;
  const Decoded icmp = icmp4("1.1.1.1", "2.2.2.2", 8, 0);
  const Decoded gre = ip_packet(L3Kind::Ipv4, v4("1.1.1.1"), v4("2.2.2.2"), 47);
  for (const Decoded* d : std::initializer_list<const Decoded*>{&frag, &icmp, &gre}) {
    EXPECT_FALSE(matches(with(dport(0, 65535)), *d));
    EXPECT_FALSE(matches(with(dport(80, 80, true)), *d));
    EXPECT_FALSE(matches(with(sport(5, 5, true)), *d));
    EXPECT_FALSE(matches(with(PortMatch{PortMatch::Field::Either, {{1, 2}}, true}), *d));
  }
}

TEST(MatchKinds, MultiportEitherIsSourceOrDestination) {
  PortMatch m{PortMatch::Field::Either, {{80, 80}, {443, 443}}, false};
  EXPECT_TRUE(matches(with(m), tcp4("1.1.1.1", "2.2.2.2", 80, 5000)));
  EXPECT_TRUE(matches(with(m), tcp4("1.1.1.1", "2.2.2.2", 5000, 443)));
  EXPECT_FALSE(matches(with(m), tcp4("1.1.1.1", "2.2.2.2", 5000, 8080)));
  m.negated = true;
  EXPECT_FALSE(matches(with(m), tcp4("1.1.1.1", "2.2.2.2", 80, 5000)));
  EXPECT_FALSE(matches(with(m), tcp4("1.1.1.1", "2.2.2.2", 5000, 443)));
  EXPECT_TRUE(matches(with(m), tcp4("1.1.1.1", "2.2.2.2", 5000, 8080)));
}

TEST(MatchKinds, MultiportListAndRanges) {
  PortMatch m{PortMatch::Field::Dst, {{80, 80}, {443, 443}, {1000, 2000}}, false};
  EXPECT_TRUE(matches(with(m), tcp4("1.1.1.1", "2.2.2.2", 1, 443)));
  EXPECT_TRUE(matches(with(m), tcp4("1.1.1.1", "2.2.2.2", 1, 1500)));
  EXPECT_FALSE(matches(with(m), tcp4("1.1.1.1", "2.2.2.2", 443, 444)));
}

TEST(MatchKinds, IcmpType) {
  IcmpTypeMatch echo{false, 8, 0, 0xff, false};
  EXPECT_TRUE(matches(with(echo), icmp4("1.1.1.1", "2.2.2.2", 8, 0)));
  EXPECT_FALSE(matches(with(echo), icmp4("1.1.1.1", "2.2.2.2", 0, 0)));
  IcmpTypeMatch unreach_port{false, 3, 3, 3, false};
  EXPECT_TRUE(matches(with(unreach_port), icmp4("1.1.1.1", "2.2.2.2", 3, 3)));
  EXPECT_FALSE(matches(with(unreach_port), icmp4("1.1.1.1", "2.2.2.2", 3, 1)));
  IcmpTypeMatch not_echo = echo;
  not_echo.negated = true;
  EXPECT_FALSE(matches(with(not_echo), icmp4("1.1.1.1", "2.2.2.2", 8, 0)));
  EXPECT_TRUE(matches(with(not_echo), icmp4("1.1.1.1", "2.2.2.2", 0, 0)));
  EXPECT_FALSE(matches(with(not_echo), tcp4("1.1.1.1", "2.2.2.2", 1, 2)));  // not ICMP
  IcmpTypeMatch any{true, 0, 0, 0xff, false};
  EXPECT_TRUE(matches(with(any), icmp4("1.1.1.1", "2.2.2.2", 13, 0)));
  EXPECT_FALSE(matches(with(any), udp4("1.1.1.1", "2.2.2.2", 1, 2)));
  any.negated = true;
  EXPECT_FALSE(matches(with(any), icmp4("1.1.1.1", "2.2.2.2", 13, 0)));
}

TEST(MatchKinds, Icmpv6TypeInIpv6Family) {
  Decoded echo6 = ip_packet(L3Kind::Ipv6, v6("2001:db8::1"), v6("2001:db8::2"), kProtoIcmpv6);
  echo6.l4_ok = true;
  echo6.icmp_type = 128;
  IcmpTypeMatch m{false, 128, 0, 0xff, false};
  EXPECT_TRUE(matches(with(m), echo6, CtState::New, 0, 1, Family::Ipv6));
  echo6.icmp_type = 129;
  EXPECT_FALSE(matches(with(m), echo6, CtState::New, 0, 1, Family::Ipv6));
  // IPv4 ICMP (proto 1) inside IPv6 is not ICMPv6.
  Decoded wrong = echo6;
  wrong.ip_proto = kProtoIcmp;
  wrong.icmp_type = 128;
  EXPECT_FALSE(matches(with(m), wrong, CtState::New, 0, 1, Family::Ipv6));
}

TEST(MatchKinds, State) {
  const Decoded d = tcp4("1.1.1.1", "2.2.2.2", 1, 2);
  const CtStateMask er = ct_bit(CtState::Established) | ct_bit(CtState::Related);
  EXPECT_TRUE(matches(with(state(er)), d, CtState::Established));
  EXPECT_TRUE(matches(with(state(er)), d, CtState::Related));
  EXPECT_FALSE(matches(with(state(er)), d, CtState::New));
  EXPECT_FALSE(matches(with(state(er)), d, CtState::Invalid));
  EXPECT_FALSE(matches(with(state(er)), d, CtState::None));
  EXPECT_TRUE(matches(with(state(ct_bit(CtState::Untracked))), d, CtState::Untracked));
  EXPECT_FALSE(matches(with(state(er, true)), d, CtState::Established));
  EXPECT_TRUE(matches(with(state(er, true)), d, CtState::New));
  EXPECT_TRUE(matches(with(state(er, true)), d, CtState::None));
}

TEST(MatchKinds, Physdev) {
  const Decoded d = tcp4("1.1.1.1", "2.2.2.2", 1, 2);
  // ports: 0 eth0, 1 tap0, 2 tap1, 3 vnet0
  EXPECT_TRUE(matches(with(physdev_out("tap0")), d, CtState::New, 0, 1));
  EXPECT_FALSE(matches(with(physdev_out("tap0")), d, CtState::New, 0, 2));
  EXPECT_FALSE(matches(with(physdev_out("tap0")), d, CtState::New, 1, 0));
  EXPECT_TRUE(matches(with(physdev_out("tap0", false, true)), d, CtState::New, 0, 2));
  EXPECT_FALSE(matches(with(physdev_out("tap0", false, true)), d, CtState::New, 0, 1));
  EXPECT_TRUE(matches(with(physdev_in("tap0")), d, CtState::New, 1, 0));
  EXPECT_FALSE(matches(with(physdev_in("tap0")), d, CtState::New, 0, 1));
  EXPECT_TRUE(matches(with(physdev_in("tap0", false, true)), d, CtState::New, 0, 1));
  EXPECT_TRUE(matches(with(physdev_out("tap", true)), d, CtState::New, 0, 2));
  EXPECT_FALSE(matches(with(physdev_out("tap", true)), d, CtState::New, 1, 3));
  EXPECT_TRUE(matches(with(physdev_out("tap", true, true)), d, CtState::New, 1, 3));
  // In and out in one match: both must hold.
  PhysdevMatch both = physdev_in("eth0");
  both.out = IfacePattern{"tap1", false};
  EXPECT_TRUE(matches(with(both), d, CtState::New, 0, 2));
  EXPECT_FALSE(matches(with(both), d, CtState::New, 0, 1));
  EXPECT_FALSE(matches(with(both), d, CtState::New, 3, 2));
  // Every judged packet is bridged.
  PhysdevMatch bridged;
  bridged.is_bridged = true;
  EXPECT_TRUE(matches(with(bridged), d));
  bridged.is_bridged = false;
  EXPECT_FALSE(matches(with(bridged), d));
  PhysdevMatch not_out;
  not_out.is_out = false;
  EXPECT_FALSE(matches(with(not_out), d));
}

TEST(MatchKinds, SourceMac) {
  Decoded d = tcp4("1.1.1.1", "2.2.2.2", 1, 2);
  d.src_mac = mac(0x42);
  EXPECT_TRUE(matches(with(MacMatch{mac(0x42), false}), d));
  EXPECT_FALSE(matches(with(MacMatch{mac(0x43), false}), d));
  EXPECT_FALSE(matches(with(MacMatch{mac(0x42), true}), d));
  EXPECT_TRUE(matches(with(MacMatch{mac(0x43), true}), d));
}

TEST(MatchKinds, TcpFlags) {
  const TcpFlagsMatch syn{kTcpSyn | kTcpRst | kTcpAck | kTcpFin, kTcpSyn, false};  // --syn
  EXPECT_TRUE(matches(with(syn), tcp4("1.1.1.1", "2.2.2.2", 1, 2, kTcpSyn)));
  EXPECT_TRUE(matches(with(syn), tcp4("1.1.1.1", "2.2.2.2", 1, 2, kTcpSyn | kTcpPsh)));
  EXPECT_FALSE(matches(with(syn), tcp4("1.1.1.1", "2.2.2.2", 1, 2, kTcpSyn | kTcpAck)));
  TcpFlagsMatch not_syn = syn;
  not_syn.negated = true;
  EXPECT_TRUE(matches(with(not_syn), tcp4("1.1.1.1", "2.2.2.2", 1, 2, kTcpSyn | kTcpAck)));
  EXPECT_FALSE(matches(with(not_syn), tcp4("1.1.1.1", "2.2.2.2", 1, 2, kTcpSyn)));
  EXPECT_FALSE(matches(with(not_syn), udp4("1.1.1.1", "2.2.2.2", 1, 2)));
  EXPECT_FALSE(matches(with(syn), udp4("1.1.1.1", "2.2.2.2", 1, 2)));
}

TEST(MatchKinds, NonFirstFragment) {
  Decoded first = udp4("1.1.1.1", "2.2.2.2", 1, 2);
  first.is_fragment = true;
  first.more_fragments = true;
  Decoded later = first;
  later.l4_ok = false;
  later.frag_offset = 1480;
  const Decoded whole = udp4("1.1.1.1", "2.2.2.2", 1, 2);
  EXPECT_TRUE(matches(with(FragmentMatch{false}), later));
  EXPECT_FALSE(matches(with(FragmentMatch{false}), first));
  EXPECT_FALSE(matches(with(FragmentMatch{false}), whole));
  EXPECT_FALSE(matches(with(FragmentMatch{true}), later));
  EXPECT_TRUE(matches(with(FragmentMatch{true}), first));
  EXPECT_TRUE(matches(with(FragmentMatch{true}), whole));
}

TEST(MatchKinds, AllMatchesOfARuleMustHold) {
  Rule r = proto_rule("-p tcp -s 10.0.0.0/8 --dport 22", kProtoTcp,
                      {src_cidr(v4("10.0.0.0"), 8), dport(22, 22)}, TargetKind::Accept);
  EXPECT_TRUE(matches(r, tcp4("10.0.0.1", "2.2.2.2", 1000, 22)));
  EXPECT_FALSE(matches(r, tcp4("11.0.0.1", "2.2.2.2", 1000, 22)));
  EXPECT_FALSE(matches(r, tcp4("10.0.0.1", "2.2.2.2", 1000, 23)));
  EXPECT_FALSE(matches(r, udp4("10.0.0.1", "2.2.2.2", 1000, 22)));
  // Two matches on one field: the intersection.
  Rule two = with(dport(10, 100));
  two.matches.push_back(dport(50, 200));
  EXPECT_TRUE(matches(two, tcp4("1.1.1.1", "2.2.2.2", 1, 50)));
  EXPECT_TRUE(matches(two, tcp4("1.1.1.1", "2.2.2.2", 1, 100)));
  EXPECT_FALSE(matches(two, tcp4("1.1.1.1", "2.2.2.2", 1, 49)));
  EXPECT_FALSE(matches(two, tcp4("1.1.1.1", "2.2.2.2", 1, 101)));
}

TEST(MatchKinds, Ipv6Cidr) {
  const Decoded d = tcp6("2001:db8:1::5", "fe80::1", 1000, 22);
  auto f = Family::Ipv6;
  EXPECT_TRUE(matches(with(src_cidr(v6("2001:db8::"), 32)), d, CtState::New, 0, 1, f));
  EXPECT_TRUE(matches(with(src_cidr(v6("2001:db8:1::"), 48)), d, CtState::New, 0, 1, f));
  EXPECT_FALSE(matches(with(src_cidr(v6("2001:db8:2::"), 48)), d, CtState::New, 0, 1, f));
  EXPECT_TRUE(matches(with(src_cidr(v6("2001:db8:2::"), 48, true)), d, CtState::New, 0, 1, f));
  EXPECT_TRUE(matches(with(src_cidr(v6("2001:db8:1::5"), 128)), d, CtState::New, 0, 1, f));
  EXPECT_FALSE(matches(with(src_cidr(v6("2001:db8:1::4"), 128)), d, CtState::New, 0, 1, f));
  EXPECT_TRUE(matches(with(dst_cidr(v6("fe80::"), 10)), d, CtState::New, 0, 1, f));
  EXPECT_FALSE(matches(with(dst_cidr(v6("fe80::"), 10, true)), d, CtState::New, 0, 1, f));
}

}  // namespace
}  // namespace tapwall::testing
