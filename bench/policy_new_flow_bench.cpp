// New-flow policy judgement at 10, 100, 1k and 10k rules: the per-frame cost of deciding a
// flow's first packet (conntrack NEW), the case a verdict cache on conntrack entries cannot
// help. Realistic mix: FORWARD holds per-VM physdev jumps (one uplink, up to 31 VM taps);
// each VM's inbound chain starts with an ESTABLISHED,RELATED accept followed by TCP/UDP port
// accepts, multiport lists, per-source-subnet SSH accepts and subnet drops, ICMP echo; each
// VM's outbound chain has a few rules then ACCEPT.
// Traffic: 16384 distinct 5-tuples (LAN hosts from a pool of 512, ephemeral source ports,
// a popular-port mix), mostly LAN->VM, some VM->LAN. "warm" = the worker's memo already holds
// the flows' classes, as it would in steady state; "cold" = memo disabled, every frame
// decided from the class bitsets (the memo-miss cost). items/s = frames/s.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tapwall/policy.hpp"

namespace {

using namespace tapwall;

constexpr int kPackets = 16384;

struct Fixture {
  RuleSet rs;
  std::vector<PortDesc> ports;
  std::shared_ptr<const CompiledPolicy> pol;
  std::vector<Decoded> pkts;
  std::vector<PolicyQuery> queries;
};

Rule make_rule(const std::string& text, std::optional<ProtoMatch> proto, std::vector<Match> m,
               TargetKind t, std::string jump = "") {
  Rule r;
  r.loc = SourceLoc{"bench.rules", 1};
  r.text = text;
  r.proto = proto;
  r.matches = std::move(m);
  r.target = t;
  r.jump_chain = std::move(jump);
  return r;
}

IpAddr vm_ip(int vm) { return IpAddr::from_v4_host(0xc0a80000u | uint32_t(100 + vm)); }

std::unique_ptr<Fixture> build(int nrules) {
  auto f = std::make_unique<Fixture>();
  std::mt19937 rng(42);
  auto rnd = [&](uint32_t n) { return uint32_t(rng() % n); };
  const int vms = std::max(1, std::min(31, (nrules + 99) / 100));
  f->ports.push_back(PortDesc{"eth0", PortRole::Uplink});
  for (int v = 0; v < vms; ++v) f->ports.push_back(PortDesc{"tap" + std::to_string(v), PortRole::Vm});

  RuleSet& rs = f->rs;
  rs.family = Family::Ipv4;
  rs.path = "bench.rules";
  for (const char* n : {"INPUT", "FORWARD", "OUTPUT"}) {
    Chain c;
    c.name = n;
    c.builtin = true;
    c.policy = std::string(n) == "FORWARD" ? PolicyVerdict::Drop : PolicyVerdict::Accept;
    rs.chains.push_back(std::move(c));
  }
  std::vector<Chain> user;
  std::vector<Rule> forward;
  const int per_vm = nrules / vms - 2;  // two FORWARD jumps per VM
  static const uint16_t kPorts[] = {80, 443, 25, 110, 143, 993, 995, 3306, 5432, 6379, 8443, 9000};
  for (int v = 0; v < vms; ++v) {
    const std::string tap = "tap" + std::to_string(v);
    const std::string in_name = "vm" + std::to_string(v) + "_in";
    const std::string out_name = "vm" + std::to_string(v) + "_out";
    PhysdevMatch pout;
    pout.out = IfacePattern{tap, false};
    PhysdevMatch pin;
    pin.in = IfacePattern{tap, false};
    forward.push_back(make_rule("-m physdev --physdev-out " + tap + " -j " + in_name, {}, {pout},
                                TargetKind::Jump, in_name));
    forward.push_back(make_rule("-m physdev --physdev-in " + tap + " -j " + out_name, {}, {pin},
                                TargetKind::Jump, out_name));
    Chain in;
    in.name = in_name;
    Chain out;
    out.name = out_name;
    const int nout = std::max(1, per_vm / 10);
    const int nin = std::max(1, per_vm - nout);
    in.rules.push_back(make_rule(
        "-m state --state ESTABLISHED,RELATED -j ACCEPT", {},
        {StateMatch{ct_bit(CtState::Established) | ct_bit(CtState::Related), false}},
        TargetKind::Accept));
    for (int i = 1; i < nin; ++i) {
      const uint32_t net = 0x0a000000u | (rnd(256) << 16) | (rnd(256) << 8);
      switch (i % 7) {
        case 0:
          in.rules.push_back(make_rule(
              "-p tcp --dport P -j ACCEPT", ProtoMatch{kProtoTcp, false},
              {PortMatch{PortMatch::Field::Dst, {{uint16_t(1000 + i), uint16_t(1000 + i)}}, false}},
              TargetKind::Accept));
          break;
        case 1:
          in.rules.push_back(make_rule(
              "-p udp --dport P -j ACCEPT", ProtoMatch{kProtoUdp, false},
              {PortMatch{PortMatch::Field::Dst, {{uint16_t(2000 + i), uint16_t(2000 + i)}}, false}},
              TargetKind::Accept));
          break;
        case 2:
          in.rules.push_back(make_rule(
              "-s NET/24 -p tcp --dport 22 -j ACCEPT", ProtoMatch{kProtoTcp, false},
              {AddrMatch{AddrMatch::Field::Src, Cidr{IpAddr::from_v4_host(net), 24}, false},
               PortMatch{PortMatch::Field::Dst, {{22, 22}}, false}},
              TargetKind::Accept));
          break;
        case 3:
          in.rules.push_back(make_rule(
              "-s NET/24 -j DROP", {},
              {AddrMatch{AddrMatch::Field::Src, Cidr{IpAddr::from_v4_host(net), 24}, false}},
              TargetKind::Drop));
          break;
        case 4: {
          PortMatch mp{PortMatch::Field::Dst, {}, false};
          for (int k = 0; k < 4; ++k) {
            uint16_t p = kPorts[rnd(12)];
            mp.ranges.push_back({p, p});
          }
          in.rules.push_back(make_rule("-p tcp -m multiport --dports L -j ACCEPT",
                                       ProtoMatch{kProtoTcp, false}, {mp}, TargetKind::Accept));
          break;
        }
        case 5:
          in.rules.push_back(make_rule(
              "-d VM -p tcp --dport 8000:8999 -j ACCEPT", ProtoMatch{kProtoTcp, false},
              {AddrMatch{AddrMatch::Field::Dst, Cidr{vm_ip(v), 32}, false},
               PortMatch{PortMatch::Field::Dst, {{uint16_t(8000 + i % 50), 8999}}, false}},
              TargetKind::Accept));
          break;
        default:
          in.rules.push_back(make_rule("-p icmp --icmp-type 8 -j ACCEPT",
                                       ProtoMatch{kProtoIcmp, false},
                                       {IcmpTypeMatch{false, 8, 0, 0xff, false}},
                                       TargetKind::Accept));
          break;
      }
    }
    for (int i = 0; i + 1 < nout; ++i)
      out.rules.push_back(make_rule(
          "-p tcp --dport 25 -d NET/24 -j REJECT", ProtoMatch{kProtoTcp, false},
          {AddrMatch{AddrMatch::Field::Dst,
                     Cidr{IpAddr::from_v4_host(0x0a000000u | (rnd(256) << 16) | (rnd(256) << 8)),
                          24},
                     false},
           PortMatch{PortMatch::Field::Dst, {{25, 25}}, false}},
          TargetKind::Reject));
    out.rules.push_back(make_rule("-j ACCEPT", {}, {}, TargetKind::Accept));
    user.push_back(std::move(in));
    user.push_back(std::move(out));
  }
  rs.chains[1].rules = std::move(forward);
  for (auto& c : user) rs.chains.push_back(std::move(c));

  auto r = CompiledPolicy::compile(&rs, nullptr, f->ports, 1);
  if (!std::holds_alternative<std::shared_ptr<const CompiledPolicy>>(r)) return nullptr;
  f->pol = std::get<std::shared_ptr<const CompiledPolicy>>(r);

  // Traffic.
  std::vector<uint32_t> hosts;
  for (int h = 0; h < 512; ++h)
    hosts.push_back(0x0a000000u | (rnd(256) << 16) | (rnd(256) << 8) | (1 + rnd(254)));
  static const uint16_t kDports[] = {22, 80, 443, 53, 8080, 3306, 25, 993};
  f->pkts.resize(kPackets);
  f->queries.resize(kPackets);
  for (int i = 0; i < kPackets; ++i) {
    Decoded& d = f->pkts[i];
    const int vm = int(rnd(uint32_t(vms)));
    const bool inbound = rnd(10) < 8;
    const IpAddr lan = IpAddr::from_v4_host(hosts[rnd(512)]);
    d.l3 = L3Kind::Ipv4;
    d.ethertype = kEthTypeIpv4;
    d.src_ip = inbound ? lan : vm_ip(vm);
    d.dst_ip = inbound ? vm_ip(vm) : lan;
    const uint32_t kind = rnd(20);
    d.ip_proto = kind < 14 ? kProtoTcp : kind < 19 ? kProtoUdp : kProtoIcmp;
    d.l4_ok = true;
    d.sport = uint16_t(32768 + (i % 28000));  // distinct 5-tuples
    d.dport = rnd(4) == 0 ? uint16_t(1024 + rnd(64000)) : kDports[rnd(8)];
    d.tcp_flags = kTcpSyn;
    d.icmp_type = 8;
    d.src_mac = MacAddr{{0x02, 0, 0, 0, uint8_t(i >> 8), uint8_t(i)}};
    PolicyQuery& q = f->queries[i];
    q.pkt = &d;
    q.ct = CtState::New;
    q.in = inbound ? 0 : PortId(1 + vm);
    q.out = inbound ? PortId(1 + vm) : 0;
    q.bytes = 64;
  }
  return f;
}

Fixture& fixture(int nrules) {
  static std::unique_ptr<Fixture> cache[5];
  const int slot = nrules == 10 ? 0 : nrules == 100 ? 1 : nrules == 1000 ? 2 : nrules == 10000 ? 3 : 4;
  if (!cache[slot]) cache[slot] = build(nrules);
  return *cache[slot];
}

void run(benchmark::State& state, bool warm) {
  Fixture& f = fixture(int(state.range(0)));
  PolicyEvaluator ev(f.pol);
  ev.set_memo_enabled(warm);
  if (warm)
    for (int i = 0; i < kPackets; ++i) ev.judge(f.queries[i]);  // steady state
  const MemoStats before = ev.memo_stats();
  std::size_t i = 0;
  uint64_t accepted = 0;
  for (auto _ : state) {
    PolicyDecision d = ev.judge(f.queries[i]);
    accepted += d.accept;
    i = (i + 1) & (kPackets - 1);
  }
  benchmark::DoNotOptimize(accepted);
  state.SetItemsProcessed(int64_t(state.iterations()));
  const MemoStats after = ev.memo_stats();
  const double lookups = double(after.hits + after.misses - before.hits - before.misses);
  if (warm && lookups > 0) state.counters["memo_hit"] = double(after.hits - before.hits) / lookups;
  state.counters["rules"] = double(f.pol->rule_count());
  state.counters["accept_frac"] = double(accepted) / double(state.iterations());
}

void BM_PolicyNewFlowWarm(benchmark::State& state) { run(state, true); }
void BM_PolicyNewFlowCold(benchmark::State& state) { run(state, false); }

BENCHMARK(BM_PolicyNewFlowWarm)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000);
BENCHMARK(BM_PolicyNewFlowCold)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000);

void BM_PolicyCompile(benchmark::State& state) {
  Fixture& f = fixture(int(state.range(0)));
  for (auto _ : state) {
    auto r = CompiledPolicy::compile(&f.rs, nullptr, f.ports, 2);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(f.pol->rule_count()));
}
BENCHMARK(BM_PolicyCompile)->Arg(10)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
