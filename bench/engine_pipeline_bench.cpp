// Whole-engine benchmarks: frames/s through decode, MAC, conntrack and the seed's policy.
//  - Established: N TCP flows (guest <-> LAN) set up with real handshakes, then a stream of
//    64-byte ACK segments over all flows in both directions, batches of 32 — the steady
//    state of a busy bridge. N = 1, 10k, 100k.
//  - NewFlows: every frame a new UDP flow from the LAN to an allowed port (a miss, an insert
//    and a policy judgement per frame), table large enough to hold them.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tapwall/engine.hpp"
#include "tapwall/net_types.hpp"
#include "tapwall/rules_parser.hpp"

namespace tapwall {
namespace {

using Bytes = std::vector<uint8_t>;

const char* kSeedRules =
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

uint16_t csum_fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint16_t(~s);
}
uint32_t sum16(const uint8_t* p, std::size_t n, uint32_t s = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) s += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) s += uint32_t(p[n - 1]) << 8;
  return s;
}

// A 64-byte Ethernet/IPv4 frame (TCP or UDP, no payload), checksums filled in.
Bytes make_frame(const uint8_t dmac[6], const uint8_t smac[6], uint32_t src, uint32_t dst,
                 uint8_t proto, uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
                 uint32_t ack) {
  std::size_t l4 = proto == kProtoTcp ? 20 : 8;
  Bytes f(14 + 20 + l4, 0);
  std::copy(dmac, dmac + 6, f.begin());
  std::copy(smac, smac + 6, f.begin() + 6);
  f[12] = 0x08;
  uint8_t* ip = &f[14];
  ip[0] = 0x45;
  store_be16(ip + 2, uint16_t(20 + l4));
  ip[8] = 64;
  ip[9] = proto;
  for (int i = 0; i < 4; ++i) {
    ip[12 + i] = uint8_t(src >> (24 - 8 * i));
    ip[16 + i] = uint8_t(dst >> (24 - 8 * i));
  }
  store_be16(ip + 10, csum_fold(sum16(ip, 20)));
  uint8_t* t = ip + 20;
  store_be16(t, sport);
  store_be16(t + 2, dport);
  if (proto == kProtoTcp) {
    for (int i = 0; i < 4; ++i) {
      t[4 + i] = uint8_t(seq >> (24 - 8 * i));
      t[8 + i] = uint8_t(ack >> (24 - 8 * i));
    }
    t[12] = 0x50;
    t[13] = flags;
    store_be16(t + 14, 65535);
  } else {
    store_be16(t + 4, 8);
  }
  uint32_t ps = sum16(ip + 12, 8) + proto + uint32_t(l4);
  uint16_t c = csum_fold(sum16(t, l4, ps));
  store_be16(t + (proto == kProtoTcp ? 16 : 6), c);
  f.resize(std::max<std::size_t>(f.size(), 60), 0);  // Ethernet minimum
  return f;
}

constexpr uint8_t kLanMac[6] = {2, 0, 0, 0, 1, 1};
constexpr uint8_t kGuestMac[6] = {2, 0, 0, 0, 2, 2};
constexpr uint32_t kLanNet = 0xc6336400;  // 198.51.100.0: LAN hosts, many
constexpr uint32_t kGuest = 0xc0000202;   // 192.0.2.2
constexpr PortId kEth0 = 0, kTap0 = 1;
constexpr std::size_t kBatch = 32;

std::unique_ptr<Engine> make_engine(uint32_t ct_capacity) {
  EngineConfig cfg;
  cfg.ports = {{"eth0", PortRole::Uplink}, {"tap0", PortRole::Vm}};
  cfg.ct.capacity = ct_capacity;
  auto rs = std::get<RuleSet>(parse_rules(kSeedRules, "seed.rules", Family::Ipv4));
  auto pol = std::get<std::shared_ptr<const CompiledPolicy>>(
      CompiledPolicy::compile(&rs, nullptr, cfg.ports, 1));
  return std::make_unique<Engine>(cfg, pol);
}

