// RuleTable: the evolving filter table while a rules source is applied command by command
// (-N, -A, -I, -D, -F, -X, -P), validated as the kernel validates each change.
// Invariants (hold after every successful call): INPUT, FORWARD, OUTPUT exist first, in that
// order, then user chains in creation order; every Jump/Goto names an existing user chain;
// no chain reaches itself through jumps; a deleted chain was empty and unreferenced.
// A failed call leaves the table unchanged and returns an error located at a token.
// Thread-safety: not thread-safe; one parse owns one table.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "lexer.hpp"
#include "rule_spec.hpp"
#include "tapwall/error.hpp"
#include "tapwall/rule_set.hpp"

namespace tapwall::control {

class RuleTable {
 public:
  // builtin_policy_line: where the built-in policies start out (the `*filter` line of a save
  // file; 0 for a script, where nothing sets them until -P).
  RuleTable(const std::string& path, Family family, int builtin_policy_line);

  const Chain* find(std::string_view name) const;

  std::optional<ConfigError> new_chain(const Token& name);
  std::optional<ConfigError> set_policy(const Token& chain, const Token& verdict, int line);
  std::optional<ConfigError> flush(const Token* chain);                        // null: all chains
  std::optional<ConfigError> delete_chain(const Token* chain, const Token& cmd);  // null: all user chains
  // position: 1-based insert position (iptables -I), or nullopt to append.
  std::optional<ConfigError> add(const Token& chain, std::optional<size_t> position,
                                 const Token* position_tok, const ParsedRule& parsed);
  std::optional<ConfigError> delete_rule_at(const Token& chain, const Token& number);
  std::optional<ConfigError> delete_matching(const Token& chain, const ParsedRule& spec, const Token& cmd);

  // A rule or DROP policy of another table (see SkippedTable): counted, not applied.
  void note_skipped(const std::string& table, int line, bool drop_policy) {
    count_skipped(set_.skipped, table, line, drop_policy);
  }

  RuleSet take() &&;

 private:
  Chain* find_mutable(std::string_view name);
  bool reaches(const std::string& from, const std::string& to) const;
  ConfigError error(const Token& t, std::string msg) const;
  std::optional<ConfigError> existing(const Token& chain, Chain*& out);

  RuleSet set_;
};

}  // namespace tapwall::control
