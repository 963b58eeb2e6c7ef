// Golden data: each fixture script was run in a fresh network namespace with the real
// iptables 1.8.9 / ip6tables, and its `iptables-save -t filter` output recorded beside it
// (date comments stripped). Script and save file must parse to the same RuleSet semantics,
// and the seed policy to exactly what the seed document says.
#include <gtest/gtest.h>

#include "describe.hpp"

namespace tapwall::rules_test {
namespace {

RuleSet load_ok(const std::string& name, Family family) {
  auto r = load_rules_file(fixture(name), family);
  if (auto* e = std::get_if<ConfigError>(&r)) {
    ADD_FAILURE() << e->to_string();
    return RuleSet{};
  }
  return std::get<RuleSet>(std::move(r));
}

void expect_same_semantics(const RuleSet& a, const RuleSet& b) {
  ASSERT_EQ(a.chains.size(), b.chains.size());
  for (size_t i = 0; i < a.chains.size(); ++i) {
    SCOPED_TRACE(a.chains[i].name);
    EXPECT_EQ(a.chains[i].name, b.chains[i].name);
    EXPECT_EQ(a.chains[i].builtin, b.chains[i].builtin);
    EXPECT_EQ(policy(a.chains[i]), policy(b.chains[i]));
    EXPECT_EQ(describe(a.chains[i], true), describe(b.chains[i], true));
  }
}

TEST(Golden, SeedScriptParsesToTheSeedPolicy) {
  const RuleSet rs = load_ok("seed-firewall.sh", Family::Ipv4);
  EXPECT_EQ(rs.family, Family::Ipv4);
  EXPECT_EQ(rs.path, fixture("seed-firewall.sh"));
  ASSERT_EQ(rs.chains.size(), 5u);
  const char* names[] = {"INPUT", "FORWARD", "OUTPUT", "vboxin", "vboxout"};
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(rs.chains[i].name, names[i]);
  EXPECT_EQ(policy(*rs.find("INPUT")), "ACCEPT");
  EXPECT_EQ(policy(*rs.find("FORWARD")), "DROP");
  EXPECT_EQ(policy(*rs.find("OUTPUT")), "ACCEPT");
  EXPECT_EQ(rs.find("FORWARD")->policy_loc.line, 6);  // iptables -P FORWARD DROP
  EXPECT_EQ(rs.find("INPUT")->policy_loc.line, 0);    // never set by the script
  EXPECT_EQ(rs.find("INPUT")->policy_loc.path, fixture("seed-firewall.sh"));
  EXPECT_FALSE(rs.find("vboxin")->builtin);
  EXPECT_TRUE(rs.find("FORWARD")->builtin);

  EXPECT_EQ(rules_of(rs, "FORWARD"), (std::vector<std::string>{
                                         "physdev(out=tap0) -> jump vboxin",
                                         "physdev(in=tap0) -> jump vboxout",
                                     }));
  EXPECT_EQ(rules_of(rs, "vboxin"), (std::vector<std::string>{
                                        "state=EST,REL -> ACCEPT",
                                        "proto=6 dport=1024-65535 -> ACCEPT",
                                        "proto=17 dport=1024-65535 -> ACCEPT",
                                        "proto=17 dport=67-68 sport=67-68 -> ACCEPT",
                                        "proto=6 dport=80,443,465,993,995 -> ACCEPT",
                                    }));
  EXPECT_EQ(rules_of(rs, "vboxout"), (std::vector<std::string>{"-> ACCEPT"}));

  const Rule& r = rs.find("vboxin")->rules[1];
  EXPECT_EQ(r.text, "-A vboxin -p tcp --dport 1024:65535 -j ACCEPT");
  EXPECT_EQ(r.loc.line, 18);
  EXPECT_EQ(r.loc.path, fixture("seed-firewall.sh"));
  EXPECT_EQ(r.loc.to_string(), fixture("seed-firewall.sh") + ":18");
}

TEST(Golden, SeedSaveFileHasTheSameSemanticsAsTheScript) {
  const RuleSet script = load_ok("seed-firewall.sh", Family::Ipv4);
  const RuleSet save = load_ok("seed.rules.v4", Family::Ipv4);
  expect_same_semantics(script, save);
  EXPECT_EQ(save.find("FORWARD")->policy_loc.line, 3);  // :FORWARD DROP [0:0]
  EXPECT_EQ(save.find("vboxin")->policy_loc.line, 5);   // :vboxin - [0:0]
  const Rule& r = save.find("vboxin")->rules[3];
  EXPECT_EQ(r.text, "-A vboxin -p udp -m udp --sport 67:68 --dport 67:68 -j ACCEPT");
  EXPECT_EQ(r.loc.line, 12);
}

TEST(Golden, RichScriptAndItsIptablesSaveOutputAgree) {
  const RuleSet script = load_ok("rich-firewall.sh", Family::Ipv4);
  const RuleSet save = load_ok("rich.rules.v4", Family::Ipv4);
  expect_same_semantics(script, save);
  EXPECT_EQ(rules_of(save, "guests").size(), 21u);
}

TEST(Golden, RichIpv6ScriptAndIp6tablesSaveOutputAgree) {
  const RuleSet script = load_ok("rich-firewall6.sh", Family::Ipv6);
  const RuleSet save = load_ok("rich.rules.v6", Family::Ipv6);
  EXPECT_EQ(save.family, Family::Ipv6);
  expect_same_semantics(script, save);
  EXPECT_EQ(policy(*save.find("INPUT")), "DROP");
  EXPECT_EQ(rules_of(save, "vboxin"), (std::vector<std::string>{
                                          "state=EST,REL -> ACCEPT",
                                          "state=UNT -> ACCEPT",
                                          "proto=58 icmp=135 -> ACCEPT",
                                          "proto=58 icmp=136/0 -> ACCEPT",
                                          "proto=58 !icmp=128 -> ACCEPT",
                                          "proto=6 src=2001:db8:0:0:0:0:0:0/32 !dst=fe80:0:0:0:0:0:0:0/10 "
                                          "dport=1024-65535 -> ACCEPT",
                                          "proto=17 src=2001:db8:0:0:0:0:0:1/128 dport=546,547 -> ACCEPT",
                                          "-> REJECT(icmp6-adm-prohibited)",
                                      }));
}

TEST(Golden, Ipv4FixturesAreRejectedAsIpv6AndViceVersa) {
  auto v6 = load_rules_file(fixture("seed-firewall.sh"), Family::Ipv6);
  ASSERT_TRUE(std::holds_alternative<ConfigError>(v6));
  EXPECT_EQ(std::get<ConfigError>(v6).line, 3);  // the first iptables command
  EXPECT_EQ(std::get<ConfigError>(v6).token, "iptables");
  auto v4 = load_rules_file(fixture("rich.rules.v6"), Family::Ipv4);
  ASSERT_TRUE(std::holds_alternative<ConfigError>(v4));
  EXPECT_EQ(std::get<ConfigError>(v4).line, 11);  // -p ipv6-icmp
  EXPECT_EQ(std::get<ConfigError>(v4).token, "ipv6-icmp");
}

TEST(Golden, MissingFileIsAnErrorNamingThePath) {
  auto r = load_rules_file("/nonexistent/tapwall.rules", Family::Ipv4);
  ASSERT_TRUE(std::holds_alternative<ConfigError>(r));
  EXPECT_EQ(std::get<ConfigError>(r).path, "/nonexistent/tapwall.rules");
  EXPECT_NE(std::get<ConfigError>(r).message.find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace tapwall::rules_test
