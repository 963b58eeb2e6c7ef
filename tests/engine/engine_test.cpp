// Engine tests: the whole pipeline (decode, L2, MAC, conntrack, defrag, policy) on the
// seed's real iptables-save output (tests/rules/fixtures/seed.rules.v4), with ports
// eth0 (uplink), tap0 (VM) and br0 (host).
#include <gtest/gtest.h>

#include <deque>
#include <string>

#include "frame_builder.hpp"
#include "tapwall/engine.hpp"
#include "tapwall/rules_parser.hpp"

namespace tapwall {
namespace {

using test::Bytes;
using test::FrameBuilder;
using test::ip4;
using test::mac;

constexpr PortId kEth0 = 0, kTap0 = 1, kBr0 = 2;
constexpr PortMask bit(PortId p) { return PortMask{1} << p; }

const MacAddr kLanMac = mac(0x02, 0, 0, 0, 0, 0x01);
const MacAddr kGuestMac = mac(0x02, 0, 0, 0, 0, 0x02);
const MacAddr kHostMac = mac(0x02, 0, 0, 0, 0, 0x03);
const MacAddr kBroadcast = mac(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
const IpAddr kLanIp = ip4(192, 0, 2, 1);
const IpAddr kGuestIp = ip4(192, 0, 2, 2);

constexpr uint64_t kSec = 1000000000ull;

std::shared_ptr<const CompiledPolicy> seed_policy(const std::vector<PortDesc>& ports,
                                                  uint64_t generation = 1) {
  auto parsed = load_rules_file(std::string(TAPWALL_SOURCE_DIR) + "/tests/rules/fixtures/seed.rules.v4",
                                Family::Ipv4);
  EXPECT_TRUE(std::holds_alternative<RuleSet>(parsed));
  auto compiled = CompiledPolicy::compile(&std::get<RuleSet>(parsed), nullptr, ports, generation);
  EXPECT_TRUE((std::holds_alternative<std::shared_ptr<const CompiledPolicy>>(compiled)));
  return std::get<std::shared_ptr<const CompiledPolicy>>(compiled);
}

std::shared_ptr<const CompiledPolicy> policy_from_text(const std::string& text,
                                                       const std::vector<PortDesc>& ports,
                                                       uint64_t generation) {
  auto parsed = parse_rules(text, "test.rules", Family::Ipv4);
  EXPECT_TRUE(std::holds_alternative<RuleSet>(parsed));
  auto compiled = CompiledPolicy::compile(&std::get<RuleSet>(parsed), nullptr, ports, generation);
  return std::get<std::shared_ptr<const CompiledPolicy>>(compiled);
}

// An iptables-save filter table whose FORWARD chain drops by default and holds `rules`.
std::string forward_drop_table(const std::string& rules) {
  return "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n" + rules +
         "COMMIT\n";
}

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() {
    cfg_.ports = {{"eth0", PortRole::Uplink}, {"tap0", PortRole::Vm}, {"br0", PortRole::Host}};
    engine_ = std::make_unique<Engine>(cfg_, seed_policy(cfg_.ports));
  }

  // Feeds one frame; returns the outcomes it produced (0 for a held fragment).
  std::vector<FrameOutcome> feed(const Bytes& frame, PortId in, uint64_t ts) {
    frames_.push_back(frame);  // outcome spans must stay valid for the test's assertions
    FrameIn f;
    f.bytes = frames_.back();
    f.in = in;
    f.ts_ns = ts;
    f.cookie = ++cookie_;
    std::vector<FrameOutcome> out;
    engine_->process({&f, 1}, out);
    return out;
  }
  FrameOutcome feed1(const Bytes& frame, PortId in, uint64_t ts) {
    auto out = feed(frame, in, ts);
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? FrameOutcome{} : out.front();
  }

  // Teach the MAC table where the LAN host, the guest and the host are.
  void learn_stations(uint64_t ts) {
    for (auto [m, p] : {std::pair{kLanMac, kEth0}, {kGuestMac, kTap0}, {kHostMac, kBr0}}) {
      Bytes arp = FrameBuilder{}.eth(kBroadcast, m).ethertype(kEthTypeArp).raw(0, Bytes(28, 0)).build();
      feed1(arp, p, ts);
    }
  }

  Bytes lan_to_guest_tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq = 1000,
                         uint32_t ack = 0) {
    return FrameBuilder{}
        .eth(kGuestMac, kLanMac)
        .ipv4({.src = kLanIp, .dst = kGuestIp})
        .tcp({.sport = sport, .dport = dport, .seq = seq, .ack = ack, .flags = flags})
        .build();
  }
  Bytes guest_to_lan_tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq = 5000,
                         uint32_t ack = 0) {
    return FrameBuilder{}
        .eth(kLanMac, kGuestMac)
        .ipv4({.src = kGuestIp, .dst = kLanIp})
        .tcp({.sport = sport, .dport = dport, .seq = seq, .ack = ack, .flags = flags})
        .build();
  }

