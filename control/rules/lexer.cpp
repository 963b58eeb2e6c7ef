// Lexer for rules sources (see lexer.hpp). A single byte loop serves both modes; the modes
// differ only in which characters are special, so the positions they report agree.
#include "lexer.hpp"

#include <optional>

namespace tapwall::control {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
bool is_op_char(char c) { return c == ';' || c == '&' || c == '|' || c == '<' || c == '>' || c == '(' || c == ')'; }

class Lexer {
 public:
  Lexer(std::string_view src, const std::string& path, LexMode mode)
      : src_(src), path_(path), mode_(mode) {}

  std::optional<ConfigError> run(std::vector<Command>& out) {
    Command cur;
    auto finish = [&] {
      if (!cur.tokens.empty()) out.push_back(std::move(cur));
      cur = Command{};
    };
    while (!done()) {
      const char c = at(0);
      if (c == '\n') {
        advance();
        finish();
      } else if (is_blank(c)) {
        advance();
      } else if (c == '#' && (script() || cur.tokens.empty())) {
        // sh: `#` opens a comment at a word start; restore: only as a line's first token.
        while (!done() && at(0) != '\n') advance();
      } else if (script() && c == '\\' && at(1) == '\n') {
        advance();
        advance();
      } else if (script() && is_op_char(c)) {
        Token t = start_token();
        t.op = true;
        t.text.push_back(c);
        advance();
        if ((c == '&' || c == '|' || c == '>' || c == ';') && at(0) == c) {
          t.text.push_back(c);
          advance();
        }
        t.end = pos_;
        if (t.text == ";" || t.text == "&&") {
          finish();
        } else {
          cur.tokens.push_back(std::move(t));
        }
      } else {
        Token t = start_token();
        if (auto err = word(t)) return err;
        cur.tokens.push_back(std::move(t));
      }
    }
    finish();
    return std::nullopt;
  }

 private:
  bool script() const { return mode_ == LexMode::Script; }
  bool done() const { return pos_ >= src_.size(); }
  char at(size_t k) const { return pos_ + k < src_.size() ? src_[pos_ + k] : '\0'; }

  void advance() {
    const auto c = static_cast<unsigned char>(src_[pos_++]);
    if (c == '\n') {
      ++line_;
      column_ = 1;
    } else if (pos_ >= src_.size() || (static_cast<unsigned char>(src_[pos_]) & 0xC0) != 0x80) {
      ++column_;  // only the last byte of a code point moves the column
    }
  }

  Token start_token() const {
    Token t;
    t.line = line_;
    t.column = column_;
    t.begin = pos_;
    return t;
  }

  ConfigError unterminated(int line, int column, char quote) const {
    return ConfigError{path_, line, column, std::string(1, quote),
                       "unterminated quote: no closing " + std::string(1, quote)};
  }

  // Consumes one word (with its quoted parts) into t.
  std::optional<ConfigError> word(Token& t) {
    while (!done()) {
      const char c = at(0);
      if (is_blank(c) || c == '\n') break;
      if (script() && is_op_char(c)) break;
      if (c == '\\') {
        if (at(1) == '\n') {
          if (!script()) {  // restore has no continuation: a literal trailing backslash
            t.text.push_back(c);
            advance();
            continue;
          }
          advance();
          advance();
          continue;
        }
        if (pos_ + 1 < src_.size()) {
          advance();
          t.text.push_back(at(0));
          t.quoted = true;
          advance();
          continue;
        }
        t.text.push_back(c);
        advance();
        continue;
      }
      if (c == '\'' || c == '"') {
        const int qline = line_, qcol = column_;
        advance();
        t.quoted = true;
        while (true) {
          if (done() || (!script() && at(0) == '\n')) return unterminated(qline, qcol, c);
          const char d = at(0);
          if (d == c) {
            advance();
            break;
          }
          if (c == '"' && d == '\\') {
            const char e = at(1);
            const bool sh_escape = e == '$' || e == '`' || e == '"' || e == '\\' || e == '\n';
            if (script() ? sh_escape : (e != '\0' && e != '\n')) {
              advance();
              if (e != '\n') t.text.push_back(e);
              advance();
              continue;
            }
          }
          if (script() && c == '"' && (d == '$' || d == '`')) t.expansion = true;
          t.text.push_back(d);
          advance();
        }
        continue;
      }
      if (script() && (c == '$' || c == '`')) t.expansion = true;
      t.text.push_back(c);
      advance();
    }
    t.end = pos_;
    return std::nullopt;
  }

  std::string_view src_;
  const std::string& path_;
  LexMode mode_;
  size_t pos_ = 0;
  int line_ = 1;
  int column_ = 1;
};

}  // namespace

std::variant<std::vector<Command>, ConfigError> lex(std::string_view src, const std::string& path,
                                                    LexMode mode) {
  std::vector<Command> out;
  Lexer lexer(src, path, mode);
  if (auto err = lexer.run(out)) return *err;
  return out;
}

}  // namespace tapwall::control
