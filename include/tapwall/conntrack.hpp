// Conntrack: connection tracking with Linux nf_conntrack's semantics, run once per frame
// before the per-port policy (as at the bridge's PREROUTING).
// Purpose: give each IPv4/IPv6 packet its ct state (NEW, ESTABLISHED, RELATED, INVALID,
// UNTRACKED) exactly as the kernel would, and hold per-flow state (TCP state machine with
// window tracking, UDP replied/assured, ICMP echo) in a bounded table.
// Invariants: fixed capacity, no allocation per packet after construction; time is passed
// in (ns, monotonic); an entry created by a packet is pending until confirm(): kept only if
// some copy of the packet was accepted (confirm(v, true)), else discarded. State changes of
// an existing entry happen in track(), whatever the later verdict (as in the kernel).
// When the table is full, a non-assured entry is evicted (early drop); if none can be,
// track() reports table_full and the caller drops the packet (DropReason::CtTableFull).
// Thread-safety: not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "tapwall/ct_state.hpp"
#include "tapwall/decoded.hpp"
#include "tapwall/flow_key.hpp"

namespace tapwall {

inline constexpr uint64_t kNsPerSec = 1000000000ull;

struct CtTimeouts {  // seconds, nf_conntrack defaults
  uint32_t tcp_syn_sent = 120, tcp_syn_recv = 60, tcp_established = 432000, tcp_fin_wait = 120,
           tcp_close_wait = 60, tcp_last_ack = 30, tcp_time_wait = 120, tcp_close = 10,
           tcp_unacknowledged = 300, tcp_max_retrans = 300;
  uint32_t udp = 30, udp_stream = 120;
  uint32_t icmp = 30, icmpv6 = 30;
  uint32_t generic = 600;
};

struct CtConfig {
  uint32_t capacity = 262144;
  CtTimeouts timeouts;
  bool tcp_loose = true;        // nf_conntrack_tcp_loose: pick up mid-stream flows as NEW
  bool tcp_be_liberal = false;  // nf_conntrack_tcp_be_liberal
  bool checksum = true;         // nf_conntrack_checksum: bad L4 checksum -> INVALID
  // The tuple hash's key. 0: a random one, as the kernel draws its own at boot. Which entry
  // a full table evicts depends on it (early drop looks in the new flow's bucket), so
  // engines compared with each other (tests, fuzzing) give theirs the same.
  uint64_t hash_seed = 0;
};

// The tuple hash's key for offline runs (replay, bench): a capture gets the same verdicts
// on every run, also when a full table evicts. (A live bridge keeps a random key, so
// traffic cannot aim at one bucket.)
inline constexpr uint64_t kOfflineHashSeed = 0x74617077616c6cull;  // "tapwall"

inline constexpr uint32_t kNoCtEntry = 0xffffffffu;

// A small per-entry, per-direction slot where the engine may cache a policy decision.
// It is valid only while every key field equals the current packet's (see engine).
// 8 bytes, so that two of them and the flow's packet/byte accounting fit the 128-byte entry.
struct CtVerdictCache {
  uint32_t generation = 0;  // the owner's cache tag (engine: changes with the policy); 0 = empty
  uint32_t rule = 0;        // the owner's id of the cached decision (valid while generation != 0)
};
static_assert(sizeof(CtVerdictCache) == 8);

// A packet's lookup key, computed once per frame by prepare() and reused by the later
// batch stages and track(): the tuple hash is the costliest pure part of a lookup.
// Only meaningful for the Decoded it was prepared from (track() asserts so in debug).
struct CtLookup {
  uint64_t hash = 0;
  bool valid = false;  // false: not hashable up front (non-IP, fragment, ICMP): track() hashes
  uint32_t hint = 0xffffffffu;  // prefetch_entry(): the index slot it saw for the tuple
};

struct CtResult {
  CtState state = CtState::None;
  bool reply = false;          // packet travels in the reply direction of its entry
  bool pending = false;        // entry was created by this packet; confirm() decides
  bool table_full = false;     // no entry could be made: caller drops (CtTableFull)
  uint32_t entry = kNoCtEntry; // the entry (or the tracked flow an error is RELATED to)
};

// The parts of a TCP segment the TCP tracker reads.
struct TcpSegment {
  uint32_t seq = 0, ack = 0;
  uint32_t payload_len = 0;
  uint16_t win = 0;
  uint8_t flags = 0;
  std::span<const uint8_t> options;  // raw option bytes (doff*4 - 20 of them)
};

// The engine's express path's view of a TCP or UDP packet (over IPv4 or IPv6, not a
// fragment): what the caller read from the frame and has already validated as track()
// would (TCP: header and options inside the datagram, an ACK-class segment (ACK set; SYN,
// FIN and RST clear); UDP: length field; both: checksum, unless unfinished or
// CtConfig::checksum is off), then the entry express_peek() found.
struct CtExpress {
  FlowKey key;                         // the packet's own tuple
  uint32_t ip_len = 0;                 // the IP datagram's length (accounting)
  TcpSegment tcp;                      // TCP; UDP: flags 0
  uint32_t entry = kNoCtEntry;         // set by express_peek()
  bool reply = false;                  // set by express_peek()
  CtVerdictCache* vc = nullptr;        // set by express_peek(): verdict_cache(entry, reply)
};

struct CtStats {
  uint64_t created = 0, confirmed = 0, discarded = 0, expired = 0, early_drops = 0,
           table_full = 0, invalid = 0;
};

struct CtEntryView {
  uint8_t proto;
  IpAddr orig_src, orig_dst;
  uint16_t orig_sport, orig_dport;  // ICMP echo: id, 0
  const char* state_name;           // "ESTABLISHED", "SYN_SENT", "UNREPLIED"... as conntrack -L
  bool assured, seen_reply;
  uint64_t expires_in_ns;
  uint64_t packets[2], bytes[2];    // [0] original, [1] reply
};

class Conntrack {
 public:
  explicit Conntrack(const CtConfig& cfg = {});
  ~Conntrack();
  Conntrack(const Conntrack&) = delete;
  Conntrack& operator=(const Conntrack&) = delete;

