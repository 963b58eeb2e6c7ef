// RuleSet: the parsed filter table of one iptables/ip6tables source, before compilation.
// Purpose: the mutable, validated description the parser builds (from an iptables-save file
// or an iptables command script) and the policy compiler turns into an immutable matcher.
// Invariants (after a successful parse): every Jump target names a chain in `chains`;
// built-in chains (INPUT, FORWARD, OUTPUT) have a policy; user chains have none; no chain
// jumps to itself directly or indirectly; rule order within a chain is evaluation order.
// Thread-safety: plain values; not shared once compiled.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "tapwall/ct_state.hpp"
#include "tapwall/net_types.hpp"

namespace tapwall {

enum class Family : uint8_t { Ipv4, Ipv6 };

// Where a rule or policy came from: "<path as given>:<line>".
struct SourceLoc {
  std::string path;
  int line = 0;
  std::string to_string() const { return path + ":" + std::to_string(line); }
};

struct PortRange {
  uint16_t lo = 0, hi = 65535;
  bool contains(uint16_t p) const { return p >= lo && p <= hi; }
};

struct Cidr {
  IpAddr addr;         // v4-mapped for IPv4
  uint8_t prefix = 0;  // prefix length in the address family's own bits (0-32 for v4, 0-128 v6)
};

// -p PROTO (proto 0 with negated=false never appears: "-p all" means no ProtoMatch).
struct ProtoMatch {
  uint8_t proto = 0;
  bool negated = false;
};

// -s / -d
struct AddrMatch {
  enum class Field : uint8_t { Src, Dst } field = Field::Src;
  Cidr cidr;
  bool negated = false;
};

// -m iprange [!] --src-range A[-B] / [!] --dst-range A[-B]: lo <= address <= hi, compared
// as numbers. A reversed range (lo > hi) is accepted, as iptables accepts it with a warning,
// and matches no address (every address, negated), as the kernel's comparison does.
struct AddrRangeMatch {
  AddrMatch::Field field = AddrMatch::Field::Src;
  IpAddr lo, hi;  // v4-mapped for IPv4
  bool negated = false;
};

// --sport/--dport (one range) or -m multiport --sports/--dports/--ports (a list).
struct PortMatch {
  enum class Field : uint8_t { Src, Dst, Either } field = Field::Dst;
  std::vector<PortRange> ranges;  // matches when the port is in any range
  bool negated = false;           // negates the whole match
};

// -m icmp --icmp-type T[/C] | -m icmp6 --icmpv6-type T[/C] (names resolved by the parser).
struct IcmpTypeMatch {
  bool any_type = false;  // "any"
  uint8_t type = 0;
  uint8_t code_lo = 0, code_hi = 0xff;
  bool negated = false;
};

// -m state --state / -m conntrack --ctstate
struct StateMatch {
  CtStateMask mask = 0;
  bool negated = false;
};

// A physdev interface pattern: exact name, or prefix when it ends in '+' (iptables' wildcard).
struct IfacePattern {
  std::string name;  // without the trailing '+'
  bool wildcard = false;
  bool matches(const std::string& iface) const {
    return wildcard ? iface.compare(0, name.size(), name) == 0 : iface == name;
  }
};

// -m physdev [!] --physdev-in P [!] --physdev-out P [!] --physdev-is-bridged (and -is-in/-is-out)
struct PhysdevMatch {
  std::optional<IfacePattern> in, out;
  bool in_negated = false, out_negated = false;
  std::optional<bool> is_bridged;  // true: --physdev-is-bridged, false: ! --physdev-is-bridged
  std::optional<bool> is_in, is_out;
};

// -i / -o NAME (a trailing '+' is a prefix wildcard). For a bridged frame, br_netfilter
// gives the FORWARD chain the bridge device as both the in and the out interface, so in
// FORWARD these name the bridge (CompiledPolicy::compile's bridge_name), never a port.
struct IfaceMatch {
  bool out = false;  // -o
  IfacePattern iface;
  bool negated = false;
};

// -m mac --mac-source
struct MacMatch {
  MacAddr mac;
  bool negated = false;
};

// -p tcp --syn / --tcp-flags MASK COMP
struct TcpFlagsMatch {
  uint8_t mask = 0, comp = 0;
  bool negated = false;
};

// -f / ! -f : non-first fragments (IPv4 only, as iptables).
struct FragmentMatch {
  bool negated = false;
};

// -m limit [--limit RATE[/UNIT]] [--limit-burst N], as iptables encodes it: `avg` is the
// mean interval between packets in 1/10000 s (iptables' XT_LIMIT_SCALE; default 3/hour),
// `burst` the bucket's size in packets (default 5). Stateful: the rule's own token bucket
// decides each packet (policy/limit_buckets.hpp says how, as the kernel does it).
struct LimitMatch {
  static constexpr uint32_t kScale = 10000;
  uint32_t avg = kScale * 60 * 60 / 3;
  uint32_t burst = 5;
};

// -m length [!] --length LO[:HI]: the packet's length at the hook, as the kernel's skb->len
// there (iptables-nft: `meta length`): the IP datagram (header included), reassembled if
// it came in fragments. A reversed range (LO > HI) loads and matches nothing.
struct LengthMatch {
  uint32_t lo = 0, hi = 0xffff;
  bool negated = false;
};

// -m pkttype [!] --pkt-type TYPE: the kernel's skb->pkt_type, numbered as its PACKET_*
// (unicast = host 0, broadcast 1, multicast 2, otherhost 3, outgoing 4, loopback 5).
struct PktTypeMatch {
  uint8_t type = 0;
  bool negated = false;
};

using Match = std::variant<AddrMatch, PortMatch, IcmpTypeMatch, StateMatch, PhysdevMatch,
                           MacMatch, TcpFlagsMatch, FragmentMatch, AddrRangeMatch, IfaceMatch,
                           LimitMatch, LengthMatch, PktTypeMatch>;

// Does a match depend on more than the packet's classes (its length, its destination MAC's
// kind, a token bucket)? The compiled matcher tests such matches, and those after them,
// per packet.
inline bool is_per_packet(const Match& m) {
  return std::holds_alternative<LimitMatch>(m) || std::holds_alternative<LengthMatch>(m) ||
         std::holds_alternative<PktTypeMatch>(m);
}

enum class TargetKind : uint8_t { Accept, Drop, Reject, Return, Jump, Goto, Log, None };

struct Rule {
  SourceLoc loc;
  std::string text;                 // the rule as written, e.g. "-A vboxin -p tcp --dport 80 -j ACCEPT"
  std::optional<ProtoMatch> proto;  // absent = all protocols
  std::vector<Match> matches;       // all must match (AND), in the order written
  TargetKind target = TargetKind::None;  // None: no -j (counts only)
  std::string jump_chain;           // for Jump/Goto
  std::string log_prefix;           // for Log
  std::string reject_with;          // for Reject ("" = default)
  std::string comment;              // -m comment --comment
  // Non-empty: a rule of INPUT or OUTPUT using what tapwall does not implement, kept as its
  // text only (why, as the error it would have been). Those chains judge the host's own
  // traffic, which the host kernel filters; tapwall never evaluates them.
  std::string host_only;
};

enum class PolicyVerdict : uint8_t { Accept, Drop };

struct Chain {
  std::string name;
  bool builtin = false;
  PolicyVerdict policy = PolicyVerdict::Accept;  // meaningful for built-in chains
  SourceLoc policy_loc;                          // where the policy was set (or the chain declared)
  std::vector<Rule> rules;
};

// What a source holds for another table (nat, mangle, raw, security), which the readers
// skip. tapwall applies only the filter table, while br_netfilter runs those tables'
// chains for bridged frames too: a rule there that matches a bridged frame (a DNAT, a
// NOTRACK, a DROP policy in raw) makes the kernel's result differ from tapwall's.
struct SkippedTable {
  std::string name;  // nat, mangle, raw or security
  int rules = 0;          // rules added (-A, -I)
  int drop_policies = 0;  // built-in chains' policies set to DROP
  int first_line = 0;
};

// Count a rule (or, drop_policy, a DROP policy) of another table, at `line`, in `tables`.
inline void count_skipped(std::vector<SkippedTable>& tables, const std::string& table, int line,
                          bool drop_policy) {
  SkippedTable* t = nullptr;
  for (SkippedTable& s : tables)
    if (s.name == table) t = &s;
  if (t == nullptr) t = &tables.emplace_back(SkippedTable{table, 0, 0, line});
  ++(drop_policy ? t->drop_policies : t->rules);
}

struct RuleSet {
  Family family = Family::Ipv4;
  std::string path;           // as given by the user
  std::vector<Chain> chains;  // filter table only; INPUT, FORWARD, OUTPUT always present
  std::vector<SkippedTable> skipped;  // tables with rules, in order of their first one
  const Chain* find(const std::string& name) const {
    for (const auto& c : chains)
      if (c.name == name) return &c;
    return nullptr;
  }
};

}  // namespace tapwall
