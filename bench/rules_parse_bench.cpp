// Rules parser throughput: an iptables-save file and the equivalent command script with a
// realistic mix (physdev dispatch to per-guest chains, state, tcp/udp ports, multiport,
// CIDRs, icmp, comments), 10 to 10k rules. items/s = rules parsed per second. A reload
// re-parses the whole file, so this bounds how fast a large policy can be swapped in.
#include <benchmark/benchmark.h>

#include <string>

#include "tapwall/rules_parser.hpp"

namespace {

using tapwall::Family;

// Rule i of a per-guest chain, as iptables-save prints it.
std::string rule_body(int i) {
  switch (i % 8) {
    case 0: return "-m state --state RELATED,ESTABLISHED -j ACCEPT";
    case 1: return "-p tcp -m tcp --dport " + std::to_string(1 + i % 60000) + " -j ACCEPT";
    case 2: return "-s 10." + std::to_string(i % 256) + ".0.0/16 -p udp -m udp --sport 67:68 --dport 67:68 -j ACCEPT";
    case 3: return "-p tcp -m multiport --dports 80,443,465,993,995 -j ACCEPT";
    case 4: return "-p icmp -m icmp --icmp-type 8 -j ACCEPT";
    case 5: return "! -d 192.168." + std::to_string(i % 256) + ".0/24 -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j DROP";
    case 6: return "-m mac --mac-source 52:54:00:12:34:56 -m comment --comment \"guest " + std::to_string(i) + "\" -j ACCEPT";
    default: return "-p udp -m udp ! --dport 1024:65535 -j REJECT --reject-with icmp-port-unreachable";
  }
}

// `rules` rules spread over guest chains of 50 rules, each reached from FORWARD by physdev.
std::string make_source(int rules, bool script) {
  const int chains = (rules + 49) / 50;
  std::string out = script ? "#!/bin/sh\niptables -P FORWARD DROP\n" : "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n";
  for (int c = 0; c < chains; ++c)
    out += script ? "iptables -N guest" + std::to_string(c) + "\n" : ":guest" + std::to_string(c) + " - [0:0]\n";
  const std::string prefix = script ? "iptables -A " : "-A ";
  int emitted = 0;
  for (int c = 0; c < chains && emitted < rules; ++c, ++emitted)
    out += prefix + "FORWARD -m physdev --physdev-out tap" + std::to_string(c) + " -j guest" + std::to_string(c) + "\n";
  for (int i = 0; emitted < rules; ++i, ++emitted)
    out += prefix + "guest" + std::to_string(i % chains) + " " + rule_body(i) + "\n";
  if (!script) out += "COMMIT\n";
  return out;
}

void parse(benchmark::State& state, bool script) {
  const int rules = int(state.range(0));
  const std::string src = make_source(rules, script);
  for (auto _ : state) {
    auto r = tapwall::parse_rules(src, "bench.rules", Family::Ipv4);
    if (!std::holds_alternative<tapwall::RuleSet>(r)) {
      state.SkipWithError(std::get<tapwall::ConfigError>(r).to_string().c_str());
      return;
    }
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * rules);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(src.size()));
}

void BM_ParseSaveFile(benchmark::State& state) { parse(state, false); }
void BM_ParseScript(benchmark::State& state) { parse(state, true); }

BENCHMARK(BM_ParseSaveFile)->Arg(10)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ParseScript)->Arg(10)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

}  // namespace
BENCHMARK_MAIN();
