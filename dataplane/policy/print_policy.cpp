// CompiledPolicy::print: the compiled chains with counters, in the spirit of
// `iptables -L -v -n`, plus each rule's id (the id verdicts and drop comments name) and
// its source location. Counters are read relaxed: a listing taken while workers run is a
// snapshot per counter, not across counters.
// Thread-safety: const; safe while workers judge.
#include <cstdio>

#include "policy_impl.hpp"

namespace tapwall {

namespace {

// What a table is for, as a reminder of what the kernel would do with a bridged frame.
const char* table_effect(const std::string& table) {
  if (table == "nat") return "it translates addresses";
  if (table == "mangle") return "it changes packets and marks";
  if (table == "raw") return "NOTRACK there makes frames UNTRACKED";
  return "it sets security marks";
}

std::string counted(int n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::vector<std::string> family_warnings(const std::optional<RuleSet>& rules) {
  std::vector<std::string> out;
  if (!rules) return out;
  for (const SkippedTable& t : rules->skipped)
    out.push_back(rules->path + ":" + std::to_string(t.first_line) + ": " +
                  (t.rules ? counted(t.rules, "rule", "rules") : "") +
                  (t.rules && t.drop_policies ? " and " : "") +
                  (t.drop_policies ? counted(t.drop_policies, "DROP policy", "DROP policies") : "") + " of the " +
                  t.name + " table not applied: tapwall applies only the filter table, while " +
                  "br_netfilter runs the " + t.name + " table for bridged frames too (" +
                  table_effect(t.name) + ")");
  return out;
}

}  // namespace

std::vector<std::string> CompiledPolicy::warnings() const {
  std::vector<std::string> out = family_warnings(impl_->rules[0]);
  for (std::string& w : family_warnings(impl_->rules[1])) out.push_back(std::move(w));
  return out;
}


void CompiledPolicy::print(std::ostream& os) const {
  const Impl& im = *impl_;
  char line[128];
  for (int f = 0; f < 2; ++f) {
    os << "# " << (f == 0 ? "IPv4" : "IPv6") << ": ";
    if (!im.has[f]) {
      os << "not filtered\n";
      continue;
    }
    os << im.path[f] << " (generation " << im.generation << ")\n";
    for (const std::string& w : family_warnings(im.rules[f])) os << "# warning: " << w << "\n";
    for (const policy::PrintChain& pc : im.print_chains[f]) {
      os << "Chain " << pc.name;
      if (pc.builtin) {
        const RuleCounter& c = im.counters[std::size_t(pc.policy_id)];
        os << " (policy " << (pc.policy == PolicyVerdict::Accept ? "ACCEPT" : "DROP") << " "
           << c.packets.load(std::memory_order_relaxed) << " packets, "
           << c.bytes.load(std::memory_order_relaxed) << " bytes; id " << pc.policy_id << ")\n";
      } else {
        os << " (" << pc.references << " references)\n";
      }
      std::snprintf(line, sizeof line, "%6s %10s %12s %-12s %s\n", "id", "pkts", "bytes",
                    "target", "rule");
      os << line;
      for (std::size_t k = 0; k < pc.rules.size(); ++k) {
        const int32_t id = pc.rules[k];
        const RuleInfo& info = im.infos[std::size_t(id)];
        const RuleCounter& c = im.counters[std::size_t(id)];
        std::snprintf(line, sizeof line, "%6d %10llu %12llu %-12s ", id,
                      (unsigned long long)c.packets.load(std::memory_order_relaxed),
                      (unsigned long long)c.bytes.load(std::memory_order_relaxed),
                      pc.targets[k].c_str());
        os << line << info.text << "  [" << info.loc.to_string() << "]\n";
      }
      os << "\n";
    }
  }
}

}  // namespace tapwall
