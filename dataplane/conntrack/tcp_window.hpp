// tcp_packet(), with TCP window tracking (the kernel's tcp_in_window()) and the end of the
// state machine inline: an established flow's ACK, nearly every TCP packet a bridge sees,
// is then tracked without a call; the rest of the tracker is out of line (tcp_tracker.cpp).
// Invariants: as tcp_tracker.cpp (sequence numbers compare modulo 2^32; a direction's
// window state is uninitialised while td_maxwin == 0).
// Thread-safety: pure functions over the entry passed in.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>

#include "ct_entry.hpp"
#include "tapwall/conntrack.hpp"
#include "tcp_tracker.hpp"

namespace tapwall::ct {

namespace tcp_detail {

constexpr uint32_t kMaxAckWinConst = 66000;
constexpr uint8_t kMaxWscale = 14;

enum class WinResult : uint8_t { Ignore, Invalid, Accept };

inline bool before(uint32_t a, uint32_t b) { return int32_t(a - b) < 0; }
inline bool after(uint32_t a, uint32_t b) { return before(b, a); }

// The sequence number after the segment: SYN and FIN take one each. `flags` as in_window().
inline uint32_t seg_end(const TcpSegment& s, uint8_t flags) {
  return s.seq + s.payload_len + ((flags & kTcpSyn) ? 1 : 0) + ((flags & kTcpFin) ? 1 : 0);
}

// Out of line (tcp_tracker.cpp): the rare parts of the window check.
void init_sender(TcpTrack& t, int sd, const TcpSegment& s, uint32_t end, uint32_t win);
void parse_sack(std::span<const uint8_t> o, uint32_t& sack);
void handle_invalid(CtEntry& e, int dir, TcpIndex index, const CtConfig& cfg, uint64_t now);

// `r` (a refusal), unless direction `sd` is tracked liberally. (A function, not a lambda in
// in_window(): gcc built the lambda's closure on the stack for every segment.)
inline WinResult refusal(const TcpTrack& t, int sd, bool liberal_cfg, WinResult r) {
  return (liberal_cfg || (t.flags[sd] & kTcpFlagBeLiberal)) ? WinResult::Accept : r;
}

// tcp_in_window(): is the segment inside the windows we have seen? Updates them if so.
// `flags` stands for s.flags as far as SYN/ACK/RST/FIN go: the established-ACK fast path
// passes a constant, so inlining folds the branches that cannot apply.
[[gnu::always_inline]] inline WinResult in_window(TcpTrack& t, uint8_t state, int sd,
                                                  TcpIndex index, uint8_t flags,
                                                  const TcpSegment& s, bool liberal_cfg) {
  const int rd = !sd;
  const bool syn = flags & kTcpSyn, ackf = flags & kTcpAck, rst = flags & kTcpRst;
  uint32_t seq = s.seq, ack = s.ack, sack = s.ack, end = seg_end(s, flags);
  const uint16_t win_raw = s.win;
  uint32_t win = win_raw;

  if (t.flags[rd] & kTcpFlagSackPerm) parse_sack(s.options, sack);

  if (t.td_maxwin[sd] == 0) {
    if (syn) {
      init_sender(t, sd, s, end, win);
      if (!ackf) return WinResult::Accept;  // simultaneous open
    } else {
      // Picked up mid-stream: learn what we can from this segment.
      t.td_end[sd] = end;
      const uint32_t swin = win << t.td_scale[sd];
      t.td_maxwin[sd] = swin == 0 ? 1 : swin;
      t.td_maxend[sd] = end + t.td_maxwin[sd];
      if (t.td_maxwin[rd] == 0) {
        t.td_end[rd] = t.td_maxend[rd] = sack;  // so the ack checks below pass
      } else if (sack == t.td_end[rd] + 1) {
        ++t.td_end[rd];  // likely the answer to a keepalive
      }
    }
  } else if (syn && after(end, t.td_end[sd]) && (state == kTcpSynSent || state == kTcpSynRecv)) {
    // A re-sent SYN (or SYN/ACK) with a newer ISN: start this direction over.
    init_sender(t, sd, s, end, win);
    if (sd == 1 && !ackf) return WinResult::Accept;
  }

  if (!ackf) {
    ack = sack = t.td_end[rd];  // no ACK: pretend it acks what we have seen
  } else if (rst && ack == 0) {
    ack = sack = t.td_end[rd];  // stacks that send RST|ACK with ack 0
  }
  if (rst && seq == 0 && state == kTcpSynSent) seq = end = t.td_end[sd];  // RST answering SYN

  const uint32_t maxackwin = std::max(t.td_maxwin[sd], kMaxAckWinConst);
  if (!before(seq, t.td_maxend[sd] + 1)) {
    const uint32_t overshot = end - t.td_maxend[sd] + 1;
    const bool ack_ok = after(sack, t.td_end[rd] - maxackwin - 1);
    const bool in_recv = t.td_maxwin[rd] && after(end, t.td_end[sd] - t.td_maxwin[rd] - 1);
    if (in_recv && ack_ok && overshot <= t.td_maxwin[rd] && before(sack, t.td_end[rd] + 1)) {
      // A sender overrunning the window a little: remember the data so its ACK passes.
      t.td_end[sd] = end;
      t.flags[sd] |= kTcpFlagDataUnacked;
      return refusal(t, sd, liberal_cfg, WinResult::Ignore);
    }
    return refusal(t, sd, liberal_cfg, WinResult::Invalid);  // SEQ over the receiver's window
  }
  if (!before(sack, t.td_end[rd] + 1))  // acks unseen data
    return refusal(t, sd, liberal_cfg, WinResult::Invalid);
  const bool in_recv = !t.td_maxwin[rd] || after(end, t.td_end[sd] - t.td_maxwin[rd] - 1);
  if (!in_recv) return refusal(t, sd, liberal_cfg, WinResult::Ignore);  // old data resent
  if (!after(sack, t.td_end[rd] - maxackwin - 1))
    return refusal(t, sd, liberal_cfg, WinResult::Ignore);

  if (!syn) win <<= t.td_scale[sd];
  const uint32_t swin = win + (sack - ack);
  if (t.td_maxwin[sd] < swin) t.td_maxwin[sd] = swin;
  if (after(end, t.td_end[sd])) {
    t.td_end[sd] = end;
    t.flags[sd] |= kTcpFlagDataUnacked;
  }
  if (ackf) {
    if (!(t.flags[sd] & kTcpFlagMaxackSet)) {
      t.td_maxack[sd] = ack;
      t.flags[sd] |= kTcpFlagMaxackSet;
    } else if (after(ack, t.td_maxack[sd])) {
      t.td_maxack[sd] = ack;
    }
  }
  if (t.td_maxwin[rd] != 0 && after(end, t.td_maxend[sd])) t.td_maxwin[rd] += end - t.td_maxend[sd];
  if (after(sack + win, t.td_maxend[rd] - 1)) {
    t.td_maxend[rd] = sack + win;
    if (win == 0) ++t.td_maxend[rd];
  }
  if (ack == t.td_end[rd]) t.flags[rd] &= uint8_t(~kTcpFlagDataUnacked);

  if (index == kIdxAck) {  // count identical ACKs: retransmissions
    if (t.last_dir == sd && t.last_seq == seq && t.last_ack == ack && t.last_end == end &&
        t.last_win == win_raw) {
      ++t.retrans;
    } else {
      t.last_dir = uint8_t(sd);
      t.last_seq = seq;
      t.last_ack = ack;
      t.last_end = end;
      t.last_win = win_raw;
      t.retrans = 0;
    }
  }
  return WinResult::Accept;
}

inline uint32_t state_timeout(const CtTimeouts& to, uint8_t state) {
  switch (state) {
    case kTcpSynSent: return to.tcp_syn_sent;
    case kTcpSynRecv: return to.tcp_syn_recv;
    case kTcpEstablished: return to.tcp_established;
    case kTcpFinWait: return to.tcp_fin_wait;
    case kTcpCloseWait: return to.tcp_close_wait;
    case kTcpLastAck: return to.tcp_last_ack;
    case kTcpTimeWait: return to.tcp_time_wait;
    case kTcpClose: return to.tcp_close;
    case kTcpSynSent2: return to.tcp_syn_sent;  // the kernel's SYN_SENT2 timeout = 2 min
    default: return 0;
  }
}

// The end of nf_conntrack_tcp_packet(): the window check (unless skipped), then the new
// state, its timeout and the assured bit. `flags` and the states are parameters so the
// established-ACK fast path gets this very code with its constants folded in.
[[gnu::always_inline]] inline TcpAction window_then_accept(
    CtEntry& e, int dir, TcpIndex index, uint8_t flags, uint8_t cur_state, uint8_t old_state,
    uint8_t new_state, bool check_window, const TcpSegment& s, const CtConfig& cfg,
    uint64_t now_ns) {
  TcpTrack& t = e.l4.tcp;
  if (check_window) {
    switch (in_window(t, cur_state, dir, index, flags, s, cfg.tcp_be_liberal)) {
      case WinResult::Ignore:
        return TcpAction::Accept;
      case WinResult::Invalid:
        handle_invalid(e, dir, index, cfg, now_ns);
        return TcpAction::Invalid;
      case WinResult::Accept:
        break;
    }
  }

  t.last_index = index;
  t.last_dir = uint8_t(dir);
  e.tcp_state = new_state;
  if (old_state != new_state && new_state == kTcpFinWait) t.flags[dir] |= kTcpFlagCloseInit;

  const CtTimeouts& to = cfg.timeouts;
  const uint32_t st = state_timeout(to, new_state);
  uint32_t timeout;
  if (t.retrans >= kTcpMaxRetransCount && st > to.tcp_max_retrans)
    timeout = to.tcp_max_retrans;
  else if (index == kIdxRst)
    timeout = to.tcp_close;
  else if (((t.flags[0] | t.flags[1]) & kTcpFlagDataUnacked) && st > to.tcp_unacknowledged)
    timeout = to.tcp_unacknowledged;
  else if (t.last_win == 0 && st > to.tcp_max_retrans)
    timeout = to.tcp_max_retrans;
  else
    timeout = st;

  if (!(e.status & kStSeenReply)) {
    // Only a RST came back (or none yet): no connection worth keeping.
    if (flags & kTcpRst) return TcpAction::AcceptKill;
    // A retransmitted SYN must not keep a half-open entry alive forever.
    if (index == kIdxSyn && old_state == kTcpSynSent) return TcpAction::Accept;
    // Picked up mid-stream and never answered: don't hold it for days.
    if (new_state == kTcpEstablished && timeout > to.tcp_unacknowledged)
      timeout = to.tcp_unacknowledged;
  } else if (!(e.status & kStAssured) &&
             (old_state == kTcpSynRecv || old_state == kTcpEstablished) &&
             new_state == kTcpEstablished) {
    e.status |= kStAssured;
  }
  e.expires_ns = now_ns + uint64_t{timeout} * kNsPerSec;
  return TcpAction::Accept;
}

}  // namespace tcp_detail

// The steady state: an ACK-class segment (no SYN, FIN or RST) on an ESTABLISHED flow
// stays ESTABLISHED in either direction and meets none of tcp_packet_other()'s special
// cases, so it goes straight to the window check (the same code, its flags known).
// Precondition: e.tcp_state == kTcpEstablished and s.flags is ACK-class (the engine's
// express path has checked both).
[[gnu::always_inline]] inline TcpAction tcp_established_ack(CtEntry& e, bool reply,
                                                            const TcpSegment& s,
                                                            const CtConfig& cfg, uint64_t now_ns) {
  return tcp_detail::window_then_accept(e, reply ? 1 : 0, kIdxAck, kTcpAck, kTcpEstablished,
                                        kTcpEstablished, kTcpEstablished, true, s, cfg, now_ns);
}

// nf_conntrack_tcp_packet() from `state` onwards; reply = packet in the reply direction.
[[gnu::always_inline]] inline TcpAction tcp_packet(CtEntry& e, bool reply, const TcpSegment& s,
                                                  const CtConfig& cfg, uint64_t now_ns) {
  if (e.tcp_state == kTcpEstablished &&
      (s.flags & (kTcpSyn | kTcpFin | kTcpRst | kTcpAck)) == kTcpAck)
    return tcp_established_ack(e, reply, s, cfg, now_ns);
  return tcp_packet_other(e, reply, s, cfg, now_ns);
}

}  // namespace tapwall::ct
