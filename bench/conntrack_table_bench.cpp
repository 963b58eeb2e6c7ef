// Conntrack table benchmark: frames/s for hits (packet of a tracked UDP flow, both
// directions), misses (ICMP echo reply of no flow: lookup finds nothing, creates nothing)
// and inserts (new UDP flow created then discarded, so the table stays at its size), with
// 1, 10k, 100k and 1M flows tracked. Flows are visited in random order, as many
// concurrent flows arrive, so large tables measure memory latency, not cache hits.
// Checksums are not verified (csum_partial): that cost belongs to the checksum bench.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "tapwall/conntrack.hpp"

namespace tapwall {
namespace {

constexpr uint64_t kNow = 5 * kNsPerSec;

// One shared frame: the trackers read only the UDP/ICMP header fields from it.
std::vector<uint8_t> make_frame(uint8_t proto) {
  std::vector<uint8_t> f(14 + 20 + 8 + 18, 0);
  f[12] = 0x08;
  f[14] = 0x45;
  f[16] = 0;
  f[17] = uint8_t(f.size() - 14);
  f[23] = proto;
  if (proto == kProtoUdp) f[34 + 5] = uint8_t(f.size() - 34);  // UDP length; checksum 0
  return f;
}

Decoded make_decoded(uint8_t proto, uint32_t i, bool reply, std::size_t frame_size) {
  Decoded d;
  d.l3_off = 14;
  d.l3 = L3Kind::Ipv4;
  d.ethertype = kEthTypeIpv4;
  const IpAddr a = IpAddr::from_v4_host(0x0a000000u + i), b = IpAddr::from_v4_host(0xc0a80101u);
  d.src_ip = reply ? b : a;
  d.dst_ip = reply ? a : b;
  d.ip_proto = proto;
  d.ip_end = uint16_t(frame_size);
  d.l4_off = 34;
  d.l4_ok = true;
  const uint16_t p1 = uint16_t(1024 + (i % 60000)), p2 = 53;
  d.sport = reply ? p2 : p1;
  d.dport = reply ? p1 : p2;
  if (proto == kProtoIcmp) {
    d.icmp_type = 0;  // echo reply
    d.icmp_id = uint16_t(i);
  }
  return d;
}

struct Setup {
  std::vector<uint8_t> udp_frame = make_frame(kProtoUdp);
  std::vector<uint8_t> icmp_frame = make_frame(kProtoIcmp);
  std::unique_ptr<Conntrack> ct;
  std::vector<uint32_t> order;  // flow number * 2 + direction, shuffled

  explicit Setup(uint32_t flows) {
    CtConfig cfg;
    cfg.capacity = std::max<uint32_t>(1024, flows + flows / 4);
    ct = std::make_unique<Conntrack>(cfg);
    for (uint32_t i = 0; i < flows; ++i) {
      const Decoded d = make_decoded(kProtoUdp, i, false, udp_frame.size());
      ct->confirm(ct->track(d, udp_frame, kNow, true), true);
    }
    order.resize(std::size_t{flows} * 2);
    for (uint32_t k = 0; k < order.size(); ++k) order[k] = k;
    std::shuffle(order.begin(), order.end(), std::mt19937(42));
  }
};

Setup& setup_for(uint32_t flows) {
  // One setup per size, reused across repetitions (building 1M flows takes a while).
  static std::vector<std::pair<uint32_t, std::unique_ptr<Setup>>> cache;
  for (auto& [n, s] : cache)
    if (n == flows) return *s;
  cache.emplace_back(flows, std::make_unique<Setup>(flows));
  return *cache.back().second;
}

void BM_Hit(benchmark::State& state) {
  Setup& s = setup_for(uint32_t(state.range(0)));
  std::size_t i = 0;
  const std::size_t n = s.order.size();
  for (auto _ : state) {
    const uint32_t k = s.order[i];
    const Decoded d = make_decoded(kProtoUdp, k >> 1, k & 1, s.udp_frame.size());
    const CtResult r = s.ct->track(d, s.udp_frame, kNow, true);
    benchmark::DoNotOptimize(r);
    s.ct->confirm(r, true);
    if (++i == n) i = 0;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

// As the engine would with a batch: decode 32 frames, prefetch all, then track each.
void BM_HitBatch32(benchmark::State& state) {
  Setup& s = setup_for(uint32_t(state.range(0)));
  constexpr std::size_t kBatch = 32;
  Decoded batch[kBatch];
  std::size_t i = 0;
  const std::size_t n = s.order.size();
  for (auto _ : state) {
    for (std::size_t b = 0; b < kBatch; ++b) {
      const uint32_t k = s.order[i];
      batch[b] = make_decoded(kProtoUdp, k >> 1, k & 1, s.udp_frame.size());
      s.ct->prefetch(batch[b]);
      if (++i == n) i = 0;
    }
    for (std::size_t b = 0; b < kBatch; ++b) {
      const CtResult r = s.ct->track(batch[b], s.udp_frame, kNow, true);
      benchmark::DoNotOptimize(r);
      s.ct->confirm(r, true);
    }
  }
  state.SetItemsProcessed(int64_t(state.iterations() * kBatch));
}

void BM_Miss(benchmark::State& state) {
  Setup& s = setup_for(uint32_t(state.range(0)));
  std::vector<Decoded> miss;
  for (uint32_t k = 0; k < 4096; ++k)
    miss.push_back(make_decoded(kProtoIcmp, 0x100000 + k * 7919, false, s.icmp_frame.size()));
  std::size_t i = 0;
  for (auto _ : state) {
    const CtResult r = s.ct->track(miss[i], s.icmp_frame, kNow, true);
    benchmark::DoNotOptimize(r);
    s.ct->confirm(r, true);
    i = (i + 1) & 4095;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_InsertDiscard(benchmark::State& state) {
  Setup& s = setup_for(uint32_t(state.range(0)));
  std::vector<Decoded> fresh;
  for (uint32_t k = 0; k < 4096; ++k)
    fresh.push_back(make_decoded(kProtoUdp, 0x200000 + k * 104729, false, s.udp_frame.size()));
  std::size_t i = 0;
  for (auto _ : state) {
    const CtResult r = s.ct->track(fresh[i], s.udp_frame, kNow, true);
    benchmark::DoNotOptimize(r);
    s.ct->confirm(r, false);  // a dropped first packet: entry created, then discarded
    i = (i + 1) & 4095;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

BENCHMARK(BM_Hit)->Arg(1)->Arg(10000)->Arg(100000)->Arg(1000000);
BENCHMARK(BM_HitBatch32)->Arg(1)->Arg(10000)->Arg(100000)->Arg(1000000);
BENCHMARK(BM_Miss)->Arg(1)->Arg(10000)->Arg(100000)->Arg(1000000);
BENCHMARK(BM_InsertDiscard)->Arg(1)->Arg(10000)->Arg(100000)->Arg(1000000);

}  // namespace
}  // namespace tapwall

BENCHMARK_MAIN();
