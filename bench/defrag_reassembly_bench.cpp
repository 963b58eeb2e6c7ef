// Defragmenter throughput: frames/s through add() for 2- and 3-fragment datagrams, including
// the reassembled-frame build and release, in order, reversed, and with many datagrams open.
#include <benchmark/benchmark.h>

#include <vector>

#include "../tests/defrag/frag_builder.hpp"
#include "tapwall/defrag.hpp"

namespace {

using tapwall::Defragmenter;
using tapwall::DefragStatus;
using namespace tapwall::test;

constexpr std::size_t kDatagrams = 1024;  // distinct ids, cycled, so keys and hashes vary

std::vector<std::vector<Built>> make_datagrams(bool v6, const std::vector<std::size_t>& sizes) {
  std::size_t total = 0;
  for (auto n : sizes) total += n;
  std::vector<std::vector<Built>> all;
  for (std::size_t i = 0; i < kDatagrams; ++i) {
    const auto payload = udp_datagram(uint16_t(1024 + i), 53, total - 8);
    if (v6) {
      Ipv6Spec s;
      s.id = uint32_t(0x10000 + i);
      s.ext_types = {0};
      all.push_back(fragment_v6(s, payload, sizes));
    } else {
      Ipv4Spec s;
      s.id = uint16_t(i);
      s.src = 0x0a000000u + uint32_t(i % 64);
      all.push_back(fragment_v4(s, payload, sizes));
    }
  }
  return all;
}

void reassemble(benchmark::State& state, bool v6, bool reversed, std::vector<std::size_t> sizes) {
  const auto all = make_datagrams(v6, sizes);
  Defragmenter df;
  uint64_t frames = 0, now = 0;
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& frags = all[i++ % kDatagrams];
    tapwall::DefragResult r;
    for (std::size_t k = 0; k < frags.size(); ++k) {
      const auto& f = frags[reversed ? frags.size() - 1 - k : k];
      r = df.add(f.d, f.span(), 1, ++now, k);
    }
    if (r.status != DefragStatus::Complete) state.SkipWithError("datagram did not complete");
    benchmark::DoNotOptimize(df.reassembled(r.datagram).data());
    df.release(r.datagram);
    frames += frags.size();
  }
  state.SetItemsProcessed(int64_t(frames));
}

// Steady state with `open` datagrams half-received: each step adds the first fragment of a
// new datagram and the last fragment of the one opened `open` steps earlier.
void reassemble_open(benchmark::State& state) {
  const std::size_t open = std::size_t(state.range(0));
  const auto all = make_datagrams(false, {1480, 520});
  Defragmenter df;
  uint64_t frames = 0, now = 0;
  std::size_t i = 0;
  for (std::size_t k = 0; k < open; ++k, ++i) df.add(all[k][0].d, all[k][0].span(), 1, ++now, 0);
  for (auto _ : state) {
    const auto& first = all[i % kDatagrams][0];
    const auto& last = all[(i - open) % kDatagrams][1];
    ++i;
    df.add(first.d, first.span(), 1, ++now, 0);
    const auto r = df.add(last.d, last.span(), 1, ++now, 1);
    if (r.status != DefragStatus::Complete) state.SkipWithError("datagram did not complete");
    df.release(r.datagram);
    frames += 2;
  }
  state.SetItemsProcessed(int64_t(frames));
}

BENCHMARK_CAPTURE(reassemble, v4_2frags_2000B, false, false, std::vector<std::size_t>{1480, 520});
BENCHMARK_CAPTURE(reassemble, v4_2frags_2000B_reversed, false, true,
                  std::vector<std::size_t>{1480, 520});
BENCHMARK_CAPTURE(reassemble, v4_3frags_3000B, false, false,
                  std::vector<std::size_t>{1480, 1480, 40});
BENCHMARK_CAPTURE(reassemble, v4_2frags_128B, false, false, std::vector<std::size_t>{64, 64});
BENCHMARK_CAPTURE(reassemble, v6_2frags_2000B, true, false, std::vector<std::size_t>{1448, 552});
BENCHMARK_CAPTURE(reassemble, v6_3frags_3000B, true, false,
                  std::vector<std::size_t>{1448, 1448, 104});
BENCHMARK(reassemble_open)->Arg(16)->Arg(512);

}  // namespace

BENCHMARK_MAIN();
