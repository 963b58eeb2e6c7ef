// IPv4 reassembly: every arrival order yields exactly the unfragmented packet's bytes, and
// the original fragments are kept in arrival order with their cookies, ports and times.
#include <gtest/gtest.h>

#include "defrag/defrag_test_util.hpp"

namespace tapwall::test {
namespace {

// Feeds frags in `order`; expects Held until the last one, which must complete. Returns the
// datagram handle.
uint32_t feed_in_order(Defragmenter& df, const std::vector<Built>& frags,
                       const std::vector<std::size_t>& order) {
  uint32_t handle = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const auto r = feed(df, frags[order[k]], 1000 + k, 100 + order[k], PortId(k % 3));
    if (k + 1 < order.size()) {
      EXPECT_EQ(r.status, DefragStatus::Held) << "step " << k;
    } else {
      EXPECT_EQ(r.status, DefragStatus::Complete);
      EXPECT_EQ(r.reason, DropReason::None);
    }
    if (k == 0) handle = r.datagram;
    EXPECT_EQ(r.datagram, handle);
  }
  return handle;
}

void check_order(const std::vector<std::size_t>& sizes, const std::vector<std::size_t>& order) {
  Ipv4Spec s;
  std::size_t total = 0;
  for (auto n : sizes) total += n;
  const auto payload = udp_datagram(5353, 40000, total - 8);
  const auto frags = fragment_v4(s, payload, sizes);
  Defragmenter df;
  const uint32_t h = feed_in_order(df, frags, order);
  EXPECT_EQ(bytes_of(df.reassembled(h)), ipv4_packet(s, 0, false, payload).bytes);
  const auto held = df.fragments(h);
  ASSERT_EQ(held.size(), order.size());
  for (std::size_t k = 0; k < order.size(); ++k) {
    EXPECT_EQ(held[k].cookie, 100 + order[k]);
    EXPECT_EQ(held[k].in_port, PortId(k % 3));
    EXPECT_EQ(held[k].ts_ns, 1000 + k);
    EXPECT_EQ(bytes_of(held[k].bytes), frags[order[k]].bytes);
  }
  EXPECT_EQ(df.stats().completed, 1u);
  EXPECT_EQ(df.stats().fragments, order.size());
  df.release(h);
  EXPECT_EQ(df.bytes_held(), 0u);
  EXPECT_TRUE(df.fragments(h).empty());
  EXPECT_TRUE(df.reassembled(h).empty());
}

TEST(DefragIpv4, InOrderUdpDatagramHasFixedHeaderAndUdpAtL4Offset) {
  Ipv4Spec s;
  s.df = true;  // kept on the reassembled header; only MF and the offset are cleared
  const auto payload = udp_datagram(5353, 40000, 1792);  // 1800 bytes of IP payload
  const auto frags = fragment_v4(s, payload, {1480, 320});
  Defragmenter df;
  ASSERT_EQ(feed(df, frags[0], 1, 10).status, DefragStatus::Held);
  const auto r = feed(df, frags[1], 2, 11, 2);
  ASSERT_EQ(r.status, DefragStatus::Complete);
  const auto re = df.reassembled(r.datagram);
  ASSERT_EQ(re.size(), 14u + 20 + 1800);
  const uint8_t* ip = re.data() + 14;
  EXPECT_EQ(load_be16(ip + 2), 1820);    // total length
  EXPECT_EQ(load_be16(ip + 4), 0x1234);  // id kept
  EXPECT_EQ(load_be16(ip + 6), 0x4000);  // DF kept, MF and offset cleared
  EXPECT_EQ(inet_checksum(ip, 20), 0);   // header checksum valid
  const uint8_t* udp = ip + 20;          // L4 at l3_off + IHL, as the decoder will look for it
  EXPECT_EQ(load_be16(udp + 0), 5353);
  EXPECT_EQ(load_be16(udp + 2), 40000);
  EXPECT_EQ(load_be16(udp + 4), 1800);
  EXPECT_EQ(bytes_of(re), ipv4_packet(s, 0, false, payload).bytes);
  EXPECT_EQ((std::vector<uint64_t>{10, 11}), cookies(df, r.datagram));
}

TEST(DefragIpv4, InOrderThreeFragments) { check_order({1480, 1480, 40}, {0, 1, 2}); }
TEST(DefragIpv4, ReversedOrder) { check_order({1480, 1480, 1480, 200}, {3, 2, 1, 0}); }
TEST(DefragIpv4, ShuffledOrder) { check_order({1480, 1480, 1480, 200}, {2, 0, 3, 1}); }
TEST(DefragIpv4, LastFirstThenMiddle) { check_order({8, 8, 8, 5}, {3, 1, 0, 2}); }

TEST(DefragIpv4, FirstFragmentOptionsAreKeptOthersIgnored) {
  Ipv4Spec s;
  s.options = {0x94, 0x04, 0x00, 0x00};  // Router Alert; only the first fragment has it
  const auto payload = udp_datagram(1, 2, 1000);
  const auto frags = fragment_v4(s, payload, {512, 496});
  ASSERT_EQ(frags[1].bytes[14] & 0x0f, 5);  // second fragment: IHL 20
  Defragmenter df;
  ASSERT_EQ(feed(df, frags[1], 1, 1).status, DefragStatus::Held);
  const auto r = feed(df, frags[0], 2, 2);
  ASSERT_EQ(r.status, DefragStatus::Complete);
  const auto re = df.reassembled(r.datagram);
  EXPECT_EQ(re[14], 0x46);
  EXPECT_EQ(load_be16(re.data() + 16), 24 + 1008);
  EXPECT_EQ(bytes_of(re), ipv4_packet(s, 0, false, payload).bytes);
}

TEST(DefragIpv4, VlanTagsOfTheFirstFragmentAreKept) {
  Ipv4Spec s;
  s.l2.vlans = {100, 200};  // QinQ
  const auto payload = udp_datagram(7, 8, 600);
  const auto frags = fragment_v4(s, payload, {304, 304});
  Defragmenter df;
  ASSERT_EQ(feed(df, frags[1], 1, 1).status, DefragStatus::Held);
  const auto r = feed(df, frags[0], 2, 2);
  ASSERT_EQ(r.status, DefragStatus::Complete);
  EXPECT_EQ(bytes_of(df.reassembled(r.datagram)), ipv4_packet(s, 0, false, payload).bytes);
}

TEST(DefragIpv4, EthernetPaddingIsNotPayload) {
  Ipv4Spec s;
  const auto payload = udp_datagram(7, 8, 16);  // 24 bytes: 16 + 8
  const auto f0 = ipv4_packet(s, 0, true, std::span(payload).first(16), 60);
  const auto f1 = ipv4_packet(s, 16, false, std::span(payload).subspan(16), 60);
  ASSERT_EQ(f1.bytes.size(), 60u);
  ASSERT_EQ(f1.d.ip_end, 14 + 20 + 8);
  Defragmenter df;
  ASSERT_EQ(feed(df, f0, 1, 1).status, DefragStatus::Held);
  const auto r = feed(df, f1, 2, 2);
  ASSERT_EQ(r.status, DefragStatus::Complete);
  EXPECT_EQ(bytes_of(df.reassembled(r.datagram)), ipv4_packet(s, 0, false, payload).bytes);
  EXPECT_EQ(df.fragments(r.datagram)[1].bytes.size(), 60u);  // originals keep their padding
}

TEST(DefragIpv4, HandleIsReusedOnlyAfterRelease) {
  Ipv4Spec s;
  const auto payload = udp_datagram(1, 2, 8);
  const auto frags = fragment_v4(s, payload, {8, 8});
  Defragmenter df;
  feed(df, frags[0], 1, 1);
  const auto a = feed(df, frags[1], 2, 2);
  ASSERT_EQ(a.status, DefragStatus::Complete);
  // The same datagram again (a retransmission) is a new datagram while `a` is unreleased.
  feed(df, frags[0], 3, 3);
  const auto b = feed(df, frags[1], 4, 4);
  ASSERT_EQ(b.status, DefragStatus::Complete);
  EXPECT_NE(a.datagram, b.datagram);
  EXPECT_EQ(cookies(df, a.datagram), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(cookies(df, b.datagram), (std::vector<uint64_t>{3, 4}));
  df.release(a.datagram);
  df.release(b.datagram);
  EXPECT_EQ(df.bytes_held(), 0u);
}

}  // namespace
}  // namespace tapwall::test
