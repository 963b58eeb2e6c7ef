// Chain control flow (jump, RETURN, goto, LOG, no target, chain policy), counters,
// families, compile errors and the listing.
#include <gtest/gtest.h>

#include <sstream>

#include "policy/policy_test_util.hpp"

namespace tapwall::testing {
namespace {

uint64_t packets(const CompiledPolicy& p, int32_t id) {
  return p.counter(id).packets.load(std::memory_order_relaxed);
}
uint64_t bytes(const CompiledPolicy& p, int32_t id) {
  return p.counter(id).bytes.load(std::memory_order_relaxed);
}

// FORWARD (DROP): 0: -p tcp -j X   1: -p tcp --dport 22 -j ACCEPT
// X: 0: --dport 80 -j ACCEPT   1: --dport 22 -j RETURN   2: --dport 23 -j DROP
class JumpReturn : public ::testing::Test {
 protected:
  void SetUp() override {
    rs = ruleset(Family::Ipv4, PolicyVerdict::Drop);
    chain(rs, "X");
    chain(rs, "FORWARD").rules = {
        proto_rule("-A FORWARD -p tcp -j X", kProtoTcp, {}, TargetKind::Jump, "X"),
        proto_rule("-A FORWARD -p tcp --dport 22 -j ACCEPT", kProtoTcp, {dport(22, 22)},
                   TargetKind::Accept)};
    chain(rs, "X").rules = {
        proto_rule("-A X -p tcp --dport 80 -j ACCEPT", kProtoTcp, {dport(80, 80)},
                   TargetKind::Accept),
        proto_rule("-A X -p tcp --dport 22 -j RETURN", kProtoTcp, {dport(22, 22)},
                   TargetKind::Return),
        proto_rule("-A X -p tcp --dport 23 -j DROP", kProtoTcp, {dport(23, 23)},
                   TargetKind::Drop)};
    pol = compile_ok(&rs, nullptr, two_ports());
    ASSERT_TRUE(pol);
  }
  PolicyDecision judge(const Decoded& d, uint32_t len = 100) {
    PolicyEvaluator ev(pol);
    return ev.judge(query(d, CtState::New, 0, 1, len));
  }
  RuleSet rs;
  std::shared_ptr<const CompiledPolicy> pol;
};

TEST_F(JumpReturn, TerminalRuleInsideJumpedChain) {
  PolicyDecision d = judge(tcp4("1.1.1.1", "2.2.2.2", 1000, 80), 60);
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.rule, rule_id(rs, "X", 0));
  EXPECT_EQ(d.reason, DropReason::None);
  EXPECT_EQ(packets(*pol, rule_id(rs, "FORWARD", 0)), 1u);  // the jump rule is counted
  EXPECT_EQ(bytes(*pol, rule_id(rs, "FORWARD", 0)), 60u);
  EXPECT_EQ(packets(*pol, rule_id(rs, "X", 0)), 1u);
  EXPECT_EQ(packets(*pol, rule_id(rs, "FORWARD", 1)), 0u);
  EXPECT_EQ(packets(*pol, policy_id(rs, "FORWARD")), 0u);
}

TEST_F(JumpReturn, ReturnContinuesAfterTheJump) {
  PolicyDecision d = judge(tcp4("1.1.1.1", "2.2.2.2", 1000, 22));
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.rule, rule_id(rs, "FORWARD", 1));
  EXPECT_EQ(packets(*pol, rule_id(rs, "X", 1)), 1u);  // RETURN rule counted
  EXPECT_EQ(packets(*pol, rule_id(rs, "FORWARD", 0)), 1u);
  EXPECT_EQ(packets(*pol, rule_id(rs, "FORWARD", 1)), 1u);
}

TEST_F(JumpReturn, DropInsideJumpedChain) {
  PolicyDecision d = judge(tcp4("1.1.1.1", "2.2.2.2", 1000, 23));
  EXPECT_FALSE(d.accept);
  EXPECT_EQ(d.rule, rule_id(rs, "X", 2));
  EXPECT_EQ(d.reason, DropReason::RuleDrop);
}

