// decode_frame() on IPv6: fixed header fields, extension-header chains, fragments
// (first/middle/last, atomic), No Next Header.
#include <gtest/gtest.h>

#include "frame_builder.hpp"
#include "tapwall/decoded.hpp"

namespace tapwall {
namespace {

using namespace test;

TEST(DecodeIpv6, EveryL3FieldOfAPlainPacket) {
  Bytes f =
      FrameBuilder{}
          .ipv6({.src = ip6("fe80::1"), .dst = ip6("2001:db8:1::ff"), .hop_limit = 255})
          .tcp({.sport = 443, .dport = 51000, .flags = kTcpAck | kTcpPsh, .payload = Bytes(5, 1)})
          .pad_to(100)
          .build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.l3, L3Kind::Ipv6);
  EXPECT_EQ(d.ethertype, kEthTypeIpv6);
  EXPECT_EQ(d.src_ip, ip6("fe80::1"));
  EXPECT_EQ(d.dst_ip, ip6("2001:db8:1::ff"));
  EXPECT_FALSE(d.src_ip.is_v4_mapped());
  EXPECT_EQ(d.ttl, 255);
  EXPECT_EQ(d.ip_proto, kProtoTcp);
  EXPECT_EQ(d.l4_off, 54);
  EXPECT_EQ(d.ip_end, 54 + 20 + 5);  // padding excluded
  EXPECT_FALSE(d.is_fragment);
  EXPECT_EQ(d.frag_hdr_off, 0);
  EXPECT_EQ(d.frag_unfrag_len, 0);
  EXPECT_EQ(d.frag_id, 0u);
  EXPECT_FALSE(d.ipv4_has_options);
  EXPECT_TRUE(d.l4_ok);
  EXPECT_EQ(d.sport, 443);
  EXPECT_EQ(d.dport, 51000);
}

TEST(DecodeIpv6, ExtensionChainIsWalkedToUpperLayer) {
  // HbH (8) -> Routing (24) -> DestOpts (16) -> AH (16, length in 4-byte units) -> UDP.
  Ipv6Spec s;
  s.ext = {{0, Bytes(6, 0)},     // Hop-by-Hop, 8 bytes
           {43, Bytes(22, 0)},   // Routing, 24 bytes
           {60, Bytes(14, 0)},   // Destination Options, 16 bytes
           {51, Bytes(14, 0)}};  // AH: (2+14)/4-2 = 2 -> 16 bytes
  Bytes f = FrameBuilder{}.ipv6(s).udp({.sport = 9, .dport = 10}).build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.ip_proto, kProtoUdp);
  EXPECT_EQ(d.l4_off, 54 + 8 + 24 + 16 + 16);
  EXPECT_TRUE(d.l4_ok);
  EXPECT_EQ(d.sport, 9);
  EXPECT_EQ(d.dport, 10);
  EXPECT_FALSE(d.is_fragment);
}

TEST(DecodeIpv6, MobilityHeaderIsAnExtensionHeader) {
  Ipv6Spec s;
  s.ext = {{135, Bytes(6, 0)}};
  Bytes f = FrameBuilder{}.ipv6(s).udp().build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.ip_proto, kProtoUdp);
  EXPECT_EQ(d.l4_off, 54 + 8);
}

TEST(DecodeIpv6, EightExtensionHeadersAreAccepted) {
  Ipv6Spec s;
  for (int i = 0; i < 8; ++i) s.ext.push_back({60, {}});
  Bytes f = FrameBuilder{}.ipv6(s).udp().build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.l4_off, 54 + 64);
  EXPECT_TRUE(d.l4_ok);
}

TEST(DecodeIpv6, NoNextHeaderEndsChainWithoutL4) {
  Ipv6Spec s;
  s.ext = {{60, {}}};
  Bytes f = FrameBuilder{}.ipv6(s).raw(59, {}).build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.ip_proto, 59);
  EXPECT_FALSE(d.l4_ok);
  EXPECT_EQ(d.l4_off, 54 + 8);
}

TEST(DecodeIpv6, NoNextHeaderWithEmptyPayloadIsFine) {
  Bytes f = FrameBuilder{}.ipv6().raw(59, {}).pad_to(60).build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.ip_end, 54);
  EXPECT_FALSE(d.l4_ok);
}

// One UDP datagram (8 + 40 bytes) in fragments of 16/16/16, behind a Destination Options
// header in the unfragmentable part.
struct V6Frags {
  Bytes first, middle, last;
};
V6Frags make_v6_frags() {
  FrameBuilder b;
  b.ipv6().udp({.sport = 3000, .dport = 4000, .payload = Bytes(40, 0x11)});
  Bytes seg = b.l4();
  auto part = [&](std::size_t off, std::size_t len, bool more) {
    Ipv6Spec s;
    s.ext = {{60, {}}, ipv6_frag_ext(uint16_t(off), more, 0xdeadbeef)};
    return FrameBuilder{}
        .vlan(42)
        .ipv6(s)
        .raw(kProtoUdp, Bytes(seg.begin() + off, seg.begin() + off + len))
        .build();
  };
  return {part(0, 16, true), part(16, 16, true), part(32, 16, false)};
}

