// Conntrack's insides, for its own sources and for the engine's per-frame loop.
// Purpose: Conntrack::Impl (the table, the pending entry, the sweep's bookkeeping) and the
// definitions of the express steps (prepare(key), prefetch_entry(), express_peek(),
// express_track()), which are inline because they run once per frame in the engine's batch
// loop: as calls into the library, their calls and the register spills around them cost
// ~50 of an established frame's ~880 instructions.
// Invariants: as Conntrack (include/tapwall/conntrack.hpp); a translation unit that calls
// an express step includes this header.
// Thread-safety: as Conntrack (one owner).
#pragma once

#include <cassert>
#include <cstdint>
#include <span>

#include "ct_table.hpp"
#include "tapwall/conntrack.hpp"
#include "tcp_window.hpp"
#include "udp_tracker.hpp"

namespace tapwall {

namespace conntrack_detail {

// The incremental expiry sweep: spreads expiry over traffic so a full expire() pass is
// never needed, at a bounded cost per packet. Lookups and early drop reclaim expired
// entries too, so the sweep only has to keep dead entries from piling up: one entry per
// kPacketsPerSweep packets, kSweepWhenTight per packet when free entries run short. (One
// per packet cost a table line per packet: 10-25% of an established frame at 100k flows.)
constexpr uint32_t kPacketsPerSweep = 8;
constexpr uint32_t kSweepWhenTight = 8;

}  // namespace conntrack_detail

struct Conntrack::Impl {
  CtConfig cfg;
  CtStats stats;
  ct::CtTable table;
  uint32_t pending = kNoCtEntry;
  uint32_t sweep_credit = 0;  // track() calls whose sweep sweep_ahead() already did
  uint32_t sweep_owed = 0;    // packets since the last entry swept (< kPacketsPerSweep)
  CtVerdictCache scratch;  // handed out for kNoCtEntry so a caller bug can't corrupt memory

  Impl(const CtConfig& c, uint64_t seed) : cfg(c), table(c.capacity, seed, stats) {}

  // The incremental expiry sweep's share of `packets` packets.
  void sweep(uint64_t now_ns, uint32_t packets) {
    const bool tight = table.size() + table.capacity() / 8 >= table.capacity();
    if (tight) {
      table.sweep(now_ns, packets * conntrack_detail::kSweepWhenTight);
      return;
    }
    sweep_owed += packets;
    if (sweep_owed < conntrack_detail::kPacketsPerSweep) return;
    table.sweep(now_ns, sweep_owed / conntrack_detail::kPacketsPerSweep);
    sweep_owed %= conntrack_detail::kPacketsPerSweep;
  }

  CtResult invalid() {
    ++stats.invalid;
    CtResult r;
    r.state = CtState::Invalid;
    return r;
  }

  CtResult full() {
    ++stats.table_full;
    CtResult r;
    r.state = CtState::Invalid;  // never NEW: the packet has no entry
    r.table_full = true;
    return r;
  }

  // `len`: the IP datagram's length (accounting).
  [[gnu::always_inline]] CtResult finish(uint32_t id, bool reply, bool created, uint32_t len) {
    ct::CtEntry& e = table.entry(id);
    CtResult r;
    r.entry = id;
    r.reply = reply;
    r.pending = created;
    r.state = (reply || (e.status & ct::kStSeenReply)) ? CtState::Established : CtState::New;
    if (reply) e.status |= ct::kStSeenReply;
    e.acct += ct::AcctDelta::increment(reply, len);
    if (ct::AcctDelta::full(e.acct)) [[unlikely]] spill(e, table.counters(id));
    if (created) {
      e.status |= ct::kStPending;
      pending = id;
      ++stats.created;
    }
    return r;
  }

