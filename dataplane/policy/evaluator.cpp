// PolicyEvaluator: per-worker judgement of one packet for one egress port.
// Hot path: 12 class lookups (policy_impl.hpp) form the memo key; a 2-way set-associative
// memo maps it to the decision and the ids of the rules to count. A hit costs the lookups,
// one probe and the counter updates, independent of the rule count. A miss walks the
// chains over set bits of the matching-rule bitset, computing each bitset word on first
// use as the AND of the packet's class bitsets (skipping dimensions whose class constrains
// nothing) and resolving `--ports` (either) rules from the port classes.
// Invariants: the memo belongs to one CompiledPolicy (the evaluator's), so entries never go
// stale; a decision whose counted path exceeds kMaxPath rules, or whose walk reached a
// `-m limit`, `-m length` or `-m pkttype` rule (decided per packet), is not memoized (it
// is still decided and counted correctly, only recomputed each time). Its path is reported
// complete unless it is too long or a limit took part: a pkttype or a length decides alike
// for packets of one type and length class, which a caller's cache can key by (PolicyPath).
// Thread-safety: one evaluator per thread; counters are shared relaxed atomics.
#include <bit>
#include <cstring>

#include "policy_impl.hpp"
#include "reference_evaluator.hpp"

namespace tapwall {

using namespace tapwall::policy;

namespace {

// One cache line per entry: the memo competes with the class tables for L2, and its
// footprint, not the rule count, is what a warm new-flow judgement pays for.
constexpr uint32_t kMaxPath = 7;
static_assert(kMaxPath <= kMaxPolicyPath, "a memoized path must fit a PolicyPath");
constexpr std::size_t kSets = 4096;  // x 2 ways x 64 bytes = 512 KiB per worker

struct alignas(64) MemoEntry {
  uint64_t key[kMemoKeyWords];
  uint8_t family_plus_one;  // 0 = empty
  uint8_t accept;
  DropReason reason;
  uint8_t path_len;
  int32_t rule;
  int32_t log_rule;
  int32_t path[kMaxPath];
};
static_assert(sizeof(MemoEntry) == 64);
static_assert(kMemoKeyWords == 3, "judge() compares three key words");

struct Frame {
  uint32_t chain, pos;
};

inline uint64_t key_hash(const uint64_t* key, int family) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ uint64_t(family);
  for (int i = 0; i < kMemoKeyWords; ++i) {
    h = (h ^ key[i]) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  return h;
}

inline U128 ip_u128(const IpAddr& a) {
  uint64_t hi = 0, lo = 0;
  for (int i = 0; i < 8; ++i) hi = (hi << 8) | a.b[i];
  for (int i = 8; i < 16; ++i) lo = (lo << 8) | a.b[i];
  return (U128(hi) << 64) | lo;
}

inline uint32_t lookup_or_absent(const DirectTable<uint32_t>& t, bool present, uint32_t v) {
  if (!t.constrained) return 0;
  return present ? t.table[v] : t.absent;
}

void compute_key(const FamilyMatcher& fm, int fi, const PolicyQuery& q, uint32_t* key) {
  const Decoded& p = *q.pkt;
  const uint8_t proto = p.ip_proto;
  key[kDimProto] = fm.proto.lookup(proto);
  if (fi == 0) {
    key[kDimSrc] = fm.src4.lookup(p.src_ip.v4_host());
    key[kDimDst] = fm.dst4.lookup(p.dst_ip.v4_host());
  } else {
    key[kDimSrc] = fm.src6.constrained ? fm.src6.lookup(ip_u128(p.src_ip)) : 0;
    key[kDimDst] = fm.dst6.constrained ? fm.dst6.lookup(ip_u128(p.dst_ip)) : 0;
  }
  const bool ports = p.l4_ok && (proto == kProtoTcp || proto == kProtoUdp);
  key[kDimSport] = fm.sport.lookup_or_absent(ports, p.sport);
  key[kDimDport] = fm.dport.lookup_or_absent(ports, p.dport);
  key[kDimIcmp] = fm.icmp.lookup_or_absent(p.l4_ok && proto == fm.icmp_proto,
                                           uint32_t(p.icmp_type) << 8 | p.icmp_code);
  key[kDimTcpFlags] = lookup_or_absent(fm.tcp_flags, p.l4_ok && proto == kProtoTcp, p.tcp_flags);
  key[kDimCt] = fm.ct.lookup(ct_index(q.ct));
  key[kDimIn] = fm.in_port.lookup(q.in < fm.nports ? q.in : fm.nports);
  key[kDimOut] = fm.out_port.lookup(q.out < fm.nports ? q.out : fm.nports);
  key[kDimMac] = fm.mac_cls.constrained ? fm.mac_cls.table[fm.mac.lookup(p.src_mac.as_u64())] : 0;
  key[kDimFrag] = fm.frag.lookup(p.is_fragment && p.frag_offset != 0);
}

// The matching-rule bitset of one packet, computed a word at a time on first use: a walk
// touches only the words of the chains it visits (FORWARD and the few chains it jumps to),
// so a memo miss costs O(visited rules / 64 x constrained dimensions), not O(all rules).
class MatchWords {
 public:
  MatchWords(const FamilyMatcher& fm, const uint32_t* key, uint64_t* words, uint32_t* stamp,
             uint32_t epoch)
      : fm_(fm), words_(words), stamp_(stamp), epoch_(epoch) {
    for (int d = 0; d < kDimCount; ++d)
      if (!fm.dims[d].all_ones[key[d]]) active_[nactive_++] = fm.dims[d].class_bits(key[d]);
    sport_ = fm.dims[kDimSport].class_bits(key[kDimSport]);
    dport_ = fm.dims[kDimDport].class_bits(key[kDimDport]);
  }

