// The per-packet matches. `-m limit`: the token buckets as the kernel keeps them for
// iptables-nft (nft_limit), and how the compiled matcher and the reference walk use them: a
// limit rule's decision is never memoized nor handed out as cacheable, a token is spent by
// every packet that reaches the limit (also when a test after it fails), and nothing is
// spent by decide() or trace(). `-m length`: the packet's length at the hook, likewise
// never memoized (packets of one class differ in length). `-m pkttype`: a bridged frame's
// type at FORWARD by its destination MAC (the kernel recording random_pkttype agrees).
#include <gtest/gtest.h>

#include <algorithm>

#include "../../dataplane/policy/limit_buckets.hpp"
#include "../../dataplane/policy/reference_evaluator.hpp"
#include "policy_test_util.hpp"

namespace tapwall::testing {
namespace {

constexpr uint64_t kSec = 1000000000ull;

LimitMatch limit(uint32_t per, uint32_t unit_s, uint32_t burst) {
  return LimitMatch{LimitMatch::kScale * unit_s / per, burst};
}

// What `nft list ruleset` showed on the lab's iptables-nft for these rules (rate/unit),
// and the bucket nft_limit_init makes of them.
TEST(NftLimit, ConversionAsIptablesNftAndTheKernelDoIt) {
  const policy::NftLimit a = policy::nft_limit_of(limit(5, 60, 7));
  EXPECT_EQ(a.rate, 5u);
  EXPECT_EQ(a.unit_s, 60u);
  EXPECT_EQ(a.cost_ns, 12 * kSec);
  EXPECT_EQ(a.tokens_max_ns, 84 * kSec);
  const policy::NftLimit d = policy::nft_limit_of(LimitMatch{});  // -m limit: 3/hour, burst 5
  EXPECT_EQ(d.rate, 3u);
  EXPECT_EQ(d.unit_s, 3600u);
  EXPECT_EQ(d.cost_ns, 1200 * kSec);
  EXPECT_EQ(d.tokens_max_ns, 6000 * kSec);
  // Odd rates keep their unit ("7/minute", "13/hour", "90/minute", "1/second" on the lab).
  EXPECT_EQ(policy::nft_limit_of(limit(7, 60, 5)).rate, 7u);
  EXPECT_EQ(policy::nft_limit_of(limit(7, 60, 5)).unit_s, 60u);
  EXPECT_EQ(policy::nft_limit_of(limit(13, 3600, 5)).rate, 13u);
  EXPECT_EQ(policy::nft_limit_of(limit(13, 3600, 5)).unit_s, 3600u);
  EXPECT_EQ(policy::nft_limit_of(limit(90, 60, 5)).rate, 90u);
  EXPECT_EQ(policy::nft_limit_of(limit(90, 60, 5)).unit_s, 60u);
  EXPECT_EQ(policy::nft_limit_of(limit(1, 1, 5)).rate, 1u);
  EXPECT_EQ(policy::nft_limit_of(limit(1, 1, 5)).unit_s, 1u);
  // --limit-burst 0: nft's default burst, 5.
  EXPECT_EQ(policy::nft_limit_of(limit(1, 1, 0)).burst, 5u);
  EXPECT_EQ(policy::nft_limit_of(limit(1, 1, 0)).tokens_max_ns, 5 * kSec);
}

RuleSet one_limit_rule(LimitMatch lm) {
  RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  chain(rs, "FORWARD").rules = {rule("-A FORWARD -m limit -j ACCEPT", {lm}, TargetKind::Accept)};
  return rs;
}

// Full at first; a packet costs unit/rate; refilled by the time since the last packet,
// whether that one passed or not; looking spends nothing.
TEST(LimitBuckets, BurstThenRefillByElapsedTime) {
  const RuleSet rs = one_limit_rule(limit(1, 1, 2));  // 1/second, burst 2
  const int32_t id = rule_id(rs, "FORWARD", 0);
  policy::LimitBuckets b(&rs, nullptr);
  const uint64_t t0 = 100 * kSec;
  EXPECT_TRUE(b.pass(id, 0, t0, false));  // a look
  EXPECT_TRUE(b.pass(id, 0, t0, true));
  EXPECT_TRUE(b.pass(id, 0, t0, true));
  EXPECT_FALSE(b.pass(id, 0, t0, true));
  EXPECT_FALSE(b.pass(id, 0, t0 + kSec / 2, true));  // half a packet's worth
  EXPECT_TRUE(b.pass(id, 0, t0 + kSec, false));
  EXPECT_TRUE(b.pass(id, 0, t0 + kSec, true));  // the other half
  EXPECT_FALSE(b.pass(id, 0, t0 + kSec, true));
  EXPECT_TRUE(b.pass(id, 0, t0 + 100 * kSec, true));  // capped at the burst: two, not 99
  EXPECT_TRUE(b.pass(id, 0, t0 + 100 * kSec, true));
  EXPECT_FALSE(b.pass(id, 0, t0 + 100 * kSec, true));
  // A frame a little behind (another worker's) neither refills nor winds the bucket back:
  // a second on there is one token, not one and a half, so half a second later none.
  EXPECT_FALSE(b.pass(id, 0, t0 + 99 * kSec + kSec / 2, true));
  EXPECT_TRUE(b.pass(id, 0, t0 + 101 * kSec, true));
  EXPECT_FALSE(b.pass(id, 0, t0 + 101 * kSec + kSec / 2, true));
}

// The compiled matcher spends tokens per judgement, counts the rule only when it matched,
// and never keeps the decision (not in the memo, not as a cacheable path).
TEST(LimitRule, CompiledDecisionsFollowTheBucketAndAreNeverCached) {
  const RuleSet rs = one_limit_rule(limit(1, 1, 2));
  auto pol = compile_ok(&rs, nullptr, two_ports());
  ASSERT_TRUE(pol);
  PolicyEvaluator ev(pol);
  const Decoded d = tcp4("192.0.2.1", "198.51.100.2", 1000, 80);
  PolicyQuery q = query(d, CtState::Established, 0, 1);
  q.now_ns = 50 * kSec;
  const bool want[] = {true, true, false, false};
  for (bool w : want) {
    PolicyPath path;
    EXPECT_EQ(ev.judge(q, path).accept, w);
    EXPECT_FALSE(path.complete);  // the engine must not cache it
  }
  EXPECT_EQ(ev.memo_stats().hits, 0u);
  EXPECT_EQ(pol->counter(rule_id(rs, "FORWARD", 0)).packets.load(), 2u);
  EXPECT_EQ(pol->counter(policy_id(rs, "FORWARD")).packets.load(), 2u);
  // decide() and trace() look without spending: one token back after a second, and both
  // say so as often as asked; then a judgement spends it.
  q.now_ns += kSec;
  EXPECT_TRUE(ev.decide(q).accept);
  EXPECT_TRUE(ev.decide(q).accept);
  PolicyDecision traced;
  pol->trace(q, &traced);
  EXPECT_TRUE(traced.accept);
  EXPECT_TRUE(ev.judge(q).accept);
  EXPECT_FALSE(ev.judge(q).accept);
}

// A limit spends a token on every packet that reaches it, whatever follows: in
// `-m limit -p tcp --dport 23` the port is tested after the limit (iptables-nft's order),
// in `-p tcp --dport 23 -m limit` before it. The reference walk agrees, bucket for bucket.
TEST(LimitRule, TestsAfterTheLimitDoNotSaveItsToken) {
  for (bool limit_first : {true, false}) {
    SCOPED_TRACE(limit_first ? "limit, then the port" : "the port, then the limit");
    RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Drop);
    std::vector<Match> m = {limit(1, 3600, 1), dport(23, 23)};
    if (!limit_first) std::swap(m[0], m[1]);
    chain(rs, "FORWARD").rules = {proto_rule("-A FORWARD ...", kProtoTcp, m, TargetKind::Accept)};
    auto pol = compile_ok(&rs, nullptr, two_ports());
    ASSERT_TRUE(pol);
    PolicyEvaluator ev(pol);
    policy::ReferenceEvaluator ref(&rs, nullptr, two_ports());
    const Decoded web = tcp4("192.0.2.1", "198.51.100.2", 1000, 80);
    const Decoded telnet = tcp4("192.0.2.1", "198.51.100.2", 1000, 23);
    PolicyQuery qw = query(web, CtState::New, 0, 1), qt = query(telnet, CtState::New, 0, 1);
    qw.now_ns = qt.now_ns = 10 * kSec;
    EXPECT_FALSE(ev.judge(qw).accept);
    EXPECT_FALSE(ref.judge(qw).decision.accept);
    // The web packet spent the only token when the limit came first.
    EXPECT_EQ(ev.judge(qt).accept, !limit_first);
    EXPECT_EQ(ref.judge(qt).decision.accept, !limit_first);
  }
}

// -m length against the packet's length (what its byte counters count): bounds inclusive,
// `!` the complement, a reversed range nothing; packets of one class but another length
// get another decision, so none is memoized.
TEST(LengthRule, BoundsNegationAndNoMemo) {
  struct Case {
    LengthMatch m;
    uint32_t len;
    bool match;
  };
  const Case cases[] = {{{100, 200, false}, 99, false}, {{100, 200, false}, 100, true},
                        {{100, 200, false}, 200, true},  {{100, 200, false}, 201, false},
                        {{100, 200, true}, 150, false},  {{100, 200, true}, 201, true},
                        {{200, 100, false}, 150, false}, {{200, 100, true}, 150, true}};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.m.lo) + ":" + std::to_string(c.m.hi) + (c.m.negated ? " !" : "") +
                 " len " + std::to_string(c.len));
    RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Drop);
    chain(rs, "FORWARD").rules = {
        proto_rule("-A FORWARD -p udp -m length ...", kProtoUdp, {c.m}, TargetKind::Accept)};
    auto pol = compile_ok(&rs, nullptr, two_ports());
    ASSERT_TRUE(pol);
    PolicyEvaluator ev(pol);
    policy::ReferenceEvaluator ref(&rs, nullptr, two_ports());
    const Decoded d = udp4("192.0.2.1", "198.51.100.2", 1000, 53);
    PolicyPath path;
    EXPECT_EQ(ev.judge(query(d, CtState::New, 0, 1, c.len), path).accept, c.match);
    EXPECT_TRUE(path.complete);  // for packets of its length class (length_cuts())
    EXPECT_EQ(ref.judge(query(d, CtState::New, 0, 1, c.len)).decision.accept, c.match);
    // The same class at another length: decided again, not from the memo.
    EXPECT_EQ(ev.judge(query(d, CtState::New, 0, 1, c.len + 1000)).accept,
              (c.m.lo <= c.len + 1000 && c.len + 1000 <= c.m.hi) != c.m.negated);
    EXPECT_EQ(ev.memo_stats().hits, 0u);
  }
  // A TCP packet never reaches the UDP rule's length test: its decision is memoized.
  RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  chain(rs, "FORWARD").rules = {proto_rule("-A FORWARD -p udp -m length --length 100", kProtoUdp,
                                           {LengthMatch{100, 100, false}}, TargetKind::Accept)};
  auto pol = compile_ok(&rs, nullptr, two_ports());
  PolicyEvaluator ev(pol);
  const Decoded t = tcp4("192.0.2.1", "198.51.100.2", 1000, 80);
  PolicyPath path;
  ev.judge(query(t, CtState::New, 0, 1, 100), path);
  EXPECT_TRUE(path.complete);
  ev.judge(query(t, CtState::New, 0, 1, 100));
  EXPECT_EQ(ev.memo_stats().hits, 1u);
}

