// Text forms of an engine outcome: the `--verdicts` JSON line, the pcapng drop comment and
// a one-line human summary. Shared by `replay` and the live bridge's drop recorder.
// Invariants: JSON keys and order are exactly those documented in the README.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tapwall/engine.hpp"
#include "tapwall/policy.hpp"

namespace tapwall::control {

std::string json_escape(const std::string& s);
std::string json_string_or_null(const std::string& s);  // "" -> null

// "<path>:<line>" of a rule id, or "" for kNoRule.
std::string rule_ref(const CompiledPolicy& p, int32_t rule);

// One rule (or chain policy) with its counters, as `show rules` and `replay
// --rule-counters` give it: {"id","family","chain","rule","text","policy","packets","bytes"}.
std::string rule_json(const CompiledPolicy& p, int32_t id);

// One `--verdicts` object (no trailing newline).
std::string verdict_json(const FrameOutcome& o, const std::vector<PortDesc>& ports,
                         const CompiledPolicy& policy, uint64_t frame_number);

// The pcapng comment for a frame dropped toward at least one port: one line per drop.
std::string drop_comment(const FrameOutcome& o, const std::vector<PortDesc>& ports,
                         const CompiledPolicy& policy);

// The recorder's comment: drop_comment() for a frame with a drop, else (a dumped accepted
// frame) "accept to=<ports> ct=<state> rule=<path:line>|-".
std::string record_comment(const FrameOutcome& o, const std::vector<PortDesc>& ports,
                           const CompiledPolicy& policy);

// True when the frame was dropped as a whole or toward at least one judged port.
bool has_drop(const FrameOutcome& o);

// "tcp 192.0.2.1:40000 > 192.0.2.2:22 [S]"-style description of a frame.
std::string frame_summary(std::span<const uint8_t> frame);

}  // namespace tapwall::control
