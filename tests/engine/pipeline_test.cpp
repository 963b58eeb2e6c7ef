// Engine pipeline and verdict cache tests.
//  - A batch gives exactly the outcomes of feeding its frames one by one (the staged
//    pipeline only reorders hashing and prefetching, never effects): handshakes inside one
//    batch, fragments completing inside it, batches longer than the pipeline.
//  - The verdict cache on conntrack entries changes no verdict and no rule counter
//    (cache on vs off, same traffic), never bypasses a rule on INVALID, and is dropped
//    when the policy changes; TCP flags are part of its key.
#include <gtest/gtest.h>

#include <deque>
#include <string>

#include "frame_builder.hpp"
#include "outcome_compare.hpp"
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
constexpr uint64_t kSec = 1000000000ull;

const MacAddr kLanMac = mac(0x02, 0, 0, 0, 0, 0x01);
const MacAddr kGuestMac = mac(0x02, 0, 0, 0, 0, 0x02);
const MacAddr kBroadcast = mac(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
const IpAddr kLanIp = ip4(192, 0, 2, 1);
const IpAddr kGuestIp = ip4(192, 0, 2, 2);

const char* kSeed =
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
    ":vboxin - [0:0]\n:vboxout - [0:0]\n"
    "-A FORWARD -m physdev --physdev-out tap0 -j vboxin\n"
    "-A FORWARD -m physdev --physdev-in tap0 -j vboxout\n"
    "-A vboxin -m state --state RELATED,ESTABLISHED -j ACCEPT\n"
    "-A vboxin -p tcp -m tcp --dport 1024:65535 -j ACCEPT\n"
    "-A vboxin -p udp -m udp --dport 1024:65535 -j ACCEPT\n"
    "-A vboxin -p udp -m udp --sport 67:68 --dport 67:68 -j ACCEPT\n"
    "-A vboxin -p tcp -m multiport --dports 80,443,465,993,995 -j ACCEPT\n"
    "-A vboxout -j ACCEPT\nCOMMIT\n";

std::vector<PortDesc> ports() {
  return {{"eth0", PortRole::Uplink}, {"tap0", PortRole::Vm}, {"br0", PortRole::Host}};
}

std::shared_ptr<const CompiledPolicy> policy(const std::string& text, uint64_t generation = 1) {
  auto parsed = parse_rules(text, "test.rules", Family::Ipv4);
  EXPECT_TRUE(std::holds_alternative<RuleSet>(parsed));
  auto compiled = CompiledPolicy::compile(&std::get<RuleSet>(parsed), nullptr, ports(), generation);
  EXPECT_TRUE((std::holds_alternative<std::shared_ptr<const CompiledPolicy>>(compiled)));
  return std::get<std::shared_ptr<const CompiledPolicy>>(compiled);
}

std::unique_ptr<Engine> engine(const std::string& rules, bool cache = true) {
  EngineConfig cfg;
  cfg.ports = ports();
  cfg.verdict_cache = cache;
  return std::make_unique<Engine>(cfg, policy(rules));
}

struct In {
  Bytes bytes;
  PortId port;
  uint64_t ts;
};

Bytes arp_from(const MacAddr& m) {
  return FrameBuilder{}.eth(kBroadcast, m).ethertype(kEthTypeArp).raw(0, Bytes(28, 0)).build();
}
// Guest (tap0) <-> LAN (eth0) TCP segments of one connection.
Bytes g2l(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t sport = 40000,
          uint16_t dport = 443, Bytes payload = {}) {
  return FrameBuilder{}
      .eth(kLanMac, kGuestMac)
      .ipv4({.src = kGuestIp, .dst = kLanIp})
      .tcp({.sport = sport, .dport = dport, .seq = seq, .ack = ack, .flags = flags,
            .payload = std::move(payload)})
      .build();
}
Bytes l2g(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t sport = 443,
          uint16_t dport = 40000, Bytes payload = {}) {
  return FrameBuilder{}
      .eth(kGuestMac, kLanMac)
      .ipv4({.src = kLanIp, .dst = kGuestIp})
      .tcp({.sport = sport, .dport = dport, .seq = seq, .ack = ack, .flags = flags,
            .payload = std::move(payload)})
      .build();
}
std::pair<Bytes, Bytes> udp_fragments(uint16_t dport, uint16_t id) {
  Bytes whole = FrameBuilder{}
                    .eth(kGuestMac, kLanMac)
                    .ipv4({.src = kLanIp, .dst = kGuestIp, .id = id})
                    .udp({.sport = 40000, .dport = dport, .payload = Bytes(40, 0xab)})
                    .build();
  Bytes first = FrameBuilder{}
                    .eth(kGuestMac, kLanMac)
                    .ipv4({.src = kLanIp, .dst = kGuestIp, .id = id, .mf = true, .proto = kProtoUdp})
                    .raw(kProtoUdp, Bytes(whole.begin() + 34, whole.begin() + 34 + 24))
                    .build();
  Bytes second = FrameBuilder{}
                     .eth(kGuestMac, kLanMac)
                     .ipv4({.src = kLanIp, .dst = kGuestIp, .id = id, .frag_offset = 24,
                            .proto = kProtoUdp})
                     .raw(kProtoUdp, Bytes(whole.begin() + 34 + 24, whole.end()))
                     .build();
  return {first, second};
}

// A mixed conversation: stations, a guest connection (handshake, data both ways, FIN),
// LAN connections allowed and refused, fragments, an out-of-window segment.
std::vector<In> conversation() {
  std::vector<In> v;
  uint64_t t = kSec;
  v.push_back({arp_from(kLanMac), kEth0, t});
  v.push_back({arp_from(kGuestMac), kTap0, t});
  v.push_back({g2l(kTcpSyn, 100, 0), kTap0, t});
  v.push_back({l2g(kTcpSyn | kTcpAck, 900, 101), kEth0, t});
  v.push_back({g2l(kTcpAck, 101, 901), kTap0, t});
  for (int i = 0; i < 20; ++i) {
    v.push_back({g2l(kTcpAck | kTcpPsh, 101 + 10 * i, 901, 40000, 443, Bytes(10, 1)), kTap0, t});
    v.push_back({l2g(kTcpAck, 901, 111 + 10 * i), kEth0, t});
  }
  v.push_back({l2g(kTcpAck, 901 + 0x40000000, 301), kEth0, t});  // out of window: INVALID
  v.push_back({l2g(kTcpSyn, 5000, 0, 40001, 22), kEth0, t});      // refused by FORWARD DROP
  v.push_back({l2g(kTcpSyn, 5000, 0, 40002, 8080), kEth0, t});    // allowed (dport >= 1024)
  auto [a, b] = udp_fragments(5000, 7);
  v.push_back({b, kEth0, t});
  v.push_back({a, kEth0, t});
  v.push_back({g2l(kTcpFin | kTcpAck, 301, 901), kTap0, t});
  v.push_back({l2g(kTcpFin | kTcpAck, 901, 302), kEth0, t});
  v.push_back({g2l(kTcpAck, 302, 902), kTap0, t});
  return v;
}

struct RunResult {
  std::vector<FrameOutcome> outcomes;
  std::vector<uint64_t> rule_packets, rule_bytes;
  EngineCounters counters;
};

// Feeds `frames` in batches of `batch` (0: all at once).
RunResult run(Engine& e, std::deque<Bytes>& keep, const std::vector<In>& frames, std::size_t batch) {
  RunResult r;
  std::vector<FrameIn> ins;
  for (const In& f : frames) {
    keep.push_back(f.bytes);
    FrameIn fi;
    fi.bytes = keep.back();
    fi.in = f.port;
    fi.ts_ns = f.ts;
    fi.cookie = ins.size() + 1;
    ins.push_back(fi);
  }
  if (batch == 0) batch = ins.size();
  std::vector<FrameOutcome> out;
  for (std::size_t i = 0; i < ins.size(); i += batch) {
    out.clear();
    e.process(std::span<const FrameIn>(ins).subspan(i, std::min(batch, ins.size() - i)), out);
    r.outcomes.insert(r.outcomes.end(), out.begin(), out.end());
  }
  for (std::size_t id = 0; id < e.policy()->rule_count(); ++id) {
    r.rule_packets.push_back(e.policy()->counter(int32_t(id)).packets.load());
    r.rule_bytes.push_back(e.policy()->counter(int32_t(id)).bytes.load());
  }
  r.counters = e.counters();
  return r;
}

void expect_same(const RunResult& a, const RunResult& b) {
  ASSERT_EQ(a.outcomes.size(), b.outcomes.size());
  for (std::size_t i = 0; i < a.outcomes.size(); ++i) {
    SCOPED_TRACE("outcome " + std::to_string(i));
    const FrameOutcome& x = a.outcomes[i];
    const FrameOutcome& y = b.outcomes[i];
    EXPECT_EQ(x.cookie, y.cookie);
    EXPECT_EQ(x.to, y.to);
    EXPECT_EQ(x.ct, y.ct);
    EXPECT_EQ(x.reason, y.reason);
    ASSERT_EQ(x.n_per, y.n_per);
    test::expect_same_port_verdicts(x, y);
  }
  EXPECT_EQ(a.rule_packets, b.rule_packets);
  EXPECT_EQ(a.rule_bytes, b.rule_bytes);
  EXPECT_EQ(a.counters.forwarded, b.counters.forwarded);
  EXPECT_EQ(a.counters.dropped, b.counters.dropped);
  EXPECT_EQ(a.counters.by_reason, b.counters.by_reason);
}

TEST(Pipeline, OneBatchGivesTheOutcomesOfSingleFrames) {
  const auto frames = conversation();
  ASSERT_GT(frames.size(), Engine::kPipeline);  // spans more than one pipeline chunk
  std::deque<Bytes> k1, k2, k3;
  auto e1 = engine(kSeed), e2 = engine(kSeed), e3 = engine(kSeed);
  const RunResult single = run(*e1, k1, frames, 1);
  const RunResult whole = run(*e2, k2, frames, 0);
  const RunResult sevens = run(*e3, k3, frames, 7);
  expect_same(single, whole);
  expect_same(single, sevens);
  // The conversation exercised what it should.
  int invalid = 0, established = 0;
  for (const FrameOutcome& o : whole.outcomes) {
    invalid += o.ct == CtState::Invalid;
    established += o.ct == CtState::Established;
  }
  EXPECT_EQ(invalid, 1);
  EXPECT_GT(established, 40);
  EXPECT_EQ(e2->conntrack().stats().confirmed, e1->conntrack().stats().confirmed);
}

TEST(VerdictCache, SameOutcomesAndRuleCountersAsWithout) {
  const auto frames = conversation();
  std::deque<Bytes> k1, k2;
  auto on = engine(kSeed, true), off = engine(kSeed, false);
  const RunResult a = run(*on, k1, frames, 0);
  const RunResult b = run(*off, k2, frames, 0);
  expect_same(a, b);
  EXPECT_GT(a.counters.verdict_cache_hits, 30u);
  EXPECT_EQ(b.counters.verdict_cache_hits, 0u);
}

TEST(VerdictCache, RuleOnInvalidStillDropsOutOfWindowPacketOfCachedFlow) {
  const std::string rules =
      "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
      "-A FORWARD -m state --state INVALID -j DROP\n"
      "-A FORWARD -j ACCEPT\nCOMMIT\n";
  auto e = engine(rules);
  std::deque<Bytes> keep;
  std::vector<In> v = {{arp_from(kLanMac), kEth0, kSec},
                       {arp_from(kGuestMac), kTap0, kSec},
                       {g2l(kTcpSyn, 100, 0), kTap0, kSec},
                       {l2g(kTcpSyn | kTcpAck, 900, 101), kEth0, kSec},
                       {g2l(kTcpAck, 101, 901), kTap0, kSec}};
  for (int i = 0; i < 4; ++i) v.push_back({l2g(kTcpAck, 901, 101), kEth0, kSec});
  v.push_back({l2g(kTcpAck, 901 + 0x40000000, 101), kEth0, kSec});  // out of window
  v.push_back({l2g(kTcpAck, 901, 101), kEth0, kSec});
  const RunResult r = run(*e, keep, v, 0);
  ASSERT_EQ(r.outcomes.size(), v.size());
  EXPECT_GE(r.counters.verdict_cache_hits, 3u);  // the ACKs before were cached
  const FrameOutcome& bad = r.outcomes[v.size() - 2];
  EXPECT_EQ(bad.ct, CtState::Invalid);
  EXPECT_EQ(bad.to, 0u);
  ASSERT_EQ(bad.n_per, 1);
  EXPECT_EQ(bad.per[0].reason, DropReason::RuleDrop);
  EXPECT_EQ(e->policy()->rule(bad.per[0].rule).text, "-A FORWARD -m state --state INVALID -j DROP");
  const FrameOutcome& after = r.outcomes.back();
  EXPECT_EQ(after.ct, CtState::Established);
  EXPECT_EQ(after.to, bit(kTap0));
}

TEST(VerdictCache, PolicyChangeInvalidatesCachedVerdicts) {
  auto e = engine(kSeed);
  std::deque<Bytes> keep;
  std::vector<In> v = {{arp_from(kLanMac), kEth0, kSec},
                       {arp_from(kGuestMac), kTap0, kSec},
                       {g2l(kTcpSyn, 100, 0), kTap0, kSec},
                       {l2g(kTcpSyn | kTcpAck, 900, 101), kEth0, kSec},
                       {g2l(kTcpAck, 101, 901), kTap0, kSec},
                       {l2g(kTcpAck, 901, 101), kEth0, kSec},
                       {l2g(kTcpAck, 901, 101), kEth0, kSec}};
  const RunResult r = run(*e, keep, v, 0);
  EXPECT_EQ(r.outcomes.back().to, bit(kTap0));
  const uint64_t hits = e->counters().verdict_cache_hits;
  EXPECT_GE(hits, 1u);
  const std::string strict =
      "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
      "-A FORWARD -m physdev --physdev-out tap0 -j DROP\nCOMMIT\n";
  e->set_policy(policy(strict, 2));
  const RunResult r2 = run(*e, keep, {{l2g(kTcpAck, 901, 101), kEth0, kSec},
                                {l2g(kTcpAck, 901, 101), kEth0, kSec},
                                {g2l(kTcpAck, 101, 901), kTap0, kSec}}, 0);
  ASSERT_EQ(r2.outcomes.size(), 3u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(r2.outcomes[i].to, 0u);
    EXPECT_EQ(e->policy()->rule(r2.outcomes[i].per[0].rule).text,
              "-A FORWARD -m physdev --physdev-out tap0 -j DROP");
  }
  EXPECT_EQ(r2.outcomes[2].to, bit(kEth0));
  // The second drop came from the cache refilled under the new policy, and was counted.
  EXPECT_EQ(e->counters().verdict_cache_hits, hits + 1);
  EXPECT_EQ(r2.rule_packets[size_t(r2.outcomes[0].per[0].rule)], 2u);
}

TEST(VerdictCache, TcpFlagsAreInTheKey) {
  const std::string rules =
      "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
      "-A FORWARD -p tcp --tcp-flags FIN,SYN,RST FIN -j DROP\n"
      "-A FORWARD -j ACCEPT\nCOMMIT\n";
  auto e = engine(rules);
  std::deque<Bytes> keep;
  std::vector<In> v = {{arp_from(kLanMac), kEth0, kSec},
                       {arp_from(kGuestMac), kTap0, kSec},
                       {g2l(kTcpSyn, 100, 0), kTap0, kSec},
                       {l2g(kTcpSyn | kTcpAck, 900, 101), kEth0, kSec},
                       {g2l(kTcpAck, 101, 901), kTap0, kSec},
                       {g2l(kTcpAck, 101, 901), kTap0, kSec},
                       {g2l(kTcpFin | kTcpAck, 101, 901), kTap0, kSec}};
  const RunResult r = run(*e, keep, v, 0);
  EXPECT_GE(r.counters.verdict_cache_hits, 1u);
  EXPECT_EQ(r.outcomes[5].to, bit(kEth0));
  EXPECT_EQ(r.outcomes.back().ct, CtState::Established);
  EXPECT_EQ(r.outcomes.back().to, 0u);
  EXPECT_EQ(r.outcomes.back().per[0].reason, DropReason::RuleDrop);
}

}  // namespace
}  // namespace tapwall
