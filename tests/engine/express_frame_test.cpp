// parse_express() against decode_frame(): for every frame it accepts, decode_frame() must
// succeed and find the same fields (so the express path never passes a frame the general
// path would drop or read differently), and fill_decoded() must give decode_frame()'s
// Decoded byte for byte, over valid frames of its shape and random mutations of them; and
// parse_express() must refuse each thing outside its shape.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "express_frame.hpp"
#include "frame_builder.hpp"
#include "tapwall/checksum.hpp"

namespace tapwall {
namespace {

using test::Bytes;
using test::FrameBuilder;
using test::ip4;
using test::mac;

const Bytes kTimestamps = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};

Bytes tcp_frame(uint8_t flags = kTcpAck, Bytes options = {}, Bytes payload = {}) {
  return FrameBuilder{}
      .eth(mac(2, 0, 0, 0, 0, 2), mac(2, 0, 0, 0, 0, 1))
      .ipv4({.src = ip4(192, 0, 2, 1), .dst = ip4(198, 51, 100, 7)})
      .tcp({.sport = 40000, .dport = 443, .seq = 123456, .ack = 654321, .flags = flags,
            .window = 5000, .options = std::move(options), .payload = std::move(payload)})
      .build();
}

Bytes tcp6_frame(uint8_t flags = kTcpAck, Bytes options = {}, Bytes payload = {}) {
  return FrameBuilder{}
      .eth(mac(2, 0, 0, 0, 0, 2), mac(2, 0, 0, 0, 0, 1))
      .ipv6({.src = test::ip6("2001:db8::1"), .dst = test::ip6("2001:db8:1::7"), .hop_limit = 9})
      .tcp({.sport = 40000, .dport = 443, .seq = 123456, .ack = 654321, .flags = flags,
            .window = 5000, .options = std::move(options), .payload = std::move(payload)})
      .build();
}

Bytes udp6_frame(Bytes payload = {}, bool zero_checksum = false) {
  return FrameBuilder{}
      .eth(mac(2, 0, 0, 0, 0, 2), mac(2, 0, 0, 0, 0, 1))
      .ipv6({.src = test::ip6("2001:db8::1"), .dst = test::ip6("2001:db8:1::7")})
      .udp({.sport = 5353, .dport = 5000, .payload = std::move(payload),
            .zero_checksum = zero_checksum})
      .build();
}

Bytes udp_frame(Bytes payload = {}) {
  return FrameBuilder{}
      .eth(mac(2, 0, 0, 0, 0, 2), mac(2, 0, 0, 0, 0, 1))
      .ipv4({.src = ip4(192, 0, 2, 1), .dst = ip4(198, 51, 100, 7)})
      .udp({.sport = 5353, .dport = 5000, .payload = std::move(payload)})
      .build();
}

// Accepted by parse_express() => decoded alike by decode_frame().
void expect_agrees(const Bytes& f) {
  ExpressFrame x;
  if (!parse_express(f, x)) return;
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  ASSERT_EQ(d.l3, x.v6 ? L3Kind::Ipv6 : L3Kind::Ipv4);
  EXPECT_EQ(d.vlan_count, 0);
  EXPECT_FALSE(d.is_fragment);
  EXPECT_FALSE(d.ipv4_has_options);
  ASSERT_TRUE(d.l4_ok);
  EXPECT_EQ(x.dst_key, mac_detail::make_key(d.dst_mac));
  EXPECT_EQ(x.src_key, mac_detail::make_key(d.src_mac));
  EXPECT_EQ(x.eth, f.data());
  EXPECT_EQ(x.ip, f.data() + d.l3_off);
  EXPECT_EQ(x.l4, f.data() + d.l4_off);
  EXPECT_EQ(x.l4_len, uint32_t(d.ip_end - d.l4_off));
  EXPECT_EQ(x.ct.ip_len, uint32_t(d.ip_end - d.l3_off));
  EXPECT_EQ(x.ct.key.src, d.src_ip);
  EXPECT_EQ(x.ct.key.dst, d.dst_ip);
  EXPECT_EQ(x.ct.key.sport, d.sport);
  EXPECT_EQ(x.ct.key.dport, d.dport);
  EXPECT_EQ(x.ct.key.proto, d.ip_proto);
  if (d.ip_proto == kProtoTcp) {
    EXPECT_EQ(x.ct.tcp.flags, d.tcp_flags);
    EXPECT_EQ(x.ct.tcp.seq, d.tcp_seq);
    EXPECT_EQ(x.ct.tcp.ack, d.tcp_ack);
    EXPECT_EQ(x.ct.tcp.win, d.tcp_window);
    EXPECT_EQ(x.ct.tcp.payload_len, uint32_t(d.ip_end - d.l4_off - d.tcp_doff));
    EXPECT_EQ(x.ct.tcp.options.data(), f.data() + d.l4_off + 20);
    EXPECT_EQ(x.ct.tcp.options.size(), d.tcp_doff - 20u);
  } else {
    EXPECT_EQ(d.ip_proto, kProtoUdp);
  }
  // The checksums as the general path checks them: br_netfilter the IPv4 header, conntrack
  // the segment (UDP's 0 is "none" to it).
  const bool header_ok =
      x.v6 || ipv4_header_checksum_ok(std::span<const uint8_t>(f).subspan(d.l3_off, 20));
  const bool udp_none = d.ip_proto == kProtoUdp && load_be16(f.data() + d.l4_off + 6) == 0;
  EXPECT_EQ(express_checksums_ok(x, true), header_ok && (udp_none || l4_checksum_ok(d, f)));
  EXPECT_EQ(express_checksums_ok(x, false), header_ok);
  Decoded filled;
  std::memset(static_cast<void*>(&filled), 0x5a, sizeof filled);  // whatever was there before
  fill_decoded(x, filled);
  EXPECT_EQ(std::memcmp(&filled, &d, sizeof d), 0) << "fill_decoded() differs from decode_frame()";
}

TEST(ExpressFrame, ReadsItsShapeAsDecodeFrameDoes) {
  ExpressFrame x;
  for (const Bytes& f : {tcp_frame(), tcp_frame(kTcpAck | kTcpPsh, kTimestamps, Bytes(100, 7)),
                         tcp_frame(kTcpAck | kTcpUrg | kTcpEce), udp_frame(Bytes(30, 1)),
                         tcp6_frame(), tcp6_frame(kTcpAck, kTimestamps, Bytes(77, 1)),
                         udp6_frame(Bytes(5, 5)), udp6_frame({}, true)}) {
    EXPECT_TRUE(parse_express(f, x));
    EXPECT_TRUE(express_checksums_ok(x, true));
    expect_agrees(f);
  }
}

TEST(ExpressFrame, RefusesEverythingElse) {
  ExpressFrame x;
  for (uint8_t flags : {kTcpSyn, uint8_t(kTcpSyn | kTcpAck), uint8_t(kTcpFin | kTcpAck), kTcpRst,
                        uint8_t(kTcpRst | kTcpAck), uint8_t(0), kTcpPsh})
    EXPECT_FALSE(parse_express(tcp_frame(flags), x)) << int(flags);
  EXPECT_FALSE(parse_express(tcp_frame(kTcpAck, {1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2}), x));  // SACK
  EXPECT_FALSE(parse_express(tcp_frame(kTcpAck, {2, 4, 5, 180}), x));                         // MSS
  const Bytes tagged = FrameBuilder{}
                           .eth(mac(2, 0, 0, 0, 0, 2), mac(2, 0, 0, 0, 0, 1))
                           .vlan(5)
                           .ipv4({})
                           .tcp({})
                           .build();
  EXPECT_FALSE(parse_express(tagged, x));
  const Bytes v6_ext = FrameBuilder{}
                           .eth(mac(2, 0, 0, 0, 0, 2), mac(2, 0, 0, 0, 0, 1))
                           .ipv6({.ext = {test::Ipv6Ext{60, Bytes(6, 0)}}})
                           .tcp({})
                           .build();
  EXPECT_FALSE(parse_express(v6_ext, x));  // an extension header
  EXPECT_FALSE(parse_express(tcp6_frame(kTcpSyn | kTcpAck), x));
  const Bytes opts = FrameBuilder{}
                         .eth(mac(2, 0, 0, 0, 0, 2), mac(2, 0, 0, 0, 0, 1))
                         .ipv4({.options = {1, 1, 1, 1}})
                         .tcp({})
                         .build();
  EXPECT_FALSE(parse_express(opts, x));
  for (bool mf : {false, true}) {
    const Bytes frag = FrameBuilder{}
                           .eth(mac(2, 0, 0, 0, 0, 2), mac(2, 0, 0, 0, 0, 1))
                           .ipv4({.mf = mf, .frag_offset = uint16_t(mf ? 0 : 8)})
                           .raw(kProtoTcp, Bytes(20, 0x50))
                           .build();
    EXPECT_FALSE(parse_express(frag, x));
  }
  const Bytes icmp = FrameBuilder{}.eth(mac(2, 0, 0, 0, 0, 2), mac(2, 0, 0, 0, 0, 1)).ipv4({}).icmp({}).build();
  EXPECT_FALSE(parse_express(icmp, x));
}

TEST(ExpressFrame, AgreesWithDecodeFrameOnMutatedFrames) {
  std::mt19937 rng(7);
  const std::vector<Bytes> seeds = {tcp_frame(), tcp_frame(kTcpAck, kTimestamps, Bytes(40, 3)),
                                    udp_frame(Bytes(12, 9)), udp_frame(), tcp6_frame(),
                                    tcp6_frame(kTcpAck, kTimestamps, Bytes(9, 3)),
                                    udp6_frame(Bytes(20, 4)), udp6_frame({}, true)};
  int accepted = 0;
  for (int i = 0; i < 200000; ++i) {
    Bytes f = seeds[rng() % seeds.size()];
    // Flip a few bytes among the headers (lengths, offsets, flags, types), or cut the frame.
    const int flips = 1 + int(rng() % 3);
    for (int k = 0; k < flips; ++k) f[rng() % std::min<std::size_t>(f.size(), 86)] = uint8_t(rng());
    if (rng() % 8 == 0) f.resize(rng() % (f.size() + 1));
    ExpressFrame x;
    accepted += parse_express(f, x);
    expect_agrees(f);
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GT(accepted, 10000);  // the mutations kept many frames in the shape
}

}  // namespace
}  // namespace tapwall
