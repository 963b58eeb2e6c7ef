// Trace formatting: the path one frame took through the engine, for `tapwall replay
// --trace` and `tapwall ctl trace` (like `nft monitor trace`): decode result, L2 decision,
// conntrack state, every FORWARD rule tried per egress port and whether it matched, and
// the verdict per egress port.
// Invariants: counts nothing (the rule walk is the policy's uncounted reference walk).
// A fragment is traced with its datagram's verdict; the rules shown are walked on the
// fragment's own headers (a non-first fragment has no ports).
// Thread-safety: pure functions of their arguments.
#pragma once

#include <string>
#include <vector>

#include "tapwall/engine.hpp"
#include "tapwall/policy.hpp"

namespace tapwall::control {

std::string trace_json(const FrameOutcome& o, const std::vector<PortDesc>& ports,
                       const CompiledPolicy& policy);
std::string trace_text(const FrameOutcome& o, const std::vector<PortDesc>& ports,
                       const CompiledPolicy& policy);

}  // namespace tapwall::control
