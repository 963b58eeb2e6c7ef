// Conntrack facade: dispatches each packet to its L4 tracker over the shared CtTable and
// turns the outcome into the ct state iptables would see (nf_conntrack_in's logic).
// Invariants: at most one entry is pending (created, not yet confirmed) at a time; a
// packet's ct state is decided from the entry's seen-reply bit as it was before the packet
// (reply direction: ESTABLISHED; original: ESTABLISHED once a reply was seen, else NEW);
// INVALID packets never create, change the state of, or refresh an entry, except where
// the kernel's TCP tracker does so itself (window bookkeeping of ignored segments).
// Deliberate difference from the kernel: a packet is validated before an entry is
// allocated, so a packet that will be INVALID never evicts a flow from a full table.
// Thread-safety: not thread-safe; one owner.
#include "tapwall/conntrack.hpp"

#include <random>

#include "conntrack_impl.hpp"
#include "generic_tracker.hpp"
#include "icmp_tracker.hpp"
#include "tapwall/checksum.hpp"

namespace tapwall {

using namespace ct;

namespace {

uint64_t random_seed() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd();
}

// The original-direction tuple of a TCP/UDP packet.
CtTuple port_tuple(const Decoded& d, uint8_t proto) {
  CtTuple t;
  t.src = d.src_ip;
  t.dst = d.dst_ip;
  t.sport = d.sport;
  t.dport = d.dport;
  t.proto = proto;
  return t;
}

// The tuple prepare() hashes for `d` (the one track_tcp/track_udp/track_generic build), or
// false when `d` is not hashed up front: not IP, a fragment, or ICMP (keyed by type: not
// worth classifying twice).
[[gnu::always_inline]] inline bool lookup_tuple(const Decoded& d, CtTuple& t) {
  if ((d.l3 != L3Kind::Ipv4 && d.l3 != L3Kind::Ipv6) || d.is_fragment) return false;
  if (is_icmp_proto(d.ip_proto)) return false;
  t.src = d.src_ip;
  t.dst = d.dst_ip;
  t.proto = d.ip_proto;
  if (d.ip_proto == kProtoTcp || d.ip_proto == kProtoUdp) {
    t.sport = d.sport;
    t.dport = d.dport;
  }
  return true;
}

}  // namespace

// Inline into track(): nearly every packet a bridge tracks is TCP.
[[gnu::always_inline]] inline CtResult Conntrack::Impl::track_tcp(const Decoded& d,
                                                                  std::span<const uint8_t> frame,
                                                                  uint64_t now, bool verify,
                                                                  const CtLookup* lk) {
  TcpSegment s;
  if (!d.l4_ok || !tcp_header_valid(d) || !tcp_segment(d, frame, s)) return invalid();
  if (verify && !l4_checksum_ok(d, frame)) return invalid();
  const CtTuple t = port_tuple(d, kProtoTcp);
  const uint64_t h = hash_of(t, lk);
  bool reply = false;
  uint32_t id = table.find(t, h, now, reply);
  if (id != kNoCtEntry) {
    switch (tcp_packet(table.entry(id), reply, s, cfg, now)) {
      case TcpAction::Invalid:
        return invalid();
      case TcpAction::Accept:
        return finish(id, reply, false, counted_ip_bytes(d));
      case TcpAction::AcceptKill: {
        CtResult r = finish(id, reply, false, counted_ip_bytes(d));
        table.remove(id);
        r.entry = kNoCtEntry;
        return r;
      }
      case TcpAction::Repeat:
        table.remove(id);  // the old connection is over: track this SYN as a new one
        break;
    }
  }
  if (!tcp_can_create(s, cfg.tcp_loose)) return invalid();
  id = table.insert(t, h, now);
  if (id == kNoCtEntry) return full();
  CtEntry& e = table.entry(id);
  tcp_new(e, s);
  if (tcp_packet(e, false, s, cfg, now) != TcpAction::Accept) {
    table.remove(id);
    return invalid();
  }
  return finish(id, false, true, counted_ip_bytes(d));
}

