// Engine pipeline; see include/tapwall/engine.hpp for the contract.
// Why this order: the kernel bridge learns and drops on L2 before br_netfilter sees the
// frame; br_netfilter validates the IPv4 header, then defragments, then conntrack runs once
// (PREROUTING), then FORWARD runs once per egress port. An entry created by the packet is
// kept only if some copy was accepted (the kernel confirms at POSTROUTING).
// This file is the general path, for every frame and every configuration; express.cpp has
// the batch loop and the express path for the steady state.
#include "tapwall/engine.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "engine_inline.hpp"
#include "express_frame.hpp"
#include "tapwall/checksum.hpp"

namespace tapwall {

using namespace engine_detail;

Engine::Engine(EngineConfig cfg, std::shared_ptr<const CompiledPolicy> policy)
    : cfg_(std::move(cfg)),
      mac_(std::make_unique<MacTable>(cfg_.mac)),
      ct_(std::make_unique<Conntrack>(cfg_.ct)),
      defrag_(std::make_unique<Defragmenter>(cfg_.defrag)),
      eval_(std::make_unique<PolicyEvaluator>(std::move(policy))),
      length_cuts_(eval_->policy().length_cuts()),
      dec_(std::make_unique<Decoded[]>(kPipeline)),
      xf_(std::make_unique<ExpressFrame[]>(kPipeline)) {
  for (std::size_t i = 0; i < cfg_.ports.size() && i < kMaxPorts; ++i) {
    all_ports_ |= PortMask{1} << i;
    if (cfg_.ports[i].role == PortRole::Host) host_ports_ |= PortMask{1} << i;
  }
  records_.reserve(kMaxRecords);
  record_slots_.assign(kRecordSlots, kNoSlot);
  pend_packets_.assign(kMaxRecords, 0);
  pend_bytes_.assign(kMaxRecords, 0);
  pend_dirty_.reserve(kMaxRecords);
}

Engine::~Engine() = default;

void Engine::set_policy(std::shared_ptr<const CompiledPolicy> policy) {
  reset_verdict_cache();  // counts pending for the old policy go to the old policy
  eval_ = std::make_unique<PolicyEvaluator>(std::move(policy));
  length_cuts_ = eval_->policy().length_cuts();
}

const CompiledPolicy* Engine::policy() const { return &eval_->policy(); }

PortMask Engine::egress_ports(const Decoded& d, PortId in, uint64_t now, DropReason& why) {
  PortMask others = all_ports_ & ~(PortMask{1} << in);
  PortMask egress = others;
  if (!d.dst_mac.is_multicast()) {
    PortId p = mac_->lookup(d.dst_mac, now);
    if (p == in) {
      why = DropReason::SamePort;
      return 0;
    }
    if (p != kNoPort) egress = PortMask{1} << p;
  }
  if (egress == 0) why = DropReason::NoEgressPort;
  return egress;
}

void Engine::process_one(const FrameIn& f, const Decoded& d, DropReason why, const CtLookup* lk,
                         std::vector<FrameOutcome>& out) {
  FrameOutcome& o = start_outcome(f, out);
  count_input(f);

  if (why == DropReason::None) why = l2_admission(d.src_mac, d.dst_mac);
  if (why != DropReason::None) {
    drop_frame(o, why);
    record(o);
    return;
  }
  mac_->learn(d.src_mac, f.in, f.ts_ns);
  PortMask egress = egress_ports(d, f.in, f.ts_ns, why);
  if (egress == 0) {
    drop_frame(o, why);
    record(o);
    return;
  }
  // br_netfilter validates the IPv4 header (checksum included) before anything else.
  if (d.l3 == L3Kind::Ipv4 &&
      !ipv4_header_checksum_ok(f.bytes.subspan(d.l3_off, d.l4_off - d.l3_off))) {
    drop_frame(o, DropReason::Ipv4BadChecksum);
    record(o);
    return;
  }
  if (d.is_fragment && is_ip(d) && cfg_.filter) {
    DefragResult r = defrag_->add(d, f.bytes, f.in, f.ts_ns, f.cookie);
    out.pop_back();  // the fragment's outcome is written when its datagram is decided
    if (r.status == DefragStatus::Held) return;
    finish_datagram(r.datagram, r.reason, f.ts_ns, out);
    return;
  }
  judge(d, f.bytes, f.in, egress, f.ts_ns, f.csum_partial, o, lk, true);
  record(o);
}

void Engine::judge(const Decoded& d, std::span<const uint8_t> frame, PortId in, PortMask egress,
                   uint64_t now, bool csum_partial, FrameOutcome& o, const CtLookup* lk,
                   bool cacheable) {
  if (!is_ip(d) || !cfg_.filter) {  // ARP and other ethertypes are not iptables' business
    o.to = egress;
    return;
  }
  CtResult ct;
  if (cfg_.conntrack) {
    ct = ct_->track(d, frame, now, csum_partial, lk);
    if (ct.table_full) {
      drop_frame(o, DropReason::CtTableFull);
      return;
    }
  }
  judge_tracked(d, in, egress, ct, now, o, cacheable);
}

// FORWARD for each egress port, the packet's ct state known; then confirm a new entry.
void Engine::judge_tracked(const Decoded& d, PortId in, PortMask egress, const CtResult& ct,
                           uint64_t now, FrameOutcome& o, bool cacheable) {
  o.ct = ct.state;
  // The steady state, apart: an ESTABLISHED packet of the flow itself (not an error RELATED
  // to it, not INVALID) to a unicast MAC going to one port, neither end the host. Only such
  // a packet may use the entry's cache: a flooded frame's per-port decisions would evict
  // each other, and the slot holds one; the cache's key has no packet type, so its
  // decisions are all for unicast frames (a `-m pkttype` rule decides them alike, and the
  // express path takes only those). Its entry existed before it: nothing to confirm.
  if (cacheable && cfg_.verdict_cache && ct.state == CtState::Established &&
      ct.entry != kNoCtEntry && !d.dst_mac.is_multicast() && std::has_single_bit(egress) &&
      !(host_ports_ & ((PortMask{1} << in) | egress))) {
    const PortId p = static_cast<PortId>(std::countr_zero(egress));
    const PolicyDecision dec = judge_cached(d, in, p, ct, now);
    o.n_per = 1;
    set_verdict(o.per[0], p, dec);
    if (dec.accept) o.to = egress;
    return;
  }
  PolicyQuery q;
  q.pkt = &d;
  q.ct = ct.state;
  q.in = in;
  q.bytes = counted_ip_bytes(d);
  q.now_ns = now;
  bool host_in = host_ports_ & (PortMask{1} << in);
  for (PortMask m = egress; m != 0; m &= m - 1) {
    PortId p = static_cast<PortId>(std::countr_zero(m));
    PortVerdict& v = o.per[o.n_per++];
    v.port = p;
    if (host_in || (host_ports_ & (PortMask{1} << p))) {
      v.accept = true;  // the host's own traffic: INPUT/OUTPUT in the kernel, not FORWARD
      v.rule = kNoRule;
      v.reason = DropReason::None;
    } else {
      q.out = p;
      set_verdict(v, p, eval_->judge(q));
    }
    if (v.accept) o.to |= PortMask{1} << p;
  }
  if (cfg_.conntrack) ct_->confirm(ct, o.to != 0);
}

PolicyDecision Engine::judge_and_cache(const Decoded& d, PortId in, PortId out,
                                       const CtResult& ct, uint64_t now_ns,
                                       CtVerdictCache& slot) {
  PolicyQuery q;
  q.now_ns = now_ns;
  q.pkt = &d;
  q.ct = ct.state;
  q.in = in;
  q.out = out;
  q.bytes = counted_ip_bytes(d);
  VerdictRecord r;
  r.dec = eval_->judge(q, r.path);
  if (!r.path.complete) return r.dec;  // can't be counted again without the policy
  r.src_mac = mac_key(d.src_mac);
  r.in = q.in;
  r.out = q.out;
  r.ct = q.ct;
  r.packet_key = cache_key_flags(d) | length_class(q.bytes) << 8;
  const uint32_t id = intern(r);
  if (id < records_.size()) {
    // intern() may have reset the cache (new tag): write the slot after it.
    slot.generation = vc_tag_;
    slot.rule = id;
  }
  return r.dec;
}

// Records are shared by flows with the same key and decision, so a steady state needs a
// few (ports x states x flag combinations x decisions), not one per flow.
uint32_t Engine::intern(const VerdictRecord& r) {
  auto same = [](const VerdictRecord& a, const VerdictRecord& b) {
    return a.src_mac == b.src_mac && a.in == b.in && a.out == b.out && a.ct == b.ct &&
           a.packet_key == b.packet_key && a.dec.accept == b.dec.accept &&
           a.dec.rule == b.dec.rule && a.dec.reason == b.dec.reason &&
           a.dec.log_rule == b.dec.log_rule && a.path.len == b.path.len &&
           std::memcmp(a.path.ids, b.path.ids, a.path.len * sizeof(int32_t)) == 0;
  };
  uint64_t h = r.src_mac * 0x9e3779b97f4a7c15ull;
  h ^= (uint64_t{r.in} << 8 | r.out | uint64_t(r.ct) << 16 | uint64_t{r.packet_key} << 24) *
       0xff51afd7ed558ccdull;
  h ^= uint64_t(uint32_t(r.dec.rule)) * 0xc4ceb9fe1a85ec53ull;
  for (uint32_t i = 0; i < r.path.len; ++i)
    h = (h ^ uint32_t(r.path.ids[i])) * 0x9e3779b97f4a7c15ull;
  h ^= h >> 29;
  for (uint32_t probe = 0; probe < kRecordSlots; ++probe) {
    uint16_t& s = record_slots_[(h + probe) & (kRecordSlots - 1)];
    if (s == kNoSlot) {
      if (records_.size() == kMaxRecords) {
        // Full: start over under a new tag (rare: a policy with very many paths).
        reset_verdict_cache();
        return intern(r);
      }
      s = uint16_t(records_.size());
      records_.push_back(r);
      return s;
    }
    if (same(records_[s], r)) return s;
  }
  return kNoCtEntry;  // unreachable: the slot table is never more than half full
}

void Engine::flush_verdict_counts() {
  if (pend_dirty_.empty()) return;
  const CompiledPolicy& pol = eval_->policy();
  for (uint32_t id : pend_dirty_) {
    pol.count_path(records_[id].path, pend_packets_[id], pend_bytes_[id]);
    pend_packets_[id] = 0;
    pend_bytes_[id] = 0;
  }
  pend_dirty_.clear();
}

void Engine::reset_verdict_cache() {
  flush_verdict_counts();
  records_.clear();
  std::fill(record_slots_.begin(), record_slots_.end(), kNoSlot);
  if (++vc_tag_ == 0) {
    // Wrapped: a slot written 2^32 resets ago could match again; empty them all.
    ct_->clear_verdict_caches();
    vc_tag_ = 1;
  }
}

void Engine::finish_datagram(uint32_t dg, DropReason drop, uint64_t now,
                             std::vector<FrameOutcome>& out) {
  FrameOutcome verdict;
  if (drop == DropReason::None) {
    std::span<const uint8_t> whole = defrag_->reassembled(dg);
    Decoded d;
    DropReason why = decode_frame(whole, d);
    PortId in = defrag_->fragments(dg).front().in_port;
    PortMask egress = why == DropReason::None ? egress_ports(d, in, now, why) : 0;
    if (why != DropReason::None)
      drop_frame(verdict, why);
    else
      judge(d, whole, in, egress, now, false, verdict);
  } else {
    drop_frame(verdict, drop);
  }
  for (const HeldFragment& h : defrag_->fragments(dg)) {
    FrameOutcome& o = out.emplace_back(verdict);
    o.cookie = h.cookie;
    o.in = h.in_port;
    o.ts_ns = h.ts_ns;
    o.bytes = h.bytes;
    record(o);
  }
  pending_release_.push_back(dg);
}

void Engine::expire(uint64_t now_ns, std::vector<FrameOutcome>& out) {
  for (uint32_t dg : pending_release_) defrag_->release(dg);
  pending_release_.clear();
  expired_bytes_.clear();
  defrag_->expire(now_ns, [&](uint32_t dg) {
    for (const HeldFragment& h : defrag_->fragments(dg)) {
      FrameOutcome& o = out.emplace_back();
      o.cookie = h.cookie;
      o.in = h.in_port;
      o.ts_ns = h.ts_ns;
      // The defragmenter frees expired datagrams when this callback returns: keep a copy
      // (rare path) so the drop sink can still record the frame.
      o.bytes = expired_bytes_.emplace_back(h.bytes.begin(), h.bytes.end());
      drop_frame(o, DropReason::FragTimeout);
      record(o);
    }
  });
  ct_->expire(now_ns);
}

}  // namespace tapwall
