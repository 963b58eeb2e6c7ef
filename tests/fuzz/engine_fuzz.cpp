// libFuzzer target for the whole engine (decode, L2, MAC, conntrack, defrag, policy, verdict
// cache, express path) on arbitrary frame sequences, with the engine's own differential
// oracle: three engines are fed the same frames in the same batches, one as deployed, one
// without the express path, one without the verdict cache (so every copy is judged by the
// policy), and must agree on every outcome, counter, rule counter and conntrack entry count
// (they share one hash key, so a full table evicts alike). Besides ASan/UBSan catching
// memory errors, it aborts on any disagreement: a cached verdict that skips a rule on
// INVALID or RELATED, an express frame the general path would have treated otherwise.
// Built by tools/fuzz.sh (CMake option TAPWALL_FUZZ, clang), seeded with the golden cases'
// kernel-recorded input frames and the saved regressions (tools/fuzz/seeds.sh); the test
// build replays those (CTest engine_fuzz_corpus, tests/fuzz/run_inputs_main.cpp).
//
// Input: records, each [op][dt: 2 bytes LE][len: 2 bytes LE][len bytes of frame].
//   op bits 0-1: ingress port (eth0, tap0, tap1, br0); bit 2: the frame's L4 checksum is
//   left to offload (FrameIn::csum_partial); bit 3: end the batch after this frame;
//   bits 4-7 all set: swap the policy (no frame; the record is [op][dt]; the first two
//   swaps of an input only, as a swap rebuilds each engine's 512 KiB policy memo);
//   bits 4-7 = 0xe: run expire() before the frame.
//   dt: time since the previous record in 2^20 ns units (~1 ms; up to ~69 s a record, so
//   timeouts and MAC ageing are reached); len is taken modulo 2048 and cut to what is left.
// Thread-safety: libFuzzer's single thread.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tapwall/engine.hpp"
#include "tapwall/rules_parser.hpp"

namespace {

using namespace tapwall;

// The seed's policy over two VMs, with what a cached verdict must never bypass: INVALID,
// RELATED, a pkttype rule first, a length rule after the ESTABLISHED accept. (No -m limit:
// policies are compiled once and kept across inputs, and a token bucket's state would make
// an input's outcome depend on the inputs before it. The policy differential test and the
// engine tests cover limits.)
const char* kPolicyA =
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
    ":vboxin - [0:0]\n:vboxout - [0:0]\n"
    "-A FORWARD -m pkttype --pkt-type broadcast -p udp ! --dport 67:68 -j DROP\n"
    "-A FORWARD -m conntrack --ctstate INVALID -j DROP\n"
    "-A FORWARD -m physdev --physdev-out tap0 -j vboxin\n"
    "-A FORWARD -m physdev --physdev-out tap1 -j vboxin\n"
    "-A FORWARD -m physdev --physdev-in tap0 -j vboxout\n"
    "-A FORWARD -m physdev --physdev-in tap1 -j vboxout\n"
    "-A vboxin -m state --state RELATED,ESTABLISHED -j ACCEPT\n"
    "-A vboxin -p tcp -m tcp --dport 1024:65535 -j ACCEPT\n"
    "-A vboxin -p udp -m udp --dport 1024:65535 -m length --length 0:1200 -j ACCEPT\n"
    "-A vboxin -p udp -m udp --sport 67:68 --dport 67:68 -j ACCEPT\n"
    "-A vboxin -p icmp --icmp-type echo-request -j ACCEPT\n"
    "-A vboxin -p tcp -m multiport --dports 80,443 -j ACCEPT\n"
    "-A vboxout -p tcp --tcp-flags SYN,FIN SYN,FIN -j DROP\n"
    "-A vboxout -j ACCEPT\nCOMMIT\n";

// The policy swapped in: established traffic judged by flags, lengths, ports and RELATED, so
// that decisions cached under the first policy must not survive the swap, and cached ones
// must be keyed by the length class.
const char* kPolicyB =
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
    "-A FORWARD -m conntrack --ctstate RELATED -p icmp -j DROP\n"
    "-A FORWARD -p tcp --tcp-flags PSH PSH -m physdev --physdev-out tap1 -j DROP\n"
    "-A FORWARD -p tcp -m length --length 700:900 -j DROP\n"
    "-A FORWARD -p udp --sport 5001 -j DROP\n"
    "-A FORWARD -m physdev --physdev-in eth0 -m state --state ESTABLISHED -j ACCEPT\n"
    "-A FORWARD -m state --state NEW -m pkttype --pkt-type multicast -j DROP\n"
    "-A FORWARD -p tcp --dport 443 -j ACCEPT\nCOMMIT\n";

std::vector<PortDesc> ports() {
  return {{"eth0", PortRole::Uplink}, {"tap0", PortRole::Vm}, {"tap1", PortRole::Vm},
          {"br0", PortRole::Host}};
}

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "engine_fuzz: the engines disagree: %s\n", what);
  std::abort();
}