CtResult Conntrack::Impl::track_udp(const Decoded& d, std::span<const uint8_t> frame,
                                    uint64_t now, bool verify, const CtLookup* lk) {
  if (!d.l4_ok || !udp_valid(d, frame, verify)) return invalid();
  const CtTuple t = port_tuple(d, kProtoUdp);
  const uint64_t h = hash_of(t, lk);
  bool reply = false;
  uint32_t id = table.find(t, h, now, reply);
  const bool created = id == kNoCtEntry;
  if (created) {
    id = table.insert(t, h, now);
    if (id == kNoCtEntry) return full();
    udp_new(table.entry(id), now);
  }
  udp_packet(table.entry(id), cfg.timeouts, now);
  return finish(id, reply, created, counted_ip_bytes(d));
}

CtResult Conntrack::Impl::related(const Decoded& d, uint64_t now) {
  CtTuple q;
  if (!quoted_tuple(d, q)) return invalid();
  bool quoted_reply = false;
  const uint32_t id = table.find(q, table.hash(q), now, quoted_reply);
  if (id == kNoCtEntry) return invalid();
  // The error must travel back to the quoted packet's sender; otherwise a host could
  // get anything RELATED to a flow it is not part of.
  if (!(d.dst_ip == q.src)) return invalid();
  CtResult r;
  r.state = CtState::Related;
  r.entry = id;
  r.reply = !quoted_reply;  // the error goes the other way than the packet it quotes
  return r;
}

CtResult Conntrack::Impl::track_icmp(const Decoded& d, std::span<const uint8_t> frame,
                                     uint64_t now, bool verify) {
  if (!d.l4_ok) return invalid();
  if (verify && !l4_checksum_ok(d, frame)) return invalid();
  switch (icmp_classify(d)) {
    case IcmpKind::Invalid:
      return invalid();
    case IcmpKind::Untracked: {
      CtResult r;
      r.state = CtState::Untracked;
      return r;
    }
    case IcmpKind::Error:
      return related(d, now);
    case IcmpKind::Query:
      break;
  }
  CtTuple t;
  if (!icmp_tuple(d, frame, t)) return invalid();
  const uint32_t timeout = d.ip_proto == kProtoIcmp ? cfg.timeouts.icmp : cfg.timeouts.icmpv6;
  const uint64_t h = table.hash(t);
  bool reply = false;
  uint32_t id = table.find(t, h, now, reply);
  const bool created = id == kNoCtEntry;
  if (created) {
    if (!icmp_can_create(d.ip_proto, d.icmp_type)) return invalid();
    id = table.insert(t, h, now);
    if (id == kNoCtEntry) return full();
  }
  icmp_packet(table.entry(id), timeout, now);
  return finish(id, reply, created, counted_ip_bytes(d));
}

CtResult Conntrack::Impl::track_generic(const Decoded& d, uint64_t now, const CtLookup* lk) {
  CtTuple t;
  t.src = d.src_ip;
  t.dst = d.dst_ip;
  t.proto = d.ip_proto;
  const uint64_t h = hash_of(t, lk);
  bool reply = false;
  uint32_t id = table.find(t, h, now, reply);
  const bool created = id == kNoCtEntry;
  if (created) {
    id = table.insert(t, h, now);
    if (id == kNoCtEntry) return full();
  }
  generic_packet(table.entry(id), cfg.timeouts, now);
  return finish(id, reply, created, counted_ip_bytes(d));
}

Conntrack::Conntrack(const CtConfig& cfg)
    : impl_(std::make_unique<Impl>(cfg, cfg.hash_seed ? cfg.hash_seed : random_seed())) {}
Conntrack::~Conntrack() = default;

