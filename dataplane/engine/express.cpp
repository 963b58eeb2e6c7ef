// The engine's batch loop and its express path (see include/tapwall/engine.hpp).
// Why the batch is staged: on a large table every frame's index bucket and entry are cache
// misses (~200 ns each here); decoding and hashing the whole batch first, then prefetching
// buckets, then entries, lets those misses overlap instead of being paid one after another.
// The stages before the last only read the frames and hint memory, so the per-frame work
// (learning, tracking, judging) still runs in arrival order with exactly its old effects.
// Why an express path: an established flow's frame whose decision is cached took ~1400
// instructions through the general path's stages, which each re-derive what the frame is
// and re-check what cannot apply to it. A frame of the common shape (express_frame.hpp) is
// read from its bytes instead of decoded; the express path then checks, with nothing
// changed yet, that the general path would take its plainest course for it (admitted, one
// known unicast egress port, neither end the host, checksums right, conntrack's plainest
// course (Conntrack::express_peek), a verdict-cache hit), then has the same effects in the
// same order in one pass. Any failed check leaves the frame to the general path untouched.
// Invariant: for every frame and every engine state, the express path's outcome and effects
// equal the general path's (tests/engine/express_path_test.cpp compares them).
#include <algorithm>
#include <bit>

#include "conntrack_impl.hpp"
#include "engine_inline.hpp"
#include "express_frame.hpp"
#include "tapwall/checksum.hpp"
#include "tapwall/engine.hpp"