  // Track one packet (decoded; frame = the whole frame for checksum checks).
  // csum_partial: the frame's L4 checksum is known to be unfinished (offload), don't verify.
  // A fragment must not be passed here: pass the reassembled datagram instead.
  // lk: from prepare(d, lk) for this same `d` (or null): saves hashing the tuple again.
  CtResult track(const Decoded& d, std::span<const uint8_t> frame, uint64_t now_ns,
                 bool csum_partial = false, const CtLookup* lk = nullptr);
  // Optional, for batches: start loading the table lines track() will need for `d`, so the
  // memory latency of a batch's lookups overlaps (call for every frame of a batch after
  // decode, then track() each). No effect on results.
  void prefetch(const Decoded& d) const;
  // The same, in two stages with the hash kept: prepare() hashes `d`'s tuple and starts
  // loading its index bucket; prefetch_entry(), called once that line has had time to
  // arrive (after prepare() of the rest of the batch), starts loading the entries
  // the bucket names for the tuple. Hints only: the table may change in
  // between (track() of earlier frames) without any effect on results.
  void prepare(const Decoded& d, CtLookup& lk) const;
  // For batches: do the incremental expiry sweep of the next `packets` track() calls now,
  // in one pass, and skip it in those calls (a sweep per packet cost a branchy loop and a
  // line of the table each). No effect on verdicts: a lookup frees an expired entry it
  // meets whether or not the sweep reached it first.
  void sweep_ahead(uint64_t now_ns, uint32_t packets);
  // It keeps in lk.hint the slot it found, which express_peek() tries first.
  inline void prefetch_entry(CtLookup& lk) const;

  // The express path (the engine's steady state), in steps so the caller can check its
  // own conditions between them with nothing changed yet:
  //  - prepare(key, lk): as prepare(d, lk) for the (TCP or UDP) packet `key` was read from.
  //  - express_peek(): true when track() would take its plainest course for the packet
  //    `x` describes (see CtExpress): a live entry, TCP in state ESTABLISHED, and a ct
  //    state of ESTABLISHED before the window check. It changes nothing; it sets x.entry,
  //    x.reply and x.vc.
  //  - express_track(): then exactly what track() would do for the packet at now_ns, past
  //    the checks already made. Its state is ESTABLISHED, or INVALID when the TCP window
  //    check refuses the segment.
  // prepare(key), prefetch_entry() and these two are defined in
  // dataplane/conntrack/conntrack_impl.hpp, inline (they run once per frame): a caller
  // includes it.
  inline void prepare(const FlowKey& key, CtLookup& lk) const;
  inline bool express_peek(const CtLookup& lk, uint64_t now_ns, CtExpress& x);
  inline CtResult express_track(uint64_t now_ns, const CtExpress& x);

  // Keep (accepted) or discard (!accepted) an entry track() created. No-op if !r.pending.
  void confirm(const CtResult& r, bool accepted);

  // Verdict cache slot of an entry for one direction (reply = false: original).
  CtVerdictCache& verdict_cache(uint32_t entry, bool reply);
  // Empty every entry's verdict cache slots (O(capacity); for an owner whose cache tags wrap).
  void clear_verdict_caches();

  // Drop every entry whose timeout passed (also done incrementally inside track()).
  void expire(uint64_t now_ns);
  std::size_t size() const;
  std::size_t capacity() const;
  // Bytes of one entry, and of the whole table (entries, counters, index, free list):
  // fixed at construction, whatever the number of flows.
  static std::size_t entry_bytes();
  std::size_t memory_bytes() const;
  const CtStats& stats() const;
  const CtConfig& config() const;
  void for_each(uint64_t now_ns, const std::function<void(const CtEntryView&)>& fn) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tapwall