  // The guest opens TCP 40000 -> LAN port 22 at `ts`: SYN, SYN/ACK and ACK, each forwarded.
  void open_guest_flow(uint64_t ts) {
    EXPECT_EQ(feed1(guest_to_lan_tcp(40000, 22, kTcpSyn, 100), kTap0, ts).to, bit(kEth0));
    EXPECT_EQ(feed1(lan_to_guest_tcp(22, 40000, kTcpSyn | kTcpAck, 900, 101), kEth0, ts).to,
              bit(kTap0));
    EXPECT_EQ(feed1(guest_to_lan_tcp(40000, 22, kTcpAck, 101, 901), kTap0, ts).to, bit(kEth0));
  }

  std::string rule_text(int32_t rule) const { return engine_->policy()->rule(rule).text; }

  EngineConfig cfg_;
  std::unique_ptr<Engine> engine_;
  std::deque<Bytes> frames_;
  uint64_t cookie_ = 0;
};

TEST_F(EngineTest, ArpBroadcastFloodsToEveryOtherPortUnfiltered) {
  Bytes arp = FrameBuilder{}.eth(kBroadcast, kLanMac).ethertype(kEthTypeArp).raw(0, Bytes(28, 0)).build();
  FrameOutcome o = feed1(arp, kEth0, kSec);
  EXPECT_EQ(o.to, bit(kTap0) | bit(kBr0));
  EXPECT_EQ(o.ct, CtState::None);
  EXPECT_EQ(o.n_per, 0);
}

TEST_F(EngineTest, LanToGuestSshDroppedByChainPolicyHttpAccepted) {
  learn_stations(kSec);
  FrameOutcome ssh = feed1(lan_to_guest_tcp(40000, 22, kTcpSyn), kEth0, 2 * kSec);
  EXPECT_EQ(ssh.to, 0u);
  ASSERT_EQ(ssh.n_per, 1);
  EXPECT_EQ(ssh.per[0].port, kTap0);
  EXPECT_EQ(ssh.per[0].reason, DropReason::ChainPolicy);
  EXPECT_EQ(ssh.ct, CtState::New);

  FrameOutcome http = feed1(lan_to_guest_tcp(40001, 80, kTcpSyn), kEth0, 2 * kSec);
  EXPECT_EQ(http.to, bit(kTap0));
  ASSERT_EQ(http.n_per, 1);
  EXPECT_EQ(rule_text(http.per[0].rule), "-A vboxin -p tcp -m multiport --dports 80,443,465,993,995 -j ACCEPT");
}

