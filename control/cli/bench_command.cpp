// `tapwall bench`: how fast does the engine judge *your* traffic with *your* rules?
// Loads the frames of the captures into memory (merged as `replay` merges them), then runs
// them through the engine on this core, again and again for --seconds, each pass on fresh
// state (so a capture of handshakes stays handshakes). Time per stage comes from passes
// that stop after a stage: decode; + MAC learning and lookup; + conntrack; the whole
// engine's general path (+ defrag, policy, outcome bookkeeping; the express path off).
// Differences of medians give the stages. The engine as it runs (express path on) is
// timed too, with the share of frames its express path took.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <iterator>

#include "args.hpp"
#include "cli.hpp"
#include "ct_settings.hpp"
#include "merged_captures.hpp"
#include "tapwall/conntrack.hpp"
#include "tapwall/engine.hpp"
#include "tapwall/mac_table.hpp"
#include "tapwall/policy_loader.hpp"

namespace tapwall::control {

namespace {

constexpr const char* kBenchUsage =
    "usage: tapwall bench --rules FILE [--rules6 FILE] --uplink NAME --vm NAME [--vm NAME ...]\n"
    "                     --in NAME=FILE [--in NAME=FILE ...] [--seconds S] [--ct NAME=VALUE ...]\n"
    "                     [--bridge-name NAME]\n"
    "Runs the frames of the captures through the engine repeatedly on one core and prints\n"
    "frames/s, ns per frame, the share of frames on the express path, and the time per\n"
    "stage of the general path (decode, MAC, conntrack, policy+rest).\n"
    "  --seconds S       how long to measure (default 5)\n"
    "  --ct NAME=VALUE   a conntrack setting by its kernel sysctl name (repeatable), e.g.\n"
    "                    nf_conntrack_tcp_be_liberal=1 (default table: twice the frames)\n"
    "  --bridge-name NAME the bridge device the rules were written for (default br0):\n"
    "                    -i / -o in FORWARD name it, as br_netfilter shows it\n";

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

struct Loaded {
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<FrameIn> frames;
};

// The stages of the general path, then the whole engine as it runs.
enum class Stage { Decode, Mac, Conntrack, General, Engine, kCount };
constexpr const char* kStageNames[] = {"decode", "mac", "conntrack", "policy+rest"};
constexpr int kGeneralStages = int(std::size(kStageNames));

// One pass over all frames, stopping after `stage`; returns elapsed ns. `express`: frames
// the engine's express path took (Engine pass).
uint64_t run_pass(Stage stage, const Loaded& l, EngineConfig cfg,
                  const std::shared_ptr<const CompiledPolicy>& policy, uint64_t& sink,
                  uint64_t& express) {
  constexpr std::size_t kBatch = 32;
  if (stage == Stage::General || stage == Stage::Engine) {
    cfg.express = stage == Stage::Engine;
    Engine engine(cfg, policy);
    std::vector<FrameOutcome> out;
    out.reserve(kBatch * 4);
    uint64_t t0 = now_ns();
    for (std::size_t i = 0; i < l.frames.size(); i += kBatch) {
      out.clear();
      engine.process({l.frames.data() + i, std::min(kBatch, l.frames.size() - i)}, out);
      sink += out.size();
    }
    const uint64_t ns = now_ns() - t0;
    express = engine.counters().express_frames;
    return ns;
  }
  MacTable mac(cfg.mac);
  Conntrack ct(cfg.ct);
  Decoded d;
  uint64_t t0 = now_ns();
  for (const FrameIn& f : l.frames) {
    if (decode_frame(f.bytes, d) != DropReason::None) continue;
    sink += d.ip_proto;
    if (stage == Stage::Decode) continue;
    if (l2_admission(d.src_mac, d.dst_mac) != DropReason::None) continue;
    mac.learn(d.src_mac, f.in, f.ts_ns);
    sink += mac.lookup(d.dst_mac, f.ts_ns);
    if (stage == Stage::Mac || d.is_fragment) continue;
    if (d.l3 == L3Kind::Ipv4 || d.l3 == L3Kind::Ipv6) {
      CtResult r = ct.track(d, f.bytes, f.ts_ns, f.csum_partial);
      ct.confirm(r, true);
      sink += static_cast<uint64_t>(r.state);
    }
  }
  return now_ns() - t0;
}

}  // namespace

int bench_main(int argc, char** argv) {
  Args a;
  for (auto o : {"--rules", "--rules6", "--seconds", "--bridge-name"}) a.option(o);
  for (auto o : {"--uplink", "--vm", "--host-port", "--in", "--ct"}) a.option(o, true);
  a.flag("--help");
  if (!a.parse(argc, argv, 2) || !a.positional().empty()) {
    std::cerr << "tapwall bench: "
              << (a.error().empty() ? "unexpected argument " + a.positional().front() : a.error())
              << "\n" << kBenchUsage;
    return kExitUsage;
  }
  if (a.has("--help")) {
    std::cout << kBenchUsage;
    return kExitOk;
  }
  if (!a.has("--rules") || a.all("--uplink").size() != 1 || a.all("--vm").empty() || !a.has("--in")) {
    std::cerr << "tapwall bench: --rules, one --uplink, at least one --vm and --in are required\n"
              << kBenchUsage;
    return kExitUsage;
  }
  double seconds = 0;
  {
    const std::string v = a.get("--seconds").value_or("5");
    std::size_t used = 0;
    try {
      seconds = std::stod(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != v.size() || !(seconds > 0 && seconds <= 3600)) {
      std::cerr << "tapwall bench: --seconds takes a number of seconds, more than 0, at most 3600\n";
      return kExitUsage;
    }
  }
  {
    CtConfig checked;  // --ct is checked before the captures load, applied once they have
    if (std::string err = apply_ct_settings(a.all("--ct"), checked); !err.empty()) {
      std::cerr << "tapwall bench: " << err << "\n";
      return kExitUsage;
    }
  }
  auto pl = make_port_list(a.all("--uplink"), a.all("--vm"), a.all("--host-port"));
  if (auto* e = std::get_if<std::string>(&pl)) {
    std::cerr << "tapwall bench: " << *e << "\n";
    return kExitUsage;
  }
  const auto ports = std::get<std::vector<PortDesc>>(pl);
  auto loaded = load_policy({*a.get("--rules"), a.get("--rules6").value_or(""),
                             a.get("--bridge-name").value_or(std::string(kDefaultBridgeName))},
                            ports, 1);
  if (auto* e = std::get_if<ConfigError>(&loaded)) {
    std::cerr << "tapwall bench: " << e->to_string() << "\n";
    return kExitBadRules;
  }
  auto policy = std::get<std::shared_ptr<const CompiledPolicy>>(loaded);
  for (const std::string& w : policy->warnings()) std::cerr << "tapwall bench: warning: " << w << "\n";

  MergedCaptures inputs;
  bool file_error = false;
  if (std::string err = inputs.open(a.all("--in"), ports, file_error); !err.empty()) {
    std::cerr << "tapwall bench: " << err << "\n";
    return file_error ? kExitFile : kExitUsage;
  }
  Loaded l;
  MergedFrame m;
  while (inputs.next(m)) {
    l.bytes.emplace_back(m.bytes.begin(), m.bytes.end());
    l.frames.push_back({{}, m.port, m.ts_ns, l.frames.size(), false});
  }
  for (std::size_t i = 0; i < l.frames.size(); ++i) l.frames[i].bytes = l.bytes[i];
  if (l.frames.empty()) {
    std::cerr << "tapwall bench: the captures hold no frames\n";
    return kExitUsage;
  }
  EngineConfig cfg;
  cfg.ports = ports;
  // Tables sized to the capture: every pass builds fresh ones, and the default sizes would
  // make a small capture's passes measure page faults instead of the engine.
  cfg.ct.capacity = uint32_t(std::max<std::size_t>(1024, l.frames.size() * 2));
  cfg.mac.capacity = uint32_t(std::max<std::size_t>(256, std::min<std::size_t>(l.frames.size(), 65536)));
  cfg.ct.hash_seed = kOfflineHashSeed;  // every pass does the same work
  (void)apply_ct_settings(a.all("--ct"), cfg.ct);  // checked above; nf_conntrack_max wins

  // Alternate the passes until the time is up; keep every pass's ns/frame.
  std::vector<double> per_frame[int(Stage::kCount)];
  uint64_t sink = 0, start = now_ns(), passes = 0, express = 0, shown = 0;
  const uint64_t budget = uint64_t(seconds * 1e9);
  while (now_ns() - start < budget || passes < 1) {
    for (int s = 0; s < int(Stage::kCount); ++s)
      per_frame[s].push_back(double(run_pass(Stage(s), l, cfg, policy, sink, express)) /
                             double(l.frames.size()));
    ++passes;
    const uint64_t t = now_ns() - start;
    if (t - shown < 200000000ull && t < budget) continue;  // the progress line: 5 times a second
    shown = t;
    double done = double(t) / double(budget);
    std::fprintf(stderr, "\r%zu frames x %llu passes, %3.0f%%  engine %.1f ns/frame   ",
                 l.frames.size(), (unsigned long long)passes, std::min(done, 1.0) * 100,
                 per_frame[int(Stage::Engine)].back());
  }
  std::fprintf(stderr, "\n");
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  double med[int(Stage::kCount)];
  for (int s = 0; s < int(Stage::kCount); ++s) med[s] = median(per_frame[s]);
  std::printf("frames per pass   %zu (%llu passes, medians)\n", l.frames.size(), (unsigned long long)passes);
  const double engine = med[int(Stage::Engine)], general = med[int(Stage::General)];
  std::printf("engine            %.1f ns/frame  %.2f M frames/s  (%.1f%% of frames on the express path)\n",
              engine, 1e3 / engine, 100.0 * double(express) / double(l.frames.size()));
  std::printf("general path only %.1f ns/frame  %.2f M frames/s  (express path off)\n", general,
              1e3 / general);
  std::printf("per stage of the general path (cumulative passes, differences):\n");
  double prev = 0;
  for (int s = 0; s < kGeneralStages; ++s) {
    std::printf("  %-12s %7.1f ns/frame\n", kStageNames[s], std::max(0.0, med[s] - prev));
    prev = med[s];
  }
  if (sink == 42) std::printf(" \n");  // keeps the passes' results alive
  return kExitOk;
}

}  // namespace tapwall::control
