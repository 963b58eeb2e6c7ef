// CompiledPolicy: the immutable matcher compiled from the IPv4 and (optionally) IPv6
// RuleSets, and PolicyEvaluator, the per-worker object that judges one forwarded packet
// against it, the way br_netfilter's FORWARD chain would.
// Invariants: a CompiledPolicy never changes after compile(); it is shared by workers via
// shared_ptr<const>; physdev patterns are resolved to port masks at compile time, so the
// port list given to compile() is the engine's port list (PortId = index). Rule ids are
// dense: [0, rule_count()) covers every rule of both families plus one pseudo-rule per
// built-in chain policy. The evaluator never walks rule text per packet, save a `-m limit`
// or `-m length` rule's tests from the first such match on (they decide per packet).
// Thread-safety: CompiledPolicy is immutable except its counters, which are relaxed atomics,
// and its limit buckets, which lock. A PolicyEvaluator belongs to one thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tapwall/ct_state.hpp"
#include "tapwall/decoded.hpp"
#include "tapwall/drop_reason.hpp"
#include "tapwall/error.hpp"
#include "tapwall/rule_set.hpp"

namespace tapwall {

struct PortDesc {
  std::string name;
  PortRole role = PortRole::Vm;
};

// What a rule id refers to, for verdict JSON, drop comments and `show rules`.
struct RuleInfo {
  SourceLoc loc;        // rule line, or the line that set the chain policy
  std::string chain;    // chain the rule is in
  std::string text;     // rule text, or "-P FORWARD DROP" for a policy pseudo-rule
  Family family = Family::Ipv4;
  TargetKind target = TargetKind::None;  // for policy pseudo-rules: Accept or Drop
  bool is_policy = false;
};

struct RuleCounter {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> bytes{0};
};

inline constexpr int32_t kNoRule = -1;

struct PolicyQuery {
  const Decoded* pkt = nullptr;  // l3 is Ipv4 or Ipv6
  CtState ct = CtState::None;
  PortId in = kNoPort, out = kNoPort;
  uint32_t bytes = 0;  // frame length, for byte counters
  uint64_t now_ns = 0;  // the frame's time: what `-m limit`'s token buckets refill by
};

// The rule ids one judgement counted, in the order it counted them. For a caller that
// caches a decision (the engine, on the conntrack entry) and must still count every later
// packet exactly as judge() would: CompiledPolicy::count_path(). complete is false when the
// path was too long to report, or a `-m limit` took part; such a decision must not be
// cached. A complete decision holds for every packet of the same classes, the same packet
// type (`-m pkttype`) and the same length class (`-m length`: CompiledPolicy::length_cuts()):
// a cache must key it by all three.
inline constexpr uint32_t kMaxPolicyPath = 7;
struct PolicyPath {
  uint8_t len = 0;
  bool complete = false;
  int32_t ids[kMaxPolicyPath] = {};
};

struct PolicyDecision {
  bool accept = true;
  int32_t rule = kNoRule;          // deciding rule or policy pseudo-rule; kNoRule: family unfiltered
  DropReason reason = DropReason::None;  // RuleDrop, RuleReject or ChainPolicy when !accept
  int32_t log_rule = kNoRule;      // first -j LOG rule that matched on the way, if any
};

// One rule (or chain policy) the FORWARD walk tried, and whether it matched.
struct PolicyTraceStep {
  int32_t rule = kNoRule;
  bool matched = false;
};

// The bridge device's name that -i / -o in FORWARD are compared with (IfaceMatch), when
// none is given: the seed's, and the usual one.
inline constexpr std::string_view kDefaultBridgeName = "br0";

class CompiledPolicy {
 public:
  // v6 may be null: IPv6 is then not filtered (the kernel's default without ip6tables rules).
  // v4 may be null too (nothing filtered). `generation` tags verdicts cached elsewhere.
  // `bridge_name`: the bridge device the rules were written for (-i / -o name it).
  static std::variant<std::shared_ptr<const CompiledPolicy>, ConfigError> compile(
      const RuleSet* v4, const RuleSet* v6, std::span<const PortDesc> ports, uint64_t generation,
      std::string_view bridge_name = kDefaultBridgeName);

  ~CompiledPolicy();
  uint64_t generation() const;
  std::size_t rule_count() const;
  const RuleInfo& rule(int32_t id) const;
  const RuleCounter& counter(int32_t id) const;
  // Count `packets` packets totalling `bytes` bytes on every rule of `path` (relaxed atomics).
  void count_path(const PolicyPath& path, uint64_t packets, uint64_t bytes) const;
  bool filters(Family f) const;  // a RuleSet was given for this family
  // The packet lengths (PolicyQuery::bytes) at which some `-m length` test changes its
  // answer, ascending. Two lengths with as many cuts at or below them are in one length
  // class: every length test decides them alike. Empty without length tests.
  std::span<const uint32_t> length_cuts() const;
  // Every rule the FORWARD walk tries for q, in order, and whether it matched: the rules as
  // written, walked one by one (slow; for trace). Counts nothing. `decision` receives the
  // outcome, which equals what the compiled matcher decides.
  std::vector<PolicyTraceStep> trace(const PolicyQuery& q, PolicyDecision* decision = nullptr) const;
  // Human-readable compiled chains with counters, like `iptables -L -v -n` (for `check`),
  // each family's warnings() first.
  void print(std::ostream& os) const;
  // One line per table of a rules file that tapwall skipped though it has rules (nat,
  // mangle, raw, security: RuleSet::skipped): the kernel applies them to bridged frames
  // too, so a user must hear that tapwall does not. Empty when there is none.
  std::vector<std::string> warnings() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit CompiledPolicy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Per-evaluator memo statistics (hits: decided from the memo; uncacheable: path too long).
struct MemoStats {
  uint64_t hits = 0, misses = 0, uncacheable = 0;
};

class PolicyEvaluator {
 public:
  explicit PolicyEvaluator(std::shared_ptr<const CompiledPolicy> policy);
  ~PolicyEvaluator();
  PolicyEvaluator(PolicyEvaluator&&) noexcept;
  PolicyEvaluator& operator=(PolicyEvaluator&&) noexcept;

  // Judge one packet for one egress port and count it on every rule that matched.
  PolicyDecision judge(const PolicyQuery& q);
  // The same, also reporting the rules it counted (see PolicyPath).
  PolicyDecision judge(const PolicyQuery& q, PolicyPath& path);
  // The same decision, counted nowhere (reload dry-runs, what-if queries).
  PolicyDecision decide(const PolicyQuery& q);
  const CompiledPolicy& policy() const { return *policy_; }
  MemoStats memo_stats() const;
  // Memo on (default) or off: off decides every packet from the class bitsets (the memo-miss
  // path), for benchmarks and tracing; decisions and counters are the same either way.
  void set_memo_enabled(bool on);
  const std::shared_ptr<const CompiledPolicy>& shared() const { return policy_; }

 private:
  std::shared_ptr<const CompiledPolicy> policy_;
  struct Cache;
  std::unique_ptr<Cache> cache_;  // per-worker memo of decisions by packet class
};

}  // namespace tapwall
