// CtEntry: one tracked flow, as the table stores it (128 bytes, two cache lines).
// Purpose: the original-direction tuple, status bits, expiry, the per-protocol tracker
// state (TCP window tracking, UDP stream timer) and the engine's verdict cache slots.
// Invariants: the reply tuple is not stored: it is invert(original) (ct_tuple.hpp);
// expires_ns is absolute (same clock as track()'s now); an entry is dead once
// now >= expires_ns (the kernel's nf_ct_is_expired), whether or not it was swept yet.
// Line 0 holds what every lookup touches (tuple, status, expiry, UDP timer, first half of
// the TCP state); line 1 the rest of the TCP state, the verdict caches and the packet and
// byte counts, so tracking an established packet touches these two lines and no other.
// Thread-safety: plain data, owned by CtTable.
#pragma once

#include <cstdint>
#include <cstring>

#include "ct_tuple.hpp"
#include "tapwall/conntrack.hpp"

namespace tapwall::ct {

// Entry status bits (the kernel's IPS_* that matter here).
inline constexpr uint8_t kStInUse = 1 << 0;
inline constexpr uint8_t kStPending = 1 << 1;    // created by a packet, not confirmed yet
inline constexpr uint8_t kStSeenReply = 1 << 2;  // IPS_SEEN_REPLY
inline constexpr uint8_t kStAssured = 1 << 3;    // IPS_ASSURED
inline constexpr uint8_t kStAcctSpilled = 1 << 4;  // CtCounters of the entry hold counts

// TCP conntrack states, numbered as the kernel's enum tcp_conntrack (its tables use them).
enum TcpState : uint8_t {
  kTcpNone = 0,
  kTcpSynSent,
  kTcpSynRecv,
  kTcpEstablished,
  kTcpFinWait,
  kTcpCloseWait,
  kTcpLastAck,
  kTcpTimeWait,
  kTcpClose,
  kTcpSynSent2,
  kTcpStateCount,  // sIV in the transition table
  kTcpIgnore,      // sIG
};

// Per-direction TCP window tracking state (the kernel's ip_ct_tcp_state) and the
// connection-wide bookkeeping (ip_ct_tcp), laid out to fit 56 bytes.
struct TcpTrack {
  uint32_t td_end[2];     // highest seq+len seen from each direction
  uint32_t td_maxend[2];  // highest ack+window the peer allowed
  uint32_t td_maxwin[2];  // largest window seen; 0 = direction not seen yet
  uint32_t td_maxack[2];  // highest ack sent
  uint32_t last_seq, last_ack, last_end;
  uint16_t last_win;
  uint8_t td_scale[2];
  uint8_t flags[2];       // kTcpFlag* per direction
  uint8_t last_dir, last_index, retrans, last_flags, last_wscale;
  uint8_t pad;
};
static_assert(sizeof(TcpTrack) == 56);

struct UdpTrack {
  uint64_t stream_ns;  // the flow counts as a stream (120 s timeout) after this time
};

struct alignas(64) CtEntry {
  IpAddr src, dst;  // original direction
  uint16_t sport, dport;
  uint8_t proto;
  uint8_t status;     // kSt*
  uint8_t tcp_state;  // TcpState (TCP only)
  uint8_t pad;
  uint64_t expires_ns;
  union {
    TcpTrack tcp;
    UdpTrack udp;
  } l4;
  CtVerdictCache vc[2];  // [0] original, [1] reply
  // Packets and bytes per direction since the last spill into the entry's CtCounters, packed
  // (AcctDelta) so that counting a packet touches no line beyond the entry's own two.
  uint64_t acct;

