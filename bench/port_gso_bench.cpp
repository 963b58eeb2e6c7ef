// Port TX-path benchmarks: user-space TCP segmentation of a 64 KiB super-frame, checksum
// completion of an MTU-sized frame, and TxPrep's per-frame decision for a finished frame
// (the common case). items/s = frames/s (segments/s for segmentation); bytes/s = payload.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "../dataplane/port/csum_complete.hpp"
#include "../dataplane/port/gso_segment.hpp"
#include "../dataplane/port/tx_prep.hpp"

namespace {

using namespace tapwall;
using namespace tapwall::port_detail;

// Ethernet + IPv4 + TCP (20 bytes) with `payload` bytes; checksums left unset.
std::vector<uint8_t> tcp_frame(std::size_t payload) {
  std::vector<uint8_t> f(14 + 20 + 20 + payload, 0);
  f[0] = 0x02;
  f[6] = 0x02;
  f[11] = 1;
  f[12] = 0x08;
  uint8_t* ip = &f[14];
  ip[0] = 0x45;
  const std::size_t tot = 40 + payload;
  ip[2] = uint8_t(tot >> 8);
  ip[3] = uint8_t(tot);
  ip[8] = 64;
  ip[9] = 6;
  const uint8_t a[8] = {192, 0, 2, 1, 192, 0, 2, 2};
  std::memcpy(ip + 12, a, 8);
  f[34 + 12] = 0x50;
  f[34 + 13] = 0x10;
  for (std::size_t i = 0; i < payload; ++i) f[54 + i] = uint8_t(i);
  return f;
}

void BM_SegmentTcp64k(benchmark::State& st) {
  const auto f = tcp_frame(65000);
  GsoPlan plan;
  plan_segments(f, false, 1448, plan);
  std::vector<uint8_t> out(plan.out_bytes);
  std::vector<uint32_t> lens(plan.segments);
  for (auto _ : st) {
    write_segments(f, plan, out, lens);
    benchmark::DoNotOptimize(out.data());
  }
  st.SetItemsProcessed(int64_t(st.iterations()) * plan.segments);
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(plan.payload_len));
}
BENCHMARK(BM_SegmentTcp64k);

void BM_CompleteCsum1500(benchmark::State& st) {
  auto f = tcp_frame(1460);
  for (auto _ : st) {
    complete_partial_csum(f, 34, 16);
    benchmark::DoNotOptimize(f.data());
  }
  st.SetItemsProcessed(int64_t(st.iterations()));
  st.SetBytesProcessed(int64_t(st.iterations()) * 1460);
}
BENCHMARK(BM_CompleteCsum1500);

void BM_TxPrepFinishedFrames(benchmark::State& st) {
  const auto f = tcp_frame(uint32_t(st.range(0)));
  TxPrep prep(TxCaps{false, 1500});
  TxStatus why;
  constexpr int kBurst = 32;
  for (auto _ : st) {
    for (int i = 0; i < kBurst; ++i) prep.add({f, nullptr}, uint32_t(i), why);
    benchmark::DoNotOptimize(prep.pieces().data());
    prep.clear();
  }
  st.SetItemsProcessed(int64_t(st.iterations()) * kBurst);
}
BENCHMARK(BM_TxPrepFinishedFrames)->Arg(10)->Arg(1460);

}  // namespace

BENCHMARK_MAIN();