TEST_F(EngineTest, RepliesToGuestConnectionsAreEstablishedAndPass) {
  learn_stations(kSec);
  // The guest connects out from port 22 (a low port the LAN may not open by itself).
  FrameOutcome syn = feed1(guest_to_lan_tcp(22, 5000, kTcpSyn, 100), kTap0, 2 * kSec);
  EXPECT_EQ(syn.to, bit(kEth0));
  FrameOutcome synack = feed1(lan_to_guest_tcp(5000, 22, kTcpSyn | kTcpAck, 900, 101), kEth0, 2 * kSec);
  EXPECT_EQ(synack.ct, CtState::Established);
  EXPECT_EQ(synack.to, bit(kTap0));
  // Without that connection the same segment from the LAN is not a reply and is dropped.
  FrameOutcome stray = feed1(lan_to_guest_tcp(5001, 22, kTcpSyn, 900), kEth0, 3 * kSec);
  EXPECT_EQ(stray.to, 0u);
}

TEST_F(EngineTest, DroppedNewPacketLeavesNoConntrackEntry) {
  learn_stations(kSec);
  feed1(lan_to_guest_tcp(40000, 22, kTcpSyn, 1000), kEth0, 2 * kSec);
  EXPECT_EQ(engine_->conntrack().size(), 0u);
  feed1(lan_to_guest_tcp(40000, 80, kTcpSyn, 1000), kEth0, 2 * kSec);
  EXPECT_EQ(engine_->conntrack().size(), 1u);
}

TEST_F(EngineTest, UnknownUnicastIsFloodedAndJudgedPerEgressPort) {
  // Nothing learned yet: LAN -> guest MAC floods to tap0 (judged) and br0 (host, unjudged).
  FrameOutcome o = feed1(lan_to_guest_tcp(40000, 22, kTcpSyn), kEth0, kSec);
  EXPECT_EQ(o.to, bit(kBr0));
  ASSERT_EQ(o.n_per, 2);
  EXPECT_EQ(o.per[0].port, kTap0);
  EXPECT_FALSE(o.per[0].accept);
  EXPECT_EQ(o.per[1].port, kBr0);
  EXPECT_TRUE(o.per[1].accept);
  EXPECT_EQ(o.per[1].rule, kNoRule);
}

TEST_F(EngineTest, HostPortTrafficIsNotJudgedByForward) {
  learn_stations(kSec);
  Bytes host_to_guest = FrameBuilder{}
                            .eth(kGuestMac, kHostMac)
                            .ipv4({.src = ip4(192, 0, 2, 10), .dst = kGuestIp})
                            .tcp({.sport = 40000, .dport = 22, .flags = kTcpSyn})
                            .build();
  FrameOutcome o = feed1(host_to_guest, kBr0, 2 * kSec);
  EXPECT_EQ(o.to, bit(kTap0));
  EXPECT_EQ(o.per[0].rule, kNoRule);
}

TEST_F(EngineTest, FrameToStationOnIngressPortIsDropped) {
  learn_stations(kSec);
  Bytes back = FrameBuilder{}.eth(kLanMac, mac(0x02, 0, 0, 0, 0, 0x09)).ipv4({}).udp({}).build();
  FrameOutcome o = feed1(back, kEth0, 2 * kSec);
  EXPECT_EQ(o.to, 0u);
  EXPECT_EQ(o.reason, DropReason::SamePort);
}

TEST_F(EngineTest, MulticastSourceMacIsDroppedBeforeLearning) {
  Bytes bad = FrameBuilder{}.eth(kGuestMac, mac(0x01, 0, 0x5e, 0, 0, 1)).ipv4({}).udp({}).build();
  FrameOutcome o = feed1(bad, kEth0, kSec);
  EXPECT_EQ(o.reason, DropReason::SrcMacMulticast);
  EXPECT_EQ(engine_->mac_table().size(), 0u);
}

TEST_F(EngineTest, BadIpv4HeaderChecksumIsDropped) {
  learn_stations(kSec);
  Bytes f = lan_to_guest_tcp(40000, 80, kTcpSyn);
  f[14 + 10] ^= 0xff;
  FrameOutcome o = feed1(f, kEth0, 2 * kSec);
  EXPECT_EQ(o.reason, DropReason::Ipv4BadChecksum);
}

