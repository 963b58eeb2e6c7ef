// Owner steering tests: the owner of a frame is the same for both directions of a flow, for
// an ICMP/ICMPv6 error quoting the flow (even from a third address), and for every fragment
// of a datagram (v4 and v6, first and later); VLAN tags do not change it; frames without an
// owner (ARP, malformed) stay with the receiving worker.
#include <gtest/gtest.h>

#include <random>

#include "frame_builder.hpp"
#include "tapwall/owner_steering.hpp"

namespace tapwall {
namespace {

using test::Bytes;
using test::FrameBuilder;
using test::ip4;
using test::ip6;
using test::mac;

const MacAddr kA = mac(0x02, 0, 0, 0, 0, 0x0a), kB = mac(0x02, 0, 0, 0, 0, 0x0b);

SteerKey key_of(const Bytes& f) {
  Decoded d;
  return steer_key(f, d);
}
uint32_t owner(const Bytes& f, uint32_t n, uint32_t receiver = 0) {
  return owner_of(key_of(f), n, receiver);
}

Bytes udp4(IpAddr s, IpAddr d, uint16_t sp, uint16_t dp) {
  test::Ipv4Spec v4;
  v4.src = s;
  v4.dst = d;
  return FrameBuilder().eth(kB, kA).ipv4(v4).udp({sp, dp, {1, 2, 3, 4}}).build();
}
Bytes udp6(IpAddr s, IpAddr d, uint16_t sp, uint16_t dp) {
  test::Ipv6Spec v6;
  v6.src = s;
  v6.dst = d;
  return FrameBuilder().eth(kB, kA).ipv6(v6).udp({sp, dp, {1, 2, 3, 4}}).build();
}

IpAddr v4_of(uint32_t x) { return IpAddr::from_v4_host(0xc0000200u | (x & 0xff)); }  // 192.0.2.x
IpAddr v6_of(uint32_t x) {
  IpAddr a = ip6("2001:db8::");
  a.b[14] = uint8_t(x >> 8);
  a.b[15] = uint8_t(x);
  return a;
}

TEST(OwnerSteering, PairHashIsSymmetricAndSpreads) {
  std::mt19937 rng(7);
  std::vector<int> seen(4, 0);
  for (int i = 0; i < 2000; ++i) {
    IpAddr a = v6_of(rng()), b = v6_of(rng());
    a.b[8] = uint8_t(rng());
    EXPECT_EQ(pair_hash(a, b), pair_hash(b, a));
    seen[pair_hash(a, b) % 4]++;
  }
  for (int c : seen) EXPECT_GT(c, 300);  // every worker gets a fair share
}

TEST(OwnerSteering, BothDirectionsOfAFlowHaveOneOwner) {
  for (uint32_t n : {2u, 3u, 4u, 16u}) {
    for (uint32_t i = 1; i < 60; ++i) {
      IpAddr a = v4_of(i), b = v4_of(200 + i % 50);
      EXPECT_EQ(owner(udp4(a, b, 1000 + i, 53), n), owner(udp4(b, a, 53, 1000 + i), n));
      IpAddr a6 = v6_of(i), b6 = v6_of(0x300 + i);
      EXPECT_EQ(owner(udp6(a6, b6, 1000 + i, 53), n), owner(udp6(b6, a6, 53, 1000 + i), n));
      test::Ipv4Spec v4;
      v4.src = a;
      v4.dst = b;
      test::TcpSpec t;
      t.sport = uint16_t(2000 + i);
      t.dport = 80;
      Bytes fwd = FrameBuilder().eth(kB, kA).ipv4(v4).tcp(t).build();
      std::swap(v4.src, v4.dst);
      std::swap(t.sport, t.dport);
      Bytes rev = FrameBuilder().eth(kA, kB).ipv4(v4).tcp(t).build();
      EXPECT_EQ(owner(fwd, n), owner(rev, n));
    }
  }
}

// A third address whose pair with `a` hashes to another owner than (a, b) among n: an error
// from it that were steered by its outer addresses would land on the wrong worker.
template <class Make>
IpAddr third_address(const IpAddr& a, const IpAddr& b, uint32_t n, Make make) {
  const uint32_t flow = uint32_t(pair_hash(a, b) % n);
  for (uint32_t x = 1; x < 1000; ++x) {
    IpAddr r = make(x);
    if (r == a || r == b) continue;
    if (pair_hash(r, a) % n != flow) return r;
  }
  ADD_FAILURE() << "no third address found";
  return a;
}

TEST(OwnerSteering, IcmpErrorGoesToTheOwnerOfTheQuotedFlow) {
  const uint32_t n = 2;
  for (uint32_t i = 1; i < 30; ++i) {
    IpAddr a = v4_of(i), b = v4_of(100 + i);
    IpAddr router = third_address(a, b, n, v4_of);
    test::Ipv4Spec inner;
    inner.src = a;
    inner.dst = b;
    Bytes quoted = FrameBuilder().ipv4(inner).udp({uint16_t(3000 + i), 33434, {9, 9}}).ip_packet();
    test::Ipv4Spec outer;
    outer.src = router;
    outer.dst = a;
    Bytes err = FrameBuilder().eth(kA, kB).ipv4(outer).icmp({3, 3, 0, 0, quoted}).build();
    ASSERT_TRUE(key_of(err).has_owner);
    EXPECT_EQ(owner(err, n), owner(udp4(a, b, uint16_t(3000 + i), 33434), n)) << i;
    EXPECT_NE(owner(err, n), uint32_t(pair_hash(router, a) % n));  // not by its outer pair
  }
}

TEST(OwnerSteering, Icmpv6ErrorGoesToTheOwnerOfTheQuotedFlow) {
  const uint32_t n = 2;
  for (uint32_t i = 1; i < 30; ++i) {
    IpAddr a = v6_of(i), b = v6_of(0x100 + i);
    IpAddr router = third_address(a, b, n, [](uint32_t x) { return v6_of(0x8000 + x); });
    test::Ipv6Spec inner;
    inner.src = a;
    inner.dst = b;
    Bytes quoted = FrameBuilder().ipv6(inner).udp({uint16_t(3000 + i), 33434, {9, 9}}).ip_packet();
    test::Ipv6Spec outer;
    outer.src = router;
    outer.dst = a;
    // Destination unreachable (1), port unreachable (4); 4 unused bytes (id/seq) then the quote.
    Bytes err = FrameBuilder().eth(kA, kB).ipv6(outer).icmp({1, 4, 0, 0, quoted}).build();
    EXPECT_EQ(owner(err, n), owner(udp6(a, b, uint16_t(3000 + i), 33434), n)) << i;
    EXPECT_NE(owner(err, n), uint32_t(pair_hash(router, a) % n));
  }
}

TEST(OwnerSteering, EveryIpv4FragmentHasItsFlowsOwner) {
  for (uint32_t n : {2u, 3u}) {
    for (uint32_t i = 1; i < 20; ++i) {
      IpAddr a = v4_of(i), b = v4_of(50 + i);
      test::Ipv4Spec v4;
      v4.src = a;
      v4.dst = b;
      v4.id = uint16_t(i);
      Bytes l4 = FrameBuilder().ipv4(v4).udp({5000, 6000, Bytes(64, 7)}).l4();  // 72 bytes
      for (uint16_t off : {0, 24, 48}) {
        test::Ipv4Spec f = v4;
        f.frag_offset = off;
        f.mf = off != 48;
        f.proto = kProtoUdp;
        Bytes part(l4.begin() + off, l4.begin() + std::min<std::size_t>(l4.size(), off + 24));
        Bytes frag = FrameBuilder().eth(kB, kA).ipv4(f).raw(kProtoUdp, part).build();
        EXPECT_TRUE(key_of(frag).has_owner);
        EXPECT_EQ(owner(frag, n, 99), owner(udp4(a, b, 5000, 6000), n)) << "offset " << off;
        EXPECT_EQ(owner(frag, n, 99), owner(udp4(b, a, 6000, 5000), n));  // the replies'
      }
    }
  }
}

TEST(OwnerSteering, EveryIpv6FragmentHasItsFlowsOwner) {
  for (uint32_t n : {2u, 3u}) {
    for (uint32_t i = 1; i < 20; ++i) {
      IpAddr a = v6_of(i), b = v6_of(0x200 + i);
      test::Ipv6Spec v6;
      v6.src = a;
      v6.dst = b;
      Bytes l4 = FrameBuilder().ipv6(v6).udp({5000, 6000, Bytes(64, 7)}).l4();
      for (uint16_t off : {0, 24, 48}) {
        test::Ipv6Spec f = v6;
        f.ext = {test::ipv6_frag_ext(off, off != 48, 0x1000 + i)};
        Bytes part(l4.begin() + off, l4.begin() + std::min<std::size_t>(l4.size(), off + 24));
        Bytes frag = FrameBuilder().eth(kB, kA).ipv6(f).raw(kProtoUdp, part).build();
        EXPECT_TRUE(key_of(frag).has_owner);
        EXPECT_EQ(owner(frag, n, 99), owner(udp6(a, b, 5000, 6000), n)) << "offset " << off;
        EXPECT_EQ(owner(frag, n, 99), owner(udp6(b, a, 6000, 5000), n));
      }
    }
  }
}

TEST(OwnerSteering, VlanTagsDoNotChangeTheOwnerAndAreLearned) {
  test::Ipv4Spec v4;
  v4.src = v4_of(1);
  v4.dst = v4_of(2);
  Bytes plain = FrameBuilder().eth(kB, kA).ipv4(v4).udp({1, 2, {}}).build();
  Bytes tagged = FrameBuilder().eth(kB, kA).vlan(42).ipv4(v4).udp({1, 2, {}}).build();
  Bytes qinq = FrameBuilder().eth(kB, kA).vlan(7, 0x88a8).vlan(42).ipv4(v4).udp({1, 2, {}}).build();
  SteerKey k = key_of(tagged);
  ASSERT_TRUE(k.has_owner);
  EXPECT_EQ(k.hash, key_of(plain).hash);
  EXPECT_EQ(key_of(qinq).hash, k.hash);
  EXPECT_TRUE(k.learnable);
  EXPECT_EQ(k.src_mac, kA);
}

TEST(OwnerSteering, NonIpAndMalformedFramesStayWithTheReceiver) {
  // ARP: no owner, but its source is learned (the engine learns it too).
  Bytes arp = FrameBuilder().eth(mac(0xff, 0xff, 0xff, 0xff, 0xff, 0xff), kA).ethertype(kEthTypeArp)
                  .raw(0, Bytes(28, 0)).build();
  SteerKey k = key_of(arp);
  EXPECT_FALSE(k.has_owner);
  EXPECT_TRUE(k.learnable);
  EXPECT_EQ(owner_of(k, 4, 3), 3u);
  // A multicast source is not learned (L2 admission drops it).
  Bytes bad_src = FrameBuilder().eth(kB, mac(0x01, 0, 0x5e, 0, 0, 1)).ipv4({}).udp({}).build();
  EXPECT_FALSE(key_of(bad_src).learnable);
  // Truncated IP header: no owner, not learned, no crash.
  Bytes good = udp4(v4_of(1), v4_of(2), 1, 2);
  for (std::size_t len = 0; len < 14 + 20; ++len) {
    Bytes cut(good.begin(), good.begin() + len);
    SteerKey c = key_of(cut);
    EXPECT_FALSE(c.has_owner) << len;
    EXPECT_EQ(owner_of(c, 2, 1), 1u);
  }
  // Random bytes: whatever they decode to, no crash and an owner within range.
  std::mt19937 rng(11);
  for (int i = 0; i < 5000; ++i) {
    Bytes junk(rng() % 200);
    for (auto& b : junk) b = uint8_t(rng());
    if (junk.size() > 13 && i % 2) {  // half of them with an IP ethertype
      junk[12] = i % 4 == 1 ? 0x08 : 0x86;
      junk[13] = i % 4 == 1 ? 0x00 : 0xdd;
      if (junk.size() > 14) junk[14] = i % 4 == 1 ? 0x45 : 0x60;
    }
    EXPECT_LT(owner(junk, 3, 2), 3u);
  }
}

}  // namespace
}  // namespace tapwall