TEST(DecodeIpv6, FirstFragment) {
  V6Frags fr = make_v6_frags();
  Decoded d;
  ASSERT_EQ(decode_frame(fr.first, d), DropReason::None);
  EXPECT_TRUE(d.is_fragment);
  EXPECT_TRUE(d.more_fragments);
  EXPECT_EQ(d.frag_offset, 0);
  EXPECT_EQ(d.frag_id, 0xdeadbeefu);
  EXPECT_EQ(d.frag_hdr_off, 18 + 40 + 8);
  EXPECT_EQ(d.frag_unfrag_len, 40 + 8);
  EXPECT_EQ(d.ip_proto, kProtoUdp);
  EXPECT_EQ(d.l4_off, 18 + 40 + 8 + 8);
  EXPECT_TRUE(d.l4_ok);
  EXPECT_EQ(d.sport, 3000);
  EXPECT_EQ(d.dport, 4000);
}

TEST(DecodeIpv6, MiddleFragment) {
  V6Frags fr = make_v6_frags();
  Decoded d;
  ASSERT_EQ(decode_frame(fr.middle, d), DropReason::None);
  EXPECT_TRUE(d.is_fragment);
  EXPECT_TRUE(d.more_fragments);
  EXPECT_EQ(d.frag_offset, 16);
  EXPECT_EQ(d.frag_id, 0xdeadbeefu);
  EXPECT_EQ(d.frag_hdr_off, 18 + 48);
  EXPECT_EQ(d.frag_unfrag_len, 48);
  EXPECT_EQ(d.ip_proto, kProtoUdp);  // the Fragment header's next header
  EXPECT_EQ(d.l4_off, 18 + 48 + 8);  // start of the fragment data
  EXPECT_FALSE(d.l4_ok);
  EXPECT_EQ(d.sport, 0);
}

TEST(DecodeIpv6, LastFragment) {
  V6Frags fr = make_v6_frags();
  Decoded d;
  ASSERT_EQ(decode_frame(fr.last, d), DropReason::None);
  EXPECT_TRUE(d.is_fragment);
  EXPECT_FALSE(d.more_fragments);
  EXPECT_EQ(d.frag_offset, 32);
  EXPECT_FALSE(d.l4_ok);
  EXPECT_EQ(d.ip_end, 18 + 48 + 8 + 16);
}

TEST(DecodeIpv6, NonFirstFragmentDataIsNotParsedAsHeaders) {
  // Fragment data that looks like a truncated extension header must not be walked.
  Ipv6Spec s;
  s.ext = {ipv6_frag_ext(8, false, 1)};
  Bytes f = FrameBuilder{}.ipv6(s).raw(60, {0x2c, 0xff}).build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.ip_proto, 60);
  EXPECT_FALSE(d.l4_ok);
}

TEST(DecodeIpv6, AtomicFragmentIsAWholeDatagram) {
  Ipv6Spec s;
  s.ext = {ipv6_frag_ext(0, false, 99)};
  Bytes f = FrameBuilder{}.ipv6(s).tcp({.sport = 1, .dport = 2}).build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_FALSE(d.is_fragment);  // RFC 6946
  EXPECT_EQ(d.frag_hdr_off, 54);
  EXPECT_EQ(d.frag_unfrag_len, 40);
  EXPECT_EQ(d.frag_id, 99u);
  EXPECT_TRUE(d.l4_ok);
  EXPECT_EQ(d.dport, 2);
}

// The kernel's IPv6 defragmentation takes an atomic fragment's Fragment header off before
// its hooks count the packet (ip6tables byte counters on the lab's br0: 8 fewer a packet).
TEST(DecodeIpv6, AtomicFragmentIsCountedWithoutItsFragmentHeader) {
  Ipv6Spec s;
  s.ext = {ipv6_frag_ext(0, false, 99)};
  Bytes atomic = FrameBuilder{}.ipv6(s).tcp({.sport = 1, .dport = 2}).build();
  Bytes plain = FrameBuilder{}.ipv6().tcp({.sport = 1, .dport = 2}).build();
  Decoded a, p;
  ASSERT_EQ(decode_frame(atomic, a), DropReason::None);
  ASSERT_EQ(decode_frame(plain, p), DropReason::None);
  EXPECT_EQ(p.ip_end - p.l3_off, 40u + 20u);
  EXPECT_EQ(counted_ip_bytes(p), 40u + 20u);
  EXPECT_EQ(a.ip_end - a.l3_off, 40u + 8u + 20u);
  EXPECT_EQ(counted_ip_bytes(a), 40u + 20u);
}

TEST(DecodeIpv6, UnknownUpperLayerSucceedsWithoutL4) {
  Bytes f = FrameBuilder{}.ipv6().raw(132 /* SCTP */, Bytes(12, 0)).build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.ip_proto, 132);
  EXPECT_FALSE(d.l4_ok);
}

TEST(DecodeIpv6, IcmpV4NumberOverIpv6IsJustAnUnknownProtocol) {
  Bytes f = FrameBuilder{}.ipv6().raw(kProtoIcmp, {8}).build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_FALSE(d.l4_ok);
}

}  // namespace
}  // namespace tapwall
