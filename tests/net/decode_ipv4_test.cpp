// decode_frame() on IPv4: header fields, options, padding, fragments (first/middle/last),
// unknown protocols.
#include <gtest/gtest.h>

#include "frame_builder.hpp"
#include "tapwall/decoded.hpp"

namespace tapwall {
namespace {

using namespace test;

TEST(DecodeIpv4, EveryL3FieldOfAPlainPacket) {
  Bytes f = FrameBuilder{}
                .ipv4({.src = ip4(10, 1, 2, 3),
                       .dst = ip4(172, 16, 0, 9),
                       .ttl = 17,
                       .id = 0xbeef,
                       .df = true})
                .udp({.sport = 5353, .dport = 53, .payload = Bytes(10, 0xab)})
                .build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.l3, L3Kind::Ipv4);
  EXPECT_EQ(d.src_ip, ip4(10, 1, 2, 3));
  EXPECT_EQ(d.dst_ip, ip4(172, 16, 0, 9));
  EXPECT_TRUE(d.src_ip.is_v4_mapped());
  EXPECT_EQ(d.ip_proto, kProtoUdp);
  EXPECT_EQ(d.ttl, 17);
  EXPECT_EQ(d.l4_off, 34);
  EXPECT_EQ(d.ip_end, 14 + 20 + 8 + 10);
  EXPECT_EQ(d.ip_end, f.size());
  EXPECT_FALSE(d.ipv4_has_options);
  EXPECT_FALSE(d.is_fragment);  // DF alone is not fragmentation
  EXPECT_FALSE(d.more_fragments);
  EXPECT_EQ(d.frag_offset, 0);
  EXPECT_EQ(d.frag_id, 0xbeefu);
  EXPECT_EQ(d.frag_hdr_off, 0);
  EXPECT_EQ(d.frag_unfrag_len, 0);
  EXPECT_TRUE(d.l4_ok);
  EXPECT_EQ(d.sport, 5353);
  EXPECT_EQ(d.dport, 53);
  EXPECT_EQ(d.l4_payload_off, 42);
}

TEST(DecodeIpv4, EthernetPaddingIsExcludedFromDatagram) {
  // 64-byte minimum frame: a 20+8 byte datagram is followed by 18 bytes of padding.
  Bytes f = FrameBuilder{}.ipv4().udp().pad_to(60).build();
  ASSERT_EQ(f.size(), 60u);
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.ip_end, 14 + 28);
  EXPECT_TRUE(d.l4_ok);
}

TEST(DecodeIpv4, PaddingIsNotMistakenForL4Header) {
  // A datagram whose TCP header is cut short but padded out by Ethernet padding:
  // the padding must not be read as TCP.
  Bytes f = FrameBuilder{}.ipv4().raw(kProtoTcp, Bytes(12, 0)).pad_to(80).build();
  Decoded d;
  EXPECT_EQ(decode_frame(f, d), DropReason::TcpTruncated);
}

TEST(DecodeIpv4, OptionsAreWalkedAndSkipped) {
  // Router Alert (4 bytes), NOP, Record Route with room for 2 addresses (11 bytes), EOL.
  Bytes opts = {0x94, 4, 0, 0, 1, 7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  Bytes f = FrameBuilder{}.ipv4({.options = opts}).tcp({.sport = 7, .dport = 9}).build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_TRUE(d.ipv4_has_options);
  EXPECT_EQ(d.l4_off, 14 + 20 + 20);  // 17 option bytes padded to 20
  EXPECT_TRUE(d.l4_ok);
  EXPECT_EQ(d.sport, 7);
  EXPECT_EQ(d.dport, 9);
}

TEST(DecodeIpv4, OptionAreaEndingExactlyAtHeaderEndWithoutEol) {
  Bytes opts = {0x94, 4, 0, 0};
  Bytes f = FrameBuilder{}.ipv4({.options = opts}).udp().build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.l4_off, 14 + 24);
}

TEST(DecodeIpv4, BytesAfterEolAreNotParsedAsOptions) {
  Bytes opts = {0, 0xff, 0xff, 0xff};  // garbage after EOL must be ignored
  Bytes f = FrameBuilder{}.ipv4({.options = opts}).udp().build();
  Decoded d;
  EXPECT_EQ(decode_frame(f, d), DropReason::None);
}

