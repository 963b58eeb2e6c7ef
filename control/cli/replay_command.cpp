// `tapwall replay`: run captures through the whole engine as if the frames arrived live.
// Inputs are merged by timestamp (ties: order of the --in flags, then file order) and the
// timestamps are the engine's clock. Every input frame yields one --verdicts line, written
// when its fate is final; at the end of the input, held fragments expire (frag_timeout).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include "args.hpp"
#include "cli.hpp"
#include "ct_settings.hpp"
#include "tapwall/outcome_format.hpp"
#include "tapwall/policy_loader.hpp"
#include "merged_captures.hpp"
#include "tapwall/capture_file.hpp"
#include "tapwall/engine.hpp"
#include "tapwall/packet_filter.hpp"
#include "tapwall/trace_format.hpp"

namespace tapwall::control {

namespace {

constexpr const char* kReplayUsage =
    "usage: tapwall replay --rules FILE [--rules6 FILE] --uplink NAME --vm NAME [--vm NAME ...]\n"
    "                      [--host-port NAME] --in NAME=FILE [--in NAME=FILE ...]\n"
    "                      [--verdicts PATH] [--drops FILE] [--print] [--no-conntrack]\n"
    "                      [--ct NAME=VALUE ...] [--rule-counters PATH] [--bridge-name NAME]\n"
    "       tapwall replay --list-reasons\n"
    "Runs pcap/pcapng captures through the bridge engine, merged by timestamp.\n"
    "  --rules FILE      iptables-save file or iptables command script (IPv4)\n"
    "  --rules6 FILE     the same for IPv6 (without it IPv6 is not filtered)\n"
    "  --uplink NAME     the uplink port (eth0); --vm NAME: a VM port (tap0), repeatable\n"
    "  --host-port NAME  the host's own port (not judged by FORWARD)\n"
    "  --in NAME=FILE    frames arriving on port NAME, from a capture file\n"
    "  --verdicts PATH   JSON Lines, one object per input frame ('-' = stdout)\n"
    "  --drops FILE      pcapng of dropped frames, each with a comment saying why\n"
    "  --print           one human-readable line per frame on stdout\n"
    "  --no-conntrack    judge every packet with no ct state (stateless replay)\n"
    "  --ct NAME=VALUE   a conntrack setting by its kernel sysctl name (repeatable), e.g.\n"
    "                    nf_conntrack_tcp_be_liberal=1, nf_conntrack_udp_timeout=10\n"
    "  --trace FILTER    explain the path of every frame matching a pcap filter expression\n"
    "                    (decode, L2, ct state, every rule tried, verdict per port)\n"
    "  --rule-counters PATH  after the replay, JSON Lines: every rule and chain policy with\n"
    "                    the packets and bytes it counted, as iptables -v counts ('-' = stdout)\n"
    "  --bridge-name NAME the bridge device the rules were written for (default br0):\n"
    "                    -i / -o in FORWARD name it, as br_netfilter shows it\n";

constexpr uint64_t kCookieInputShift = 40;

struct ReplaySinks {
  const std::vector<PortDesc>& ports;
  std::ostream* verdicts = nullptr;
  PcapngWriter* drops = nullptr;
  bool print = false;
  const PacketFilter* trace = nullptr;
  uint64_t written = 0;

  void emit(const FrameOutcome& o, const CompiledPolicy& policy) {
    uint64_t input = o.cookie >> kCookieInputShift;
    uint64_t n = o.cookie & ((uint64_t{1} << kCookieInputShift) - 1);
    ++written;
    if (verdicts) *verdicts << verdict_json(o, ports, policy, n) << '\n';
    if (drops && has_drop(o)) drops->write(o.in, o.ts_ns, o.bytes, drop_comment(o, ports, policy));
    if (print) print_line(o, policy, input, n);
    if (trace && trace->matches(o.bytes)) std::cout << trace_text(o, ports, policy);
  }

