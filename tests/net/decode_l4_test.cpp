// decode_frame() at L4: TCP (fields and options), UDP, ICMP (echo, query ids, errors with
// quotes), ICMPv6 (echo, errors with quotes, ND).
#include <gtest/gtest.h>

#include "frame_builder.hpp"
#include "tapwall/decoded.hpp"

namespace tapwall {
namespace {

using namespace test;

Decoded decode_ok(const Bytes& f) {
  Decoded d;
  EXPECT_EQ(decode_frame(f, d), DropReason::None);
  return d;
}

TEST(DecodeTcp, EveryFieldOfASynWithOptions) {
  // MSS 1460, SACK-permitted, timestamps, NOP, window scale 7: a Linux SYN.
  Bytes opts = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
  Bytes f = FrameBuilder{}
                .ipv4()
                .tcp({.sport = 40001,
                      .dport = 443,
                      .seq = 0x01020304,
                      .ack = 0xa0b0c0d0,
                      .flags = kTcpSyn | kTcpEce | kTcpCwr,
                      .window = 64240,
                      .options = opts})
                .build();
  Decoded d = decode_ok(f);
  ASSERT_TRUE(d.l4_ok);
  EXPECT_EQ(d.sport, 40001);
  EXPECT_EQ(d.dport, 443);
  EXPECT_EQ(d.tcp_seq, 0x01020304u);
  EXPECT_EQ(d.tcp_ack, 0xa0b0c0d0u);
  EXPECT_EQ(d.tcp_flags, kTcpSyn | kTcpEce | kTcpCwr);
  EXPECT_EQ(d.tcp_window, 64240);
  EXPECT_EQ(d.tcp_doff, 40);
  EXPECT_EQ(d.tcp_mss, 1460);
  EXPECT_TRUE(d.tcp_sack_perm);
  EXPECT_EQ(d.tcp_wscale, 7);
  EXPECT_EQ(d.l4_payload_off, 34 + 40);
  EXPECT_EQ(d.icmp_type, 0);
  EXPECT_FALSE(d.quoted.present);
}

TEST(DecodeTcp, NoOptionsMeansAbsentDefaults) {
  Decoded d = decode_ok(FrameBuilder{}.ipv4().tcp({.payload = Bytes(3, 0)}).build());
  ASSERT_TRUE(d.l4_ok);
  EXPECT_EQ(d.tcp_doff, 20);
  EXPECT_EQ(d.tcp_wscale, -1);
  EXPECT_EQ(d.tcp_mss, 0);
  EXPECT_FALSE(d.tcp_sack_perm);
  EXPECT_EQ(d.l4_payload_off, 54);
}

TEST(DecodeTcp, WindowScaleIsCappedAt14) {
  Decoded d = decode_ok(FrameBuilder{}.ipv4().tcp({.options = {3, 3, 15, 0}}).build());
  EXPECT_EQ(d.tcp_wscale, 14);
}

TEST(DecodeTcp, WindowScale14IsKept) {
  Decoded d = decode_ok(FrameBuilder{}.ipv6().tcp({.options = {3, 3, 14, 0}}).build());
  EXPECT_EQ(d.tcp_wscale, 14);
}

TEST(DecodeTcp, KnownOptionWithWrongLengthIsSkippedNotTrusted) {
  // MSS with length 3 (then NOP): well-formed TLV, wrong size for MSS -> ignored.
  Decoded d = decode_ok(FrameBuilder{}.ipv4().tcp({.options = {2, 3, 5, 1}}).build());
  ASSERT_TRUE(d.l4_ok);
  EXPECT_EQ(d.tcp_mss, 0);
}

TEST(DecodeTcp, UnknownOptionIsSkippedByLength) {
  // Unknown kind 30 len 6, then MSS.
  Decoded d = decode_ok(
      FrameBuilder{}.ipv4().tcp({.options = {30, 6, 9, 9, 9, 9, 2, 4, 0x02, 0x18}}).build());
  EXPECT_EQ(d.tcp_mss, 536);
}

TEST(DecodeTcp, EolStopsOptionParsing) {
  Decoded d = decode_ok(FrameBuilder{}.ipv4().tcp({.options = {0, 2, 4, 1}}).build());
  EXPECT_EQ(d.tcp_mss, 0);
}

TEST(DecodeUdp, FieldsAndPayloadOffset) {
  Decoded d = decode_ok(
      FrameBuilder{}.ipv6().udp({.sport = 546, .dport = 547, .payload = Bytes(20, 0)}).build());
  ASSERT_TRUE(d.l4_ok);
  EXPECT_EQ(d.sport, 546);
  EXPECT_EQ(d.dport, 547);
  EXPECT_EQ(d.l4_payload_off, 54 + 8);
  EXPECT_EQ(d.ip_end, 54 + 28);
}

TEST(DecodeUdp, LengthShorterThanIpPayloadIsAccepted) {
  // Trailing bytes inside the IP datagram beyond the UDP length: the kernel accepts them.
  Decoded d = decode_ok(FrameBuilder{}.ipv4().udp({.payload = Bytes(10, 0), .length = 12}).build());
  EXPECT_TRUE(d.l4_ok);
}

TEST(DecodeIcmp, EchoRequestIdIsSourcePort) {
  Decoded d =
      decode_ok(FrameBuilder{}
                    .ipv4()
                    .icmp({.type = 8, .code = 0, .id = 0x4242, .seq = 7, .body = Bytes(56, 0)})
                    .build());
  ASSERT_TRUE(d.l4_ok);
  EXPECT_EQ(d.ip_proto, kProtoIcmp);
  EXPECT_EQ(d.icmp_type, 8);
  EXPECT_EQ(d.icmp_code, 0);
  EXPECT_EQ(d.icmp_id, 0x4242);
  EXPECT_EQ(d.sport, 0x4242);
  EXPECT_EQ(d.dport, 0);
  EXPECT_EQ(d.l4_payload_off, 34 + 8);
  EXPECT_FALSE(d.quoted.present);
}

TEST(DecodeIcmp, EchoReplyAndTimestampCarryIds) {
  for (uint8_t type : {uint8_t{0}, uint8_t{13}, uint8_t{14}, uint8_t{17}, uint8_t{18}}) {
    Decoded d = decode_ok(FrameBuilder{}.ipv4().icmp({.type = type, .id = 99}).build());
    EXPECT_EQ(d.icmp_type, type);
    EXPECT_EQ(d.icmp_id, 99) << int(type);
    EXPECT_EQ(d.sport, 99) << int(type);
  }
}

TEST(DecodeIcmp, NonQueryNonErrorHasNoId) {
  Decoded d = decode_ok(FrameBuilder{}.ipv4().icmp({.type = 9, .id = 5}).build());  // router adv
  ASSERT_TRUE(d.l4_ok);
  EXPECT_EQ(d.icmp_id, 0);
  EXPECT_EQ(d.sport, 0);
  EXPECT_FALSE(d.quoted.present);
}

TEST(DecodeIcmp, DestUnreachableQuotesTcp) {
  FrameBuilder orig;
  orig.ipv4({.src = ip4(10, 0, 0, 5), .dst = ip4(8, 8, 8, 8)})
      .tcp({.sport = 33000, .dport = 443, .seq = 0xcafef00d});
  Bytes q = orig.ip_packet();
  q.resize(20 + 8);  // only the first 8 bytes of L4, as routers send
  Bytes f = FrameBuilder{}
                .ipv4({.src = ip4(192, 0, 2, 1), .dst = ip4(10, 0, 0, 5)})
                .icmp({.type = 3, .code = 4, .seq = 1400, .body = q})
                .build();
  Decoded d = decode_ok(f);
  ASSERT_TRUE(d.l4_ok);
  EXPECT_EQ(d.icmp_type, 3);
  EXPECT_EQ(d.icmp_code, 4);
  EXPECT_EQ(d.icmp_id, 0);
  EXPECT_EQ(d.sport, 0);
  ASSERT_TRUE(d.quoted.present);
  EXPECT_EQ(d.quoted.proto, kProtoTcp);
  EXPECT_EQ(d.quoted.src, ip4(10, 0, 0, 5));
  EXPECT_EQ(d.quoted.dst, ip4(8, 8, 8, 8));
  EXPECT_EQ(d.quoted.sport, 33000);
  EXPECT_EQ(d.quoted.dport, 443);
  EXPECT_EQ(d.quoted.tcp_seq, 0xcafef00du);
}

TEST(DecodeIcmp, EveryErrorTypeQuotesUdpWithOptions) {
  FrameBuilder orig;
  orig.ipv4({.src = ip4(10, 0, 0, 5), .dst = ip4(10, 0, 0, 6), .options = {1, 1, 1, 1}})
      .udp({.sport = 53, .dport = 5353});
  for (uint8_t type : {uint8_t{3}, uint8_t{4}, uint8_t{5}, uint8_t{11}, uint8_t{12}}) {
    Decoded d =
        decode_ok(FrameBuilder{}.ipv4().icmp({.type = type, .body = orig.ip_packet()}).build());
    ASSERT_TRUE(d.quoted.present) << int(type);
    EXPECT_EQ(d.quoted.proto, kProtoUdp);
    EXPECT_EQ(d.quoted.sport, 53);
    EXPECT_EQ(d.quoted.dport, 5353);
    EXPECT_EQ(d.quoted.tcp_seq, 0u);
  }
}

TEST(DecodeIcmp, ErrorQuotingEchoCarriesIdAndType) {
  FrameBuilder orig;
  orig.ipv4().icmp({.type = 8, .id = 0x1111, .seq = 2});
  Decoded d = decode_ok(FrameBuilder{}.ipv4().icmp({.type = 11, .body = orig.ip_packet()}).build());
  ASSERT_TRUE(d.quoted.present);
  EXPECT_EQ(d.quoted.proto, kProtoIcmp);
  EXPECT_EQ(d.quoted.icmp_type, 8);
  EXPECT_EQ(d.quoted.icmp_code, 0);
  EXPECT_EQ(d.quoted.sport, 0x1111);
  EXPECT_EQ(d.quoted.dport, 0);
}

TEST(DecodeIcmp, ShortOrMalformedQuoteIsAbsentNotADrop) {
  FrameBuilder orig;
  orig.ipv4().tcp();
  Bytes full = orig.ip_packet();
  std::vector<Bytes> bad = {
      {},                                      // nothing quoted
      Bytes(full.begin(), full.begin() + 19),  // IP header cut
      Bytes(full.begin(), full.begin() + 27),  // 7 bytes of L4
  };
  Bytes v6 = full;
  v6[0] = 0x65;  // wrong version
  bad.push_back(v6);
  Bytes ihl = full;
  ihl[0] = 0x44;  // IHL 16 bytes
  bad.push_back(ihl);
  Bytes frag = full;
  frag[7] = 1;  // non-first fragment: no L4 header quoted
  bad.push_back(frag);
  for (std::size_t i = 0; i < bad.size(); ++i) {
    Decoded d =
        decode_ok(FrameBuilder{}.ipv4().icmp({.type = 3, .code = 1, .body = bad[i]}).build());
    EXPECT_TRUE(d.l4_ok) << i;
    EXPECT_FALSE(d.quoted.present) << i;
    EXPECT_EQ(d.quoted.sport, 0) << i;
  }
}

TEST(DecodeIcmp, QuoteOfUnknownProtocolNeedsOnlyTheIpHeader) {
  FrameBuilder orig;
  orig.ipv4({.src = ip4(1, 2, 3, 4)}).raw(47, {});
  Decoded d = decode_ok(FrameBuilder{}.ipv4().icmp({.type = 3, .body = orig.ip_packet()}).build());
  ASSERT_TRUE(d.quoted.present);
  EXPECT_EQ(d.quoted.proto, 47);
  EXPECT_EQ(d.quoted.src, ip4(1, 2, 3, 4));
}

TEST(DecodeIcmp, QuoteDoesNotReadEthernetPadding) {
  FrameBuilder orig;
  orig.ipv4().udp();
  Bytes q = orig.ip_packet();
  q.resize(24);  // 4 bytes of UDP; the padding after it must not complete the quote
  Decoded d = decode_ok(FrameBuilder{}.ipv4().icmp({.type = 3, .body = q}).pad_to(100).build());
  EXPECT_FALSE(d.quoted.present);
}

TEST(DecodeIcmpv6, EchoRequestAndReply) {
  for (uint8_t type : {uint8_t{128}, uint8_t{129}}) {
    Decoded d =
        decode_ok(FrameBuilder{}.ipv6().icmp({.type = type, .id = 0xabcd, .seq = 1}).build());
    ASSERT_TRUE(d.l4_ok);
    EXPECT_EQ(d.ip_proto, kProtoIcmpv6);
    EXPECT_EQ(d.icmp_type, type);
    EXPECT_EQ(d.icmp_code, 0);
    EXPECT_EQ(d.icmp_id, 0xabcd);
    EXPECT_EQ(d.sport, 0xabcd);
    EXPECT_EQ(d.dport, 0);
    EXPECT_EQ(d.l4_payload_off, 54 + 8);
  }
}

TEST(DecodeIcmpv6, NeighborSolicitation) {
  // NS: 4 reserved bytes then the target address.
  Bytes target(16, 0);
  target[0] = 0xfe;
  target[1] = 0x80;
  target[15] = 2;
  Decoded d =
      decode_ok(FrameBuilder{}
                    .ipv6({.src = ip6("fe80::1"), .dst = ip6("ff02::1:ff00:2"), .hop_limit = 255})
                    .icmp({.type = 135, .body = target})
                    .build());
  ASSERT_TRUE(d.l4_ok);
  EXPECT_EQ(d.icmp_type, 135);
  EXPECT_EQ(d.icmp_code, 0);
  EXPECT_EQ(d.icmp_id, 0);
  EXPECT_EQ(d.sport, 0);
  EXPECT_EQ(d.ttl, 255);
  EXPECT_EQ(d.l4_payload_off, 54 + 4);  // only type/code/checksum are the common header
  EXPECT_FALSE(d.quoted.present);
}

TEST(DecodeIcmpv6, FourByteMessageIsEnoughForNonEchoNonError) {
  Decoded d = decode_ok(FrameBuilder{}.ipv6().raw(kProtoIcmpv6, {133, 0, 0, 0}).build());
  EXPECT_TRUE(d.l4_ok);
  EXPECT_EQ(d.icmp_type, 133);
}

TEST(DecodeIcmpv6, PacketTooBigQuotesTcpBehindExtensionHeaders) {
  Ipv6Spec inner{.src = ip6("2001:db8::1"), .dst = ip6("2001:db8::2")};
  inner.ext = {{0, Bytes(6, 0)}, {60, Bytes(6, 0)}};
  FrameBuilder orig;
  orig.ipv6(inner).tcp({.sport = 22, .dport = 60000, .seq = 77});
  Bytes q = orig.ip_packet();
  q.resize(40 + 16 + 8);
  Decoded d = decode_ok(FrameBuilder{}.ipv6().icmp({.type = 2, .seq = 1280, .body = q}).build());
  ASSERT_TRUE(d.l4_ok);
  EXPECT_EQ(d.icmp_type, 2);
  EXPECT_EQ(d.l4_payload_off, 54 + 8);
  ASSERT_TRUE(d.quoted.present);
  EXPECT_EQ(d.quoted.proto, kProtoTcp);
  EXPECT_EQ(d.quoted.src, ip6("2001:db8::1"));
  EXPECT_EQ(d.quoted.dst, ip6("2001:db8::2"));
  EXPECT_EQ(d.quoted.sport, 22);
  EXPECT_EQ(d.quoted.dport, 60000);
  EXPECT_EQ(d.quoted.tcp_seq, 77u);
}

TEST(DecodeIcmpv6, ErrorQuotingEcho) {
  FrameBuilder orig;
  orig.ipv6().icmp({.type = 128, .id = 0x77});
  Decoded d = decode_ok(FrameBuilder{}.ipv6().icmp({.type = 3, .body = orig.ip_packet()}).build());
  ASSERT_TRUE(d.quoted.present);
  EXPECT_EQ(d.quoted.proto, kProtoIcmpv6);
  EXPECT_EQ(d.quoted.icmp_type, 128);
  EXPECT_EQ(d.quoted.sport, 0x77);
}

TEST(DecodeIcmpv6, MalformedQuotesAreAbsent) {
  FrameBuilder orig;
  Ipv6Spec s;
  s.ext = {{60, Bytes(14, 0)}};
  orig.ipv6(s).udp();
  Bytes full = orig.ip_packet();
  std::vector<Bytes> bad = {
      Bytes(full.begin(), full.begin() + 39),  // header cut
      Bytes(full.begin(), full.begin() + 50),  // ext header cut
      Bytes(full.begin(), full.begin() + 60),  // 4 bytes of UDP
  };
  Bytes v4 = full;
  v4[0] = 0x45;
  bad.push_back(v4);
  Ipv6Spec fs;
  fs.ext = {ipv6_frag_ext(8, false, 3)};
  FrameBuilder nonfirst;
  nonfirst.ipv6(fs).raw(kProtoUdp, Bytes(8, 0));
  bad.push_back(nonfirst.ip_packet());
  Ipv6Spec many;
  for (int i = 0; i < 9; ++i) many.ext.push_back({60, {}});
  FrameBuilder longchain;
  longchain.ipv6(many).udp();
  bad.push_back(longchain.ip_packet());
  for (std::size_t i = 0; i < bad.size(); ++i) {
    Decoded d =
        decode_ok(FrameBuilder{}.ipv6().icmp({.type = 1, .code = 3, .body = bad[i]}).build());
    EXPECT_TRUE(d.l4_ok) << i;
    EXPECT_FALSE(d.quoted.present) << i;
  }
}

}  // namespace
}  // namespace tapwall
