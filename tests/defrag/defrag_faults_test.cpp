// Inconsistent fragments: overlaps drop the whole datagram, duplicates only themselves (as
// the kernel's run logic decides), bad ends and oversize datagrams follow the per-family
// kernel rules documented in defrag.hpp, and malformed input is a counted drop.
#include <gtest/gtest.h>

#include "defrag/defrag_test_util.hpp"

namespace tapwall::test {
namespace {

// Payload bytes for hand-placed fragments: byte i of the datagram is pattern(i).
std::vector<uint8_t> pattern(std::size_t n) {
  std::vector<uint8_t> p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = uint8_t(i * 13 + 1);
  return p;
}

struct V4 {
  Ipv4Spec s;
  std::vector<uint8_t> data = pattern(4096);
  Built frag(uint16_t off, std::size_t len, bool mf) const {
    return ipv4_packet(s, off, mf, std::span(data).subspan(off, len));
  }
};

struct V6 {
  Ipv6Spec s;
  std::vector<uint8_t> data = pattern(4096);
  V6() { s.ext_types = {0}; }
  Built frag(uint16_t off, std::size_t len, bool mf) const {
    return ipv6_fragment(s, off, mf, std::span(data).subspan(off, len));
  }
};

TEST(DefragOverlap, PartialOverlapDropsWholeDatagramListingAll) {
  V4 g;
  Defragmenter df;
  const auto a = g.frag(0, 16, true), b = g.frag(32, 16, true), c = g.frag(8, 16, true);
  ASSERT_EQ(feed(df, a, 1, 1).status, DefragStatus::Held);
  ASSERT_EQ(feed(df, b, 2, 2).status, DefragStatus::Held);
  const auto r = feed(df, c, 3, 3);
  EXPECT_EQ(r.status, DefragStatus::Dropped);
  EXPECT_EQ(r.reason, DropReason::FragOverlap);
  EXPECT_EQ(cookies(df, r.datagram), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(bytes_of(df.fragments(r.datagram)[2].bytes), c.bytes);
  EXPECT_TRUE(df.reassembled(r.datagram).empty());
  EXPECT_EQ(df.stats().overlaps, 1u);
  df.release(r.datagram);
  EXPECT_EQ(df.bytes_held(), 0u);
  // The datagram is gone: its remaining fragments start afresh and never meet a, b, c.
  const auto r2 = feed(df, g.frag(16, 8, false), 4, 4);
  EXPECT_EQ(r2.status, DefragStatus::Held);
  EXPECT_EQ(cookies(df, r2.datagram), (std::vector<uint64_t>{4}));
}

TEST(DefragOverlap, ExactDuplicateIsDroppedAloneAndDatagramStillCompletes) {
  V4 g;
  Defragmenter df;
  const auto a = g.frag(0, 16, true);
  const auto held = feed(df, a, 1, 1);
  const std::size_t bytes = df.bytes_held();
  const auto dup = feed(df, a, 2, 2);
  EXPECT_EQ(dup.status, DefragStatus::Dropped);
  EXPECT_EQ(dup.reason, DropReason::FragDuplicate);
  EXPECT_NE(dup.datagram, held.datagram);
  EXPECT_EQ(cookies(df, dup.datagram), (std::vector<uint64_t>{2}));
  df.release(dup.datagram);  // a no-op for a lone drop
  EXPECT_EQ(df.bytes_held(), bytes);
  EXPECT_EQ(df.stats().duplicates, 1u);
  EXPECT_EQ(df.stats().overlaps, 0u);
  const auto r = feed(df, g.frag(16, 8, false), 3, 3);
  ASSERT_EQ(r.status, DefragStatus::Complete);
  EXPECT_EQ(r.datagram, held.datagram);
  EXPECT_EQ(cookies(df, r.datagram), (std::vector<uint64_t>{1, 3}));
}

TEST(DefragOverlap, DuplicateLastFragmentIsDroppedAlone) {
  V4 g;
  Defragmenter df;
  feed(df, g.frag(16, 8, false), 1, 1);
  const auto dup = feed(df, g.frag(16, 8, false), 2, 2);
  EXPECT_EQ(dup.status, DefragStatus::Dropped);
  EXPECT_EQ(dup.reason, DropReason::FragDuplicate);
  EXPECT_EQ(cookies(df, dup.datagram), (std::vector<uint64_t>{2}));
  EXPECT_EQ(feed(df, g.frag(0, 16, true), 3, 3).status, DefragStatus::Complete);
}

TEST(DefragOverlap, SubRangeOfAnInOrderRunIsADuplicate) {
  V4 g;
  Defragmenter df;
  feed(df, g.frag(0, 16, true), 1, 1);
  feed(df, g.frag(16, 16, true), 2, 2);  // back-to-back: one run [0, 32)
  const auto dup = feed(df, g.frag(8, 16, true), 3, 3);
  EXPECT_EQ(dup.status, DefragStatus::Dropped);
  EXPECT_EQ(dup.reason, DropReason::FragDuplicate);
  EXPECT_EQ(cookies(df, dup.datagram), (std::vector<uint64_t>{3}));
  const auto r = feed(df, g.frag(32, 8, false), 4, 4);
  ASSERT_EQ(r.status, DefragStatus::Complete);
  EXPECT_EQ(cookies(df, r.datagram), (std::vector<uint64_t>{1, 2, 4}));
}

TEST(DefragOverlap, SameBytesAcrossTwoRunsIsAnOverlap) {
  V4 g;
  Defragmenter df;
  feed(df, g.frag(16, 16, true), 1, 1);
  feed(df, g.frag(0, 16, true), 2, 2);  // arrived out of order: its own run [0, 16)
  const auto r = feed(df, g.frag(8, 16, true), 3, 3);
  EXPECT_EQ(r.status, DefragStatus::Dropped);
  EXPECT_EQ(r.reason, DropReason::FragOverlap);
  EXPECT_EQ(cookies(df, r.datagram), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(df.stats().overlaps, 1u);
  EXPECT_EQ(df.stats().duplicates, 0u);
}

TEST(DefragOverlap, Ipv6OverlapDropsWholeDatagram) {
  V6 g;
  Defragmenter df;
  feed(df, g.frag(0, 64, true), 1, 1);
  const auto r = feed(df, g.frag(56, 16, false), 2, 2);
  EXPECT_EQ(r.status, DefragStatus::Dropped);
  EXPECT_EQ(r.reason, DropReason::FragOverlap);
  EXPECT_EQ(cookies(df, r.datagram), (std::vector<uint64_t>{1, 2}));
}

TEST(DefragBad, NonLastNotMultipleOf8DropsWholeDatagram) {
  for (int family : {4, 6}) {
    V4 g4;
    V6 g6;
    auto frag = [&](uint16_t off, std::size_t len, bool mf) {
      return family == 4 ? g4.frag(off, len, mf) : g6.frag(off, len, mf);
    };
    Defragmenter df;
    feed(df, frag(0, 16, true), 1, 1);
    const auto r = feed(df, frag(16, 12, true), 2, 2);
    EXPECT_EQ(r.status, DefragStatus::Dropped) << family;
    EXPECT_EQ(r.reason, DropReason::FragBad) << family;
    EXPECT_EQ(cookies(df, r.datagram), (std::vector<uint64_t>{1, 2})) << family;
    EXPECT_EQ(df.stats().bad, 1u);
  }
}

TEST(DefragBad, Ipv4SecondLastWithDifferentEndDropsWholeDatagram) {
  V4 g;
  Defragmenter df;
  feed(df, g.frag(0, 16, true), 1, 1);
  feed(df, g.frag(24, 8, false), 2, 2);
  const auto r = feed(df, g.frag(24, 16, false), 3, 3);
  EXPECT_EQ(r.status, DefragStatus::Dropped);
  EXPECT_EQ(r.reason, DropReason::FragBad);
  EXPECT_EQ(cookies(df, r.datagram), (std::vector<uint64_t>{1, 2, 3}));
}

TEST(DefragBad, Ipv4DataBeyondKnownEndDropsWholeDatagram) {
  V4 g;
  Defragmenter df;
  feed(df, g.frag(16, 8, false), 1, 1);
  const auto r = feed(df, g.frag(16, 16, true), 2, 2);
  EXPECT_EQ(r.status, DefragStatus::Dropped);
  EXPECT_EQ(r.reason, DropReason::FragBad);
  EXPECT_EQ(cookies(df, r.datagram), (std::vector<uint64_t>{1, 2}));
}

TEST(DefragBad, Ipv4LastEndingBeforeHeldDataDropsWholeDatagram) {
  V4 g;
  Defragmenter df;
  feed(df, g.frag(32, 16, true), 1, 1);
  const auto r = feed(df, g.frag(8, 8, false), 2, 2);
  EXPECT_EQ(r.status, DefragStatus::Dropped);
  EXPECT_EQ(r.reason, DropReason::FragBad);
  EXPECT_EQ(cookies(df, r.datagram), (std::vector<uint64_t>{1, 2}));
}

TEST(DefragBad, Ipv4ZeroLengthFragmentDropsWholeDatagram) {
  V4 g;
  Defragmenter df;
  feed(df, g.frag(0, 16, true), 1, 1);
  const auto r = feed(df, g.frag(16, 0, true), 2, 2);
  EXPECT_EQ(r.status, DefragStatus::Dropped);
  EXPECT_EQ(r.reason, DropReason::FragBad);
  EXPECT_EQ(cookies(df, r.datagram), (std::vector<uint64_t>{1, 2}));
}

TEST(DefragBad, Ipv6InconsistentEndDropsOnlyThatFragment) {
  V6 g;
  Defragmenter df;
  const auto held = feed(df, g.frag(0, 16, true), 1, 1);
  feed(df, g.frag(24, 8, false), 2, 2);
  const auto second_last = feed(df, g.frag(24, 16, false), 3, 3);
  EXPECT_EQ(second_last.status, DefragStatus::Dropped);
  EXPECT_EQ(second_last.reason, DropReason::FragBad);
  EXPECT_EQ(cookies(df, second_last.datagram), (std::vector<uint64_t>{3}));
  const auto beyond = feed(df, g.frag(32, 8, true), 4, 4);
  EXPECT_EQ(beyond.status, DefragStatus::Dropped);
  EXPECT_EQ(cookies(df, beyond.datagram), (std::vector<uint64_t>{4}));
  const auto r = feed(df, g.frag(16, 8, true), 5, 5);
  ASSERT_EQ(r.status, DefragStatus::Complete);
  EXPECT_EQ(r.datagram, held.datagram);
  EXPECT_EQ(cookies(df, r.datagram), (std::vector<uint64_t>{1, 2, 5}));
  EXPECT_EQ(df.stats().bad, 2u);
}

TEST(DefragTooLarge, Ipv4BeyondTotalLength65535) {
  V4 g;
  g.data = pattern(65536 + 16);
  Defragmenter df;
  feed(df, g.frag(0, 16, true), 1, 1);
  // 20 + 65528 + 8 = 65556 > 65535.
  const auto r = feed(df, g.frag(65528, 8, false), 2, 2);
  EXPECT_EQ(r.status, DefragStatus::Dropped);
  EXPECT_EQ(r.reason, DropReason::FragTooLarge);
  EXPECT_EQ(cookies(df, r.datagram), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(df.stats().too_large, 1u);
}

TEST(DefragTooLarge, Ipv4AtExactly65535IsAccepted) {
  V4 g;
  g.data = pattern(65536);
  Defragmenter df;
  // Last fragment ends at 65515: 20 + 65515 = 65535.
  const auto r = feed(df, g.frag(65512, 3, false), 1, 1);
  EXPECT_EQ(r.status, DefragStatus::Held);
}

TEST(DefragTooLarge, Ipv6PayloadBeyond65535) {
  V6 g;  // one 8-byte extension header: payload length = 8 + datagram bytes
  g.data = pattern(65536 + 16);
  Defragmenter df;
  EXPECT_EQ(feed(df, g.frag(65520, 7, false), 1, 1).status, DefragStatus::Held);  // 65535
  Defragmenter df2;
  const auto r = feed(df2, g.frag(65520, 8, false), 1, 1);  // 65536
  EXPECT_EQ(r.status, DefragStatus::Dropped);
  EXPECT_EQ(r.reason, DropReason::FragTooLarge);
  EXPECT_EQ(cookies(df2, r.datagram), (std::vector<uint64_t>{1}));
}

TEST(DefragMalformed, InconsistentDecodedIsACountedLoneDrop) {
  V4 g;
  Defragmenter df;
  auto a = g.frag(0, 16, true);
  auto not_frag = a;
  not_frag.d.is_fragment = false;
  auto beyond = a;
  beyond.d.ip_end = uint16_t(a.bytes.size() + 1);
  auto other = a;
  other.d.l3 = L3Kind::Arp;
  auto odd_offset = g.frag(16, 8, false);
  odd_offset.d.frag_offset = 12;
  auto short_ihl = a;
  short_ihl.bytes[14] = 0x44;  // IHL 16 bytes
  V6 g6;
  auto v6_bad_fh = g6.frag(0, 16, true);
  v6_bad_fh.d.frag_hdr_off = uint16_t(v6_bad_fh.d.ip_end - 4);  // Fragment header cut short
  uint64_t cookie = 1;
  for (const Built* b : {&not_frag, &beyond, &other, &odd_offset, &short_ihl, &v6_bad_fh}) {
    const auto r = feed(df, *b, 1, cookie);
    EXPECT_EQ(r.status, DefragStatus::Dropped) << cookie;
    EXPECT_EQ(r.reason, DropReason::FragBad) << cookie;
    EXPECT_EQ(cookies(df, r.datagram), (std::vector<uint64_t>{cookie}));
    ++cookie;
  }
  EXPECT_EQ(df.stats().bad, 6u);
  EXPECT_EQ(df.bytes_held(), 0u);
  // Nothing was created: a valid pair still completes on its own.
  EXPECT_EQ(feed(df, a, 2, 10).status, DefragStatus::Held);
  EXPECT_EQ(feed(df, g.frag(16, 8, false), 3, 11).status, DefragStatus::Complete);
}

}  // namespace
}  // namespace tapwall::test
