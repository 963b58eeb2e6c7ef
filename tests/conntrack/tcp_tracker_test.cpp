// TCP tracker: timeouts per state, loose pickup, flag and header validity, window
// tracking (out of window is INVALID and changes nothing), window scaling, RST checks,
// unacknowledged-data and retransmission timeouts.
#include <gtest/gtest.h>

#include "tcp_flow.hpp"

namespace tapwall::test {
namespace {

// The entry must be alive 1 ns before `timeout_s` after `t0` and gone at exactly that time.
void expect_lifetime(const Conntrack& ct, const IpAddr& src, uint16_t sport, uint64_t t0,
                     uint64_t timeout_s, uint8_t proto = kProtoTcp) {
  const uint64_t end = t0 + timeout_s * kSec;
  EXPECT_TRUE(find_entry(ct, end - 1, src, proto, sport).found) << "timeout " << timeout_s;
  EXPECT_FALSE(find_entry(ct, end, src, proto, sport).found) << "timeout " << timeout_s;
}

TEST(TcpTimeouts, EachStateExpiresAtItsTimeout) {
  struct Case {
    const char* state;
    uint64_t timeout_s;
  };
  const CtTimeouts to;
  const Case kCases[] = {
      {"SYN_SENT", to.tcp_syn_sent},       {"SYN_SENT2", to.tcp_syn_sent},
      {"SYN_RECV", to.tcp_syn_recv},       {"ESTABLISHED", to.tcp_established},
      {"FIN_WAIT", to.tcp_fin_wait},       {"CLOSE_WAIT", to.tcp_close_wait},
      {"LAST_ACK", to.tcp_last_ack},       {"TIME_WAIT", to.tcp_time_wait},
      {"CLOSE", to.tcp_close},
  };
  EXPECT_EQ(to.tcp_established, 432000u);
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.state);
    Conntrack ct(test_cfg());
    TcpFlow f(ct);
    ASSERT_TRUE(reach(f, c.state));
    ASSERT_EQ(f.state(), c.state);
    expect_lifetime(ct, f.c, f.cport, f.now, c.timeout_s);
    // expire() frees it at exactly that time, not before.
    ct.expire(f.now + c.timeout_s * kSec - 1);
    EXPECT_EQ(ct.size(), 1u);
    ct.expire(f.now + c.timeout_s * kSec);
    EXPECT_EQ(ct.size(), 0u);
    EXPECT_EQ(ct.stats().expired, 1u);
  }
}

TEST(TcpTimeouts, ConfiguredTimeoutsAreUsed) {
  CtConfig cfg = test_cfg();
  cfg.timeouts.tcp_syn_sent = 7;
  Conntrack ct(cfg);
  TcpFlow f(ct);
  f.c_syn();
  expect_lifetime(ct, f.c, f.cport, f.now, 7);
}

TEST(TcpTimeouts, RetransmittedSynDoesNotRefresh) {
  Conntrack ct(test_cfg());
  TcpFlow f(ct);
  const uint64_t t0 = f.now;
  f.c_syn();
  f.now += 100 * kSec;
  EXPECT_EQ(f.send(f.probe(false, Cls::Syn)).state, CtState::New);
  expect_lifetime(ct, f.c, f.cport, t0, 120);  // still counted from the first SYN
}

TEST(TcpTimeouts, UnacknowledgedDataShortensEstablished) {
  Conntrack ct(test_cfg());
  TcpFlow f(ct);
  ASSERT_TRUE(reach(f, "ESTABLISHED"));
  f.c_ack(100);  // data not yet acknowledged by the server
  expect_lifetime(ct, f.c, f.cport, f.now, 300);
  f.s_ack();  // acknowledges it
  expect_lifetime(ct, f.c, f.cport, f.now, 432000);
}