TEST_F(JumpReturn, FallingOffBothChainsHitsThePolicy) {
  PolicyDecision d = judge(tcp4("1.1.1.1", "2.2.2.2", 1000, 25), 70);
  EXPECT_FALSE(d.accept);
  EXPECT_EQ(d.rule, policy_id(rs, "FORWARD"));
  EXPECT_EQ(d.reason, DropReason::ChainPolicy);
  EXPECT_EQ(packets(*pol, policy_id(rs, "FORWARD")), 1u);
  EXPECT_EQ(bytes(*pol, policy_id(rs, "FORWARD")), 70u);
  EXPECT_EQ(packets(*pol, rule_id(rs, "FORWARD", 0)), 1u);
  d = judge(udp4("1.1.1.1", "2.2.2.2", 1000, 25));
  EXPECT_EQ(d.rule, policy_id(rs, "FORWARD"));
  EXPECT_EQ(packets(*pol, rule_id(rs, "FORWARD", 0)), 1u);  // udp does not take the jump
  EXPECT_EQ(packets(*pol, policy_id(rs, "FORWARD")), 2u);
}

TEST_F(JumpReturn, CountersAccumulateAcrossMemoHits) {
  PolicyEvaluator ev(pol);
  const Decoded a = tcp4("1.1.1.1", "2.2.2.2", 1000, 80);
  const Decoded b = tcp4("3.3.3.3", "4.4.4.4", 2000, 80);  // same classes: a memo hit
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ev.judge(query(a, CtState::New, 0, 1, 10)).rule, rule_id(rs, "X", 0));
  EXPECT_EQ(ev.judge(query(b, CtState::New, 0, 1, 5)).rule, rule_id(rs, "X", 0));
  EXPECT_EQ(packets(*pol, rule_id(rs, "FORWARD", 0)), 4u);
  EXPECT_EQ(bytes(*pol, rule_id(rs, "FORWARD", 0)), 35u);
  EXPECT_EQ(packets(*pol, rule_id(rs, "X", 0)), 4u);
  EXPECT_EQ(bytes(*pol, rule_id(rs, "X", 0)), 35u);
  MemoStats st = ev.memo_stats();
  EXPECT_EQ(st.misses, 1u);
  EXPECT_EQ(st.hits, 3u);
}

// FORWARD (DROP): 0: -j Y  1: -j ACCEPT  ... Y: 0: -p tcp -g Z  1: -j DROP
// Z: 0: --dport 22 -j RETURN  1: --dport 23 -j REJECT
// A RETURN (or the end) of Z goes back to FORWARD (Y's caller), skipping Y's DROP.
TEST(Goto, ReturnGoesToTheCallerOfTheChainThatDidTheGoto) {
  RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  chain(rs, "Y");
  chain(rs, "Z");
  chain(rs, "FORWARD").rules = {rule("-A FORWARD -j Y", {}, TargetKind::Jump, "Y"),
                                rule("-A FORWARD -j ACCEPT", {}, TargetKind::Accept)};
  chain(rs, "Y").rules = {proto_rule("-A Y -p tcp -g Z", kProtoTcp, {}, TargetKind::Goto, "Z"),
                          rule("-A Y -j DROP", {}, TargetKind::Drop)};
  chain(rs, "Z").rules = {
      proto_rule("-A Z -p tcp --dport 22 -j RETURN", kProtoTcp, {dport(22, 22)},
                 TargetKind::Return),
      proto_rule("-A Z -p tcp --dport 23 -j REJECT", kProtoTcp, {dport(23, 23)},
                 TargetKind::Reject)};
  auto pol = compile_ok(&rs, nullptr, two_ports());
  ASSERT_TRUE(pol);
  PolicyEvaluator ev(pol);
  PolicyDecision d = ev.judge(query(tcp4("1.1.1.1", "2.2.2.2", 1, 22), CtState::New, 0, 1));
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.rule, rule_id(rs, "FORWARD", 1));
  d = ev.judge(query(tcp4("1.1.1.1", "2.2.2.2", 1, 99), CtState::New, 0, 1));  // falls off Z
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.rule, rule_id(rs, "FORWARD", 1));
  EXPECT_EQ(packets(*pol, rule_id(rs, "Y", 1)), 0u);
  EXPECT_EQ(packets(*pol, rule_id(rs, "Y", 0)), 2u);
  d = ev.judge(query(tcp4("1.1.1.1", "2.2.2.2", 1, 23), CtState::New, 0, 1));
  EXPECT_FALSE(d.accept);
  EXPECT_EQ(d.reason, DropReason::RuleReject);
  EXPECT_EQ(d.rule, rule_id(rs, "Z", 1));
  d = ev.judge(query(udp4("1.1.1.1", "2.2.2.2", 1, 22), CtState::New, 0, 1));  // no goto
  EXPECT_FALSE(d.accept);
  EXPECT_EQ(d.reason, DropReason::RuleDrop);
  EXPECT_EQ(d.rule, rule_id(rs, "Y", 1));
}

