// The seed's firewall (DESIGN.md §1), built by hand, on ports eth0 (uplink) / tap0 (vm):
// verdicts the kernel gives for LAN->guest and guest->LAN traffic.
#include <gtest/gtest.h>

#include "policy/policy_test_util.hpp"

namespace tapwall::testing {
namespace {

constexpr PortId kEth0 = 0, kTap0 = 1;

RuleSet seed_rules() {
  RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  chain(rs, "vboxin");
  chain(rs, "vboxout");
  chain(rs, "FORWARD").rules = {
      rule("-A FORWARD -m physdev --physdev-out tap0 -j vboxin", {physdev_out("tap0")},
           TargetKind::Jump, "vboxin"),
      rule("-A FORWARD -m physdev --physdev-in tap0 -j vboxout", {physdev_in("tap0")},
           TargetKind::Jump, "vboxout")};
  chain(rs, "vboxin").rules = {
      rule("-A vboxin -m state --state RELATED,ESTABLISHED -j ACCEPT",
           {state(ct_bit(CtState::Established) | ct_bit(CtState::Related))}, TargetKind::Accept),
      proto_rule("-A vboxin -p tcp -m tcp --dport 1024:65535 -j ACCEPT", kProtoTcp,
                 {dport(1024, 65535)}, TargetKind::Accept),
      proto_rule("-A vboxin -p udp -m udp --dport 1024:65535 -j ACCEPT", kProtoUdp,
                 {dport(1024, 65535)}, TargetKind::Accept),
      proto_rule("-A vboxin -p udp -m udp --sport 67:68 --dport 67:68 -j ACCEPT", kProtoUdp,
                 {sport(67, 68), dport(67, 68)}, TargetKind::Accept),
      proto_rule("-A vboxin -p tcp -m multiport --dports 80,443,465,993,995 -j ACCEPT",
                 kProtoTcp,
                 {PortMatch{PortMatch::Field::Dst,
                            {{80, 80}, {443, 443}, {465, 465}, {993, 993}, {995, 995}},
                            false}},
                 TargetKind::Accept)};
  chain(rs, "vboxout").rules = {rule("-A vboxout -j ACCEPT", {}, TargetKind::Accept)};
  return rs;
}

class SeedPolicy : public ::testing::Test {
 protected:
  void SetUp() override {
    rs = seed_rules();
    pol = compile_ok(&rs, nullptr, two_ports());
    ASSERT_TRUE(pol);
    ev = std::make_unique<PolicyEvaluator>(pol);
  }
  PolicyDecision judge(const Decoded& d, CtState ct, PortId in, PortId out) {
    return ev->judge(query(d, ct, in, out));
  }
  RuleSet rs;
  std::shared_ptr<const CompiledPolicy> pol;
  std::unique_ptr<PolicyEvaluator> ev;
};

TEST_F(SeedPolicy, LanToGuestNewSshIsDroppedByTheChainPolicy) {
  PolicyDecision d = judge(tcp4("192.168.0.10", "192.168.0.50", 40000, 22), CtState::New, kEth0,
                           kTap0);
  EXPECT_FALSE(d.accept);
  EXPECT_EQ(d.reason, DropReason::ChainPolicy);
  EXPECT_EQ(d.rule, policy_id(rs, "FORWARD"));
  EXPECT_EQ(pol->rule(d.rule).text, "-P FORWARD DROP");
}

TEST_F(SeedPolicy, LanToGuestWebIsAcceptedByMultiport) {
  for (uint16_t port : {80, 443, 465, 993, 995}) {
    PolicyDecision d = judge(tcp4("192.168.0.10", "192.168.0.50", 40000, port), CtState::New,
                             kEth0, kTap0);
    EXPECT_TRUE(d.accept) << port;
    EXPECT_EQ(d.rule, rule_id(rs, "vboxin", 4)) << port;
  }
  EXPECT_FALSE(judge(tcp4("192.168.0.10", "192.168.0.50", 40000, 444), CtState::New, kEth0, kTap0)
                   .accept);
}

TEST_F(SeedPolicy, LanToGuestHighPortsAccepted) {
  PolicyDecision d = judge(tcp4("192.168.0.10", "192.168.0.50", 40000, 8080), CtState::New, kEth0,
                           kTap0);
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.rule, rule_id(rs, "vboxin", 1));
  d = judge(udp4("192.168.0.10", "192.168.0.50", 53, 1024), CtState::New, kEth0, kTap0);
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.rule, rule_id(rs, "vboxin", 2));
  d = judge(udp4("192.168.0.10", "192.168.0.50", 53, 1023), CtState::New, kEth0, kTap0);
  EXPECT_FALSE(d.accept);
}