  uint64_t word(uint32_t w) {
    if (stamp_[w] == epoch_) return words_[w];
    uint64_t v = ~uint64_t{0};
    for (int i = 0; i < nactive_; ++i) v &= active_[i][w];
    for (uint32_t k = fm_.aux_word_begin[w]; k < fm_.aux_word_begin[w + 1]; ++k) {
      const EitherAux& a = fm_.aux[k];
      bool in = ((sport_[a.aux_bit / 64] | dport_[a.aux_bit / 64]) >> (a.aux_bit % 64)) & 1;
      if (in == a.negated) v &= ~(uint64_t{1} << (a.rule_bit % 64));
    }
    stamp_[w] = epoch_;
    return words_[w] = v;
  }

  // First set bit in [pos, end), or end.
  uint32_t next_set(uint32_t pos, uint32_t end) {
    while (pos < end) {
      uint64_t w = word(pos / 64) >> (pos % 64);
      if (w) {
        uint32_t r = pos + uint32_t(std::countr_zero(w));
        return r < end ? r : end;
      }
      pos = (pos / 64 + 1) * 64;
    }
    return end;
  }

 private:
  const FamilyMatcher& fm_;
  uint64_t* words_;
  uint32_t* stamp_;
  uint32_t epoch_;
  const uint64_t* active_[kDimCount];
  int nactive_ = 0;
  const uint64_t* sport_;
  const uint64_t* dport_;
};

}  // namespace

struct PolicyEvaluator::Cache {
  std::vector<MemoEntry> entries;
  std::vector<uint64_t> m;
  std::vector<uint32_t> stamp;  // m[w] is valid for this miss when stamp[w] == epoch
  uint32_t epoch = 0;
  std::vector<Frame> stack;
  MemoStats stats;
  bool enabled = true;
  bool counting = true;  // false inside decide()
  PolicyPath* path_out = nullptr;  // set inside judge(q, path)
};

PolicyEvaluator::PolicyEvaluator(std::shared_ptr<const CompiledPolicy> policy)
    : policy_(std::move(policy)), cache_(std::make_unique<Cache>()) {
  cache_->entries.resize(kSets * 2);
  std::memset(static_cast<void*>(cache_->entries.data()), 0,
              cache_->entries.size() * sizeof(MemoEntry));
  std::size_t words = 1, chains = 1;
  for (const FamilyMatcher& fm : policy_->impl().fam) {
    words = std::max<std::size_t>(words, fm.words);
    chains = std::max(chains, fm.chains.size());
  }
  cache_->m.resize(words);
  cache_->stamp.assign(words, 0);
  cache_->stack.resize(chains);
}

PolicyEvaluator::~PolicyEvaluator() = default;
PolicyEvaluator::PolicyEvaluator(PolicyEvaluator&&) noexcept = default;
PolicyEvaluator& PolicyEvaluator::operator=(PolicyEvaluator&&) noexcept = default;

MemoStats PolicyEvaluator::memo_stats() const { return cache_->stats; }

PolicyDecision PolicyEvaluator::decide(const PolicyQuery& q) {
  cache_->counting = false;
  PolicyDecision d = judge(q);
  cache_->counting = true;
  return d;
}
void PolicyEvaluator::set_memo_enabled(bool on) { cache_->enabled = on; }

PolicyDecision PolicyEvaluator::judge(const PolicyQuery& q, PolicyPath& path) {
  path = PolicyPath{};  // stays incomplete if judge() returns before a chain walk
  cache_->path_out = &path;
  PolicyDecision d = judge(q);
  cache_->path_out = nullptr;
  return d;
}

PolicyDecision PolicyEvaluator::judge(const PolicyQuery& q) {
  const Decoded& p = *q.pkt;
  int fi;
  if (p.l3 == L3Kind::Ipv4) fi = 0;
  else if (p.l3 == L3Kind::Ipv6) fi = 1;
  else return PolicyDecision{};  // iptables never sees non-IP frames
  const CompiledPolicy::Impl& im = policy_->impl();
  const FamilyMatcher& fm = im.fam[fi];
  if (!fm.present) return PolicyDecision{};
  RuleCounter* counters = im.counters.get();
  const bool counting = cache_->counting;
  auto count = [&](int32_t id) {
    if (!counting) return;
    counters[id].packets.fetch_add(1, std::memory_order_relaxed);
    counters[id].bytes.fetch_add(q.bytes, std::memory_order_relaxed);
  };

  uint32_t key[kDimCount];
  compute_key(fm, fi, q, key);
  const bool memo = cache_->enabled && fm.memo_ok;
  // Pack in registers at fixed shifts, four 16-bit class ids a word (memo_ok: every id
  // fits). A loop over per-policy shifts cost ~90 instructions a packet; this ~25.
  static_assert(kDimCount == 4 * kMemoKeyWords);
  auto pack = [&](int first) {
    return uint64_t(key[first]) | uint64_t(key[first + 1]) << 16 |
           uint64_t(key[first + 2]) << 32 | uint64_t(key[first + 3]) << 48;
  };
  const uint64_t packed[kMemoKeyWords] = {pack(0), pack(4), pack(8)};
  MemoEntry* set = &cache_->entries[(key_hash(packed, fi) & (kSets - 1)) * 2];
  for (int way = 0; way < 2 && memo; ++way) {
    MemoEntry& e = set[way];
    if (e.family_plus_one != fi + 1 || e.key[0] != packed[0] || e.key[1] != packed[1] ||
        e.key[2] != packed[2])
      continue;
    for (uint32_t i = 0; i < e.path_len; ++i) count(e.path[i]);
    if (PolicyPath* out = cache_->path_out) {
      out->len = e.path_len;
      std::memcpy(out->ids, e.path, e.path_len * sizeof(int32_t));
      out->complete = true;
    }
    PolicyDecision d{bool(e.accept), e.rule, e.reason, e.log_rule};
    if (way == 1) std::swap(set[0], set[1]);  // keep the most recent in way 0
    ++cache_->stats.hits;
    return d;
  }
  ++cache_->stats.misses;

  // Miss: matching rules = AND of the class bitsets, computed lazily per word.
  if (++cache_->epoch == 0) {  // wrapped: forget every stamp
    std::fill(cache_->stamp.begin(), cache_->stamp.end(), 0u);
    cache_->epoch = 1;
  }
  MatchWords m(fm, key, cache_->m.data(), cache_->stamp.data(), cache_->epoch);

  // Walk the chains over matching rules only.
  MemoEntry fresh;
  std::memcpy(fresh.key, packed, sizeof packed);
  fresh.family_plus_one = uint8_t(fi + 1);
  fresh.path_len = 0;
  bool cacheable = true;   // by the memo, keyed by the classes alone
  bool reportable = true;  // as a complete path, for a cache keyed by type and length class
  auto visit = [&](int32_t id) {
    count(id);
    if (fresh.path_len < kMaxPath) fresh.path[fresh.path_len++] = id;
    else cacheable = reportable = false;
  };
  PolicyDecision d;
  Frame* stack = cache_->stack.data();
  uint32_t depth = 0;
  uint32_t chain = fm.forward;
  uint32_t pos = fm.chains[chain].begin;
  for (;;) {
    const CChain& c = fm.chains[chain];
    uint32_t i = m.next_set(pos, c.end);
    bool leave = i >= c.end;
    if (!leave) {
      const CRule& r = fm.rules[i];
      if (r.tail >= 0) {
        // Decided per packet: the memo may not keep this; a caller may, unless a limit
        // takes part.
        cacheable = false;
        if (r.tail_varies) reportable = false;
        const LimitProbe limits{im.limits.get(), r.id, q.now_ns, counting};
        const bool matched = reference_rule_matches(fm.tails[std::size_t(r.tail)], Family(fi), q,
                                                    im.ports, im.bridge_name, std::cref(limits));
        if (!matched) {
          pos = i + 1;
          continue;
        }
      }
      visit(r.id);
      switch (r.target) {
        case TargetKind::Accept:
          d.accept = true;
          d.rule = r.id;
          break;
        case TargetKind::Drop:
        case TargetKind::Reject:
          d.accept = false;
          d.rule = r.id;
          d.reason = r.target == TargetKind::Drop ? DropReason::RuleDrop : DropReason::RuleReject;
          break;
        case TargetKind::Return:
          leave = true;
          break;
        case TargetKind::Jump:
          stack[depth++] = {chain, i + 1};
          [[fallthrough]];
        case TargetKind::Goto:
          chain = r.jump_chain;
          pos = fm.chains[chain].begin;
          continue;
        case TargetKind::Log:
          if (d.log_rule == kNoRule) d.log_rule = r.id;
          [[fallthrough]];
        case TargetKind::None:
          pos = i + 1;
          continue;
      }
      if (!leave) break;  // terminal verdict
    }
    if (depth == 0) {  // RETURN from, or end of, FORWARD (or a chain it went to with -g)
      const CChain& fwd = fm.chains[fm.forward];
      visit(fwd.policy_id);
      d.rule = fwd.policy_id;
      d.accept = fwd.policy == PolicyVerdict::Accept;
      d.reason = d.accept ? DropReason::None : DropReason::ChainPolicy;
      break;
    }
    --depth;
    chain = stack[depth].chain;
    pos = stack[depth].pos;
  }

  if (PolicyPath* out = cache_->path_out; out && reportable) {
    out->len = fresh.path_len;
    std::memcpy(out->ids, fresh.path, fresh.path_len * sizeof(int32_t));
    out->complete = true;
  }
  if (memo && cacheable) {
    fresh.accept = d.accept;
    fresh.reason = d.reason;
    fresh.rule = d.rule;
    fresh.log_rule = d.log_rule;
    set[1] = set[0];
    set[0] = fresh;
  } else if (memo) {
    ++cache_->stats.uncacheable;
  }
  return d;
}

}  // namespace tapwall
