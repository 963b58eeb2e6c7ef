// Whole-engine benchmarks: frames/s through decode, MAC, conntrack and the seed's policy.
//  - Established: N TCP flows (guest <-> LAN) set up with real handshakes, then a stream of
//    64-byte ACK segments over all flows in both directions in random flow order, batches
//    of 32 — the steady state of a busy bridge. N = 1, 10k, 100k, 1M (a pass holds at least
//    8192 frames: few flows are repeated). Counters: the conntrack entry size, the table's
//    memory and the process RSS growth per flow.
//  - EstablishedNoVerdictCache: the same at 100k with the verdict cache off (A/B).
//  - EstablishedThreads: 100k flows per thread, one engine per thread (as one worker per
//    core would run), 1 and 2 threads; items/s is the aggregate over wall time.
//  - NewFlows: every frame a new UDP flow from the LAN to an allowed port (a miss, an insert
//    and a policy judgement per frame), table large enough to hold them.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <fstream>
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

// The seed's rules grown to `total` rules by drops of other hosts' ports (203.0.113.0/24)
// at the head of vboxin, before its ESTABLISHED accept: a new flow's walk passes them all.
std::string seed_rules_totalling(uint32_t total) {
  constexpr uint32_t kSeedRuleCount = 7;
  std::string filler;
  for (uint32_t i = 0; i + kSeedRuleCount < total; ++i)
    filler += "-A vboxin -s 203.0.113." + std::to_string(i % 256) + " -p tcp -m tcp --dport " +
              std::to_string(1 + i / 256) + " -j DROP\n";
  std::string r = kSeedRules;
  r.insert(r.find("-A vboxin "), filler);
  return r;
}

// The seed's rules behind a first FORWARD rule that tests each frame's packet type, as a
// firewall that drops broadcasts first has: every flow's decision reaches a per-packet match.
const std::string kPktTypeFirstRules = [] {
  std::string r = kSeedRules;
  const std::string first = "-A FORWARD ";
  r.insert(r.find(first), "-A FORWARD -m pkttype --pkt-type broadcast -j DROP\n");
  return r;
}();

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

// Frames stored back to back (millions of small vectors would dominate setup at 1M flows).
struct Frames {
  std::vector<uint8_t> data;
  std::vector<uint32_t> off, len;
  std::vector<PortId> port;
  void add(const Bytes& f, PortId p) {
    off.push_back(uint32_t(data.size()));
    len.push_back(uint32_t(f.size()));
    data.insert(data.end(), f.begin(), f.end());
    port.push_back(p);
  }
  void clear() {  // keeps the capacity (and its resident pages)
    data.clear();
    off.clear();
    len.clear();
    port.clear();
  }
  std::size_t size() const { return off.size(); }
  std::span<const uint8_t> bytes(std::size_t i) const { return {data.data() + off[i], len[i]}; }
};

std::unique_ptr<Engine> make_engine(uint32_t ct_capacity, bool verdict_cache = true,
                                    const char* rules = kSeedRules) {
  EngineConfig cfg;
  cfg.ports = {{"eth0", PortRole::Uplink}, {"tap0", PortRole::Vm}};
  cfg.ct.capacity = ct_capacity;
  cfg.verdict_cache = verdict_cache;
  auto rs = std::get<RuleSet>(parse_rules(rules, "seed.rules", Family::Ipv4));
  auto pol = std::get<std::shared_ptr<const CompiledPolicy>>(
      CompiledPolicy::compile(&rs, nullptr, cfg.ports, 1));
  return std::make_unique<Engine>(cfg, pol);
}

void run_frames(Engine& e, const Frames& frames, uint64_t ts, std::vector<FrameOutcome>& out) {
  FrameIn batch[kBatch];
  std::size_t n = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    batch[n].bytes = frames.bytes(i);
    batch[n].in = frames.port[i];
    batch[n].ts_ns = ts;
    if (++n == kBatch || i + 1 == frames.size()) {
      out.clear();
      e.process({batch, n}, out);
      n = 0;
    }
  }
}

// The timed loop's pass, kept out of line so a profiler can select it alone
// (valgrind --tool=callgrind --toggle-collect='*timed_pass*').
[[gnu::noinline]] void timed_pass(Engine& e, const Frames& frames, uint64_t ts,
                                  std::vector<FrameOutcome>& out) {
  run_frames(e, frames, ts, out);
}

uint64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * 4096;
}