  [[gnu::cold, gnu::noinline]] static void spill(ct::CtEntry& e, ct::CtCounters& c) {
    if (!(e.status & ct::kStAcctSpilled)) {
      c = ct::CtCounters{};
      e.status |= ct::kStAcctSpilled;
    }
    for (int dir = 0; dir < 2; ++dir) {
      c.packets[dir] += ct::AcctDelta::packets(e.acct, dir);
      c.bytes[dir] += ct::AcctDelta::bytes(e.acct, dir);
    }
    e.acct = 0;
  }

  void drop_pending() {
    // The engine confirms each packet before tracking the next; if it did not, forget
    // the entry: keeping state for a packet nobody accepted would open the policy.
    if (pending == kNoCtEntry) return;
    table.remove(pending);
    ++stats.discarded;
    pending = kNoCtEntry;
  }

  // The tuple's hash: the one prepare() computed, else computed here.
  uint64_t hash_of(const ct::CtTuple& t, const CtLookup* lk) const {
    if (lk == nullptr || !lk->valid) return table.hash(t);
    assert(lk->hash == table.hash(t) && "CtLookup prepared from another packet");
    return lk->hash;
  }

  CtResult track_tcp(const Decoded& d, std::span<const uint8_t> frame, uint64_t now,
                     bool verify, const CtLookup* lk);
  CtResult track_udp(const Decoded& d, std::span<const uint8_t> frame, uint64_t now,
                     bool verify, const CtLookup* lk);
  CtResult track_icmp(const Decoded& d, std::span<const uint8_t> frame, uint64_t now,
                      bool verify);
  CtResult track_generic(const Decoded& d, uint64_t now, const CtLookup* lk);
  CtResult related(const Decoded& d, uint64_t now);
};

[[gnu::always_inline]] inline void Conntrack::prepare(const FlowKey& key, CtLookup& lk) const {
  lk.hash = impl_->table.hash_not_icmp(key);  // the express path's packets are TCP or UDP
  lk.valid = true;
  lk.hint = ct::CtTable::kNoRef;
  impl_->table.prefetch(lk.hash);
}

[[gnu::always_inline]] inline void Conntrack::prefetch_entry(CtLookup& lk) const {
  if (lk.valid) lk.hint = impl_->table.prefetch_entries(lk.hash);
}

[[gnu::always_inline]] inline bool Conntrack::express_peek(const CtLookup& lk, uint64_t now_ns,
                                                           CtExpress& x) {
  Impl& m = *impl_;
  // A pending entry would make track() discard it first.
  if (m.pending != kNoCtEntry) return false;
  const uint32_t id = m.table.locate(x.key, lk.hash, lk.hint, x.reply);
  if (id == kNoCtEntry) return false;
  ct::CtEntry& e = m.table.entry(id);
  if (m.table.expired(e, now_ns)) return false;
  if (x.key.proto == kProtoTcp && e.tcp_state != ct::kTcpEstablished) return false;
  if (!x.reply && !(e.status & ct::kStSeenReply)) return false;  // NEW, not ESTABLISHED
  x.entry = id;
  x.vc = &e.vc[x.reply ? 1 : 0];
  return true;
}

[[gnu::always_inline]] inline CtResult Conntrack::express_track(uint64_t now_ns,
                                                                const CtExpress& x) {
  Impl& m = *impl_;
  // As track(): the sweep (which frees only expired entries, so not this one), then the
  // tracker's course for this packet past the checks already made.
  if (m.sweep_credit != 0)
    --m.sweep_credit;
  else
    m.sweep(now_ns, 1);
  ct::CtEntry& e = m.table.entry(x.entry);
  if (x.key.proto == kProtoTcp) {
    // express_peek() saw the entry ESTABLISHED (nothing since changed it) and the segment
    // is ACK-class (CtExpress): tcp_packet()'s steady state, without its test.
    if (ct::tcp_established_ack(e, x.reply, x.tcp, m.cfg, now_ns) != ct::TcpAction::Accept)
      return m.invalid();
  } else {
    ct::udp_packet(e, m.cfg.timeouts, now_ns);
  }
  return m.finish(x.entry, x.reply, false, x.ip_len);
}

}  // namespace tapwall
