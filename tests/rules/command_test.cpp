// Table commands applied in order: -A/-I/-D/-N/-F/-X/-P (and long forms), -t, no-op
// commands, and Rule::text / Rule::loc for each source format.
#include <gtest/gtest.h>

#include "describe.hpp"

namespace tapwall::rules_test {
namespace {

TEST(Command, InsertAtDefaultAndGivenPositions) {
  const RuleSet rs = parse_ok(
      "iptables -A FORWARD -p tcp\n"
      "iptables -A FORWARD -p udp\n"
      "iptables -I FORWARD -p 47\n"      // position 1
      "iptables -I FORWARD 3 -p 50\n"    // before udp
      "iptables --insert FORWARD 5 -p 51\n");  // size+1 = append
  EXPECT_EQ(describe(*rs.find("FORWARD")), (std::vector<std::string>{
                                               "proto=47 -> none", "proto=6 -> none", "proto=50 -> none",
                                               "proto=17 -> none", "proto=51 -> none"}));
}

// A host firewall's INPUT/OUTPUT rules may use what tapwall does not implement: they are
// kept as text (they never judge bridged frames). Anywhere else the same rule is an error.
TEST(Command, HostOnlyChainsKeepRulesTapwallDoesNotImplement) {
  const std::string save =
      "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
      "-A INPUT -i lo -j ACCEPT\n"
      "-A INPUT -p tcp -m tcp --dport 22 -m hashlimit --hashlimit-upto 3/min --hashlimit-name ssh -j ACCEPT\n"
      "-A OUTPUT -m owner --uid-owner 0 -j ACCEPT\n"
      "-A INPUT -m recent --name ssh --set\n"
      "-A FORWARD -j ACCEPT\nCOMMIT\n";
  const RuleSet rs = parse_ok(save);
  const auto& in = rs.find("INPUT")->rules;
  ASSERT_EQ(in.size(), 3u);
  EXPECT_TRUE(in[0].host_only.empty());
  EXPECT_NE(in[1].host_only.find("match module 'hashlimit' is not supported"), std::string::npos) << in[1].host_only;
  EXPECT_EQ(in[1].text, "-A INPUT -p tcp -m tcp --dport 22 -m hashlimit --hashlimit-upto 3/min --hashlimit-name ssh -j ACCEPT");
  EXPECT_TRUE(in[1].matches.empty());
  EXPECT_EQ(in[1].target, TargetKind::None);
  EXPECT_NE(in[2].host_only.find("recent"), std::string::npos);
  EXPECT_NE(rs.find("OUTPUT")->rules[0].host_only.find("owner"), std::string::npos);
  // Not in FORWARD, nor in a user chain (it could be reached from FORWARD).
  EXPECT_NE(parse_err("iptables -A FORWARD -m recent --name a --set -j ACCEPT\n").message.find("'recent' is not supported"),
            std::string::npos);
  EXPECT_NE(parse_err("iptables -N c\niptables -A INPUT -j c\niptables -A c -m recent --name a --set -j ACCEPT\n")
                .message.find("'recent' is not supported"),
            std::string::npos);
  // Input iptables itself refuses stays an error in INPUT too; so does deleting such a rule.
  EXPECT_NE(parse_err("iptables -A INPUT -s 10.0.0.0/33 -j DROP\n").message.find("prefix"), std::string::npos);
  EXPECT_NE(parse_err("iptables -A INPUT -m recent --name a --set -j ACCEPT\n"
                      "iptables -D INPUT -m recent --name a --set -j ACCEPT\n")
                .message.find("'recent' is not supported"),
            std::string::npos);
}

TEST(Command, DeleteByNumberAndBySpec) {
  const RuleSet rs = parse_ok(
      "iptables -A FORWARD -p tcp --dport 80 -j ACCEPT\n"
      "iptables -A FORWARD -p udp -j DROP\n"
      "iptables -A FORWARD -p tcp --dport 80 -j ACCEPT\n"
      "iptables -A FORWARD -p 47\n"
      "iptables -D FORWARD 4\n"
      "iptables --delete FORWARD -p tcp -m tcp --dport 80 -j ACCEPT\n");  // the first equal one
  const auto& rules = rs.find("FORWARD")->rules;
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(describe(rules[0]), "proto=17 -> DROP");
  EXPECT_EQ(rules[1].loc.line, 3);
}

TEST(Command, FlushOneOrAllChainsKeepsChainsAndPolicies) {
  const RuleSet rs = parse_ok(
      "iptables -P FORWARD DROP\niptables -N a\niptables -A a -j ACCEPT\niptables -A FORWARD -j a\n"
      "iptables -A INPUT -j DROP\niptables -F a\n");
  EXPECT_TRUE(rs.find("a")->rules.empty());
  EXPECT_EQ(rs.find("FORWARD")->rules.size(), 1u);
  const RuleSet all = parse_ok(
      "iptables -P FORWARD DROP\niptables -N a\niptables -A a -j ACCEPT\niptables -A FORWARD -j a\n"
      "iptables --flush\n");
  for (const auto& c : all.chains) EXPECT_TRUE(c.rules.empty()) << c.name;
  EXPECT_NE(all.find("a"), nullptr);
  EXPECT_EQ(all.find("FORWARD")->policy, PolicyVerdict::Drop);
}

TEST(Command, DeleteChainOneOrAll) {
  const RuleSet one = parse_ok("iptables -N a\niptables -N b\niptables --delete-chain a\n");
  EXPECT_EQ(one.find("a"), nullptr);
  EXPECT_NE(one.find("b"), nullptr);
  const RuleSet all = parse_ok("iptables -N a\niptables -N b\niptables -X\n");
  EXPECT_EQ(all.chains.size(), 3u);
  // The seed's reset idiom: flush then delete, even when chains referenced each other.
  const RuleSet reset = parse_ok(
      "iptables -N a\niptables -A FORWARD -j a\niptables -F\niptables -X\niptables -N a\n");
  EXPECT_EQ(reset.chains.size(), 4u);
  EXPECT_TRUE(reset.find("FORWARD")->rules.empty());
}

TEST(Command, PolicyLongFormAndLocation) {
  const RuleSet rs = parse_ok("\n\niptables --policy INPUT DROP\niptables -P INPUT ACCEPT\niptables -P OUTPUT DROP\n");
  EXPECT_EQ(rs.find("INPUT")->policy, PolicyVerdict::Accept);
  EXPECT_EQ(rs.find("INPUT")->policy_loc.line, 4);
  EXPECT_EQ(rs.find("OUTPUT")->policy, PolicyVerdict::Drop);
  EXPECT_EQ(rs.find("OUTPUT")->policy_loc.line, 5);
  EXPECT_EQ(rs.find("FORWARD")->policy_loc.line, 0);
}

TEST(Command, LongFormsOfAppendAndNewChain) {
  const RuleSet rs = parse_ok("iptables --new-chain x\niptables --append x -j DROP\n");
  EXPECT_EQ(describe(*rs.find("x")), (std::vector<std::string>{"-> DROP"}));
}

TEST(Command, OtherTablesAreSkippedFilterIsApplied) {
  const RuleSet rs = parse_ok(
      "iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE\n"
      "iptables -A FORWARD -t filter -j ACCEPT\n"
      "iptables --table mangle -A PREROUTING -j MARK --set-mark 1\n"
      "iptables -t raw -A PREROUTING -j NOTRACK\n"
      "iptables -t nat -N DOCKER\n"                      // changes no verdict: not counted
      "iptables -t raw -P PREROUTING ACCEPT\n"           // likewise
      "iptables -t raw -P OUTPUT DROP\n"
      "iptables -t nat -I PREROUTING -m comment --comment \"-A\" -j DNAT --to 192.0.2.1\n");
  EXPECT_EQ(describe(*rs.find("FORWARD")), (std::vector<std::string>{"-> ACCEPT"}));
  EXPECT_EQ(rs.chains.size(), 3u);
  // Counted, each table once, in order of its first rule, so the user can be told.
  EXPECT_EQ(describe(rs.skipped), (std::vector<std::string>{"nat 2/0 @1", "mangle 1/0 @3", "raw 1/1 @4"}));
}

TEST(Command, FilterOnlyScriptSkipsNothing) {
  EXPECT_TRUE(parse_ok("iptables -A FORWARD -j ACCEPT\niptables -t filter -P FORWARD DROP\n").skipped.empty());
}

TEST(Command, CountersListingsAndWaitHaveNoEffect) {
  const RuleSet rs = parse_ok(
      "iptables -Z\niptables -L -n -v\niptables -S FORWARD\n"
      "iptables -w -A FORWARD -j DROP\niptables -w 5 -A FORWARD -v -j ACCEPT\n");
  EXPECT_EQ(describe(*rs.find("FORWARD")), (std::vector<std::string>{"-> DROP", "-> ACCEPT"}));
}

TEST(Command, ScriptRuleTextStartsAtTheCommandOption) {
  const RuleSet rs = parse_ok("  /sbin/iptables -t filter -A FORWARD   -p tcp  -j ACCEPT   # web\n");
  const Rule& r = rs.find("FORWARD")->rules[0];
  EXPECT_EQ(r.text, "-A FORWARD   -p tcp  -j ACCEPT");
  EXPECT_EQ(r.loc.line, 1);
  EXPECT_EQ(r.loc.path, "t.rules");
}

TEST(Command, SaveRuleTextIsTheTrimmedLine) {
  const RuleSet rs = parse_ok("*filter\n:INPUT ACCEPT [0:0]\n  [12:3400] -A INPUT -p tcp -j DROP  \nCOMMIT\n");
  const Rule& r = rs.find("INPUT")->rules[0];
  EXPECT_EQ(r.text, "[12:3400] -A INPUT -p tcp -j DROP");
  EXPECT_EQ(r.loc.line, 3);
}

TEST(Command, InsertTextIncludesThePosition) {
  const RuleSet rs = parse_ok("iptables -A FORWARD -j DROP\niptables -I FORWARD 1 -p udp -j ACCEPT\n");
  EXPECT_EQ(rs.find("FORWARD")->rules[0].text, "-I FORWARD 1 -p udp -j ACCEPT");
  EXPECT_EQ(rs.find("FORWARD")->rules[0].loc.line, 2);
}

TEST(Command, SetCountersOptionIsAcceptedAndIgnored) {
  const RuleSet rs = parse_ok("iptables -A FORWARD -c 10 2000 -p tcp -j ACCEPT\n");
  EXPECT_EQ(describe(*rs.find("FORWARD")), (std::vector<std::string>{"proto=6 -> ACCEPT"}));
}

TEST(Command, InsertPositionZeroIsAnError) {
  const ConfigError e = parse_err("iptables -I FORWARD 0 -j DROP\n");
  EXPECT_EQ(e.line, 1);
  EXPECT_EQ(e.column, 21);
  EXPECT_EQ(e.token, "0");
  EXPECT_NE(e.message.find("start at 1"), std::string::npos) << e.to_string();
}

}  // namespace
}  // namespace tapwall::rules_test
