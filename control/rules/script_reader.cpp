// iptables command-script reader (see readers.hpp).
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

std::string_view basename(std::string_view s) {
  const size_t slash = s.rfind('/');
  return slash == std::string_view::npos ? s : s.substr(slash + 1);
}

enum class Program : uint8_t { Iptables, Ip6tables, Save, Other };

Program program_of(std::string_view word) {
  const auto b = basename(word);
  for (auto v : {"iptables", "iptables-legacy", "iptables-nft"})
    if (b == v) return Program::Iptables;
  for (auto v : {"ip6tables", "ip6tables-legacy", "ip6tables-nft"})
    if (b == v) return Program::Ip6tables;
  for (auto v : {"iptables-save", "ip6tables-save", "iptables-legacy-save", "iptables-nft-save",
                 "ip6tables-legacy-save", "ip6tables-nft-save"})
    if (b == v) return Program::Save;
  return Program::Other;
}

}  // namespace

std::variant<RuleSet, ConfigError> read_script(std::string_view src, const std::string& path, Family family) {
  auto lexed = lex(src, path, LexMode::Script);
  if (auto* e = std::get_if<ConfigError>(&lexed)) return *e;
  RuleTable table(path, family, 0);
  const CommandContext ctx{path, src, family, SourceFormat::Script};
  for (const auto& cmd : std::get<std::vector<Command>>(lexed)) {
    const Token& prog = cmd.tokens.front();
    if (prog.op) return token_error(path, prog, "unexpected shell operator '" + prog.text + "'");
    if (prog.expansion) return token_error(path, prog, "shell expansion ($VAR, `cmd`) is not supported");
    const Program p = program_of(prog.text);
    if (p == Program::Save) continue;  // `iptables-save > FILE`: saving changes nothing
    if (p == Program::Other)
      return token_error(path, prog, "'" + prog.text + "' is not an iptables command; a rules script may "
                                     "contain only iptables/ip6tables commands, comments and iptables-save");
    const Family cmd_family = p == Program::Iptables ? Family::Ipv4 : Family::Ipv6;
    if (cmd_family != family)
      return token_error(path, prog, prog.text + (family == Family::Ipv4 ? " command in an IPv4 (iptables) rules file"
                                                                          : " command in an IPv6 (ip6tables) rules file"));
    for (const auto& t : cmd.tokens) {
      if (t.op) return token_error(path, t, "shell operator '" + t.text + "' is not supported");
      if (t.expansion) return token_error(path, t, "shell expansion ($VAR, `cmd`) is not supported");
    }
    const std::span<const Token> args(cmd.tokens.data() + 1, cmd.tokens.size() - 1);
    if (auto e = run_command(args, cmd.line(), std::string_view::npos, table, ctx)) return *e;
  }
  return std::move(table).take();
}

}  // namespace tapwall::control
