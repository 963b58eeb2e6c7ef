// Text forms of MAC and IP addresses, for logs, the CLI, verdict JSON and test messages.
// Invariants: IPv6 text is RFC 5952 canonical (lowercase, no leading zeros, the longest run
// of two or more zero groups — the first on a tie — compressed to "::"); an IPv4-mapped
// address prints as a dotted quad, since that is how tapwall stores IPv4.
// Thread-safety: pure functions. Not on the per-packet path (allocates a string).
#include "tapwall/net_types.hpp"

#include <cstdio>

namespace tapwall {

std::string MacAddr::to_string() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4],
                b[5]);
  return buf;
}

std::string IpAddr::to_string() const {
  char buf[48];
  if (is_v4_mapped()) {
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", b[12], b[13], b[14], b[15]);
    return buf;
  }
  uint16_t g[8];
  for (int i = 0; i < 8; ++i) g[i] = load_be16(&b[2 * i]);
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) best = -1;  // RFC 5952 §4.2.2: a single zero group is not compressed
  std::string s;
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      s += "::";
      i += best_len - 1;
      continue;
    }
    if (!s.empty() && s.back() != ':') s += ':';
    std::snprintf(buf, sizeof buf, "%x", g[i]);
    s += buf;
  }
  return s;
}

}  // namespace tapwall
