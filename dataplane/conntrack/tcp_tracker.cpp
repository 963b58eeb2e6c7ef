// TCP tracker: the kernel's TCP conntrack semantics re-implemented (see tcp_tracker.hpp).
// Why the odd cases exist (reopen from TIME_WAIT/CLOSE, resync on an ignored SYN, challenge
// ACKs, RST sequence checks): they are what Linux does, and tapwall must give the same
// verdicts as the kernel bridge it replaces.
// Invariants: sequence numbers compare modulo 2^32 (before/after); window state of a
// direction is uninitialised while td_maxwin == 0.
// Thread-safety: pure functions over the entry passed in.
#include "tcp_tracker.hpp"

#include <algorithm>

#include "tcp_window.hpp"

namespace tapwall::ct {

using namespace tcp_detail;

namespace {

// (No packet leads to kTcpNone, so the table needs no sNO; its columns still start there.)
constexpr uint8_t sSS = kTcpSynSent, sSR = kTcpSynRecv, sES = kTcpEstablished,
                  sFW = kTcpFinWait, sCW = kTcpCloseWait, sLA = kTcpLastAck,
                  sTW = kTcpTimeWait, sCL = kTcpClose, sS2 = kTcpSynSent2,
                  sIV = kTcpStateCount, sIG = kTcpIgnore;

// [direction][packet class][old state] -> new state (Linux 6.x tcp_conntracks[][][]).
constexpr uint8_t kTransitions[2][6][kTcpStateCount] = {
    {
        // original:  sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2
        /* syn    */ {sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2},
        /* synack */ {sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR},
        /* fin    */ {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
        /* ack    */ {sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV},
        /* rst    */ {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
        /* none   */ {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
    },
    {
        // reply:     sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2
        /* syn    */ {sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2},
        /* synack */ {sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR},
        /* fin    */ {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
        /* ack    */ {sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG},
        /* rst    */ {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
        /* none   */ {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
    },
};

// Per-connection flags kept in TcpTrack::last_flags.
constexpr uint8_t kExpChallengeAck = 0x40;
constexpr uint8_t kSimultaneousOpen = 0x80;

// The kernel's tcp_options(): window scale and SACK-permitted from a SYN's options. With no
// options at all the previous values stay (as there).
void parse_options(std::span<const uint8_t> o, uint8_t& scale, uint8_t& flags) {
  if (o.empty()) return;
  scale = 0;
  flags &= kTcpFlagBeLiberal;
  std::size_t i = 0;
  while (i < o.size()) {
    const uint8_t kind = o[i];
    if (kind == 0) return;  // end of options
    if (kind == 1) {        // NOP
      ++i;
      continue;
    }
    if (o.size() - i < 2) return;
    const uint8_t len = o[i + 1];
    if (len < 2 || len > o.size() - i) return;  // silly or partial option
    if (kind == 4 && len == 2) {
      flags |= kTcpFlagSackPerm;
    } else if (kind == 3 && len == 3) {
      scale = std::min<uint8_t>(o[i + 2], kMaxWscale);
      flags |= kTcpFlagWindowScale;
    }
    i += len;
  }
}

}  // namespace

// The kernel's tcp_sack(): raise `sack` to the highest right edge of the first SACK option.
void tcp_detail::parse_sack(std::span<const uint8_t> o, uint32_t& sack) {
  if (o.empty()) return;
  // The common timestamp-only layout (NOP NOP TS) has no SACK: skip the walk.
  if (o.size() == 12 && o[0] == 1 && o[1] == 1 && o[2] == 8 && o[3] == 10) return;
  std::size_t i = 0;
  while (i < o.size()) {
    const uint8_t kind = o[i];
    if (kind == 0) return;
    if (kind == 1) {
      ++i;
      continue;
    }
    if (o.size() - i < 2) return;
    const uint8_t len = o[i + 1];
    if (len < 2 || len > o.size() - i) return;
    if (kind == 5 && len >= 10 && (len - 2) % 8 == 0) {
      for (std::size_t b = i + 2; b + 8 <= i + len; b += 8) {
        const uint32_t right = load_be32(&o[b + 4]);
        if (after(right, sack)) sack = right;
      }
      return;
    }
    i += len;
  }
}

void tcp_detail::init_sender(TcpTrack& t, int sd, const TcpSegment& s, uint32_t end,
                             uint32_t win) {
  const int rd = !sd;
  t.td_end[sd] = t.td_maxend[sd] = end;
  t.td_maxwin[sd] = win == 0 ? 1 : win;
  parse_options(s.options, t.td_scale[sd], t.flags[sd]);
  // RFC 1323: scaling is on only if both sides offered it.
  if (sd == 1 && !((t.flags[sd] & kTcpFlagWindowScale) && (t.flags[rd] & kTcpFlagWindowScale))) {
    t.td_scale[sd] = 0;
    t.td_scale[rd] = 0;
  }
}

namespace {

bool closing_state(uint8_t s) {
  return s == kTcpFinWait || s == kTcpLastAck || s == kTcpTimeWait || s == kTcpClose ||
         s == kTcpCloseWait;
}

}  // namespace

// nf_tcp_handle_invalid(): an assured flow whose FIN/RST was out of window in both
// directions in turn is probably dead: shorten its timeout.
void tcp_detail::handle_invalid(CtEntry& e, int dir, TcpIndex index, const CtConfig& cfg,
                                uint64_t now) {
  TcpTrack& t = e.l4.tcp;
  if (!(e.status & kStAssured)) return;
  if (index != kIdxRst && index != kIdxFin) return;
  if (t.last_dir != dir && (t.last_index == kIdxFin || t.last_index == kIdxRst)) {
    const uint64_t left = e.expires_ns > now ? e.expires_ns - now : 0;
    if (left < 120 * kNsPerSec) return;
    const uint64_t unack = uint64_t{cfg.timeouts.tcp_unacknowledged} * kNsPerSec;
    if (left > unack) e.expires_ns = now + unack;
  } else {
    t.last_index = index;
    t.last_dir = uint8_t(dir);
  }
}

namespace {

enum class RstCheck : uint8_t { Window, SkipWindow, Invalid };

// The RST-specific checks when the table says CLOSE (the kernel's case TCP_CONNTRACK_CLOSE).
RstCheck check_rst(CtEntry& e, int dir, uint8_t old_state, uint8_t& new_state,
                   const TcpSegment& s) {
  TcpTrack& t = e.l4.tcp;
  const int rd = !dir;
  // A closing flow's tuple may already be reused: don't validate.
  if (closing_state(old_state)) return RstCheck::SkipWindow;
  const bool established = e.tcp_state == kTcpEstablished && (e.status & kStAssured);
  if ((t.flags[rd] & kTcpFlagMaxackSet) && t.last_index != kIdxSyn) {
    const uint32_t seq = s.seq;
    if (seq == 0 && !established) return RstCheck::Window;
    if (before(seq, t.td_maxack[rd])) return RstCheck::Invalid;
    if (!established || seq == t.td_maxack[rd]) return RstCheck::Window;
    if (t.last_index == kIdxAck && t.last_dir == dir && seq == t.last_end)
      return RstCheck::Window;  // RST at the end of a data train
    new_state = old_state;  // inexact RST: keep state, allow a challenge ACK
  }
  // A RST answering a SYN must come from the other side (Linux 6.18 checks the direction:
  // seen on the lab's br0, a RST from the SYN's own side went through the window check).
  if ((((e.status & kStSeenReply) && t.last_index == kIdxSyn && t.last_dir != dir) ||
       (!(e.status & kStAssured) && t.last_index == kIdxAck)) &&
      s.ack == t.last_end) {
    return RstCheck::SkipWindow;  // RST to a SYN or ACK we let through while out of sync
  }
  if (old_state == kTcpSynSent && t.last_index == kIdxAck && t.last_dir == 1 &&
      s.seq == t.last_ack) {
    return RstCheck::SkipWindow;  // RST answering a challenge ACK
  }
  return RstCheck::Window;
}

}  // namespace

bool tcp_can_create(const TcpSegment& s, bool loose) {
  const uint8_t ns = kTransitions[0][tcp_index(s.flags)][kTcpNone];
  if (ns >= kTcpStateCount) return false;
  return ns == kTcpSynSent || loose;
}

void tcp_new(CtEntry& e, const TcpSegment& s) {
  TcpTrack& t = e.l4.tcp;
  t = TcpTrack{};
  const uint32_t end = seg_end(s, s.flags);
  t.td_end[0] = end;
  t.td_maxwin[0] = s.win == 0 ? 1 : s.win;
  if (kTransitions[0][tcp_index(s.flags)][kTcpNone] == kTcpSynSent) {
    t.td_maxend[0] = end;
    parse_options(s.options, t.td_scale[0], t.flags[0]);
  } else {
    // Mid-stream pickup: the window scale is unknown, so check windows liberally.
    t.td_maxend[0] = end + t.td_maxwin[0];
    t.flags[0] = t.flags[1] = kTcpFlagSackPerm | kTcpFlagBeLiberal;
  }
  t.last_index = kIdxNone;
  e.tcp_state = kTcpNone;
}

TcpAction tcp_packet_other(CtEntry& e, bool reply, const TcpSegment& s, const CtConfig& cfg,
                           uint64_t now_ns) {
  TcpTrack& t = e.l4.tcp;
  const int dir = reply ? 1 : 0;
  const TcpIndex index = tcp_index(s.flags);
  uint8_t old_state = e.tcp_state;
  uint8_t new_state = kTransitions[dir][index][old_state];
  bool check_window = true;

  switch (new_state) {
    case sSS:
      if (old_state < kTcpTimeWait) break;
      // SYN on a closed/aborted flow: the endpoints have moved on to a new connection.
      if (((t.flags[dir] | t.flags[!dir]) & kTcpFlagCloseInit) ||
          (t.last_dir == dir && t.last_index == kIdxRst))
        return TcpAction::Repeat;
      [[fallthrough]];
    case sIG: {
      if (index == kIdxSynAck && t.last_index == kIdxSyn && t.last_dir != dir &&
          s.ack == t.last_end) {
        // This SYN/ACK answers a SYN we ignored: the endpoints are in sync and we are
        // not. Resynchronise from what we noted about that SYN.
        old_state = kTcpSynSent;
        new_state = kTcpSynRecv;
        const int ld = t.last_dir;
        t.td_end[ld] = t.td_maxend[ld] = t.last_end;
        t.td_maxwin[ld] = t.last_win == 0 ? 1 : t.last_win;
        t.td_scale[ld] = t.last_wscale;
        t.last_flags &= uint8_t(~kExpChallengeAck);
        t.flags[ld] = t.last_flags;
        t.td_end[dir] = t.td_maxend[dir] = t.td_maxwin[dir] = t.td_maxack[dir] = 0;
        t.td_scale[dir] = 0;
        t.flags[dir] &= kTcpFlagBeLiberal;
        break;
      }
      t.last_index = index;
      t.last_dir = uint8_t(dir);
      t.last_seq = s.seq;
      t.last_end = seg_end(s, s.flags);
      t.last_win = s.win;
      if (index == kIdxSyn && dir == 0) {
        // Note the SYN's options in case the peer answers it (see above).
        uint8_t scale = 0, fl = 0;
        parse_options(s.options, scale, fl);
        t.last_flags = 0;
        t.last_wscale = 0;
        if (fl & kTcpFlagWindowScale) {
          t.last_flags |= kTcpFlagWindowScale;
          t.last_wscale = scale;
        }
        if (fl & kTcpFlagSackPerm) t.last_flags |= kTcpFlagSackPerm;
        // RFC 5961: the answer may be a challenge ACK, not the ACK of our last FIN.
        if (old_state == kTcpLastAck) t.last_flags |= kExpChallengeAck;
      }
      if (old_state == kTcpSynSent && index == kIdxAck && dir == 1) t.last_ack = s.ack;
      return TcpAction::Accept;  // ignored: no state change, no refresh
    }
    case sIV:
      return TcpAction::Invalid;
    case sTW:
      if (old_state == kTcpLastAck && index == kIdxAck && t.last_dir != dir &&
          t.last_index == kIdxSyn && (t.last_flags & kExpChallengeAck)) {
        t.last_flags &= uint8_t(~kExpChallengeAck);
        return TcpAction::Accept;  // a challenge ACK, not the last ACK
      }
      break;
    case sS2:
      t.last_flags |= kSimultaneousOpen;
      break;
    case sSR:
      if (dir == 1 && index == kIdxAck && (t.last_flags & kSimultaneousOpen)) new_state = sES;
      break;
    case sCL:
      if (index != kIdxRst) break;
      switch (check_rst(e, dir, old_state, new_state, s)) {
        case RstCheck::Invalid: return TcpAction::Invalid;
        case RstCheck::SkipWindow: check_window = false; break;
        case RstCheck::Window: break;
      }
      break;
    default:
      break;
  }

  return window_then_accept(e, dir, index, s.flags, e.tcp_state, old_state, new_state,
                            check_window, s, cfg, now_ns);
}

const char* tcp_state_name(uint8_t state) {
  static constexpr const char* kNames[] = {"NONE",      "SYN_SENT",   "SYN_RECV", "ESTABLISHED",
                                           "FIN_WAIT",  "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT",
                                           "CLOSE",     "SYN_SENT2"};
  return state < kTcpStateCount ? kNames[state] : "NONE";
}

}  // namespace tapwall::ct
