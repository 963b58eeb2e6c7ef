// gso_segment tests: crafted TCP (IPv4, IPv6, VLAN-tagged) and UDP super-frames are split
// into segments whose checksums verify with an independent checksum, whose headers carry
// the per-segment fields the kernel's GSO would write, and whose payloads reassemble to
// the original.
#include "../../dataplane/port/gso_segment.hpp"

#include <gtest/gtest.h>

#include "test_frames.hpp"

namespace tapwall::port_detail {
namespace {

using test::build_frame;
using test::FrameSpec;
using test::rd16;
using test::rd32;

struct Segs {
  GsoPlan plan;
  std::vector<std::vector<uint8_t>> segs;
};

Segs segment(const std::vector<uint8_t>& f, bool udp, uint32_t mss) {
  Segs s;
  EXPECT_TRUE(plan_segments(f, udp, mss, s.plan));
  std::vector<uint8_t> out(s.plan.out_bytes);
  std::vector<uint32_t> lens(s.plan.segments);
  EXPECT_TRUE(write_segments(f, s.plan, out, lens));
  std::size_t off = 0;
  for (uint32_t l : lens) {
    s.segs.emplace_back(out.begin() + off, out.begin() + off + l);
    off += l;
  }
  EXPECT_EQ(off, s.plan.out_bytes);
  return s;
}

void check_tcp(const FrameSpec& spec, uint32_t mss) {
  SCOPED_TRACE(testing::Message() << "v6=" << spec.v6 << " vlan=" << spec.vlan << " mss=" << mss);
  auto b = build_frame(spec);
  // Garbage in the super-frame's checksum fields must not matter: offload leaves them so.
  b.bytes[b.l4 + 16] ^= 0x5a;
  if (!spec.v6) b.bytes[b.l3 + 10] ^= 0x33;
  const Segs s = segment(b.bytes, false, mss);
  const std::size_t expect_n = (spec.payload + mss - 1) / mss;
  ASSERT_EQ(s.segs.size(), expect_n);
  std::vector<uint8_t> payload;
  const std::size_t hdr = b.payload_off;
  for (std::size_t k = 0; k < s.segs.size(); ++k) {
    const auto& g = s.segs[k];
    SCOPED_TRACE(k);
    ASSERT_GT(g.size(), hdr);
    EXPECT_LE(g.size() - hdr, mss);
    EXPECT_TRUE(std::equal(g.begin(), g.begin() + 12, b.bytes.begin()));  // MACs, tag
    EXPECT_TRUE(test::checksums_ok(g, b.l3, spec.v6, false));
    if (!spec.v6) {
      EXPECT_EQ(rd16(&g[b.l3 + 2]), g.size() - b.l3);
      EXPECT_EQ(rd16(&g[b.l3 + 4]), uint16_t(spec.ip_id + k));
      EXPECT_EQ(rd16(&g[b.l3 + 6]), 0x4000);  // DF kept
    } else {
      EXPECT_EQ(rd16(&g[b.l3 + 4]), g.size() - b.l3 - 40);
    }
    EXPECT_EQ(rd32(&g[b.l4 + 4]), spec.seq + uint32_t(payload.size()));
    const uint8_t fl = g[b.l4 + 13];
    const bool last = k + 1 == s.segs.size();
    EXPECT_EQ(bool(fl & 0x01), last && (spec.tcp_flags & 0x01));  // FIN
    EXPECT_EQ(bool(fl & 0x08), last && (spec.tcp_flags & 0x08));  // PSH
    EXPECT_EQ(bool(fl & 0x80), k == 0 && (spec.tcp_flags & 0x80));  // CWR
    EXPECT_TRUE(fl & 0x10);  // ACK everywhere
    payload.insert(payload.end(), g.begin() + hdr, g.end());
  }
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), b.bytes.begin() + hdr, b.bytes.end()));
  EXPECT_EQ(payload.size(), spec.payload);
}

TEST(GsoSegment, TcpV4SplitsAtMssWithPerSegmentHeaders) {
  FrameSpec s;
  s.payload = 10000;
  s.tcp_flags = 0x10 | 0x08 | 0x01 | 0x80;  // ACK PSH FIN CWR
  check_tcp(s, 1448);
}

TEST(GsoSegment, TcpV4UnevenLastSegmentAndLargeFrame) {
  FrameSpec s;
  s.payload = 65000;
  s.tcp_flags = 0x18;
  s.ip_id = 0xfffe;  // the ID wraps
  check_tcp(s, 1460);
}

TEST(GsoSegment, TcpV6) {
  FrameSpec s;
  s.v6 = true;
  s.payload = 5000;
  s.tcp_flags = 0x10 | 0x01 | 0x80;
  check_tcp(s, 1428);
}

TEST(GsoSegment, VlanTaggedTcpV4) {
  FrameSpec s;
  s.vlan = 42;
  s.payload = 3001;
  s.tcp_flags = 0x18;
  check_tcp(s, 1000);
}

TEST(GsoSegment, PayloadNotAboveMssGivesOneSegmentWithValidChecksum) {
  FrameSpec s;
  s.payload = 500;
  check_tcp(s, 1448);
}

TEST(GsoSegment, UdpL4SplitsIntoDatagrams) {
  FrameSpec s;
  s.udp = true;
  s.payload = 4000;
  const auto b = build_frame(s);
  const Segs r = segment(b.bytes, true, 1400);
  ASSERT_EQ(r.segs.size(), 3u);
  std::vector<uint8_t> payload;
  for (std::size_t k = 0; k < r.segs.size(); ++k) {
    const auto& g = r.segs[k];
    EXPECT_TRUE(test::checksums_ok(g, b.l3, false, true));
    EXPECT_EQ(rd16(&g[b.l4 + 4]), g.size() - b.l4);
    EXPECT_EQ(rd16(&g[b.l3 + 4]), uint16_t(s.ip_id + k));
    payload.insert(payload.end(), g.begin() + b.payload_off, g.end());
  }
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), b.bytes.begin() + b.payload_off, b.bytes.end()));
}

TEST(GsoSegment, EthernetPaddingIsNotPayload) {
  FrameSpec s;
  s.payload = 3000;
  auto b = build_frame(s);
  b.bytes.resize(b.bytes.size() + 6, 0xee);  // trailer beyond the IP datagram
  const Segs r = segment(b.bytes, false, 1448);
  std::size_t total = 0;
  for (const auto& g : r.segs) total += g.size() - b.payload_off;
  EXPECT_EQ(total, 3000u);
}

TEST(GsoSegment, RefusesWhatItCannotSegment) {
  GsoPlan p;
  FrameSpec s;
  auto tcp = build_frame(s);
  EXPECT_FALSE(plan_segments(tcp.bytes, true, 1000, p));   // asked for UDP, is TCP
  EXPECT_FALSE(plan_segments(tcp.bytes, false, 0, p));     // mss 0
  auto frag = tcp.bytes;
  frag[tcp.l3 + 6] = 0x20;  // MF
  EXPECT_FALSE(plan_segments(frag, false, 1000, p));
  auto cut = tcp.bytes;
  cut.resize(tcp.l4 + 10);  // IP length now beyond the frame
  EXPECT_FALSE(plan_segments(cut, false, 1000, p));
  std::vector<uint8_t> arp(42, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_FALSE(plan_segments(arp, false, 1000, p));
}

}  // namespace
}  // namespace tapwall::port_detail
