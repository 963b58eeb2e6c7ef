// Every drop reason decode_frame() can return, each from a minimal malformed fixture,
// asserting the exact reason.
#include <gtest/gtest.h>

#include "frame_builder.hpp"
#include "tapwall/decoded.hpp"

namespace tapwall {
namespace {

using namespace test;

DropReason decode(const Bytes& f) {
  Decoded d;
  return decode_frame(f, d);
}

constexpr std::size_t kL3 = 14;  // untagged L3 offset

// --- Ethernet / VLAN

TEST(DecodeDrop, EthTruncated) {
  Bytes f = FrameBuilder{}.ipv4().udp().build();
  EXPECT_EQ(decode(Bytes(f.begin(), f.begin() + 13)), DropReason::EthTruncated);
  EXPECT_EQ(decode({}), DropReason::EthTruncated);
}

TEST(DecodeDrop, VlanTruncated) {
  Bytes f = FrameBuilder{}.vlan(10).ipv4().udp().build();
  EXPECT_EQ(decode(Bytes(f.begin(), f.begin() + 17)), DropReason::VlanTruncated);
  Bytes g = FrameBuilder{}.vlan(10, 0x88a8).vlan(20).ipv4().udp().build();
  EXPECT_EQ(decode(Bytes(g.begin(), g.begin() + 20)), DropReason::VlanTruncated);
}

TEST(DecodeDrop, VlanTooManyTags) {
  Bytes f = FrameBuilder{}.vlan(1, 0x88a8).vlan(2).vlan(3).ipv4().udp().build();
  EXPECT_EQ(decode(f), DropReason::VlanTooManyTags);
}

// --- ARP

TEST(DecodeDrop, ArpTruncatedEthernetIpv4Body) {
  Bytes body = {0, 1, 0x08, 0x00, 6, 4, 0, 1};
  body.resize(27, 0);  // 28 needed
  EXPECT_EQ(decode(FrameBuilder{}.ethertype(kEthTypeArp).raw(0, body).build()),
            DropReason::ArpTruncated);
}

TEST(DecodeDrop, ArpTruncatedFixedPart) {
  Bytes body = {0, 6, 0x08, 0x00, 6, 4, 0};  // 7 of the 8 fixed bytes
  EXPECT_EQ(decode(FrameBuilder{}.ethertype(kEthTypeArp).raw(0, body).build()),
            DropReason::ArpTruncated);
}

// --- IPv4

TEST(DecodeDrop, Ipv4TruncatedFixedHeader) {
  Bytes f = FrameBuilder{}.ipv4().raw(253, {}).build();
  f.pop_back();
  EXPECT_EQ(decode(f), DropReason::Ipv4Truncated);
}

TEST(DecodeDrop, Ipv4TruncatedOptions) {
  // IHL says 24 bytes; the frame holds 22 of them.
  Bytes f = FrameBuilder{}.ipv4({.options = {1, 1, 1, 1}}).raw(253, {}).build();
  f.resize(kL3 + 22);
  EXPECT_EQ(decode(f), DropReason::Ipv4Truncated);
}

TEST(DecodeDrop, Ipv4BadVersion) {
  Bytes f = FrameBuilder{}.ipv4().udp().build();
  f[kL3] = 0x65;
  EXPECT_EQ(decode(f), DropReason::Ipv4BadVersion);
}

TEST(DecodeDrop, Ipv4BadIhl) {
  Bytes f = FrameBuilder{}.ipv4().udp().build();
  f[kL3] = 0x44;
  EXPECT_EQ(decode(f), DropReason::Ipv4BadIhl);
}

TEST(DecodeDrop, Ipv4BadTotalLengthBeyondFrame) {
  Bytes f = FrameBuilder{}.ipv4().udp().pad_to(60).build();
  set16(f, kL3 + 2, uint16_t(60 - kL3 + 1));  // one byte more than the frame, padding included
  EXPECT_EQ(decode(f), DropReason::Ipv4BadTotalLength);
}

TEST(DecodeDrop, Ipv4BadTotalLengthBelowHeader) {
  Bytes f = FrameBuilder{}.ipv4({.options = {1, 1, 1, 1}}).udp().build();
  set16(f, kL3 + 2, 23);  // header is 24
  EXPECT_EQ(decode(f), DropReason::Ipv4BadTotalLength);
}

TEST(DecodeDrop, Ipv4BadOptionsLengthBelowTwo) {
  EXPECT_EQ(decode(FrameBuilder{}.ipv4({.options = {0x94, 1, 0, 0}}).udp().build()),
            DropReason::Ipv4BadOptions);
  EXPECT_EQ(decode(FrameBuilder{}.ipv4({.options = {0x94, 0, 0, 0}}).udp().build()),
            DropReason::Ipv4BadOptions);
}

TEST(DecodeDrop, Ipv4BadOptionsLengthBeyondHeader) {
  EXPECT_EQ(decode(FrameBuilder{}.ipv4({.options = {1, 0x94, 4, 0}}).udp().build()),
            DropReason::Ipv4BadOptions);
}

TEST(DecodeDrop, Ipv4BadOptionsNoRoomForLengthByte) {
  EXPECT_EQ(decode(FrameBuilder{}.ipv4({.options = {1, 1, 1, 0x94}}).udp().build()),
            DropReason::Ipv4BadOptions);
}

// --- IPv6

TEST(DecodeDrop, Ipv6Truncated) {
  Bytes f = FrameBuilder{}.ipv6().raw(59, {}).build();
  f.pop_back();
  EXPECT_EQ(decode(f), DropReason::Ipv6Truncated);
}

TEST(DecodeDrop, Ipv6BadVersion) {
  Bytes f = FrameBuilder{}.ipv6().udp().build();
  f[kL3] = 0x45;
  EXPECT_EQ(decode(f), DropReason::Ipv6BadVersion);
}

TEST(DecodeDrop, Ipv6BadPayloadLengthBeyondFrame) {
  Bytes f = FrameBuilder{}.ipv6().udp().pad_to(70).build();
  set16(f, kL3 + 4, uint16_t(70 - kL3 - 40 + 1));
  EXPECT_EQ(decode(f), DropReason::Ipv6BadPayloadLength);
}

TEST(DecodeDrop, Ipv6BadPayloadLengthJumbo) {
  Ipv6Spec s;
  s.ext = {{0, {0xc2, 4, 0, 1, 0, 0}}};  // Jumbo Payload option
  Bytes f = FrameBuilder{}.ipv6(s).udp().build();
  set16(f, kL3 + 4, 0);
  EXPECT_EQ(decode(f), DropReason::Ipv6BadPayloadLength);
}

TEST(DecodeDrop, Ipv6ExtTruncatedLengthBeyondPayload) {
  Ipv6Spec s;
  s.ext = {{60, Bytes(6, 0)}};
  Bytes f = FrameBuilder{}.ipv6(s).raw(59, {}).pad_to(100).build();
  f[kL3 + 40 + 1] = 1;  // claims 16 bytes; payload holds 8 (padding must not count)
  EXPECT_EQ(decode(f), DropReason::Ipv6ExtTruncated);
}

TEST(DecodeDrop, Ipv6ExtTruncatedFirstTwoBytes) {
  Bytes f = FrameBuilder{}.ipv6({.proto = 43}).raw(43, {59}).build();  // 1 byte of Routing
  EXPECT_EQ(decode(f), DropReason::Ipv6ExtTruncated);
}

TEST(DecodeDrop, Ipv6ExtTruncatedFragmentHeader) {
  Bytes f = FrameBuilder{}.ipv6().raw(44, {17, 0, 0, 0, 0, 0, 1}).build();
  EXPECT_EQ(decode(f), DropReason::Ipv6ExtTruncated);
}

TEST(DecodeDrop, Ipv6ExtTruncatedAuthHeader) {
  Ipv6Spec s;
  s.ext = {{51, Bytes(6, 0)}};  // AH of 8 bytes: len field 0
  Bytes f = FrameBuilder{}.ipv6(s).raw(59, {}).build();
  f[kL3 + 40 + 1] = 1;  // now 12 bytes: 4-byte units, beyond the payload
  EXPECT_EQ(decode(f), DropReason::Ipv6ExtTruncated);
}

TEST(DecodeDrop, Ipv6ExtTooMany) {
  Ipv6Spec s;
  for (int i = 0; i < 9; ++i) s.ext.push_back({60, {}});
  EXPECT_EQ(decode(FrameBuilder{}.ipv6(s).udp().build()), DropReason::Ipv6ExtTooMany);
}

// --- TCP

TEST(DecodeDrop, TcpTruncated) {
  EXPECT_EQ(decode(FrameBuilder{}.ipv4().raw(kProtoTcp, Bytes(19, 0)).build()),
            DropReason::TcpTruncated);
  EXPECT_EQ(decode(FrameBuilder{}.ipv6().raw(kProtoTcp, Bytes(19, 0)).build()),
            DropReason::TcpTruncated);
}

TEST(DecodeDrop, TcpBadDataOffsetBelowFive) {
  Bytes f = FrameBuilder{}.ipv4().tcp().build();
  f[kL3 + 20 + 12] = 0x40;
  EXPECT_EQ(decode(f), DropReason::TcpBadDataOffset);
}

TEST(DecodeDrop, TcpBadDataOffsetBeyondDatagram) {
  Bytes f = FrameBuilder{}.ipv4().tcp().pad_to(60).build();
  f[kL3 + 20 + 12] = 0x60;  // 24-byte header in a 20-byte segment; padding must not count
  EXPECT_EQ(decode(f), DropReason::TcpBadDataOffset);
}

TEST(DecodeDrop, TcpBadOptionsLengthBelowTwo) {
  EXPECT_EQ(decode(FrameBuilder{}.ipv4().tcp({.options = {8, 1, 0, 0}}).build()),
            DropReason::TcpBadOptions);
}

TEST(DecodeDrop, TcpBadOptionsLengthBeyondHeader) {
  EXPECT_EQ(decode(FrameBuilder{}.ipv6().tcp({.options = {1, 1, 8, 10}}).build()),
            DropReason::TcpBadOptions);
}

TEST(DecodeDrop, TcpBadOptionsNoRoomForLengthByte) {
  EXPECT_EQ(decode(FrameBuilder{}.ipv4().tcp({.options = {1, 1, 1, 2}}).build()),
            DropReason::TcpBadOptions);
}

// --- UDP

TEST(DecodeDrop, UdpTruncated) {
  EXPECT_EQ(decode(FrameBuilder{}.ipv4().raw(kProtoUdp, Bytes(7, 0)).pad_to(60).build()),
            DropReason::UdpTruncated);
}

TEST(DecodeDrop, UdpBadLengthBelowHeader) {
  EXPECT_EQ(decode(FrameBuilder{}.ipv4().udp({.payload = Bytes(4, 0), .length = 7}).build()),
            DropReason::UdpBadLength);
}

TEST(DecodeDrop, UdpBadLengthBeyondIpPayload) {
  EXPECT_EQ(
      decode(FrameBuilder{}.ipv6().udp({.payload = Bytes(4, 0), .length = 13}).pad_to(100).build()),
      DropReason::UdpBadLength);
}

// --- ICMP / ICMPv6

TEST(DecodeDrop, IcmpTruncated) {
  EXPECT_EQ(decode(FrameBuilder{}.ipv4().raw(kProtoIcmp, {8, 0, 0, 0, 0, 1, 0}).pad_to(60).build()),
            DropReason::IcmpTruncated);
}

TEST(DecodeDrop, Icmpv6TruncatedCommonHeader) {
  EXPECT_EQ(decode(FrameBuilder{}.ipv6().raw(kProtoIcmpv6, {135, 0, 0}).build()),
            DropReason::Icmpv6Truncated);
}

TEST(DecodeDrop, Icmpv6TruncatedEcho) {
  EXPECT_EQ(decode(FrameBuilder{}.ipv6().raw(kProtoIcmpv6, {128, 0, 0, 0, 0, 1, 0}).build()),
            DropReason::Icmpv6Truncated);
}

TEST(DecodeDrop, Icmpv6TruncatedError) {
  EXPECT_EQ(decode(FrameBuilder{}.ipv6().raw(kProtoIcmpv6, {1, 4, 0, 0, 0}).build()),
            DropReason::Icmpv6Truncated);
}

// --- Not drops: what a first fragment's L4 header cannot show is left to reassembly.

TEST(DecodeDrop, FirstFragmentL4ProblemsAreNotDrops) {
  Bytes tcp = FrameBuilder{}.ipv4({.mf = true}).tcp().build();
  tcp[kL3 + 20 + 12] = 0xf0;  // 60-byte header continuing into the next fragment
  Decoded d;
  EXPECT_EQ(decode_frame(tcp, d), DropReason::None);
  EXPECT_TRUE(d.is_fragment);
  EXPECT_FALSE(d.l4_ok);

  Ipv6Spec s;
  s.ext = {ipv6_frag_ext(0, true, 5)};
  Bytes icmp6 = FrameBuilder{}.ipv6(s).raw(kProtoIcmpv6, {128, 0, 0}).build();
  EXPECT_EQ(decode_frame(icmp6, d), DropReason::None);
  EXPECT_FALSE(d.l4_ok);
}

TEST(DecodeDrop, NonIpv4VersionInQuoteIsNotADrop) {
  Decoded d;
  EXPECT_EQ(
      decode_frame(FrameBuilder{}.ipv4().icmp({.type = 3, .body = Bytes(28, 0x60)}).build(), d),
      DropReason::None);
  EXPECT_FALSE(d.quoted.present);
}

}  // namespace
}  // namespace tapwall

