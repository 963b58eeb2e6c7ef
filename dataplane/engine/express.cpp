// The engine's batch loop and its express path (see include/tapwall/engine.hpp).
// Why the batch is staged: on a large table every frame's index bucket and entry are cache
// misses (~200 ns each here); decoding and hashing the whole batch first, then prefetching
// buckets, then entries, lets those misses overlap instead of being paid one after another.
// The stages before the last only read the frames and hint memory, so the per-frame work
// (learning, tracking, judging) still runs in arrival order with exactly its old effects.
// Why an express path: an established flow's frame whose decision is cached took ~1400
// instructions through the general path's stages, which each re-derive what the frame is
// and re-check what cannot apply to it. The express path checks, with nothing changed yet,
// that the general path would take its plainest course for the frame (admitted, one known
// unicast egress port, neither end the host, IPv4 header right, conntrack's plainest course
// (Conntrack::express_peek), a verdict-cache hit), then has the same effects in the same
// order in one pass. Any failed check leaves the frame to the general path untouched.
// Invariant: for every frame and every engine state, the express path's outcome and effects
// equal the general path's (tests/engine/express_path_test.cpp compares them).
#include <algorithm>
#include <bit>

#include "engine_inline.hpp"
#include "tapwall/checksum.hpp"
#include "tapwall/engine.hpp"

namespace tapwall {

using namespace engine_detail;

namespace {

// Frames between an entry's prefetch and its use (each ~50-100 ns of work here, against
// ~200 ns of memory latency).
constexpr std::size_t kEntryAhead = 6;

}  // namespace

void Engine::process(std::span<const FrameIn> batch, std::vector<FrameOutcome>& out) {
  // Fragments handed out by the previous call may be forgotten now: the caller is done.
  for (uint32_t dg : pending_release_) defrag_->release(dg);
  pending_release_.clear();
  const bool track = cfg_.conntrack && cfg_.filter;
  const bool express_on = track && cfg_.express && cfg_.verdict_cache;
  for (std::size_t base = 0; base < batch.size(); base += kPipeline) {
    const std::size_t n = std::min(kPipeline, batch.size() - base);
    const FrameIn* f = batch.data() + base;
    // Stage 1: decode, hash; start loading MAC slots and conntrack index lines.
    for (std::size_t i = 0; i < n; ++i) {
      Decoded& d = dec_[i];
      why_[i] = decode_frame(f[i].bytes, d);
      lk_[i].valid = false;
      if (why_[i] != DropReason::None) continue;
      mac_->prefetch(d.src_mac, d.vlan);
      if (!d.dst_mac.is_multicast()) mac_->prefetch(d.dst_mac, d.vlan);
      if (track) ct_->prepare(d, lk_[i]);
    }
    // Stage 2, a fixed distance ahead of stage 3: the index lines have had the batch's
    // decoding to arrive; the entries get kEntryAhead frames of work to arrive (loading
    // all of them at once had the first frames wait for theirs).
    std::size_t ahead = 0;
    if (track)
      for (; ahead < std::min(n, kEntryAhead); ++ahead) ct_->prefetch_entry(lk_[ahead]);
    // Stage 3: the work with effects, in arrival order.
    if (track) ct_->sweep_ahead(f[0].ts_ns, uint32_t(n));
    for (std::size_t i = 0; i < n; ++i) {
      if (track && ahead < n) ct_->prefetch_entry(lk_[ahead++]);
      if (express_on && why_[i] == DropReason::None && express(f[i], dec_[i], lk_[i], out))
        continue;
      process_one(f[i], dec_[i], why_[i], &lk_[i], out);
    }
  }
  flush_verdict_counts();
}

[[gnu::always_inline]] inline bool Engine::express(const FrameIn& f, const Decoded& d,
                                                   const CtLookup& lk,
                                                   std::vector<FrameOutcome>& out) {
  // The checks, in the general path's order; nothing changes until they all pass.
  // (Learning the source first could change the destination's port only when they are
  // the same station, which the general path then drops as SamePort.)
  if (!lk.valid || d.dst_mac.is_multicast() || d.src_mac.as_u64() == d.dst_mac.as_u64() ||
      l2_admission(d.src_mac, d.dst_mac) != DropReason::None)
    return false;
  const PortId in = f.in;
  const PortId p = mac_->lookup(d.dst_mac, d.vlan, f.ts_ns);
  if (p == kNoPort || p == in) return false;
  const PortMask egress = PortMask{1} << p;
  if (host_ports_ & ((PortMask{1} << in) | egress)) return false;
  if (d.l3 == L3Kind::Ipv4 &&
      !ipv4_header_checksum_ok(f.bytes.subspan(d.l3_off, d.l4_off - d.l3_off)))
    return false;
  CtExpress x;
  if (!ct_->express_peek(d, f.bytes, lk, f.ts_ns, f.csum_partial, x)) return false;
  const uint32_t rec = cached_record(ct_->verdict_cache(x.entry, x.reply), d, in, p,
                                     CtState::Established);
  if (rec == kNoCtEntry) return false;

  // The effects, as process_one() -> judge() -> judge_cached() has them.
  FrameOutcome& o = start_outcome(f, out);
  count_input(f);
  ++counters_.express_frames;
  mac_->learn(d.src_mac, d.vlan, in, f.ts_ns);
  const CtResult ct = ct_->express_track(d, f.bytes, f.ts_ns, x);
  if (ct.state != CtState::Established) {
    judge_tracked(d, in, egress, ct, o, false);  // the window check made it INVALID
  } else {
    count_cached(rec, d);
    const PolicyDecision& dec = records_[rec].dec;
    o.ct = CtState::Established;
    o.n_per = 1;
    set_verdict(o.per[0], p, dec);
    if (dec.accept) o.to = egress;
  }
  record(o);
  return true;
}

}  // namespace tapwall
