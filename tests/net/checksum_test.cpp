// Internet checksum helpers against published values and an independent 16-bit reference
// (frame_builder.hpp's ref_checksum), and L4 checksum verify/fill on built frames.
#include "tapwall/checksum.hpp"

#include <gtest/gtest.h>

#include <random>

#include "frame_builder.hpp"
#include "tapwall/decoded.hpp"

namespace tapwall {
namespace {

using namespace test;

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 §3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
  const Bytes b = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(inet_sum(b), 0xddf2);
  EXPECT_EQ(inet_checksum(b), 0x220d);
}

// A widely published IPv4 header whose checksum is b861.
const Bytes kKnownIpv4Header = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};

TEST(Checksum, KnownIpv4Header) {
  Bytes h = kKnownIpv4Header;
  EXPECT_TRUE(ipv4_header_checksum_ok(h));
  EXPECT_EQ(inet_checksum(h), 0);
  h[10] = h[11] = 0;
  EXPECT_EQ(inet_checksum(h), 0xb861);
  EXPECT_FALSE(ipv4_header_checksum_ok(h));
}

TEST(Checksum, Ipv4HeaderCheckUsesIhlAndRejectsShortSpans) {
  Bytes h = kKnownIpv4Header;
  Bytes with_payload = h;
  with_payload.insert(with_payload.end(), {1, 2, 3});  // payload is not part of the header sum
  EXPECT_TRUE(ipv4_header_checksum_ok(with_payload));
  EXPECT_FALSE(ipv4_header_checksum_ok(std::span(h).first(19)));
  Bytes opt = FrameBuilder{}.ipv4({.options = {1, 1, 1, 0}}).udp().build();
  std::span<const uint8_t> ip = std::span(opt).subspan(14);
  EXPECT_TRUE(ipv4_header_checksum_ok(ip));
  EXPECT_FALSE(ipv4_header_checksum_ok(ip.first(23)));  // IHL says 24
  opt[14 + 21] ^= 0x10;                                 // corrupt an option byte: it is covered
  EXPECT_FALSE(ipv4_header_checksum_ok(std::span(opt).subspan(14)));
}

TEST(Checksum, MatchesReferenceForEveryLengthAndAlignment) {
  std::mt19937 rng(12345);
  Bytes buf(300 + 8);
  for (auto& x : buf) x = uint8_t(rng());
  for (std::size_t align = 0; align < 8; ++align) {
    for (std::size_t len = 0; len <= 300; ++len) {
      const uint8_t* p = buf.data() + align;
      uint32_t init = rng() & 0x3ffff;
      ASSERT_EQ(inet_checksum({p, len}, init), ref_checksum(p, len, init))
          << "align " << align << " len " << len;
    }
  }
}

TEST(Checksum, CarriesAcrossLargeAllOnesBuffer) {
  Bytes b(65535, 0xff);
  EXPECT_EQ(inet_checksum(b), ref_checksum(b.data(), b.size()));
  Bytes z(1500, 0);
  EXPECT_EQ(inet_checksum(z), 0xffff);
}

TEST(Checksum, PartialSumsChain) {
  Bytes a = {1, 2, 3, 4, 5, 6}, b = {0xfe, 0xdc, 0xba};
  Bytes ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  EXPECT_EQ(inet_checksum(b, inet_sum(a)), inet_checksum(ab));
}

std::vector<Bytes> l4_frames() {
  FrameBuilder q;
  q.ipv4().udp();
  Ipv6Spec ext;
  ext.ext = {{60, Bytes(6, 0)}, {43, Bytes(6, 0)}};
  return {
      FrameBuilder{}.ipv4().tcp({.options = {2, 4, 5, 0xb4}, .payload = Bytes(33, 7)}).build(),
      FrameBuilder{}.vlan(9).ipv4().udp({.payload = Bytes(17, 0x42)}).pad_to(80).build(),
      FrameBuilder{}.ipv4().icmp({.type = 8, .id = 3, .body = Bytes(56, 1)}).build(),
      FrameBuilder{}.ipv4().icmp({.type = 3, .body = q.ip_packet()}).build(),
      FrameBuilder{}.ipv6().tcp({.payload = Bytes(1000, 0x99)}).build(),
      FrameBuilder{}.ipv6(ext).udp({.payload = Bytes(3, 1)}).build(),
      FrameBuilder{}.vlan(1, 0x88a8).vlan(2).ipv6().icmp({.type = 128, .id = 5}).build(),
      FrameBuilder{}.ipv6().icmp({.type = 135, .body = Bytes(16, 0xfe)}).build(),
  };
}

TEST(L4Checksum, BuiltFramesVerifyAndAnyPayloadFlipFails) {
  for (const Bytes& f : l4_frames()) {
    Decoded d;
    ASSERT_EQ(decode_frame(f, d), DropReason::None);
    ASSERT_TRUE(d.l4_ok);
    EXPECT_TRUE(l4_checksum_ok(d, f)) << int(d.ip_proto);
    Bytes bad = f;
    bad[d.ip_end - 1] ^= 0x01;
    EXPECT_FALSE(l4_checksum_ok(d, bad)) << int(d.ip_proto);
  }
}