// `flows` guest connections through real handshakes (LAN hosts net + 1..250, offset by
// `host_base` so threads use distinct flows), then their ACK traffic, shuffled.
struct Established {
  std::unique_ptr<Engine> engine;
  Frames traffic;
  uint64_t rss_growth = 0;
};

constexpr uint64_t kT0 = 1000000000ull;

Established setup_established(uint32_t flows, bool verdict_cache, uint32_t host_base = 0,
                              const char* rules = kSeedRules) {
  Established s;
  // Guest connects out (vboxout accepts), the LAN replies: a chunk of handshakes at a time,
  // so setup memory stays small next to the table at 1M flows.
  constexpr uint32_t kChunk = 65536;
  auto lan_of = [&](uint32_t i) { return kLanNet + 1 + host_base + (i % 250); };
  auto sport_of = [](uint32_t i) { return uint16_t(10000 + i / 250); };
  constexpr uint32_t gseq = 1000, lseq = 500000;
  auto build_chunk = [&](Frames& setup, uint32_t first) {
    setup.clear();
    for (uint32_t i = first; i < std::min(flows, first + kChunk); ++i) {
      const uint32_t lan = lan_of(i);
      const uint16_t sport = sport_of(i);
      setup.add(make_frame(kLanMac, kGuestMac, kGuest, lan, kProtoTcp, sport, 443, 0x02, gseq, 0), kTap0);
      setup.add(make_frame(kGuestMac, kLanMac, lan, kGuest, kProtoTcp, 443, sport, 0x12, lseq, gseq + 1), kEth0);
      setup.add(make_frame(kLanMac, kGuestMac, kGuest, lan, kProtoTcp, sport, 443, 0x10, gseq + 1, lseq + 1), kTap0);
    }
  };
  // Few flows are repeated so a pass still holds kMinPassFrames (a 1-flow pass of 2 frames
  // timed the per-call overhead of a 2-frame batch, not a busy flow's frames).
  constexpr uint32_t kMinPassFrames = 8192;
  const uint32_t repeats = std::max<uint32_t>(1, kMinPassFrames / (2 * flows));
  Frames traffic;
  for (uint32_t i = 0; i < flows * repeats; ++i) {
    const uint32_t f = i % flows;
    traffic.add(make_frame(kLanMac, kGuestMac, kGuest, lan_of(f), kProtoTcp, sport_of(f), 443, 0x10, gseq + 1, lseq + 1), kTap0);
    traffic.add(make_frame(kGuestMac, kLanMac, lan_of(f), kGuest, kProtoTcp, 443, sport_of(f), 0x10, lseq + 1, gseq + 1), kEth0);
  }
  // The benchmark's own frames are resident before the engine exists, so the RSS growth
  // below is the engine's: its table and whatever of it the flows touch.
  Frames setup;
  build_chunk(setup, 0);
  std::vector<FrameOutcome> out;
  out.reserve(kBatch * 2);
  const uint64_t rss0 = rss_bytes();
  s.engine = make_engine(std::max<uint32_t>(1024, flows * 2), verdict_cache, rules);
  for (uint32_t first = 0; first < flows; first += kChunk) {
    build_chunk(setup, first);
    run_frames(*s.engine, setup, kT0, out);
  }
  s.rss_growth = rss_bytes() - rss0;
  // Visit flows in a random order so the table is not walked sequentially.
  std::vector<std::size_t> order(traffic.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(42));
  for (std::size_t i : order)
    s.traffic.add(Bytes(traffic.bytes(i).begin(), traffic.bytes(i).end()), traffic.port[i]);
  // One untimed pass: the steady state (a reply's first ACK is judged, not cached, since
  // the SYN/ACK before it had other flags) even when the timed loop runs once (1M flows).
  run_frames(*s.engine, s.traffic, kT0 + 500, out);
  return s;
}

