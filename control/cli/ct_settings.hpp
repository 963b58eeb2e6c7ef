// Conntrack settings by the kernel's sysctl names: `--ct nf_conntrack_tcp_loose=0`.
// Purpose: a user replacing br0 tunes conntrack with the names (and units) they already
// set under net.netfilter.*, and tapwall applies the same value to the same behaviour.
// Invariants: a setting is applied only if its whole value parses and is in range; an
// unknown name, or a kernel setting tapwall does not implement, is an error naming it,
// never ignored. Timeouts are seconds, as the kernel's.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tapwall/conntrack.hpp"

namespace tapwall::control {

// Applies one "NAME=VALUE" (NAME with or without the "net.netfilter." prefix; spaces around
// '=' allowed, as a sysctl.conf line has them) to `cfg`.
// Returns "" on success, else what is wrong with it.
std::string apply_ct_setting(std::string_view assignment, CtConfig& cfg);

// Applies each in order (a later one wins); the first error is returned, prefixed with
// the assignment it came from.
std::string apply_ct_settings(const std::vector<std::string>& assignments, CtConfig& cfg);

}  // namespace tapwall::control
