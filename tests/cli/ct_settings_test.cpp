// --ct NAME=VALUE: kernel sysctl names reach the conntrack config they stand for, and
// anything else is refused with the reason, changing nothing.
#include "../../control/cli/ct_settings.hpp"

#include <gtest/gtest.h>

namespace tapwall::control {
namespace {

TEST(CtSettings, EveryKindSetsItsField) {
  CtConfig c;
  EXPECT_EQ(apply_ct_settings({"nf_conntrack_max=1000", "nf_conntrack_tcp_loose=0",
                               "nf_conntrack_tcp_be_liberal=1", "nf_conntrack_checksum=0",
                               "nf_conntrack_udp_timeout=5",
                               "net.netfilter.nf_conntrack_tcp_timeout_established=7200"},
                              c),
            "");
  EXPECT_EQ(c.capacity, 1000u);
  EXPECT_FALSE(c.tcp_loose);
  EXPECT_TRUE(c.tcp_be_liberal);
  EXPECT_FALSE(c.checksum);
  EXPECT_EQ(c.timeouts.udp, 5u);
  EXPECT_EQ(c.timeouts.tcp_established, 7200u);
}

TEST(CtSettings, EachTimeoutNameSetsItsOwnTimeout) {
  const std::pair<const char*, uint32_t CtTimeouts::*> names[] = {
      {"nf_conntrack_tcp_timeout_syn_sent", &CtTimeouts::tcp_syn_sent},
      {"nf_conntrack_tcp_timeout_syn_recv", &CtTimeouts::tcp_syn_recv},
      {"nf_conntrack_tcp_timeout_established", &CtTimeouts::tcp_established},
      {"nf_conntrack_tcp_timeout_fin_wait", &CtTimeouts::tcp_fin_wait},
      {"nf_conntrack_tcp_timeout_close_wait", &CtTimeouts::tcp_close_wait},
      {"nf_conntrack_tcp_timeout_last_ack", &CtTimeouts::tcp_last_ack},
      {"nf_conntrack_tcp_timeout_time_wait", &CtTimeouts::tcp_time_wait},
      {"nf_conntrack_tcp_timeout_close", &CtTimeouts::tcp_close},
      {"nf_conntrack_tcp_timeout_max_retrans", &CtTimeouts::tcp_max_retrans},
      {"nf_conntrack_tcp_timeout_unacknowledged", &CtTimeouts::tcp_unacknowledged},
      {"nf_conntrack_udp_timeout", &CtTimeouts::udp},
      {"nf_conntrack_udp_timeout_stream", &CtTimeouts::udp_stream},
      {"nf_conntrack_icmp_timeout", &CtTimeouts::icmp},
      {"nf_conntrack_icmpv6_timeout", &CtTimeouts::icmpv6},
      {"nf_conntrack_generic_timeout", &CtTimeouts::generic},
  };
  for (const auto& [name, field] : names) {
    CtConfig c;
    const CtTimeouts before = c.timeouts;
    ASSERT_EQ(apply_ct_setting(std::string(name) + "=4242", c), "") << name;
    EXPECT_EQ(c.timeouts.*field, 4242u) << name;
    // ...and no other timeout.
    for (const auto& [other, f2] : names) {
      if (f2 != field) {
        EXPECT_EQ(c.timeouts.*f2, before.*f2) << name << " changed " << other;
      }
    }
  }
}

TEST(CtSettings, ASysctlConfLineIsAccepted) {
  CtConfig c;
  EXPECT_EQ(apply_ct_setting("net.netfilter.nf_conntrack_max = 131072", c), "");
  EXPECT_EQ(c.capacity, 131072u);
  EXPECT_EQ(apply_ct_setting("nf_conntrack_udp_timeout =\t10", c), "");
  EXPECT_EQ(c.timeouts.udp, 10u);
}

TEST(CtSettings, BadValuesAreRefusedAndChangeNothing) {
  for (const char* bad :
       {"nf_conntrack_max=0", "nf_conntrack_max=-1", "nf_conntrack_max=67108865",
        "nf_conntrack_max=10x", "nf_conntrack_max=", "nf_conntrack_tcp_loose=2",
        "nf_conntrack_tcp_loose=yes", "nf_conntrack_udp_timeout=2147483648",
        "nf_conntrack_udp_timeout=5s", "=5", " = 5", "nf_conntrack_max"}) {
    CtConfig c;
    const std::string err = apply_ct_setting(bad, c);
    EXPECT_FALSE(err.empty()) << bad;
    EXPECT_EQ(c.capacity, CtConfig{}.capacity) << bad;
    EXPECT_EQ(c.tcp_loose, CtConfig{}.tcp_loose) << bad;
    EXPECT_EQ(c.timeouts.udp, CtTimeouts{}.udp) << bad;
  }
}

TEST(CtSettings, NamesTapwallDoesNotImplementAreRefusedNotIgnored) {
  CtConfig c;
  const std::string kernel_only = apply_ct_setting("nf_conntrack_tcp_ignore_invalid_rst=1", c);
  EXPECT_NE(kernel_only.find("not a setting tapwall implements"), std::string::npos);
  EXPECT_NE(kernel_only.find("nf_conntrack_tcp_be_liberal"), std::string::npos);  // the list
  EXPECT_NE(apply_ct_setting("net.ipv4.ip_forward=1", c).find("unknown setting"),
            std::string::npos);
  // A list stops at its first bad entry and names it.
  const std::string err = apply_ct_settings({"nf_conntrack_max=5", "nf_conntrack_bogus=1"}, c);
  EXPECT_EQ(err.rfind("--ct nf_conntrack_bogus=1: ", 0), 0u) << err;
}

}  // namespace
}  // namespace tapwall::control