void established(benchmark::State& state, bool verdict_cache, const char* rules = kSeedRules) {
  const uint32_t flows = static_cast<uint32_t>(state.range(0));
  Established s = setup_established(flows, verdict_cache, 0, rules);
  std::vector<FrameOutcome> out;
  out.reserve(kBatch * 2);
  uint64_t frames = 0;
  const EngineCounters before = s.engine->counters();
  for (auto _ : state) {
    timed_pass(*s.engine, s.traffic, kT0 + 1000, out);
    frames += s.traffic.size();
  }
  const auto& c = s.engine->counters();
  const uint64_t timed = c.frames - before.frames;
  if (c.dropped != 0) state.SkipWithError("established traffic was dropped");
  const Conntrack& ct = s.engine->conntrack();
  state.counters["ct_entries"] = double(ct.size());
  state.counters["ct_entry_B"] = double(Conntrack::entry_bytes());
  state.counters["ct_table_MB"] = double(ct.memory_bytes()) / 1e6;
  state.counters["ct_table_B_per_flow"] = double(ct.memory_bytes()) / flows;
  state.counters["rss_B_per_flow"] = double(s.rss_growth) / flows;
  state.counters["vc_hit_ratio"] =
      timed ? double(c.verdict_cache_hits - before.verdict_cache_hits) / double(timed) : 0;
  state.counters["express_ratio"] =
      timed ? double(c.express_frames - before.express_frames) / double(timed) : 0;
  state.SetItemsProcessed(int64_t(frames));
}

void BM_EngineEstablished(benchmark::State& state) { established(state, true); }
BENCHMARK(BM_EngineEstablished)
    ->Arg(1)
    ->Arg(10000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond);

void BM_EngineEstablishedNoVerdictCache(benchmark::State& state) { established(state, false); }
BENCHMARK(BM_EngineEstablishedNoVerdictCache)->Arg(100000)->Unit(benchmark::kMillisecond);

// The seed's rules behind a first FORWARD rule on the packet's length (every flow's decision
// reaches it; established frames are decided per length class).
const std::string kLengthFirstRules = [] {
  std::string r = kSeedRules;
  r.insert(r.find("-A FORWARD "), "-A FORWARD -m length --length 1400:65535 -j DROP\n");
  return r;
}();

void BM_EngineEstablishedLengthRule(benchmark::State& state) {
  established(state, true, kLengthFirstRules.c_str());
}
BENCHMARK(BM_EngineEstablishedLengthRule)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_EngineEstablishedPktTypeRule(benchmark::State& state) {
  established(state, true, kPktTypeFirstRules.c_str());
}
BENCHMARK(BM_EngineEstablishedPktTypeRule)->Arg(100000)->Unit(benchmark::kMillisecond);

// 100k established flows under 10 and 10k rules: the verdict cache makes the rule count
// cost nothing once a flow is established.
void BM_EngineEstablishedRuleCount(benchmark::State& state) {
  const std::string rules = seed_rules_totalling(uint32_t(state.range(1)));
  established(state, true, rules.c_str());
  state.counters["rules"] = double(state.range(1));
}
BENCHMARK(BM_EngineEstablishedRuleCount)
    ->Args({100000, 10})
    ->Args({100000, 10000})
    ->Unit(benchmark::kMillisecond);

// One engine per thread, each with its own 100k flows: what two workers on two cores give.
void BM_EngineEstablishedThreads(benchmark::State& state) {
  Established s = setup_established(100000, true, uint32_t(state.thread_index()) * 1000);
  std::vector<FrameOutcome> out;
  out.reserve(kBatch * 2);
  uint64_t frames = 0;
  for (auto _ : state) {
    run_frames(*s.engine, s.traffic, kT0 + 1000, out);
    frames += s.traffic.size();
  }
  if (s.engine->counters().dropped != 0) state.SkipWithError("established traffic was dropped");
  state.SetItemsProcessed(int64_t(frames));
}
BENCHMARK(BM_EngineEstablishedThreads)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_EngineNewUdpFlows(benchmark::State& state) {
  const uint32_t flows = 1 << 16;
  Frames frames;
  for (uint32_t i = 0; i < flows; ++i)
    frames.add(make_frame(kGuestMac, kLanMac, kLanNet + 1 + (i % 250), kGuest, kProtoUdp,
                          uint16_t(20000 + i / 250), 5000, 0, 0, 0),
               kEth0);
  std::vector<FrameOutcome> out;
  uint64_t n = 0, round = 0;
  auto engine = make_engine(flows * 2);
  for (auto _ : state) {
    state.PauseTiming();
    engine = make_engine(flows * 2);  // a fresh table: every frame is a new flow
    state.ResumeTiming();
    timed_pass(*engine, frames, 1000000000ull + round++, out);
    n += frames.size();
  }
  state.SetItemsProcessed(int64_t(n));
}
BENCHMARK(BM_EngineNewUdpFlows)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tapwall

BENCHMARK_MAIN();