TEST(Goto, FromForwardReturnsToThePolicy) {
  RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  chain(rs, "W");
  chain(rs, "FORWARD").rules = {
      proto_rule("-A FORWARD -p udp -g W", kProtoUdp, {}, TargetKind::Goto, "W"),
      rule("-A FORWARD -j ACCEPT", {}, TargetKind::Accept)};
  chain(rs, "W").rules = {rule("-A W -j RETURN", {}, TargetKind::Return)};
  auto pol = compile_ok(&rs, nullptr, two_ports());
  ASSERT_TRUE(pol);
  PolicyEvaluator ev(pol);
  PolicyDecision d = ev.judge(query(udp4("1.1.1.1", "2.2.2.2", 1, 2), CtState::New, 0, 1));
  EXPECT_FALSE(d.accept);
  EXPECT_EQ(d.rule, policy_id(rs, "FORWARD"));
  EXPECT_EQ(d.reason, DropReason::ChainPolicy);
  d = ev.judge(query(tcp4("1.1.1.1", "2.2.2.2", 1, 2), CtState::New, 0, 1));
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.rule, rule_id(rs, "FORWARD", 1));
}

TEST(Return, InForwardAppliesThePolicy) {
  RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Accept);
  chain(rs, "FORWARD").rules = {
      proto_rule("-A FORWARD -p tcp -j RETURN", kProtoTcp, {}, TargetKind::Return),
      rule("-A FORWARD -j DROP", {}, TargetKind::Drop)};
  auto pol = compile_ok(&rs, nullptr, two_ports());
  ASSERT_TRUE(pol);
  PolicyEvaluator ev(pol);
  PolicyDecision d = ev.judge(query(tcp4("1.1.1.1", "2.2.2.2", 1, 2), CtState::New, 0, 1));
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.rule, policy_id(rs, "FORWARD"));
  EXPECT_EQ(packets(*pol, rule_id(rs, "FORWARD", 0)), 1u);
  EXPECT_EQ(packets(*pol, policy_id(rs, "FORWARD")), 1u);
  d = ev.judge(query(udp4("1.1.1.1", "2.2.2.2", 1, 2), CtState::New, 0, 1));
  EXPECT_FALSE(d.accept);
  EXPECT_EQ(d.reason, DropReason::RuleDrop);
}

TEST(LogAndNoTarget, CountAndContinue) {
  RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  chain(rs, "FORWARD").rules = {
      rule("-A FORWARD -m state --state NEW", {state(ct_bit(CtState::New))}, TargetKind::None),
      proto_rule("-A FORWARD -p tcp -j LOG", kProtoTcp, {}, TargetKind::Log),
      rule("-A FORWARD -j LOG --log-prefix second", {}, TargetKind::Log),
      proto_rule("-A FORWARD -p tcp -j ACCEPT", kProtoTcp, {}, TargetKind::Accept)};
  auto pol = compile_ok(&rs, nullptr, two_ports());
  ASSERT_TRUE(pol);
  PolicyEvaluator ev(pol);
  PolicyDecision d = ev.judge(query(tcp4("1.1.1.1", "2.2.2.2", 1, 2), CtState::New, 0, 1));
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.rule, rule_id(rs, "FORWARD", 3));
  EXPECT_EQ(d.log_rule, rule_id(rs, "FORWARD", 1));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(packets(*pol, rule_id(rs, "FORWARD", i)), 1u) << i;
  d = ev.judge(query(udp4("1.1.1.1", "2.2.2.2", 1, 2), CtState::Established, 0, 1));
  EXPECT_FALSE(d.accept);
  EXPECT_EQ(d.log_rule, rule_id(rs, "FORWARD", 2));
  EXPECT_EQ(packets(*pol, rule_id(rs, "FORWARD", 0)), 1u);
  EXPECT_EQ(packets(*pol, rule_id(rs, "FORWARD", 2)), 2u);
  EXPECT_EQ(packets(*pol, policy_id(rs, "FORWARD")), 1u);
}

