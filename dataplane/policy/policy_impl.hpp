// CompiledPolicy::Impl: the immutable matcher of one or two families.
// Design (why): per family, every match of every rule reachable from FORWARD is lowered to
// interval constraints on 12 dimensions (protocol, src/dst address, sport, dport, ICMP
// type/code, TCP flags, ct state, ingress port, egress port, source MAC, non-first
// fragment). Each dimension is partitioned into classes (partition.hpp); a class carries
// the bitset of rules whose constraints on that dimension hold. A packet's matching rules
// are the AND of its 12 class bitsets; the chain walk (jumps, goto, RETURN) then scans that
// bitset from chain positions, touching only rules that match. Since the decision depends
// only on the tuple of class ids (save for rules with `-m limit`, `-m length` or
// `-m pkttype`, whose decisions are never memoized: CRule::tail), workers memoize
// decisions by that tuple (evaluator.cpp):
// a new flow whose classes were seen before costs 12 class lookups and one probe,
// whatever the rule count.
// `-m multiport --ports` (source OR destination) is not a per-dimension predicate: it gets
// an auxiliary bit in both port partitions and is resolved from the (sport, dport) class
// pair on a memo miss, so the memo key still determines the decision.
// Invariants: rule bits are family-local, chain rules are contiguous [begin, end); aux bits
// follow the rule bits; the chain graph from FORWARD is acyclic (checked by compile()).
// Thread-safety: immutable after compile() except the relaxed atomic counters.
#pragma once

#include <optional>

#include <memory>
#include <string>
#include <vector>

#include "class_lookup.hpp"
#include "limit_buckets.hpp"
#include "partition.hpp"
#include "tapwall/policy.hpp"

namespace tapwall::policy {

enum Dim : uint8_t {
  kDimProto,
  kDimSrc,
  kDimDst,
  kDimSport,
  kDimDport,
  kDimIcmp,
  kDimTcpFlags,
  kDimCt,
  kDimIn,
  kDimOut,
  kDimMac,
  kDimFrag,
  kDimCount
};

// CtState -> dense index (None 0, New 1, Established 2, Related 3, Invalid 4, Untracked 5).
inline constexpr uint32_t kCtIndexCount = 6;
inline uint32_t ct_index(CtState s) {
  switch (s) {
    case CtState::New: return 1;
    case CtState::Established: return 2;
    case CtState::Related: return 3;
    case CtState::Invalid: return 4;
    case CtState::Untracked: return 5;
    case CtState::None: break;
  }
  return 0;
}

inline constexpr int kMemoKeyWords = 3;

struct CRule {
  TargetKind target = TargetKind::None;
  uint32_t jump_chain = 0;  // compiled chain index for Jump/Goto
  int32_t id = kNoRule;     // global rule id
  // A rule with a per-packet match (`-m limit`, `-m length`, `-m pkttype`:
  // is_per_packet()): its bit stands for its matches before the first such, and
  // FamilyMatcher::tails[tail] holds the rest, tested in order on each packet (a limit
  // spends a token on every packet that reaches it, whatever follows). -1: none.
  int32_t tail = -1;
  // Whether the tail's outcome can differ between packets of the same classes, packet type
  // and length class (CompiledPolicy::length_cuts()): it has a limit. Callers can key by
  // the type and the length class.
  bool tail_varies = false;
};

struct CChain {
  uint32_t begin = 0, end = 0;  // rule bits
  bool builtin = false;
  PolicyVerdict policy = PolicyVerdict::Accept;
  int32_t policy_id = kNoRule;
};

struct EitherAux {
  uint32_t rule_bit = 0, aux_bit = 0;
  bool negated = false;
};

struct FamilyMatcher {
  bool present = false;
  uint8_t icmp_proto = kProtoIcmp;
  uint32_t nports = 0;  // port value nports = unknown port
  uint32_t nrules = 0, nbits = 0, words = 0;
  Partition dims[kDimCount];  // only bits / all_ones / absent_class are used per packet
  DirectTable<uint32_t> proto, tcp_flags, ct, in_port, out_port, mac_cls, frag;
  BlockTable16 sport, dport, icmp;
  IntervalIndex<uint32_t> src4, dst4;
  IntervalIndex<U128> src6, dst6;
  MacIndex mac;
  std::vector<CRule> rules;
  std::vector<Rule> tails;  // CRule::tail: matches from a rule's first per-packet one on
  std::vector<CChain> chains;
  uint32_t forward = 0;
  std::vector<EitherAux> aux;            // sorted by rule_bit
  std::vector<uint32_t> aux_word_begin;  // aux entries of rule word w: [begin[w], begin[w+1])
  // Memo key: dimension d's class id in bits 16*(d%4) of word d/4. memo_ok is false when a
  // dimension has more than 2^16 classes (tens of thousands of distinct address or port
  // ranges): such a policy's packets are never memoized.
  bool memo_ok = false;
};

struct PrintChain {
  std::string name;
  bool builtin = false;
  PolicyVerdict policy = PolicyVerdict::Accept;
  int32_t policy_id = kNoRule;
  std::vector<int32_t> rules;
  std::vector<std::string> targets;  // per rule, as `iptables -L` shows it
  int references = 0;
};

}  // namespace tapwall::policy

namespace tapwall {

struct CompiledPolicy::Impl {
  uint64_t generation = 0;
  std::vector<RuleInfo> infos;
  std::unique_ptr<RuleCounter[]> counters;
  policy::FamilyMatcher fam[2];  // indexed by Family
  bool has[2] = {false, false};
  std::string path[2];
  std::vector<policy::PrintChain> print_chains[2];
  // The rules as written, kept for trace(): the reference walk explains a decision rule by
  // rule without touching the compiled tables.
  std::optional<RuleSet> rules[2];
  std::vector<PortDesc> ports;
  std::string bridge_name;
  std::unique_ptr<policy::LimitBuckets> limits;  // of both families' `-m limit` matches
  std::vector<uint32_t> length_cuts;  // CompiledPolicy::length_cuts(): sorted, unique
};

}  // namespace tapwall