// At FORWARD a bridged frame is broadcast or multicast by its destination MAC and unicast
// ("host") otherwise, also to a MAC the bridge has not learned: br_netfilter turns the
// port's "other host" into "host" for the hook, so otherhost never matches there.
TEST(PktTypeRule, ByDestinationMacAndNeverOtherhost) {
  struct Case {
    MacAddr dst;
    uint8_t type;
  };
  const Case frames[] = {{MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, 1},
                         {MacAddr{{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}}, 2},
                         {MacAddr{{0x33, 0x33, 0x00, 0x00, 0x00, 0xfb}}, 2},
                         {mac(7), 0}};
  for (uint8_t want : {0, 1, 2, 3}) {
    for (bool negated : {false, true}) {
      RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Drop);
      chain(rs, "FORWARD").rules = {rule("-A FORWARD -m pkttype ...",
                                         {PktTypeMatch{want, negated}}, TargetKind::Accept)};
      auto pol = compile_ok(&rs, nullptr, two_ports());
      ASSERT_TRUE(pol);
      PolicyEvaluator ev(pol);
      policy::ReferenceEvaluator ref(&rs, nullptr, two_ports());
      for (const Case& f : frames) {
        SCOPED_TRACE("type " + std::to_string(want) + (negated ? " negated" : "") + ", frame of type " +
                     std::to_string(f.type));
        Decoded d = udp4("192.0.2.1", "198.51.100.2", 1000, 53);
        d.dst_mac = f.dst;
        const bool match = (f.type == want) != negated;
        EXPECT_EQ(ev.judge(query(d, CtState::New, 0, 1)).accept, match);
        EXPECT_EQ(ref.judge(query(d, CtState::New, 0, 1)).decision.accept, match);
      }
      EXPECT_EQ(ev.memo_stats().hits, 0u);  // one class, several types: never memoized
    }
  }
}

