// LimitBuckets: the token buckets of a policy's `-m limit` matches, one per match, as the
// kernel keeps them for iptables-nft (Debian 12's iptables).
// Why nft's semantics: iptables-nft does not load xt_limit for `-m limit`; it installs
// nftables' own limit expression (`nft list ruleset` on the lab: `limit rate 5/minute
// burst 7 packets`), whose bucket counts nanoseconds: a packet costs unit/rate ns, the
// bucket holds burst packets' worth and starts full, and refills one ns a ns. The rate and
// unit come from iptables' interval (LimitMatch::avg) the way iptables-nft converts it:
// the largest unit (day, hour, minute, second) that divides into at least as many whole
// packets as its remainder (nft_limit_of()).
// Invariants: buckets are numbered by (rule id, nth limit of the rule), rule ids as
// compile_policy and the reference walk number them (IPv4 RuleSet, then IPv6; each chain's
// rules, then a built-in chain's policy id); a bucket's tokens never exceed its maximum.
// Thread-safety: pass() may be called from any thread (one lock for all buckets: only
// judgements that can never be cached come here).
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "tapwall/rule_set.hpp"

namespace tapwall::policy {

// What nft_limit_init makes of a rule's limit: the cost of a packet and the bucket's size.
struct NftLimit {
  uint64_t rate = 0, unit_s = 0;  // what `nft list ruleset` shows: rate/unit
  uint32_t burst = 0;             // 0 in iptables is nft's default, 5
  uint64_t cost_ns = 0, tokens_max_ns = 0;
};
NftLimit nft_limit_of(const LimitMatch& m);

class LimitBuckets {
 public:
  LimitBuckets(const RuleSet* v4, const RuleSet* v6);
  bool empty() const { return buckets_.empty(); }
  // Does limit `k` (0: the rule's first) of rule `rule_id` let a packet at now_ns through?
  // take: spend the packet's cost if so (a judgement); else only look (trace, decide()).
  bool pass(int32_t rule_id, uint32_t k, uint64_t now_ns, bool take) const;

 private:
  struct Bucket {
    NftLimit limit;
    uint64_t tokens_ns = 0;
    uint64_t last_ns = 0;
    bool started = false;  // full until the first packet: as loaded with the rules
  };
  std::vector<int32_t> first_of_rule_;  // rule id -> its first bucket, or -1
  mutable std::vector<Bucket> buckets_;
  mutable std::mutex mu_;
};

// One rule's limits as reference_rule_matches() asks them (its LimitFn). Handed over as
// std::cref(probe): a std::function holds a reference_wrapper without allocating, where
// a lambda capturing these four allocated for every packet that reached such a rule.
struct LimitProbe {
  const LimitBuckets* buckets = nullptr;
  int32_t rule_id = 0;
  uint64_t now_ns = 0;
  bool take = false;
  bool operator()(uint32_t k) const { return buckets->pass(rule_id, k, now_ns, take); }
};

}  // namespace tapwall::policy