TEST(TcpTimeouts, RetransmissionsShortenEstablished) {
  Conntrack ct(test_cfg());
  TcpFlow f(ct);
  ASSERT_TRUE(reach(f, "ESTABLISHED"));  // ends with the client's ACK 1001/5001
  const Pkt dup = f.make(false, kTcpAck, f.c_next, f.s_next);
  f.send(dup);  // retrans 1
  f.send(dup);  // retrans 2
  expect_lifetime(ct, f.c, f.cport, f.now, 432000);
  f.send(dup);  // retrans 3 = nf_conntrack_tcp_max_retrans
  expect_lifetime(ct, f.c, f.cport, f.now, 300);
}

TEST(TcpTimeouts, ZeroWindowShortensEstablished) {
  Conntrack ct(test_cfg());
  TcpFlow f(ct);
  ASSERT_TRUE(reach(f, "ESTABLISHED"));
  f.c_ack(0, 0);
  expect_lifetime(ct, f.c, f.cport, f.now, 300);
}

TEST(TcpTimeouts, RstGivesCloseTimeoutEvenWhenStateKept) {
  Conntrack ct(test_cfg());
  TcpFlow f(ct);
  ASSERT_TRUE(reach(f, "ESTABLISHED"));
  f.s_ack(50);
  f.c_ack();
  // A RST beyond the exact expected sequence (but in window) keeps ESTABLISHED, to allow a
  // challenge ACK, and still sets the CLOSE timeout.
  const Pkt rst = f.make(false, kTcpRst, f.c_next + 10, 0);
  EXPECT_EQ(f.send(rst).state, CtState::Established);
  EXPECT_EQ(f.state(), "ESTABLISHED");
  expect_lifetime(ct, f.c, f.cport, f.now, 10);
}

TEST(TcpRst, RstBelowAckedSequenceIsInvalid) {
  Conntrack ct(test_cfg());
  TcpFlow f(ct);
  ASSERT_TRUE(reach(f, "ESTABLISHED"));
  const Pkt rst = f.make(false, kTcpRst, f.c_next - 1, 0);
  EXPECT_EQ(f.send(rst).state, CtState::Invalid);
  EXPECT_EQ(f.state(), "ESTABLISHED");
  expect_lifetime(ct, f.c, f.cport, f.now, 432000);
}

TEST(TcpRst, ExactRstClosesBothDirections) {
  for (bool from_server : {false, true}) {
    Conntrack ct(test_cfg());
    TcpFlow f(ct);
    ASSERT_TRUE(reach(f, "ESTABLISHED"));
    const uint32_t seq = from_server ? f.s_next : f.c_next;
    EXPECT_EQ(f.send(f.make(from_server, kTcpRst, seq, 0)).state, CtState::Established);
    EXPECT_EQ(f.state(), "CLOSE");
  }
}

// A RST that answers a SYN conntrack let through skips the window check only when it comes
// from the SYN's peer (Linux 6.18; seen on the lab's br0, golden case random_mix, ports
// 53101 and 53102): the client's SYN, the server's ACK (ignored: SYN_SENT), the SYN again,
// then a RST whose ACK is that ACK's end and whose SEQ is far outside the window.
TEST(TcpRst, RstAnsweringASynMustComeFromItsPeer) {
  for (bool from_server : {true, false}) {
    Conntrack ct(test_cfg());
    TcpFlow f(ct);
    ASSERT_NE(f.c_syn().state, CtState::Invalid);
    EXPECT_EQ(f.send(f.make(true, kTcpAck, 5000, 1001)).state, CtState::Established);
    ASSERT_NE(f.c_syn().state, CtState::Invalid);
    const uint32_t far = 5000 + (1u << 30);
    const Pkt rst = f.make(from_server, kTcpRst | kTcpAck, far, 5000, 0, 0);
    if (from_server) {
      EXPECT_EQ(f.send(rst).state, CtState::Established);
      EXPECT_EQ(f.state(), "CLOSE");
    } else {
      EXPECT_EQ(f.send(rst).state, CtState::Invalid);
      EXPECT_EQ(f.state(), "SYN_SENT");
    }
  }
}

