// Dry-run of a reload: which tracked flows would the new rules judge differently?
// For every conntrack entry, the flow's packets (original direction, and reply direction
// once a reply was seen) are judged with their current ct state between every pair of
// bridge ports that FORWARD judges, by the running and by the new policy, without
// counting. A flow is reported with each (direction, ingress, egress) whose verdict changes.
// Thread-safety: pure; reads the flows given (a copy of the workers' tables) and the
// policies, counting nothing.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tapwall/conntrack.hpp"
#include "tapwall/policy.hpp"

namespace tapwall::control {

// A JSON array of {"flow":{proto,src,dst,sport,dport,state}, "changes":[{dir,in,out,old,new,
// old_rule,new_rule}]}.
std::string dry_run_changes(std::span<const CtEntryView> flows, const CompiledPolicy& current,
                            const CompiledPolicy& next, const std::vector<PortDesc>& ports);

}  // namespace tapwall::control