TEST(Memo, LongPathsAreDecidedAndCountedWithoutMemo) {
  RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  auto& fwd = chain(rs, "FORWARD").rules;
  for (int i = 0; i < 10; ++i) fwd.push_back(rule("-A FORWARD", {}, TargetKind::None));
  fwd.push_back(rule("-A FORWARD -j ACCEPT", {}, TargetKind::Accept));
  auto pol = compile_ok(&rs, nullptr, two_ports());
  ASSERT_TRUE(pol);
  PolicyEvaluator ev(pol);
  for (int round = 0; round < 2; ++round) {
    PolicyDecision d = ev.judge(query(tcp4("1.1.1.1", "2.2.2.2", 1, 2), CtState::New, 0, 1));
    EXPECT_TRUE(d.accept);
    EXPECT_EQ(d.rule, rule_id(rs, "FORWARD", 10));
  }
  for (int i = 0; i <= 10; ++i) EXPECT_EQ(packets(*pol, rule_id(rs, "FORWARD", i)), 2u) << i;
  EXPECT_EQ(ev.memo_stats().uncacheable, 2u);
  EXPECT_EQ(ev.memo_stats().hits, 0u);
}

TEST(Memo, DisabledGivesTheSameDecisionsAndCounts) {
  RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  chain(rs, "FORWARD").rules = {
      proto_rule("-A FORWARD -p tcp --dport 80 -j ACCEPT", kProtoTcp, {dport(80, 80)},
                 TargetKind::Accept)};
  auto pol = compile_ok(&rs, nullptr, two_ports());
  ASSERT_TRUE(pol);
  PolicyEvaluator ev(pol);
  ev.set_memo_enabled(false);
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(ev.judge(query(tcp4("1.1.1.1", "2.2.2.2", 1, 80), CtState::New, 0, 1)).rule,
              rule_id(rs, "FORWARD", 0));
    EXPECT_EQ(ev.judge(query(tcp4("1.1.1.1", "2.2.2.2", 1, 81), CtState::New, 0, 1)).rule,
              policy_id(rs, "FORWARD"));
  }
  EXPECT_EQ(packets(*pol, rule_id(rs, "FORWARD", 0)), 3u);
  EXPECT_EQ(packets(*pol, policy_id(rs, "FORWARD")), 3u);
  EXPECT_EQ(ev.memo_stats().hits, 0u);
}

TEST(ChainPolicy, AcceptWithNoRules) {
  RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Accept);
  auto pol = compile_ok(&rs, nullptr, two_ports());
  ASSERT_TRUE(pol);
  PolicyEvaluator ev(pol);
  PolicyDecision d = ev.judge(query(tcp4("1.1.1.1", "2.2.2.2", 1, 2), CtState::New, 0, 1, 42));
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.rule, policy_id(rs, "FORWARD"));
  EXPECT_EQ(d.reason, DropReason::None);
  EXPECT_EQ(bytes(*pol, policy_id(rs, "FORWARD")), 42u);
  EXPECT_TRUE(pol->rule(d.rule).is_policy);
  EXPECT_EQ(pol->rule(d.rule).text, "-P FORWARD ACCEPT");
  EXPECT_EQ(pol->rule_count(), 3u);  // three built-in policies
}

