// parse_rules / load_rules_file (see tapwall/rules_parser.hpp): format detection and file
// reading. Format: the first line that is neither blank nor a `#` comment decides — `*`,
// `:`, `[` (counters), `-A` or COMMIT at its start means an iptables-save file; a first word
// naming iptables/ip6tables (any path, -legacy/-nft variants) means a command script.
// An input with no such line is an error: an empty policy would silently accept everything.
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "readers.hpp"
#include "tapwall/rules_parser.hpp"

namespace tapwall {
namespace {

int column_of(std::string_view line, size_t byte) {
  int col = 1;
  for (size_t i = 0; i < byte; ++i)
    if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80) ++col;
  return col;
}

}  // namespace

std::variant<RuleSet, ConfigError> parse_rules(std::string_view text, const std::string& path, Family family) {
  int line_no = 0;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t nl = text.find('\n', start);
    const std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    ++line_no;
    const size_t first = line.find_first_not_of(" \t\r");
    if (first != std::string_view::npos && line[first] != '#') {
      const std::string_view rest = line.substr(first);
      if (first == 0 && (rest[0] == '*' || rest[0] == ':' || rest[0] == '[' || rest.starts_with("-A ") ||
                         rest.starts_with("COMMIT")))
        return control::read_save_format(text, path, family);
      const std::string_view word = rest.substr(0, rest.find_first_of(" \t\r;"));
      if (word.ends_with("iptables") || word.ends_with("ip6tables") || word.ends_with("tables-legacy") ||
          word.ends_with("tables-nft"))
        return control::read_script(text, path, family);
      return ConfigError{path, line_no, column_of(line, first), std::string(word),
                         "cannot tell the format: expected an iptables-save file (*filter, :CHAIN, -A, "
                         "COMMIT) or an iptables command script (iptables -A ...)"};
    }
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return ConfigError{path, 0, 0, "", "no rules in the file (it is empty or only comments)"};
}

std::variant<RuleSet, ConfigError> load_rules_file(const std::string& path, Family family) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return ConfigError{path, 0, 0, "", std::string("cannot open: ") + std::strerror(errno)};
  std::string text;
  char buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  const bool bad = std::ferror(f);
  const int err = errno;
  std::fclose(f);
  if (bad) return ConfigError{path, 0, 0, "", std::string("cannot read: ") + std::strerror(err)};
  return parse_rules(text, path, family);
}

}  // namespace tapwall
