// ReferenceEvaluator: the plain interpretive walk over RuleSets, rule by rule, match by
// match. It is the oracle the compiled matcher is tested against (differential tests) and
// the engine of `trace` (the callback sees every rule tried and whether it matched).
// Deliberately shares no matching code with the compiler: same semantics written twice.
// Rule ids follow compile_policy.cpp's numbering (IPv4 RuleSet, then IPv6; chains in
// order; each chain's rules, then a built-in chain's policy pseudo-rule).
// A `-m limit` match asks a LimitBuckets: the evaluator's own (each judgement spends
// tokens, as the compiled matcher's do), or one it is given (trace: the compiled policy's,
// looked at without spending).
// Invariants: the RuleSets passed to the constructor must outlive the evaluator and be
// acyclic (compile() checks; this walk trusts it).
// Thread-safety: judge() is const; apart from the limit buckets (which lock) it touches no
// shared state; safe from any thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <memory>

#include "limit_buckets.hpp"
#include "tapwall/policy.hpp"
#include "tapwall/rule_set.hpp"

namespace tapwall::policy {

struct TraceStep {
  int32_t rule_id = kNoRule;
  const Rule* rule = nullptr;  // null for a chain policy pseudo-rule
  const std::string* chain = nullptr;
  bool matched = false;
};
using TraceFn = std::function<void(const TraceStep&)>;

struct ReferenceResult {
  PolicyDecision decision;
  std::vector<int32_t> counted;  // ids counted, in walk order
};

// Whether the rule's k-th `-m limit` (0: its first) lets the packet through.
using LimitFn = std::function<bool(uint32_t k)>;

// Does one rule match (proto, then every match in order, stopping at the first that fails,
// as the kernel does: a limit after a failed match spends nothing)? A limit asks `limit`
// (none given: it passes). Exposed for trace tooling, tests and the compiled matcher's
// limit rules (compile_policy.cpp).
bool reference_rule_matches(const Rule& rule, Family family, const PolicyQuery& q,
                            const std::vector<PortDesc>& ports,
                            const std::string& bridge_name = std::string(kDefaultBridgeName),
                            const LimitFn& limit = {});

class ReferenceEvaluator {
 public:
  ReferenceEvaluator(const RuleSet* v4, const RuleSet* v6, std::vector<PortDesc> ports,
                     std::string bridge_name = std::string(kDefaultBridgeName));
  // Limits ask `limits` instead of the evaluator's own buckets, spending tokens only when
  // `take` (it must be built from the same RuleSets and outlive the evaluator).
  void use_limits(const LimitBuckets* limits, bool take);
  ReferenceResult judge(const PolicyQuery& q, const TraceFn& trace = {}) const;

 private:
  struct FamilyRules {
    const RuleSet* rs = nullptr;
    std::vector<std::vector<int32_t>> ids;  // [chain][rule]
    std::vector<int32_t> policy_ids;        // [chain]
  };
  FamilyRules fam_[2];
  std::vector<PortDesc> ports_;
  std::string bridge_name_;
  std::unique_ptr<LimitBuckets> own_limits_;
  const LimitBuckets* limits_ = nullptr;
  bool take_ = true;
};

}  // namespace tapwall::policy
