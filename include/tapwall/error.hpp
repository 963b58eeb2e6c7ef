// ConfigError: what went wrong in a configuration input, located to file:line:column.
// Purpose: every config path (rules files, command line) reports errors as values, never by
// exception across module boundaries, and names the offending token.
// Thread-safety: plain value.
#pragma once

#include <string>

namespace tapwall {

struct ConfigError {
  std::string path;
  int line = 0;    // 1-based; 0 when not tied to a line
  int column = 0;  // 1-based; 0 when not tied to a column
  std::string token;
  std::string message;
  // Valid iptables that tapwall does not implement (a match, option or target), as opposed
  // to input iptables itself would refuse.
  bool unsupported = false;
  // "path:line:column: message (at 'token')"
  std::string to_string() const {
    std::string s = path;
    if (line > 0) s += ":" + std::to_string(line);
    if (column > 0) s += ":" + std::to_string(column);
    s += ": " + message;
    if (!token.empty()) s += " (at '" + token + "')";
    return s;
  }
};

}  // namespace tapwall