namespace tapwall {
namespace {

using namespace test;

// L4 reasons leave L2/L3 valid, so the engine can treat the packet as conntrack INVALID
// (the kernel's behaviour) instead of dropping it.
TEST(DecodeDrop, L4ReasonsKeepL3FieldsValid) {
  struct Case {
    Bytes frame;
    DropReason reason;
  };
  Bytes bad_doff = FrameBuilder{}.vlan(8).ipv4({.src = ip4(10, 0, 0, 1)}).tcp().build();
  bad_doff[18 + 20 + 12] = 0x40;
  std::vector<Case> cases = {
      {bad_doff, DropReason::TcpBadDataOffset},
      {FrameBuilder{}
           .vlan(8)
           .ipv4({.src = ip4(10, 0, 0, 1)})
           .tcp({.options = {8, 1, 0, 0}})
           .build(),
       DropReason::TcpBadOptions},
      {FrameBuilder{}.vlan(8).ipv4({.src = ip4(10, 0, 0, 1)}).raw(kProtoTcp, Bytes(10, 0)).build(),
       DropReason::TcpTruncated},
      {FrameBuilder{}.vlan(8).ipv4({.src = ip4(10, 0, 0, 1)}).udp({.length = 99}).build(),
       DropReason::UdpBadLength},
      {FrameBuilder{}.vlan(8).ipv4({.src = ip4(10, 0, 0, 1)}).raw(kProtoUdp, Bytes(3, 0)).build(),
       DropReason::UdpTruncated},
      {FrameBuilder{}.vlan(8).ipv4({.src = ip4(10, 0, 0, 1)}).raw(kProtoIcmp, Bytes(3, 0)).build(),
       DropReason::IcmpTruncated},
      {FrameBuilder{}.vlan(8).ipv6({.src = ip6("::a")}).raw(kProtoIcmpv6, Bytes(3, 0)).build(),
       DropReason::Icmpv6Truncated},
  };
  for (const Case& c : cases) {
    Decoded d;
    ASSERT_EQ(decode_frame(c.frame, d), c.reason);
    EXPECT_TRUE(is_l4_decode_reason(c.reason));
    EXPECT_FALSE(d.l4_ok);
    EXPECT_EQ(d.vlan, 8);
    EXPECT_EQ(d.l3_off, 18);
    EXPECT_EQ(d.ip_end, c.frame.size());
    EXPECT_EQ(d.l4_off, d.l3 == L3Kind::Ipv4 ? 38 : 58);
    if (d.l3 == L3Kind::Ipv4) {
      EXPECT_EQ(d.src_ip, ip4(10, 0, 0, 1));
    } else {
      EXPECT_EQ(d.l3, L3Kind::Ipv6);
      EXPECT_EQ(d.src_ip, ip6("::a"));
    }
  }
}

TEST(DecodeDrop, L3AndL2ReasonsAreNotL4Reasons) {
  for (DropReason r :
       {DropReason::None, DropReason::EthTruncated, DropReason::VlanTruncated,
        DropReason::VlanTooManyTags, DropReason::ArpTruncated, DropReason::Ipv4Truncated,
        DropReason::Ipv4BadVersion, DropReason::Ipv4BadIhl, DropReason::Ipv4BadTotalLength,
        DropReason::Ipv4BadOptions, DropReason::Ipv4BadChecksum, DropReason::Ipv6Truncated,
        DropReason::Ipv6BadVersion, DropReason::Ipv6BadPayloadLength, DropReason::Ipv6ExtTruncated,
        DropReason::Ipv6ExtTooMany}) {
    EXPECT_FALSE(is_l4_decode_reason(r)) << drop_reason_name(r);
  }
}

}  // namespace
}  // namespace tapwall