TEST(Families, Ipv6FilteredOnlyWithARuleSet) {
  RuleSet rs4 = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  auto only4 = compile_ok(&rs4, nullptr, two_ports());
  ASSERT_TRUE(only4);
  EXPECT_TRUE(only4->filters(Family::Ipv4));
  EXPECT_FALSE(only4->filters(Family::Ipv6));
  PolicyEvaluator ev4(only4);
  const Decoded t6 = tcp6("2001:db8::1", "2001:db8::2", 1000, 22);
  PolicyDecision d = ev4.judge(query(t6, CtState::New, 0, 1));
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.rule, kNoRule);
  EXPECT_FALSE(ev4.judge(query(tcp4("1.1.1.1", "2.2.2.2", 1, 2), CtState::New, 0, 1)).accept);

  RuleSet rs6 = ruleset(Family::Ipv6, PolicyVerdict::Drop);
  chain(rs6, "FORWARD").rules = {proto_rule("-A FORWARD -p tcp --dport 22 -j ACCEPT", kProtoTcp,
                                            {dport(22, 22)}, TargetKind::Accept)};
  auto both = compile_ok(&rs4, &rs6, two_ports());
  ASSERT_TRUE(both);
  EXPECT_TRUE(both->filters(Family::Ipv6));
  PolicyEvaluator ev(both);
  const int32_t base6 = 3;  // the IPv4 RuleSet's three policies come first
  d = ev.judge(query(t6, CtState::New, 0, 1));
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.rule, rule_id(rs6, "FORWARD", 0, base6));
  EXPECT_EQ(both->rule(d.rule).family, Family::Ipv6);
  d = ev.judge(query(tcp6("2001:db8::1", "2001:db8::2", 1000, 23), CtState::New, 0, 1));
  EXPECT_FALSE(d.accept);
  EXPECT_EQ(d.rule, policy_id(rs6, "FORWARD", base6));
  // The same ports over IPv4 are judged by the IPv4 rules.
  EXPECT_FALSE(ev.judge(query(tcp4("1.1.1.1", "2.2.2.2", 1000, 22), CtState::New, 0, 1)).accept);
}

TEST(Families, NonIpIsNeverJudged) {
  RuleSet rs4 = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  auto pol = compile_ok(&rs4, nullptr, two_ports());
  ASSERT_TRUE(pol);
  PolicyEvaluator ev(pol);
  Decoded arp;
  arp.l3 = L3Kind::Arp;
  PolicyDecision d = ev.judge(query(arp, CtState::None, 0, 1));
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.rule, kNoRule);
  EXPECT_EQ(packets(*pol, policy_id(rs4, "FORWARD")), 0u);
}

TEST(Compile, Errors) {
  RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  chain(rs, "FORWARD").rules = {rule("-A FORWARD -j nowhere", {}, TargetKind::Jump, "nowhere")};
  auto r = CompiledPolicy::compile(&rs, nullptr, two_ports(), 1);
  ASSERT_TRUE(std::holds_alternative<ConfigError>(r));
  EXPECT_EQ(std::get<ConfigError>(r).token, "nowhere");
  EXPECT_EQ(std::get<ConfigError>(r).line, 1);

  RuleSet loop = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  chain(loop, "A").rules = {rule("-A A -j B", {}, TargetKind::Jump, "B")};
  chain(loop, "B").rules = {rule("-A B -g A", {}, TargetKind::Goto, "A")};
  chain(loop, "FORWARD").rules = {rule("-A FORWARD -j A", {}, TargetKind::Jump, "A")};
  EXPECT_TRUE(std::holds_alternative<ConfigError>(
      CompiledPolicy::compile(&loop, nullptr, two_ports(), 1)));

  RuleSet ok = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  std::vector<PortDesc> many(kMaxPorts + 1, PortDesc{"tap", PortRole::Vm});
  EXPECT_TRUE(std::holds_alternative<ConfigError>(CompiledPolicy::compile(&ok, nullptr, many, 1)));
  EXPECT_TRUE(std::holds_alternative<ConfigError>(CompiledPolicy::compile(nullptr, &ok, {}, 1)));

  RuleSet bad_prefix = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  chain(bad_prefix, "FORWARD").rules = {
      rule("-A FORWARD -s 1.2.3.4/33", {src_cidr(v4("1.2.3.4"), 33)}, TargetKind::Accept)};
  EXPECT_TRUE(std::holds_alternative<ConfigError>(
      CompiledPolicy::compile(&bad_prefix, nullptr, two_ports(), 1)));

  RuleSet bad_range = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  chain(bad_range, "FORWARD").rules = {
      rule("-A FORWARD --dport 9:3", {dport(9, 3)}, TargetKind::Accept)};
  EXPECT_TRUE(std::holds_alternative<ConfigError>(
      CompiledPolicy::compile(&bad_range, nullptr, two_ports(), 1)));
}

