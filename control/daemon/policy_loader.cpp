// Policy loading: parse both families, then compile once.
#include "tapwall/policy_loader.hpp"

#include <set>

#include "tapwall/rules_parser.hpp"

namespace tapwall::control {

std::variant<std::shared_ptr<const CompiledPolicy>, ConfigError> load_policy(
    const PolicyFiles& files, const std::vector<PortDesc>& ports, uint64_t generation) {
  constexpr std::size_t kMaxIfName = 15;  // IFNAMSIZ - 1
  if (files.bridge_name.empty() || files.bridge_name.size() > kMaxIfName)
    return ConfigError{"--bridge-name", 0, 0, files.bridge_name,
                       "the bridge's name must be 1 to 15 characters, as an interface name"};
  std::optional<RuleSet> v4, v6;
  if (!files.rules4.empty()) {
    auto r = load_rules_file(files.rules4, Family::Ipv4);
    if (auto* e = std::get_if<ConfigError>(&r)) return *e;
    v4 = std::move(std::get<RuleSet>(r));
  }
  if (!files.rules6.empty()) {
    auto r = load_rules_file(files.rules6, Family::Ipv6);
    if (auto* e = std::get_if<ConfigError>(&r)) return *e;
    v6 = std::move(std::get<RuleSet>(r));
  }
  return CompiledPolicy::compile(v4 ? &*v4 : nullptr, v6 ? &*v6 : nullptr, ports, generation,
                                 files.bridge_name);
}

std::variant<std::vector<PortDesc>, std::string> make_port_list(
    const std::vector<std::string>& uplinks, const std::vector<std::string>& vms,
    const std::vector<std::string>& hosts) {
  std::vector<PortDesc> ports;
  std::set<std::string> seen;
  auto add = [&](const std::vector<std::string>& names, PortRole role) -> std::string {
    for (const auto& n : names) {
      if (n.empty()) return "empty port name";
      if (!seen.insert(n).second) return "port " + n + " given twice";
      ports.push_back({n, role});
    }
    return {};
  };
  for (auto [names, role] : {std::pair{&uplinks, PortRole::Uplink}, std::pair{&vms, PortRole::Vm},
                             std::pair{&hosts, PortRole::Host}}) {
    if (auto err = add(*names, role); !err.empty()) return err;
  }
  if (ports.size() > kMaxPorts)
    return "at most " + std::to_string(kMaxPorts) + " ports are supported";
  return ports;
}

}  // namespace tapwall::control
