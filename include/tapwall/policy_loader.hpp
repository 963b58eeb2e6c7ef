// Policy loading shared by `check`, `replay`, `run` and reloads: read the IPv4 (and
// optionally IPv6) rules files, compile them against the bridge's port list.
// Invariants: on any error nothing is returned but the error (a caller keeps its old policy).
// Thread-safety: pure function of its inputs and the files.
#pragma once

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "tapwall/error.hpp"
#include "tapwall/policy.hpp"

namespace tapwall::control {

struct PolicyFiles {
  std::string rules4;  // empty: IPv4 unfiltered
  std::string rules6;  // empty: IPv6 unfiltered (the kernel's default without ip6tables rules)
  std::string bridge_name{kDefaultBridgeName};  // what -i / -o name (CompiledPolicy::compile)
};

std::variant<std::shared_ptr<const CompiledPolicy>, ConfigError> load_policy(
    const PolicyFiles& files, const std::vector<PortDesc>& ports, uint64_t generation);

// Port list from --uplink / --vm / --host-port, in that order (PortId = index).
// Returns an error message for duplicates or too many ports.
std::variant<std::vector<PortDesc>, std::string> make_port_list(
    const std::vector<std::string>& uplinks, const std::vector<std::string>& vms,
    const std::vector<std::string>& hosts);

}  // namespace tapwall::control
