// Text forms of MAC and IP addresses (RFC 5952 for IPv6, dotted quad for IPv4-mapped).
#include "tapwall/net_types.hpp"

#include <gtest/gtest.h>

#include "frame_builder.hpp"

namespace tapwall {
namespace {

using namespace test;

TEST(NetTypes, MacToString) {
  EXPECT_EQ(mac(0x02, 0x0a, 0xbc, 0xde, 0xf0, 0x01).to_string(), "02:0a:bc:de:f0:01");
  EXPECT_EQ(MacAddr{}.to_string(), "00:00:00:00:00:00");
  EXPECT_EQ(mac(0xff, 0xff, 0xff, 0xff, 0xff, 0xff).to_string(), "ff:ff:ff:ff:ff:ff");
}

TEST(NetTypes, Ipv4MappedPrintsDottedQuad) {
  EXPECT_EQ(ip4(192, 168, 1, 254).to_string(), "192.168.1.254");
  EXPECT_EQ(ip4(0, 0, 0, 0).to_string(), "0.0.0.0");
  EXPECT_EQ(IpAddr::from_v4_host(0x0a000001).to_string(), "10.0.0.1");
  EXPECT_EQ(ip6("::ffff:1.2.3.4").to_string(), "1.2.3.4");
}

TEST(NetTypes, Ipv6Rfc5952) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"::", "::"},
      {"::1", "::1"},
      {"1::", "1::"},
      {"2001:DB8::ABCD", "2001:db8::abcd"},                        // lowercase
      {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},  // no leading zeros
      {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},               // tie: first run
      {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},                     // longest run wins
      {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},            // a single zero is not "::"
      {"fe80::1:2", "fe80::1:2"},
      {"ff02::1:ff00:2", "ff02::1:ff00:2"},
      {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
      {"::ffff:0:1.2.3.4", "::ffff:0:102:304"},  // not IPv4-mapped: plain hex groups
  };
  for (const Case& c : cases) EXPECT_EQ(ip6(c.in).to_string(), c.out) << c.in;
}

}  // namespace
}  // namespace tapwall
