// iptables command dispatch (see command.hpp).
#include "command.hpp"

#include <cstdint>
#include <vector>

#include "rule_spec.hpp"
#include "values.hpp"

namespace tapwall::control {
namespace {

ConfigError token_error(const CommandContext& ctx, const Token& t, std::string msg) {
  return ConfigError{ctx.path, t.line, t.column, t.text, std::move(msg)};
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

bool is_option(const Token& t) { return !t.text.empty() && t.text[0] == '-' && !t.quoted; }

// Rule::text: the source from `begin` to the end of the last token; tokens spread over
// continuation lines are joined with single spaces.
std::string rule_text(std::string_view src, size_t begin, std::span<const Token> toks) {
  const Token& last = toks.back();
  if (begin <= toks.front().begin && src.substr(begin, last.end - begin).find('\n') == std::string_view::npos)
    return std::string(src.substr(begin, last.end - begin));
  std::string out;
  for (const auto& t : toks) {
    if (!out.empty()) out.push_back(' ');
    out.append(src.substr(t.begin, t.end - t.begin));
  }
  return out;
}

enum class Cmd : uint8_t { Append, Insert, Delete, NewChain, Flush, DeleteChain, Policy, NoEffect };

std::optional<Cmd> command_of(const std::string& s) {
  if (s == "-A" || s == "--append") return Cmd::Append;
  if (s == "-I" || s == "--insert") return Cmd::Insert;
  if (s == "-D" || s == "--delete") return Cmd::Delete;
  if (s == "-N" || s == "--new-chain") return Cmd::NewChain;
  if (s == "-F" || s == "--flush") return Cmd::Flush;
  if (s == "-X" || s == "--delete-chain") return Cmd::DeleteChain;
  if (s == "-P" || s == "--policy") return Cmd::Policy;
  // Counters and listings do not change the rules.
  if (s == "-Z" || s == "--zero" || s == "-L" || s == "--list" || s == "-S" || s == "--list-rules")
    return Cmd::NoEffect;
  return std::nullopt;
}

// What a command for another table does that SkippedTable counts: adds a rule (-A, -I) or
// sets a DROP policy (-P). -N, -F, -X, -D and ACCEPT policies change no verdict.
enum class SkippedAddition : uint8_t { None, Rule, DropPolicy };
SkippedAddition skipped_addition(std::span<const Token> args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const Token& t = args[i];
    if (t.quoted) continue;
    if (t.text == "-A" || t.text == "--append" || t.text == "-I" || t.text == "--insert")
      return SkippedAddition::Rule;
    if ((t.text == "-P" || t.text == "--policy") && i + 2 < args.size() && args[i + 2].text == "DROP")
      return SkippedAddition::DropPolicy;
  }
  return SkippedAddition::None;
}

}  // namespace

std::optional<ConfigError> run_command(std::span<const Token> args_in, int line, size_t text_begin,
                                       RuleTable& table, const CommandContext& ctx) {
  // `-t TABLE` may sit anywhere among the options; pull it out first so that a rule for
  // another table is skipped before its (possibly NAT-only) options are judged.
  std::vector<Token> args;
  const Token* last = nullptr;
  for (size_t i = 0; i < args_in.size(); ++i) {
    const Token& t = args_in[i];
    const bool value_of_text_option =
        last && (last->text == "--comment" || last->text == "--log-prefix");
    last = &t;
    if ((t.text == "-t" || t.text == "--table") && !t.quoted && !value_of_text_option) {
      if (ctx.format == SourceFormat::Save)
        return token_error(ctx, t, "-t is not allowed in an iptables-save file (the *table line sets the table)");
      if (i + 1 >= args_in.size()) return token_error(ctx, t, "option -t requires a table name");
      const Token& name = args_in[++i];
      last = &name;
      if (name.text == "filter") continue;
      if (name.text == "nat" || name.text == "mangle" || name.text == "raw" || name.text == "security") {
        // Not the filter table: not applied, but a rule or DROP policy there is counted.
        const SkippedAddition what = skipped_addition(args_in);
        if (what != SkippedAddition::None)
          table.note_skipped(name.text, line, what == SkippedAddition::DropPolicy);
        return std::nullopt;
      }
      return token_error(ctx, name, "unknown table '" + name.text + "'");
    }
    args.push_back(t);
  }

  size_t i = 0;
  while (i < args.size() && (args[i].text == "-w" || args[i].text == "--wait" || args[i].text == "-v" ||
                             args[i].text == "--verbose")) {
    const bool wait = args[i].text == "-w" || args[i].text == "--wait";
    ++i;
    if (wait && i < args.size() && all_digits(args[i].text)) ++i;
  }
  if (i >= args.size()) {
    if (args_in.empty()) return ConfigError{ctx.path, line, 0, "", "missing iptables command"};
    return token_error(ctx, args_in.back(), "missing iptables command (-A, -I, -D, -N, -F, -X, -P)");
  }
  const size_t cmd_index = i;
  const Token& cmd_tok = args[i++];
  const auto cmd = command_of(cmd_tok.text);
  if (!cmd) {
    if (cmd_tok.text == "-R" || cmd_tok.text == "--replace" || cmd_tok.text == "-E" ||
        cmd_tok.text == "--rename-chain")
      return token_error(ctx, cmd_tok, "command " + cmd_tok.text + " is not supported");
    return token_error(ctx, cmd_tok, "expected an iptables command (-A, -I, -D, -N, -F, -X, -P), got '" +
                                         cmd_tok.text + "'");
  }
  if (*cmd == Cmd::NoEffect) return std::nullopt;

  // Optional chain argument (-F, -X) or required one (the rest).
  const Token* chain = (i < args.size() && !is_option(args[i])) ? &args[i] : nullptr;
  if (chain) ++i;
  const bool chain_optional = *cmd == Cmd::Flush || *cmd == Cmd::DeleteChain;
  if (!chain && !chain_optional) return token_error(ctx, cmd_tok, cmd_tok.text + " requires a chain name");
  auto no_more = [&]() -> std::optional<ConfigError> {
    if (i < args.size()) return token_error(ctx, args[i], "unexpected argument '" + args[i].text + "'");
    return std::nullopt;
  };

  switch (*cmd) {
    case Cmd::NewChain:
      if (auto e = no_more()) return e;
      return table.new_chain(*chain);
    case Cmd::Flush:
      if (auto e = no_more()) return e;
      return table.flush(chain);
    case Cmd::DeleteChain:
      if (auto e = no_more()) return e;
      return table.delete_chain(chain, cmd_tok);
    case Cmd::Policy: {
      if (i >= args.size()) return token_error(ctx, *chain, "-P requires a policy (ACCEPT or DROP)");
      const Token& verdict = args[i++];
      if (auto e = no_more()) return e;
      return table.set_policy(*chain, verdict, line);
    }
    case Cmd::Delete:
      if (i + 1 == args.size() && all_digits(args[i].text)) return table.delete_rule_at(*chain, args[i]);
      [[fallthrough]];
    case Cmd::Append:
    case Cmd::Insert: {
      std::optional<size_t> position;
      const Token* position_tok = nullptr;
      if (*cmd == Cmd::Insert) {
        position = 1;
        if (i < args.size() && all_digits(args[i].text)) {
          position_tok = &args[i];
          auto n = parse_uint(args[i].text, 0, UINT32_MAX);
          position = failed(n) ? SIZE_MAX : std::get<uint32_t>(n);
          ++i;
        } else {
          position_tok = &cmd_tok;
        }
      }
      const std::span<const Token> spec(args.data() + i, args.size() - i);
      const size_t begin = text_begin == std::string_view::npos ? cmd_tok.begin : text_begin;
      RuleSpecContext rctx{ctx.path, ctx.family, SourceLoc{ctx.path, line},
                           rule_text(ctx.src, begin,
                                     std::span<const Token>(args.data() + cmd_index, args.size() - cmd_index))};
      auto parsed = parse_rule_spec(spec, rctx);
      if (auto* e = std::get_if<ConfigError>(&parsed)) {
        // INPUT and OUTPUT never judge bridged frames: a host firewall's rules there may use
        // what tapwall does not implement (-m limit, -m owner, ...) and are kept as text.
        if (!e->unsupported || *cmd == Cmd::Delete || (chain->text != "INPUT" && chain->text != "OUTPUT"))
          return *e;
        Rule host;
        host.loc = rctx.loc;
        host.text = rctx.text;
        host.host_only = e->to_string();
        parsed = ParsedRule{{std::move(host)}, std::nullopt};
      }
      const auto& rule = std::get<ParsedRule>(parsed);
      if (*cmd == Cmd::Delete) return table.delete_matching(*chain, rule, cmd_tok);
      return table.add(*chain, position, position_tok, rule);
    }
    case Cmd::NoEffect:
      break;
  }
  return std::nullopt;
}

}  // namespace tapwall::control
