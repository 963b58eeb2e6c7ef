// Semantic equality of two rules: same protocol, same matches in the same order, same target
// and target arguments. Where a rule came from (loc, text) does not count.
// Purpose: `-D CHAIN rule-spec` deletes the first rule equal to the spec, as iptables does.
// Thread-safety: pure function.
#pragma once

#include "tapwall/rule_set.hpp"

namespace tapwall::control {

bool same_rule(const Rule& a, const Rule& b);

}  // namespace tapwall::control