// The same rules for both families, ICMP being ICMPv6 in the IPv6 ones.
std::shared_ptr<const CompiledPolicy> compile(const char* text, uint64_t generation) {
  std::string text6 = text;
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (std::size_t at; (at = text6.find(from)) != std::string::npos;)
      text6.replace(at, from.size(), to);
  };
  replace_all("-p icmp ", "-p ipv6-icmp ");
  replace_all("--icmp-type ", "--icmpv6-type ");
  auto v4 = parse_rules(text, "fuzz.rules", Family::Ipv4);
  auto v6 = parse_rules(text6, "fuzz6.rules", Family::Ipv6);
  for (const auto* r : {&v4, &v6})
    if (const auto* e = std::get_if<ConfigError>(r)) {
      std::fprintf(stderr, "engine_fuzz: %s\n", e->message.c_str());
      std::abort();
    }
  auto c = CompiledPolicy::compile(&std::get<RuleSet>(v4), &std::get<RuleSet>(v6), ports(),
                                   generation);
  if (!std::holds_alternative<std::shared_ptr<const CompiledPolicy>>(c)) std::abort();
  return std::get<std::shared_ptr<const CompiledPolicy>>(c);
}

// Policies A and B for each of the three engines (rule counters are per policy), compiled
// once: compiling took nearly all of an input's time.
using PolicyPair = std::array<std::shared_ptr<const CompiledPolicy>, 2>;
const std::array<PolicyPair, 3>& policies() {
  static const std::array<PolicyPair, 3> p = [] {
    std::array<PolicyPair, 3> r;
    for (PolicyPair& x : r) x = {compile(kPolicyA, 1), compile(kPolicyB, 2)};
    return r;
  }();
  return p;
}

// One engine under test, and its rule counters as the input found them.
struct Subject {
  std::unique_ptr<Engine> engine;
  PolicyPair pol;
  std::vector<uint64_t> counted0[2];
  std::vector<FrameOutcome> out;

  Subject(const PolicyPair& p, bool express, bool verdict_cache) : pol(p) {
    EngineConfig cfg;
    cfg.ports = ports();
    // Small tables, so they fill (early drop, full MAC table, reassembly memory limits)
    // and an engine is quick to build: building the default sizes took most of an input.
    // (Sizes found by the fuzzer's coverage: with 64 entries no input filled the table.)
    cfg.ct.capacity = 8;
    cfg.ct.hash_seed = 0x5eed;  // the same buckets in all three: a full table evicts alike
    cfg.mac.capacity = 8;
    cfg.defrag.max_bytes = 8u << 10;
    cfg.defrag.max_datagrams = 4;
    cfg.defrag.max_fragments_per_datagram = 8;
    cfg.express = express;
    cfg.verdict_cache = verdict_cache;
    engine = std::make_unique<Engine>(cfg, pol[0]);
    for (int k = 0; k < 2; ++k)
      for (std::size_t r = 0; r < pol[k]->rule_count(); ++r) {
        const RuleCounter& c = pol[k]->counter(int32_t(r));
        counted0[k].push_back(c.packets.load());
        counted0[k].push_back(c.bytes.load());
      }
  }
  // Packets and bytes each rule counted during this input.
  uint64_t counted(int k, std::size_t r, bool bytes) const {
    const RuleCounter& c = pol[k]->counter(int32_t(r));
    return (bytes ? c.bytes.load() : c.packets.load()) - counted0[k][2 * r + bytes];
  }
};

