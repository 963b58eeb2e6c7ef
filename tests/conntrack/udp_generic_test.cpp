// UDP and generic tracking: NEW until a reply, ESTABLISHED both ways after; the 30 s
// unreplied timeout, 120 s + ASSURED only once replied and alive for more than 2 s;
// length/checksum validity; generic protocols keyed by addresses + protocol, 600 s.
#include <gtest/gtest.h>

#include "ct_test_util.hpp"

namespace tapwall::test {
namespace {

const IpAddr kA = v4(192, 168, 1, 10), kB = v4(192, 168, 1, 20);

uint64_t expires_in(const Conntrack& ct, uint64_t now, const IpAddr& src, uint8_t proto,
                    uint16_t sport) {
  const EntryInfo e = find_entry(ct, now, src, proto, sport);
  EXPECT_TRUE(e.found);
  return e.v.expires_in_ns;
}

TEST(Udp, NewUntilReplyThenEstablishedBothWays) {
  Conntrack ct(test_cfg());
  const uint64_t t = 10 * kSec;
  const CtResult r1 = ct.track(udp(kA, kB, 5000, 53).d, udp(kA, kB, 5000, 53).span(), t);
  EXPECT_EQ(r1.state, CtState::New);
  EXPECT_TRUE(r1.pending);
  EXPECT_FALSE(r1.reply);
  ct.confirm(r1, true);
  const CtResult r2 = pass(ct, udp(kA, kB, 5000, 53), t);
  EXPECT_EQ(r2.state, CtState::New);
  EXPECT_FALSE(r2.pending);
  EXPECT_EQ(r2.entry, r1.entry);
  const CtResult r3 = pass(ct, udp(kB, kA, 53, 5000), t);
  EXPECT_EQ(r3.state, CtState::Established);
  EXPECT_TRUE(r3.reply);
  EXPECT_EQ(r3.entry, r1.entry);
  EXPECT_EQ(pass(ct, udp(kA, kB, 5000, 53), t).state, CtState::Established);
  // Another source port is another flow.
  EXPECT_EQ(pass(ct, udp(kA, kB, 5001, 53), t).state, CtState::New);
  EXPECT_EQ(ct.size(), 2u);
}

TEST(Udp, UnrepliedExpiresAfter30s) {
  Conntrack ct(test_cfg());
  const uint64_t t0 = 10 * kSec;
  pass(ct, udp(kA, kB, 5000, 53), t0);
  EXPECT_TRUE(find_entry(ct, t0 + 30 * kSec - 1, kA, kProtoUdp, 5000).found);
  EXPECT_FALSE(find_entry(ct, t0 + 30 * kSec, kA, kProtoUdp, 5000).found);
  // A reply arriving at the boundary finds nothing: it starts its own (NEW) flow.
  const CtResult r = pass(ct, udp(kB, kA, 53, 5000), t0 + 30 * kSec);
  EXPECT_EQ(r.state, CtState::New);
  EXPECT_EQ(ct.stats().expired, 1u);
}

TEST(Udp, ReplyWithinTwoSecondsKeepsShortTimeout) {
  Conntrack ct(test_cfg());
  const uint64_t t0 = 10 * kSec;
  pass(ct, udp(kA, kB, 5000, 53), t0);
  pass(ct, udp(kB, kA, 53, 5000), t0 + 1 * kSec);
  EXPECT_EQ(expires_in(ct, t0 + 1 * kSec, kA, kProtoUdp, 5000), 30 * kSec);
  // Exactly 2 s after the first packet is not yet "more than 2 s".
  pass(ct, udp(kA, kB, 5000, 53), t0 + 2 * kSec);
  EXPECT_EQ(expires_in(ct, t0 + 2 * kSec, kA, kProtoUdp, 5000), 30 * kSec);
  EXPECT_FALSE(find_entry(ct, t0 + 2 * kSec, kA, kProtoUdp, 5000).v.assured);
  // One nanosecond later it is a stream: 120 s and assured.
  pass(ct, udp(kA, kB, 5000, 53), t0 + 2 * kSec + 1);
  EXPECT_EQ(expires_in(ct, t0 + 2 * kSec + 1, kA, kProtoUdp, 5000), 120 * kSec);
  EXPECT_TRUE(find_entry(ct, t0 + 2 * kSec + 1, kA, kProtoUdp, 5000).v.assured);
  const uint64_t t1 = t0 + 2 * kSec + 1;
  EXPECT_TRUE(find_entry(ct, t1 + 120 * kSec - 1, kA, kProtoUdp, 5000).found);
  EXPECT_FALSE(find_entry(ct, t1 + 120 * kSec, kA, kProtoUdp, 5000).found);
}

TEST(Udp, FirstReplyItselfUsesUnrepliedTimeout) {
  // The kernel marks "seen reply" only after the reply is processed.
  Conntrack ct(test_cfg());
  const uint64_t t0 = 10 * kSec;
  pass(ct, udp(kA, kB, 5000, 53), t0);
  pass(ct, udp(kB, kA, 53, 5000), t0 + 5 * kSec);
  EXPECT_EQ(expires_in(ct, t0 + 5 * kSec, kA, kProtoUdp, 5000), 30 * kSec);
  EXPECT_FALSE(find_entry(ct, t0 + 5 * kSec, kA, kProtoUdp, 5000).v.assured);
  pass(ct, udp(kB, kA, 53, 5000), t0 + 6 * kSec);
  EXPECT_EQ(expires_in(ct, t0 + 6 * kSec, kA, kProtoUdp, 5000), 120 * kSec);
  EXPECT_TRUE(find_entry(ct, t0 + 6 * kSec, kA, kProtoUdp, 5000).v.assured);
}

TEST(Udp, BadChecksumIsInvalidUnlessPartialOrDisabled) {
  Pkt p = udp(kA, kB, 5000, 53);
  p.frame[p.d.l4_off + 10] ^= 0x40;  // payload byte
  {
    Conntrack ct(test_cfg());
    EXPECT_EQ(ct.track(p.d, p.span(), kSec).state, CtState::Invalid);
    EXPECT_EQ(ct.size(), 0u);
    const CtResult r = ct.track(p.d, p.span(), kSec, /*csum_partial=*/true);
    EXPECT_EQ(r.state, CtState::New);
  }
  {
    CtConfig cfg = test_cfg();
    cfg.checksum = false;
    Conntrack ct(cfg);
    EXPECT_EQ(ct.track(p.d, p.span(), kSec).state, CtState::New);
  }
}

TEST(Udp, ZeroChecksumIsNotChecked) {
  for (bool is4 : {true, false}) {
    Pkt p = is4 ? udp(kA, kB, 5000, 53) : udp(v6(1), v6(2), 5000, 53);
    p.frame[p.d.l4_off + 6] = p.frame[p.d.l4_off + 7] = 0;
    p.frame[p.d.l4_off + 10] ^= 0x40;
    Conntrack ct(test_cfg());
    EXPECT_EQ(ct.track(p.d, p.span(), kSec).state, CtState::New);
  }
}

TEST(Udp, BadLengthFieldIsInvalid) {
  for (uint16_t len : {uint16_t(7), uint16_t(100)}) {
    Pkt p = udp(kA, kB, 5000, 53, 16);
    p.frame[p.d.l4_off + 4] = uint8_t(len >> 8);
    p.frame[p.d.l4_off + 5] = uint8_t(len);
    Conntrack ct(test_cfg());
    EXPECT_EQ(ct.track(p.d, p.span(), kSec, true).state, CtState::Invalid) << len;
  }
}

TEST(Udp, Ipv6FlowTracked) {
  Conntrack ct(test_cfg());
  EXPECT_EQ(pass(ct, udp(v6(1), v6(2), 5000, 53), kSec).state, CtState::New);
  EXPECT_EQ(pass(ct, udp(v6(2), v6(1), 53, 5000), kSec).state, CtState::Established);
  // The same ports between IPv4 addresses are a different flow.
  EXPECT_EQ(pass(ct, udp(kB, kA, 53, 5000), kSec).state, CtState::New);
}

TEST(Generic, KeyedByAddressesAndProtocolWith600sTimeout) {
  Conntrack ct(test_cfg());
  const uint64_t t0 = 5 * kSec;
  const uint8_t kGre = 47;
  EXPECT_EQ(pass(ct, raw_ip(kA, kB, kGre), t0).state, CtState::New);
  EXPECT_EQ(pass(ct, raw_ip(kA, kB, kGre), t0).state, CtState::New);
  EXPECT_EQ(pass(ct, raw_ip(kB, kA, kGre), t0).state, CtState::Established);
  EXPECT_EQ(pass(ct, raw_ip(kA, kB, kGre), t0).state, CtState::Established);
  EXPECT_EQ(pass(ct, raw_ip(kA, kB, 50), t0).state, CtState::New);  // another protocol
  EXPECT_EQ(ct.size(), 2u);
  EXPECT_TRUE(find_entry(ct, t0 + 600 * kSec - 1, kA, kGre, 0).found);
  EXPECT_FALSE(find_entry(ct, t0 + 600 * kSec, kA, kGre, 0).found);
}

TEST(NotIp, ArpAndOtherFramesHaveNoCtState) {
  Conntrack ct(test_cfg());
  Decoded d;
  d.l3 = L3Kind::Arp;
  const CtResult r = ct.track(d, {}, kSec);
  EXPECT_EQ(r.state, CtState::None);
  EXPECT_EQ(r.entry, kNoCtEntry);
  EXPECT_EQ(ct.stats().invalid, 0u);
}

TEST(Fragments, AFragmentIsInvalid) {
  Conntrack ct(test_cfg());
  Pkt p = udp(kA, kB, 5000, 53);
  p.d.is_fragment = true;
  p.d.more_fragments = true;
  EXPECT_EQ(ct.track(p.d, p.span(), kSec).state, CtState::Invalid);
  EXPECT_EQ(ct.size(), 0u);
}

}  // namespace
}  // namespace tapwall::test