  void print_line(const FrameOutcome& o, const CompiledPolicy& policy, uint64_t input,
                  uint64_t n) {
    (void)input;
    std::string s = ports[o.in].name + "#" + std::to_string(n) + " " + frame_summary(o.bytes);
    if (o.ct != CtState::None) s += " ct=" + std::string(ct_state_name(o.ct));
    if (o.reason != DropReason::None) {
      s += " -> DROP " + std::string(drop_reason_name(o.reason));
    } else {
      for (uint8_t i = 0; i < o.n_per; ++i) {
        const PortVerdict& v = o.per[i];
        s += " -> " + ports[v.port].name + (v.accept ? " accept" : " DROP ") +
             (v.accept ? "" : std::string(drop_reason_name(v.reason)));
        if (v.rule != kNoRule)
          s += " (" + policy.rule(v.rule).loc.to_string() + " " + policy.rule(v.rule).text + ")";
      }
      if (o.n_per == 0) {
        s += " -> ";
        for (std::size_t p = 0; p < ports.size(); ++p)
          if (o.to & (PortMask{1} << p)) s += ports[p].name + " ";
        s += "forward (not filtered)";
      }
    }
    std::cout << s << '\n';
  }
};

// Where an output option points: nowhere when absent, stdout for "-", else `file` opened on
// the path. False (said on stderr) when the file cannot be written.
bool open_output(const std::optional<std::string>& path, std::ofstream& file,
                 std::ostream*& out) {
  if (!path) return true;
  if (*path == "-") {
    out = &std::cout;
    return true;
  }
  file.open(*path);
  if (!file) {
    std::cerr << "tapwall replay: cannot write " << *path << "\n";
    return false;
  }
  out = &file;
  return true;
}

void print_summary(const Engine& e, const std::vector<PortDesc>& ports, uint64_t frames) {
  const EngineCounters& c = e.counters();
  std::printf("frames %llu  forwarded %llu  dropped %llu\n", (unsigned long long)frames,
              (unsigned long long)c.forwarded, (unsigned long long)c.dropped);
  std::printf("%-10s %10s %10s %10s %10s\n", "port", "rx_frames", "rx_bytes", "tx_frames",
              "tx_bytes");
  for (std::size_t p = 0; p < ports.size(); ++p)
    std::printf("%-10s %10llu %10llu %10llu %10llu\n", ports[p].name.c_str(),
                (unsigned long long)c.rx_frames[p], (unsigned long long)c.rx_bytes[p],
                (unsigned long long)c.tx_frames[p], (unsigned long long)c.tx_bytes[p]);
  bool any = false;
  for (std::size_t r = 1; r < kDropReasonCount; ++r) {
    if (!c.by_reason[r]) continue;
    if (!any) std::printf("drops by reason (frames, or copies per egress port):\n");
    any = true;
    std::printf("  %-24s %llu\n", std::string(drop_reason_name(DropReason(r))).c_str(),
                (unsigned long long)c.by_reason[r]);
  }
}

}  // namespace

int replay_main(int argc, char** argv) {
  Args a;
  for (auto o : {"--rules", "--rules6", "--verdicts", "--drops", "--trace", "--rule-counters",
                 "--bridge-name"})
    a.option(o);
  for (auto o : {"--uplink", "--vm", "--host-port", "--in", "--ct"}) a.option(o, true);
  for (auto f : {"--list-reasons", "--print", "--no-conntrack", "--help"}) a.flag(f);
  if (!a.parse(argc, argv, 2) || !a.positional().empty()) {
    std::cerr << "tapwall replay: "
              << (a.error().empty() ? "unexpected argument " + a.positional().front() : a.error())
              << "\n" << kReplayUsage;
    return kExitUsage;
  }
  if (a.has("--help")) {
    std::cout << kReplayUsage;
    return kExitOk;
  }
  if (a.has("--list-reasons")) {
    for (std::size_t r = 1; r < kDropReasonCount; ++r)
      std::cout << drop_reason_name(DropReason(r)) << "\t" << drop_reason_description(DropReason(r))
                << "\n";
    return kExitOk;
  }
  if (!a.has("--rules") || a.all("--uplink").size() != 1 || a.all("--vm").empty() ||
      !a.has("--in")) {
    std::cerr << "tapwall replay: --rules, one --uplink, at least one --vm and --in are required\n"
              << kReplayUsage;
    return kExitUsage;
  }
  auto pl = make_port_list(a.all("--uplink"), a.all("--vm"), a.all("--host-port"));
  if (auto* e = std::get_if<std::string>(&pl)) {
    std::cerr << "tapwall replay: " << *e << "\n";
    return kExitUsage;
  }
  const auto ports = std::get<std::vector<PortDesc>>(pl);

  auto loaded = load_policy({*a.get("--rules"), a.get("--rules6").value_or(""),
                             a.get("--bridge-name").value_or(std::string(kDefaultBridgeName))},
                            ports, 1);
  if (auto* e = std::get_if<ConfigError>(&loaded)) {
    std::cerr << "tapwall replay: " << e->to_string() << "\n";
    return kExitBadRules;
  }
  auto policy = std::get<std::shared_ptr<const CompiledPolicy>>(loaded);
  for (const std::string& w : policy->warnings()) std::cerr << "tapwall replay: warning: " << w << "\n";

  MergedCaptures inputs;
  bool file_error = false;
  if (std::string err = inputs.open(a.all("--in"), ports, file_error); !err.empty()) {
    std::cerr << "tapwall replay: " << err << "\n";
    return file_error ? kExitFile : kExitUsage;
  }

  std::ofstream vfile, cfile;
  std::ostream* vout = nullptr;
  std::ostream* counters_out = nullptr;
  if (!open_output(a.get("--verdicts"), vfile, vout) ||
      !open_output(a.get("--rule-counters"), cfile, counters_out))
    return kExitFile;
  std::unique_ptr<PcapngWriter> drops;
  if (auto d = a.get("--drops")) {
    auto r = PcapngWriter::create(*d);
    if (auto* e = std::get_if<std::string>(&r)) {
      std::cerr << "tapwall replay: " << *d << ": " << *e << "\n";
      return kExitFile;
    }
    drops = std::move(std::get<std::unique_ptr<PcapngWriter>>(r));
    for (const auto& p : ports) drops->add_interface(p.name);
  }

  std::shared_ptr<const PacketFilter> trace;
  if (auto expr = a.get("--trace")) {
    auto r = PacketFilter::compile(*expr);
    if (auto* e = std::get_if<std::string>(&r)) {
      std::cerr << "tapwall replay: --trace: " << *e << "\n";
      return kExitUsage;
    }
    trace = std::get<std::shared_ptr<const PacketFilter>>(r);
  }

  EngineConfig cfg;
  cfg.ports = ports;
  cfg.conntrack = !a.has("--no-conntrack");
  cfg.ct.hash_seed = kOfflineHashSeed;  // the same verdicts on every run
  if (std::string err = apply_ct_settings(a.all("--ct"), cfg.ct); !err.empty()) {
    std::cerr << "tapwall replay: " << err << "\n";
    return kExitUsage;
  }
  Engine engine(cfg, policy);
  ReplaySinks sinks{ports, vout, drops.get(), a.has("--print"), trace.get()};

  std::vector<FrameOutcome> out;
  uint64_t frames = 0, last_ts = 0, last_expire = 0;
  constexpr uint64_t kExpireEvery = 1000000000ull;
  MergedFrame m;
  while (inputs.next(m)) {
    FrameIn f;
    f.bytes = m.bytes;
    f.in = m.port;
    f.ts_ns = m.ts_ns;
    f.cookie = (uint64_t{m.input} << kCookieInputShift) | m.number;
    last_ts = std::max(last_ts, f.ts_ns);
    out.clear();
    if (last_ts >= last_expire + kExpireEvery) {  // timers have a 1 s grain, as the kernel's GC
      engine.expire(last_ts, out);
      last_expire = last_ts;
    }
    engine.process({&f, 1}, out);
    for (const auto& o : out) sinks.emit(o, *policy);  // before next(): bytes are m's
    ++frames;
  }
  // The capture ended: whatever is still held can never complete.
  out.clear();
  engine.expire(last_ts + cfg.defrag.timeout_ns + 1, out);
  for (const auto& o : out) sinks.emit(o, *policy);

  if (drops) drops->close();
  if (vout) vout->flush();
  if (counters_out) {
    // The engine counts a verdict-cache hit's rules when its pending counts are flushed,
    // which process() does before it returns: every frame is counted by now.
    for (std::size_t i = 0; i < policy->rule_count(); ++i)
      *counters_out << rule_json(*policy, int32_t(i)) << '\n';
    counters_out->flush();
  }
  if (vout != &std::cout) print_summary(engine, ports, frames);
  if (sinks.written != frames) {
    std::cerr << "tapwall replay: internal error: " << frames << " frames in, " << sinks.written
              << " verdicts out\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace tapwall::control
