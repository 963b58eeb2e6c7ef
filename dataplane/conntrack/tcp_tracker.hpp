// TCP tracker: nf_conntrack_proto_tcp semantics (Linux 6.x): header/flag validity, the
// state transition table per direction and packet class, window tracking (tcp_in_window),
// loose pickup, RST and reopen handling, per-state timeouts.
// Invariants: functions work on one CtEntry whose l4.tcp/tcp_state they own; they never
// touch the table. The caller owns entry creation/removal and the seen-reply bit
// (set after an accepted reply-direction packet, as nf_conntrack_in does).
// Thread-safety: pure functions over the entry passed in.
#pragma once

#include <cstdint>
#include <span>

#include "ct_entry.hpp"
#include "tapwall/conntrack.hpp"
#include "tapwall/decoded.hpp"

namespace tapwall::ct {

// Per-direction TCP flag bits (the kernel's IP_CT_TCP_FLAG_*).
inline constexpr uint8_t kTcpFlagWindowScale = 0x01;
inline constexpr uint8_t kTcpFlagSackPerm = 0x02;
inline constexpr uint8_t kTcpFlagCloseInit = 0x04;
inline constexpr uint8_t kTcpFlagBeLiberal = 0x08;
inline constexpr uint8_t kTcpFlagDataUnacked = 0x10;
inline constexpr uint8_t kTcpFlagMaxackSet = 0x20;

// Packet classes (the kernel's enum tcp_bit_set), the rows of the transition table.
enum TcpIndex : uint8_t { kIdxSyn, kIdxSynAck, kIdxFin, kIdxAck, kIdxRst, kIdxNone };

// The kernel retransmission counter threshold (nf_conntrack_tcp_max_retrans).
inline constexpr uint8_t kTcpMaxRetransCount = 3;

// TcpSegment (tapwall/conntrack.hpp): the parts of a TCP segment the tracker reads.

enum class TcpAction : uint8_t {
  Accept,      // packet keeps its ct state (state may or may not have changed)
  Invalid,     // INVALID, entry unchanged (-NF_ACCEPT)
  Repeat,      // reopen: delete the entry and track the packet as a new flow
  AcceptKill,  // accepted, then delete the entry (RST while no reply seen)
};

// Inline: these run for every TCP packet, and are a few compares each next to a call.
// Valid combinations of FIN/SYN/RST/ACK/URG (PSH, ECE and CWR are always allowed).
constexpr bool tcp_flag_combo_valid(uint8_t f) {
  switch (f) {
    case kTcpSyn:
    case kTcpSyn | kTcpUrg:
    case kTcpSyn | kTcpAck:
    case kTcpRst:
    case kTcpRst | kTcpAck:
    case kTcpFin | kTcpAck:
    case kTcpFin | kTcpAck | kTcpUrg:
    case kTcpAck:
    case kTcpAck | kTcpUrg:
      return true;
    default:
      return false;
  }
}

inline bool tcp_flags_valid(uint8_t flags) {
  return tcp_flag_combo_valid(uint8_t(flags & ~(kTcpEce | kTcpCwr | kTcpPsh)));
}

inline TcpIndex tcp_index(uint8_t f) {
  if (f & kTcpRst) return kIdxRst;
  if (f & kTcpSyn) return (f & kTcpAck) ? kIdxSynAck : kIdxSyn;
  if (f & kTcpFin) return kIdxFin;
  if (f & kTcpAck) return kIdxAck;
  return kIdxNone;
}

// tcp_error(): header length and flag combination. (The checksum is checked by the caller.)
inline bool tcp_header_valid(const Decoded& d) {
  if (d.tcp_doff < 20 || d.ip_end < d.l4_off) return false;
  return uint32_t(d.ip_end - d.l4_off) >= d.tcp_doff && tcp_flags_valid(d.tcp_flags);
}

// Segment view from a decoded frame; false if the header/options are not inside `frame`.
inline bool tcp_segment(const Decoded& d, std::span<const uint8_t> frame, TcpSegment& out) {
  if (d.tcp_doff < 20 || std::size_t(d.l4_off) + d.tcp_doff > frame.size() ||
      d.ip_end < d.l4_off + d.tcp_doff)
    return false;
  out.seq = d.tcp_seq;
  out.ack = d.tcp_ack;
  out.win = d.tcp_window;
  out.flags = d.tcp_flags;
  out.payload_len = uint32_t(d.ip_end - d.l4_off - d.tcp_doff);
  out.options = frame.subspan(d.l4_off + 20, d.tcp_doff - 20);
  return true;
}

// tcp_new(): would this segment create an entry (SYN, or a pickup ACK with loose)?
bool tcp_can_create(const TcpSegment& s, bool loose);
// Initialises a fresh entry's TCP state from its first segment (call only if can_create).
void tcp_new(CtEntry& e, const TcpSegment& s);

// tcp_packet() (tcp_window.hpp) for every segment but an established flow's ACK.
TcpAction tcp_packet_other(CtEntry& e, bool reply, const TcpSegment& s, const CtConfig& cfg,
                           uint64_t now_ns);

const char* tcp_state_name(uint8_t state);

}  // namespace tapwall::ct
