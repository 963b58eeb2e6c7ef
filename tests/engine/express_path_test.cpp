// The engine's express path against its general path: two engines, one with the express
// path and one without, are fed the same random traffic in the same batches, and must
// give identical outcomes, counters, rule counters, conntrack entries and MAC tables.
// The traffic is built to reach every check the express path makes and every way its
// frames can still go wrong: TCP and UDP flows over IPv4 and IPv6, some VLAN-tagged,
// through handshakes and data both ways; segments out of the window, with other flags,
// with bad IPv4 or L4 checksums (and unfinished offloaded ones); stations moving between
// ports, some between two frames to them at one timestamp (the express path's MAC memo);
// frames to the host, to multicast, to themselves, from a group address; time jumps past
// timeouts and MAC ageing; a policy swap in the middle.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <deque>
#include <random>
#include <string>
#include <tuple>

#include "frame_builder.hpp"
#include "outcome_compare.hpp"
#include "tapwall/engine.hpp"
#include "tapwall/rules_parser.hpp"

namespace tapwall {
namespace {

using test::Bytes;
using test::FrameBuilder;
using test::ip4;
using test::ip6;
using test::mac;

constexpr PortId kEth0 = 0, kTap0 = 1, kTap1 = 2, kBr0 = 3;
constexpr uint64_t kMs = 1000000ull, kSec = 1000 * kMs;

const char* kSeed =
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
    ":vboxin - [0:0]\n:vboxout - [0:0]\n"
    "-A FORWARD -m physdev --physdev-out tap0 -j vboxin\n"
    "-A FORWARD -m physdev --physdev-out tap1 -j vboxin\n"
    "-A FORWARD -m physdev --physdev-in tap0 -j vboxout\n"
    "-A FORWARD -m physdev --physdev-in tap1 -j vboxout\n"
    "-A vboxin -m state --state RELATED,ESTABLISHED -j ACCEPT\n"
    "-A vboxin -p tcp -m tcp --dport 1024:65535 -j ACCEPT\n"
    "-A vboxin -p udp -m udp --dport 1024:65535 -j ACCEPT\n"
    "-A vboxout -j ACCEPT\nCOMMIT\n";

// The second policy: established traffic judged by rules that look at flags, ports and
// INVALID, so that cached decisions made under the first must not survive the swap.
const char* kStrict =
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
    "-A FORWARD -m conntrack --ctstate INVALID -j DROP\n"
    "-A FORWARD -p tcp --tcp-flags PSH PSH -m physdev --physdev-out tap1 -j DROP\n"
    "-A FORWARD -p udp --sport 5001 -j DROP\n"
    "-A FORWARD -m physdev --physdev-in eth0 -m state --state ESTABLISHED -j ACCEPT\n"
    "-A FORWARD -p tcp --dport 443 -j ACCEPT\nCOMMIT\n";

const char* kStrict6 =
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
    "-A FORWARD -m state --state RELATED,ESTABLISHED -j ACCEPT\n"
    "-A FORWARD -m physdev --physdev-in tap0 -j ACCEPT\nCOMMIT\n";

std::vector<PortDesc> ports() {
  return {{"eth0", PortRole::Uplink},
          {"tap0", PortRole::Vm},
          {"tap1", PortRole::Vm},
          {"br0", PortRole::Host}};
}

std::shared_ptr<const CompiledPolicy> policy(const char* v4, const char* v6, uint64_t gen) {
  auto p4 = parse_rules(v4, "test.rules", Family::Ipv4);
  auto p6 = parse_rules(v6 ? v6 : v4, "test6.rules", Family::Ipv6);
  EXPECT_TRUE(std::holds_alternative<RuleSet>(p4));
  EXPECT_TRUE(std::holds_alternative<RuleSet>(p6));
  auto c = CompiledPolicy::compile(&std::get<RuleSet>(p4), &std::get<RuleSet>(p6), ports(), gen);
  EXPECT_TRUE((std::holds_alternative<std::shared_ptr<const CompiledPolicy>>(c)));
  return std::get<std::shared_ptr<const CompiledPolicy>>(c);
}

std::unique_ptr<Engine> engine(bool express) {
  EngineConfig cfg;
  cfg.ports = ports();
  cfg.express = express;
  cfg.ct.capacity = 64;  // small: some flows meet a full table and early drop
  cfg.mac.ageing_ns = 60 * kSec;
  return std::make_unique<Engine>(cfg, policy(kSeed, nullptr, 1));
}

struct Station {
  MacAddr mac;
  PortId home;
  IpAddr v4, v6;
};

// One connection between a guest and a LAN host, with each side's next sequence number.
struct Flow {
  int guest, lan;      // indices into the stations
  bool tcp, v6;
  uint16_t vlan;       // 0: untagged
  uint16_t gport, lport;
  bool guest_opens;
  bool options;        // TCP: MSS, SACK, window scale, timestamps, as Linux sends them
  int stage = 0;       // TCP: 0 nothing, 1 SYN sent, 2 SYN/ACK sent, 3 open
  uint32_t seq[2] = {1000, 700000};  // [0] guest, [1] LAN
};

class Traffic {
 public:
  explicit Traffic(uint32_t seed) : rng_(seed) {
    st_ = {{mac(2, 0, 0, 0, 1, 1), kEth0, ip4(198, 51, 100, 1), ip6("2001:db8:1::1")},
           {mac(2, 0, 0, 0, 1, 2), kEth0, ip4(198, 51, 100, 2), ip6("2001:db8:1::2")},
           {mac(2, 0, 0, 0, 2, 1), kTap0, ip4(192, 0, 2, 10), ip6("2001:db8:2::10")},
           {mac(2, 0, 0, 0, 2, 2), kTap1, ip4(192, 0, 2, 11), ip6("2001:db8:2::11")},
           {mac(2, 0, 0, 0, 3, 1), kBr0, ip4(192, 0, 2, 1), ip6("2001:db8:2::1")}};
    for (int i = 0; i < 24; ++i) {
      Flow f;
      f.guest = 2 + int(rng_() % 3);  // the host's own connections too (br0)
      f.lan = int(rng_() % 2);
      f.tcp = rng_() % 4 != 0;
      f.v6 = rng_() % 5 == 0;
      f.vlan = rng_() % 8 == 0 ? 7 : 0;
      f.options = rng_() % 2 == 0;
      f.gport = uint16_t(40000 + i);
      f.lport = std::array<uint16_t, 4>{443, 5001, 8080, 22}[rng_() % 4];
      f.guest_opens = rng_() % 4 != 0;
      flows_.push_back(f);
    }
  }