void run_frames(Engine& e, const std::vector<Bytes>& frames, const std::vector<PortId>& ports,
                uint64_t ts, std::vector<FrameOutcome>& out) {
  FrameIn batch[kBatch];
  std::size_t n = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    batch[n].bytes = frames[i];
    batch[n].in = ports[i];
    batch[n].ts_ns = ts;
    if (++n == kBatch || i + 1 == frames.size()) {
      out.clear();
      e.process({batch, n}, out);
      n = 0;
    }
  }
}

void BM_EngineEstablished(benchmark::State& state) {
  const uint32_t flows = static_cast<uint32_t>(state.range(0));
  auto engine = make_engine(std::max<uint32_t>(1024, flows * 2));
  std::vector<FrameOutcome> out;
  out.reserve(kBatch * 2);
  const uint64_t t0 = 1000000000ull;
  // Handshakes: guest connects out (vboxout accepts), the LAN replies.
  std::vector<Bytes> setup;
  std::vector<PortId> setup_ports;
  std::vector<Bytes> traffic;
  std::vector<PortId> traffic_ports;
  for (uint32_t i = 0; i < flows; ++i) {
    uint32_t lan = kLanNet + 1 + (i % 250);
    uint16_t sport = uint16_t(10000 + i / 250);
    uint32_t gseq = 1000, lseq = 500000;
    setup.push_back(make_frame(kLanMac, kGuestMac, kGuest, lan, kProtoTcp, sport, 443, 0x02, gseq, 0));
    setup_ports.push_back(kTap0);
    setup.push_back(make_frame(kGuestMac, kLanMac, lan, kGuest, kProtoTcp, 443, sport, 0x12, lseq, gseq + 1));
    setup_ports.push_back(kEth0);
    setup.push_back(make_frame(kLanMac, kGuestMac, kGuest, lan, kProtoTcp, sport, 443, 0x10, gseq + 1, lseq + 1));
    setup_ports.push_back(kTap0);
    traffic.push_back(make_frame(kLanMac, kGuestMac, kGuest, lan, kProtoTcp, sport, 443, 0x10, gseq + 1, lseq + 1));
    traffic_ports.push_back(kTap0);
    traffic.push_back(make_frame(kGuestMac, kLanMac, lan, kGuest, kProtoTcp, 443, sport, 0x10, lseq + 1, gseq + 1));
    traffic_ports.push_back(kEth0);
  }
  run_frames(*engine, setup, setup_ports, t0, out);
  // Visit flows in a random order so the table is not walked sequentially.
  std::vector<std::size_t> order(traffic.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(42));
  std::vector<Bytes> shuffled;
  std::vector<PortId> shuffled_ports;
  for (std::size_t i : order) {
    shuffled.push_back(traffic[i]);
    shuffled_ports.push_back(traffic_ports[i]);
  }
  uint64_t frames = 0;
  for (auto _ : state) {
    run_frames(*engine, shuffled, shuffled_ports, t0 + 1000, out);
    frames += shuffled.size();
  }
  const auto& c = engine->counters();
  if (c.dropped != 0) state.SkipWithError("established traffic was dropped");
  state.counters["ct_entries"] = double(engine->conntrack().size());
  state.SetItemsProcessed(int64_t(frames));
}
BENCHMARK(BM_EngineEstablished)->Arg(1)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_EngineNewUdpFlows(benchmark::State& state) {
  const uint32_t flows = 1 << 16;
  std::vector<Bytes> frames;
  std::vector<PortId> ports;
  for (uint32_t i = 0; i < flows; ++i) {
    frames.push_back(make_frame(kGuestMac, kLanMac, kLanNet + 1 + (i % 250), kGuest, kProtoUdp,
                                uint16_t(20000 + i / 250), 5000, 0, 0, 0));
    ports.push_back(kEth0);
  }
  std::vector<FrameOutcome> out;
  uint64_t n = 0, round = 0;
  auto engine = make_engine(flows * 2);
  for (auto _ : state) {
    state.PauseTiming();
    engine = make_engine(flows * 2);  // a fresh table: every frame is a new flow
    state.ResumeTiming();
    run_frames(*engine, frames, ports, 1000000000ull + round++, out);
    n += frames.size();
  }
  state.SetItemsProcessed(int64_t(n));
}
BENCHMARK(BM_EngineNewUdpFlows)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tapwall

BENCHMARK_MAIN();