TEST_F(SeedPolicy, InvalidHighPortTcpPassesLikeTheKernel) {
  // Port rules without a state match let INVALID and mid-stream packets through.
  PolicyDecision d = judge(tcp4("192.168.0.10", "192.168.0.50", 40000, 8080, kTcpAck),
                           CtState::Invalid, kEth0, kTap0);
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.rule, rule_id(rs, "vboxin", 1));
}

TEST_F(SeedPolicy, DhcpBetweenPorts67And68) {
  PolicyDecision d = judge(udp4("192.168.0.1", "255.255.255.255", 67, 68), CtState::New, kEth0,
                           kTap0);
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.rule, rule_id(rs, "vboxin", 3));
  EXPECT_FALSE(judge(udp4("192.168.0.1", "255.255.255.255", 53, 68), CtState::New, kEth0, kTap0)
                   .accept);
}

TEST_F(SeedPolicy, EstablishedSshIsAccepted) {
  PolicyDecision d = judge(tcp4("192.168.0.10", "192.168.0.50", 40000, 22, kTcpAck),
                           CtState::Established, kEth0, kTap0);
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.rule, rule_id(rs, "vboxin", 0));
  d = judge(icmp4("192.168.0.1", "192.168.0.50", 3, 3), CtState::Related, kEth0, kTap0);
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.rule, rule_id(rs, "vboxin", 0));
}

TEST_F(SeedPolicy, LanToGuestPingIsDropped) {
  PolicyDecision d = judge(icmp4("192.168.0.10", "192.168.0.50", 8, 0), CtState::New, kEth0,
                           kTap0);
  EXPECT_FALSE(d.accept);
  EXPECT_EQ(d.reason, DropReason::ChainPolicy);
}

TEST_F(SeedPolicy, GuestToLanAnythingIsAccepted) {
  const Decoded pkts[] = {tcp4("192.168.0.50", "192.168.0.10", 40000, 22),
                          udp4("192.168.0.50", "8.8.8.8", 5353, 53),
                          icmp4("192.168.0.50", "192.168.0.1", 8, 0),
                          ip_packet(L3Kind::Ipv4, v4("192.168.0.50"), v4("10.0.0.1"), 47)};
  for (const Decoded& p : pkts) {
    for (CtState ct : {CtState::New, CtState::Invalid, CtState::Established}) {
      PolicyDecision d = judge(p, ct, kTap0, kEth0);
      EXPECT_TRUE(d.accept);
      EXPECT_EQ(d.rule, rule_id(rs, "vboxout", 0));
    }
  }
  EXPECT_EQ(pol->counter(rule_id(rs, "FORWARD", 1)).packets.load(), 12u);
  EXPECT_EQ(pol->counter(rule_id(rs, "FORWARD", 0)).packets.load(), 0u);
}

TEST_F(SeedPolicy, TrafficNotTouchingTap0HitsThePolicy) {
  // eth0 -> eth0 cannot be forwarded by the bridge, but the policy alone would drop it.
  PolicyDecision d = judge(tcp4("192.168.0.10", "192.168.0.11", 40000, 8080), CtState::New, kEth0,
                           kEth0);
  EXPECT_FALSE(d.accept);
  EXPECT_EQ(d.reason, DropReason::ChainPolicy);
}

TEST_F(SeedPolicy, CountersAfterAMix) {
  judge(tcp4("192.168.0.10", "192.168.0.50", 40000, 22), CtState::New, kEth0, kTap0);    // policy
  judge(tcp4("192.168.0.10", "192.168.0.50", 40001, 80), CtState::New, kEth0, kTap0);    // mport
  judge(tcp4("192.168.0.11", "192.168.0.50", 40002, 80), CtState::New, kEth0, kTap0);    // mport
  judge(tcp4("192.168.0.50", "192.168.0.10", 22, 40000), CtState::Established, kTap0, kEth0);
  auto pk = [&](int32_t id) { return pol->counter(id).packets.load(); };
  EXPECT_EQ(pk(rule_id(rs, "FORWARD", 0)), 3u);
  EXPECT_EQ(pk(rule_id(rs, "FORWARD", 1)), 1u);
  EXPECT_EQ(pk(rule_id(rs, "vboxin", 0)), 0u);
  EXPECT_EQ(pk(rule_id(rs, "vboxin", 1)), 0u);
  EXPECT_EQ(pk(rule_id(rs, "vboxin", 4)), 2u);
  EXPECT_EQ(pk(rule_id(rs, "vboxout", 0)), 1u);
  EXPECT_EQ(pk(policy_id(rs, "FORWARD")), 1u);
  EXPECT_EQ(pol->counter(policy_id(rs, "FORWARD")).bytes.load(), 100u);
}

}  // namespace
}  // namespace tapwall::testing
