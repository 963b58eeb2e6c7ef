// Defragmenter implementation (semantics and bounds are documented in defrag.hpp).
// Layout: a fixed array of datagram slots, each with room for max_fragments_per_datagram + 1
// HeldFragment records (the +1 lists the fragment that caused a whole-datagram drop without
// copying it) and as many runs; a chained hash over slot indices keyed by FragKey; an age
// list of live slots in creation order so expire() stops at the first young datagram.
// Frame copies and reassembled frames live in one ChunkArena of max_bytes.
// Invariants: a slot is Active (in the hash and the age list), Complete or Dropped (out of
// both, waiting for release()), or Free (on the free stack). Held fragments of one slot
// never overlap and all lie inside [0, total) once the last fragment is seen, so
// meat == total means the datagram is fully covered.
// Thread-safety: not thread-safe; one owner.
#include <algorithm>
#include <cstring>
#include <vector>

#include "chunk_arena.hpp"
#include "frag_runs.hpp"
#include "reassemble.hpp"
#include "tapwall/defrag.hpp"
#include "tapwall/wire.hpp"

namespace tapwall {

using defrag_detail::ArenaBlock;
using defrag_detail::ChunkArena;
using defrag_detail::Run;
using defrag_detail::RunFit;

namespace {

constexpr uint32_t kLoneHandle = 0xffffffffu;  // "this fragment alone" (see defrag.hpp)
constexpr int32_t kNil = -1;
constexpr uint32_t kMaxIpLength = 65535;

enum class SlotState : uint8_t { Free, Active, Complete, Dropped };

struct FragKey {
  IpAddr src, dst;
  uint32_t id = 0;
  uint16_t vlan_outer = 0, vlan_inner = 0;
  uint8_t vlan_count = 0;
  uint8_t family = 0;  // 4 or 6
  uint8_t proto = 0;   // IPv4 only: IPv6 fragments of one datagram are keyed without it
  friend bool operator==(const FragKey&, const FragKey&) = default;
};

struct FragMeta {
  ArenaBlock mem;                // the frame copy; chunks == 0 when it views the caller's frame
  uint32_t offset = 0, end = 0;  // payload range within the datagram
  uint16_t l3_off = 0, payload_off = 0;
  uint32_t hdr_len = 0;  // IPv4: IHL bytes; IPv6: unfragmentable part (hdr + ext headers)
};

struct Slot {
  FragKey key;
  uint64_t first_ns = 0;
  SlotState state = SlotState::Free;
  bool last_seen = false;
  int32_t hash_next = kNil, age_prev = kNil, age_next = kNil;
  uint32_t bucket = 0;
  uint32_t total = 0;  // the kernel's q.len: last fragment's end, or highest end seen
  uint32_t meat = 0;   // payload bytes held
  uint32_t nfrags = 0, nruns = 0;
  int32_t first_frag = kNil;
  ArenaBlock reasm;
  uint32_t reasm_len = 0;
};

// One fragment's geometry, checked against its frame before anything trusts it.
struct FragView {
  bool v6 = false;
  bool last = false;
  uint32_t offset = 0, end = 0;
  uint16_t l3_off = 0, payload_off = 0;
  uint32_t hdr_len = 0;
};

bool view_fragment(const Decoded& d, std::span<const uint8_t> frame, FragView& v) {
  if (!d.is_fragment || d.ip_end > frame.size() || d.l3_off >= d.ip_end) return false;
  const auto dg = frame.first(d.ip_end);
  if (d.l3 == L3Kind::Ipv4) {
    const auto* ip = header<Ipv4Header>(dg, d.l3_off);
    if (!ip || ip->version() != 4) return false;
    const uint32_t ihl = ip->header_len();
    if (ihl < sizeof(Ipv4Header) || d.l3_off + ihl > d.ip_end) return false;
    v.v6 = false;
    v.hdr_len = ihl;
    v.payload_off = uint16_t(d.l3_off + ihl);
  } else if (d.l3 == L3Kind::Ipv6) {
    if (d.frag_hdr_off < d.l3_off + sizeof(Ipv6Header)) return false;
    if (!header<Ipv6FragHeader>(dg, d.frag_hdr_off)) return false;
    v.v6 = true;
    v.hdr_len = uint32_t(d.frag_hdr_off - d.l3_off);
    v.payload_off = uint16_t(d.frag_hdr_off + sizeof(Ipv6FragHeader));
  } else {
    return false;
  }
  if (d.frag_offset & 7) return false;
  v.last = !d.more_fragments;
  v.l3_off = d.l3_off;
  v.offset = d.frag_offset;
  v.end = v.offset + uint32_t(d.ip_end - v.payload_off);
  return true;
}

FragKey make_key(const Decoded& d, const FragView& v) {
  FragKey k;
  k.src = d.src_ip;
  k.dst = d.dst_ip;
  k.id = d.frag_id;
  k.vlan_count = d.vlan_count;
  k.vlan_outer = d.vlan_count > 0 ? d.vlan_ids[0] : 0;
  k.vlan_inner = d.vlan_count > 1 ? d.vlan_ids[1] : 0;
  k.family = v.v6 ? 6 : 4;
  k.proto = v.v6 ? 0 : d.ip_proto;
  return k;
}

uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

uint64_t load_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

uint64_t hash_key(const FragKey& k) {
  uint64_t h = load_u64(k.src.b.data()) * 0x9e3779b97f4a7c15ull;
  h = mix64(h ^ load_u64(k.src.b.data() + 8));
  h = mix64(h ^ load_u64(k.dst.b.data()));
  h = mix64(h ^ load_u64(k.dst.b.data() + 8));
  const uint64_t rest = uint64_t{k.id} | uint64_t{k.vlan_outer} << 32 |
                        uint64_t{k.vlan_inner} << 44 | uint64_t{k.proto} << 56;
  return mix64(h ^ rest ^ (uint64_t{k.family} << 3 | k.vlan_count));
}

uint32_t pow2_at_least(uint32_t n) {
  uint32_t p = 16;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

struct Defragmenter::Impl {
  explicit Impl(const DefragConfig& c)
      : cfg(c),
        max_frags(std::max<uint32_t>(c.max_fragments_per_datagram, 1)),
        stride(max_frags + 1),
        arena(c.max_bytes, DefragConfig::kAllocUnit),
        slots(c.max_datagrams),
        held(std::size_t{c.max_datagrams} * stride),
        meta(std::size_t{c.max_datagrams} * stride),
        runs(std::size_t{c.max_datagrams} * max_frags),
        buckets(pow2_at_least(c.max_datagrams * 2), kNil) {
    free_slots.reserve(c.max_datagrams);
    for (uint32_t i = c.max_datagrams; i > 0; --i) free_slots.push_back(i - 1);
  }

  bool expired(const Slot& s, uint64_t now) const {
    return now >= s.first_ns && now - s.first_ns >= cfg.timeout_ns;
  }

  int32_t lookup(const FragKey& key, uint64_t h, uint64_t now) const {
    for (int32_t i = buckets[h & (buckets.size() - 1)]; i != kNil; i = slots[i].hash_next) {
      const Slot& s = slots[i];
      // A timed-out datagram is dead for new fragments even before expire() reports it.
      if (s.key == key && !expired(s, now)) return i;
    }
    return kNil;
  }

  int32_t create(const FragKey& key, uint64_t h, uint64_t now) {
    if (free_slots.empty()) return kNil;
    const auto i = int32_t(free_slots.back());
    free_slots.pop_back();
    Slot& s = slots[i];
    s = Slot{};
    s.key = key;
    s.first_ns = now;
    s.state = SlotState::Active;
    s.bucket = uint32_t(h & (buckets.size() - 1));
    s.hash_next = buckets[s.bucket];
    buckets[s.bucket] = i;
    s.age_prev = age_tail;
    if (age_tail != kNil)
      slots[age_tail].age_next = i;
    else
      age_head = i;
    age_tail = i;
    return i;
  }

  void unlink(int32_t i) {
    Slot& s = slots[i];
    if (s.state != SlotState::Active) return;
    for (int32_t* p = &buckets[s.bucket]; *p != kNil; p = &slots[*p].hash_next) {
      if (*p == i) {
        *p = s.hash_next;
        break;
      }
    }
    if (s.age_prev != kNil)
      slots[s.age_prev].age_next = s.age_next;
    else
      age_head = s.age_next;
    if (s.age_next != kNil)
      slots[s.age_next].age_prev = s.age_prev;
    else
      age_tail = s.age_prev;
    s.hash_next = s.age_prev = s.age_next = kNil;
  }

  void free_slot(int32_t i) {
    Slot& s = slots[i];
    if (s.state == SlotState::Free) return;
    unlink(i);
    const std::size_t base = std::size_t(i) * stride;
    for (uint32_t f = 0; f < s.nfrags; ++f) arena.free(meta[base + f].mem);
    arena.free(s.reasm);
    s = Slot{};
    free_slots.push_back(uint32_t(i));
  }

  // The whole datagram is dropped; `cur` (not yet stored) joins the list as a view.
  DefragResult drop_whole(int32_t i, const HeldFragment* cur, DropReason reason) {
    Slot& s = slots[i];
    if (cur) {
      const std::size_t at = std::size_t(i) * stride + s.nfrags++;
      held[at] = *cur;
      meta[at] = FragMeta{};
    }
    unlink(i);
    s.state = SlotState::Dropped;
    return {DefragStatus::Dropped, reason, uint32_t(i)};
  }

  // Only `cur` is dropped; its datagram (if it holds anything) lives on.
  DefragResult drop_alone(int32_t i, const HeldFragment& cur, DropReason reason) {
    if (i != kNil && slots[i].nfrags == 0) free_slot(i);
    lone = cur;
    return {DefragStatus::Dropped, reason, kLoneHandle};
  }

  DefragResult complete(int32_t i);

  DefragConfig cfg;
  uint32_t max_frags;
  uint32_t stride;
  ChunkArena arena;
  std::vector<Slot> slots;
  std::vector<HeldFragment> held;
  std::vector<FragMeta> meta;
  std::vector<Run> runs;
  std::vector<int32_t> buckets;
  std::vector<uint32_t> free_slots;
  int32_t age_head = kNil, age_tail = kNil;
  HeldFragment lone{};
  DefragStats stats;
};

DefragResult Defragmenter::Impl::complete(int32_t i) {
  Slot& s = slots[i];
  const std::size_t base = std::size_t(i) * stride;
  const FragMeta& first = meta[base + uint32_t(s.first_frag)];
  const bool v6 = s.key.family == 6;
  // The first fragment's header decides the final size, as in the kernel's reasm step.
  const uint32_t ip_len =
      v6 ? first.hdr_len - uint32_t(sizeof(Ipv6Header)) + s.total : first.hdr_len + s.total;
  if (ip_len > kMaxIpLength) {
    ++stats.too_large;
    return drop_whole(i, nullptr, DropReason::FragTooLarge);
  }
  const uint32_t hdr_end = first.l3_off + first.hdr_len;
  const uint32_t len = hdr_end + s.total;
  const ArenaBlock mem = arena.alloc(len);
  if (mem.chunks == 0) {
    ++stats.no_memory;
    return drop_whole(i, nullptr, DropReason::FragNoMemory);
  }
  const std::span<uint8_t> out(arena.data(mem), len);
  const auto first_frame = held[base + uint32_t(s.first_frag)].bytes;
  const bool ok =
      v6 ? defrag_detail::write_ipv6_headers(first_frame, first.l3_off, first.hdr_len, s.total, out)
         : defrag_detail::write_ipv4_headers(first_frame, first.l3_off, first.hdr_len, s.total,
                                             out);
  if (!ok) {
    arena.free(mem);
    ++stats.bad;
    return drop_whole(i, nullptr, DropReason::FragBad);
  }
  for (uint32_t f = 0; f < s.nfrags; ++f) {
    const FragMeta& m = meta[base + f];
    std::memcpy(out.data() + hdr_end + m.offset, held[base + f].bytes.data() + m.payload_off,
                m.end - m.offset);
  }
  s.reasm = mem;
  s.reasm_len = len;
  unlink(i);
  s.state = SlotState::Complete;
  ++stats.completed;
  return {DefragStatus::Complete, DropReason::None, uint32_t(i)};
}

Defragmenter::Defragmenter(const DefragConfig& cfg) : impl_(std::make_unique<Impl>(cfg)) {}
Defragmenter::~Defragmenter() = default;

DefragResult Defragmenter::add(const Decoded& d, std::span<const uint8_t> frame, PortId in_port,
                               uint64_t now_ns, uint64_t cookie) {
  Impl& m = *impl_;
  ++m.stats.fragments;
  const HeldFragment cur{cookie, in_port, now_ns, frame};
  FragView v;
  if (!view_fragment(d, frame, v)) {
    ++m.stats.bad;
    return m.drop_alone(kNil, cur, DropReason::FragBad);
  }
  const FragKey key = make_key(d, v);
  const uint64_t h = hash_key(key);
  int32_t i = m.lookup(key, h, now_ns);
  if (i == kNil) i = m.create(key, h, now_ns);
  if (i == kNil) {
    ++m.stats.no_memory;
    return m.drop_alone(kNil, cur, DropReason::FragNoMemory);
  }
  Slot& s = m.slots[i];

  // Whole-datagram faults first: no state of this fragment has been recorded yet.
  const uint32_t ip_len =
      v.v6 ? v.hdr_len - uint32_t(sizeof(Ipv6Header)) + v.end : v.hdr_len + v.end;
  if (ip_len > kMaxIpLength) {
    ++m.stats.too_large;
    return m.drop_whole(i, &cur, DropReason::FragTooLarge);
  }
  if (!v.last && (v.end & 7)) {
    ++m.stats.bad;
    return m.drop_whole(i, &cur, DropReason::FragBad);
  }
  // Inconsistent ends: IPv4 kills the datagram, IPv6 drops just this fragment (kernel).
  auto bad = [&]() {
    ++m.stats.bad;
    return v.v6 ? m.drop_alone(i, cur, DropReason::FragBad)
                : m.drop_whole(i, &cur, DropReason::FragBad);
  };
  // As in the kernel, the end bookkeeping happens before the zero-length and overlap checks;
  // a fragment refused for memory must leave no trace, as the kernel refuses it earlier.
  const bool had_last = s.last_seen;
  const uint32_t had_total = s.total;
  if (v.last) {
    if (v.end < s.total || (s.last_seen && v.end != s.total)) return bad();
    s.last_seen = true;
    s.total = v.end;
  } else if (v.end > s.total) {
    if (s.last_seen) return bad();
    s.total = v.end;
  }
  if (v.end == v.offset) return bad();

  Run* runs = m.runs.data() + std::size_t(i) * m.max_frags;
  const RunFit fit = defrag_detail::classify_run(runs, s.nruns, v.offset, v.end);
  if (fit == RunFit::Overlap) {
    ++m.stats.overlaps;
    return m.drop_whole(i, &cur, DropReason::FragOverlap);
  }
  if (fit == RunFit::Duplicate) {
    ++m.stats.duplicates;
    return m.drop_alone(i, cur, DropReason::FragDuplicate);
  }
  if (s.nfrags >= m.max_frags) {
    ++m.stats.no_memory;
    return m.drop_whole(i, &cur, DropReason::FragNoMemory);
  }
  const ArenaBlock mem = m.arena.alloc(uint32_t(frame.size()));
  if (mem.chunks == 0) {
    s.last_seen = had_last;
    s.total = had_total;
    ++m.stats.no_memory;
    return m.drop_alone(i, cur, DropReason::FragNoMemory);
  }
  std::memcpy(m.arena.data(mem), frame.data(), frame.size());
  defrag_detail::insert_run(runs, s.nruns, v.offset, v.end);
  s.meat += v.end - v.offset;
  const uint32_t idx = s.nfrags++;
  const std::size_t at = std::size_t(i) * m.stride + idx;
  m.held[at] = HeldFragment{cookie, in_port, now_ns, {m.arena.data(mem), frame.size()}};
  m.meta[at] = FragMeta{mem, v.offset, v.end, v.l3_off, v.payload_off, v.hdr_len};
  if (v.offset == 0) s.first_frag = int32_t(idx);
  if (!s.last_seen || s.meat != s.total) return {DefragStatus::Held, DropReason::None, uint32_t(i)};
  return m.complete(i);
}

std::span<const uint8_t> Defragmenter::reassembled(uint32_t datagram) const {
  const Impl& m = *impl_;
  if (datagram >= m.slots.size() || m.slots[datagram].state != SlotState::Complete) return {};
  const Slot& s = m.slots[datagram];
  return {m.arena.data(s.reasm), s.reasm_len};
}

std::span<const HeldFragment> Defragmenter::fragments(uint32_t datagram) const {
  const Impl& m = *impl_;
  if (datagram == kLoneHandle) return {&m.lone, 1};
  if (datagram >= m.slots.size() || m.slots[datagram].state == SlotState::Free) return {};
  return {m.held.data() + std::size_t(datagram) * m.stride, m.slots[datagram].nfrags};
}

void Defragmenter::release(uint32_t datagram) {
  Impl& m = *impl_;
  if (datagram >= m.slots.size()) return;  // includes the lone handle
  m.free_slot(int32_t(datagram));
}

void Defragmenter::expire(uint64_t now_ns, const std::function<void(uint32_t)>& fn) {
  Impl& m = *impl_;
  // Slots are created in time order, so the age list is oldest first.
  while (m.age_head != kNil && m.expired(m.slots[m.age_head], now_ns)) {
    const int32_t i = m.age_head;
    m.unlink(i);
    m.slots[i].state = SlotState::Dropped;
    ++m.stats.timeouts;
    if (fn) fn(uint32_t(i));
    m.free_slot(i);
  }
}

const DefragStats& Defragmenter::stats() const { return impl_->stats; }
std::size_t Defragmenter::bytes_held() const { return impl_->arena.bytes_used(); }

}  // namespace tapwall