TEST_F(EngineTest, VlanTaggedIpIsFilteredLikeUntagged) {
  learn_stations(kSec);
  Bytes tagged = FrameBuilder{}
                     .eth(kGuestMac, kLanMac)
                     .vlan(10)
                     .ipv4({.src = kLanIp, .dst = kGuestIp})
                     .tcp({.sport = 40000, .dport = 22, .flags = kTcpSyn})
                     .build();
  FrameOutcome o = feed1(tagged, kEth0, 2 * kSec);
  // tap0's policy drops it, and no copy goes anywhere else (one station table for every
  // VLAN: the guest MAC, learned untagged, is where VLAN 10's frames to it go, not flooded
  // to the host port).
  EXPECT_EQ(o.to, 0u);
  EXPECT_EQ(o.ct, CtState::New);
  ASSERT_EQ(o.n_per, 1);
  EXPECT_EQ(o.per[0].reason, DropReason::ChainPolicy);
}

// As br0 without vlan_filtering: one station table for every VLAN. A tagged frame to a
// station learned from untagged frames goes to that station's port alone.
TEST_F(EngineTest, TaggedFrameGoesWhereItsDestinationWasLearnedUntagged) {
  learn_stations(kSec);
  Bytes tagged = FrameBuilder{}
                     .eth(kLanMac, kGuestMac)
                     .vlan(20)
                     .ipv4({.src = kGuestIp, .dst = kLanIp})
                     .tcp({.sport = 40000, .dport = 22, .flags = kTcpSyn})
                     .build();
  EXPECT_EQ(feed1(tagged, kTap0, 2 * kSec).to, bit(kEth0));
  // And the guest, now seen in VLAN 20, is still where untagged frames to it go.
  EXPECT_EQ(engine_->mac_table().lookup(kGuestMac, 2 * kSec), kTap0);
}

// A UDP datagram to `dport` in two IPv4 fragments.
std::pair<Bytes, Bytes> udp_fragments(uint16_t dport) {
  Bytes payload(40, 0xab);
  Bytes whole = FrameBuilder{}
                    .eth(kGuestMac, kLanMac)
                    .ipv4({.src = kLanIp, .dst = kGuestIp, .id = 77})
                    .udp({.sport = 40000, .dport = dport, .payload = payload})
                    .build();
  // Split the IP payload (8 UDP + 40 data = 48 bytes) at 24 bytes.
  Bytes first = FrameBuilder{}
                    .eth(kGuestMac, kLanMac)
                    .ipv4({.src = kLanIp, .dst = kGuestIp, .id = 77, .mf = true, .proto = kProtoUdp})
                    .raw(kProtoUdp, Bytes(whole.begin() + 34, whole.begin() + 34 + 24))
                    .build();
  Bytes second = FrameBuilder{}
                     .eth(kGuestMac, kLanMac)
                     .ipv4({.src = kLanIp, .dst = kGuestIp, .id = 77, .frag_offset = 24, .proto = kProtoUdp})
                     .raw(kProtoUdp, Bytes(whole.begin() + 34 + 24, whole.end()))
                     .build();
  return {first, second};
}

TEST_F(EngineTest, FragmentsAreHeldThenJudgedTogether) {
  learn_stations(kSec);
  auto [a, b] = udp_fragments(5000);
  EXPECT_EQ(feed(b, kEth0, 2 * kSec).size(), 0u);  // reversed order: held
  auto out = feed(a, kEth0, 2 * kSec);
  ASSERT_EQ(out.size(), 2u);
  for (const auto& o : out) EXPECT_EQ(o.to, bit(kTap0));
  EXPECT_EQ(out[0].cookie + 1, out[1].cookie);  // arrival order

  auto [c, d] = udp_fragments(53);  // udp 53 from the LAN: not allowed
  EXPECT_EQ(feed(c, kEth0, 3 * kSec).size(), 0u);
  auto out2 = feed(d, kEth0, 3 * kSec);
  ASSERT_EQ(out2.size(), 2u);
  for (const auto& o : out2) {
    EXPECT_EQ(o.to, 0u);
    EXPECT_EQ(o.per[0].reason, DropReason::ChainPolicy);
  }
}

