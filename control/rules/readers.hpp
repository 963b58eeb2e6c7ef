// The two source formats' readers, behind parse_rules' format detection.
// Save: iptables-save / ip6tables-save. Only the *filter table is read; *nat, *mangle, *raw
// and *security blocks are skipped up to their COMMIT, their rules (and DROP policies)
// only counted in RuleSet::skipped: tapwall does no NAT, marking or notrack, and whoever
// loads the rules tells the user what the kernel would have applied (the same for a
// script's `-t nat` commands). Every table must end with COMMIT. The *filter table starts empty (built-in
// policies ACCEPT, as iptables-restore replaces the table); chains are declared by
// `:NAME POLICY [p:b]` lines (POLICY `-` for user chains) before rules use them.
// Script: lines of `iptables ...` / `ip6tables ...` commands as sh would run them (quotes,
// `\` continuation, comments, `;` and `&&` between commands), applied in order to a table
// that starts empty; `iptables-save ...` lines are ignored; any other command is an error.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "tapwall/error.hpp"
#include "tapwall/rule_set.hpp"

namespace tapwall::control {

std::variant<RuleSet, ConfigError> read_save_format(std::string_view src, const std::string& path, Family family);
std::variant<RuleSet, ConfigError> read_script(std::string_view src, const std::string& path, Family family);

}  // namespace tapwall::control
