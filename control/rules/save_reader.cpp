// iptables-save reader (see readers.hpp).
#include <optional>

#include "command.hpp"
#include "lexer.hpp"
#include "readers.hpp"
#include "rule_table.hpp"

namespace tapwall::control {
namespace {

ConfigError token_error(const std::string& path, const Token& t, std::string msg) {
  return ConfigError{path, t.line, t.column, t.text, std::move(msg)};
}

bool is_counter(const std::string& s) {  // "[packets:bytes]"
  if (s.size() < 5 || s.front() != '[' || s.back() != ']') return false;
  const size_t colon = s.find(':');
  if (colon == std::string::npos || colon == 1 || colon == s.size() - 2) return false;
  for (size_t i = 1; i + 1 < s.size(); ++i)
    if (i != colon && (s[i] < '0' || s[i] > '9')) return false;
  return true;
}

// The part of a token after its first character, as a token of its own (":INPUT" -> "INPUT").
Token tail(const Token& t) {
  Token out = t;
  out.text = t.text.substr(1);
  out.column += 1;
  out.begin += 1;
  return out;
}

class SaveReader {
 public:
  SaveReader(std::string_view src, const std::string& path, Family family)
      : src_(src), path_(path), family_(family) {}

  std::variant<RuleSet, ConfigError> run() {
    auto lexed = lex(src_, path_, LexMode::Save);
    if (auto* e = std::get_if<ConfigError>(&lexed)) return *e;
    for (const auto& cmd : std::get<std::vector<Command>>(lexed))
      if (auto e = line(cmd)) return *e;
    if (open_)
      return token_error(path_, *open_, "table " + open_->text + " is not closed by COMMIT before the end of the file");
    if (!table_) return ConfigError{path_, 0, 0, "", "no *filter table in the file"};
    RuleSet set = std::move(*table_).take();
    set.skipped = std::move(skipped_);
    return set;
  }

 private:
  std::optional<ConfigError> line(const Command& cmd) {
    const auto& toks = cmd.tokens;
    const Token& first = toks.front();
    if (!first.quoted && first.text.starts_with("*")) return open_table(cmd);
    if (!first.quoted && first.text == "COMMIT") {
      if (!open_) return token_error(path_, first, "COMMIT outside a table");
      if (toks.size() > 1) return token_error(path_, toks[1], "unexpected argument after COMMIT");
      open_.reset();
      in_filter_ = false;
      return std::nullopt;
    }
    if (!open_) return token_error(path_, first, "line outside a table (expected a *filter line first)");
    if (!in_filter_) {  // another table's content: skipped (see readers.hpp), its rules counted
      note_skipped(cmd);
      return std::nullopt;
    }
    if (!first.quoted && first.text.starts_with(":")) return declare_chain(cmd);
    const size_t skip = is_counter(first.text) ? 1 : 0;
    if (skip == toks.size()) return token_error(path_, first, "counters without a rule");
    const CommandContext ctx{path_, src_, family_, SourceFormat::Save};
    return run_command(std::span<const Token>(toks.data() + skip, toks.size() - skip), cmd.line(),
                       first.begin, *table_, ctx);
  }

  std::optional<ConfigError> open_table(const Command& cmd) {
    const Token& t = cmd.tokens.front();
    if (open_) return token_error(path_, t, "table " + t.text + " starts before COMMIT of " + open_->text);
    if (cmd.tokens.size() > 1) return token_error(path_, cmd.tokens[1], "unexpected argument after " + t.text);
    const std::string name = t.text.substr(1);
    if (name == "filter") {
      if (table_) return token_error(path_, t, "second *filter table in one file");
      table_.emplace(path_, family_, t.line);
      in_filter_ = true;
    } else if (name != "nat" && name != "mangle" && name != "raw" && name != "security") {
      return token_error(path_, t, "unknown table '" + name + "'");
    }
    open_ = t;
    return std::nullopt;
  }

  // A rule (-A, -I: "[p:b] -A ...") or a DROP policy (":NAME DROP [p:b]") of another table.
  void note_skipped(const Command& cmd) {
    const auto& toks = cmd.tokens;
    const std::string table = open_->text.substr(1);
    const Token& first = toks.front();
    const size_t at = is_counter(first.text) && toks.size() > 1 ? 1 : 0;
    const std::string& word = toks[at].text;
    const bool rule = word == "-A" || word == "--append" || word == "-I" || word == "--insert";
    const bool drop_policy = first.text.starts_with(":") && toks.size() > 1 && toks[1].text == "DROP";
    if (rule || drop_policy) count_skipped(skipped_, table, cmd.line(), drop_policy);
  }

  // ":NAME POLICY [packets:bytes]"; POLICY is ACCEPT/DROP for built-ins, "-" for user chains.
  std::optional<ConfigError> declare_chain(const Command& cmd) {
    const auto& toks = cmd.tokens;
    const Token name = tail(toks.front());
    if (toks.size() < 2) return token_error(path_, toks.front(), "chain line without a policy");
    if (toks.size() > 3) return token_error(path_, toks[3], "unexpected argument '" + toks[3].text + "'");
    if (toks.size() == 3 && !is_counter(toks[2].text))
      return token_error(path_, toks[2], "bad counters '" + toks[2].text + "' (expected [packets:bytes])");
    const Token& policy = toks[1];
    const Chain* existing = table_->find(name.text);
    if (existing && existing->builtin) {
      if (policy.text == "-") return token_error(path_, policy, "built-in chain " + name.text + " needs a policy (ACCEPT or DROP)");
      return table_->set_policy(name, policy, cmd.line());
    }
    if (policy.text != "-") {
      if (!existing && (policy.text == "ACCEPT" || policy.text == "DROP"))
        return token_error(path_, policy, "user-defined chain '" + name.text + "' cannot have a policy (use '-')");
      if (!existing) return token_error(path_, policy, "bad policy '" + policy.text + "'");
    }
    return table_->new_chain(name);
  }

  std::string_view src_;
  const std::string& path_;
  Family family_;
  std::optional<RuleTable> table_;
  std::vector<SkippedTable> skipped_;  // the filter table may come after the others
  std::optional<Token> open_;  // the *table line of the table being read
  bool in_filter_ = false;
};

}  // namespace

std::variant<RuleSet, ConfigError> read_save_format(std::string_view src, const std::string& path, Family family) {
  return SaveReader(src, path, family).run();
}

}  // namespace tapwall::control
