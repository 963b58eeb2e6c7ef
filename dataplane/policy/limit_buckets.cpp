// LimitBuckets implementation (see limit_buckets.hpp).
#include "limit_buckets.hpp"

#include <cassert>

namespace tapwall::policy {

namespace {
constexpr uint64_t kNsPerSec = 1000000000ull;
constexpr uint32_t kNftDefaultBurst = 5;
}  // namespace

NftLimit nft_limit_of(const LimitMatch& m) {
  // iptables-nft: the largest unit whose packets per unit outnumber the remainder.
  constexpr uint32_t kMult[] = {LimitMatch::kScale * 24 * 60 * 60, LimitMatch::kScale * 60 * 60,
                                LimitMatch::kScale * 60, LimitMatch::kScale};
  std::size_t i = 1;
  for (; i < std::size(kMult); ++i)
    if (m.avg > kMult[i] || kMult[i] / m.avg < kMult[i] % m.avg) break;
  NftLimit n;
  n.rate = kMult[i - 1] / m.avg;
  n.unit_s = kMult[i - 1] / LimitMatch::kScale;
  n.burst = m.burst == 0 ? kNftDefaultBurst : m.burst;
  // nft_limit_init: a packet costs unit/rate ns; the bucket holds burst of them.
  n.cost_ns = n.unit_s * kNsPerSec / n.rate;
  n.tokens_max_ns = n.cost_ns * n.burst;
  return n;
}

LimitBuckets::LimitBuckets(const RuleSet* v4, const RuleSet* v6) {
  for (const RuleSet* rs : {v4, v6}) {
    if (!rs) continue;
    for (const Chain& c : rs->chains) {
      for (const Rule& r : c.rules) {
        first_of_rule_.push_back(-1);
        for (const Match& m : r.matches) {
          const auto* lm = std::get_if<LimitMatch>(&m);
          if (!lm) continue;
          if (first_of_rule_.back() < 0) first_of_rule_.back() = int32_t(buckets_.size());
          buckets_.push_back(Bucket{nft_limit_of(*lm)});
        }
      }
      if (c.builtin) first_of_rule_.push_back(-1);  // the chain policy's pseudo-rule
    }
  }
}

bool LimitBuckets::pass(int32_t rule_id, uint32_t k, uint64_t now_ns, bool take) const {
  assert(rule_id >= 0 && std::size_t(rule_id) < first_of_rule_.size() && first_of_rule_[rule_id] >= 0);
  std::lock_guard lock(mu_);
  Bucket& b = buckets_[std::size_t(first_of_rule_[std::size_t(rule_id)]) + k];
  // nft_limit_eval: refill by the time since the last packet, capped; spend if enough.
  // A frame behind the bucket's time (another worker's, read a little earlier) neither
  // refills it nor moves it back: the kernel's clock, read at judgement, never steps back.
  uint64_t tokens = b.started ? b.tokens_ns + (now_ns > b.last_ns ? now_ns - b.last_ns : 0)
                              : b.limit.tokens_max_ns;
  if (tokens > b.limit.tokens_max_ns) tokens = b.limit.tokens_max_ns;
  const bool ok = tokens >= b.limit.cost_ns;
  if (take) {
    b.last_ns = b.started && b.last_ns > now_ns ? b.last_ns : now_ns;
    b.started = true;
    b.tokens_ns = ok ? tokens - b.limit.cost_ns : tokens;
  }
  return ok;
}

}  // namespace tapwall::policy