// One UDP datagram (8 + 40 bytes) in three fragments of 16, 16 and 16 bytes.
struct V4Frags {
  Bytes seg;
  Bytes first, middle, last;
};
V4Frags make_v4_frags() {
  V4Frags r;
  FrameBuilder b;
  b.ipv4({.src = ip4(10, 0, 0, 1), .dst = ip4(10, 0, 0, 2)})
      .udp({.sport = 1000, .dport = 2000, .payload = Bytes(40, 0x5a)});
  r.seg = b.l4();
  auto part = [&](std::size_t off, std::size_t len, bool mf) {
    return FrameBuilder{}
        .ipv4({.src = ip4(10, 0, 0, 1),
               .dst = ip4(10, 0, 0, 2),
               .id = 777,
               .mf = mf,
               .frag_offset = uint16_t(off),
               .proto = kProtoUdp})
        .raw(kProtoUdp, Bytes(r.seg.begin() + off, r.seg.begin() + off + len))
        .build();
  };
  r.first = part(0, 16, true);
  r.middle = part(16, 16, true);
  r.last = part(32, 16, false);
  return r;
}

TEST(DecodeIpv4, FirstFragmentDecodesL4AndIsFragment) {
  V4Frags fr = make_v4_frags();
  Decoded d;
  ASSERT_EQ(decode_frame(fr.first, d), DropReason::None);
  EXPECT_TRUE(d.is_fragment);
  EXPECT_TRUE(d.more_fragments);
  EXPECT_EQ(d.frag_offset, 0);
  EXPECT_EQ(d.frag_id, 777u);
  EXPECT_EQ(d.frag_hdr_off, 0);  // IPv6 only
  // The UDP length (48) names the whole datagram; the fragment holds 16 bytes of it.
  EXPECT_TRUE(d.l4_ok);
  EXPECT_EQ(d.sport, 1000);
  EXPECT_EQ(d.dport, 2000);
  EXPECT_EQ(d.l4_off, 34);
  EXPECT_EQ(d.ip_end, 34 + 16);
}

TEST(DecodeIpv4, MiddleFragmentHasNoL4) {
  V4Frags fr = make_v4_frags();
  Decoded d;
  ASSERT_EQ(decode_frame(fr.middle, d), DropReason::None);
  EXPECT_TRUE(d.is_fragment);
  EXPECT_TRUE(d.more_fragments);
  EXPECT_EQ(d.frag_offset, 16);
  EXPECT_EQ(d.frag_id, 777u);
  EXPECT_EQ(d.ip_proto, kProtoUdp);
  EXPECT_FALSE(d.l4_ok);
  EXPECT_EQ(d.sport, 0);
  EXPECT_EQ(d.l4_off, 34);  // start of the fragment's payload
  EXPECT_EQ(d.ip_end, 34 + 16);
}

TEST(DecodeIpv4, LastFragmentHasNoL4AndNoMoreFlag) {
  V4Frags fr = make_v4_frags();
  Decoded d;
  ASSERT_EQ(decode_frame(fr.last, d), DropReason::None);
  EXPECT_TRUE(d.is_fragment);
  EXPECT_FALSE(d.more_fragments);
  EXPECT_EQ(d.frag_offset, 32);
  EXPECT_FALSE(d.l4_ok);
}

TEST(DecodeIpv4, MaximumFragmentOffset) {
  Bytes f = FrameBuilder{}
                .ipv4({.frag_offset = 0x1fff * 8, .proto = kProtoTcp})
                .raw(kProtoTcp, Bytes(8, 0))
                .build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.frag_offset, 65528);
  EXPECT_TRUE(d.is_fragment);
}

TEST(DecodeIpv4, NonFirstFragmentTooShortForAnyL4HeaderIsFine) {
  Bytes f = FrameBuilder{}.ipv4({.frag_offset = 8, .proto = kProtoTcp}).raw(kProtoTcp, {1}).build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_FALSE(d.l4_ok);
}

TEST(DecodeIpv4, FirstFragmentWithPartialL4HeaderIsFragmentWithoutL4) {
  // A tiny first fragment: 8 bytes of TCP. Reassembly, not decode, judges it.
  Bytes f =
      FrameBuilder{}.ipv4({.mf = true, .proto = kProtoTcp}).raw(kProtoTcp, Bytes(8, 0)).build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_TRUE(d.is_fragment);
  EXPECT_FALSE(d.l4_ok);
}