TEST_F(EngineTest, IncompleteDatagramExpiresWithReason) {
  learn_stations(kSec);
  auto [a, b] = udp_fragments(5000);
  (void)b;
  EXPECT_EQ(feed(a, kEth0, 2 * kSec).size(), 0u);
  std::vector<FrameOutcome> out;
  engine_->expire(2 * kSec + cfg_.defrag.timeout_ns - 1, out);
  EXPECT_EQ(out.size(), 0u);
  engine_->expire(2 * kSec + cfg_.defrag.timeout_ns + 1, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].reason, DropReason::FragTimeout);
  EXPECT_EQ(out[0].bytes.size(), a.size());
}

TEST_F(EngineTest, NewPolicyKeepsConntrackAndJudgesLaterPackets) {
  learn_stations(kSec);
  feed1(guest_to_lan_tcp(22, 5000, kTcpSyn, 100), kTap0, 2 * kSec);
  // New policy: vboxin accepts only established traffic.
  const std::string strict = forward_drop_table(
      "-A FORWARD -m physdev --physdev-in tap0 -j ACCEPT\n"
      "-A FORWARD -m physdev --physdev-out tap0 -m state --state ESTABLISHED -j ACCEPT\n");
  engine_->set_policy(policy_from_text(strict, cfg_.ports, 2));
  FrameOutcome reply = feed1(lan_to_guest_tcp(5000, 22, kTcpSyn | kTcpAck, 900, 101), kEth0, 2 * kSec);
  EXPECT_EQ(reply.ct, CtState::Established);
  EXPECT_EQ(reply.to, bit(kTap0));
  FrameOutcome http = feed1(lan_to_guest_tcp(40001, 8080, kTcpSyn), kEth0, 2 * kSec);
  EXPECT_EQ(http.to, 0u);  // allowed by the seed's rules, not by the new ones
}

// A `-m limit` rule decides each packet by its token bucket, so an established flow's
// verdict is never cached on its entry: with the cache, the second ACK from the LAN would
// have been forwarded on the first one's say.
TEST_F(EngineTest, LimitRuleJudgesEveryPacketOfAnEstablishedFlow) {
  const std::string limited = forward_drop_table(
      "-A FORWARD -m physdev --physdev-in tap0 -j ACCEPT\n"
      "-A FORWARD -m state --state ESTABLISHED -m limit --limit 1/hour --limit-burst 2 -j ACCEPT\n");
  engine_->set_policy(policy_from_text(limited, cfg_.ports, 2));
  learn_stations(kSec);
  open_guest_flow(2 * kSec);  // the SYN/ACK takes token 1 of 2
  FrameOutcome first = feed1(lan_to_guest_tcp(22, 40000, kTcpAck, 901, 101), kEth0, 3 * kSec);
  EXPECT_EQ(first.ct, CtState::Established);
  EXPECT_EQ(first.to, bit(kTap0));  // token 2
  const uint64_t hits = engine_->counters().verdict_cache_hits;
  for (int i = 0; i < 2; ++i) {
    FrameOutcome later = feed1(lan_to_guest_tcp(22, 40000, kTcpAck, 901, 101), kEth0, 4 * kSec);
    EXPECT_EQ(later.ct, CtState::Established);
    EXPECT_EQ(later.to, 0u);  // no token left: FORWARD's policy
    ASSERT_EQ(later.n_per, 1);
    EXPECT_EQ(later.per[0].reason, DropReason::ChainPolicy);
  }
  EXPECT_EQ(engine_->counters().verdict_cache_hits, hits);
}