CtResult Conntrack::track(const Decoded& d, std::span<const uint8_t> frame, uint64_t now_ns,
                          bool csum_partial, const CtLookup* lk) {
  Impl& m = *impl_;
  m.drop_pending();
  if (m.sweep_credit != 0)
    --m.sweep_credit;
  else
    m.sweep(now_ns, 1);
  const bool v6 = d.l3 == L3Kind::Ipv6;
  if (d.l3 != L3Kind::Ipv4 && !v6) return {};
  // Fragments must be reassembled first; one that slips through can't be judged.
  if (d.is_fragment) return m.invalid();
  const bool verify = m.cfg.checksum && !csum_partial;
  switch (d.ip_proto) {
    case kProtoTcp:
      return m.track_tcp(d, frame, now_ns, verify, lk);
    case kProtoUdp:
      return m.track_udp(d, frame, now_ns, verify, lk);
    case kProtoIcmp:
      // ICMP inside IPv6 (or ICMPv6 inside IPv4) is refused by the kernel's trackers.
      if (v6) return m.invalid();
      return m.track_icmp(d, frame, now_ns, verify);
    case kProtoIcmpv6:
      if (!v6) return m.invalid();
      return m.track_icmp(d, frame, now_ns, verify);
    default:
      return m.track_generic(d, now_ns, lk);
  }
}

void Conntrack::prepare(const Decoded& d, CtLookup& lk) const {
  lk.valid = false;
  CtTuple t;
  if (lookup_tuple(d, t)) prepare(t, lk);
}

void Conntrack::sweep_ahead(uint64_t now_ns, uint32_t packets) {
  impl_->sweep(now_ns, packets);
  impl_->sweep_credit = packets;
}

void Conntrack::prefetch(const Decoded& d) const {
  // Not through prepare(d, lk): with lk discarded, gcc deleted that call (to it a prefetch
  // is no side effect), and the prefetch with it.
  CtTuple t;
  if (lookup_tuple(d, t)) impl_->table.prefetch(impl_->table.hash(t));
}

void Conntrack::clear_verdict_caches() { impl_->table.clear_verdict_caches(); }

void Conntrack::confirm(const CtResult& r, bool accepted) {
  Impl& m = *impl_;
  if (!r.pending || r.entry == kNoCtEntry || r.entry != m.pending) return;
  CtEntry& e = m.table.entry(r.entry);
  m.pending = kNoCtEntry;
  if (!(e.status & kStPending)) return;
  if (accepted) {
    e.status &= uint8_t(~kStPending);
    ++m.stats.confirmed;
  } else {
    m.table.remove(r.entry);
    ++m.stats.discarded;
  }
}

CtVerdictCache& Conntrack::verdict_cache(uint32_t entry, bool reply) {
  Impl& m = *impl_;
  if (entry >= m.table.capacity()) {
    m.scratch = CtVerdictCache{};
    return m.scratch;
  }
  return m.table.entry(entry).vc[reply ? 1 : 0];
}

void Conntrack::expire(uint64_t now_ns) { impl_->table.expire_all(now_ns); }
std::size_t Conntrack::size() const { return impl_->table.size(); }
std::size_t Conntrack::capacity() const { return impl_->table.capacity(); }
std::size_t Conntrack::entry_bytes() { return sizeof(CtEntry); }
std::size_t Conntrack::memory_bytes() const { return impl_->table.memory_bytes(); }
const CtStats& Conntrack::stats() const { return impl_->stats; }
const CtConfig& Conntrack::config() const { return impl_->cfg; }

void Conntrack::for_each(uint64_t now_ns,
                         const std::function<void(const CtEntryView&)>& fn) const {
  const CtTable& table = impl_->table;
  table.for_each_live(now_ns, [&](uint32_t id) {
    const CtEntry& e = table.entry(id);
    CtCounters c{};
    if (e.status & kStAcctSpilled) c = table.counters(id);
    CtEntryView v;
    v.proto = e.proto;
    v.orig_src = e.src;
    v.orig_dst = e.dst;
    v.orig_sport = e.sport;
    v.orig_dport = is_icmp_proto(e.proto) ? 0 : e.dport;  // ICMP: id, 0
    v.state_name = e.proto == kProtoTcp ? tcp_state_name(e.tcp_state) : "";
    v.assured = e.status & kStAssured;
    v.seen_reply = e.status & kStSeenReply;
    v.expires_in_ns = e.expires_ns - now_ns;
    for (int dir = 0; dir < 2; ++dir) {
      v.packets[dir] = c.packets[dir] + AcctDelta::packets(e.acct, dir);
      v.bytes[dir] = c.bytes[dir] + AcctDelta::bytes(e.acct, dir);
    }
    fn(v);
  });
}

}  // namespace tapwall
