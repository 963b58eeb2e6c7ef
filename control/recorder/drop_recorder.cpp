// DropRecorder implementation; see include/tapwall/drop_recorder.hpp.
// Why a token bucket on the frame clock: the data path already has the frame's timestamp,
// so no clock read per drop; replayed and live frames are limited alike.
#include "tapwall/drop_recorder.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "tapwall/capture_file.hpp"

namespace tapwall {

namespace fs = std::filesystem;

struct DropRecorder::File {
  std::unique_ptr<PcapngWriter> writer;
  std::string path;
  uint64_t header_bytes = 0;  // section and interface blocks
};

namespace {

constexpr const char* kPrefix = "drops-";
constexpr const char* kSuffix = ".pcapng";

// Sequence number of a file we wrote, or -1.
long long file_seq(const std::string& name) {
  std::size_t p = std::strlen(kPrefix), s = std::strlen(kSuffix);
  if (name.size() <= p + s || name.compare(0, p, kPrefix) != 0 ||
      name.compare(name.size() - s, s, kSuffix) != 0)
    return -1;
  std::string digits = name.substr(p, name.size() - p - s);
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return -1;
  return std::stoll(digits);
}

}  // namespace

DropRecorder::DropRecorder(DropRecorderConfig cfg, std::vector<PortDesc> ports,
                           DropCommentFn comment)
    : cfg_(std::move(cfg)), ports_(std::move(ports)), comment_(comment) {
  const uint32_t n = std::max<uint32_t>(1, cfg_.producers);
  rate_ = double(cfg_.rate_per_reason) / n;
  burst_ = std::max(1.0, double(cfg_.burst_per_reason) / n);
  for (uint32_t i = 0; i < n; ++i) {
    auto p = std::make_unique<Producer>(std::max<uint32_t>(2, cfg_.queue_slots / n));
    for (std::size_t k = 0; k < p->ring.capacity(); ++k) {
      Slot* s = p->ring.claim();  // pre-size every slot's buffer: no allocation on submit()
      s->data = std::make_unique<uint8_t[]>(cfg_.snap_bytes);
      p->ring.publish();
      p->ring.front();
      p->ring.pop();
    }
    producers_.push_back(std::move(p));
  }
}

DropRecorder::~DropRecorder() { stop(); }

std::string DropRecorder::start() {
  std::error_code ec;
  fs::create_directories(cfg_.dir, ec);
  if (ec) return "cannot create " + cfg_.dir + ": " + ec.message();
  std::vector<std::pair<long long, std::string>> existing;
  for (const auto& de : fs::directory_iterator(cfg_.dir, ec)) {
    long long seq = file_seq(de.path().filename().string());
    if (seq >= 0) existing.emplace_back(seq, de.path().string());
  }
  if (ec) return "cannot read " + cfg_.dir + ": " + ec.message();
  std::sort(existing.begin(), existing.end());
  for (auto& [seq, path] : existing) {  // earlier runs' files count toward the cap
    kept_files_.push_back(path);
    next_seq_ = static_cast<uint64_t>(seq) + 1;
    stats_.bytes_on_disk += fs::file_size(path, ec);
  }
  if (!open_next_file()) return "cannot write in " + cfg_.dir;
  running_ = true;
  writer_ = std::thread([this] { writer_loop(); });
  return {};
}

void DropRecorder::stop() {
  if (!running_.exchange(false)) return;
  if (writer_.joinable()) writer_.join();
  if (file_) file_->writer->close();
  file_.reset();
}

void DropRecorder::note_policy(std::shared_ptr<const CompiledPolicy> policy, uint32_t producer) {
  Producer& p = *producers_[producer];
  p.generation = policy->generation();
  {
    std::lock_guard<std::mutex> lock(mu_);
    policies_[p.generation] = std::move(policy);
  }
  p.noted.store(p.generation, std::memory_order_release);
}

DropReason DropRecorder::reason_of(const FrameOutcome& o) const {
  if (o.reason != DropReason::None) return o.reason;
  for (uint8_t i = 0; i < o.n_per; ++i)
    if (!o.per[i].accept) return o.per[i].reason;
  return DropReason::None;
}

void DropRecorder::submit(const FrameOutcome& o, uint32_t producer) {
  Producer& p = *producers_[producer];
  const std::size_t r = static_cast<std::size_t>(reason_of(o));
  Bucket& b = p.buckets[r];
  if (!b.primed) {
    b.tokens = burst_;
    b.last_ns = o.ts_ns;
    b.primed = true;
  } else if (o.ts_ns > b.last_ns) {
    b.tokens = std::min<double>(burst_, b.tokens + double(o.ts_ns - b.last_ns) * 1e-9 * rate_);
    b.last_ns = o.ts_ns;
  }
  if (b.tokens < 1.0) {
    rate_limited_[r].fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Slot* s = p.ring.claim();
  if (!s) {
    queue_full_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  b.tokens -= 1.0;
  s->outcome = o;
  s->generation = p.generation;
  s->len = static_cast<uint32_t>(std::min<std::size_t>(o.bytes.size(), cfg_.snap_bytes));
  std::memcpy(s->data.get(), o.bytes.data(), s->len);
  p.ring.publish();
}

bool DropRecorder::open_next_file() {
  if (file_) {
    file_->writer->close();
    file_.reset();
  }
  std::error_code ec;
  while (kept_files_.size() >= cfg_.max_files && !kept_files_.empty()) {
    uint64_t size = fs::file_size(kept_files_.front(), ec);
    if (fs::remove(kept_files_.front(), ec)) {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.files_deleted++;
      stats_.bytes_on_disk -= std::min(stats_.bytes_on_disk, size);
    }
    kept_files_.erase(kept_files_.begin());
  }
  char name[64];
  std::snprintf(name, sizeof name, "%s%06llu%s", kPrefix, (unsigned long long)next_seq_++, kSuffix);
  std::string path = (fs::path(cfg_.dir) / name).string();
  auto w = PcapngWriter::create(path);
  if (!std::holds_alternative<std::unique_ptr<PcapngWriter>>(w)) return false;
  file_ = std::make_unique<File>();
  file_->writer = std::move(std::get<std::unique_ptr<PcapngWriter>>(w));
  file_->path = path;
  for (const auto& p : ports_) file_->writer->add_interface(p.name, cfg_.snap_bytes);
  file_->header_bytes = file_->writer->bytes_written();
  kept_files_.push_back(path);
  std::lock_guard<std::mutex> lock(mu_);
  stats_.files_opened++;
  stats_.bytes_on_disk += file_->writer->bytes_written();
  return true;
}

bool DropRecorder::write_one(Slot& s) {
  std::shared_ptr<const CompiledPolicy> policy;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = policies_.find(s.generation);
    if (it != policies_.end()) policy = it->second;
  }
  if (!policy || !file_) return false;
  s.outcome.bytes = {s.data.get(), s.len};
  std::string comment = comment_(s.outcome, ports_, *policy);
  // Rotate before a record that would cross the size, so no file (and no moment of the
  // directory) exceeds the cap. Block headers and options cost well under 128 bytes.
  const uint64_t record = s.len + comment.size() + 128;
  if (file_->writer->bytes_written() + record > cfg_.max_file_bytes &&
      file_->writer->bytes_written() > file_->header_bytes && !open_next_file())
    return false;  // (a file holds at least one frame, however small the size limit)
  uint64_t before = file_->writer->bytes_written();
  bool ok = file_->writer->write(s.outcome.in, s.outcome.ts_ns, s.outcome.bytes, comment);
  uint64_t after = file_->writer->bytes_written();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.bytes_on_disk += after - before;
    if (ok) stats_.recorded++;
    else stats_.write_errors++;
  }
  return ok;
}

// A policy is kept while some producer may still hand in a slot judged by it: each ring
// is FIFO and a producer's generation only grows, so a producer needs nothing below the
// generation of the last slot written from it, nor (once its ring is empty) below the
// generation it noted before we looked at the ring.
void DropRecorder::forget_old_policies() {
  uint64_t keep_from = ~uint64_t{0};
  for (auto& p : producers_) {
    const uint64_t noted = p->noted.load(std::memory_order_acquire);
    if (p->ring.front() == nullptr) p->done_below = std::max(p->done_below, noted);
    keep_from = std::min(keep_from, p->done_below);
  }
  std::lock_guard<std::mutex> lock(mu_);
  policies_.erase(policies_.begin(), policies_.lower_bound(keep_from));
}

void DropRecorder::writer_loop() {
  auto last_flush = std::chrono::steady_clock::now();
  for (;;) {
    // Read before the pass, not after: a frame published between an empty pass and stop()
    // would otherwise be left in its ring (seen in CI: a test's 6 frames, none recorded).
    // stop() clears the flag after the producers' last publish, so a pass that starts
    // after seeing it cleared sees every frame.
    const bool stopping = !running_.load();
    bool any = false;
    for (auto& p : producers_) {  // round robin, a bounded share each, so none starves
      for (int k = 0; k < 64; ++k) {
        Slot* s = p->ring.front();
        if (!s) break;
        write_one(*s);
        p->done_below = std::max(p->done_below, s->generation);
        p->ring.pop();
        any = true;
      }
    }
    if (any) continue;
    forget_old_policies();
    auto now = std::chrono::steady_clock::now();
    if (file_ && now - last_flush > std::chrono::milliseconds(200)) {
      file_->writer->flush();  // files are readable while the bridge runs
      last_flush = now;
    }
    if (stopping) break;  // every queue is drained: nothing is lost on stop
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

DropRecorderStats DropRecorder::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  DropRecorderStats s = stats_;
  s.queue_full = queue_full_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kDropReasonCount; ++i)
    s.rate_limited[i] = rate_limited_[i].load(std::memory_order_relaxed);
  return s;
}

}  // namespace tapwall
