// RuleTable (see rule_table.hpp). Tables are small (tens to thousands of rules) and built
// once per load, so plain vectors and linear scans keep this obviously correct.
#include "rule_table.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "rule_equal.hpp"
#include "values.hpp"

namespace tapwall::control {
namespace {

constexpr size_t kMaxChainName = 28;  // XT_EXTENSION_MAXNAMELEN - 1

bool is_jump(const Rule& r) { return r.target == TargetKind::Jump || r.target == TargetKind::Goto; }

}  // namespace

RuleTable::RuleTable(const std::string& path, Family family, int builtin_policy_line) {
  set_.family = family;
  set_.path = path;
  for (const char* name : {"INPUT", "FORWARD", "OUTPUT"}) {
    Chain c;
    c.name = name;
    c.builtin = true;
    c.policy = PolicyVerdict::Accept;
    c.policy_loc = SourceLoc{path, builtin_policy_line};
    set_.chains.push_back(std::move(c));
  }
}

ConfigError RuleTable::error(const Token& t, std::string msg) const {
  return ConfigError{set_.path, t.line, t.column, t.text, std::move(msg)};
}

const Chain* RuleTable::find(std::string_view name) const {
  for (const auto& c : set_.chains)
    if (c.name == name) return &c;
  return nullptr;
}

Chain* RuleTable::find_mutable(std::string_view name) { return const_cast<Chain*>(find(name)); }

std::optional<ConfigError> RuleTable::existing(const Token& chain, Chain*& out) {
  out = find_mutable(chain.text);
  if (!out) return error(chain, "no chain named '" + chain.text + "' (create it with -N first)");
  return std::nullopt;
}

// Depth-first over jump edges, each chain visited once (diamonds of jumps stay linear).
bool RuleTable::reaches(const std::string& from, const std::string& to) const {
  std::vector<const std::string*> stack{&from};
  std::vector<const Chain*> seen;
  while (!stack.empty()) {
    const std::string& name = *stack.back();
    stack.pop_back();
    if (name == to) return true;
    const Chain* c = find(name);
    if (!c || std::find(seen.begin(), seen.end(), c) != seen.end()) continue;
    seen.push_back(c);
    for (const auto& r : c->rules)
      if (is_jump(r)) stack.push_back(&r.jump_chain);
  }
  return false;
}

std::optional<ConfigError> RuleTable::new_chain(const Token& name) {
  const std::string& n = name.text;
  if (n.empty()) return error(name, "empty chain name");
  if (n.size() > kMaxChainName) return error(name, "chain name longer than 28 characters");
  if (n[0] == '-' || n[0] == '!') return error(name, "chain name may not start with '" + n.substr(0, 1) + "'");
  if (n.find_first_of(" \t\n") != std::string::npos) return error(name, "chain name contains whitespace");
  if (is_target_name(n)) return error(name, "chain name may not clash with target name '" + n + "'");
  if (find(n)) return error(name, "chain '" + n + "' already exists");
  Chain c;
  c.name = n;
  c.policy_loc = SourceLoc{set_.path, name.line};
  set_.chains.push_back(std::move(c));
  return std::nullopt;
}

std::optional<ConfigError> RuleTable::set_policy(const Token& chain, const Token& verdict, int line) {
  Chain* c = nullptr;
  if (auto e = existing(chain, c)) return e;
  if (!c->builtin) return error(chain, "cannot set a policy on user-defined chain '" + chain.text + "'");
  if (verdict.text == "ACCEPT") c->policy = PolicyVerdict::Accept;
  else if (verdict.text == "DROP") c->policy = PolicyVerdict::Drop;
  else return error(verdict, "bad policy '" + verdict.text + "' (ACCEPT or DROP)");
  c->policy_loc = SourceLoc{set_.path, line};
  return std::nullopt;
}

std::optional<ConfigError> RuleTable::flush(const Token* chain) {
  if (!chain) {
    for (auto& c : set_.chains) c.rules.clear();
    return std::nullopt;
  }
  Chain* c = nullptr;
  if (auto e = existing(*chain, c)) return e;
  c->rules.clear();
  return std::nullopt;
}

std::optional<ConfigError> RuleTable::delete_chain(const Token* chain, const Token& cmd) {
  std::vector<std::string> victims;
  if (chain) {
    Chain* c = nullptr;
    if (auto e = existing(*chain, c)) return e;
    if (c->builtin) return error(*chain, "cannot delete built-in chain '" + chain->text + "'");
    victims.push_back(c->name);
  } else {
    for (const auto& c : set_.chains)
      if (!c.builtin) victims.push_back(c.name);
  }
  const Token& at = chain ? *chain : cmd;
  // Check all before deleting any, so a failure leaves the table as it was.
  for (const auto& v : victims) {
    const Chain* c = find(v);
    if (!c->rules.empty()) return error(at, "chain '" + v + "' is not empty; flush it first (-F " + v + ")");
    for (const auto& other : set_.chains)
      for (const auto& r : other.rules)
        if (is_jump(r) && r.jump_chain == v)
          return error(at, "chain '" + v + "' is still referenced by a rule in '" + other.name +
                               "' at " + r.loc.to_string());
  }
  std::erase_if(set_.chains, [&](const Chain& c) {
    return std::find(victims.begin(), victims.end(), c.name) != victims.end();
  });
  return std::nullopt;
}

std::optional<ConfigError> RuleTable::add(const Token& chain, std::optional<size_t> position,
                                          const Token* position_tok, const ParsedRule& parsed) {
  Chain* c = nullptr;
  if (auto e = existing(chain, c)) return e;
  if (parsed.chain_target) {
    const Token& t = *parsed.chain_target;
    const Chain* target = find(t.text);
    if (!target) return error(t, "no chain or supported target named '" + t.text + "'");
    if (target->builtin) return error(t, "cannot jump to built-in chain '" + t.text + "'");
    if (reaches(t.text, c->name))
      return error(t, "jump from '" + c->name + "' to '" + t.text + "' creates a loop ('" + t.text +
                          "' leads back to '" + c->name + "')");
  }
  size_t at = c->rules.size();
  if (position) {
    if (*position < 1) return error(*position_tok, "rule positions start at 1");
    if (*position > c->rules.size() + 1)
      return error(*position_tok, "index of insertion too big (chain '" + c->name + "' has " +
                                      std::to_string(c->rules.size()) + " rules)");
    at = *position - 1;
  }
  c->rules.insert(c->rules.begin() + std::ptrdiff_t(at), parsed.rules.begin(), parsed.rules.end());
  return std::nullopt;
}

std::optional<ConfigError> RuleTable::delete_rule_at(const Token& chain, const Token& number) {
  Chain* c = nullptr;
  if (auto e = existing(chain, c)) return e;
  auto n = parse_uint(number.text, 1, UINT32_MAX);
  if (failed(n)) return error(number, "bad rule number: " + std::get<std::string>(n));
  const uint32_t index = std::get<uint32_t>(n);
  if (index > c->rules.size())
    return error(number, "index of deletion too big (chain '" + c->name + "' has " +
                             std::to_string(c->rules.size()) + " rules)");
  c->rules.erase(c->rules.begin() + std::ptrdiff_t(index - 1));
  return std::nullopt;
}

std::optional<ConfigError> RuleTable::delete_matching(const Token& chain, const ParsedRule& spec,
                                                      const Token& cmd) {
  Chain* c = nullptr;
  if (auto e = existing(chain, c)) return e;
  std::vector<Rule> kept = c->rules;
  for (const auto& want : spec.rules) {
    auto it = std::find_if(kept.begin(), kept.end(), [&](const Rule& r) { return same_rule(r, want); });
    if (it == kept.end())
      return error(cmd, "no rule in '" + c->name + "' matches the rule to delete");
    kept.erase(it);
  }
  c->rules = std::move(kept);
  return std::nullopt;
}

RuleSet RuleTable::take() && { return std::move(set_); }

}  // namespace tapwall::control