// A pkttype decides alike for every packet of one type, and a length for every packet of one
// length class, so a decision that reached them is reported as a complete path (a cache
// keyed by both may keep it, as the engine's does); one that also reached a limit is not.
TEST(PktTypeRule, PathCompleteUnlessALimitTookPart) {
  struct Case {
    std::vector<Match> matches;
    bool complete;
  };
  const Case cases[] = {{{PktTypeMatch{1, true}}, true},  // ! broadcast
                        {{PktTypeMatch{1, true}, PortMatch{PortMatch::Field::Dst, {{53, 53}}, false}}, true},
                        {{PktTypeMatch{1, true}, LengthMatch{0, 1000, false}}, true},
                        {{PktTypeMatch{1, true}, LimitMatch{}}, false}};
  for (const Case& c : cases) {
    RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Drop);
    chain(rs, "FORWARD").rules = {
        proto_rule("-A FORWARD -p udp -m pkttype ...", kProtoUdp, c.matches, TargetKind::Accept)};
    auto pol = compile_ok(&rs, nullptr, two_ports());
    ASSERT_TRUE(pol);
    PolicyEvaluator ev(pol);
    const Decoded d = udp4("192.0.2.1", "198.51.100.2", 1000, 53);  // unicast
    PolicyPath path;
    EXPECT_TRUE(ev.judge(query(d, CtState::New, 0, 1), path).accept);
    EXPECT_EQ(path.complete, c.complete) << c.matches.size() << " matches";
  }
}