TEST(TcpLoose, MidStreamPickupIsNewThenEstablished) {
  Conntrack ct(test_cfg());
  TcpFlow f(ct);
  const CtResult r = ct.track(f.make(false, kTcpAck, 1001, 5001, 10).d,
                              f.make(false, kTcpAck, 1001, 5001, 10).span(), f.now);
  EXPECT_EQ(r.state, CtState::New);
  EXPECT_TRUE(r.pending);
  ct.confirm(r, true);
  EXPECT_EQ(f.state(), "ESTABLISHED");
  // Never answered: held for the unacknowledged timeout, not 5 days.
  expect_lifetime(ct, f.c, f.cport, f.now, 300);
  // Still NEW from the originator until a reply is seen.
  EXPECT_EQ(f.send(f.make(false, kTcpAck, 1011, 5001, 10)).state, CtState::New);
  EXPECT_EQ(f.send(f.make(true, kTcpAck, 5001, 1021)).state, CtState::Established);
  EXPECT_EQ(f.send(f.make(false, kTcpAck, 1021, 5001)).state, CtState::Established);
  const EntryInfo e = find_entry(ct, f.now, f.c, kProtoTcp, f.cport);
  EXPECT_TRUE(e.v.assured);
  // The server's first ACK was taken liberally (without learning from it), so the
  // client's data still counts as unacknowledged, as in the kernel...
  expect_lifetime(ct, f.c, f.cport, f.now, 300);
  // ...until an ACK passes the strict checks.
  EXPECT_EQ(f.send(f.make(true, kTcpAck, 5001, 1021)).state, CtState::Established);
  expect_lifetime(ct, f.c, f.cport, f.now, 432000);
}

TEST(TcpLoose, PickupIsLiberalAboutWindows) {
  Conntrack ct(test_cfg());
  TcpFlow f(ct);
  f.send(f.make(false, kTcpAck, 1001, 5001, 10));
  f.send(f.make(true, kTcpAck, 5001, 1011));
  // Far outside anything seen: a picked-up flow does not know the window scale.
  EXPECT_EQ(f.send(f.make(false, kTcpAck, 1011 + 50000000, 5001, 10)).state,
            CtState::Established);
}

TEST(TcpLoose, DisabledMeansMidStreamIsInvalid) {
  CtConfig cfg = test_cfg();
  cfg.tcp_loose = false;
  Conntrack ct(cfg);
  TcpFlow f(ct);
  EXPECT_EQ(f.send(f.make(false, kTcpAck, 1001, 5001)).state, CtState::Invalid);
  EXPECT_EQ(ct.size(), 0u);
  EXPECT_EQ(f.send(f.make(false, kTcpSyn, 1000, 0)).state, CtState::New);
}

// The kernel's tcp_valid_flags[]: with PSH, ECE and CWR masked off, only these are valid.
bool kernel_valid(uint8_t f) {
  const uint8_t m = f & uint8_t(~(kTcpPsh | kTcpEce | kTcpCwr));
  const uint8_t kValid[] = {kTcpSyn,          kTcpSyn | kTcpUrg,          kTcpSyn | kTcpAck,
                            kTcpRst,          kTcpRst | kTcpAck,          kTcpFin | kTcpAck,
                            kTcpFin | kTcpAck | kTcpUrg, kTcpAck, kTcpAck | kTcpUrg};
  for (uint8_t v : kValid)
    if (m == v) return true;
  return false;
}

TEST(TcpFlags, EveryInvalidCombinationIsInvalidAndCreatesNothing) {
  int invalid = 0;
  for (int flags = 0; flags < 256; ++flags) {
    if (kernel_valid(uint8_t(flags))) continue;
    ++invalid;
    SCOPED_TRACE(flags);
    Conntrack ct(test_cfg());
    TcpFlow f(ct);
    // As the first packet of a flow.
    EXPECT_EQ(f.send(f.make(false, uint8_t(flags), 1000, 0)).state, CtState::Invalid);
    EXPECT_EQ(ct.size(), 0u);
    // Inside an established flow: INVALID, the state stays.
    ASSERT_TRUE(reach(f, "ESTABLISHED"));
    EXPECT_EQ(f.send(f.make(false, uint8_t(flags), f.c_next, f.s_next)).state,
              CtState::Invalid);
    EXPECT_EQ(f.state(), "ESTABLISHED");
  }
  EXPECT_EQ(invalid, 256 - 9 * 8);  // 9 valid combinations x 8 PSH/ECE/CWR variants
}