  CtTuple orig_tuple() const {
    CtTuple t;
    t.src = src;
    t.dst = dst;
    t.sport = sport;
    t.dport = dport;
    t.proto = proto;
    return t;
  }
  // Does `t` equal this entry's tuple for direction `reply`?
  [[gnu::always_inline]] bool matches(const CtTuple& t, bool reply) const {
    if (t.proto != proto) return false;
    if (!reply) return t.sport == sport && t.dport == dport && same(t.src, src) && same(t.dst, dst);
    uint16_t rs, rd;
    reply_ports(proto, sport, dport, rs, rd);
    return t.sport == rs && t.dport == rd && same(t.src, dst) && same(t.dst, src);
  }
  // Two 8-byte compares instead of a memcmp call (this is the lookup's inner loop).
  static bool same(const IpAddr& a, const IpAddr& b) {
    uint64_t x[2], y[2];
    std::memcpy(x, a.b.data(), 16);
    std::memcpy(y, b.b.data(), 16);
    return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
  }
};
static_assert(sizeof(CtEntry) == 128, "entry must stay two cache lines");

// Cold per-entry accounting, kept apart so the hot entry stays at two lines. Valid only
// while the entry has kStAcctSpilled (never cleared on insert, so a new flow needn't touch
// it); the flow's totals are these plus the entry's acct delta.
struct CtCounters {
  uint64_t packets[2];
  uint64_t bytes[2];
};

// CtEntry::acct layout: packets (12 bits) and bytes (20 bits) per direction, each field's
// top bit a guard that is clear between packets. Adding a packet (< 2^19 bytes: an IP
// datagram is < 2^17) to fields below their guards cannot carry past the guard, so an add
// that sets any guard spills the whole delta (exact) into CtCounters: at most every 2^11
// packets, or every 2^19 - 2^16 bytes, of a flow. Why guards: one add and one test per
// packet instead of a range check per field.
struct AcctDelta {
  static constexpr uint32_t kPacketBits = 12, kByteBits = 20;
  static constexpr uint64_t kPacketMask = (uint64_t{1} << kPacketBits) - 1;
  static constexpr uint64_t kByteMask = (uint64_t{1} << kByteBits) - 1;
  static constexpr int packet_shift(int dir) { return dir * int(kPacketBits); }
  static constexpr int byte_shift(int dir) { return 2 * int(kPacketBits) + dir * int(kByteBits); }
  // The top bit of each field (fields: packets 0, packets 1, bytes 0, bytes 1).
  static constexpr uint64_t kGuards = uint64_t{1} << (kPacketBits - 1) |
                                      uint64_t{1} << (2 * kPacketBits - 1) |
                                      uint64_t{1} << (2 * kPacketBits + kByteBits - 1) |
                                      uint64_t{1} << 63;
  static uint64_t packets(uint64_t a, int dir) { return (a >> packet_shift(dir)) & kPacketMask; }
  static uint64_t bytes(uint64_t a, int dir) { return (a >> byte_shift(dir)) & kByteMask; }
  // One packet of `len` bytes in direction `reply` (shifts by constants).
  [[gnu::always_inline]] static uint64_t increment(bool reply, uint32_t len) {
    const uint64_t l = len < kByteMask / 2 ? len : kByteMask / 2;  // an IP datagram is < 2^17
    return reply ? (uint64_t{1} << packet_shift(1)) + (l << byte_shift(1))
                 : (uint64_t{1} << packet_shift(0)) + (l << byte_shift(0));
  }
  // Must `a` (just incremented) be spilled?
  static bool full(uint64_t a) { return (a & kGuards) != 0; }
};
static_assert(2 * (AcctDelta::kPacketBits + AcctDelta::kByteBits) == 64);
static_assert(AcctDelta::kGuards ==
              (uint64_t{1} << (AcctDelta::packet_shift(0) + AcctDelta::kPacketBits - 1) |
               uint64_t{1} << (AcctDelta::packet_shift(1) + AcctDelta::kPacketBits - 1) |
               uint64_t{1} << (AcctDelta::byte_shift(0) + AcctDelta::kByteBits - 1) |
               uint64_t{1} << (AcctDelta::byte_shift(1) + AcctDelta::kByteBits - 1)));

}  // namespace tapwall::ct
