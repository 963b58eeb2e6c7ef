// MacTable benchmarks: lookup hit and miss, and learn refresh (the per-frame source update),
// at 1, 10k and 1M stations. items/s = frames/s. Stations are visited in a shuffled order so
// large tables pay their real cache misses instead of streaming through memory.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "tapwall/mac_table.hpp"

namespace {

using namespace tapwall;

MacAddr station(uint64_t i) {
  // Spread like real OUIs + NIC ids: a few vendor prefixes, dense low bytes.
  const uint64_t v = (0x525400000000ull + ((i % 7) << 24)) ^ (i * 0x9e37ull) ^ i;
  MacAddr m;
  for (int b = 0; b < 6; ++b) m.b[b] = uint8_t(v >> (8 * (5 - b)));
  m.b[0] &= 0xfe;
  return m;
}

struct Fixture {
  MacTable table;
  std::vector<MacAddr> hits, misses;
  explicit Fixture(uint32_t n)
      : table(MacTableConfig{std::max<uint32_t>(n, 1), 300'000'000'000ull}) {
    std::vector<MacAddr> all;
    for (uint32_t i = 0; i < n; ++i) {
      const MacAddr m = station(i);
      if (table.learn(m, PortId(i % 4), 1) == LearnResult::Learned) all.push_back(m);
    }
    std::mt19937_64 rng(42);
    std::shuffle(all.begin(), all.end(), rng);
    hits = all;
    for (uint32_t i = 0; i < std::max<uint32_t>(n, 1024); ++i) misses.push_back(station(n + 1 + i));
  }
};

Fixture& fixture(uint32_t n) {
  static std::vector<std::pair<uint32_t, Fixture*>> cache;
  for (auto& [k, f] : cache)
    if (k == n) return *f;
  cache.emplace_back(n, new Fixture(n));
  return *cache.back().second;
}

void BM_LookupHit(benchmark::State& state) {
  Fixture& f = fixture(uint32_t(state.range(0)));
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.table.lookup(f.hits[i], 2));
    if (++i == f.hits.size()) i = 0;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_LookupMiss(benchmark::State& state) {
  Fixture& f = fixture(uint32_t(state.range(0)));
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.table.lookup(f.misses[i], 2));
    if (++i == f.misses.size()) i = 0;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

// A batch: prefetch 32 destinations, then look them up (for large tables; the engine
// skips it, its stations being few).
void BM_LookupHitBatch32(benchmark::State& state) {
  Fixture& f = fixture(uint32_t(state.range(0)));
  constexpr std::size_t kBatch = 32;
  const std::size_t n = f.hits.size() / kBatch * kBatch;
  std::size_t i = 0;
  for (auto _ : state) {
    for (std::size_t k = 0; k < kBatch; ++k) f.table.prefetch(f.hits[i + k]);
    for (std::size_t k = 0; k < kBatch; ++k)
      benchmark::DoNotOptimize(f.table.lookup(f.hits[i + k], 2));
    i += kBatch;
    if (i >= n) i = 0;
  }
  state.SetItemsProcessed(int64_t(state.iterations() * kBatch));
}

void BM_LearnRefresh(benchmark::State& state) {
  Fixture& f = fixture(uint32_t(state.range(0)));
  std::size_t i = 0;
  uint64_t now = 2;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.table.learn(f.hits[i], PortId(0), now++));
    if (++i == f.hits.size()) i = 0;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

BENCHMARK(BM_LookupHit)->Arg(1)->Arg(10000)->Arg(1000000);
BENCHMARK(BM_LookupMiss)->Arg(1)->Arg(10000)->Arg(1000000);
BENCHMARK(BM_LookupHitBatch32)->Arg(32)->Arg(10000)->Arg(1000000);
BENCHMARK(BM_LearnRefresh)->Arg(1)->Arg(10000)->Arg(1000000);

}  // namespace

BENCHMARK_MAIN();