// A reassembled datagram is judged at its last fragment's time: its limit bucket refills by
// that, not by a time of 0 (which once made the next packet find the bucket full again).
TEST_F(EngineTest, LimitRuleJudgesAReassembledDatagramAtItsTime) {
  const std::string limited = forward_drop_table(
      "-A FORWARD -p udp -m limit --limit 1/second --limit-burst 1 -j ACCEPT\n");
  engine_->set_policy(policy_from_text(limited, cfg_.ports, 2));
  learn_stations(kSec);
  auto udp = [&](uint16_t dport) {
    return FrameBuilder{}
        .eth(kGuestMac, kLanMac)
        .ipv4({.src = kLanIp, .dst = kGuestIp})
        .udp({.sport = 40000, .dport = dport})
        .build();
  };
  const uint64_t t = 100 * kSec;
  EXPECT_EQ(feed1(udp(5000), kEth0, t).to, bit(kTap0));  // the one token
  auto [a, b] = udp_fragments(5001);
  EXPECT_EQ(feed(a, kEth0, t + kSec / 10).size(), 0u);
  auto out = feed(b, kEth0, t + kSec / 5);
  ASSERT_EQ(out.size(), 2u);
  for (const auto& o : out) EXPECT_EQ(o.to, 0u);  // 0.2 s: a fifth of a token
  EXPECT_EQ(feed1(udp(5002), kEth0, t + kSec / 2).to, 0u);  // half a token
  EXPECT_EQ(feed1(udp(5003), kEth0, t + kSec).to, bit(kTap0));  // a whole one
}

// A `-m pkttype` rule decides alike for every unicast frame, so an established flow that
// reaches one keeps its cached verdict (and the express path): with a pkttype rule first in
// FORWARD, as some firewalls have, every frame would otherwise take the general path.
const std::string kPkttypeFirst = forward_drop_table(
    "-A FORWARD -m pkttype --pkt-type broadcast -j DROP\n"
    "-A FORWARD -m state --state ESTABLISHED -j ACCEPT\n"
    "-A FORWARD -m physdev --physdev-in tap0 -j ACCEPT\n");

TEST_F(EngineTest, PktTypeRuleLeavesAnEstablishedFlowCached) {
  engine_->set_policy(policy_from_text(kPkttypeFirst, cfg_.ports, 2));
  learn_stations(kSec);
  open_guest_flow(2 * kSec);
  const EngineCounters before = engine_->counters();
  for (int i = 0; i < 4; ++i) {
    FrameOutcome o = feed1(lan_to_guest_tcp(22, 40000, kTcpAck, 901, 101), kEth0, 3 * kSec);
    EXPECT_EQ(o.ct, CtState::Established);
    EXPECT_EQ(o.to, bit(kTap0));
  }
  // The first is judged and cached, the other three hit the cache.
  EXPECT_EQ(engine_->counters().verdict_cache_hits - before.verdict_cache_hits, 3u);
  // Counted as judge() counts: the ESTABLISHED rule once per frame, the pkttype rule never.
  // (Ids: INPUT's policy is 0, FORWARD's rules follow.)
  const CompiledPolicy& pol = *engine_->policy();
  ASSERT_NE(rule_text(1).find("--pkt-type broadcast"), std::string::npos);
  EXPECT_EQ(pol.counter(1).packets.load(), 0u);
  EXPECT_EQ(pol.counter(2).packets.load(), 6u);  // SYN/ACK (a reply), the ACK, the four
}

