// One iptables command — `-A CHAIN rule`, `-I CHAIN [N] rule`, `-D CHAIN N|rule`, `-N`, `-F`,
// `-X`, `-P`, `-Z`/`-L`/`-S` (no effect on the table) — parsed and applied to a RuleTable.
// Shared by the save-file reader (rule lines inside *filter) and the script reader (the
// arguments after `iptables`), so both formats accept and reject the same things.
// Invariants: an error leaves the table unchanged; a script command for another table
// (`-t nat`) is skipped without effect.
// Thread-safety: not thread-safe (mutates the table).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "lexer.hpp"
#include "rule_table.hpp"
#include "tapwall/error.hpp"

namespace tapwall::control {

enum class SourceFormat : uint8_t { Save, Script };

struct CommandContext {
  const std::string& path;
  std::string_view src;  // the whole source, for Rule::text
  Family family;
  SourceFormat format;
};

// args: the command's tokens (after the program name in scripts). line: where the command
// starts. text_begin: byte offset where Rule::text starts (npos: at the -A/-I token).
std::optional<ConfigError> run_command(std::span<const Token> args, int line, size_t text_begin,
                                       RuleTable& table, const CommandContext& ctx);

}  // namespace tapwall::control