TEST(TcpFlags, PshEceCwrAreAlwaysAllowed) {
  Conntrack ct(test_cfg());
  TcpFlow f(ct);
  EXPECT_EQ(f.send(f.make(false, kTcpSyn | kTcpEce | kTcpCwr, 1000, 0)).state, CtState::New);
  f.c_started = true;
  f.c_next = 1001;
  f.s_synack();
  EXPECT_EQ(f.send(f.make(false, kTcpAck | kTcpPsh, 1001, 5001, 5)).state,
            CtState::Established);
}

TEST(TcpHeader, BadDataOffsetIsInvalid) {
  Conntrack ct(test_cfg());
  TcpFlow f(ct);
  Pkt p = f.make(false, kTcpSyn, 1000, 0);
  p.d.tcp_doff = 16;  // below the 20-byte minimum
  EXPECT_EQ(ct.track(p.d, p.span(), f.now).state, CtState::Invalid);
  p = f.make(false, kTcpSyn, 1000, 0);
  p.d.tcp_doff = 60;  // beyond the end of the datagram
  EXPECT_EQ(ct.track(p.d, p.span(), f.now).state, CtState::Invalid);
  p = f.make(false, kTcpSyn, 1000, 0);
  p.d.l4_ok = false;
  EXPECT_EQ(ct.track(p.d, p.span(), f.now).state, CtState::Invalid);
  EXPECT_EQ(ct.size(), 0u);
  EXPECT_EQ(ct.stats().invalid, 3u);
}

TEST(TcpWindow, SequenceBeyondWindowIsInvalidAndChangesNothing) {
  Conntrack ct(test_cfg());
  TcpFlow f(ct);
  ASSERT_TRUE(reach(f, "ESTABLISHED"));
  const uint64_t t0 = f.now;
  f.now += 5 * kSec;
  // The server allowed 64000 bytes; this starts 200000 bytes ahead.
  EXPECT_EQ(f.send(f.make(false, kTcpAck, f.c_next + 200000, f.s_next, 10)).state,
            CtState::Invalid);
  EXPECT_EQ(f.state(), "ESTABLISHED");
  expect_lifetime(ct, f.c, f.cport, t0, 432000);  // not refreshed
  // A FIN out of window does not start the close either.
  EXPECT_EQ(f.send(f.make(false, kTcpFin | kTcpAck, f.c_next + 200000, f.s_next)).state,
            CtState::Invalid);
  EXPECT_EQ(f.state(), "ESTABLISHED");
  EXPECT_EQ(f.c_ack(10).state, CtState::Established);
}

TEST(TcpWindow, AckOfUnseenDataIsInvalid) {
  Conntrack ct(test_cfg());
  TcpFlow f(ct);
  ASSERT_TRUE(reach(f, "ESTABLISHED"));
  EXPECT_EQ(f.send(f.make(false, kTcpAck, f.c_next, f.s_next + 1000)).state, CtState::Invalid);
  EXPECT_EQ(f.send(f.make(false, kTcpFin | kTcpAck, f.c_next, f.s_next + 1000)).state,
            CtState::Invalid);
  EXPECT_EQ(f.state(), "ESTABLISHED");
}

TEST(TcpWindow, BeLiberalAcceptsOutOfWindow) {
  CtConfig cfg = test_cfg();
  cfg.tcp_be_liberal = true;
  Conntrack ct(cfg);
  TcpFlow f(ct);
  ASSERT_TRUE(reach(f, "ESTABLISHED"));
  EXPECT_EQ(f.send(f.make(false, kTcpAck, f.c_next + 200000, f.s_next, 10)).state,
            CtState::Established);
}

