// Rule lowering: one rule's matches -> interval constraints per dimension.
// Why: the partition builder only understands "bit b may be set where value in set S";
// every iptables match kind we support is expressed that way here, including its `!`
// (as a complement over the field's real values, never over the "absent" value, so a
// negated port/ICMP/flags match still fails on a packet that has no such field, as in
// the kernel). Field encodings (the values partitioned) are documented per dimension.
// Invariants: produced sets are normalized and within the dimension's domain.
// Thread-safety: pure functions over their arguments.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "partition.hpp"
#include "policy_impl.hpp"
#include "tapwall/error.hpp"
#include "tapwall/rule_set.hpp"

namespace tapwall::policy {

struct LoweringContext {
  Family family = Family::Ipv4;
  std::vector<std::string> port_names;                // PortId -> name
  std::string bridge_name;                            // what -i / -o name in FORWARD
  std::unordered_map<uint64_t, uint32_t> mac_index;   // rule-named MAC -> value
  uint32_t mac_count = 0;                             // value mac_count = any other MAC
  uint32_t next_aux_bit = 0;
};

// Largest value of dimension d (its "absent" value, if any, is max + 1 and never listed).
U128 dim_max(Dim d, const LoweringContext& cx);

// Appends the rule's constraints (bit = rule_bit) to out[dim]; may allocate aux bits.
std::optional<ConfigError> lower_rule(const Rule& rule, uint32_t rule_bit, LoweringContext& cx,
                                      std::vector<DimConstraint> (&out)[kDimCount],
                                      std::vector<EitherAux>& aux);

}  // namespace tapwall::policy
