// One test per supported match, with its `!` forms: each rule is parsed from a one-line
// script and rendered (describe.hpp); the expected strings are the exact parsed values.
#include <gtest/gtest.h>

#include "describe.hpp"

namespace tapwall::rules_test {
namespace {

// The single rule of `iptables -A FORWARD <spec>` (ip6tables for Ipv6), rendered.
std::string rule(const std::string& spec, Family f = Family::Ipv4) {
  const std::string prog = f == Family::Ipv4 ? "iptables" : "ip6tables";
  const RuleSet rs = parse_ok(prog + " -A FORWARD " + spec + "\n", f);
  const Chain* c = rs.find("FORWARD");
  if (!c || c->rules.size() != 1) {
    ADD_FAILURE() << "expected one rule for: " << spec;
    return "";
  }
  return describe(c->rules[0]);
}

TEST(Proto, NamesNumbersAndNegation) {
  EXPECT_EQ(rule("-p tcp"), "proto=6 -> none");
  EXPECT_EQ(rule("-p TCP"), "proto=6 -> none");
  EXPECT_EQ(rule("--protocol udp"), "proto=17 -> none");
  EXPECT_EQ(rule("-p 47"), "proto=47 -> none");
  EXPECT_EQ(rule("-p gre"), "proto=47 -> none");
  EXPECT_EQ(rule("-p esp"), "proto=50 -> none");
  EXPECT_EQ(rule("-p ah"), "proto=51 -> none");
  EXPECT_EQ(rule("-p igmp"), "proto=2 -> none");
  EXPECT_EQ(rule("-p sctp"), "proto=132 -> none");
  EXPECT_EQ(rule("-p udplite"), "proto=136 -> none");
  EXPECT_EQ(rule("! -p esp"), "!proto=50 -> none");
  EXPECT_EQ(rule("-p all"), "-> none");
  EXPECT_EQ(rule("-p 0"), "-> none");
  EXPECT_EQ(rule("-p ipv6-icmp", Family::Ipv6), "proto=58 -> none");
  EXPECT_EQ(rule("-p icmpv6", Family::Ipv6), "proto=58 -> none");
}

TEST(Address, HostPrefixDottedMaskAndHostBitsCleared) {
  EXPECT_EQ(rule("-s 10.1.2.3"), "src=10.1.2.3/32 -> none");
  EXPECT_EQ(rule("-s 10.1.2.3/8"), "src=10.0.0.0/8 -> none");
  EXPECT_EQ(rule("-d 192.168.7.9/255.255.255.0"), "dst=192.168.7.0/24 -> none");
  EXPECT_EQ(rule("--source 0.0.0.0/0"), "src=0.0.0.0/0 -> none");
  EXPECT_EQ(rule("--src 1.2.3.4 --dst 5.6.7.8/31"), "src=1.2.3.4/32 dst=5.6.7.8/31 -> none");
  EXPECT_EQ(rule("--destination 172.16.5.5/12"), "dst=172.16.0.0/12 -> none");
}

TEST(Address, Negation) {
  EXPECT_EQ(rule("! -s 10.0.0.0/8"), "!src=10.0.0.0/8 -> none");
  EXPECT_EQ(rule("! -d 10.0.0.1 -s 10.0.0.2"), "!dst=10.0.0.1/32 src=10.0.0.2/32 -> none");
}

TEST(Address, Ipv6) {
  EXPECT_EQ(rule("-s 2001:db8::1", Family::Ipv6), "src=2001:db8:0:0:0:0:0:1/128 -> none");
  EXPECT_EQ(rule("! -d 2001:db8:1:2::ff/48", Family::Ipv6), "!dst=2001:db8:1:0:0:0:0:0/48 -> none");
}

TEST(Interface, InOutWildcardAndNegation) {
  EXPECT_EQ(rule("-i br0 -o br0"), "in=br0 out=br0 -> none");
  EXPECT_EQ(rule("--in-interface eth0 ! --out-interface br+"), "in=eth0 !out=br+ -> none");
  EXPECT_EQ(rule("! -i lo", Family::Ipv6), "!in=lo -> none");
}

TEST(Iprange, RangesSingleAddressesNegationAndBothFields) {
  EXPECT_EQ(rule("-m iprange --src-range 192.0.2.1-192.0.2.9"), "srcrange=192.0.2.1-192.0.2.9 -> none");
  EXPECT_EQ(rule("-m iprange --dst-range 192.0.2.7"), "dstrange=192.0.2.7-192.0.2.7 -> none");
  EXPECT_EQ(rule("-m iprange ! --src-range 10.0.0.0-10.0.0.255 --dst-range 10.1.0.1-10.1.0.2"),
            "!srcrange=10.0.0.0-10.0.0.255 dstrange=10.1.0.1-10.1.0.2 -> none");
  // iptables warns that a reversed range never matches, and loads it as written.
  EXPECT_EQ(rule("-m iprange --src-range 192.0.2.9-192.0.2.1"), "srcrange=192.0.2.9-192.0.2.1 -> none");
  EXPECT_EQ(rule("-m iprange --src-range 2001:db8::1-2001:db8::ff", Family::Ipv6),
            "srcrange=2001:db8:0:0:0:0:0:1-2001:db8:0:0:0:0:0:ff -> none");
}

TEST(Address, CommaListsExpandToOneRulePerPairAsIptablesDoes) {
  const RuleSet rs = parse_ok("iptables -A FORWARD -s 10.0.0.1,10.0.0.2 -d 1.1.1.1,2.2.2.2 -j DROP\n");
  EXPECT_EQ(describe(*rs.find("FORWARD")), (std::vector<std::string>{
                                               "src=10.0.0.1/32 dst=1.1.1.1/32 -> DROP",
                                               "src=10.0.0.1/32 dst=2.2.2.2/32 -> DROP",
                                               "src=10.0.0.2/32 dst=1.1.1.1/32 -> DROP",
                                               "src=10.0.0.2/32 dst=2.2.2.2/32 -> DROP",
                                           }));
  EXPECT_EQ(rs.find("FORWARD")->rules[3].loc.line, 1);
}

TEST(TcpUdp, PortsRangesNamesImplicitAndExplicitMatch) {
  EXPECT_EQ(rule("-p tcp --dport 80"), "proto=6 dport=80 -> none");
  EXPECT_EQ(rule("-p tcp --dport ssh"), "proto=6 dport=22 -> none");
  EXPECT_EQ(rule("-p tcp --destination-port https"), "proto=6 dport=443 -> none");
  EXPECT_EQ(rule("-p tcp --sport :1023"), "proto=6 sport=0-1023 -> none");
  EXPECT_EQ(rule("-p tcp --source-port 1024:"), "proto=6 sport=1024-65535 -> none");
  EXPECT_EQ(rule("-p udp --dport 67:68 --sport 67:68"), "proto=17 dport=67-68 sport=67-68 -> none");
  EXPECT_EQ(rule("-p udp -m udp --sport bootps"), "proto=17 sport=67 -> none");
  EXPECT_EQ(rule("-m tcp -p tcp --dport 0"), "proto=6 dport=0 -> none");
  EXPECT_EQ(rule("-p tcp -m tcp"), "proto=6 -> none");
}

TEST(TcpUdp, NegatedPorts) {
  EXPECT_EQ(rule("-p tcp ! --dport 22"), "proto=6 !dport=22 -> none");
  EXPECT_EQ(rule("-p udp -m udp ! --sport 53 ! --dport 5000:"), "proto=17 !sport=53 !dport=5000-65535 -> none");
}

TEST(TcpFlags, SynAndTcpFlags) {
  // --syn is --tcp-flags FIN,SYN,RST,ACK SYN (0x17/0x02), as iptables-save prints it.
  EXPECT_EQ(rule("-p tcp --syn"), "proto=6 flags=0x17/0x02 -> none");
  EXPECT_EQ(rule("-p tcp ! --syn"), "proto=6 !flags=0x17/0x02 -> none");
  EXPECT_EQ(rule("-p tcp --tcp-flags SYN,ACK SYN"), "proto=6 flags=0x12/0x02 -> none");
  EXPECT_EQ(rule("-p tcp --tcp-flags ALL NONE"), "proto=6 flags=0x3f/0x00 -> none");
  EXPECT_EQ(rule("-p tcp ! --tcp-flags FIN,URG,PSH fin,urg,psh"), "proto=6 !flags=0x29/0x29 -> none");
  EXPECT_EQ(rule("-p tcp --tcp-flags RST RST"), "proto=6 flags=0x04/0x04 -> none");
}

TEST(Multiport, ListsRangesFieldsAndNegation) {
  EXPECT_EQ(rule("-p tcp -m multiport --dports 80,443,465,993,995"), "proto=6 dport=80,443,465,993,995 -> none");
  EXPECT_EQ(rule("-p udp -m multiport --sports 53,67:68,ntp"), "proto=17 sport=53,67-68,123 -> none");
  EXPECT_EQ(rule("-p tcp -m multiport --ports 25,587"), "proto=6 port=25,587 -> none");
  EXPECT_EQ(rule("-p tcp -m multiport ! --destination-ports 1:10"), "proto=6 !dport=1-10 -> none");
  EXPECT_EQ(rule("-p tcp -m multiport --source-ports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15"),
            "proto=6 sport=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15 -> none");
  EXPECT_EQ(rule("-p sctp -m multiport --dports 1:2,3:4,5:6,7:8,9:10,11:12,13"),
            "proto=132 dport=1-2,3-4,5-6,7-8,9-10,11-12,13 -> none");
}

TEST(Icmp, NamesNumbersCodesAnyAndNegation) {
  EXPECT_EQ(rule("-p icmp --icmp-type echo-request"), "proto=1 icmp=8 -> none");
  EXPECT_EQ(rule("-p icmp --icmp-type echo-reply"), "proto=1 icmp=0 -> none");
  EXPECT_EQ(rule("-p icmp --icmp-type destination-unreachable"), "proto=1 icmp=3 -> none");
  EXPECT_EQ(rule("-p icmp --icmp-type port-unreachable"), "proto=1 icmp=3/3 -> none");
  EXPECT_EQ(rule("-p icmp --icmp-type host-unreachable"), "proto=1 icmp=3/1 -> none");
  EXPECT_EQ(rule("-p icmp --icmp-type network-unreachable"), "proto=1 icmp=3/0 -> none");
  EXPECT_EQ(rule("-p icmp --icmp-type time-exceeded"), "proto=1 icmp=11 -> none");
  EXPECT_EQ(rule("-p icmp --icmp-type ttl-zero-during-transit"), "proto=1 icmp=11/0 -> none");
  EXPECT_EQ(rule("-p icmp --icmp-type parameter-problem"), "proto=1 icmp=12 -> none");
  EXPECT_EQ(rule("-p icmp --icmp-type redirect"), "proto=1 icmp=5 -> none");
  EXPECT_EQ(rule("-p icmp --icmp-type source-quench"), "proto=1 icmp=4 -> none");
  EXPECT_EQ(rule("-p icmp --icmp-type timestamp-request"), "proto=1 icmp=13 -> none");
  EXPECT_EQ(rule("-p icmp -m icmp --icmp-type any"), "proto=1 icmp=any -> none");
  EXPECT_EQ(rule("-p icmp --icmp-type 3/4"), "proto=1 icmp=3/4 -> none");
  EXPECT_EQ(rule("-p 1 --icmp-type 8"), "proto=1 icmp=8 -> none");
  EXPECT_EQ(rule("-p icmp ! --icmp-type 8"), "proto=1 !icmp=8 -> none");
}

TEST(Icmp6, NamesAndNegation) {
  const auto v6 = Family::Ipv6;
  EXPECT_EQ(rule("-p ipv6-icmp --icmpv6-type echo-request", v6), "proto=58 icmp=128 -> none");
  EXPECT_EQ(rule("-p ipv6-icmp --icmpv6-type echo-reply", v6), "proto=58 icmp=129 -> none");
  EXPECT_EQ(rule("-p ipv6-icmp --icmpv6-type destination-unreachable", v6), "proto=58 icmp=1 -> none");
  EXPECT_EQ(rule("-p ipv6-icmp --icmpv6-type packet-too-big", v6), "proto=58 icmp=2 -> none");
  EXPECT_EQ(rule("-p ipv6-icmp --icmpv6-type time-exceeded", v6), "proto=58 icmp=3 -> none");
  EXPECT_EQ(rule("-p ipv6-icmp --icmpv6-type parameter-problem", v6), "proto=58 icmp=4 -> none");
  EXPECT_EQ(rule("-p ipv6-icmp --icmpv6-type router-solicitation", v6), "proto=58 icmp=133 -> none");
  EXPECT_EQ(rule("-p ipv6-icmp --icmpv6-type router-advertisement", v6), "proto=58 icmp=134 -> none");
  EXPECT_EQ(rule("-p ipv6-icmp --icmpv6-type neighbour-solicitation", v6), "proto=58 icmp=135 -> none");
  EXPECT_EQ(rule("-p ipv6-icmp --icmpv6-type neighbor-solicitation", v6), "proto=58 icmp=135 -> none");
  EXPECT_EQ(rule("-p ipv6-icmp --icmpv6-type neighbour-advertisement", v6), "proto=58 icmp=136 -> none");
  EXPECT_EQ(rule("-p ipv6-icmp --icmpv6-type neighbor-advertisement", v6), "proto=58 icmp=136 -> none");
  EXPECT_EQ(rule("-p ipv6-icmp --icmpv6-type redirect", v6), "proto=58 icmp=137 -> none");
  EXPECT_EQ(rule("-p icmpv6 -m icmp6 --icmpv6-type port-unreachable", v6), "proto=58 icmp=1/4 -> none");
  EXPECT_EQ(rule("-p 58 ! --icmpv6-type 1/3", v6), "proto=58 !icmp=1/3 -> none");
}

TEST(State, StateAndCtstateListsAndNegation) {
  EXPECT_EQ(rule("-m state --state NEW,ESTABLISHED,RELATED,INVALID,UNTRACKED"), "state=NEW,EST,REL,INV,UNT -> none");
  EXPECT_EQ(rule("-m state --state established"), "state=EST -> none");
  EXPECT_EQ(rule("-m state ! --state INVALID"), "!state=INV -> none");
  EXPECT_EQ(rule("-m conntrack --ctstate RELATED,ESTABLISHED"), "state=EST,REL -> none");
  EXPECT_EQ(rule("-m conntrack ! --ctstate NEW"), "!state=NEW -> none");
  EXPECT_EQ(rule("-m conntrack --ctstate UNTRACKED", Family::Ipv6), "state=UNT -> none");
}

TEST(Physdev, PortsWildcardsAndNegation) {
  EXPECT_EQ(rule("-m physdev --physdev-out tap0"), "physdev(out=tap0) -> none");
  EXPECT_EQ(rule("-m physdev --physdev-in tap+"), "physdev(in=tap+) -> none");
  EXPECT_EQ(rule("-m physdev ! --physdev-in eth0 ! --physdev-out tap1"), "physdev(!in=eth0,!out=tap1) -> none");
  EXPECT_EQ(rule("-m physdev --physdev-is-bridged"), "physdev(bridged) -> none");
  EXPECT_EQ(rule("-m physdev ! --physdev-is-bridged"), "physdev(!bridged) -> none");
  EXPECT_EQ(rule("-m physdev --physdev-is-in ! --physdev-is-out"), "physdev(is-in,!is-out) -> none");
  EXPECT_EQ(rule("-m physdev ! --physdev-is-in --physdev-is-out"), "physdev(!is-in,is-out) -> none");
  // Two -m physdev are two matches, both of which must hold.
  EXPECT_EQ(rule("-m physdev --physdev-in tap0 -m physdev --physdev-out eth0"),
            "physdev(in=tap0) physdev(out=eth0) -> none");
}

TEST(Physdev, WildcardPatternSemantics) {
  const RuleSet rs = parse_ok("iptables -A FORWARD -m physdev --physdev-out tap+\n");
  const auto& pm = std::get<PhysdevMatch>(rs.find("FORWARD")->rules[0].matches[0]);
  ASSERT_TRUE(pm.out.has_value());
  EXPECT_TRUE(pm.out->matches("tap0"));
  EXPECT_TRUE(pm.out->matches("tap12"));
  EXPECT_FALSE(pm.out->matches("eth0"));
  EXPECT_FALSE(pm.in.has_value());
}

TEST(Mac, SourceAndNegation) {
  EXPECT_EQ(rule("-m mac --mac-source 52:54:00:AB:cd:01"), "mac=52:54:00:ab:cd:01 -> none");
  EXPECT_EQ(rule("-m mac ! --mac-source 00:00:00:00:00:02", Family::Ipv6), "!mac=00:00:00:00:00:02 -> none");
}

TEST(Comment, TextIsKeptVerbatim) {
  const RuleSet rs = parse_ok("iptables -A FORWARD -m comment --comment \"allow \\\"web\\\" # not a comment\" -j ACCEPT\n");
  EXPECT_EQ(rs.find("FORWARD")->rules[0].comment, "allow \"web\" # not a comment");
  EXPECT_TRUE(rs.find("FORWARD")->rules[0].matches.empty());
}

TEST(Fragment, FirstAndNonFirst) {
  EXPECT_EQ(rule("-f"), "frag -> none");
  EXPECT_EQ(rule("--fragment"), "frag -> none");
  EXPECT_EQ(rule("! -f"), "!frag -> none");
}

// -m limit as iptables encodes it: avg = 10000 x seconds per unit / N, burst 5 by default.
TEST(Limit, RatesUnitsAndDefaults) {
  EXPECT_EQ(rule("-m limit"), "limit avg=12000000 burst=5 -> none");  // 3/hour
  EXPECT_EQ(rule("-m limit --limit 5/min --limit-burst 7"), "limit avg=120000 burst=7 -> none");
  EXPECT_EQ(rule("-m limit --limit 2/s"), "limit avg=5000 burst=5 -> none");
  EXPECT_EQ(rule("-m limit --limit 4"), "limit avg=2500 burst=5 -> none");  // per second
  EXPECT_EQ(rule("-m limit --limit 1/DAY"), "limit avg=864000000 burst=5 -> none");
  EXPECT_EQ(rule("-m limit --limit 3/m"), "limit avg=200000 burst=5 -> none");  // m: minute
  EXPECT_EQ(rule("-m limit --limit 7/hour --limit-burst 0"), "limit avg=5142857 burst=0 -> none");
  EXPECT_EQ(rule("-m limit --limit 10000/sec", Family::Ipv6), "limit avg=1 burst=5 -> none");
}

// -m length as iptables-save shows it: "1000:" is 1000:65535, ":64" 0:64, a reversed range
// loads as written (it matches nothing).
TEST(Length, RangesOpenEndsAndNegation) {
  EXPECT_EQ(rule("-m length --length 100:200"), "length=100:200 -> none");
  EXPECT_EQ(rule("-m length --length 300"), "length=300:300 -> none");
  EXPECT_EQ(rule("-m length ! --length 1000:"), "!length=1000:65535 -> none");
  EXPECT_EQ(rule("-m length --length :64", Family::Ipv6), "length=0:64 -> none");
  EXPECT_EQ(rule("-m length --length 200:100"), "length=200:100 -> none");
}

// -m pkttype: iptables' names for the kernel's PACKET_* numbers (host is unicast).
TEST(PktType, NamesAndNegation) {
  EXPECT_EQ(rule("-m pkttype --pkt-type unicast"), "pkttype=0 -> none");
  EXPECT_EQ(rule("-m pkttype --pkt-type host"), "pkttype=0 -> none");
  EXPECT_EQ(rule("-m pkttype --pkt-type broadcast"), "pkttype=1 -> none");
  EXPECT_EQ(rule("-m pkttype ! --pkt-type multicast", Family::Ipv6), "!pkttype=2 -> none");
  EXPECT_EQ(rule("-m pkttype --pkt-type otherhost"), "pkttype=3 -> none");
}

// iptables-nft tests the addresses, interfaces and -f first, then each module's tests in
// the order the modules were loaded (as `nft list ruleset` shows them on the lab): a limit
// spends a token on every packet that reaches it, so that is the order a limit rule keeps.
TEST(Limit, RuleOrderIsTheKernelsTestOrder) {
  EXPECT_EQ(rule("-m limit --limit 2/s -p tcp --dport 23 -s 192.0.2.1"),
            "proto=6 src=192.0.2.1/32 limit avg=5000 burst=5 dport=23 -> none");
  EXPECT_EQ(rule("-p tcp -m tcp --dport 22 -m limit --limit 1/s --sport 5"),
            "proto=6 dport=22 sport=5 limit avg=10000 burst=5 -> none");
  EXPECT_EQ(rule("-m limit --limit 3/s -m comment --comment x -m limit --limit 4/s -f"),
            "frag limit avg=3333 burst=5 limit avg=2500 burst=5 comment=x -> none");
}

TEST(Matches, KeepTheOrderWritten) {
  EXPECT_EQ(rule("-m state --state NEW -s 1.2.3.4 -m physdev --physdev-in tap0 -f"),
            "state=NEW src=1.2.3.4/32 physdev(in=tap0) frag -> none");
}

}  // namespace
}  // namespace tapwall::rules_test
