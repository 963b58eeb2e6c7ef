// A model of the memory an established frame touches at 100k flows, apart from the engine:
// what those cache lines cost on this machine, and what a table layout with fewer lines a
// frame could gain there, before anyone builds one.
// Each frame does a fixed amount of arithmetic (range(1): rounds of a mixing step, standing
// in for decoding, hashing and the window check; the part after stage 1 starts from the
// entry's words, as tracking does) and, by range(0):
//   0 none:        its entry is one of a few that stay cached (the 1-flow case);
//   1 entry:       a random 128-byte entry, both lines read and written, at a place given
//                  by the hash (no index line: the best a hash-placed table could do);
//   2 index+entry: a random 64-byte index line, then the entry a slot of it names (the
//                  engine's three lines, the entry's two depending on the index's one).
// Arrays are sized as the engine's for 100k flows (capacity 200k: 200k entries of 128
// bytes, 65536 index lines) and allocated as it allocates them (BigArray, huge pages).
// Frames come in batches of 32, staged as Engine::process() stages them (express.cpp):
// stage 1 does a quarter of the arithmetic, prefetches the index line and the entry of the
// frame kBucketLead back; stage 3 does the rest with the entry, prefetching kEntryAhead on.
// items/s = frames/s. Compare layouts within one run (the machine drifts between runs).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "ct_memory.hpp"

namespace {

constexpr uint32_t kEntries = 200000, kFlows = 100000, kIndexLines = 65536;
constexpr std::size_t kBatch = 32, kBucketLead = 16, kEntryAhead = 6;  // as express.cpp's
constexpr std::size_t kFrames = 1 << 20;

struct alignas(64) IndexLine {
  uint32_t ref[16];
};
struct alignas(64) Entry {
  uint64_t w[16];
};

// Four independent chains, so the core overlaps them as it does a frame's decoding.
[[gnu::always_inline]] inline uint64_t work(uint64_t v, int64_t rounds) {
  uint64_t a = v, b = v + 1, c = v + 2, d = v + 3;
  for (int64_t k = 0; k < rounds; ++k) {
    a = a * 0x9e3779b97f4a7c15ull + uint64_t(k);
    b = (b ^ (b >> 13)) * 0xbf58476d1ce4e5b9ull;
    c += (c << 3) ^ uint64_t(k);
    d ^= d >> 7;
    d += 0x632be59bd9b4e019ull;
  }
  return a ^ b ^ c ^ d;
}

struct Model {
  tapwall::ct::BigArray<IndexLine> index{kIndexLines};
  tapwall::ct::BigArray<Entry> entries{kEntries, true};
  std::vector<uint32_t> line, slot;  // per frame: its index line and slot, or its entry
  int layout;

  explicit Model(int layout_) : layout(layout_) {
    std::mt19937 rng(7);
    for (auto& l : index)
      for (auto& r : l.ref) r = rng() % kFlows;
    line.resize(kFrames);
    slot.resize(kFrames);
    for (std::size_t i = 0; i < kFrames; ++i) {
      line[i] = layout == 0 ? uint32_t(i % 4) : layout == 1 ? rng() % kFlows : rng() % kIndexLines;
      slot[i] = rng() % 16;
    }
  }
  // The frame's entry (layout 2: read from its index line, as a lookup does).
  uint32_t entry_of(std::size_t i) const {
    return layout == 2 ? index[line[i]].ref[slot[i]] : line[i];
  }
  void prefetch_entry(std::size_t i, uint32_t* ids, std::size_t k) {
    ids[k] = entry_of(i);
    __builtin_prefetch(&entries[ids[k]], 1);
    __builtin_prefetch(reinterpret_cast<const char*>(&entries[ids[k]]) + 64, 1);
  }
};

void BM_MemoryPattern(benchmark::State& state) {
  Model m(int(state.range(0)));
  const int64_t rounds = state.range(1);
  uint64_t sink = 0;
  uint32_t ids[kBatch];
  for (auto _ : state) {
    for (std::size_t base = 0; base < kFrames; base += kBatch) {
      for (std::size_t i = 0; i < kBatch; ++i) {
        if (i >= kBucketLead) m.prefetch_entry(base + i - kBucketLead, ids, i - kBucketLead);
        sink += work(base + i, rounds / 4);
        if (m.layout == 2) __builtin_prefetch(&m.index[m.line[base + i]]);
      }
      std::size_t ahead = kBatch - kBucketLead;
      for (std::size_t i = 0; i < kBatch; ++i) {
        if (ahead < kBatch && ahead <= i + kEntryAhead) {
          m.prefetch_entry(base + ahead, ids, ahead);
          ++ahead;
        }
        Entry& e = m.entries[ids[i]];
        const uint64_t v = work(e.w[0] + e.w[9], rounds - rounds / 4);
        e.w[1] = v;  // the tracker writes both lines (window state; verdict cache, counts)
        e.w[10] += 1;
        sink += v;
      }
    }
    benchmark::DoNotOptimize(sink);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(kFrames));
}
BENCHMARK(BM_MemoryPattern)
    ->ArgNames({"layout", "rounds"})
    ->ArgsProduct({{0, 1, 2}, {0, 32, 48}})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
