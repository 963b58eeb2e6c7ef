// Rule specification parser: the tokens after `-A CHAIN` (or `-I CHAIN [N]`, `-D CHAIN`) —
// matches, match modules and their options, `!`, and the target — into Rule values.
// Invariants: every option is either understood exactly or rejected with the token it came
// from; matches appear in Rule::matches in the order written; option/protocol consistency
// is checked as iptables and the kernel would (e.g. --dport needs -p tcp or -p udp).
// Chain existence for -j/-g is NOT checked here (the table does that, it knows the chains).
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "lexer.hpp"
#include "tapwall/error.hpp"
#include "tapwall/rule_set.hpp"

namespace tapwall::control {

struct ParsedRule {
  // Usually one rule; iptables turns `-s a,b -d c,d` into one rule per address pair, in
  // that order, and so does this parser.
  std::vector<Rule> rules;
  std::optional<Token> chain_target;  // the -j/-g argument when it names a chain
};

struct RuleSpecContext {
  const std::string& path;
  Family family;
  SourceLoc loc;     // where the command starts
  std::string text;  // Rule::text
};

std::variant<ParsedRule, ConfigError> parse_rule_spec(std::span<const Token> tokens,
                                                      const RuleSpecContext& ctx);

// True for the names -j accepts as built-in targets (ACCEPT, DROP, ...), or known iptables
// targets tapwall does not support: such names can never be chain names.
bool is_target_name(std::string_view name);

}  // namespace tapwall::control