TEST(DecodeIpv4, UnknownProtocolSucceedsWithoutL4) {
  Bytes f = FrameBuilder{}.ipv4().raw(47 /* GRE */, Bytes(4, 0)).build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.l3, L3Kind::Ipv4);
  EXPECT_EQ(d.ip_proto, 47);
  EXPECT_FALSE(d.l4_ok);
  EXPECT_EQ(d.l4_off, 34);
  EXPECT_EQ(d.ip_end, 38);
}

TEST(DecodeIpv4, Icmpv6NumberOverIpv4IsJustAnUnknownProtocol) {
  Bytes f = FrameBuilder{}.ipv4().raw(kProtoIcmpv6, {1}).build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_FALSE(d.l4_ok);
}

TEST(DecodeIpv4, HeaderOnlyDatagram) {
  Bytes f = FrameBuilder{}.ipv4().raw(253, {}).build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.l4_off, d.ip_end);
}

TEST(DecodeIpv4, DecodedIsResetBetweenCalls) {
  // A rich decode followed by a poor one: nothing of the first may survive into the second.
  FrameBuilder q;
  q.ipv4().tcp();
  Bytes rich = FrameBuilder{}
                   .vlan(5, 0x88a8)
                   .vlan(6)
                   .ipv4({.options = {1, 1, 1, 1}, .proto = kProtoIcmp})
                   .icmp({.type = 3, .body = q.ip_packet()})
                   .build();
  Bytes tcp =
      FrameBuilder{}.ipv4({.mf = true}).tcp({.options = {2, 4, 5, 0xb4, 3, 3, 7, 0}}).build();
  Bytes arp = FrameBuilder{}.ethertype(kEthTypeArp).raw(0, Bytes(28, 0)).build();
  Decoded d;
  ASSERT_EQ(decode_frame(rich, d), DropReason::None);
  ASSERT_TRUE(d.quoted.present);
  ASSERT_EQ(decode_frame(tcp, d), DropReason::None);
  ASSERT_EQ(d.tcp_wscale, 7);
  ASSERT_EQ(decode_frame(arp, d), DropReason::None);
  const Decoded fresh{};
  EXPECT_EQ(d.vlan_count, 0);
  EXPECT_EQ(d.vlan_ids[0], 0);
  EXPECT_EQ(d.vlan_ids[1], 0);
  EXPECT_EQ(d.vlan, 0);
  EXPECT_EQ(d.src_ip, fresh.src_ip);
  EXPECT_EQ(d.dst_ip, fresh.dst_ip);
  EXPECT_EQ(d.ip_proto, 0);
  EXPECT_EQ(d.ttl, 0);
  EXPECT_EQ(d.ip_end, 0);
  EXPECT_EQ(d.l4_off, 0);
  EXPECT_FALSE(d.ipv4_has_options);
  EXPECT_FALSE(d.is_fragment);
  EXPECT_FALSE(d.more_fragments);
  EXPECT_EQ(d.frag_id, 0u);
  EXPECT_FALSE(d.l4_ok);
  EXPECT_EQ(d.sport, 0);
  EXPECT_EQ(d.dport, 0);
  EXPECT_EQ(d.l4_payload_off, 0);
  EXPECT_EQ(d.tcp_flags, 0);
  EXPECT_EQ(d.tcp_doff, 0);
  EXPECT_EQ(d.tcp_seq, 0u);
  EXPECT_EQ(d.tcp_window, 0);
  EXPECT_EQ(d.tcp_wscale, fresh.tcp_wscale);
  EXPECT_EQ(d.tcp_wscale, -1);
  EXPECT_EQ(d.tcp_mss, 0);
  EXPECT_FALSE(d.tcp_sack_perm);
  EXPECT_EQ(d.icmp_type, 0);
  EXPECT_FALSE(d.quoted.present);
  EXPECT_EQ(d.quoted.src, fresh.quoted.src);
  EXPECT_EQ(d.quoted.sport, 0);
  EXPECT_EQ(d.quoted.tcp_seq, 0u);
}

}  // namespace
}  // namespace tapwall
