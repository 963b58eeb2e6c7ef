// decode_frame() at L2: MAC addresses, VLAN tags (802.1Q, 802.1ad, 0x9100), ARP, and
// non-IP ethertypes.
#include <gtest/gtest.h>

#include "frame_builder.hpp"
#include "tapwall/decoded.hpp"

namespace tapwall {
namespace {

using namespace test;

Bytes arp_body(uint16_t htype = 1, uint16_t ptype = 0x0800, uint8_t hlen = 6, uint8_t plen = 4) {
  Bytes b;
  put16(b, htype);
  put16(b, ptype);
  b.push_back(hlen);
  b.push_back(plen);
  put16(b, 1);  // request
  for (int i = 0; i < 20; ++i) b.push_back(uint8_t(i));
  return b;
}

TEST(DecodeL2, UntaggedIpv4SetsMacsEthertypeAndOffsets) {
  Bytes f = FrameBuilder{}
                .eth(mac(0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff), mac(0x02, 1, 2, 3, 4, 5))
                .ipv4()
                .udp()
                .build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.dst_mac, mac(0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff));
  EXPECT_EQ(d.src_mac, mac(0x02, 1, 2, 3, 4, 5));
  EXPECT_EQ(d.vlan_count, 0);
  EXPECT_EQ(d.vlan_ids[0], 0);
  EXPECT_EQ(d.vlan_ids[1], 0);
  EXPECT_EQ(d.vlan, 0);
  EXPECT_EQ(d.ethertype, kEthTypeIpv4);
  EXPECT_EQ(d.l3_off, 14);
  EXPECT_EQ(d.l3, L3Kind::Ipv4);
}

TEST(DecodeL2, SingleDot1qTagDecodesInnerIpLikeUntagged) {
  Bytes plain = FrameBuilder{}.ipv4().tcp({.sport = 1111, .dport = 22}).build();
  Bytes tagged =
      FrameBuilder{}.vlan(100, 0x8100, 5).ipv4().tcp({.sport = 1111, .dport = 22}).build();
  Decoded p, t;
  ASSERT_EQ(decode_frame(plain, p), DropReason::None);
  ASSERT_EQ(decode_frame(tagged, t), DropReason::None);
  EXPECT_EQ(t.vlan_count, 1);
  EXPECT_EQ(t.vlan_ids[0], 100);  // PCP bits are not part of the VID
  EXPECT_EQ(t.vlan, 100);
  EXPECT_EQ(t.ethertype, kEthTypeIpv4);
  EXPECT_EQ(t.l3_off, 18);
  // Same packet, shifted by the tag: a tag must not hide IP from the filter.
  EXPECT_EQ(t.l4_off, p.l4_off + 4);
  EXPECT_EQ(t.ip_end, p.ip_end + 4);
  EXPECT_EQ(t.l4_payload_off, p.l4_payload_off + 4);
  EXPECT_EQ(t.src_ip, p.src_ip);
  EXPECT_EQ(t.dst_ip, p.dst_ip);
  EXPECT_EQ(t.ip_proto, kProtoTcp);
  EXPECT_TRUE(t.l4_ok);
  EXPECT_EQ(t.sport, 1111);
  EXPECT_EQ(t.dport, 22);
}

TEST(DecodeL2, QinQOuterFirstInnermostIsLearningVlan) {
  for (uint16_t outer_tpid : {uint16_t{0x88a8}, uint16_t{0x9100}, uint16_t{0x8100}}) {
    Bytes f = FrameBuilder{}.vlan(200, outer_tpid).vlan(4095).ipv6().udp().build();
    Decoded d;
    ASSERT_EQ(decode_frame(f, d), DropReason::None) << outer_tpid;
    EXPECT_EQ(d.vlan_count, 2);
    EXPECT_EQ(d.vlan_ids[0], 200);
    EXPECT_EQ(d.vlan_ids[1], 4095);
    EXPECT_EQ(d.vlan, 4095);
    EXPECT_EQ(d.ethertype, kEthTypeIpv6);
    EXPECT_EQ(d.l3_off, 22);
    EXPECT_EQ(d.l3, L3Kind::Ipv6);
    EXPECT_EQ(d.l4_off, 22 + 40);
    EXPECT_TRUE(d.l4_ok);
  }
}

TEST(DecodeL2, NonIpEthertypeSucceedsAsOther) {
  Bytes f = FrameBuilder{}.vlan(7).ethertype(0x88cc).raw(0, Bytes(46, 0)).build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.l3, L3Kind::Other);
  EXPECT_EQ(d.ethertype, 0x88cc);
  EXPECT_EQ(d.l3_off, 18);
  EXPECT_EQ(d.vlan, 7);
  EXPECT_FALSE(d.l4_ok);
}

TEST(DecodeL2, BareEthernetHeaderIsEnough) {
  Bytes f = FrameBuilder{}.ethertype(0x88b5).build();
  ASSERT_EQ(f.size(), 14u);
  Decoded d;
  EXPECT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.l3, L3Kind::Other);
}

TEST(DecodeL2, ArpEthernetIpv4) {
  Bytes f = FrameBuilder{}.vlan(3).ethertype(kEthTypeArp).raw(0, arp_body()).pad_to(60).build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.l3, L3Kind::Arp);
  EXPECT_EQ(d.ethertype, kEthTypeArp);
  EXPECT_EQ(d.l3_off, 18);
  EXPECT_FALSE(d.l4_ok);
}

TEST(DecodeL2, ArpOtherHardwareTypeNeedsOnlyFixedPart) {
  Bytes body = arp_body(6 /* IEEE 802 */, 0x0800, 6, 4);
  body.resize(8);
  Bytes f = FrameBuilder{}.ethertype(kEthTypeArp).raw(0, body).build();
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.l3, L3Kind::Arp);
}

}  // namespace
}  // namespace tapwall
