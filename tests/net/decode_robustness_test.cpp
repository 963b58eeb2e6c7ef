// decode_frame() on hostile input: every truncation of valid frames, and every single-byte
// corruption of them. Run under ASan/UBSan, an out-of-bounds read fails the test even when
// the returned reason looks right; the reason itself is checked against the layer the cut
// falls in, and every success is checked against Decoded's invariants.
#include <gtest/gtest.h>

#include <string>

#include "frame_builder.hpp"
#include "tapwall/decoded.hpp"

namespace tapwall {
namespace {

using namespace test;

struct Sample {
  std::string name;
  Bytes frame;
};

std::vector<Sample> samples() {
  std::vector<Sample> s;
  Bytes opts = {2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8};
  s.push_back({"tcp4_syn", FrameBuilder{}.ipv4().tcp({.flags = kTcpSyn, .options = opts}).build()});
  s.push_back({"tcp4_ack_padded", FrameBuilder{}.ipv4().tcp().pad_to(60).build()});
  s.push_back(
      {"udp4_ipopts", FrameBuilder{}.ipv4({.options = {0x94, 4, 0, 0, 1, 0}}).udp().build()});
  s.push_back(
      {"qinq_tcp6", FrameBuilder{}.vlan(1, 0x88a8).vlan(2).ipv6().tcp({.options = opts}).build()});
  Ipv6Spec chain;
  chain.ext = {{0, Bytes(6, 0)},
               {43, Bytes(6, 0)},
               {51, Bytes(10, 0)},
               ipv6_frag_ext(0, true, 9),
               {60, Bytes(6, 0)}};
  s.push_back({"udp6_chain_frag", FrameBuilder{}.vlan(3).ipv6(chain).udp().build()});
  FrameBuilder q4;
  q4.ipv4().tcp();
  s.push_back(
      {"icmp4_err", FrameBuilder{}.ipv4().icmp({.type = 3, .body = q4.ip_packet()}).build()});
  Ipv6Spec qchain;
  qchain.ext = {{60, Bytes(6, 0)}};
  FrameBuilder q6;
  q6.ipv6(qchain).udp();
  s.push_back(
      {"icmp6_err", FrameBuilder{}.ipv6().icmp({.type = 1, .body = q6.ip_packet()}).build()});
  s.push_back({"icmp6_echo", FrameBuilder{}.ipv6().icmp({.type = 128, .id = 1}).build()});
  s.push_back({"arp", FrameBuilder{}
                          .ethertype(kEthTypeArp)
                          .raw(0, Bytes{0, 1, 8, 0,  6,  4,  0,  1,  1,  2,  3,  4,  5,  6,
                                        7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
                          .build()});
  return s;
}

// The invariants decoded.hpp promises for a successful decode of `len` bytes.
void expect_invariants(const Decoded& d, std::size_t len, const std::string& ctx) {
  EXPECT_LE(d.vlan_count, 2) << ctx;
  EXPECT_EQ(d.l3_off, 14u + 4u * d.vlan_count) << ctx;
  EXPECT_LE(d.l3_off, len) << ctx;
  if (d.l3 == L3Kind::Ipv4 || d.l3 == L3Kind::Ipv6) {
    EXPECT_GE(d.l4_off, d.l3_off + (d.l3 == L3Kind::Ipv4 ? 20u : 40u)) << ctx;
    EXPECT_LE(d.l4_off, d.ip_end) << ctx;
    EXPECT_LE(d.ip_end, len) << ctx;
    if (d.frag_hdr_off) {
      EXPECT_LE(d.frag_hdr_off + 8u, d.ip_end) << ctx;
      EXPECT_EQ(d.frag_hdr_off, d.l3_off + d.frag_unfrag_len) << ctx;
    }
    if (d.frag_offset != 0) {
      EXPECT_FALSE(d.l4_ok) << ctx;
    }
  } else {
    EXPECT_FALSE(d.l4_ok) << ctx;
  }
  if (d.l4_ok) {
    EXPECT_GT(d.l4_payload_off, d.l4_off) << ctx;
    EXPECT_LE(d.l4_payload_off, d.ip_end) << ctx;
    if (d.ip_proto == kProtoTcp) {
      EXPECT_GE(d.tcp_doff, 20) << ctx;
      EXPECT_EQ(d.l4_off + d.tcp_doff, d.l4_payload_off) << ctx;
      EXPECT_LE(d.tcp_wscale, 14) << ctx;
    }
  }
}

bool same_decode(const Decoded& a, const Decoded& b) {
  return a.dst_mac == b.dst_mac && a.src_mac == b.src_mac && a.vlan_count == b.vlan_count &&
         a.vlan == b.vlan && a.ethertype == b.ethertype && a.l3_off == b.l3_off && a.l3 == b.l3 &&
         a.src_ip == b.src_ip && a.dst_ip == b.dst_ip && a.ip_proto == b.ip_proto &&
         a.ip_end == b.ip_end && a.l4_off == b.l4_off && a.is_fragment == b.is_fragment &&
         a.frag_hdr_off == b.frag_hdr_off && a.l4_ok == b.l4_ok && a.sport == b.sport &&
         a.dport == b.dport && a.l4_payload_off == b.l4_payload_off && a.tcp_flags == b.tcp_flags &&
         a.tcp_mss == b.tcp_mss && a.tcp_wscale == b.tcp_wscale && a.icmp_type == b.icmp_type &&
         a.quoted.present == b.quoted.present && a.quoted.sport == b.quoted.sport;
}

// The reason a cut at `len` must give, from the layer the cut falls in.
DropReason expected_for_cut(const Decoded& full, std::size_t len) {
  if (len < 14) return DropReason::EthTruncated;
  if (len < full.l3_off) return DropReason::VlanTruncated;
  if (full.l3 == L3Kind::Arp) return DropReason::ArpTruncated;
  if (full.l3 == L3Kind::Ipv4) {
    return len < std::size_t(full.l4_off) ? DropReason::Ipv4Truncated
                                          : DropReason::Ipv4BadTotalLength;
  }
  return len < full.l3_off + 40u ? DropReason::Ipv6Truncated : DropReason::Ipv6BadPayloadLength;
}

TEST(DecodeRobustness, EveryTruncationGivesTheLayersReason) {
  for (const Sample& s : samples()) {
    Decoded full;
    ASSERT_EQ(decode_frame(s.frame, full), DropReason::None) << s.name;
    const std::size_t end = full.l3 == L3Kind::Arp ? full.l3_off + 28u : full.ip_end;
    for (std::size_t len = 0; len <= s.frame.size(); ++len) {
      // A copy of exactly `len` bytes, so ASan catches any read past the cut.
      Bytes cut(s.frame.begin(), s.frame.begin() + len);
      Decoded d;
      DropReason r = decode_frame(cut, d);
      std::string ctx = s.name + " len=" + std::to_string(len);
      if (len >= end) {
        ASSERT_EQ(r, DropReason::None) << ctx;
        EXPECT_TRUE(same_decode(d, full)) << ctx;
        expect_invariants(d, len, ctx);
      } else {
        EXPECT_EQ(r, expected_for_cut(full, len)) << ctx;
      }
    }
  }
}

TEST(DecodeRobustness, EverySingleByteCorruptionIsSafe) {
  std::size_t ok = 0, dropped = 0;
  for (const Sample& s : samples()) {
    for (std::size_t i = 0; i < s.frame.size(); ++i) {
      for (uint8_t v :
           {uint8_t{0}, uint8_t{0xff}, uint8_t(s.frame[i] ^ 0x01), uint8_t(s.frame[i] ^ 0x80),
            uint8_t(s.frame[i] + 4), uint8_t{0x2c}, uint8_t{0x3b}, uint8_t{0x81}}) {
        Bytes f = s.frame;
        f[i] = v;
        Decoded d;
        DropReason r = decode_frame(f, d);
        if (r == DropReason::None) {
          ++ok;
          expect_invariants(d, f.size(), s.name + " byte " + std::to_string(i));
        } else {
          ++dropped;
        }
      }
    }
  }
  // Both outcomes occur: the corpus exercises the checks, not only the happy path.
  EXPECT_GT(ok, 0u);
  EXPECT_GT(dropped, 0u);
}

TEST(DecodeRobustness, HugeFrameIsBoundedTo16BitOffsets) {
  // A frame longer than 65535 bytes (e.g. a reassembly buffer with slack): offsets in
  // Decoded are 16-bit, so decode considers the first 65535 bytes only.
  Bytes f = FrameBuilder{}.ipv4().udp({.payload = Bytes(65000, 0)}).build();
  f.resize(70000, 0);
  Decoded d;
  ASSERT_EQ(decode_frame(f, d), DropReason::None);
  EXPECT_EQ(d.ip_end, 14 + 20 + 8 + 65000);

  Bytes g = FrameBuilder{}.ipv4().udp({.payload = Bytes(65507, 0)}).build();  // 65535-byte IP
  EXPECT_EQ(decode_frame(g, d), DropReason::Ipv4BadTotalLength);  // ends at 65549: unrepresentable
}

}  // namespace
}  // namespace tapwall