TEST(Print, ListsChainsRulesAndCounters) {
  RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  chain(rs, "vboxin");
  chain(rs, "FORWARD").rules = {rule("-A FORWARD -m physdev --physdev-out tap0 -j vboxin",
                                     {physdev_out("tap0")}, TargetKind::Jump, "vboxin")};
  chain(rs, "vboxin").rules = {rule("-A vboxin -j ACCEPT", {}, TargetKind::Accept)};
  auto pol = compile_ok(&rs, nullptr, two_ports());
  ASSERT_TRUE(pol);
  PolicyEvaluator ev(pol);
  ev.judge(query(tcp4("1.1.1.1", "2.2.2.2", 1, 2), CtState::New, 0, 1, 1234));
  ev.judge(query(tcp4("1.1.1.1", "2.2.2.2", 1, 2), CtState::New, 1, 0, 66));
  std::ostringstream os;
  pol->print(os);
  // Compare with runs of spaces collapsed: column widths are presentation.
  std::string s;
  for (char c : os.str())
    if (!(c == ' ' && !s.empty() && s.back() == ' ')) s += c;
  EXPECT_NE(s.find("Chain FORWARD (policy DROP 1 packets, 66 bytes"), std::string::npos) << s;
  EXPECT_NE(s.find("Chain vboxin (1 references)"), std::string::npos) << s;
  EXPECT_NE(s.find("1 1 1234 vboxin -A FORWARD -m physdev --physdev-out tap0 -j vboxin"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("IPv6: not filtered"), std::string::npos) << s;
}

// Rules of the other tables are not applied: the policy says so once per table (run logs
// it, check prints it), since the kernel runs those tables for bridged frames too.
TEST(Print, WarnsOfSkippedTablesPerFamily) {
  RuleSet v4 = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  v4.path = "/etc/v4.rules";
  v4.skipped = {SkippedTable{"nat", 3, 0, 2}, SkippedTable{"raw", 1, 1, 9}};
  RuleSet v6 = ruleset(Family::Ipv6, PolicyVerdict::Drop);
  v6.path = "/etc/v6.rules";
  v6.skipped = {SkippedTable{"mangle", 0, 2, 4}};
  auto pol = compile_ok(&v4, &v6, two_ports());
  ASSERT_TRUE(pol);
  const std::vector<std::string> w = pol->warnings();
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].rfind("/etc/v4.rules:2: 3 rules of the nat table not applied", 0), 0u) << w[0];
  EXPECT_EQ(w[1].rfind("/etc/v4.rules:9: 1 rule and 1 DROP policy of the raw table not applied", 0), 0u) << w[1];
  EXPECT_NE(w[1].find("UNTRACKED"), std::string::npos) << w[1];
  EXPECT_EQ(w[2].rfind("/etc/v6.rules:4: 2 DROP policies of the mangle table not applied", 0), 0u) << w[2];
  std::ostringstream os;
  pol->print(os);
  EXPECT_NE(os.str().find("# warning: " + w[0] + "\n"), std::string::npos) << os.str();
  EXPECT_NE(os.str().find("# warning: " + w[2] + "\n"), std::string::npos) << os.str();
  // Nothing skipped, nothing said.
  RuleSet plain = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  EXPECT_TRUE(compile_ok(&plain, nullptr, two_ports())->warnings().empty());
}

}  // namespace
}  // namespace tapwall::testing