  // The next frame, its ingress port and whether its checksum is an unfinished one.
  std::tuple<Bytes, PortId, bool> next() {
    if (!queued_.empty()) {
      auto frame = std::move(queued_.front());
      queued_.pop_front();
      return frame;
    }
    const uint32_t r = rng_() % 100;
    if (r < 3) return station_arp();
    if (r < 5) return odd_l2();
    return flow_frame(flows_[rng_() % flows_.size()]);
  }

  // Whether the next frame must have the same timestamp as the last one.
  bool same_time_next() const { return !queued_.empty(); }

 private:
  uint32_t pick(uint32_t n) { return rng_() % n; }

  std::tuple<Bytes, PortId, bool> station_arp() {
    const int si = int(pick(uint32_t(st_.size())));
    const Station& s = st_[si];
    // Now and then a station shows up on another port (a VM moved, a loop).
    const PortId in = pick(8) == 0 ? PortId(pick(4)) : s.home;
    std::tuple<Bytes, PortId, bool> arp{FrameBuilder{}
                                            .eth(mac(0xff, 0xff, 0xff, 0xff, 0xff, 0xff), s.mac)
                                            .ethertype(kEthTypeArp)
                                            .raw(0, Bytes(28, 0))
                                            .build(),
                                        in, false};
    // A move between two frames to the station at one timestamp: the second must follow
    // it (the express path's MAC memo must not keep the first one's egress port).
    if (in != s.home) {
      for (Flow& f : flows_) {
        if ((f.guest != si && f.lan != si) || (f.tcp && f.stage != 3)) continue;
        queued_.push_back(std::move(arp));
        queued_.push_back(flow_frame(f, si));
        return flow_frame(f, si);
      }
    }
    return arp;
  }

