// Worker loop; see worker.hpp.
#include "worker.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>

namespace tapwall {

namespace {

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// Traffic is dense (BridgeOptions::rx_coalesce_ns) when frames came faster than one per
// this gap: 100k frames/s, where a wake-up per frame (a few us here) starts to cost a core.
constexpr uint64_t kDenseGapNs = 10000;

void pause_ns(uint32_t ns) {
  const timespec ts{0, long(ns)};
  (void)::clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
}

// Cookie of a frame in a batch: which round, which slot of the batch. Frames released
// later (held fragments) carry an older round and so no offload metadata, which fragments
// never have.
constexpr uint64_t make_cookie(uint64_t round, uint32_t slot) { return (round << 24) | slot; }
constexpr uint64_t kSlotMask = (uint64_t{1} << 24) - 1;

// The reason of a frame's first drop, or None when every copy was delivered.
DropReason first_drop(const FrameOutcome& o) {
  if (o.reason != DropReason::None) return o.reason;
  for (uint8_t i = 0; i < o.n_per; ++i)
    if (!o.per[i].accept) return o.per[i].reason;
  return DropReason::None;
}

// Default handoff ring size: 4 MiB per pair for a few workers (a burst of 64 super-frames
// of 64 KiB fits), less per pair when there are many pairs; never below 1 MiB.
std::size_t handoff_bytes(const BridgeOptions& o, uint32_t n) {
  if (o.handoff_ring_bytes) return o.handoff_ring_bytes;
  const std::size_t per_worker = 16u << 20;
  return std::clamp<std::size_t>(per_worker / std::max<uint32_t>(1, n - 1), 1u << 20, 4u << 20);
}

void add_counters(EngineCounters& a, const EngineCounters& b) {
  a.frames += b.frames;
  a.bytes += b.bytes;
  a.forwarded += b.forwarded;
  a.dropped += b.dropped;
  for (std::size_t i = 0; i < a.by_reason.size(); ++i) a.by_reason[i] += b.by_reason[i];
  for (std::size_t i = 0; i < kMaxPorts; ++i) {
    a.rx_frames[i] += b.rx_frames[i];
    a.rx_bytes[i] += b.rx_bytes[i];
    a.tx_frames[i] += b.tx_frames[i];
    a.tx_bytes[i] += b.tx_bytes[i];
  }
  a.verdict_cache_hits += b.verdict_cache_hits;
  a.express_frames += b.express_frames;
}

void add_ports(PortStats& a, const PortStats& b) {
  a.rx_frames += b.rx_frames;
  a.rx_bytes += b.rx_bytes;
  a.tx_frames += b.tx_frames;
  a.tx_bytes += b.tx_bytes;
  a.rx_ring_drops += b.rx_ring_drops;
  a.rx_truncated += b.rx_truncated;
  a.tx_drops += b.tx_drops;
  a.tx_errors += b.tx_errors;
  a.tx_mtu_refused += b.tx_mtu_refused;
  a.tx_segmented += b.tx_segmented;
  a.tx_segments += b.tx_segments;
  a.csum_completed += b.csum_completed;
}

// The copy of `o` toward `p` was not sent: its verdict for `p` becomes the drop. A copy
// that was never judged (ARP, a flood of a non-IP frame) gets a verdict here, kept in
// port order, so that the drop record names the port that refused it.
void lose_copy(FrameOutcome& o, PortId p, DropReason why) {
  uint8_t i = 0;
  while (i < o.n_per && o.per[i].port < p) ++i;
  if (i == o.n_per || o.per[i].port != p) {
    for (uint8_t k = o.n_per; k > i; --k) o.per[k] = o.per[k - 1];  // n_per < kMaxPorts: p is new
    o.per[i] = PortVerdict{p, false, kNoRule, why};
    ++o.n_per;
    return;
  }
  o.per[i].accept = false;
  o.per[i].reason = why;
}

// Reads (and so clears) the pending error of each socket poll() flagged POLLERR. The
// kernel sets ENETDOWN on a packet socket whose device goes down (or was down when the
// socket was bound), and poll() reports POLLERR until something reads it: without this an
// idle worker spun at 100% CPU until a frame happened to be sent on that port, and that
// send failed with the stale error.
void clear_socket_errors(const pollfd* fds, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (!(fds[i].revents & POLLERR)) continue;
    int err = 0;
    socklen_t len = sizeof err;
    (void)::getsockopt(fds[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
  }
}

}  // namespace

WorkerShared::WorkerShared(uint32_t workers, PolicySlot& s, DropRecorder* d, BridgeOptions o)
    : n(workers), slot(s), drops(d), opts(o) {
  if (n <= 1) return;
  handoff.resize(std::size_t(n) * n);
  for (uint32_t f = 0; f < n; ++f)
    for (uint32_t t = 0; t < n; ++t)
      if (f != t) handoff[f * n + t] = std::make_unique<HandoffRing>(handoff_bytes(opts, n));
  macs = std::make_unique<MacSyncMesh>(n);
  for (uint32_t i = 0; i < n; ++i) {
    auto w = std::make_unique<Wake>();
    w->fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    wakes.push_back(std::move(w));
  }
}

WorkerShared::~WorkerShared() {
  for (auto& w : wakes)
    if (w->fd >= 0) ::close(w->fd);
}

void WorkerShared::wake(uint32_t to) {
  // Pairs with the fence in Worker::wait_for_work(): either the sleeper sees our records
  // before it sleeps, or we see it sleeping and wake it.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  Wake& w = *wakes[to];
  if (w.sleeping.load(std::memory_order_relaxed)) {
    const uint64_t one = 1;
    (void)!::write(w.fd, &one, sizeof one);
  }
}

Worker::Worker(uint32_t id, PortList ports, const EngineConfig& cfg, WorkerShared& shared)
    : id_(id), sh_(shared), multi_(shared.n > 1), ports_(std::move(ports)) {
  auto policy = sh_.slot.current();
  generation_ = policy->generation();
  engine_ = std::make_unique<Engine>(cfg, policy);
  if (sh_.drops) sh_.drops->note_policy(policy, id_);
  if (multi_) announcer_ = std::make_unique<MacAnnouncer>(id_, *sh_.macs, cfg.mac);
  const std::size_t n = ports_.size();
  const std::size_t burst = sh_.opts.burst;
  rx_.assign(n, std::vector<RxFrame>(burst));
  // Own frames, plus as many handed in per round.
  const std::size_t slots = n * burst * (multi_ ? 2 : 1);
  batch_.resize(slots);
  batch_offload_.resize(slots);
  if (multi_) batch_learn_.resize(slots);
  out_.reserve(slots * 2);
  tx_.assign(n, {});
  tx_owner_.assign(n, {});
  for (auto& t : tx_) t.reserve(slots * 2);
  for (auto& t : tx_owner_) t.reserve(slots * 2);
  tx_status_.resize(slots * 2);
  ring_read_.assign(sh_.n, false);
  for (std::size_t i = 0; i < trace_ring_.capacity(); ++i) {  // buffers made once, up front
    TraceRecord* r = trace_ring_.claim();
    r->data = std::make_unique<uint8_t[]>(kTraceSnap);
    trace_ring_.publish();
    trace_ring_.front();
    trace_ring_.pop();
  }
  stats_.ports.resize(n);
  drops_by_port_.resize(n);
  stats_.drops_by_port.resize(n);  // readers index it by port before the first publish
}

Worker::~Worker() = default;

void Worker::run(const std::atomic<bool>& stop) {
  running_ = true;
  // The coalescing pause is tens of microseconds: the default 50 us timer slack would
  // double it.
  if (sh_.opts.rx_coalesce_ns != 0) (void)::prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  std::vector<pollfd> fds(ports_.size());
  for (std::size_t i = 0; i < ports_.size(); ++i) fds[i] = {ports_[i]->fd(), POLLIN, 0};
  last_expire_ = monotonic_ns();
  bool busy = false;
  while (!stop.load(std::memory_order_relaxed)) {
    // Calls first, then the hand-overs: a control request that published a policy or a
    // filter and then synced with a call is in force before the next round (sync()).
    if (call_pending_.load(std::memory_order_acquire)) serve_calls();
    pick_up_changes();
    // Others' stations also while idle, so their rings never fill up behind a quiet worker.
    if (multi_) announcer_->apply(*engine_);
    // While frames keep coming, read the rings again without asking the kernel first: a
    // poll() per round is a syscall the busy bridge does not need. Idle, poll() sleeps.
    int ready = busy ? 1
                : multi_ ? int(wait_for_work())
                         : ::poll(fds.data(), fds.size(), sh_.opts.poll_timeout_ms);
    if (!busy && !multi_ && ready > 0) clear_socket_errors(fds.data(), fds.size());
    uint64_t now = monotonic_ns();
    busy = false;
    if (ready > 0) {
      pick_up_changes();  // the frames that woke us are judged by what is current now
      const RoundResult got = round(now);
      busy = got.frames > 0;
      if (busy && !got.full && sh_.opts.rx_coalesce_ns != 0 &&
          got.frames * kDenseGapNs >= now - last_round_ns_)
        pause_ns(sh_.opts.rx_coalesce_ns);
      last_round_ns_ = now;
    }
    if (now - last_expire_ >= sh_.opts.expire_every_ns) {
      out_.clear();
      engine_->expire(now, out_);
      for (const auto& o : out_) {  // expired fragments
        drops_by_port_[o.in][static_cast<std::size_t>(o.reason)]++;
        if (sh_.drops) sh_.drops->submit(o, id_);
      }
      last_expire_ = now;
    }
    if (ready <= 0 || now - last_publish_ >= kPublishEveryNs) {  // counters stay fresh under load
      publish_stats();
      last_publish_ = now;
    }
  }
  running_ = false;
  serve_calls();  // nobody waits forever on a stopped worker
  publish_stats();
}

bool Worker::wait_for_work() {
  auto rings_pending = [&] {
    for (uint32_t f = 0; f < sh_.n; ++f)
      if (f != id_ && !sh_.ring(f, id_).empty()) return true;
    return false;
  };
  WorkerShared::Wake& w = *sh_.wakes[id_];
  w.sleeping.store(true, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with WorkerShared::wake()
  if (rings_pending()) {
    w.sleeping.store(false, std::memory_order_relaxed);
    return true;
  }
  pollfd fds[kMaxPorts + 1];
  const std::size_t n = ports_.size();
  for (std::size_t i = 0; i < n; ++i) fds[i] = {ports_[i]->fd(), POLLIN, 0};
  fds[n] = {w.fd, POLLIN, 0};
  const int r = ::poll(fds, n + 1, sh_.opts.poll_timeout_ms);
  w.sleeping.store(false, std::memory_order_relaxed);
  if (r > 0) clear_socket_errors(fds, n);
  if (r > 0 && (fds[n].revents & POLLIN)) {
    uint64_t v;
    (void)!::read(w.fd, &v, sizeof v);
  }
  return r > 0;
}

void Worker::hand_over(uint32_t owner, const RxFrame& r, PortId in, uint64_t ts, const SteerKey& k) {
  HandoffMeta m;
  m.ts_ns = ts;
  m.offload = r.offload;
  m.in = in;
  m.csum_partial = r.csum_partial;
  m.learnable = k.learnable;
  if (sh_.ring(id_, owner).push(m, r.bytes)) {
    ++ws_.handed_out;
    return;
  }
  // Never silently lost: a drop with its reason, counted and recorded like any other.
  FrameOutcome o;
  o.in = in;
  o.ts_ns = ts;
  o.bytes = r.bytes;
  o.reason = DropReason::WorkerHandoffFull;
  ++ws_.handoff_full;
  extra_.frames++;
  extra_.bytes += r.bytes.size();
  extra_.dropped++;
  extra_.by_reason[static_cast<std::size_t>(DropReason::WorkerHandoffFull)]++;
  if (in < kMaxPorts) {
    extra_.rx_frames[in]++;
    extra_.rx_bytes[in] += r.bytes.size();
  }
  count_drop(o, o.reason);
}

std::size_t Worker::take_handed_in(std::size_t n) {
  for (uint32_t f = 0; f < sh_.n; ++f) {
    if (f == id_) continue;
    HandoffRing& ring = sh_.ring(f, id_);
    HandoffView v;
    while (n < batch_.size() && ring.next(v)) {
      ring_read_[f] = true;
      FrameIn& fi = batch_[n];
      fi.bytes = v.bytes;
      fi.in = v.meta->in;
      fi.ts_ns = v.meta->ts_ns;
      fi.cookie = make_cookie(batch_seq_, uint32_t(n));
      fi.csum_partial = v.meta->csum_partial;
      batch_offload_[n] = v.meta->offload.any() ? &v.meta->offload : nullptr;
      LearnNote& ln = batch_learn_[n];
      ln.learnable = v.meta->learnable;
      if (ln.learnable) ln.src = MacAddr::from_bytes(v.bytes.data() + 6);
      ++ws_.handed_in;
      ++n;
    }
  }
  return n;
}

Worker::RoundResult Worker::round(uint64_t now) {
  ++batch_seq_;
  if (multi_) announcer_->apply(*engine_);  // stations announced while we polled
  std::size_t n = 0, handed = 0;
  bool full = false;
  for (std::size_t p = 0; p < ports_.size(); ++p) {
    std::size_t got = ports_[p]->rx_burst(rx_[p]);
    full |= got == rx_[p].size();
    for (std::size_t k = 0; k < got; ++k) {
      const RxFrame& r = rx_[p][k];
      const uint64_t ts = r.ts_ns ? r.ts_ns : now;
      if (multi_) {
        const SteerKey key = steer_key(r.bytes, steer_scratch_);
        const uint32_t owner = owner_of(key, sh_.n, id_);
        if (owner != id_) {
          hand_over(owner, r, PortId(p), ts, key);
          ++handed;
          continue;
        }
        batch_learn_[n] = {key.learnable, key.src_mac};
      }
      FrameIn& f = batch_[n];
      f.bytes = r.bytes;
      f.in = static_cast<PortId>(p);
      f.ts_ns = ts;
      f.cookie = make_cookie(batch_seq_, uint32_t(n));
      f.csum_partial = r.csum_partial;
      batch_offload_[n] = r.offload.any() ? &r.offload : nullptr;
      ++n;
    }
  }
  if (multi_) {
    for (uint32_t to = 0; to < sh_.n; ++to)
      if (to != id_ && sh_.ring(id_, to).publish()) sh_.wake(to);
    n = take_handed_in(n);
  }
  if (n > 0) {
    out_.clear();
    engine_->process({batch_.data(), n}, out_);
    ws_.frames += n;
    transmit(out_, batch_seq_);
    if (multi_)
      for (std::size_t i = 0; i < n; ++i)
        if (batch_learn_[i].learnable)
          announcer_->learned(batch_learn_[i].src, batch_[i].in, batch_[i].ts_ns);
  }
  for (auto& port : ports_) port->rx_done();
  if (multi_)
    for (uint32_t f = 0; f < sh_.n; ++f)
      if (ring_read_[f]) {
        sh_.ring(f, id_).release();
        ring_read_[f] = false;
      }
  return {n + handed, full};
}

void Worker::transmit(std::vector<FrameOutcome>& out, uint64_t batch_seq) {
  for (std::size_t p = 0; p < ports_.size(); ++p) {
    tx_[p].clear();
    tx_owner_[p].clear();
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    const FrameOutcome& o = out[i];
    const OffloadInfo* off = nullptr;
    if ((o.cookie >> 24) == batch_seq) off = batch_offload_[o.cookie & kSlotMask];
    for (PortMask m = o.to; m != 0; m &= m - 1) {
      int p = std::countr_zero(m);
      tx_[p].push_back({o.bytes, off});
      tx_owner_[p].push_back(i);
    }
  }
  for (std::size_t p = 0; p < ports_.size(); ++p) {
    if (tx_[p].empty()) continue;
    std::span<TxStatus> status(tx_status_.data(), tx_[p].size());
    std::size_t sent = ports_[p]->tx_burst(tx_[p], status);
    if (sent == tx_[p].size()) continue;
    for (std::size_t k = 0; k < tx_[p].size(); ++k) {
      if (status[k] == TxStatus::Sent) continue;
      // The copy toward p is lost after all: turn it into a drop the recorder explains.
      FrameOutcome& o = out[tx_owner_[p][k]];
      const DropReason why =
          status[k] == TxStatus::MtuExceeded ? DropReason::MtuExceeded : DropReason::TxError;
      o.to &= ~(PortMask{1} << p);
      lose_copy(o, PortId(p), why);
      // Per lost copy, as the engine counts its own drops (what `ctl show drops` prints).
      extra_.by_reason[static_cast<std::size_t>(why)]++;
    }
  }
  if (trace_ || dump_) tap_outcomes(out);
  for (const auto& o : out) {
    DropReason r = first_drop(o);
    if (r == DropReason::None) continue;
    count_drop(o, r);
  }
}

void Worker::count_drop(const FrameOutcome& o, DropReason r) {
  drops_by_port_[o.in][static_cast<std::size_t>(r)]++;
  if (sh_.drops) sh_.drops->submit(o, id_);
}

void Worker::call(const std::function<void(const Engine&, PortList&)>& fn) {
  std::unique_lock<std::mutex> lock(call_mu_);
  if (!running_.load()) {
    fn(*engine_, ports_);
    return;
  }
  call_fn_ = &fn;
  call_done_ = false;
  call_pending_.store(true, std::memory_order_release);
  call_cv_.wait(lock, [&] { return call_done_; });
}

void Worker::serve_calls() {
  std::lock_guard<std::mutex> lock(call_mu_);
  if (!call_pending_.load()) return;
  if (call_fn_) (*call_fn_)(*engine_, ports_);
  call_fn_ = nullptr;
  call_done_ = true;
  call_pending_.store(false, std::memory_order_release);
  call_cv_.notify_all();
}

void Worker::publish_stats() {
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_.engine = engine_->counters();
  add_counters(stats_.engine, extra_);  // drops before any engine saw the frame
  for (std::size_t p = 0; p < ports_.size(); ++p) {
    stats_.ports[p] = ports_[p]->stats();  // ring drops are accumulated by the port
  }
  stats_.policy_generation = generation_;
  stats_.drops_by_port = drops_by_port_;
  WorkerStats w = ws_;
  if (announcer_) w.mac = announcer_->stats();
  const Conntrack& ct = engine_->conntrack();
  w.ct_entries = ct.size();
  w.ct_capacity = ct.capacity();
  w.ct = ct.stats();
  stats_.workers.assign(1, w);
}

void Worker::stats_into(BridgeStats& sum) const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  const bool first = sum.workers.empty();
  if (first) {
    sum.engine = stats_.engine;
    sum.ports = stats_.ports;
    sum.drops_by_port = stats_.drops_by_port;
    sum.policy_generation = stats_.policy_generation;
  } else {
    add_counters(sum.engine, stats_.engine);
    for (std::size_t p = 0; p < sum.ports.size() && p < stats_.ports.size(); ++p)
      add_ports(sum.ports[p], stats_.ports[p]);
    for (std::size_t p = 0; p < sum.drops_by_port.size() && p < stats_.drops_by_port.size(); ++p)
      for (std::size_t r = 0; r < kDropReasonCount; ++r) sum.drops_by_port[p][r] += stats_.drops_by_port[p][r];
    sum.policy_generation = std::min(sum.policy_generation, stats_.policy_generation);
  }
  sum.workers.push_back(stats_.workers.empty() ? WorkerStats{} : stats_.workers[0]);
}

void Worker::pick_up_changes() {
  if (sh_.slot.generation() != generation_) {  // a reload: judge later packets by the new rules
    auto p = sh_.slot.current();
    generation_ = p->generation();
    if (sh_.drops) sh_.drops->note_policy(p, id_);
    engine_->set_policy(std::move(p));
  }
  if (sh_.filter_gen.load(std::memory_order_acquire) != filter_seen_) refresh_filters();
}

void Worker::refresh_filters() {
  std::lock_guard<std::mutex> lock(sh_.filter_mu);
  trace_ = sh_.trace_next;
  dump_ = sh_.dump_next;
  filter_seen_ = sh_.filter_gen.load(std::memory_order_acquire);
}

void Worker::tap_outcomes(const std::vector<FrameOutcome>& out) {
  for (const auto& o : out) {
    if (trace_ && trace_->matches(o.bytes)) {
      if (TraceRecord* r = trace_ring_.claim()) {
        r->outcome = o;
        r->len = uint32_t(std::min<std::size_t>(o.bytes.size(), kTraceSnap));
        std::copy_n(o.bytes.data(), r->len, r->data.get());
        trace_ring_.publish();
      } else {
        trace_overflow_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (dump_ && sh_.drops && first_drop(o) == DropReason::None && dump_->matches(o.bytes))
      sh_.drops->submit(o, id_);  // drops are submitted below, accepted ones only here
  }
}

std::size_t Worker::drain_trace(const std::function<void(const FrameOutcome&)>& fn) {
  std::size_t n = 0;
  while (TraceRecord* r = trace_ring_.front()) {
    FrameOutcome o = r->outcome;
    o.bytes = {r->data.get(), r->len};
    fn(o);
    trace_ring_.pop();
    ++n;
  }
  return n;
}

}  // namespace tapwall
