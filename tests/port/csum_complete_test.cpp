// csum_complete tests: completing a virtio partial checksum (pseudo-header sum in the
// field) and recomputing from scratch both yield checksums an independent implementation
// verifies, for TCP/UDP over IPv4/IPv6 and VLAN-tagged frames.
#include "../../dataplane/port/csum_complete.hpp"

#include <gtest/gtest.h>

#include "test_frames.hpp"

namespace tapwall::port_detail {
namespace {

using test::build_frame;
using test::FrameSpec;

// Turn a finished frame into what a CHECKSUM_PARTIAL sender hands over: the field holds
// the (non-complemented, folded) pseudo-header sum.
void make_partial(test::Built& b, bool v6, bool udp) {
  const std::size_t at = b.l4 + (udp ? 6 : 16);
  const uint32_t l4_len = uint32_t(b.bytes.size() - b.l4);
  uint32_t s = test::pseudo_sum(b.bytes, b.l3, v6, udp ? 17 : 6, l4_len);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  test::wr16(&b.bytes[at], uint16_t(s));
}

class CsumComplete : public testing::TestWithParam<std::tuple<bool, bool, int>> {};

TEST_P(CsumComplete, PartialBecomesValid) {
  auto [v6, udp, vlan] = GetParam();
  FrameSpec s;
  s.v6 = v6;
  s.udp = udp;
  s.vlan = vlan;
  s.payload = 1001;  // odd: the last byte is padded
  auto b = build_frame(s);
  const auto good = b.bytes;
  make_partial(b, v6, udp);
  ASSERT_FALSE(test::checksums_ok(b.bytes, b.l3, v6, udp));
  ASSERT_TRUE(complete_partial_csum(b.bytes, uint32_t(b.l4), udp ? 6 : 16));
  EXPECT_TRUE(test::checksums_ok(b.bytes, b.l3, v6, udp));
  EXPECT_EQ(b.bytes, good);
}

TEST_P(CsumComplete, RecomputeIgnoresGarbage) {
  auto [v6, udp, vlan] = GetParam();
  FrameSpec s;
  s.v6 = v6;
  s.udp = udp;
  s.vlan = vlan;
  s.payload = 77;
  auto b = build_frame(s);
  b.bytes[b.l4 + (udp ? 6 : 16)] ^= 0xa5;
  ASSERT_TRUE(recompute_l4_csum(b.bytes));
  EXPECT_TRUE(test::checksums_ok(b.bytes, b.l3, v6, udp));
}

INSTANTIATE_TEST_SUITE_P(All, CsumComplete,
                         testing::Combine(testing::Bool(), testing::Bool(), testing::Values(-1, 5)));

TEST(CsumCompleteEdge, OutOfRangeOffsetsWriteNothing) {
  FrameSpec s;
  auto b = build_frame(s);
  const auto before = b.bytes;
  EXPECT_FALSE(complete_partial_csum(b.bytes, uint32_t(b.bytes.size()), 0));
  EXPECT_FALSE(complete_partial_csum(b.bytes, uint32_t(b.bytes.size() - 1), 0));
  EXPECT_FALSE(complete_partial_csum(b.bytes, uint32_t(b.l4), 60000));
  EXPECT_EQ(b.bytes, before);
}

TEST(CsumCompleteEdge, RecomputeRefusesFragmentsAndNonIp) {
  FrameSpec s;
  auto b = build_frame(s);
  b.bytes[b.l3 + 6] = 0x20;  // MF: the L4 checksum covers data we do not have
  EXPECT_FALSE(recompute_l4_csum(b.bytes));
  std::vector<uint8_t> arp(42, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_FALSE(recompute_l4_csum(arp));
}

TEST(CsumCompleteEdge, UdpZeroResultIsSentAsFfff) {
  // Search payloads until the UDP checksum computes to 0 (so it must be sent as 0xffff).
  for (int seed = 0; seed < 256 * 256; ++seed) {
    FrameSpec s;
    s.udp = true;
    s.payload = 2;
    auto b = build_frame(s);
    b.bytes[b.payload_off] = uint8_t(seed >> 8);
    b.bytes[b.payload_off + 1] = uint8_t(seed);
    test::wr16(&b.bytes[b.l4 + 6], 0);
    const uint32_t l4_len = uint32_t(b.bytes.size() - b.l4);
    if (test::naive_csum(&b.bytes[b.l4], l4_len, test::pseudo_sum(b.bytes, b.l3, false, 17, l4_len)) != 0)
      continue;
    ASSERT_TRUE(recompute_l4_csum(b.bytes));
    EXPECT_EQ(test::rd16(&b.bytes[b.l4 + 6]), 0xffff);
    return;
  }
  GTEST_SKIP() << "no payload gives a zero checksum";
}

}  // namespace
}  // namespace tapwall::port_detail
