// Keys, timeouts and resource bounds: which fragments belong together, when a datagram
// expires (exactly at first arrival + timeout), and what is refused when memory, slots or
// the per-datagram fragment budget run out.
#include <gtest/gtest.h>

#include "defrag/defrag_test_util.hpp"

namespace tapwall::test {
namespace {

std::vector<Built> v4_pair(const Ipv4Spec& s, std::size_t first = 1480, std::size_t last = 100) {
  return fragment_v4(s, udp_datagram(1000, 2000, first + last - 8), {first, last});
}

Ipv4Spec spec_id(uint16_t id) {
  Ipv4Spec s;
  s.id = id;
  return s;
}

TEST(DefragKeys, InterleavedDatagramsReassembleSeparately) {
  Ipv4Spec sa = spec_id(1), sb = spec_id(2);
  const auto pa = udp_datagram(1, 2, 1000, 5), pb = udp_datagram(3, 4, 1000, 9);
  const auto a = fragment_v4(sa, pa, {512, 496}), b = fragment_v4(sb, pb, {512, 496});
  Defragmenter df;
  EXPECT_EQ(feed(df, a[0], 1, 1).status, DefragStatus::Held);
  EXPECT_EQ(feed(df, b[1], 2, 2).status, DefragStatus::Held);
  const auto ra = feed(df, a[1], 3, 3);
  ASSERT_EQ(ra.status, DefragStatus::Complete);
  const auto rb = feed(df, b[0], 4, 4);
  ASSERT_EQ(rb.status, DefragStatus::Complete);
  EXPECT_EQ(bytes_of(df.reassembled(ra.datagram)), ipv4_packet(sa, 0, false, pa).bytes);
  EXPECT_EQ(bytes_of(df.reassembled(rb.datagram)), ipv4_packet(sb, 0, false, pb).bytes);
  EXPECT_EQ(cookies(df, ra.datagram), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(cookies(df, rb.datagram), (std::vector<uint64_t>{2, 4}));
}

TEST(DefragKeys, DifferentVlansWithSameIdStaySeparate) {
  Ipv4Spec s10, s20;
  s10.l2.vlans = {10};
  s20.l2.vlans = {20};
  const auto a = v4_pair(s10), b = v4_pair(s20);
  Defragmenter df;
  EXPECT_EQ(feed(df, a[0], 1, 1).status, DefragStatus::Held);
  EXPECT_EQ(feed(df, b[1], 2, 2).status, DefragStatus::Held);  // would complete if mixed
  const auto ra = feed(df, a[1], 3, 3);
  ASSERT_EQ(ra.status, DefragStatus::Complete);
  EXPECT_EQ(cookies(df, ra.datagram), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(load_be16(df.reassembled(ra.datagram).data() + 14), 10);
  const auto rb = feed(df, b[0], 4, 4);
  ASSERT_EQ(rb.status, DefragStatus::Complete);
  EXPECT_EQ(load_be16(df.reassembled(rb.datagram).data() + 14), 20);
}

TEST(DefragKeys, QinQOuterTagIsPartOfTheKey) {
  Ipv4Spec s1, s2;
  s1.l2.vlans = {1, 10};
  s2.l2.vlans = {2, 10};  // same inner VLAN, different outer
  const auto a = v4_pair(s1), b = v4_pair(s2);
  Defragmenter df;
  feed(df, a[0], 1, 1);
  EXPECT_EQ(feed(df, b[1], 2, 2).status, DefragStatus::Held);
}

TEST(DefragKeys, Ipv4KeyIncludesProtocol) {
  Ipv4Spec udp, tcp;
  tcp.proto = kProtoTcp;
  const auto a = v4_pair(udp), b = v4_pair(tcp);
  Defragmenter df;
  feed(df, a[0], 1, 1);
  EXPECT_EQ(feed(df, b[1], 2, 2).status, DefragStatus::Held);
  EXPECT_EQ(feed(df, a[1], 3, 3).status, DefragStatus::Complete);
}

TEST(DefragKeys, Ipv4KeyIncludesAddresses) {
  Ipv4Spec s1, s2;
  s2.src = 0x0a000063;
  const auto a = v4_pair(s1), b = v4_pair(s2);
  Defragmenter df;
  feed(df, a[0], 1, 1);
  EXPECT_EQ(feed(df, b[1], 2, 2).status, DefragStatus::Held);
}

TEST(DefragKeys, Ipv6KeyIncludesId) {
  Ipv6Spec s1, s2;
  s2.id = s1.id + 1;
  const auto p = udp_datagram(1, 2, 200);
  const auto a = fragment_v6(s1, p, {104, 104}), b = fragment_v6(s2, p, {104, 104});
  Defragmenter df;
  feed(df, a[0], 1, 1);
  EXPECT_EQ(feed(df, b[1], 2, 2).status, DefragStatus::Held);
  EXPECT_EQ(feed(df, a[1], 3, 3).status, DefragStatus::Complete);
}

TEST(DefragTimeout, ExpiresExactlyAtFirstArrivalPlusTimeout) {
  DefragConfig cfg;
  cfg.timeout_ns = 30 * kSec;
  Defragmenter df(cfg);
  const auto f = v4_pair(Ipv4Spec{});
  const uint64_t t0 = 5 * kSec;
  const auto held = feed(df, f[0], t0, 7);
  std::vector<uint32_t> seen;
  std::vector<std::vector<uint64_t>> listed;
  auto fn = [&](uint32_t dg) {
    seen.push_back(dg);
    listed.push_back(cookies(df, dg));
  };
  df.expire(t0 + cfg.timeout_ns - 1, fn);
  EXPECT_TRUE(seen.empty());
  df.expire(t0 + cfg.timeout_ns, fn);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], held.datagram);
  EXPECT_EQ(listed[0], (std::vector<uint64_t>{7}));
  EXPECT_EQ(df.stats().timeouts, 1u);
  EXPECT_EQ(df.bytes_held(), 0u);
  EXPECT_TRUE(df.fragments(held.datagram).empty());  // released by expire
  df.expire(t0 + 2 * cfg.timeout_ns, fn);
  EXPECT_EQ(seen.size(), 1u);
}

TEST(DefragTimeout, TimerRunsFromFirstFragmentNotLatest) {
  DefragConfig cfg;
  cfg.timeout_ns = 30 * kSec;
  Ipv4Spec s;
  const auto f = fragment_v4(s, udp_datagram(1, 2, 16), {8, 8, 8});
  Defragmenter df(cfg);
  feed(df, f[0], 0, 1);
  feed(df, f[1], 29 * kSec, 2);
  int calls = 0;
  df.expire(30 * kSec, [&](uint32_t dg) {
    ++calls;
    EXPECT_EQ(cookies(df, dg), (std::vector<uint64_t>{1, 2}));
  });
  EXPECT_EQ(calls, 1);
}

TEST(DefragTimeout, FragmentAtTheDeadlineStartsANewDatagram) {
  DefragConfig cfg;
  cfg.timeout_ns = 30 * kSec;
  const auto f = v4_pair(Ipv4Spec{});
  Defragmenter df(cfg);
  const auto old = feed(df, f[0], 0, 1);
  // expire() has not run yet, but the old datagram is dead: the last fragment cannot join it.
  const auto late = feed(df, f[1], 30 * kSec, 2);
  EXPECT_EQ(late.status, DefragStatus::Held);
  EXPECT_NE(late.datagram, old.datagram);
  std::vector<uint32_t> seen;
  df.expire(30 * kSec, [&](uint32_t dg) { seen.push_back(dg); });
  EXPECT_EQ(seen, (std::vector<uint32_t>{old.datagram}));
  const auto r = feed(df, f[0], 31 * kSec, 3);  // retransmitted first fragment
  ASSERT_EQ(r.status, DefragStatus::Complete);
  EXPECT_EQ(cookies(df, r.datagram), (std::vector<uint64_t>{2, 3}));
}

TEST(DefragTimeout, ExpiresOldestFirstAndStopsAtYoung) {
  DefragConfig cfg;
  cfg.timeout_ns = 30 * kSec;
  Defragmenter df(cfg);
  const auto a = v4_pair(spec_id(1)), b = v4_pair(spec_id(2)), c = v4_pair(spec_id(3));
  const auto ha = feed(df, a[0], 0, 1);
  const auto hb = feed(df, b[0], 10 * kSec, 2);
  feed(df, c[0], 20 * kSec, 3);
  std::vector<uint32_t> seen;
  df.expire(40 * kSec, [&](uint32_t dg) { seen.push_back(dg); });
  EXPECT_EQ(seen, (std::vector<uint32_t>{ha.datagram, hb.datagram}));
  EXPECT_EQ(df.stats().timeouts, 2u);
}

TEST(DefragTimeout, CompletedDatagramsNeverExpire) {
  DefragConfig cfg;
  cfg.timeout_ns = 30 * kSec;
  Defragmenter df(cfg);
  const auto f = v4_pair(Ipv4Spec{});
  feed(df, f[0], 0, 1);
  const auto r = feed(df, f[1], 1, 2);
  ASSERT_EQ(r.status, DefragStatus::Complete);
  int calls = 0;
  df.expire(100 * kSec, [&](uint32_t) { ++calls; });
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(df.reassembled(r.datagram).empty());
}

TEST(DefragMemory, BytesHeldCountsFrameCopiesAndReassembly) {
  Defragmenter df;
  const auto f = v4_pair(Ipv4Spec{});
  feed(df, f[0], 0, 1);
  EXPECT_EQ(df.bytes_held(), units(f[0].bytes.size()));
  const auto r = feed(df, f[1], 0, 2);
  ASSERT_EQ(r.status, DefragStatus::Complete);
  EXPECT_EQ(df.bytes_held(), units(f[0].bytes.size()) + units(f[1].bytes.size()) +
                                 units(df.reassembled(r.datagram).size()));
  df.release(r.datagram);
  EXPECT_EQ(df.bytes_held(), 0u);
}

TEST(DefragMemory, WhenFullANewFragmentIsRefusedAloneAndOlderDatagramsKept) {
  const auto a = v4_pair(spec_id(1)), b = v4_pair(spec_id(2)), c = v4_pair(spec_id(3));
  const std::size_t frame = units(a[0].bytes.size());  // all first fragments are this size
  DefragConfig cfg;
  cfg.max_bytes = uint32_t(2 * frame + DefragConfig::kAllocUnit);  // two fit, not three
  cfg.timeout_ns = 30 * kSec;
  Defragmenter df(cfg);
  const auto ha = feed(df, a[0], 0, 1);
  const auto hb = feed(df, b[0], 1 * kSec, 2);
  ASSERT_EQ(hb.status, DefragStatus::Held);
  const auto rc = feed(df, c[0], 2 * kSec, 3);
  EXPECT_EQ(rc.status, DefragStatus::Dropped);
  EXPECT_EQ(rc.reason, DropReason::FragNoMemory);
  EXPECT_EQ(cookies(df, rc.datagram), (std::vector<uint64_t>{3}));
  EXPECT_EQ(bytes_of(df.fragments(rc.datagram)[0].bytes), c[0].bytes);
  EXPECT_EQ(df.stats().no_memory, 1u);
  EXPECT_EQ(df.bytes_held(), 2 * frame);
  EXPECT_EQ(cookies(df, ha.datagram), (std::vector<uint64_t>{1}));
  EXPECT_EQ(cookies(df, hb.datagram), (std::vector<uint64_t>{2}));
  // Timing out the oldest reclaims its memory; the refused datagram can then be held.
  df.expire(30 * kSec, [](uint32_t) {});
  EXPECT_EQ(df.bytes_held(), frame);
  EXPECT_EQ(feed(df, c[0], 31 * kSec, 4).status, DefragStatus::Held);
}

TEST(DefragMemory, RefusedLastFragmentLeavesNoTrace) {
  // The refused last fragment must not record the datagram's end: a later, longer datagram
  // layout (e.g. a retransmission after memory frees up) is not FragBad.
  const auto f = fragment_v4(Ipv4Spec{}, udp_datagram(1, 2, 2952), {1480, 1480});
  DefragConfig cfg;
  cfg.max_bytes = uint32_t(units(f[0].bytes.size()));
  Defragmenter df(cfg);
  const auto h = feed(df, f[0], 0, 1);
  const auto refused = feed(df, f[1], 0, 2);
  EXPECT_EQ(refused.reason, DropReason::FragNoMemory);
  EXPECT_EQ(cookies(df, h.datagram), (std::vector<uint64_t>{1}));
  // Nothing recorded the end at 2960, so data beyond it is not "beyond a known end".
  Ipv4Spec s;
  const auto big = udp_datagram(9, 9, 4000);
  const auto r = feed(df, ipv4_packet(s, 2960, true, std::span(big).first(8)), 0, 3);
  EXPECT_EQ(r.reason, DropReason::FragNoMemory);  // refused for memory, not FragBad
  EXPECT_EQ(df.stats().bad, 0u);
}

TEST(DefragMemory, NoRoomForReassemblyDropsWholeDatagram) {
  const auto f = v4_pair(Ipv4Spec{});
  DefragConfig cfg;
  cfg.max_bytes = uint32_t(units(f[0].bytes.size()) + units(f[1].bytes.size()));
  Defragmenter df(cfg);
  feed(df, f[0], 0, 1);
  const auto r = feed(df, f[1], 0, 2);
  EXPECT_EQ(r.status, DefragStatus::Dropped);
  EXPECT_EQ(r.reason, DropReason::FragNoMemory);
  EXPECT_EQ(cookies(df, r.datagram), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(bytes_of(df.fragments(r.datagram)[1].bytes), f[1].bytes);
  df.release(r.datagram);
  EXPECT_EQ(df.bytes_held(), 0u);
}

TEST(DefragMemory, ExactFitForReassemblyCompletes) {
  const auto f = v4_pair(Ipv4Spec{});
  const std::size_t reasm = units(14 + 20 + 1580);
  DefragConfig cfg;
  cfg.max_bytes = uint32_t(units(f[0].bytes.size()) + units(f[1].bytes.size()) + reasm);
  Defragmenter df(cfg);
  feed(df, f[0], 0, 1);
  const auto r = feed(df, f[1], 0, 2);
  ASSERT_EQ(r.status, DefragStatus::Complete);
  EXPECT_EQ(df.bytes_held(), cfg.max_bytes);
}

TEST(DefragMemory, MaxDatagramsRefusesANewDatagramAlone) {
  DefragConfig cfg;
  cfg.max_datagrams = 2;
  Defragmenter df(cfg);
  const auto a = v4_pair(spec_id(1)), b = v4_pair(spec_id(2)), c = v4_pair(spec_id(3));
  feed(df, a[0], 0, 1);
  feed(df, b[0], 0, 2);
  const auto rc = feed(df, c[0], 0, 3);
  EXPECT_EQ(rc.status, DefragStatus::Dropped);
  EXPECT_EQ(rc.reason, DropReason::FragNoMemory);
  EXPECT_EQ(cookies(df, rc.datagram), (std::vector<uint64_t>{3}));
  // Existing datagrams still take fragments; a released slot takes a new datagram.
  const auto ra = feed(df, a[1], 0, 4);
  ASSERT_EQ(ra.status, DefragStatus::Complete);
  EXPECT_EQ(feed(df, c[0], 0, 5).status, DefragStatus::Dropped);  // completed, not released
  df.release(ra.datagram);
  EXPECT_EQ(feed(df, c[0], 0, 6).status, DefragStatus::Held);
}

TEST(DefragMemory, TooManyFragmentsDropsWholeDatagram) {
  DefragConfig cfg;
  cfg.max_fragments_per_datagram = 3;
  Defragmenter df(cfg);
  const auto f = fragment_v4(Ipv4Spec{}, udp_datagram(1, 2, 32), {8, 8, 8, 8, 8});
  for (uint64_t i = 0; i < 3; ++i) ASSERT_EQ(feed(df, f[i], 0, i).status, DefragStatus::Held);
  const auto r = feed(df, f[3], 0, 3);
  EXPECT_EQ(r.status, DefragStatus::Dropped);
  EXPECT_EQ(r.reason, DropReason::FragNoMemory);
  EXPECT_EQ(cookies(df, r.datagram), (std::vector<uint64_t>{0, 1, 2, 3}));
  df.release(r.datagram);
  EXPECT_EQ(df.bytes_held(), 0u);
}

TEST(DefragMemory, ExactlyMaxFragmentsCompletes) {
  DefragConfig cfg;
  cfg.max_fragments_per_datagram = 3;
  Defragmenter df(cfg);
  const auto f = fragment_v4(Ipv4Spec{}, udp_datagram(1, 2, 16), {8, 8, 8});
  feed(df, f[2], 0, 0);
  feed(df, f[0], 0, 1);
  EXPECT_EQ(feed(df, f[1], 0, 2).status, DefragStatus::Complete);
}

}  // namespace
}  // namespace tapwall::test