  // IP frames the express path must refuse: to a multicast group, or to the sender itself.
  std::tuple<Bytes, PortId, bool> odd_l2() {
    const Station& a = st_[pick(2)];
    const Station& g = st_[2];
    const MacAddr dst = pick(2) ? mac(0x01, 0, 0x5e, 0, 0, 1) : a.mac;
    return {FrameBuilder{}
                .eth(dst, a.mac)
                .ipv4({.src = a.v4, .dst = g.v4})
                .udp({.sport = 5000, .dport = 5000})
                .build(),
            a.home, false};
  }

  // `to`: the station the frame goes to, if the flow is open (else it picks a side).
  std::tuple<Bytes, PortId, bool> flow_frame(Flow& f, int to = -1) {
    const bool open = !f.tcp || f.stage == 3;
    const bool from_guest = open && to >= 0 ? to == f.lan : flow_direction(f);
    const Station& src = st_[from_guest ? f.guest : f.lan];
    const Station& dst = st_[from_guest ? f.lan : f.guest];
    FrameBuilder b;
    // Now and then from a group address (refused at L2 admission) on a live flow.
    MacAddr smac = src.mac;
    if (pick(50) == 0) smac.b[0] |= 1;
    b.eth(dst.mac, smac);
    if (f.vlan) b.vlan(f.vlan);
    if (f.v6)
      b.ipv6({.src = src.v6, .dst = dst.v6});
    else
      b.ipv4({.src = src.v4, .dst = dst.v4});
    const uint16_t sport = from_guest ? f.gport : f.lport;
    const uint16_t dport = from_guest ? f.lport : f.gport;
    Bytes payload(pick(3) == 0 ? 0 : pick(200), uint8_t(pick(256)));
    if (f.tcp) {
      b.tcp(tcp_segment(f, from_guest, sport, dport, payload));
    } else {
      b.udp({.sport = sport, .dport = dport, .payload = payload});
    }
    Bytes frame = b.build();
    bool partial = false;
    const std::size_t l3 = 14 + (f.vlan ? 4 : 0);
    const uint32_t m = pick(40);
    if (m == 0 && !f.v6) {
      frame[l3 + 10] ^= 0x40;  // IPv4 header checksum
    } else if (m <= 2) {
      const std::size_t l4 = l3 + (f.v6 ? 40 : 20);
      frame[l4 + (f.tcp ? 16 : 6)] ^= 0x11;  // L4 checksum: INVALID, or fine if unfinished
      partial = m == 2;
    }
    return {frame, src.home, partial};
  }

  // Which side sends: the opener until the handshake is done, then either.
  bool flow_direction(const Flow& f) {
    if (!f.tcp || f.stage == 3) return pick(2) == 0;
    const bool opener_turn = f.stage != 1;
    return opener_turn == f.guest_opens;
  }

  test::TcpSpec tcp_segment(Flow& f, bool from_guest, uint16_t sport, uint16_t dport,
                            Bytes& payload) {
    const int me = from_guest ? 0 : 1;
    test::TcpSpec t;
    t.sport = sport;
    t.dport = dport;
    t.window = uint16_t(pick(10) == 0 ? pick(4) : 20000 + pick(40000));
    if (f.options) t.options = segment_options(f, f.stage < 2, me);
    if (f.stage < 3) {  // the handshake, no payload
      payload.clear();
      t.flags = f.stage == 0 ? kTcpSyn : f.stage == 1 ? (kTcpSyn | kTcpAck) : kTcpAck;
      t.seq = f.seq[me];
      t.ack = f.stage == 0 ? 0 : f.seq[!me];
      if (f.stage < 2) ++f.seq[me];
      ++f.stage;
      t.payload = payload;
      return t;
    }
    t.flags = kTcpAck | (payload.empty() ? 0 : kTcpPsh);
    t.seq = f.seq[me];
    t.ack = f.seq[!me];
    const uint32_t r = pick(50);
    if (r == 0) t.seq += 0x40000000;             // far out of the window: INVALID
    else if (r == 1) t.ack += 0x40000000;        // acks data never sent
    else if (r == 2) t.seq -= 70000;             // an old retransmission
    else if (r == 3) t.flags = kTcpFin | kTcpAck;
    else if (r == 4) t.flags = kTcpRst;
    else if (r == 5) t.flags = kTcpSyn;          // a SYN on an open connection
    else if (r == 6) t.flags |= kTcpUrg;
    if (r == 3 || r == 4 || r == 5) f.stage = 0;  // start the connection over later
    if (r >= 6) f.seq[me] += uint32_t(payload.size());
    t.payload = payload;
    return t;
  }

