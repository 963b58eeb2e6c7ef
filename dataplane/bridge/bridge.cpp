// Bridge: the workers of one live bridge and the control side's view of them; see
// include/tapwall/bridge.hpp. The per-frame work is in worker.cpp.
#include "tapwall/bridge.hpp"

#include <stdexcept>
#include <thread>

#include "worker.hpp"

namespace tapwall {

namespace {

std::vector<Bridge::PortList> one_list(Bridge::PortList ports) {
  std::vector<Bridge::PortList> v;
  v.push_back(std::move(ports));
  return v;
}

}  // namespace

Bridge::Bridge(PortList ports, EngineConfig cfg, PolicySlot& slot, DropRecorder* drops,
               BridgeOptions opts)
    : Bridge(one_list(std::move(ports)), std::move(cfg), slot, drops, opts) {}

Bridge::Bridge(std::vector<PortList> per_worker, EngineConfig cfg, PolicySlot& slot,
               DropRecorder* drops, BridgeOptions opts) {
  const uint32_t n = uint32_t(std::clamp<std::size_t>(per_worker.size(), 1, kMaxWorkers));
  per_worker.resize(n);
  if (drops && drops->producers() < n)
    throw std::invalid_argument("the drop recorder needs one producer per worker");
  shared_ = std::make_unique<WorkerShared>(n, slot, drops, opts);
  for (uint32_t i = 0; i < n; ++i)
    workers_.push_back(std::make_unique<Worker>(i, std::move(per_worker[i]), cfg, *shared_));
}

Bridge::~Bridge() = default;

void Bridge::run(const std::atomic<bool>& stop) {
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < workers_.size(); ++i)
    threads.emplace_back([this, i, &stop] { workers_[i]->run(stop); });
  workers_[0]->run(stop);
  for (auto& t : threads) t.join();
}

void Bridge::call(const std::function<void(const Engine&, PortList&)>& fn) {
  for (auto& w : workers_) w->call(fn);
}

void Bridge::call_each(const std::function<void(std::size_t, const Engine&, PortList&)>& fn) {
  for (std::size_t i = 0; i < workers_.size(); ++i)
    workers_[i]->call([&](const Engine& e, PortList& p) { fn(i, e, p); });
}

void Bridge::sync() {
  call([](const Engine&, PortList&) {});
}

BridgeStats Bridge::stats() const {
  BridgeStats s;
  for (const auto& w : workers_) w->stats_into(s);
  return s;
}

std::string Bridge::start_trace(std::shared_ptr<const PacketFilter> filter) {
  std::lock_guard<std::mutex> lock(shared_->filter_mu);
  if (shared_->trace_next) return "a trace is already running";
  shared_->trace_next = std::move(filter);
  shared_->filter_gen.fetch_add(1, std::memory_order_release);
  return {};
}

void Bridge::stop_trace() {
  std::lock_guard<std::mutex> lock(shared_->filter_mu);
  shared_->trace_next.reset();
  shared_->filter_gen.fetch_add(1, std::memory_order_release);
}

std::size_t Bridge::drain_trace(const std::function<void(const FrameOutcome&)>& fn) {
  std::size_t n = 0;
  for (auto& w : workers_) n += w->drain_trace(fn);
  return n;
}

uint64_t Bridge::trace_overflows() const {
  uint64_t n = 0;
  for (const auto& w : workers_) n += w->trace_overflows();
  return n;
}

std::string Bridge::set_dump(std::shared_ptr<const PacketFilter> filter) {
  if (!shared_->drops && filter) return "dump needs a recorder: start tapwall run with --drops DIR";
  std::lock_guard<std::mutex> lock(shared_->filter_mu);
  shared_->dump_next = std::move(filter);
  shared_->filter_gen.fetch_add(1, std::memory_order_release);
  return {};
}

}  // namespace tapwall
