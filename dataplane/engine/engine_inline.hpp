// The engine's per-frame helpers that both of its paths use (engine.cpp: the general path;
// express.cpp: the batch loop and the express path), inline because each runs for every
// frame and is a few instructions next to a call.
// Thread-safety: as Engine (one owner).
#pragma once

#include <algorithm>
#include <bit>
#include <cassert>

#include "tapwall/engine.hpp"

namespace tapwall::engine_detail {

inline bool is_ip(const Decoded& d) { return d.l3 == L3Kind::Ipv4 || d.l3 == L3Kind::Ipv6; }

inline void drop_frame(FrameOutcome& o, DropReason r) {
  o.reason = r;
  o.to = 0;
}

// The TCP flags part of a verdict-cache key: rules may match them (--syn, --tcp-flags) and
// they vary within a flow.
inline uint8_t cache_key_flags(const Decoded& d) {
  return d.ip_proto == kProtoTcp ? d.tcp_flags : 0;
}

inline void set_verdict(PortVerdict& v, PortId p, const PolicyDecision& dec) {
  v.port = p;
  v.accept = dec.accept;
  v.rule = dec.rule;
  v.reason = dec.reason;
}

// A new outcome for input frame `f`, its per-frame fields filled in.
inline FrameOutcome& start_outcome(const FrameIn& f, std::vector<FrameOutcome>& out) {
  FrameOutcome& o = out.emplace_back();
  o.cookie = f.cookie;
  o.in = f.in;
  o.ts_ns = f.ts_ns;
  o.bytes = f.bytes;
  o.csum_partial = f.csum_partial;
  return o;
}

}  // namespace tapwall::engine_detail

namespace tapwall {

inline void Engine::count_input(const FrameIn& f) {
  counters_.frames++;
  counters_.bytes += f.bytes.size();
  if (f.in < kMaxPorts) {
    counters_.rx_frames[f.in]++;
    counters_.rx_bytes[f.in] += f.bytes.size();
  }
}

[[gnu::always_inline]] inline void Engine::record(FrameOutcome& o) {
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

// The record a cache slot holds for this packet's key, or kNoCtEntry on a miss. Pure.
// A MAC address as the verdict cache keys it: its 6 bytes as they lie in memory (no byte
// swap: equality is all the key needs).
inline uint64_t mac_key(const MacAddr& m) { return mac_detail::make_key(m); }

[[gnu::always_inline]] inline uint32_t Engine::length_class(uint32_t ip_bytes) const {
  if (length_cuts_.empty()) return 0;  // the common case: one branch a frame
  return uint32_t(std::upper_bound(length_cuts_.begin(), length_cuts_.end(), ip_bytes) -
                  length_cuts_.begin());
}

// `packet_key`: as VerdictRecord::packet_key.
[[gnu::always_inline]] inline uint32_t Engine::cached_record(const CtVerdictCache& slot,
                                                             uint64_t src_mac,
                                                             uint32_t packet_key, PortId in,
                                                             PortId out, CtState ct) const {
  // records_ is only emptied with a new tag (reset_verdict_cache), so a slot of this tag
  // names an existing record.
  if (slot.generation != vc_tag_) return kNoCtEntry;
  assert(slot.rule < records_.size());
  const VerdictRecord& r = records_[slot.rule];
  if (r.in == in && r.out == out && r.ct == ct && r.packet_key == packet_key &&
      r.src_mac == src_mac)
    return slot.rule;
  return kNoCtEntry;
}

// A hit's effects: its rules are counted again at the end of process().
[[gnu::always_inline]] inline void Engine::count_cached(uint32_t record, uint32_t ip_bytes) {
  if (pend_packets_[record]++ == 0) pend_dirty_.push_back(record);
  pend_bytes_[record] += ip_bytes;
  ++counters_.verdict_cache_hits;
}

// Inline (one call per established frame); a miss goes to judge_and_cache().
[[gnu::always_inline]] inline PolicyDecision Engine::judge_cached(const Decoded& d, PortId in,
                                                                  PortId out,
                                                                  const CtResult& ct,
                                                                  uint64_t now_ns) {
  CtVerdictCache& slot = ct_->verdict_cache(ct.entry, ct.reply);
  const uint32_t bytes = counted_ip_bytes(d);
  const uint32_t id = cached_record(slot, mac_key(d.src_mac),
                                    engine_detail::cache_key_flags(d) | length_class(bytes) << 8,
                                    in, out, ct.state);
  if (id == kNoCtEntry) return judge_and_cache(d, in, out, ct, now_ns, slot);
  count_cached(id, bytes);
  return records_[id].dec;
}

}  // namespace tapwall
