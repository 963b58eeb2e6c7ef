// Bridge worker loop; see include/tapwall/bridge.hpp.
// One round: poll, read a burst from every readable port, judge all of it in one engine
// call (so frames keep their arrival order per port and conntrack sees both directions in
// one place), transmit per egress port in one burst each, record drops, release RX.
#include "tapwall/bridge.hpp"

#include <poll.h>
#include <time.h>

#include <bit>

namespace tapwall {

namespace {

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// Cookie of a received frame: which round, which port, which slot of that port's burst.
// Frames released later (held fragments) carry an older round and so no offload metadata,
// which fragments never have.
constexpr uint64_t make_cookie(uint64_t round, PortId port, uint32_t slot) {
  return (round << 24) | (uint64_t(port) << 16) | slot;
}

// The reason of a frame's first drop, or None when every copy was delivered.
DropReason first_drop(const FrameOutcome& o) {
  if (o.reason != DropReason::None) return o.reason;
  for (uint8_t i = 0; i < o.n_per; ++i)
    if (!o.per[i].accept) return o.per[i].reason;
  return DropReason::None;
}

}  // namespace

Bridge::Bridge(PortList ports, EngineConfig cfg, PolicySlot& slot, DropRecorder* drops,
               BridgeOptions opts)
    : ports_(std::move(ports)), cfg_(std::move(cfg)), slot_(slot), drops_(drops), opts_(opts) {
  auto policy = slot_.current();
  generation_ = policy->generation();
  engine_ = std::make_unique<Engine>(cfg_, policy);
  if (drops_) drops_->note_policy(policy);
  const std::size_t n = ports_.size();
  rx_.assign(n, std::vector<RxFrame>(opts_.burst));
  batch_.resize(n * opts_.burst);
  batch_offload_.resize(n * opts_.burst);
  out_.reserve(n * opts_.burst * 2);
  tx_.assign(n, {});
  tx_owner_.assign(n, {});
  for (auto& t : tx_) t.reserve(n * opts_.burst * 2);
  for (auto& t : tx_owner_) t.reserve(n * opts_.burst * 2);
  tx_status_.resize(n * opts_.burst * 2);
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

Bridge::~Bridge() = default;

void Bridge::run(const std::atomic<bool>& stop) {
  running_ = true;
  std::vector<pollfd> fds(ports_.size());
  for (std::size_t i = 0; i < ports_.size(); ++i) fds[i] = {ports_[i]->fd(), POLLIN, 0};
  last_expire_ = monotonic_ns();
  bool busy = false;
  while (!stop.load(std::memory_order_relaxed)) {
    // Calls first, then the hand-overs: a control request that published a policy or a
    // filter and then synced with a call is in force before the next round (sync()).
    if (call_pending_.load(std::memory_order_acquire)) serve_calls();
    pick_up_changes();
    // While frames keep coming, read the rings again without asking the kernel first: a
    // poll() per round is a syscall the busy bridge does not need. Idle, poll() sleeps.
    int ready = busy ? 1 : ::poll(fds.data(), fds.size(), opts_.poll_timeout_ms);
    uint64_t now = monotonic_ns();
    busy = false;
    if (ready > 0) {
      pick_up_changes();  // the frames that woke us are judged by what is current now
      busy = round(now) > 0;
    }
    if (now - last_expire_ >= opts_.expire_every_ns) {
      out_.clear();
      engine_->expire(now, out_);
      for (const auto& o : out_) {  // expired fragments
        drops_by_port_[o.in][static_cast<std::size_t>(o.reason)]++;
        if (drops_) drops_->submit(o);
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

std::size_t Bridge::round(uint64_t now) {
  ++batch_seq_;
  std::size_t n = 0;
  for (std::size_t p = 0; p < ports_.size(); ++p) {
    std::size_t got = ports_[p]->rx_burst(rx_[p]);
    for (std::size_t k = 0; k < got; ++k) {
      const RxFrame& r = rx_[p][k];
      FrameIn& f = batch_[n];
      f.bytes = r.bytes;
      f.in = static_cast<PortId>(p);
      f.ts_ns = r.ts_ns ? r.ts_ns : now;
      f.cookie = make_cookie(batch_seq_, f.in, uint32_t(k));
      f.csum_partial = r.csum_partial;
      batch_offload_[p * opts_.burst + k] = r.offload.any() ? &r.offload : nullptr;
      ++n;
    }
  }
  if (n > 0) {
    out_.clear();
    engine_->process({batch_.data(), n}, out_);
    transmit(out_, batch_seq_);
  }
  for (auto& port : ports_) port->rx_done();
  return n;
}

void Bridge::transmit(std::vector<FrameOutcome>& out, uint64_t batch_seq) {
  for (std::size_t p = 0; p < ports_.size(); ++p) {
    tx_[p].clear();
    tx_owner_[p].clear();
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    const FrameOutcome& o = out[i];
    const OffloadInfo* off = nullptr;
    if ((o.cookie >> 24) == batch_seq) {
      PortId in = PortId((o.cookie >> 16) & 0xff);
      uint32_t slot = uint32_t(o.cookie & 0xffff);
      off = batch_offload_[in * opts_.burst + slot];
    }
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
      o.to &= ~(PortMask{1} << p);
      for (uint8_t v = 0; v < o.n_per; ++v) {
        if (o.per[v].port != p) continue;
        o.per[v].accept = false;
        o.per[v].reason = status[k] == TxStatus::MtuExceeded ? DropReason::MtuExceeded : DropReason::TxError;
      }
      if (o.n_per == 0) o.reason = status[k] == TxStatus::MtuExceeded ? DropReason::MtuExceeded : DropReason::TxError;
    }
  }
  if (trace_ || dump_) tap_outcomes(out);
  for (const auto& o : out) {
    DropReason r = first_drop(o);
    if (r == DropReason::None) continue;
    drops_by_port_[o.in][static_cast<std::size_t>(r)]++;
    if (drops_) drops_->submit(o);
  }
}

void Bridge::call(const std::function<void(const Engine&, PortList&)>& fn) {
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

void Bridge::serve_calls() {
  std::lock_guard<std::mutex> lock(call_mu_);
  if (!call_pending_.load()) return;
  if (call_fn_) (*call_fn_)(*engine_, ports_);
  call_fn_ = nullptr;
  call_done_ = true;
  call_pending_.store(false, std::memory_order_release);
  call_cv_.notify_all();
}

void Bridge::publish_stats() {
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_.engine = engine_->counters();
  for (std::size_t p = 0; p < ports_.size(); ++p) {
    stats_.ports[p] = ports_[p]->stats();  // ring drops are accumulated by the port
  }
  stats_.policy_generation = generation_;
  stats_.drops_by_port = drops_by_port_;
}

void Bridge::pick_up_changes() {
  if (slot_.generation() != generation_) {  // a reload: judge later packets by the new rules
    auto p = slot_.current();
    generation_ = p->generation();
    if (drops_) drops_->note_policy(p);
    engine_->set_policy(std::move(p));
  }
  if (filter_gen_.load(std::memory_order_acquire) != filter_seen_) refresh_filters();
}

void Bridge::sync() {
  call([](const Engine&, PortList&) {});
}

void Bridge::refresh_filters() {
  std::lock_guard<std::mutex> lock(filter_mu_);
  trace_ = trace_next_;
  dump_ = dump_next_;
  filter_seen_ = filter_gen_.load(std::memory_order_acquire);
}

void Bridge::tap_outcomes(const std::vector<FrameOutcome>& out) {
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
    if (dump_ && drops_ && first_drop(o) == DropReason::None && dump_->matches(o.bytes))
      drops_->submit(o);  // drops are submitted below, accepted ones only here
  }
}

std::string Bridge::start_trace(std::shared_ptr<const PacketFilter> filter) {
  std::lock_guard<std::mutex> lock(filter_mu_);
  if (trace_next_) return "a trace is already running";
  trace_next_ = std::move(filter);
  filter_gen_.fetch_add(1, std::memory_order_release);
  return {};
}

void Bridge::stop_trace() {
  std::lock_guard<std::mutex> lock(filter_mu_);
  trace_next_.reset();
  filter_gen_.fetch_add(1, std::memory_order_release);
}

std::size_t Bridge::drain_trace(const std::function<void(const FrameOutcome&)>& fn) {
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

std::string Bridge::set_dump(std::shared_ptr<const PacketFilter> filter) {
  if (!drops_ && filter) return "dump needs a recorder: start tapwall run with --drops DIR";
  std::lock_guard<std::mutex> lock(filter_mu_);
  dump_next_ = std::move(filter);
  filter_gen_.fetch_add(1, std::memory_order_release);
  return {};
}

BridgeStats Bridge::stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return stats_;
}

}  // namespace tapwall
