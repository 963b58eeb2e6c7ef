// IPv6 reassembly: the Fragment header is removed, the Next Header that named it (in the
// IPv6 header or the last extension header before it) takes its Next Header, and the
// payload length covers the extension headers and the whole payload.
#include <gtest/gtest.h>

#include "defrag/defrag_test_util.hpp"

namespace tapwall::test {
namespace {

void check_order(const Ipv6Spec& s, const std::vector<std::size_t>& sizes,
                 const std::vector<std::size_t>& order) {
  std::size_t total = 0;
  for (auto n : sizes) total += n;
  const auto payload = udp_datagram(546, 547, total - 8);
  const auto frags = fragment_v6(s, payload, sizes);
  Defragmenter df;
  uint32_t h = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const auto r = feed(df, frags[order[k]], 10 * k, 100 + order[k]);
    ASSERT_EQ(r.status, k + 1 < order.size() ? DefragStatus::Held : DefragStatus::Complete)
        << "step " << k;
    if (k == 0) h = r.datagram;
    ASSERT_EQ(r.datagram, h);
  }
  const auto re = df.reassembled(h);
  const auto expected = ipv6_packet(s, payload);
  EXPECT_EQ(bytes_of(re), expected.bytes);
  const std::size_t ext = s.ext_types.size() * 8;
  const std::size_t l3 = 14 + 4 * s.l2.vlans.size();
  ASSERT_EQ(re.size(), l3 + 40 + ext + total);
  EXPECT_EQ(load_be16(re.data() + l3 + 4), ext + total);  // payload length
  const std::size_t nh_at = s.ext_types.empty() ? l3 + 6 : l3 + 40 + ext - 8;
  EXPECT_EQ(re[nh_at], kProtoUdp);  // the Next Header that named Fragment now names UDP
  EXPECT_EQ(load_be16(re.data() + l3 + 40 + ext), 546);  // UDP sport right after ext headers
  std::vector<uint64_t> want;
  for (auto i : order) want.push_back(100 + i);
  EXPECT_EQ(cookies(df, h), want);
  df.release(h);
  EXPECT_EQ(df.bytes_held(), 0u);
}

Ipv6Spec with_ext(std::vector<uint8_t> types) {
  Ipv6Spec s;
  s.ext_types = std::move(types);
  return s;
}

TEST(DefragIpv6, InOrderWithHopByHop) { check_order(with_ext({0}), {1232, 1232, 100}, {0, 1, 2}); }
TEST(DefragIpv6, ReversedWithHopByHop) { check_order(with_ext({0}), {1232, 1232, 100}, {2, 1, 0}); }
TEST(DefragIpv6, ShuffledWithTwoExtHeaders) {
  check_order(with_ext({0, 60}), {1224, 1224, 1224, 64}, {1, 3, 0, 2});
}
TEST(DefragIpv6, NoExtHeaderFixesIpv6NextHeader) { check_order(Ipv6Spec{}, {512, 77}, {1, 0}); }

TEST(DefragIpv6, VlanTaggedKeepsTag) {
  Ipv6Spec s = with_ext({60});
  s.l2.vlans = {42};
  check_order(s, {1000, 500}, {0, 1});
}

}  // namespace
}  // namespace tapwall::test
