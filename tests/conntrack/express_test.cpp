// Conntrack's express steps (prepare(key) -> prefetch_entry() -> express_peek() ->
// express_track()): they find the entry track() would, refuse what track() would treat
// otherwise (NEW, expired, a TCP connection not ESTABLISHED), never trust a stale slot
// hint from prefetch_entry(), and track exactly as track() does.
#include <gtest/gtest.h>

#include "conntrack_impl.hpp"
#include "ct_test_util.hpp"

namespace tapwall::test {
namespace {

const IpAddr kA = v4(192, 0, 2, 10), kB = v4(198, 51, 100, 20), kC = v4(198, 51, 100, 30);

CtExpress udp_express(const IpAddr& src, const IpAddr& dst, uint16_t sport, uint16_t dport) {
  CtExpress x;
  x.key = FlowKey{src, dst, sport, dport, kProtoUdp};
  const Pkt p = udp(src, dst, sport, dport);
  x.ip_len = uint32_t(p.d.ip_end - p.d.l3_off);
  return x;
}

// The express steps for `x` at `now`, as the engine takes them within one batch.
bool peek(Conntrack& ct, CtExpress& x, uint64_t now) {
  CtLookup lk;
  ct.prepare(x.key, lk);
  ct.prefetch_entry(lk);
  return ct.express_peek(lk, now, x);
}

TEST(CtExpress, FindsTheEstablishedEntryFromEitherSide) {
  Conntrack ct(test_cfg());
  const uint64_t t = 10 * kSec;
  const CtResult first = pass(ct, udp(kA, kB, 5000, 53), t);
  CtExpress x = udp_express(kA, kB, 5000, 53);
  EXPECT_FALSE(peek(ct, x, t));  // no reply yet: NEW
  pass(ct, udp(kB, kA, 53, 5000), t);
  ASSERT_TRUE(peek(ct, x, t));
  EXPECT_EQ(x.entry, first.entry);
  EXPECT_FALSE(x.reply);
  CtExpress back = udp_express(kB, kA, 53, 5000);
  ASSERT_TRUE(peek(ct, back, t));
  EXPECT_EQ(back.entry, first.entry);
  EXPECT_TRUE(back.reply);
  // The same effects as track(): compare with a twin table given the same packets.
  Conntrack twin(test_cfg());
  pass(twin, udp(kA, kB, 5000, 53), t);
  pass(twin, udp(kB, kA, 53, 5000), t);
  const CtResult a = ct.express_track(t + kSec, x);
  const CtResult b = twin.track(udp(kA, kB, 5000, 53).d, udp(kA, kB, 5000, 53).span(), t + kSec);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.entry, b.entry);
  EXPECT_EQ(a.reply, b.reply);
  const EntryInfo ea = find_entry(ct, t + kSec, kA, kProtoUdp, 5000);
  const EntryInfo eb = find_entry(twin, t + kSec, kA, kProtoUdp, 5000);
  EXPECT_EQ(ea.v.expires_in_ns, eb.v.expires_in_ns);
  EXPECT_EQ(ea.v.packets[0], eb.v.packets[0]);
  EXPECT_EQ(ea.v.bytes[0], eb.v.bytes[0]);
}

TEST(CtExpress, RefusesAnExpiredEntryWithoutRemovingIt) {
  Conntrack ct(test_cfg());
  const uint64_t t = 10 * kSec;
  pass(ct, udp(kA, kB, 5000, 53), t);
  pass(ct, udp(kB, kA, 53, 5000), t);
  CtExpress x = udp_express(kA, kB, 5000, 53);
  EXPECT_FALSE(peek(ct, x, t + 31 * kSec));
  EXPECT_EQ(ct.size(), 1u);  // track() frees it, as it meets it: peek changes nothing
}

TEST(CtExpress, NeverTrustsAStaleSlotHint) {
  Conntrack ct(test_cfg());
  uint64_t t = 10 * kSec;
  pass(ct, udp(kA, kB, 5000, 53), t);
  pass(ct, udp(kB, kA, 53, 5000), t);
  CtExpress x = udp_express(kA, kB, 5000, 53);
  CtLookup lk;
  ct.prepare(x.key, lk);
  ct.prefetch_entry(lk);  // the hint names A's entry...
  // ... which expires and is reused by another flow before the packet is judged.
  t += 40 * kSec;
  ct.expire(t);
  ASSERT_EQ(ct.size(), 0u);
  const CtResult c = pass(ct, udp(kC, kB, 6000, 53), t);
  pass(ct, udp(kB, kC, 53, 6000), t);
  ASSERT_EQ(ct.size(), 1u);
  ASSERT_EQ(c.entry, lk.hint >> 1);  // the very entry the hint names
  EXPECT_FALSE(ct.express_peek(lk, t, x));
  // A hint that names the wrong direction of the right entry is not trusted either.
  CtExpress y = udp_express(kB, kC, 53, 6000);
  CtLookup lk2;
  ct.prepare(y.key, lk2);
  lk2.hint = c.entry * 2;  // original direction; the packet travels in reply
  ASSERT_TRUE(ct.express_peek(lk2, t, y));
  EXPECT_TRUE(y.reply);
}

}  // namespace
}  // namespace tapwall::test
