// ReferenceEvaluator: the plain interpretive walk over RuleSets, rule by rule, match by
// match. It is the oracle the compiled matcher is tested against (differential tests) and
// the engine of `trace` (the callback sees every rule tried and whether it matched).
// Deliberately shares no matching code with the compiler: same semantics written twice.
// Rule ids follow compile_policy.cpp's numbering (IPv4 RuleSet, then IPv6; chains in
// order; each chain's rules, then a built-in chain's policy pseudo-rule).
// Invariants: the RuleSets passed to the constructor must outlive the evaluator and be
// acyclic (compile() checks; this walk trusts it).
// Thread-safety: judge() is const and touches no shared state; safe from any thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

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

// Does one rule match (proto and every match)? Exposed for trace tooling and tests.
bool reference_rule_matches(const Rule& rule, Family family, const PolicyQuery& q,
                            const std::vector<PortDesc>& ports,
                            const std::string& bridge_name = std::string(kDefaultBridgeName));

class ReferenceEvaluator {
 public:
  ReferenceEvaluator(const RuleSet* v4, const RuleSet* v6, std::vector<PortDesc> ports,
                     std::string bridge_name = std::string(kDefaultBridgeName));
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
};

}  // namespace tapwall::policy
