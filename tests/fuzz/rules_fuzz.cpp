// libFuzzer target for the rules parser and the policy compiler on arbitrary text, with the
// policy's own oracle: whatever parses and compiles is judged on packets drawn from the
// rules' own addresses, ports and ICMP types by the compiled matcher and by the reference
// evaluator (the plain walk, written apart), which must agree on every decision. A parse
// error must point inside the input. Seeded with the rules files of tests/rules/fixtures
// and tests/golden (tools/fuzz.sh).
// Input: byte 0 bit 0 picks the family (IPv4, IPv6); the rest is the rules text.
// Thread-safety: libFuzzer's single thread.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "../../dataplane/policy/reference_evaluator.hpp"
#include "tapwall/policy.hpp"
#include "tapwall/rules_parser.hpp"

namespace {

using namespace tapwall;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "rules_fuzz: %s\n", what);
  std::abort();
}

std::vector<PortDesc> ports() {
  return {{"eth0", PortRole::Uplink}, {"tap0", PortRole::Vm}, {"tap1", PortRole::Vm},
          {"br0", PortRole::Host}};
}

// The values the rules test, and their neighbours, so the packets reach rules and their edges.
struct Pools {
  std::vector<IpAddr> addrs;
  std::vector<uint16_t> ports{0, 22, 80, 443, 1024, 65535};
  std::vector<uint8_t> icmp_types{0, 3, 8, 128, 129, 135};
};

Pools pools_of(const RuleSet& rs, Family f) {
  Pools p;
  p.addrs.push_back(f == Family::Ipv4 ? IpAddr::from_v4_host(0xc0000201) : IpAddr{});
  auto add_addr = [&](IpAddr a) {
    p.addrs.push_back(a);
    a.b[15] ^= 1;
    p.addrs.push_back(a);
  };
  for (const Chain& c : rs.chains)
    for (const Rule& r : c.rules)
      for (const Match& m : r.matches) {
        if (const auto* a = std::get_if<AddrMatch>(&m)) add_addr(a->cidr.addr);
        if (const auto* a = std::get_if<AddrRangeMatch>(&m)) add_addr(a->lo), add_addr(a->hi);
        if (const auto* pm = std::get_if<PortMatch>(&m))
          for (const PortRange& pr : pm->ranges)
            for (int v : {pr.lo - 1, int(pr.lo), int(pr.hi), pr.hi + 1})
              if (v >= 0 && v <= 65535) p.ports.push_back(uint16_t(v));
        if (const auto* im = std::get_if<IcmpTypeMatch>(&m)) p.icmp_types.push_back(im->type);
      }
  return p;
}

Decoded packet(const Pools& p, Family f, uint32_t k) {
  auto pick = [&](std::size_t n, uint32_t salt) { return (k * 2654435761u + salt * 40503u) % n; };
  Decoded d;
  d.l3 = f == Family::Ipv4 ? L3Kind::Ipv4 : L3Kind::Ipv6;
  d.ethertype = f == Family::Ipv4 ? kEthTypeIpv4 : kEthTypeIpv6;
  d.src_ip = p.addrs[pick(p.addrs.size(), 1)];
  d.dst_ip = p.addrs[pick(p.addrs.size(), 2)];
  static const uint8_t kProtos[] = {kProtoTcp, kProtoUdp, kProtoIcmp, kProtoIcmpv6, 47};
  d.ip_proto = kProtos[pick(5, 3)];
  d.l4_ok = k % 11 != 0;
  d.is_fragment = !d.l4_ok;
  d.frag_offset = d.is_fragment ? 8 : 0;
  d.sport = p.ports[pick(p.ports.size(), 4)];
  d.dport = p.ports[pick(p.ports.size(), 5)];
  d.tcp_flags = uint8_t(pick(64, 6));
  d.icmp_type = p.icmp_types[pick(p.icmp_types.size(), 7)];
  d.icmp_code = uint8_t(pick(4, 8));
  d.src_mac = MacAddr{{0x02, 0, 0, 0, 0, uint8_t(1 + pick(3, 9))}};
  d.dst_mac = k % 7 == 0 ? MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
                         : MacAddr{{0x02, 0, 0, 0, 0, 9}};
  d.ttl = 64;
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Family fam = data[0] & 1 ? Family::Ipv6 : Family::Ipv4;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  auto parsed = parse_rules(text, "fuzz.rules", fam);
  if (const auto* e = std::get_if<ConfigError>(&parsed)) {
    const int lines = int(std::count(text.begin(), text.end(), '\n')) + 1;
    check(e->line >= 0 && e->line <= lines, "an error's line is outside the input");
    check(e->column >= 0, "an error's column is negative");
    check(!e->message.empty(), "an error without a message");
    return 0;
  }
  const RuleSet& rs = std::get<RuleSet>(parsed);
  const RuleSet* v4 = fam == Family::Ipv4 ? &rs : nullptr;
  const RuleSet* v6 = fam == Family::Ipv6 ? &rs : nullptr;
  auto compiled = CompiledPolicy::compile(v4, v6, ports(), 1);
  if (const auto* e = std::get_if<ConfigError>(&compiled)) {
    check(!e->message.empty(), "a compile error without a message");
    return 0;
  }
  const auto& pol = std::get<std::shared_ptr<const CompiledPolicy>>(compiled);
  std::ostringstream printed;
  pol->print(printed);  // `tapwall check`'s output, which must not trip on anything loaded
  PolicyEvaluator ev(pol);
  policy::ReferenceEvaluator ref(v4, v6, ports());
  const Pools pools = pools_of(rs, fam);
  bool has_limit = false;
  for (const Chain& c : rs.chains)
    for (const Rule& r : c.rules)
      for (const Match& m : r.matches) has_limit |= std::holds_alternative<LimitMatch>(m);
  static const CtState kStates[] = {CtState::New, CtState::Established, CtState::Related,
                                    CtState::Invalid, CtState::Untracked};
  for (uint32_t k = 0; k < 48; ++k) {
    const Decoded d = packet(pools, fam, k);
    PolicyQuery q;
    q.pkt = &d;
    q.ct = kStates[k % 5];
    q.in = PortId(k % 3);
    q.out = PortId((k / 3) % 3);
    q.bytes = 40 + 37 * k;
    q.now_ns = 1'000'000'000ull + k * 10'000'000ull;
    const PolicyDecision want = ref.judge(q).decision;
    for (int round = 0; round < 2; ++round) {  // a memo miss, then a hit where memoizable
      // The reference spends a limit's tokens once a packet, so with limits the compiled
      // matcher judges once too.
      if (round == 1 && has_limit) break;
      const PolicyDecision got = ev.judge(q);
      if (got.accept != want.accept || got.rule != want.rule || got.reason != want.reason ||
          got.log_rule != want.log_rule) {
        std::fprintf(stderr,
                     "rules_fuzz: packet %u (proto %u, sport %u, dport %u, flags %#x, icmp %u/%u, "
                     "fragment %d, ct %d, in %u, out %u, round %d): compiled rule %d log %d, "
                     "reference rule %d log %d\n",
                     k, d.ip_proto, d.sport, d.dport, d.tcp_flags, d.icmp_type, d.icmp_code,
                     int(d.is_fragment), int(q.ct), q.in, q.out, round, got.rule, got.log_rule,
                     want.rule, want.log_rule);
        check(false, "the compiled matcher and the reference evaluator disagree");
      }
    }
  }
  return 0;
}
