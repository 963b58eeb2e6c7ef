// TCP state machine: every (state, direction, packet class) the tracker handles, against
// the outcome Linux's nf_conntrack gives (transition table plus its special cases:
// ignored packets keep state and ct state, reopen on SYN after close, RST while no reply
// seen deletes the entry, invalid transitions are INVALID and change nothing).
#include <gtest/gtest.h>

#include "tcp_flow.hpp"

namespace tapwall::test {
namespace {

constexpr const char* kGone = "GONE";        // entry deleted, no entry left
constexpr const char* kReopenC = "REOPEN_C"; // old entry replaced: new client->server flow
constexpr const char* kReopenS = "REOPEN_S"; // old entry replaced: new server->client flow

struct Row {
  const char* from;
  bool reply;
  Cls cls;
  const char* to;  // TCP state after, or kGone / kReopen*
  CtState ct;
};

const char* cls_name(Cls c) {
  switch (c) {
    case Cls::Syn: return "SYN";
    case Cls::SynAck: return "SYNACK";
    case Cls::Fin: return "FIN";
    case Cls::Ack: return "ACK";
    case Cls::Rst: return "RST";
    case Cls::None: return "NONE";
  }
  return "?";
}

constexpr CtState NEW = CtState::New, EST = CtState::Established, INV = CtState::Invalid;

// clang-format off
const Row kRows[] = {
  // SYN_SENT: only the client's SYN seen.
  {"SYN_SENT", false, Cls::Syn,    "SYN_SENT",  NEW},
  {"SYN_SENT", false, Cls::SynAck, "SYN_SENT",  INV},
  {"SYN_SENT", false, Cls::Fin,    "SYN_SENT",  INV},
  {"SYN_SENT", false, Cls::Ack,    "SYN_SENT",  INV},
  {"SYN_SENT", false, Cls::Rst,    kGone,       NEW},  // RST before any reply: deleted
  {"SYN_SENT", false, Cls::None,   "SYN_SENT",  INV},
  {"SYN_SENT", true,  Cls::Syn,    "SYN_SENT2", EST},  // simultaneous open
  {"SYN_SENT", true,  Cls::SynAck, "SYN_RECV",  EST},
  {"SYN_SENT", true,  Cls::Fin,    "SYN_SENT",  INV},
  {"SYN_SENT", true,  Cls::Ack,    "SYN_SENT",  EST},  // ignored (half-open?)
  {"SYN_SENT", true,  Cls::Rst,    kGone,       EST},  // connection refused
  {"SYN_SENT", true,  Cls::None,   "SYN_SENT",  INV},
  // SYN_RECV
  {"SYN_RECV", false, Cls::Syn,    "SYN_RECV",  EST},  // ignored
  {"SYN_RECV", false, Cls::SynAck, "SYN_RECV",  EST},
  {"SYN_RECV", false, Cls::Fin,    "FIN_WAIT",  EST},
  {"SYN_RECV", false, Cls::Ack,    "ESTABLISHED", EST},
  {"SYN_RECV", false, Cls::Rst,    "CLOSE",     EST},
  {"SYN_RECV", false, Cls::None,   "SYN_RECV",  INV},
  {"SYN_RECV", true,  Cls::Syn,    "SYN_RECV",  INV},
  {"SYN_RECV", true,  Cls::SynAck, "SYN_RECV",  EST},  // retransmitted, ignored
  {"SYN_RECV", true,  Cls::Fin,    "FIN_WAIT",  EST},
  {"SYN_RECV", true,  Cls::Ack,    "SYN_RECV",  EST},
  {"SYN_RECV", true,  Cls::Rst,    "CLOSE",     EST},
  {"SYN_RECV", true,  Cls::None,   "SYN_RECV",  INV},
  // ESTABLISHED
  {"ESTABLISHED", false, Cls::Syn,    "ESTABLISHED", EST},  // ignored
  {"ESTABLISHED", false, Cls::SynAck, "ESTABLISHED", INV},
  {"ESTABLISHED", false, Cls::Fin,    "FIN_WAIT",    EST},
  {"ESTABLISHED", false, Cls::Ack,    "ESTABLISHED", EST},
  {"ESTABLISHED", false, Cls::Rst,    "CLOSE",       EST},
  {"ESTABLISHED", false, Cls::None,   "ESTABLISHED", INV},
  {"ESTABLISHED", true,  Cls::Syn,    "ESTABLISHED", INV},
  {"ESTABLISHED", true,  Cls::SynAck, "ESTABLISHED", EST},  // ignored
  {"ESTABLISHED", true,  Cls::Fin,    "FIN_WAIT",    EST},
  {"ESTABLISHED", true,  Cls::Ack,    "ESTABLISHED", EST},
  {"ESTABLISHED", true,  Cls::Rst,    "CLOSE",       EST},
  {"ESTABLISHED", true,  Cls::None,   "ESTABLISHED", INV},
  // FIN_WAIT (client sent FIN)
  {"FIN_WAIT", false, Cls::Syn,    "FIN_WAIT",  EST},
  {"FIN_WAIT", false, Cls::SynAck, "FIN_WAIT",  INV},
  {"FIN_WAIT", false, Cls::Fin,    "LAST_ACK",  EST},
  {"FIN_WAIT", false, Cls::Ack,    "CLOSE_WAIT", EST},
  {"FIN_WAIT", false, Cls::Rst,    "CLOSE",     EST},
  {"FIN_WAIT", false, Cls::None,   "FIN_WAIT",  INV},
  {"FIN_WAIT", true,  Cls::Syn,    "FIN_WAIT",  INV},
  {"FIN_WAIT", true,  Cls::SynAck, "FIN_WAIT",  EST},
  {"FIN_WAIT", true,  Cls::Fin,    "LAST_ACK",  EST},
  {"FIN_WAIT", true,  Cls::Ack,    "CLOSE_WAIT", EST},
  {"FIN_WAIT", true,  Cls::Rst,    "CLOSE",     EST},
  {"FIN_WAIT", true,  Cls::None,   "FIN_WAIT",  INV},
  // CLOSE_WAIT
  {"CLOSE_WAIT", false, Cls::Syn,    "CLOSE_WAIT", EST},
  {"CLOSE_WAIT", false, Cls::SynAck, "CLOSE_WAIT", INV},
  {"CLOSE_WAIT", false, Cls::Fin,    "LAST_ACK",   EST},
  {"CLOSE_WAIT", false, Cls::Ack,    "CLOSE_WAIT", EST},
  {"CLOSE_WAIT", false, Cls::Rst,    "CLOSE",      EST},
  {"CLOSE_WAIT", false, Cls::None,   "CLOSE_WAIT", INV},
  {"CLOSE_WAIT", true,  Cls::Syn,    "CLOSE_WAIT", INV},
  {"CLOSE_WAIT", true,  Cls::SynAck, "CLOSE_WAIT", EST},
  {"CLOSE_WAIT", true,  Cls::Fin,    "LAST_ACK",   EST},
  {"CLOSE_WAIT", true,  Cls::Ack,    "CLOSE_WAIT", EST},
  {"CLOSE_WAIT", true,  Cls::Rst,    "CLOSE",      EST},
  {"CLOSE_WAIT", true,  Cls::None,   "CLOSE_WAIT", INV},
  // LAST_ACK
  {"LAST_ACK", false, Cls::Syn,    "LAST_ACK",  EST},
  {"LAST_ACK", false, Cls::SynAck, "LAST_ACK",  INV},
  {"LAST_ACK", false, Cls::Fin,    "LAST_ACK",  EST},
  {"LAST_ACK", false, Cls::Ack,    "TIME_WAIT", EST},
  {"LAST_ACK", false, Cls::Rst,    "CLOSE",     EST},
  {"LAST_ACK", false, Cls::None,   "LAST_ACK",  INV},
  {"LAST_ACK", true,  Cls::Syn,    "LAST_ACK",  INV},
  {"LAST_ACK", true,  Cls::SynAck, "LAST_ACK",  EST},
  {"LAST_ACK", true,  Cls::Fin,    "LAST_ACK",  EST},
  {"LAST_ACK", true,  Cls::Ack,    "TIME_WAIT", EST},
  {"LAST_ACK", true,  Cls::Rst,    "CLOSE",     EST},
  {"LAST_ACK", true,  Cls::None,   "LAST_ACK",  INV},
  // TIME_WAIT
  {"TIME_WAIT", false, Cls::Syn,    kReopenC,    NEW},  // reopen (RFC 1122)
  {"TIME_WAIT", false, Cls::SynAck, "TIME_WAIT", INV},
  {"TIME_WAIT", false, Cls::Fin,    "TIME_WAIT", EST},
  {"TIME_WAIT", false, Cls::Ack,    "TIME_WAIT", EST},
  {"TIME_WAIT", false, Cls::Rst,    "CLOSE",     EST},
  {"TIME_WAIT", false, Cls::None,   "TIME_WAIT", INV},
  {"TIME_WAIT", true,  Cls::Syn,    kReopenS,    NEW},  // server reopens, roles swapped
  {"TIME_WAIT", true,  Cls::SynAck, "TIME_WAIT", EST},
  {"TIME_WAIT", true,  Cls::Fin,    "TIME_WAIT", EST},
  {"TIME_WAIT", true,  Cls::Ack,    "TIME_WAIT", EST},
  {"TIME_WAIT", true,  Cls::Rst,    "CLOSE",     EST},
  {"TIME_WAIT", true,  Cls::None,   "TIME_WAIT", INV},
  // CLOSE (client reset an established connection)
  {"CLOSE", false, Cls::Syn,    kReopenC, NEW},  // new attempt after our own RST
  {"CLOSE", false, Cls::SynAck, "CLOSE",  INV},
  {"CLOSE", false, Cls::Fin,    "CLOSE",  EST},
  {"CLOSE", false, Cls::Ack,    "CLOSE",  EST},
  {"CLOSE", false, Cls::Rst,    "CLOSE",  EST},
  {"CLOSE", false, Cls::None,   "CLOSE",  INV},
  {"CLOSE", true,  Cls::Syn,    "CLOSE",  INV},
  {"CLOSE", true,  Cls::SynAck, "CLOSE",  EST},
  {"CLOSE", true,  Cls::Fin,    "CLOSE",  EST},
  {"CLOSE", true,  Cls::Ack,    "CLOSE",  EST},
  {"CLOSE", true,  Cls::Rst,    "CLOSE",  EST},
  {"CLOSE", true,  Cls::None,   "CLOSE",  INV},
  // SYN_SENT2 (simultaneous open: both sent SYN)
  {"SYN_SENT2", false, Cls::Syn,    "SYN_SENT2", EST},
  {"SYN_SENT2", false, Cls::SynAck, "SYN_RECV",  EST},
  {"SYN_SENT2", false, Cls::Fin,    "SYN_SENT2", INV},
  {"SYN_SENT2", false, Cls::Ack,    "SYN_SENT2", INV},
  {"SYN_SENT2", false, Cls::Rst,    "CLOSE",     EST},
  {"SYN_SENT2", false, Cls::None,   "SYN_SENT2", INV},
  {"SYN_SENT2", true,  Cls::Syn,    "SYN_SENT2", EST},
  {"SYN_SENT2", true,  Cls::SynAck, "SYN_RECV",  EST},
  {"SYN_SENT2", true,  Cls::Fin,    "SYN_SENT2", INV},
  {"SYN_SENT2", true,  Cls::Ack,    "SYN_SENT2", EST},  // ignored
  {"SYN_SENT2", true,  Cls::Rst,    "CLOSE",     EST},
  {"SYN_SENT2", true,  Cls::None,   "SYN_SENT2", INV},
};
// clang-format on

TEST(TcpTransitions, EveryStateDirectionAndClass) {
  for (const Row& row : kRows) {
    SCOPED_TRACE(std::string(row.from) + (row.reply ? " reply " : " orig ") + cls_name(row.cls));
    Conntrack ct(test_cfg());
    TcpFlow f(ct);
    ASSERT_TRUE(reach(f, row.from));
    ASSERT_EQ(f.state(), row.from);
    const uint64_t invalid_before = ct.stats().invalid;
    const CtResult r = ct.track(f.probe(row.reply, row.cls).d, f.probe(row.reply, row.cls).span(), f.now);
    ct.confirm(r, true);
    EXPECT_EQ(r.state, row.ct);
    EXPECT_EQ(ct.stats().invalid - invalid_before, row.ct == INV ? 1u : 0u);
    const std::string to = row.to;
    if (to == kGone) {
      EXPECT_EQ(ct.size(), 0u);
      EXPECT_EQ(r.entry, kNoCtEntry);
    } else if (to == kReopenC) {
      EXPECT_TRUE(r.pending);
      EXPECT_EQ(ct.size(), 1u);
      EXPECT_EQ(f.state(), "SYN_SENT");
      EXPECT_FALSE(find_entry(ct, f.now, f.c, kProtoTcp, f.cport).v.seen_reply);
    } else if (to == kReopenS) {
      EXPECT_TRUE(r.pending);
      EXPECT_EQ(ct.size(), 1u);
      EXPECT_EQ(f.state(), "");
      EXPECT_EQ(find_entry(ct, f.now, f.s, kProtoTcp, f.sport).state, "SYN_SENT");
    } else {
      EXPECT_FALSE(r.pending);
      EXPECT_EQ(ct.size(), 1u);
      EXPECT_EQ(f.state(), to);
    }
  }
}

// No entry yet: which first packets create one (loose pickup on, the default).
TEST(TcpTransitions, FirstPacketOfAFlow) {
  struct First {
    Cls cls;
    CtState ct;
    const char* to;
  };
  const First kFirst[] = {
      {Cls::Syn, NEW, "SYN_SENT"}, {Cls::SynAck, INV, ""}, {Cls::Fin, INV, ""},
      {Cls::Ack, NEW, "ESTABLISHED"},  // picked up mid-stream
      {Cls::Rst, INV, ""},             {Cls::None, INV, ""},
  };
  for (const First& fp : kFirst) {
    SCOPED_TRACE(cls_name(fp.cls));
    Conntrack ct(test_cfg());
    TcpFlow f(ct);
    f.c_started = f.s_started = true;  // a mid-stream segment carries both sequence numbers
    f.c_next = 1001;
    f.s_next = 5001;
    const Pkt p = f.probe(false, fp.cls);
    const CtResult r = ct.track(p.d, p.span(), f.now);
    EXPECT_EQ(r.state, fp.ct);
    EXPECT_EQ(r.pending, fp.ct == NEW);
    ct.confirm(r, true);
    EXPECT_EQ(ct.size(), fp.ct == NEW ? 1u : 0u);
    EXPECT_EQ(f.state(), fp.to);
  }
}

}  // namespace
}  // namespace tapwall::test