TEST(L4Checksum, PaddingIsNotSummed) {
  Bytes f = FrameBuilder{}.ipv4().udp().pad_to(60).build();
  for (std::size_t i = 42; i < 60; ++i) f[i] = 0xa5;
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_TRUE(l4_checksum_ok(d, f));
}

TEST(L4Checksum, PseudoHeaderAddressIsCovered) {
  Bytes f = FrameBuilder{}.ipv6().tcp().build();
  f[14 + 8 + 15] ^= 1;  // source address
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_FALSE(l4_checksum_ok(d, f));
}

TEST(L4Checksum, IcmpV4HasNoPseudoHeader) {
  Bytes f = FrameBuilder{}.ipv4().icmp({.type = 8}).build();
  f[14 + 12] ^= 1;  // source address: not part of ICMP's checksum
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_TRUE(l4_checksum_ok(d, f));
}

TEST(L4Checksum, UdpZeroChecksumIsNoneOnIpv4AndInvalidOnIpv6) {
  Decoded d;
  Bytes v4 = FrameBuilder{}.ipv4().udp({.zero_checksum = true}).build();
  ASSERT_EQ(decode_frame(v4, d), DropReason::None);
  EXPECT_TRUE(l4_checksum_ok(d, v4));
  Bytes v6 = FrameBuilder{}.ipv6().udp({.zero_checksum = true}).build();
  ASSERT_EQ(decode_frame(v6, d), DropReason::None);
  EXPECT_FALSE(l4_checksum_ok(d, v6));
}

TEST(L4Checksum, NothingToCheckForFragmentsAndUnknownProtocols) {
  Decoded d;
  Bytes frag = FrameBuilder{}.ipv4({.mf = true}).udp({.payload = Bytes(8, 0)}).build();
  frag[frag.size() - 1] ^= 0xff;
  ASSERT_EQ(decode_frame(frag, d), DropReason::None);
  EXPECT_TRUE(l4_checksum_ok(d, frag));
  Bytes mutable_frag = frag;
  EXPECT_FALSE(fill_l4_checksum(d, mutable_frag));
  EXPECT_EQ(mutable_frag, frag);

  Bytes gre = FrameBuilder{}.ipv4().raw(47, Bytes(8, 0xff)).build();
  ASSERT_EQ(decode_frame(gre, d), DropReason::None);
  EXPECT_TRUE(l4_checksum_ok(d, gre));
  EXPECT_FALSE(fill_l4_checksum(d, gre));
}

TEST(FillL4Checksum, ReproducesReferenceChecksumFromGarbage) {
  for (const Bytes& good : l4_frames()) {
    Decoded d;
    ASSERT_EQ(decode_frame(good, d), DropReason::None);
    std::size_t at = d.l4_off + (d.ip_proto == kProtoTcp ? 16 : d.ip_proto == kProtoUdp ? 6 : 2);
    Bytes f = good;
    f[at] = 0x12;  // e.g. an offload's pseudo-header partial sum
    f[at + 1] = 0x34;
    ASSERT_TRUE(fill_l4_checksum(d, f));
    EXPECT_EQ(f, good) << int(d.ip_proto);
  }
}

TEST(FillL4Checksum, UdpComputedZeroIsSentAsAllOnes) {
  // Choose a payload word equal to the checksum without it: the sum becomes 0xffff, so
  // the computed checksum is 0, which UDP must transmit as 0xffff.
  FrameBuilder b;
  b.ipv4().udp({.payload = {0, 0}});
  Bytes f0 = b.build();
  uint16_t c = uint16_t(f0[14 + 20 + 6] << 8 | f0[14 + 20 + 7]);
  Bytes f = FrameBuilder{}.ipv4().udp({.payload = {uint8_t(c >> 8), uint8_t(c)}}).build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(f[14 + 20 + 6], 0xff);
  EXPECT_EQ(f[14 + 20 + 7], 0xff);
  f[14 + 20 + 6] = f[14 + 20 + 7] = 0;
  ASSERT_TRUE(fill_l4_checksum(d, f));
  EXPECT_EQ(f[14 + 20 + 6], 0xff);
  EXPECT_EQ(f[14 + 20 + 7], 0xff);
  EXPECT_TRUE(l4_checksum_ok(d, f));
}

TEST(FillL4Checksum, RefusesFrameShorterThanDecodedDatagram) {
  Bytes f = FrameBuilder{}.ipv4().tcp().build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  Bytes shorter(f.begin(), f.end() - 1);
  EXPECT_FALSE(fill_l4_checksum(d, shorter));
  EXPECT_FALSE(l4_checksum_ok(d, shorter));
}

}  // namespace
}  // namespace tapwall
