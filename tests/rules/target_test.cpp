// Targets: built-in verdicts, REJECT and LOG with their options, user-chain jumps and gotos,
// and rules with no target (counting rules).
#include <gtest/gtest.h>

#include "describe.hpp"

namespace tapwall::rules_test {
namespace {

Rule last_forward_rule(const std::string& script, Family f = Family::Ipv4) {
  const RuleSet rs = parse_ok(script, f);
  const Chain* c = rs.find("FORWARD");
  if (!c || c->rules.empty()) {
    ADD_FAILURE() << "no FORWARD rule";
    return Rule{};
  }
  return c->rules.back();
}

TEST(Target, Verdicts) {
  EXPECT_EQ(last_forward_rule("iptables -A FORWARD -j ACCEPT").target, TargetKind::Accept);
  EXPECT_EQ(last_forward_rule("iptables -A FORWARD -j DROP").target, TargetKind::Drop);
  EXPECT_EQ(last_forward_rule("iptables -A FORWARD --jump RETURN").target, TargetKind::Return);
  EXPECT_EQ(last_forward_rule("iptables -A FORWARD -p tcp").target, TargetKind::None);
}

TEST(Target, RejectDefaultsAndAliasesAreCanonical) {
  EXPECT_EQ(last_forward_rule("iptables -A FORWARD -j REJECT").reject_with, "icmp-port-unreachable");
  EXPECT_EQ(last_forward_rule("ip6tables -A FORWARD -j REJECT", Family::Ipv6).reject_with, "icmp6-port-unreachable");
  EXPECT_EQ(last_forward_rule("iptables -A FORWARD -j REJECT --reject-with icmp-host-prohibited").reject_with,
            "icmp-host-prohibited");
  EXPECT_EQ(last_forward_rule("iptables -A FORWARD -j REJECT --reject-with net-unreach").reject_with,
            "icmp-net-unreachable");
  EXPECT_EQ(last_forward_rule("iptables -A FORWARD -p tcp -j REJECT --reject-with tcp-rst").reject_with, "tcp-reset");
  EXPECT_EQ(last_forward_rule("ip6tables -A FORWARD -j REJECT --reject-with adm-prohibited", Family::Ipv6).reject_with,
            "icmp6-adm-prohibited");
  EXPECT_EQ(last_forward_rule("iptables -A FORWARD -j REJECT").target, TargetKind::Reject);
}

TEST(Target, LogPrefixAndLevel) {
  const Rule r = last_forward_rule("iptables -A FORWARD -j LOG --log-prefix 'fw: ' --log-level warning --log-uid");
  EXPECT_EQ(r.target, TargetKind::Log);
  EXPECT_EQ(r.log_prefix, "fw: ");
  EXPECT_EQ(last_forward_rule("iptables -A FORWARD -j LOG --log-level 7").log_prefix, "");
}

TEST(Target, TargetOptionsMayPrecedeLaterMatches) {
  const Rule r = last_forward_rule("iptables -A FORWARD -j LOG --log-prefix x -p tcp --dport 1");
  EXPECT_EQ(describe(r), "proto=6 dport=1 -> LOG(x)");
}

TEST(Target, JumpAndGotoToUserChains) {
  const std::string s = "iptables -N web\niptables -A FORWARD -j web\niptables -A FORWARD --goto web\n";
  const RuleSet rs = parse_ok(s);
  const auto& rules = rs.find("FORWARD")->rules;
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].target, TargetKind::Jump);
  EXPECT_EQ(rules[0].jump_chain, "web");
  EXPECT_EQ(rules[1].target, TargetKind::Goto);
  EXPECT_EQ(rules[1].jump_chain, "web");
}

TEST(Target, ReturnInBuiltinChainIsKeptForThePolicyToApply) {
  const RuleSet rs = parse_ok("iptables -P FORWARD DROP\niptables -A FORWARD -j RETURN\n");
  EXPECT_EQ(rs.find("FORWARD")->rules[0].target, TargetKind::Return);
  EXPECT_EQ(rs.find("FORWARD")->policy, PolicyVerdict::Drop);
}

TEST(Target, DiamondJumpsAreNotLoops) {
  const RuleSet rs = parse_ok(
      "iptables -N a\niptables -N b\niptables -N c\n"
      "iptables -A c -j ACCEPT\niptables -A a -j c\niptables -A b -j c\n"
      "iptables -A FORWARD -j a\niptables -A FORWARD -j b\n");
  EXPECT_EQ(rs.chains.size(), 6u);
}

}  // namespace
}  // namespace tapwall::rules_test