// The cache holds decisions for unicast frames only: a broadcast frame of a cached flow
// (forwarded to one port, as with two ports) is judged, and the pkttype rule drops it.
TEST_F(EngineTest, BroadcastFrameOfACachedFlowIsJudgedByItsType) {
  cfg_.ports = {{"eth0", PortRole::Uplink}, {"tap0", PortRole::Vm}};
  engine_ = std::make_unique<Engine>(cfg_, policy_from_text(kPkttypeFirst, cfg_.ports, 2));
  for (auto [m, p] : {std::pair{kLanMac, kEth0}, {kGuestMac, kTap0}})
    feed1(FrameBuilder{}.eth(kBroadcast, m).ethertype(kEthTypeArp).raw(0, Bytes(28, 0)).build(), p,
          kSec);
  open_guest_flow(2 * kSec);
  for (int i = 0; i < 2; ++i)  // judged, then cached
    EXPECT_EQ(feed1(lan_to_guest_tcp(22, 40000, kTcpAck, 901, 101), kEth0, 3 * kSec).to, bit(kTap0));
  Bytes bcast = lan_to_guest_tcp(22, 40000, kTcpAck, 901, 101);
  std::fill(bcast.begin(), bcast.begin() + 6, 0xff);  // the destination MAC
  FrameOutcome o = feed1(bcast, kEth0, 3 * kSec);
  EXPECT_EQ(o.ct, CtState::Established);
  EXPECT_EQ(o.to, 0u);
  ASSERT_EQ(o.n_per, 1);
  EXPECT_EQ(o.per[0].port, kTap0);
  EXPECT_NE(rule_text(o.per[0].rule).find("--pkt-type broadcast"), std::string::npos);
}

// A `-m length` rule decides alike for every packet of one length class, so an established
// flow that reaches one keeps cached verdicts, one per class: a large segment of a flow whose
// small ACKs are cached is judged for its own class (and dropped), not given theirs.
TEST_F(EngineTest, LengthRuleCachesAVerdictPerLengthClass) {
  const std::string rules = forward_drop_table(
      "-A FORWARD -m length --length 1000:65535 -j DROP\n"
      "-A FORWARD -m state --state ESTABLISHED -j ACCEPT\n"
      "-A FORWARD -m physdev --physdev-in tap0 -j ACCEPT\n");
  engine_->set_policy(policy_from_text(rules, cfg_.ports, 2));
  learn_stations(kSec);
  open_guest_flow(2 * kSec);
  auto lan_data = [&](uint32_t seq, std::size_t payload) {
    return FrameBuilder{}
        .eth(kGuestMac, kLanMac)
        .ipv4({.src = kLanIp, .dst = kGuestIp})
        .tcp({.sport = 22,
              .dport = 40000,
              .seq = seq,
              .ack = 101,
              .flags = kTcpAck,
              .payload = Bytes(payload, 0x61)})
        .build();
  };
  const EngineCounters before = engine_->counters();
  EXPECT_EQ(feed1(lan_data(901, 10), kEth0, 3 * kSec).to, bit(kTap0));  // judged, cached
  EXPECT_EQ(feed1(lan_data(911, 10), kEth0, 3 * kSec).to, bit(kTap0));  // the cache
  FrameOutcome big = feed1(lan_data(921, 1200), kEth0, 3 * kSec);       // another class
  EXPECT_EQ(big.ct, CtState::Established);
  EXPECT_EQ(big.to, 0u);
  ASSERT_EQ(big.n_per, 1);
  EXPECT_NE(rule_text(big.per[0].rule).find("--length 1000:65535"), std::string::npos);
  EXPECT_EQ(feed1(lan_data(2121, 1200), kEth0, 3 * kSec).to, 0u);      // its cache
  EXPECT_EQ(feed1(lan_data(3321, 10), kEth0, 3 * kSec).to, bit(kTap0));  // judged again
  // The entry's slot holds one verdict a direction: each change of class is judged anew.
  EXPECT_EQ(engine_->counters().verdict_cache_hits - before.verdict_cache_hits, 2u);
}

}  // namespace
}  // namespace tapwall
