// Rules parser: reads the filter table of an iptables-save / ip6tables-save file, or an
// iptables / ip6tables command script (one command per line, as the seed's firewall script),
// into a RuleSet.
// Invariants: an option that is not supported is an error, never ignored; on success the
// RuleSet satisfies the invariants in rule_set.hpp. Errors name path:line:column and token.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "tapwall/error.hpp"
#include "tapwall/rule_set.hpp"

namespace tapwall {

// Parse text (the content of `path`); the format (save file or script) is detected.
std::variant<RuleSet, ConfigError> parse_rules(std::string_view text, const std::string& path,
                                               Family family);

// Read and parse a file.
std::variant<RuleSet, ConfigError> load_rules_file(const std::string& path, Family family);

}  // namespace tapwall