// length_cuts() splits lengths into classes that every length test decides alike: each
// length gets the decision of the first length of its class, for ranges with open ends,
// single values, negations and a reversed range, and lengths past 65535.
TEST(LengthRule, LengthCutsSeparateEveryAnswer) {
  RuleSet rs = ruleset(Family::Ipv4, PolicyVerdict::Drop);
  const std::vector<LengthMatch> tests = {{0, 64, false},        {100, 200, true},
                                          {576, 576, false},     {1000, 0xffff, false},
                                          {1400, 1300, false},   {60000, 70000, true}};
  std::vector<Rule> rules;
  for (const LengthMatch& m : tests)
    rules.push_back(rule("-A FORWARD -m length ...", {m}, TargetKind::Log));
  rules.push_back(rule("-A FORWARD -m length --length 1500:9000", {LengthMatch{1500, 9000, false}},
                       TargetKind::Accept));
  chain(rs, "FORWARD").rules = rules;
  auto pol = compile_ok(&rs, nullptr, two_ports());
  ASSERT_TRUE(pol);
  const auto cuts = pol->length_cuts();
  EXPECT_TRUE(std::is_sorted(cuts.begin(), cuts.end()));
  policy::ReferenceEvaluator ref(&rs, nullptr, two_ports());
  const Decoded d = udp4("192.0.2.1", "198.51.100.2", 1000, 53);
  // Which length rules a packet of `len` bytes matches, as the walk counts them.
  auto answers = [&](uint32_t len) { return ref.judge(query(d, CtState::New, 0, 1, len)).counted; };
  std::size_t cls = 0;
  std::vector<int32_t> first = answers(0);
  for (uint32_t len = 1; len <= 70001; ++len) {
    const std::size_t c = std::size_t(std::upper_bound(cuts.begin(), cuts.end(), len) - cuts.begin());
    const auto got = answers(len);
    if (c != cls) {
      cls = c;
      first = got;
      continue;
    }
    ASSERT_EQ(got, first) << "length " << len << " in class " << c;
  }
  EXPECT_GE(cls, 10u);  // the classes were not all one
}

}  // namespace
}  // namespace tapwall::testing
