// One test per error class: the error names the path, the 1-based line, the 1-based column
// of the offending token in that line, the token, and says what is wrong. The column is
// computed here from where the token sits in the source line, independently of the lexer.
#include <gtest/gtest.h>

#include "describe.hpp"

namespace tapwall::rules_test {
namespace {

struct ErrCase {
  const char* name;
  std::string text;
  int line;             // expected line
  std::string at;       // source text starting at the offending token, within `line`
  std::string token;    // expected token (after quote removal)
  std::string message;  // a fragment the message must contain
  Family family = Family::Ipv4;
  bool last = false;    // the token is the last occurrence of `at` in the line
};

std::string line_of(const std::string& text, int line) {
  size_t start = 0;
  for (int i = 1; i < line; ++i) start = text.find('\n', start) + 1;
  return text.substr(start, text.find('\n', start) - start);
}

void check(const ErrCase& c) {
  SCOPED_TRACE(c.name);
  const ConfigError e = parse_err(c.text, c.family, "fw.sh");
  const std::string l = line_of(c.text, c.line);
  const size_t at = c.last ? l.rfind(c.at) : l.find(c.at);
  ASSERT_NE(at, std::string::npos) << "bad test: '" << c.at << "' not in line " << c.line;
  EXPECT_EQ(e.path, "fw.sh");
  EXPECT_EQ(e.line, c.line) << e.to_string();
  EXPECT_EQ(e.column, int(at) + 1) << e.to_string();
  EXPECT_EQ(e.token, c.token) << e.to_string();
  EXPECT_NE(e.message.find(c.message), std::string::npos) << e.to_string();
}

const std::string kV4 = "iptables -A FORWARD ";
const std::string kV6 = "ip6tables -A FORWARD ";

TEST(Error, UnsupportedThings) {
  const ErrCase cases[] = {
      {"option", kV4 + "-p tcp --frobnicate 1", 1, "--frobnicate", "--frobnicate", "unsupported option '--frobnicate'"},
      {"short option", kV4 + "-x", 1, "-x", "-x", "unsupported option '-x'"},
      {"match module", kV4 + "-m hashlimit --hashlimit-upto 5/s", 1, "hashlimit --hashlimit-upto", "hashlimit", "match module 'hashlimit' is not supported"},
      {"limit rate unit", kV4 + "-m limit --limit 5/fortnight", 1, "5/fortnight", "5/fortnight", "bad rate '5/fortnight'"},
      {"limit rate zero", kV4 + "-m limit --limit 0/s", 1, "0/s", "0/s", "bad rate"},
      {"limit rate empty unit", kV4 + "-m limit --limit 5/", 1, "5/", "5/", "bad rate"},
      {"limit rate too fast", kV4 + "-m limit --limit 10001/second", 1, "10001/second", "10001/second", "rate too fast"},
      {"limit burst range", kV4 + "-m limit --limit-burst 10001", 1, "10001", "10001", "bad --limit-burst"},
      {"limit burst not a number", kV4 + "-m limit --limit-burst x", 1, "x", "x", "bad --limit-burst"},
      {"limit negated", kV4 + "-m limit ! --limit 5/s", 1, "--limit", "--limit", "'!' cannot be applied to --limit"},
      {"length missing", kV4 + "-m length -j DROP", 1, "length", "length", "requires --length"},
      {"length too big", kV4 + "-m length --length 65536", 1, "65536", "65536", "bad --length"},
      {"length not a number", kV4 + "-m length --length 1e3", 1, "1e3", "1e3", "bad --length"},
      {"length bare colon", kV4 + "-m length --length :", 1, ":", ":", "bad --length"},
      {"pkttype missing", kV4 + "-m pkttype -j DROP", 1, "pkttype", "pkttype", "requires --pkt-type"},
      {"pkttype bad name", kV4 + "-m pkttype --pkt-type anycast", 1, "anycast", "anycast", "bad --pkt-type 'anycast'"},
      {"limit twice", kV4 + "-m limit --limit 1/s --limit 2/s", 1, "--limit 2/s", "--limit", "only one --limit"},
      {"module option", kV4 + "-m conntrack --ctstatus SEEN_REPLY", 1, "--ctstatus", "--ctstatus", "not supported"},
      {"tcp option", kV4 + "-p tcp --tcp-option 2", 1, "--tcp-option", "--tcp-option", "not supported"},
      {"target", kV4 + "-j MASQUERADE", 1, "MASQUERADE", "MASQUERADE", "target 'MASQUERADE' is not supported"},
      {"ctstate DNAT", kV4 + "-m conntrack --ctstate NEW,DNAT", 1, "NEW,DNAT", "NEW,DNAT", "'DNAT' is not supported"},
      {"old negation", kV4 + "-s ! 10.0.0.1", 1, "! 10", "!", "old syntax"},
      {"old port negation", kV4 + "-p tcp --dport ! 22", 1, "! 22", "!", "old syntax"},
      {"non-contiguous mask", kV4 + "-s 10.0.0.0/255.0.255.0", 1, "10.0.0.0/", "10.0.0.0/255.0.255.0", "non-contiguous"},
      {"hostname", kV4 + "-d example.com", 1, "example.com", "example.com", "hostnames are not supported"},
      {"replace command", "iptables -R FORWARD 1 -j DROP", 1, "-R", "-R", "not supported"},
      {"frag in v6", kV6 + "-f", 1, "-f", "-f", "IPv4 only", Family::Ipv6},
      {"shell variable", "iptables -A FORWARD -s $NET -j DROP", 1, "$NET", "$NET", "shell expansion"},
      {"shell pipe", "iptables -A FORWARD -j DROP | tee x", 1, "| tee", "|", "shell operator '|'"},
      {"other command", "#!/bin/sh\niptables -F\necho done\n", 3, "echo", "echo", "not an iptables command"},
      {"nat chain in filter", kV4 + "-t filter -j SNAT --to 1.2.3.4", 1, "SNAT", "SNAT", "not supported"},
  };
  for (const auto& c : cases) check(c);
}

TEST(Error, ProtocolRequirements) {
  const ErrCase cases[] = {
      {"dport without -p", kV4 + "--dport 80 -j ACCEPT", 1, "--dport", "--dport", "requires -p tcp or -p udp"},
      {"dport with -p icmp", kV4 + "-p icmp --dport 80", 1, "--dport", "--dport", "requires -p tcp or -p udp"},
      {"dport after -p later", kV4 + "--sport 1 -p tcp", 1, "--sport", "--sport", "requires -p tcp"},
      {"syn with udp", kV4 + "-p udp --syn", 1, "--syn", "--syn", "requires -p tcp before it"},
      {"dport with ! -p tcp", kV4 + "! -p tcp --dport 80", 1, "--dport", "--dport", "requires -p tcp"},
      {"-m udp with -p tcp", kV4 + "-m udp -p tcp --dport 5", 1, "udp", "udp", "-m udp requires -p udp"},
      {"-m tcp without -p", kV4 + "-m tcp", 1, "tcp", "tcp", "-m tcp requires -p tcp"},
      {"multiport without proto", kV4 + "-m multiport --dports 1,2", 1, "multiport", "multiport", "requires -p tcp, udp"},
      {"icmp-type without -p", kV4 + "--icmp-type 8", 1, "--icmp-type", "--icmp-type", "requires -p icmp"},
      {"-m icmp without type", kV4 + "-p icmp -m icmp -j ACCEPT", 1, "icmp -j", "icmp", "requires --icmp-type"},
      {"icmp-type in v6", kV6 + "-p ipv6-icmp --icmp-type 8", 1, "--icmp-type", "--icmp-type", "IPv4 only", Family::Ipv6},
      {"icmpv6-type in v4", kV4 + "-p icmp --icmpv6-type 128", 1, "--icmpv6-type", "--icmpv6-type", "IPv6 only"},
      {"-p icmp in v6", kV6 + "-p icmp", 1, "icmp", "icmp", "use -p ipv6-icmp", Family::Ipv6},
      {"-p ipv6-icmp in v4", kV4 + "-p ipv6-icmp", 1, "ipv6-icmp", "ipv6-icmp", "use -p icmp"},
      {"-m icmp in v6", kV6 + "-m icmp", 1, "icmp", "icmp", "use -m icmp6", Family::Ipv6},
      {"tcp-reset without tcp", kV4 + "-p udp -j REJECT --reject-with tcp-reset", 1, "tcp-reset", "tcp-reset", "requires -p tcp"},
      {"reject-with without REJECT", kV4 + "-j DROP --reject-with icmp-host-prohibited", 1, "--reject-with", "--reject-with", "only valid after -j REJECT"},
      {"log-prefix without LOG", kV4 + "--log-prefix x -j LOG", 1, "--log-prefix", "--log-prefix", "only valid after -j LOG"},
      {"state without -m", kV4 + "--state NEW", 1, "--state", "--state", "requires -m state"},
      {"physdev option without -m", kV4 + "--physdev-in tap0", 1, "--physdev-in", "--physdev-in", "requires -m physdev"},
  };
  for (const auto& c : cases) check(c);
}

TEST(Error, MandatoryModuleOptions) {
  const ErrCase cases[] = {
      {"state", kV4 + "-m state -j ACCEPT", 1, "state", "state", "requires --state"},
      {"conntrack", kV4 + "-m conntrack -j ACCEPT", 1, "conntrack", "conntrack", "requires --ctstate"},
      {"physdev", kV4 + "-m physdev -j ACCEPT", 1, "physdev", "physdev", "at least one"},
      {"mac", kV4 + "-m mac", 1, "mac", "mac", "requires --mac-source"},
      {"comment", kV4 + "-m comment", 1, "comment", "comment", "requires --comment"},
      {"iprange", kV4 + "-m iprange -j DROP", 1, "iprange", "iprange", "requires --src-range or --dst-range"},
      {"iprange v6 address in v4", kV4 + "-m iprange --src-range 2001:db8::1", 1, "2001:db8::1", "2001:db8::1", "bad IPv4 address"},
      {"iprange bad end", kV4 + "-m iprange --dst-range 10.0.0.1-", 1, "10.0.0.1-", "10.0.0.1-", "bad IPv4 address ''"},
      {"iprange twice", kV4 + "-m iprange --src-range 10.0.0.1 --src-range 10.0.0.2", 1, "--src-range 10.0.0.2", "--src-range", "only one --src-range"},
      {"multiport", kV4 + "-p tcp -m multiport", 1, "multiport", "multiport", "requires --sports"},
      {"missing argument", kV4 + "-p tcp --dport", 1, "--dport", "--dport", "requires an argument"},
      {"missing tcp-flags comp", kV4 + "-p tcp --tcp-flags SYN", 1, "--tcp-flags", "--tcp-flags", "requires an argument"},
  };
  for (const auto& c : cases) check(c);
}

TEST(Error, NegationPlacement) {
  const ErrCase cases[] = {
      {"! -m", kV4 + "! -m state --state NEW", 1, "! -m", "!", "cannot be applied to -m"},
      {"! -j", kV4 + "! -j DROP", 1, "! -j", "!", "cannot be applied to -j"},
      {"! --comment", kV4 + "-m comment ! --comment x", 1, "--comment", "--comment", "cannot be applied to --comment"},
      {"double !", kV4 + "! ! -s 1.2.3.4", 1, "! -s", "!", "only once"},
      {"trailing !", kV4 + "-p tcp !", 1, "!", "!", "must be followed by an option"},
      {"! -p all", kV4 + "! -p all", 1, "all", "all", "would never match"},
      {"! with address list", kV4 + "! -s 1.1.1.1,2.2.2.2", 1, "1.1.1.1", "1.1.1.1,2.2.2.2", "list of addresses"},
      {"two -i", kV4 + "-i br0 --in-interface br1", 1, "--in-interface", "--in-interface", "multiple -i flags"},
      {"-o name too long", kV4 + "-o abcdefghijklmnop", 1, "abcdefghijklmnop", "abcdefghijklmnop", "longer than 15"},
  };
  for (const auto& c : cases) check(c);
}

TEST(Error, BadValues) {
  const ErrCase cases[] = {
      {"port range", kV4 + "-p tcp --dport 200:100", 1, "200:100", "200:100", "min > max"},
      {"port number", kV4 + "-p tcp --dport 70000", 1, "70000", "70000", "out of range"},
      {"port name", kV4 + "-p tcp --dport nosuchsvc", 1, "nosuchsvc", "nosuchsvc", "unknown port name"},
      {"multiport too many", kV4 + "-p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", 1, "1,2", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", "too many ports"},
      {"multiport range counts 2", kV4 + "-p tcp -m multiport --dports 1:2,3:4,5:6,7:8,9:10,11:12,13:14,15,16", 1, "1:2", "1:2,3:4,5:6,7:8,9:10,11:12,13:14,15,16", "too many ports"},
      {"protocol", kV4 + "-p foo", 1, "foo", "foo", "unknown protocol"},
      {"protocol number", kV4 + "-p 256", 1, "256", "256", "unknown protocol"},
      {"prefix", kV4 + "-s 10.0.0.0/33", 1, "10.0.0.0/33", "10.0.0.0/33", "bad prefix length"},
      {"v6 in v4", kV4 + "-d 2001:db8::1", 1, "2001", "2001:db8::1", "IPv6 address in an IPv4"},
      {"v4 in v6", kV6 + "-s 10.0.0.1", 1, "10.0.0.1", "10.0.0.1", "IPv4 address in an IPv6", Family::Ipv6},
      {"mac", kV4 + "-m mac --mac-source 52:54:00:ab:cd", 1, "52:54", "52:54:00:ab:cd", "bad MAC"},
      {"state", kV4 + "-m state --state NEW,BOGUS", 1, "NEW,BOGUS", "NEW,BOGUS", "unknown conntrack state 'BOGUS'"},
      {"icmp type", kV4 + "-p icmp --icmp-type bogus", 1, "bogus", "bogus", "unknown ICMP type"},
      {"icmpv6 any", kV6 + "-p ipv6-icmp --icmpv6-type any", 1, "any", "any", "unknown ICMPv6 type", Family::Ipv6},
      {"tcp flag", kV4 + "-p tcp --tcp-flags SYN,FOO SYN", 1, "SYN,FOO", "SYN,FOO", "unknown TCP flag 'FOO'"},
      {"reject-with", kV4 + "-j REJECT --reject-with icmp6-no-route", 1, "icmp6-no-route", "icmp6-no-route", "unknown --reject-with"},
      {"log level", kV4 + "-j LOG --log-level 9", 1, "9", "9", "unknown --log-level"},
      {"log prefix length", kV4 + "-j LOG --log-prefix 123456789012345678901234567890", 1, "1234", "123456789012345678901234567890", "29"},
      {"iface length", kV4 + "-m physdev --physdev-in abcdefghijklmnop", 1, "abcd", "abcdefghijklmnop", "longer than 15"},
      {"duplicate -p", kV4 + "-p tcp -p udp", 1, "-p udp", "-p", "multiple -p"},
      {"duplicate -s", kV4 + "-s 1.1.1.1 --source 2.2.2.2", 1, "--source", "--source", "multiple -s"},
      {"duplicate dport", kV4 + "-p tcp --dport 1 --destination-port 2", 1, "--destination-port", "--destination-port", "only one"},
      {"syn and tcp-flags", kV4 + "-p tcp --syn --tcp-flags ALL SYN", 1, "--tcp-flags", "--tcp-flags", "only one"},
      {"duplicate -j", kV4 + "-j ACCEPT -j DROP", 1, "-j DROP", "-j", "multiple -j"},
      {"stray argument", kV4 + "-p tcp 80", 1, "80", "80", "unexpected argument"},
      {"goto a target", kV4 + "-g ACCEPT", 1, "ACCEPT", "ACCEPT", "-g needs a user-defined chain"},
  };
  for (const auto& c : cases) check(c);
}

TEST(Error, ChainsAndTables) {
  const ErrCase cases[] = {
      {"unknown chain in -A", "iptables -N a\niptables -A nosuch -j DROP\n", 2, "nosuch", "nosuch", "no chain named 'nosuch'"},
      {"jump to undefined", "iptables -A FORWARD -j vboxin\niptables -N vboxin\n", 1, "vboxin", "vboxin", "no chain or supported target"},
      {"jump to builtin", kV4 + "-j INPUT", 1, "INPUT", "INPUT", "built-in chain"},
      {"self loop", "iptables -N a\niptables -A a -j a\n", 2, "a", "a", "creates a loop", Family::Ipv4, true},
      {"indirect loop", "iptables -N a\niptables -N b\niptables -N c\niptables -A a -j b\niptables -A b -g c\niptables -A c -p tcp -j a\n",
       6, "a", "a", "creates a loop", Family::Ipv4, true},
      {"-X referenced", "iptables -N a\niptables -A FORWARD -j a\niptables -X a\n", 3, "a", "a", "still referenced by a rule in 'FORWARD' at fw.sh:2", Family::Ipv4, true},
      {"-X not empty", "iptables -N a\niptables -A a -j DROP\niptables -X\n", 3, "-X", "-X", "not empty"},
      {"-X builtin", "iptables -X FORWARD\n", 1, "FORWARD", "FORWARD", "built-in"},
      {"-X unknown", "iptables -X nosuch\n", 1, "nosuch", "nosuch", "no chain named"},
      {"-F unknown", "iptables -F nosuch\n", 1, "nosuch", "nosuch", "no chain named"},
      {"-P user chain", "iptables -N a\niptables -P a DROP\n", 2, "a DROP", "a", "user-defined chain"},
      {"-P bad verdict", "iptables -P FORWARD REJECT\n", 1, "REJECT", "REJECT", "bad policy"},
      {"-N exists", "iptables -N a\niptables -N a\n", 2, "a", "a", "already exists", Family::Ipv4, true},
      {"-N builtin", "iptables -N FORWARD\n", 1, "FORWARD", "FORWARD", "already exists"},
      {"-N target name", "iptables -N LOG\n", 1, "LOG", "LOG", "clash with target name"},
      {"-N too long", "iptables -N abcdefghijklmnopqrstuvwxyz0123\n", 1, "abcd", "abcdefghijklmnopqrstuvwxyz0123", "longer than 28"},
      {"-N extra argument", "iptables -N a b\n", 1, "b", "b", "unexpected argument", Family::Ipv4, true},
      {"insert too far", "iptables -A FORWARD -j DROP\niptables -I FORWARD 3 -j ACCEPT\n", 2, "3", "3", "index of insertion too big"},
      {"delete too far", "iptables -D FORWARD 1\n", 1, "1", "1", "index of deletion too big"},
      {"delete no match", "iptables -A FORWARD -j DROP\niptables -D FORWARD -j ACCEPT\n", 2, "-D", "-D", "no rule in 'FORWARD' matches"},
      {"no command", "iptables -p tcp -A FORWARD\n", 1, "-p", "-p", "expected an iptables command"},
      {"no chain", "iptables -A\n", 1, "-A", "-A", "requires a chain name"},
      {"unknown table", "iptables -t filtre -A FORWARD\n", 1, "filtre", "filtre", "unknown table"},
      {"ip6tables in v4", "iptables -F\nip6tables -A FORWARD -j DROP\n", 2, "ip6tables", "ip6tables", "IPv4 (iptables) rules file"},
      {"iptables in v6", "iptables -F\n", 1, "iptables", "iptables", "IPv6 (ip6tables) rules file", Family::Ipv6},
  };
  for (const auto& c : cases) check(c);
}

TEST(Error, SaveFileStructure) {
  const ErrCase cases[] = {
      {"missing COMMIT", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j DROP\n", 1, "*filter", "*filter", "not closed by COMMIT"},
      {"missing COMMIT in skipped table", "*nat\n-A POSTROUTING -j MASQUERADE\n", 1, "*nat", "*nat", "not closed by COMMIT"},
      {"table inside table", "*filter\n*nat\nCOMMIT\n", 2, "*nat", "*nat", "before COMMIT"},
      {"second filter", "*filter\nCOMMIT\n*filter\nCOMMIT\n", 3, "*filter", "*filter", "second *filter"},
      {"rule outside table", "*filter\nCOMMIT\n-A INPUT -j DROP\n", 3, "-A", "-A", "outside a table"},
      {"COMMIT outside", "*filter\nCOMMIT\nCOMMIT\n", 3, "COMMIT", "COMMIT", "COMMIT outside"},
      {"unknown table", "*broute\nCOMMIT\n", 1, "*broute", "*broute", "unknown table"},
      {"user chain policy", "*filter\n:mine ACCEPT [0:0]\nCOMMIT\n", 2, "ACCEPT", "ACCEPT", "cannot have a policy"},
      {"builtin without policy", "*filter\n:INPUT - [0:0]\nCOMMIT\n", 2, "-", "-", "needs a policy"},
      {"builtin bad policy", "*filter\n:INPUT QUEUE [0:0]\nCOMMIT\n", 2, "QUEUE", "QUEUE", "bad policy"},
      {"bad counters", "*filter\n:INPUT ACCEPT [x:0]\nCOMMIT\n", 2, "[x:0]", "[x:0]", "bad counters"},
      {"chain declared twice", "*filter\n:a - [0:0]\n:a - [0:0]\nCOMMIT\n", 3, "a -", "a", "already exists"},
      {"chain used before declared", "*filter\n-A FORWARD -j later\n:later - [0:0]\nCOMMIT\n", 2, "later", "later", "no chain or supported target"},
      {"-t in save", "*filter\n-A INPUT -t filter -j DROP\nCOMMIT\n", 2, "-t", "-t", "not allowed in an iptables-save file"},
      {"unterminated quote", "*filter\n-A INPUT -m comment --comment \"oops\nCOMMIT\n", 2, "\"oops", "\"", "unterminated quote"},
      {"no filter table", "*nat\nCOMMIT\n", 0, "", "", "no *filter table"},
  };
  for (const auto& c : cases) {
    if (c.line == 0) {
      const ConfigError e = parse_err(c.text, c.family, "fw.sh");
      EXPECT_EQ(e.line, 0);
      EXPECT_NE(e.message.find(c.message), std::string::npos) << e.to_string();
      continue;
    }
    check(c);
  }
}

TEST(Error, FormatDetectionAndEmptyInput) {
  check({"unknown format", "\n# hello\n  sudo iptables -F\n", 3, "sudo", "sudo", "cannot tell the format"});
  const ConfigError empty = parse_err("# only a comment\n\n", Family::Ipv4, "fw.sh");
  EXPECT_EQ(empty.line, 0);
  EXPECT_NE(empty.message.find("no rules"), std::string::npos);
  check({"unterminated single quote", "iptables -A FORWARD -m comment --comment 'x\n", 1, "'x", "'", "unterminated quote"});
}

TEST(Error, ColumnsCountCharactersAndLinesFollowContinuations) {
  // The UTF-8 comment before the bad token is 3 characters but 9 bytes.
  const std::string text = "iptables -A FORWARD -m comment --comment \"日本語\" --bogus\n";
  const ConfigError e = parse_err(text, Family::Ipv4, "fw.sh");
  EXPECT_EQ(e.line, 1);
  EXPECT_EQ(e.column, 48);
  EXPECT_EQ(e.token, "--bogus");
  // In a continued command the error is on the physical line of the token.
  const ConfigError c = parse_err("iptables -A FORWARD \\\n  -p tcp \\\n  --bogus 1\n", Family::Ipv4, "fw.sh");
  EXPECT_EQ(c.line, 3);
  EXPECT_EQ(c.column, 3);
  EXPECT_EQ(c.token, "--bogus");
}

TEST(Error, ToStringNamesFileLineColumnAndToken) {
  const ConfigError e = parse_err("iptables -A FORWARD -j NOPE\n", Family::Ipv4, "/etc/fw.sh");
  EXPECT_EQ(e.to_string(), "/etc/fw.sh:1:24: no chain or supported target named 'NOPE' (at 'NOPE')");
}

}  // namespace
}  // namespace tapwall::rules_test