void same_outcomes(const std::vector<FrameOutcome>& x, const std::vector<FrameOutcome>& y) {
  check(x.size() == y.size(), "number of outcomes");
  for (std::size_t i = 0; i < x.size(); ++i) {
    const FrameOutcome& a = x[i];
    const FrameOutcome& b = y[i];
    check(a.cookie == b.cookie && a.in == b.in && a.ts_ns == b.ts_ns, "which frame");
    check(a.to == b.to, "delivery ports");
    check(a.ct == b.ct, "conntrack state");
    check(a.reason == b.reason, "frame drop reason");
    check(a.n_per == b.n_per, "judged ports");
    for (uint8_t k = 0; k < a.n_per; ++k)
      check(a.per[k].port == b.per[k].port && a.per[k].accept == b.per[k].accept &&
                a.per[k].rule == b.per[k].rule && a.per[k].reason == b.per[k].reason,
            "a port's verdict");
    check(std::equal(a.bytes.begin(), a.bytes.end(), b.bytes.begin(), b.bytes.end()),
          "frame bytes");
    check(a.csum_partial == b.csum_partial, "checksum offload flag");
  }
}

void same_counters(const Subject& x, const Subject& y) {
  const EngineCounters& a = x.engine->counters();
  const EngineCounters& b = y.engine->counters();
  check(a.frames == b.frames && a.bytes == b.bytes && a.forwarded == b.forwarded &&
            a.dropped == b.dropped,
        "frame counters");
  check(a.by_reason == b.by_reason, "drop reasons");
  check(a.rx_frames == b.rx_frames && a.rx_bytes == b.rx_bytes && a.tx_frames == b.tx_frames &&
            a.tx_bytes == b.tx_bytes,
        "port counters");
  if (x.engine->conntrack().size() != y.engine->conntrack().size())
    std::fprintf(stderr, "engine_fuzz: %zu against %zu conntrack entries\n",
                 x.engine->conntrack().size(), y.engine->conntrack().size());
  check(x.engine->conntrack().size() == y.engine->conntrack().size(), "conntrack entries");
  for (int k = 0; k < 2; ++k)
    for (std::size_t r = 0; r < x.pol[k]->rule_count(); ++r)
      check(x.counted(k, r, false) == y.counted(k, r, false) &&
                x.counted(k, r, true) == y.counted(k, r, true),
            "rule counters");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Fresh engines for every input (the policies hold no state but counters), so an input's
  // outcome is its own.
  const auto& pol = policies();
  std::array<Subject, 3> s{Subject(pol[0], true, true), Subject(pol[1], false, true),
                           Subject(pol[2], false, false)};
  std::vector<std::vector<uint8_t>> frames;  // the current batch's bytes (stable addresses)
  std::vector<FrameIn> batch;
  uint64_t now = 1'000'000'000'000ull, cookie = 0;
  int policy = 0, swaps = 0;
  auto run_batch = [&] {
    for (Subject& x : s) {
      x.out.clear();
      x.engine->process(batch, x.out);
    }
    same_outcomes(s[0].out, s[1].out);
    same_outcomes(s[0].out, s[2].out);
    batch.clear();
    frames.clear();
  };
  std::size_t i = 0;
  while (i + 3 <= size) {
    const uint8_t op = data[i];
    now += uint64_t(data[i + 1] | data[i + 2] << 8) << 20;
    i += 3;
    if ((op & 0xf0) == 0xf0) {  // a policy swap, between batches as the workers do it
      if (++swaps > 2) continue;
      if (!batch.empty()) run_batch();
      policy ^= 1;
      for (Subject& x : s) x.engine->set_policy(x.pol[policy]);
      continue;
    }
    if ((op & 0xf0) == 0xe0) {
      if (!batch.empty()) run_batch();
      for (Subject& x : s) {
        x.out.clear();
        x.engine->expire(now, x.out);
      }
      same_outcomes(s[0].out, s[1].out);
      same_outcomes(s[0].out, s[2].out);
    }
    if (i + 2 > size) break;
    std::size_t len = std::size_t(data[i] | data[i + 1] << 8) % 2048;
    i += 2;
    len = std::min(len, size - i);
    frames.emplace_back(data + i, data + i + len);  // exact size: a read past it is caught
    i += len;
    FrameIn f;
    f.bytes = frames.back();
    f.in = PortId(op & 3);
    f.ts_ns = now;
    f.cookie = ++cookie;
    f.csum_partial = op & 4;
    batch.push_back(f);
    if ((op & 8) || batch.size() == 64) run_batch();
  }
  if (!batch.empty()) run_batch();
  same_counters(s[0], s[1]);
  same_counters(s[0], s[2]);
  return 0;
}
