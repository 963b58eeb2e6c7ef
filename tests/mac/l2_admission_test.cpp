// l2_admission tests: every admission case, including the edges of the 802.1D
// link-local block (01:80:C2:00:00:00..0F) and the address just past it.
#include <gtest/gtest.h>

#include "tapwall/mac_table.hpp"

namespace tapwall {
namespace {

MacAddr m(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t e, uint8_t f) {
  MacAddr x;
  x.b = {a, b, c, d, e, f};
  return x;
}

const MacAddr kHost = m(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
const MacAddr kPeer = m(0x52, 0x54, 0x00, 0xab, 0xcd, 0xef);

TEST(L2Admission, UnicastBetweenStationsAdmitted) {
  EXPECT_EQ(l2_admission(kHost, kPeer), DropReason::None);
}

TEST(L2Admission, BroadcastAndMulticastDestinationsAdmitted) {
  EXPECT_EQ(l2_admission(kHost, m(0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), DropReason::None);
  EXPECT_EQ(l2_admission(kHost, m(0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb)), DropReason::None);
  EXPECT_EQ(l2_admission(kHost, m(0x33, 0x33, 0x00, 0x00, 0x00, 0x01)), DropReason::None);
}

TEST(L2Admission, MulticastSourceDropped) {
  EXPECT_EQ(l2_admission(m(0x01, 0x00, 0x5e, 0x00, 0x00, 0x01), kPeer),
            DropReason::SrcMacMulticast);
  EXPECT_EQ(l2_admission(m(0x03, 0, 0, 0, 0, 0), kPeer), DropReason::SrcMacMulticast);
}

TEST(L2Admission, BroadcastSourceDropped) {
  EXPECT_EQ(l2_admission(m(0xff, 0xff, 0xff, 0xff, 0xff, 0xff), kPeer),
            DropReason::SrcMacMulticast);
}

TEST(L2Admission, ZeroSourceDropped) {
  EXPECT_EQ(l2_admission(m(0, 0, 0, 0, 0, 0), kPeer), DropReason::SrcMacZero);
}

TEST(L2Admission, SourceCheckedBeforeDestination) {
  EXPECT_EQ(l2_admission(m(0, 0, 0, 0, 0, 0), m(0x01, 0x80, 0xc2, 0, 0, 0x01)),
            DropReason::SrcMacZero);
}

TEST(L2Admission, StpGroupForwardedWithStpOff) {
  EXPECT_EQ(l2_admission(kHost, m(0x01, 0x80, 0xc2, 0x00, 0x00, 0x00)), DropReason::None);
}

TEST(L2Admission, LinkLocalGroupsDropped) {
  for (uint8_t x : {0x01, 0x02, 0x03, 0x0e, 0x0f}) {
    EXPECT_EQ(l2_admission(kHost, m(0x01, 0x80, 0xc2, 0x00, 0x00, x)), DropReason::LinkLocalGroup)
        << int(x);
  }
}

TEST(L2Admission, JustOutsideLinkLocalBlockAdmitted) {
  EXPECT_EQ(l2_admission(kHost, m(0x01, 0x80, 0xc2, 0x00, 0x00, 0x10)), DropReason::None);
  EXPECT_EQ(l2_admission(kHost, m(0x01, 0x80, 0xc2, 0x00, 0x00, 0x20)), DropReason::None);
  EXPECT_EQ(l2_admission(kHost, m(0x01, 0x80, 0xc2, 0x00, 0x01, 0x01)), DropReason::None);
  EXPECT_EQ(l2_admission(kHost, m(0x01, 0x80, 0xc3, 0x00, 0x00, 0x01)), DropReason::None);
}

}  // namespace
}  // namespace tapwall
