// Malformed input is an error value, never a crash or an out-of-bounds read (run under
// ASan/UBSan): prefixes of the real fixtures, and deterministic byte mutations of them,
// parse to a RuleSet or to a ConfigError that points inside the input.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "describe.hpp"

namespace tapwall::rules_test {
namespace {

std::string read(const std::string& name) {
  std::ifstream in(fixture(name), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int line_count(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')) + 1; }

void expect_sane(const std::string& text, Family f) {
  auto r = parse_rules(text, "m.rules", f);
  if (auto* e = std::get_if<ConfigError>(&r)) {
    EXPECT_GE(e->line, 0);
    EXPECT_LE(e->line, line_count(text)) << e->to_string();
    EXPECT_GE(e->column, 0);
    EXPECT_FALSE(e->message.empty());
    EXPECT_EQ(e->path, "m.rules");
  }
}

TEST(Robustness, PrefixesOfTheFixturesParseOrError) {
  for (const auto& [name, fam] : {std::pair{"rich-firewall.sh", Family::Ipv4}, std::pair{"rich.rules.v4", Family::Ipv4},
                                  std::pair{"rich.rules.v6", Family::Ipv6}, std::pair{"seed-firewall.sh", Family::Ipv4}}) {
    const std::string text = read(name);
    ASSERT_FALSE(text.empty()) << name;
    // Every cut inside the first 256 bytes, then one in every 7 (co-prime with line lengths).
    for (size_t n = 0; n <= text.size(); n += n < 256 ? 1 : 7) expect_sane(text.substr(0, n), fam);
  }
}

TEST(Robustness, MutatedFixturesParseOrError) {
  const std::string alphabet = " \t\n\\\"'!#:;,/-+*[]0123456789abcdefxyzACDEFGIMNOPRSTUX$`|&>\r\xe6\x97\xa5";
  std::mt19937 rng(12345);
  for (const auto& [name, fam] : {std::pair{"rich-firewall.sh", Family::Ipv4}, std::pair{"rich.rules.v6", Family::Ipv6}}) {
    const std::string base = read(name);
    for (int iter = 0; iter < 500; ++iter) {
      std::string t = base;
      const int edits = 1 + int(rng() % 4);
      for (int k = 0; k < edits; ++k) {
        const size_t pos = rng() % t.size();
        switch (rng() % 3) {
          case 0: t[pos] = alphabet[rng() % alphabet.size()]; break;
          case 1: t.erase(pos, 1 + rng() % 8); break;
          default: t.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
        }
        if (t.empty()) t = "x";
      }
      expect_sane(t, fam);
    }
  }
}

}  // namespace
}  // namespace tapwall::rules_test
