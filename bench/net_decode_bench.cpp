// Decode and checksum throughput. items/s = frames/s.
// The decode mix is what a VM bridge mostly carries: minimum-size TCP ACKs and UDP over
// IPv4, TCP over IPv6 with timestamps, and VLAN-tagged TCP; frames rotate so the branch
// predictor cannot learn a single shape.
#include <benchmark/benchmark.h>

#include "../tests/frame_builder.hpp"
#include "tapwall/checksum.hpp"
#include "tapwall/decoded.hpp"

namespace {

using namespace tapwall;
using namespace tapwall::test;

const Bytes kTsOpts = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};

std::vector<Bytes> mix() {
  return {
      FrameBuilder{}.ipv4().tcp({.flags = kTcpAck}).pad_to(60).build(),
      FrameBuilder{}.ipv4().udp({.payload = Bytes(18, 0)}).build(),
      FrameBuilder{}
          .ipv6()
          .tcp({.flags = kTcpAck, .options = kTsOpts, .payload = Bytes(100, 0)})
          .build(),
      FrameBuilder{}
          .vlan(100)
          .ipv4()
          .tcp({.flags = kTcpAck | kTcpPsh, .options = kTsOpts, .payload = Bytes(200, 0)})
          .build(),
  };
}

void run_decode(benchmark::State& state, const std::vector<Bytes>& frames) {
  Decoded d;
  std::size_t i = 0;
  for (auto _ : state) {
    const Bytes& f = frames[i];
    i = i + 1 == frames.size() ? 0 : i + 1;
    DropReason r = decode_frame(f, d);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(d.sport);
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_DecodeMix(benchmark::State& state) { run_decode(state, mix()); }
BENCHMARK(BM_DecodeMix);

void BM_DecodeTcp4Ack64(benchmark::State& state) { run_decode(state, {mix()[0]}); }
BENCHMARK(BM_DecodeTcp4Ack64);

void BM_DecodeUdp4(benchmark::State& state) { run_decode(state, {mix()[1]}); }
BENCHMARK(BM_DecodeUdp4);

void BM_DecodeTcp6(benchmark::State& state) { run_decode(state, {mix()[2]}); }
BENCHMARK(BM_DecodeTcp6);

void BM_DecodeVlanTcp4(benchmark::State& state) { run_decode(state, {mix()[3]}); }
BENCHMARK(BM_DecodeVlanTcp4);

// Decode of a batch of 32 frames, as the engine runs it.
void BM_DecodeBatch32(benchmark::State& state) {
  std::vector<Bytes> m = mix();
  std::vector<Bytes> batch;
  for (int i = 0; i < 32; ++i) batch.push_back(m[(i * 7) % m.size()]);
  Decoded d[32];
  for (auto _ : state) {
    for (int i = 0; i < 32; ++i) {
      DropReason r = decode_frame(batch[i], d[i]);
      benchmark::DoNotOptimize(r);
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * 32);
}
BENCHMARK(BM_DecodeBatch32);

void BM_InetChecksum(benchmark::State& state) {
  Bytes b(std::size_t(state.range(0)), 0x5a);
  for (auto _ : state) {
    uint16_t c = inet_checksum(b);
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(BM_InetChecksum)->Arg(64)->Arg(1500)->Arg(9000);

// Full L4 verification of a frame: pseudo-header + segment.
void BM_L4ChecksumOk(benchmark::State& state) {
  std::size_t payload = std::size_t(state.range(0));
  Bytes f = FrameBuilder{}.ipv4().tcp({.payload = Bytes(payload, 0x33)}).build();
  Decoded d;
  decode_frame(f, d);
  for (auto _ : state) {
    bool ok = l4_checksum_ok(d, f);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(f.size()));
}
BENCHMARK(BM_L4ChecksumOk)->Arg(10)->Arg(1446);  // 64- and 1500-byte frames on the wire

}  // namespace

BENCHMARK_MAIN();
