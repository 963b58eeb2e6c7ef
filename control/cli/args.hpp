// Args: a small, strict command-line reader for tapwall's subcommands.
// Purpose: every option is declared; an unknown option, a missing value or a repeated
// single-valued option is a usage error naming the option, never silently ignored.
// Thread-safety: single-threaded use.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tapwall::control {

class Args {
 public:
  // Declare options before parse(). `flag` takes no value; `multi` may repeat.
  void option(const std::string& name, bool multi = false) { spec_[name] = multi ? kMulti : kOne; }
  void flag(const std::string& name) { spec_[name] = kFlag; }
  // Parses argv[first..argc); on error returns false and sets error().
  bool parse(int argc, char** argv, int first);
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::optional<std::string> get(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
  const std::string& error() const { return error_; }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  enum Kind { kFlag, kOne, kMulti };
  std::map<std::string, Kind> spec_;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
  std::string error_;
};

// A whole decimal number in [0, max]: no sign, no trailing characters (std::stoul took
// "-1" as a huge count and "8x" as 8).
std::optional<uint64_t> parse_count(std::string_view s, uint64_t max);

}  // namespace tapwall::control
