// Engine pipeline; see include/tapwall/engine.hpp for the contract.
// Why this order: the kernel bridge learns and drops on L2 before br_netfilter sees the
// frame; br_netfilter validates the IPv4 header, then defragments, then conntrack runs once
// (PREROUTING), then FORWARD runs once per egress port. An entry created by the packet is
// kept only if some copy was accepted (the kernel confirms at POSTROUTING).
#include "tapwall/engine.hpp"

#include <bit>

#include "tapwall/checksum.hpp"

namespace tapwall {

namespace {

bool is_ip(const Decoded& d) { return d.l3 == L3Kind::Ipv4 || d.l3 == L3Kind::Ipv6; }

void drop_frame(FrameOutcome& o, DropReason r) {
  o.reason = r;
  o.to = 0;
}

}  // namespace

Engine::Engine(EngineConfig cfg, std::shared_ptr<const CompiledPolicy> policy)
    : cfg_(std::move(cfg)),
      mac_(std::make_unique<MacTable>(cfg_.mac)),
      ct_(std::make_unique<Conntrack>(cfg_.ct)),
      defrag_(std::make_unique<Defragmenter>(cfg_.defrag)),
      eval_(std::make_unique<PolicyEvaluator>(std::move(policy))) {
  for (std::size_t i = 0; i < cfg_.ports.size() && i < kMaxPorts; ++i) {
    all_ports_ |= PortMask{1} << i;
    if (cfg_.ports[i].role == PortRole::Host) host_ports_ |= PortMask{1} << i;
  }
}

Engine::~Engine() = default;

void Engine::set_policy(std::shared_ptr<const CompiledPolicy> policy) {
  eval_ = std::make_unique<PolicyEvaluator>(std::move(policy));
}

const CompiledPolicy* Engine::policy() const { return &eval_->policy(); }

void Engine::process(std::span<const FrameIn> batch, std::vector<FrameOutcome>& out) {
  // Fragments handed out by the previous call may be forgotten now: the caller is done.
  for (uint32_t dg : pending_release_) defrag_->release(dg);
  pending_release_.clear();
  for (const FrameIn& f : batch) process_one(f, out);
}

PortMask Engine::egress_ports(const Decoded& d, PortId in, uint64_t now, DropReason& why) {
  PortMask others = all_ports_ & ~(PortMask{1} << in);
  PortMask egress = others;
  if (!d.dst_mac.is_multicast()) {
    PortId p = mac_->lookup(d.dst_mac, d.vlan, now);
    if (p == in) {
      why = DropReason::SamePort;
      return 0;
    }
    if (p != kNoPort) egress = PortMask{1} << p;
  }
  if (egress == 0) why = DropReason::NoEgressPort;
  return egress;
}

void Engine::process_one(const FrameIn& f, std::vector<FrameOutcome>& out) {
  FrameOutcome& o = out.emplace_back();
  o.cookie = f.cookie;
  o.in = f.in;
  o.ts_ns = f.ts_ns;
  o.bytes = f.bytes;
  o.csum_partial = f.csum_partial;
  counters_.frames++;
  counters_.bytes += f.bytes.size();
  if (f.in < kMaxPorts) {
    counters_.rx_frames[f.in]++;
    counters_.rx_bytes[f.in] += f.bytes.size();
  }

  Decoded d;
  DropReason why = decode_frame(f.bytes, d);
  if (why == DropReason::None) why = l2_admission(d.src_mac, d.dst_mac);
  if (why != DropReason::None) {
    drop_frame(o, why);
    record(o);
    return;
  }
  mac_->learn(d.src_mac, d.vlan, f.in, f.ts_ns);
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
  judge(d, f.bytes, f.in, egress, f.ts_ns, f.csum_partial, o);
  record(o);
}

void Engine::judge(const Decoded& d, std::span<const uint8_t> frame, PortId in, PortMask egress,
                   uint64_t now, bool csum_partial, FrameOutcome& o) {
  if (!is_ip(d) || !cfg_.filter) {  // ARP and other ethertypes are not iptables' business
    o.to = egress;
    return;
  }
  CtResult ct;
  if (cfg_.conntrack) {
    ct = ct_->track(d, frame, now, csum_partial);
    if (ct.table_full) {
      drop_frame(o, DropReason::CtTableFull);
      return;
    }
  }
  o.ct = ct.state;
  PolicyQuery q;
  q.pkt = &d;
  q.ct = ct.state;
  q.in = in;
  q.bytes = d.ip_end - d.l3_off;
  bool host_in = host_ports_ & (PortMask{1} << in);
  for (PortMask m = egress; m != 0; m &= m - 1) {
    PortId p = static_cast<PortId>(std::countr_zero(m));
    PortVerdict& v = o.per[o.n_per++];
    v.port = p;
    if (host_in || (host_ports_ & (PortMask{1} << p))) {
      v.accept = true;  // the host's own traffic: INPUT/OUTPUT in the kernel, not FORWARD
    } else {
      q.out = p;
      PolicyDecision dec = eval_->judge(q);
      v.accept = dec.accept;
      v.rule = dec.rule;
      v.reason = dec.reason;
    }
    if (v.accept) o.to |= PortMask{1} << p;
  }
  if (cfg_.conntrack) ct_->confirm(ct, o.to != 0);
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

void Engine::record(FrameOutcome& o) {
  if (o.to != 0) {
    counters_.forwarded++;
  } else {
    counters_.dropped++;
  }
  if (o.reason != DropReason::None) counters_.by_reason[static_cast<std::size_t>(o.reason)]++;
  for (uint8_t i = 0; i < o.n_per; ++i) {
    const PortVerdict& v = o.per[i];
    if (!v.accept) counters_.by_reason[static_cast<std::size_t>(v.reason)]++;
  }
  for (PortMask m = o.to; m != 0; m &= m - 1) {
    int p = std::countr_zero(m);
    counters_.tx_frames[p]++;
    counters_.tx_bytes[p] += o.bytes.size();
  }
}

}  // namespace tapwall