  // SYN: MSS, SACK permitted, timestamps, window scale 7. Later: timestamps (the express
  // path's shape), now and then a SACK block instead (not its shape).
  Bytes segment_options(const Flow& f, bool syn, int me) {
    const uint8_t ts[8] = {0, 0, 1, uint8_t(pick(256)), 0, 0, 2, 0};
    if (syn) return {2, 4, 5, 180, 4, 2, 8, 10, ts[0], ts[1], ts[2], ts[3], ts[4], ts[5],
                     ts[6], ts[7], 1, 3, 3, 7};
    if (pick(10) != 0) return {1, 1, 8, 10, ts[0], ts[1], ts[2], ts[3], ts[4], ts[5], ts[6], ts[7]};
    const uint32_t right = f.seq[!me] + pick(3000) - 1500;
    const uint32_t left = right - 100;
    return {1, 1, 5, 10, uint8_t(left >> 24), uint8_t(left >> 16), uint8_t(left >> 8),
            uint8_t(left), uint8_t(right >> 24), uint8_t(right >> 16), uint8_t(right >> 8),
            uint8_t(right)};
  }

  std::mt19937 rng_;
  std::vector<Station> st_;
  std::vector<Flow> flows_;
  std::deque<std::tuple<Bytes, PortId, bool>> queued_;  // frames due at the same timestamp
};

void expect_same_outcome(const FrameOutcome& x, const FrameOutcome& y) {
  EXPECT_EQ(x.cookie, y.cookie);
  EXPECT_EQ(x.in, y.in);
  EXPECT_EQ(x.ts_ns, y.ts_ns);
  EXPECT_EQ(x.bytes.data(), y.bytes.data());
  EXPECT_EQ(x.bytes.size(), y.bytes.size());
  EXPECT_EQ(x.to, y.to);
  EXPECT_EQ(x.ct, y.ct);
  EXPECT_EQ(x.reason, y.reason);
  EXPECT_EQ(x.csum_partial, y.csum_partial);
  ASSERT_EQ(x.n_per, y.n_per);
  test::expect_same_port_verdicts(x, y);
}

using CtRow = std::tuple<uint8_t, std::array<uint8_t, 16>, std::array<uint8_t, 16>, uint16_t, uint16_t, std::string, bool, bool,
                         uint64_t, uint64_t, uint64_t, uint64_t, uint64_t>;

std::vector<CtRow> ct_rows(const Engine& e, uint64_t now) {
  std::vector<CtRow> rows;
  e.conntrack().for_each(now, [&](const CtEntryView& v) {
    rows.emplace_back(v.proto, v.orig_src.b, v.orig_dst.b, v.orig_sport, v.orig_dport,
                      v.state_name, v.assured, v.seen_reply, v.expires_in_ns, v.packets[0],
                      v.packets[1], v.bytes[0], v.bytes[1]);
  });
  std::sort(rows.begin(), rows.end());
  return rows;
}

using MacRow = std::tuple<MacAddr, PortId, uint64_t>;

std::vector<MacRow> mac_rows(const Engine& e) {
  std::vector<MacRow> rows;
  e.mac_table().for_each(
      [&](const MacEntryView& v) { rows.emplace_back(v.mac, v.port, v.last_seen_ns); });
  std::sort(rows.begin(), rows.end(), [](const MacRow& a, const MacRow& b) {
    return std::get<0>(a).b < std::get<0>(b).b;  // one entry per MAC
  });
  return rows;
}

void expect_same_state(const Engine& x, const Engine& y, uint64_t now) {
  const EngineCounters& a = x.counters();
  const EngineCounters& b = y.counters();
  EXPECT_EQ(a.frames, b.frames);
  EXPECT_EQ(a.bytes, b.bytes);
  EXPECT_EQ(a.forwarded, b.forwarded);
  EXPECT_EQ(a.dropped, b.dropped);
  EXPECT_EQ(a.by_reason, b.by_reason);
  EXPECT_EQ(a.rx_frames, b.rx_frames);
  EXPECT_EQ(a.rx_bytes, b.rx_bytes);
  EXPECT_EQ(a.tx_frames, b.tx_frames);
  EXPECT_EQ(a.tx_bytes, b.tx_bytes);
  EXPECT_EQ(a.verdict_cache_hits, b.verdict_cache_hits);
  for (std::size_t id = 0; id < x.policy()->rule_count(); ++id) {
    EXPECT_EQ(x.policy()->counter(int32_t(id)).packets.load(),
              y.policy()->counter(int32_t(id)).packets.load())
        << x.policy()->rule(int32_t(id)).text;
    EXPECT_EQ(x.policy()->counter(int32_t(id)).bytes.load(),
              y.policy()->counter(int32_t(id)).bytes.load());
  }
  const CtStats& s = x.conntrack().stats();
  const CtStats& t = y.conntrack().stats();
  EXPECT_EQ(std::tie(s.created, s.confirmed, s.discarded, s.expired, s.early_drops,
                     s.table_full, s.invalid),
            std::tie(t.created, t.confirmed, t.discarded, t.expired, t.early_drops,
                     t.table_full, t.invalid));
  EXPECT_EQ(ct_rows(x, now) == ct_rows(y, now), true) << "conntrack entries differ";
  EXPECT_EQ(mac_rows(x) == mac_rows(y), true) << "MAC tables differ";
  const MacTableStats& m = x.mac_table().stats();
  const MacTableStats& n = y.mac_table().stats();
  EXPECT_EQ(std::tie(m.learned, m.moves, m.full_misses, m.expired),
            std::tie(n.learned, n.moves, n.full_misses, n.expired));
}

void run_differential(uint32_t seed, int frames) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  auto fast = engine(true), plain = engine(false);
  Traffic traffic(seed);
  std::mt19937 rng(seed ^ 0x5a5a5a5a);
  std::deque<Bytes> keep;
  std::vector<FrameIn> batch;
  std::vector<FrameOutcome> out_fast, out_plain;
  uint64_t now = 1000 * kSec;
  uint64_t cookie = 0;
  int sent = 0;
  bool swapped = false;
  while (sent < frames) {
    const std::size_t n = 1 + rng() % 40;
    batch.clear();
    for (std::size_t i = 0; i < n; ++i, ++sent) {
      // Mostly a steady clock; now and then past the UDP timeout (30 s), rarely past MAC
      // ageing (60 s here) and TCP's unacknowledged-data timeout (300 s).
      const uint32_t r = rng() % 1000;
      if (!traffic.same_time_next())
        now += r == 0 ? 310 * kSec : r < 3 ? 35 * kSec : (rng() % 3) * kMs;
      auto [bytes, in, partial] = traffic.next();
      keep.push_back(std::move(bytes));
      FrameIn f;
      f.bytes = keep.back();
      f.in = in;
      f.ts_ns = now;
      f.cookie = ++cookie;
      f.csum_partial = partial;
      batch.push_back(f);
    }
    out_fast.clear();
    out_plain.clear();
    fast->process(batch, out_fast);
    plain->process(batch, out_plain);
    ASSERT_EQ(out_fast.size(), out_plain.size());
    for (std::size_t i = 0; i < out_fast.size(); ++i) {
      SCOPED_TRACE("frame cookie " + std::to_string(out_plain[i].cookie));
      expect_same_outcome(out_fast[i], out_plain[i]);
    }
    if (rng() % 20 == 0) {  // the housekeeping the bridge does every second
      out_fast.clear();
      out_plain.clear();
      fast->expire(now, out_fast);
      plain->expire(now, out_plain);
      ASSERT_EQ(out_fast.size(), out_plain.size());
    }
    if (!swapped && sent >= frames / 2) {
      fast->set_policy(policy(kStrict, kStrict6, 2));
      plain->set_policy(policy(kStrict, kStrict6, 2));
      swapped = true;
    }
    if (::testing::Test::HasFailure()) break;
  }
  expect_same_state(*fast, *plain, now);
  // The traffic reached the express path often, and the general path alone otherwise.
  EXPECT_GT(fast->counters().express_frames, fast->counters().frames / 10);
  EXPECT_EQ(plain->counters().express_frames, 0u);
}

// The express path keeps each port's last station pair and its egress port while the MAC
// table is unchanged (the MAC memo). A station that moves between two frames of the same
// pair, at the same time, must be followed at once: its next frame goes to the new port.
TEST(ExpressMacMemo, AStationThatMovesIsFollowedWithinOneTimestamp) {
  auto fast = engine(true), plain = engine(false);
  const MacAddr lan = mac(2, 0, 0, 0, 1, 1), guest = mac(2, 0, 0, 0, 2, 1);
  const IpAddr lan4 = ip4(198, 51, 100, 1), guest4 = ip4(192, 0, 2, 10);
  auto segment = [&](bool from_guest, uint8_t flags, uint32_t seq, uint32_t ack) {
    return FrameBuilder{}
        .eth(from_guest ? lan : guest, from_guest ? guest : lan)
        .ipv4({.src = from_guest ? guest4 : lan4, .dst = from_guest ? lan4 : guest4})
        .tcp({.sport = uint16_t(from_guest ? 40000 : 443),
              .dport = uint16_t(from_guest ? 443 : 40000),
              .seq = seq,
              .ack = ack,
              .flags = flags})
        .build();
  };
  const Bytes arp = FrameBuilder{}
                        .eth(mac(0xff, 0xff, 0xff, 0xff, 0xff, 0xff), guest)
                        .ethertype(kEthTypeArp)
                        .raw(0, Bytes(28, 0))
                        .build();
  const uint64_t t0 = 1000 * kSec;
  const std::vector<std::tuple<Bytes, PortId, uint64_t>> frames = {
      {segment(true, kTcpSyn, 1000, 0), kTap0, t0},
      {segment(false, kTcpSyn | kTcpAck, 5000, 1001), kEth0, t0},
      {segment(true, kTcpAck, 1001, 5001), kTap0, t0},
      {segment(false, kTcpAck, 5001, 1001), kEth0, t0 + kMs},  // caches the verdict
      {segment(false, kTcpAck, 5001, 1001), kEth0, t0 + kMs},  // express: makes the memo
      {segment(false, kTcpAck, 5001, 1001), kEth0, t0 + kMs},  // express: uses it
      {arp, kTap1, t0 + kMs},                                   // the guest moves to tap1
      // Must follow it. (A stale memo would send it to tap0 by the express path, whose
      // cached verdict for tap0 still holds.)
      {segment(false, kTcpAck, 5001, 1001), kEth0, t0 + kMs},
  };
  std::vector<FrameOutcome> out_fast, out_plain;
  for (const auto& [bytes, in, ts] : frames) {
    const FrameIn f{.bytes = bytes, .in = in, .ts_ns = ts};
    out_fast.clear();
    out_plain.clear();
    fast->process({&f, 1}, out_fast);
    plain->process({&f, 1}, out_plain);
    ASSERT_EQ(out_fast.size(), 1u);
    ASSERT_EQ(out_plain.size(), 1u);
    expect_same_outcome(out_fast[0], out_plain[0]);
  }
  EXPECT_EQ(out_fast[0].to, PortMask{1} << kTap1);
  EXPECT_EQ(fast->counters().express_frames, 2u);
}

class ExpressPath : public ::testing::TestWithParam<uint32_t> {};

TEST_P(ExpressPath, SameOutcomesAndStateAsTheGeneralPath) { run_differential(GetParam(), 6000); }

INSTANTIATE_TEST_SUITE_P(Seeds, ExpressPath, ::testing::Range(1u, 9u));

}  // namespace
}  // namespace tapwall