namespace tapwall {

using namespace engine_detail;

namespace {

// Frames between an entry's prefetch and its use in stage 3 (each ~50-100 ns of work here,
// against ~200 ns of memory latency).
constexpr std::size_t kEntryAhead = 6;
// Stage 1 frames between a frame's index-line prefetch and reading that line to prefetch
// its entry (stage 1 is ~15-25 ns a frame). Why stage 1 starts the entries of a long
// batch's first frames: left to stage 3, the first frames of every batch waited for theirs
// (~10% at 100k flows, best of 32 runs each).
constexpr std::size_t kBucketLead = 16;

}  // namespace

void Engine::process(std::span<const FrameIn> batch, std::vector<FrameOutcome>& out) {
  // Fragments handed out by the previous call may be forgotten now: the caller is done.
  for (uint32_t dg : pending_release_) defrag_->release(dg);
  pending_release_.clear();
  const bool track = cfg_.conntrack && cfg_.filter;
  const bool express_on = track && cfg_.express && cfg_.verdict_cache;
  // Read once a call: whether verdicts are keyed by a length class (-m length rules).
  const bool by_length = !length_cuts_.empty();
  for (std::size_t base = 0; base < batch.size(); base += kPipeline) {
    const std::size_t n = std::min(kPipeline, batch.size() - base);
    const FrameIn* f = batch.data() + base;
    // Stage 1: read (a frame of the express path's shape) or decode (any other), hash;
    // start loading conntrack index lines, and the entries of frames kBucketLead back.
    // (Not MAC slots: a bridge's stations are few and their slots stay cached. The MAC
    // prefetches here had been deleted by gcc all along; once they ran, they cost 25
    // instructions a frame and showed no gain, best of 32 runs at 10k and 100k flows.)
    for (std::size_t i = 0; i < n; ++i) {
      if (track && i >= kBucketLead) ct_->prefetch_entry(lk_[i - kBucketLead]);
      express_shape_[i] = express_on && parse_express(f[i].bytes, xf_[i]);
      if (express_shape_[i]) {
        why_[i] = DropReason::None;
        ct_->prepare(xf_[i].ct.key, lk_[i]);
        continue;
      }
      Decoded& d = dec_[i];
      why_[i] = decode_frame(f[i].bytes, d);
      lk_[i].valid = false;
      if (why_[i] != DropReason::None) continue;
      if (track) ct_->prepare(d, lk_[i]);
    }
    // Stage 2, for a batch too short for stage 1 to have started any entry: the index
    // lines have had the batch's decoding to arrive; the entries get kEntryAhead frames of
    // work to arrive (loading all of them at once had the first frames wait for theirs).
    std::size_t ahead = n > kBucketLead ? n - kBucketLead : 0;
    if (track)
      for (; ahead < std::min(n, kEntryAhead); ++ahead) ct_->prefetch_entry(lk_[ahead]);
    // Stage 3: the work with effects, in arrival order.
    if (track) ct_->sweep_ahead(f[0].ts_ns, uint32_t(n));
    for (std::size_t i = 0; i < n; ++i) {
      if (track && ahead < n && ahead <= i + kEntryAhead) ct_->prefetch_entry(lk_[ahead++]);
      if (express_shape_[i]) {
        if (express(f[i], xf_[i], lk_[i], dec_[i], by_length, out)) continue;
        fill_decoded(xf_[i], dec_[i]);  // the general path needs it all
        why_[i] = DropReason::None;
      }
      process_one(f[i], dec_[i], why_[i], &lk_[i], out);
    }
  }
  flush_verdict_counts();
}

[[gnu::always_inline]] inline bool Engine::express(const FrameIn& f, ExpressFrame& x,
                                                   const CtLookup& lk, Decoded& scratch,
                                                   bool by_length,
                                                   std::vector<FrameOutcome>& out) {
  // The checks; nothing changes until they all pass.
  // L2 admission, for a unicast destination: the source is neither a group nor zero.
  // (Learning the source first could change the destination's port only when they are
  // the same station, which the general path then drops as SamePort.)
  MacTable& mac = *mac_;  // loaded once: the calls below could (for the compiler) change mac_
  Conntrack& conntrack = *ct_;
  const uint64_t src = x.src_key, dst = x.dst_key;  // = mac_key() of each
  // A key's bit 0 is its address's group bit (the first byte's lowest bit, as the key
  // holds the bytes in memory order on a little-endian machine): both at once.
  static_assert(std::endian::native == std::endian::little);
  const PortId in = f.in;
  MacMemo& memo = mac_memo_[in];
  // A memo is only made once every MAC check below has passed for the same addresses and
  // ports, so a hit skips them too.
  const bool memo_hit = memo.src == src && memo.dst == dst && memo.ts_ns == f.ts_ns &&
                        memo.version == mac.version();
  PortId p = memo.out;
  if (!memo_hit) {
    if (((src | dst) & 1) || src == 0 || src == dst) return false;
    p = mac.lookup_key(dst, f.ts_ns);
    if (p == kNoPort || p == in) return false;
    if (host_ports_ & ((PortMask{1} << in) | (PortMask{1} << p))) return false;
  }
  const PortMask egress = PortMask{1} << p;
  // (The checks are pure, so their order is free: the ones new flows fail come first,
  // the checksums, which the general path computes again, last.)
  if (!conntrack.express_peek(lk, f.ts_ns, x.ct)) return false;
  const uint32_t key = x.ct.tcp.flags | (by_length ? length_class(x.ct.ip_len) << 8 : 0);
  const uint32_t rec = cached_record(*x.ct.vc, src, key, in, p, CtState::Established);
  if (rec == kNoCtEntry) return false;
  if (!express_checksums_ok(x, cfg_.ct.checksum && !f.csum_partial)) return false;

  // The effects, as process_one() -> judge() -> judge_cached() has them.
  FrameOutcome& o = start_outcome(f, out);
  count_input(f);
  ++counters_.express_frames;
  // Only a refresh keeps every other station's entry as the lookup above saw it (src !=
  // dst), so only then is the pair's outcome known to repeat.
  if (!memo_hit && mac.learn_key(src, in, f.ts_ns) == LearnResult::Refreshed)
    memo = MacMemo{src, dst, f.ts_ns, mac.version(), p};
  const CtResult ct = conntrack.express_track(f.ts_ns, x.ct);
  if (ct.state != CtState::Established) {  // the window check made it INVALID: FORWARD
    fill_decoded(x, scratch);
    judge_tracked(scratch, in, egress, ct, f.ts_ns, o, false);
    record(o);
    return true;
  }
  count_cached(rec, x.ct.ip_len);
  const PolicyDecision& dec = records_[rec].dec;
  o.ct = CtState::Established;
  o.n_per = 1;
  set_verdict(o.per[0], p, dec);
  // record(o), for its one verdict.
  if (dec.accept) {
    o.to = egress;
    counters_.forwarded++;
    counters_.tx_frames[p]++;
    counters_.tx_bytes[p] += f.bytes.size();
  } else {
    counters_.dropped++;
    counters_.by_reason[static_cast<std::size_t>(dec.reason)]++;
  }
  return true;
}

}  // namespace tapwall
