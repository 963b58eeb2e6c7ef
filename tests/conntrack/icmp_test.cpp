// ICMP / ICMPv6: echo tracking (request creates, reply ESTABLISHED, unmatched reply
// INVALID), only request types create entries, every error type is RELATED when it quotes a
// tracked TCP/UDP/ICMP flow (either direction) and INVALID otherwise, errors change no
// state, ND/MLD are UNTRACKED.
#include <gtest/gtest.h>

#include "tcp_flow.hpp"

namespace tapwall::test {
namespace {

const IpAddr kA = v4(10, 1, 0, 1), kB = v4(10, 2, 0, 2), kRouter = v4(10, 9, 9, 9);

TEST(IcmpEcho, RequestCreatesReplyEstablishes) {
  Conntrack ct(test_cfg());
  const uint64_t t0 = 3 * kSec;
  const CtResult r1 = pass(ct, icmp(kA, kB, 8, 0, 77), t0);
  EXPECT_EQ(r1.state, CtState::New);
  EXPECT_TRUE(r1.pending);
  const CtResult r2 = pass(ct, icmp(kB, kA, 0, 0, 77), t0);
  EXPECT_EQ(r2.state, CtState::Established);
  EXPECT_TRUE(r2.reply);
  EXPECT_EQ(r2.entry, r1.entry);
  EXPECT_EQ(pass(ct, icmp(kA, kB, 8, 0, 77), t0).state, CtState::Established);
  // Keyed by id (sport = id in the view, dport 0).
  const EntryInfo e = find_entry(ct, t0, kA, kProtoIcmp, 77);
  ASSERT_TRUE(e.found);
  EXPECT_EQ(e.v.orig_dport, 0);
  EXPECT_EQ(e.state, "");
  EXPECT_TRUE(e.v.seen_reply);
  EXPECT_EQ(e.v.packets[0], 2u);
  EXPECT_EQ(e.v.packets[1], 1u);
  EXPECT_TRUE(find_entry(ct, t0 + 30 * kSec - 1, kA, kProtoIcmp, 77).found);
  EXPECT_FALSE(find_entry(ct, t0 + 30 * kSec, kA, kProtoIcmp, 77).found);
}

TEST(IcmpEcho, UnmatchedReplyIsInvalid) {
  Conntrack ct(test_cfg());
  EXPECT_EQ(pass(ct, icmp(kB, kA, 0, 0, 77), kSec).state, CtState::Invalid);
  pass(ct, icmp(kA, kB, 8, 0, 77), kSec);
  EXPECT_EQ(pass(ct, icmp(kB, kA, 0, 0, 78), kSec).state, CtState::Invalid);  // other id
  EXPECT_EQ(pass(ct, icmp(kB, kA, 0, 1, 77), kSec).state, CtState::Invalid);  // other code
  EXPECT_EQ(ct.size(), 1u);
}

TEST(IcmpEcho, ReplyToBroadcastRequestIsNew) {
  // The reply comes from a host, not from the broadcast address: no entry matches it.
  Conntrack ct(test_cfg());
  pass(ct, icmp(kA, v4(10, 1, 255, 255), 8, 0, 5), kSec);
  EXPECT_EQ(pass(ct, icmp(v4(10, 1, 0, 7), kA, 0, 0, 5), kSec).state, CtState::Invalid);
}

TEST(IcmpTypes, OnlyRequestTypesCreate) {
  for (int type = 0; type <= 255; ++type) {
    if (type == 3 || type == 4 || type == 5 || type == 11 || type == 12) continue;  // errors
    SCOPED_TRACE(type);
    Conntrack ct(test_cfg());
    const bool creates = type == 8 || type == 13 || type == 15 || type == 17;
    EXPECT_EQ(pass(ct, icmp(kA, kB, uint8_t(type), 0, 9), kSec).state,
              creates ? CtState::New : CtState::Invalid);
    EXPECT_EQ(ct.size(), creates ? 1u : 0u);
  }
}

TEST(IcmpTypes, TimestampReplyMatchesRequest) {
  Conntrack ct(test_cfg());
  EXPECT_EQ(pass(ct, icmp(kA, kB, 13, 0, 4), kSec).state, CtState::New);
  EXPECT_EQ(pass(ct, icmp(kB, kA, 14, 0, 4), kSec).state, CtState::Established);
  EXPECT_EQ(pass(ct, icmp(kB, kA, 0, 0, 4), kSec).state, CtState::Invalid);  // not its pair
}

// A tracked flow of each kind, and the packet of it that an error would quote.
struct Tracked {
  const char* name;
  std::function<void(Conntrack&)> setup;
  Pkt orig;   // a packet in the original direction (A -> B)
  Pkt reply;  // a packet in the reply direction (B -> A)
};

std::vector<Tracked> tracked_flows(bool v6fam) {
  const IpAddr a = v6fam ? v6(1) : kA, b = v6fam ? v6(2) : kB;
  const uint8_t echo = v6fam ? 128 : 8, echo_reply = v6fam ? 129 : 0;
  std::vector<Tracked> out;
  out.push_back({"tcp",
                 [=](Conntrack& ct) {
                   pass(ct, tcp(a, b, 40000, 80, kTcpSyn, 1000, 0), kSec);
                   pass(ct, tcp(b, a, 80, 40000, kTcpSyn | kTcpAck, 5000, 1001), kSec);
                 },
                 tcp(a, b, 40000, 80, kTcpAck, 1001, 5001),
                 tcp(b, a, 80, 40000, kTcpAck, 5001, 1001)});
  out.push_back({"udp", [=](Conntrack& ct) { pass(ct, udp(a, b, 5000, 53), kSec); },
                 udp(a, b, 5000, 53), udp(b, a, 53, 5000)});
  out.push_back({"echo", [=](Conntrack& ct) { pass(ct, icmp(a, b, echo, 0, 42), kSec); },
                 icmp(a, b, echo, 0, 42), icmp(b, a, echo_reply, 0, 42)});
  return out;
}

void check_errors(bool v6fam, const std::vector<uint8_t>& error_types) {
  const IpAddr a = v6fam ? v6(1) : kA, b = v6fam ? v6(2) : kB;
  const IpAddr router = v6fam ? v6(99) : kRouter;
  for (const Tracked& f : tracked_flows(v6fam)) {
    for (uint8_t type : error_types) {
      SCOPED_TRACE(std::string(f.name) + " type " + std::to_string(type));
      Conntrack ct(test_cfg());
      f.setup(ct);
      const std::string state_before = find_entry(ct, kSec, a, f.orig.d.ip_proto,
                                                  f.orig.d.ip_proto == kProtoTcp ||
                                                          f.orig.d.ip_proto == kProtoUdp
                                                      ? f.orig.d.sport
                                                      : 42)
                                           .state;
      const uint64_t created = ct.stats().created;
      // A router on the path reports that A's packet could not be delivered: back to A.
      CtResult r = pass(ct, icmp(router, a, type, 0, 0, &f.orig), 2 * kSec);
      EXPECT_EQ(r.state, CtState::Related);
      EXPECT_TRUE(r.reply);
      EXPECT_NE(r.entry, kNoCtEntry);
      EXPECT_FALSE(r.pending);
      // B's packet bounced: the error goes to B, in the original direction.
      r = pass(ct, icmp(router, b, type, 0, 0, &f.reply), 2 * kSec);
      EXPECT_EQ(r.state, CtState::Related);
      EXPECT_FALSE(r.reply);
      // No new entries, no state change, no refresh.
      EXPECT_EQ(ct.stats().created, created);
      EXPECT_EQ(ct.size(), 1u);
      ct.for_each(2 * kSec, [&](const CtEntryView& v) {
        EXPECT_EQ(v.state_name, state_before);
        EXPECT_EQ(v.expires_in_ns + kSec, (f.orig.d.ip_proto == kProtoTcp ? 60 : 30) * kSec);
      });
      // Sent to someone who is not the quoted packet's sender: INVALID.
      EXPECT_EQ(pass(ct, icmp(router, router, type, 0, 0, &f.orig), 2 * kSec).state,
                CtState::Invalid);
    }
    // Quoting a flow nobody tracks.
    for (uint8_t type : error_types) {
      Conntrack ct(test_cfg());
      EXPECT_EQ(pass(ct, icmp(router, a, type, 0, 0, &f.orig), kSec).state, CtState::Invalid)
          << f.name << " untracked, type " << int(type);
      EXPECT_EQ(ct.size(), 0u);
    }
  }
  // An error without a decodable quoted header.
  for (uint8_t type : error_types) {
    Conntrack ct(test_cfg());
    EXPECT_EQ(pass(ct, icmp(router, a, type, 0), kSec).state, CtState::Invalid) << int(type);
  }
}

TEST(IcmpErrors, V4ErrorTypesAreRelatedToTrackedFlowsOnly) {
  check_errors(false, {3, 4, 5, 11, 12});
}

TEST(IcmpErrors, V6ErrorTypesAreRelatedToTrackedFlowsOnly) { check_errors(true, {1, 2, 3, 4}); }

TEST(IcmpErrors, ErrorQuotingAnErrorIsInvalid) {
  Conntrack ct(test_cfg());
  const Pkt inner_err = icmp(kB, kA, 3, 1);
  pass(ct, icmp(kA, kB, 8, 0, 1), kSec);
  EXPECT_EQ(pass(ct, icmp(kRouter, kB, 3, 1, 0, &inner_err), kSec).state, CtState::Invalid);
}

TEST(Icmpv6, EchoRequestCreatesReplyEstablishes) {
  Conntrack ct(test_cfg());
  EXPECT_EQ(pass(ct, icmp(v6(1), v6(2), 129, 0, 3), kSec).state, CtState::Invalid);
  EXPECT_EQ(pass(ct, icmp(v6(1), v6(2), 128, 0, 3), kSec).state, CtState::New);
  EXPECT_EQ(pass(ct, icmp(v6(2), v6(1), 129, 0, 3), kSec).state, CtState::Established);
  EXPECT_TRUE(find_entry(ct, kSec + 30 * kSec - 1, v6(1), kProtoIcmpv6, 3).found);
  EXPECT_FALSE(find_entry(ct, kSec + 30 * kSec, v6(1), kProtoIcmpv6, 3).found);
}

TEST(Icmpv6, NeighbourDiscoveryAndMldAreUntracked) {
  Conntrack ct(test_cfg());
  for (uint8_t type : {130, 131, 132, 133, 134, 135, 136, 143, 151, 152}) {
    const CtResult r = pass(ct, icmp(v6(1, true), v6(2, true), type, 0, 0, nullptr, 255), kSec);
    EXPECT_EQ(r.state, CtState::Untracked) << int(type);
    EXPECT_EQ(r.entry, kNoCtEntry);
  }
  EXPECT_EQ(ct.size(), 0u);
  EXPECT_EQ(ct.stats().invalid, 0u);
}

TEST(Icmpv6, OtherTypesThatCannotStartAFlowAreInvalid) {
  Conntrack ct(test_cfg());
  // Redirect without the redirected header, node information reply, unknown types.
  for (uint8_t type : {137, 140, 200, 255}) {
    EXPECT_EQ(pass(ct, icmp(v6(1, true), v6(2), type, 0, 0, nullptr, 255), kSec).state,
              CtState::Invalid)
        << int(type);
  }
  EXPECT_EQ(pass(ct, icmp(v6(1), v6(2), 139, 0, 1), kSec).state, CtState::New);  // NI query
}

TEST(Icmpv6, BadChecksumIsInvalidEvenForNeighbourDiscovery) {
  Conntrack ct(test_cfg());
  Pkt p = icmp(v6(1, true), v6(2, true), 135, 0, 0, nullptr, 255);
  p.frame[p.d.l4_off + 9] ^= 1;
  EXPECT_EQ(ct.track(p.d, p.span(), kSec).state, CtState::Invalid);
  EXPECT_EQ(ct.track(p.d, p.span(), kSec, /*csum_partial=*/true).state, CtState::Untracked);
}

TEST(IcmpFamilies, IcmpInIpv6AndIcmpv6InIpv4AreInvalid) {
  Conntrack ct(test_cfg());
  Pkt p = icmp(v6(1), v6(2), 128, 0, 1);
  p.d.ip_proto = kProtoIcmp;
  EXPECT_EQ(ct.track(p.d, p.span(), kSec, true).state, CtState::Invalid);
  Pkt q = icmp(kA, kB, 8, 0, 1);
  q.d.ip_proto = kProtoIcmpv6;
  EXPECT_EQ(ct.track(q.d, q.span(), kSec, true).state, CtState::Invalid);
  EXPECT_EQ(ct.size(), 0u);
}

TEST(IcmpChecksum, BadIcmpChecksumIsInvalid) {
  Conntrack ct(test_cfg());
  Pkt p = icmp(kA, kB, 8, 0, 1);
  p.frame[p.d.l4_off + 12] ^= 0x80;
  EXPECT_EQ(ct.track(p.d, p.span(), kSec).state, CtState::Invalid);
  EXPECT_EQ(ct.size(), 0u);
}

}  // namespace
}  // namespace tapwall::test
