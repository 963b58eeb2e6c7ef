// Conntrack settings by sysctl name (see ct_settings.hpp).
#include "ct_settings.hpp"

#include <cstdint>

#include "args.hpp"

namespace tapwall::control {

namespace {

enum class Kind { Entries, Switch, Seconds };

struct Setting {
  const char* name;                        // without "net.netfilter."
  Kind kind;
  uint32_t CtTimeouts::* timeout = nullptr;  // Kind::Seconds
  bool CtConfig::* flag = nullptr;           // Kind::Switch
};

// One row per kernel setting tapwall implements (Kind::Entries is CtConfig::capacity).
const Setting kSettings[] = {
    {"nf_conntrack_max", Kind::Entries},
    {"nf_conntrack_tcp_loose", Kind::Switch, nullptr, &CtConfig::tcp_loose},
    {"nf_conntrack_tcp_be_liberal", Kind::Switch, nullptr, &CtConfig::tcp_be_liberal},
    {"nf_conntrack_checksum", Kind::Switch, nullptr, &CtConfig::checksum},
    {"nf_conntrack_tcp_timeout_syn_sent", Kind::Seconds, &CtTimeouts::tcp_syn_sent},
    {"nf_conntrack_tcp_timeout_syn_recv", Kind::Seconds, &CtTimeouts::tcp_syn_recv},
    {"nf_conntrack_tcp_timeout_established", Kind::Seconds, &CtTimeouts::tcp_established},
    {"nf_conntrack_tcp_timeout_fin_wait", Kind::Seconds, &CtTimeouts::tcp_fin_wait},
    {"nf_conntrack_tcp_timeout_close_wait", Kind::Seconds, &CtTimeouts::tcp_close_wait},
    {"nf_conntrack_tcp_timeout_last_ack", Kind::Seconds, &CtTimeouts::tcp_last_ack},
    {"nf_conntrack_tcp_timeout_time_wait", Kind::Seconds, &CtTimeouts::tcp_time_wait},
    {"nf_conntrack_tcp_timeout_close", Kind::Seconds, &CtTimeouts::tcp_close},
    {"nf_conntrack_tcp_timeout_max_retrans", Kind::Seconds, &CtTimeouts::tcp_max_retrans},
    {"nf_conntrack_tcp_timeout_unacknowledged", Kind::Seconds, &CtTimeouts::tcp_unacknowledged},
    {"nf_conntrack_udp_timeout", Kind::Seconds, &CtTimeouts::udp},
    {"nf_conntrack_udp_timeout_stream", Kind::Seconds, &CtTimeouts::udp_stream},
    {"nf_conntrack_icmp_timeout", Kind::Seconds, &CtTimeouts::icmp},
    {"nf_conntrack_icmpv6_timeout", Kind::Seconds, &CtTimeouts::icmpv6},
    {"nf_conntrack_generic_timeout", Kind::Seconds, &CtTimeouts::generic},
};

// 2^26 entries take about 12 GB (176 bytes each); the table's 32-bit entry ids would
// allow 2^32 - 1.
constexpr uint32_t kMaxEntries = uint32_t{1} << 26;
constexpr uint32_t kMaxSeconds = 0x7fffffff;  // the kernel's sysctl is an int

// sysctl.conf writes "name = value": the spaces around '=' are not part of either.
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view strip_prefix(std::string_view name) {
  constexpr std::string_view kPrefix = "net.netfilter.";
  if (name.substr(0, kPrefix.size()) == kPrefix) name.remove_prefix(kPrefix.size());
  return name;
}

bool parse_u32(std::string_view s, uint32_t max, uint32_t& out) {
  const auto v = parse_count(s, max);
  if (v) out = uint32_t(*v);
  return v.has_value();
}

std::string supported_list() {
  std::string s;
  for (const Setting& st : kSettings) s += std::string(s.empty() ? "" : ", ") + st.name;
  return s;
}

}  // namespace

std::string apply_ct_setting(std::string_view assignment, CtConfig& cfg) {
  const auto eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return "expected NAME=VALUE (a net.netfilter.nf_conntrack_* sysctl)";
  const std::string_view name = strip_prefix(trim(assignment.substr(0, eq)));
  const std::string_view value = trim(assignment.substr(eq + 1));
  for (const Setting& st : kSettings) {
    if (name != st.name) continue;
    uint32_t v = 0;
    switch (st.kind) {
      case Kind::Entries:
        if (!parse_u32(value, kMaxEntries, v) || v == 0)
          return std::string(name) + " takes a number of entries, 1.." +
                 std::to_string(kMaxEntries) + " (tapwall's table has a fixed size: 0, "
                 "the kernel's 'no limit', is not possible)";
        cfg.capacity = v;
        return "";
      case Kind::Switch:
        if (!parse_u32(value, 1, v)) return std::string(name) + " takes 0 or 1";
        cfg.*st.flag = v != 0;
        return "";
      case Kind::Seconds:
        if (!parse_u32(value, kMaxSeconds, v))
          return std::string(name) + " takes seconds, 0.." + std::to_string(kMaxSeconds);
        cfg.timeouts.*st.timeout = v;
        return "";
    }
  }
  constexpr std::string_view kKernelFamily = "nf_conntrack_";
  if (name.substr(0, kKernelFamily.size()) == kKernelFamily)
    return std::string(name) + " is not a setting tapwall implements (it has: " +
           supported_list() + ")";
  return "unknown setting " + std::string(name) + " (tapwall has: " + supported_list() + ")";
}

std::string apply_ct_settings(const std::vector<std::string>& assignments, CtConfig& cfg) {
  for (const std::string& a : assignments)
    if (std::string err = apply_ct_setting(a, cfg); !err.empty()) return "--ct " + a + ": " + err;
  return "";
}

}  // namespace tapwall::control
