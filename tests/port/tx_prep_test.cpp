// TxPrep tests: the per-frame TX decision for egresses with and without vnet headers —
// what is passed with metadata, segmented, checksum-completed, or refused (and why).
#include "../../dataplane/port/tx_prep.hpp"

#include <gtest/gtest.h>

#include "test_frames.hpp"

namespace tapwall::port_detail {
namespace {

using test::build_frame;
using test::FrameSpec;

TEST(TxPrep, NoVnetSegmentsOversizedTcpWithoutMetadata) {
  FrameSpec s;
  s.payload = 4000;
  const auto b = build_frame(s);
  TxPrep p(TxCaps{false, 1500});
  TxStatus why = TxStatus::Sent;
  ASSERT_EQ(p.add({b.bytes, nullptr}, 3, why), TxPrep::Add::Ok);
  const auto pieces = p.pieces();
  ASSERT_EQ(pieces.size(), 3u);  // mss = 1500 - 20 - 32 = 1448
  for (const auto& pc : pieces) {
    EXPECT_EQ(pc.frame, 3u);
    EXPECT_LE(pc.len, 1514u);
    std::vector<uint8_t> seg(pc.data, pc.data + pc.len);
    EXPECT_TRUE(test::checksums_ok(seg, b.l3, false, false));
  }
  EXPECT_EQ(p.counters().segmented, 1u);
  EXPECT_EQ(p.counters().segments, 3u);
}

TEST(TxPrep, NoVnetUsesSmallerGsoSize) {
  FrameSpec s;
  s.payload = 4000;
  const auto b = build_frame(s);
  OffloadInfo o;
  o.gso_type = GsoType::TcpV4;
  o.gso_size = 1000;
  TxPrep p(TxCaps{false, 1500});
  TxStatus why;
  ASSERT_EQ(p.add({b.bytes, &o}, 0, why), TxPrep::Add::Ok);
  EXPECT_EQ(p.pieces().size(), 4u);
}

TEST(TxPrep, OversizedNonTcpIsRefusedAsMtuExceeded) {
  FrameSpec s;
  s.udp = true;
  s.payload = 3000;
  const auto b = build_frame(s);
  for (bool vnet : {false, true}) {
    TxPrep p(TxCaps{vnet, 1500});
    TxStatus why = TxStatus::Sent;
    EXPECT_EQ(p.add({b.bytes, nullptr}, 0, why), TxPrep::Add::Refused);
    EXPECT_EQ(why, TxStatus::MtuExceeded);
    EXPECT_TRUE(p.empty());
  }
}

TEST(TxPrep, FrameAtMtuPlusVlanHeaderIsNotOversized) {
  FrameSpec s;
  s.udp = true;
  s.vlan = 9;
  s.payload = 1500 - 20 - 8;
  const auto b = build_frame(s);
  ASSERT_EQ(b.bytes.size(), 1518u);
  TxPrep p(TxCaps{false, 1500});
  TxStatus why;
  EXPECT_EQ(p.add({b.bytes, nullptr}, 0, why), TxPrep::Add::Ok);
  EXPECT_EQ(p.pieces()[0].data, b.bytes.data());  // sent as is, no copy
}

TEST(TxPrep, VnetPassesGsoMetadataThrough) {
  FrameSpec s;
  s.payload = 20000;
  const auto b = build_frame(s);
  OffloadInfo o;
  o.flags = kOffloadNeedsCsum;
  o.gso_type = GsoType::TcpV4;
  o.gso_ecn = true;
  o.gso_size = 1448;
  o.hdr_len = 66;
  o.csum_start = 34;
  o.csum_offset = 16;
  TxPrep p(TxCaps{true, 1500});
  TxStatus why;
  ASSERT_EQ(p.add({b.bytes, &o}, 0, why), TxPrep::Add::Ok);
  ASSERT_EQ(p.pieces().size(), 1u);
  const auto& v = p.pieces()[0].vnet;
  EXPECT_EQ(p.pieces()[0].data, b.bytes.data());
  EXPECT_EQ(v.flags, 1);
  EXPECT_EQ(v.gso_type, 0x81);
  EXPECT_EQ(v.gso_size, 1448);
  EXPECT_EQ(v.hdr_len, 66);
  EXPECT_EQ(v.csum_start, 34);
  EXPECT_EQ(v.csum_offset, 16);
}

TEST(TxPrep, NoVnetCompletesNeedsCsumOnACopy) {
  FrameSpec s;
  s.payload = 300;
  auto b = build_frame(s);
  // What a CHECKSUM_PARTIAL sender hands over: the pseudo-header sum in the field.
  const uint32_t l4_len = uint32_t(b.bytes.size() - b.l4);
  uint32_t ps = test::pseudo_sum(b.bytes, b.l3, false, 6, l4_len);
  while (ps >> 16) ps = (ps & 0xffff) + (ps >> 16);
  test::wr16(&b.bytes[b.l4 + 16], uint16_t(ps));
  const auto original = b.bytes;
  OffloadInfo o;
  o.flags = kOffloadNeedsCsum;
  o.csum_start = uint16_t(b.l4);
  o.csum_offset = 16;
  TxPrep p(TxCaps{false, 1500});
  TxStatus why;
  ASSERT_EQ(p.add({b.bytes, &o}, 0, why), TxPrep::Add::Ok);
  const auto& pc = p.pieces()[0];
  EXPECT_NE(pc.data, b.bytes.data());
  std::vector<uint8_t> sent(pc.data, pc.data + pc.len);
  EXPECT_TRUE(test::checksums_ok(sent, b.l3, false, false));
  EXPECT_EQ(b.bytes, original);  // the caller's (ring) bytes are never written
  EXPECT_EQ(p.counters().csum_completed, 1u);
  // With vnet headers the kernel completes it: passed as is, with NEEDS_CSUM.
  TxPrep v(TxCaps{true, 1500});
  ASSERT_EQ(v.add({b.bytes, &o}, 0, why), TxPrep::Add::Ok);
  EXPECT_EQ(v.pieces()[0].data, b.bytes.data());
  EXPECT_EQ(v.pieces()[0].vnet.flags, kOffloadNeedsCsum);
  EXPECT_EQ(v.pieces()[0].vnet.csum_start, b.l4);
}

TEST(TxPrep, CsumUnknownIsRecomputedOnBothEgressKinds) {
  FrameSpec s;
  s.payload = 300;
  auto b = build_frame(s);
  b.bytes[b.l4 + 16] ^= 0xff;
  OffloadInfo o;
  o.flags = kOffloadCsumUnknown;
  for (bool vnet : {false, true}) {
    TxPrep p(TxCaps{vnet, 1500});
    TxStatus why;
    ASSERT_EQ(p.add({b.bytes, &o}, 0, why), TxPrep::Add::Ok);
    const auto& pc = p.pieces()[0];
    std::vector<uint8_t> sent(pc.data, pc.data + pc.len);
    EXPECT_TRUE(test::checksums_ok(sent, b.l3, false, false)) << vnet;
    EXPECT_EQ(pc.vnet.flags, 0);  // kOffloadCsumUnknown never reaches the kernel
  }
}

TEST(TxPrep, FullThenClearAcceptsTheFrame) {
  FrameSpec s;
  s.payload = 60000;
  const auto b = build_frame(s);
  TxPrep p(TxCaps{false, 1500}, 128 * 1024, 64);
  TxStatus why;
  ASSERT_EQ(p.add({b.bytes, nullptr}, 0, why), TxPrep::Add::Ok);  // 42 segments
  EXPECT_EQ(p.add({b.bytes, nullptr}, 1, why), TxPrep::Add::Full);
  EXPECT_EQ(p.pieces().size(), 42u);
  p.clear();
  EXPECT_EQ(p.add({b.bytes, nullptr}, 1, why), TxPrep::Add::Ok);
}

TEST(TxPrep, TinyGsoSizeThatCannotFitIsATxError) {
  FrameSpec s;
  s.payload = 60000;
  const auto b = build_frame(s);
  OffloadInfo o;
  o.gso_type = GsoType::TcpV4;
  o.gso_size = 8;  // 7500 segments
  TxPrep p(TxCaps{false, 1500});
  TxStatus why = TxStatus::Sent;
  EXPECT_EQ(p.add({b.bytes, &o}, 0, why), TxPrep::Add::Refused);
  EXPECT_EQ(why, TxStatus::TxError);
}

}  // namespace
}  // namespace tapwall::port_detail