TEST(TcpWindow, RetransmittedOldDataIsIgnoredNotInvalid) {
  // Linux 6.x: data entirely below the window is "ignored": it keeps its ct state.
  Conntrack ct(test_cfg());
  TcpFlow f(ct);
  ASSERT_TRUE(reach(f, "ESTABLISHED"));
  for (int i = 0; i < 3; ++i) {  // move the client well past its first window
    f.c_ack(60000);
    f.s_ack();
  }
  EXPECT_EQ(f.send(f.make(false, kTcpAck, 1001, f.s_next, 100)).state, CtState::Established);
  EXPECT_EQ(f.state(), "ESTABLISHED");
}

TEST(TcpWindow, WindowScaleFromBothSynsWidensTheWindow) {
  const std::vector<uint8_t> ws7 = {1, 3, 3, 7};  // NOP, window scale 7
  for (bool server_scales : {true, false}) {
    SCOPED_TRACE(server_scales);
    Conntrack ct(test_cfg());
    TcpFlow f(ct);
    f.c_syn(ws7);
    f.s_synack(server_scales ? ws7 : std::vector<uint8_t>{}, 1000);
    f.c_ack();
    f.s_ack();  // raw window 64000, i.e. 8 MB when scaled by 2^7
    // 1 MB ahead: inside the scaled window only.
    const CtResult r = f.send(f.make(false, kTcpAck, f.c_next + 1000000, f.s_next, 10));
    EXPECT_EQ(r.state, server_scales ? CtState::Established : CtState::Invalid);
  }
}

TEST(TcpWindow, SackBlocksAreAcceptedAsAcks) {
  // Client permits SACK; server sends data; client SACKs a block beyond its cumulative ack.
  const std::vector<uint8_t> sack_perm = {1, 1, 4, 2};
  Conntrack ct(test_cfg());
  TcpFlow f(ct);
  f.c_syn(sack_perm);
  f.s_synack(sack_perm);
  f.c_ack();
  f.s_ack(1000);
  const uint32_t left = f.s_next - 500, right = f.s_next;
  std::vector<uint8_t> sack = {1, 1, 5, 10, 0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 4; ++i) {
    sack[4 + i] = uint8_t(left >> (24 - 8 * i));
    sack[8 + i] = uint8_t(right >> (24 - 8 * i));
  }
  EXPECT_EQ(f.send(f.make(false, kTcpAck, f.c_next, f.s_next - 1000, 0, 64000, sack)).state,
            CtState::Established);
  // A SACK edge beyond anything the server sent is an ACK of unseen data.
  for (int i = 0; i < 4; ++i) sack[8 + i] = uint8_t((right + 5000) >> (24 - 8 * i));
  EXPECT_EQ(f.send(f.make(false, kTcpAck, f.c_next, f.s_next - 1000, 0, 64000, sack)).state,
            CtState::Invalid);
}

TEST(TcpAssured, SetByHandshakeCompletion) {
  Conntrack ct(test_cfg());
  TcpFlow f(ct);
  ASSERT_TRUE(reach(f, "SYN_RECV"));
  EXPECT_FALSE(find_entry(ct, f.now, f.c, kProtoTcp, f.cport).v.assured);
  f.c_ack();
  EXPECT_TRUE(find_entry(ct, f.now, f.c, kProtoTcp, f.cport).v.assured);
}

TEST(TcpNew, SynAckWithoutSynIsInvalidAndCreatesNothing) {
  Conntrack ct(test_cfg());
  TcpFlow f(ct);
  EXPECT_EQ(f.send(f.make(true, kTcpSyn | kTcpAck, 5000, 1001)).state, CtState::Invalid);
  EXPECT_EQ(ct.size(), 0u);
  EXPECT_EQ(ct.stats().created, 0u);
}

TEST(TcpIpv6, HandshakeOverIpv6) {
  Conntrack ct(test_cfg());
  TcpFlow f(ct);
  f.c = v6(1);
  f.s = v6(2);
  ASSERT_TRUE(reach(f, "ESTABLISHED"));
  EXPECT_EQ(f.s_ack(10).state, CtState::Established);
  EXPECT_EQ(f.state(), "ESTABLISHED");
}

}  // namespace
}  // namespace tapwall::test
