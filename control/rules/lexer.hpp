// Lexer for rules sources: splits an iptables-save file into lines of tokens, or an iptables
// command script into shell commands of tokens.
// Invariants: every Token records the 1-based line and column (in UTF-8 code points) where its
// raw text starts and its byte span in the source, so errors and Rule::text can point back at
// what the user wrote. Quote removal and escapes follow sh (scripts) or iptables-restore (save
// files); a script never expands anything: `$`/backquotes are flagged, never evaluated.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tapwall/error.hpp"

namespace tapwall::control {

struct Token {
  std::string text;           // after quote removal and escapes
  int line = 0;               // 1-based physical line of the first raw character
  int column = 0;             // 1-based, counted in UTF-8 code points
  size_t begin = 0, end = 0;  // byte span of the raw token in the source
  bool quoted = false;        // some part was quoted or escaped: never an operator
  bool expansion = false;     // contained `$` or a backquote that sh would expand
  bool op = false;            // a shell operator (| & < > ( ) and doubles); scripts only
};

// One save-file line, or one shell command (newline, `;` and `&&` separate commands).
struct Command {
  std::vector<Token> tokens;  // never empty
  int line() const { return tokens.front().line; }
};

enum class LexMode : uint8_t {
  Save,    // iptables-restore: whole-line `#` comments, quotes, backslash escapes any char
  Script,  // sh: inline comments, `\` continuation, `;` and `&&`, operators as tokens
};

std::variant<std::vector<Command>, ConfigError> lex(std::string_view src, const std::string& path,
                                                    LexMode mode);

}  // namespace tapwall::control
