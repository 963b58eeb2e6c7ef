// MAC sync: one learning table per data-path worker, kept in agreement without a lock.
// Purpose: with several workers, each engine learns only from the frames it judges; a
// station learned by one worker must be known to all, or frames to it are flooded by the
// others and `same_port` drops differ by worker.
// Scheme: each worker announces, through one SPSC ring per (from, to) pair, (station,
// VLAN, port, time) when a frame it judged (and its engine learned from) shows a station it
// has not announced, or on another port than last announced, or when its last announcement
// is older than the refresh interval (30 s, well inside the 300 s ageing). Every worker
// applies the others' announcements at the start of each round, before judging frames, as
// if the frame had arrived itself (Engine::learn_station). What a worker was last told or
// told the others about a station (`told_`) is shared by both directions, so a station that
// moves back and forth between workers is announced on every move. An announcement older
// than what the receiver already knows about the station (its timestamp) is ignored, so a
// late event cannot undo a newer move.
// Staleness bound: a worker sees another's learning from the end of that worker's batch,
// at its next round (sub-millisecond under load; a worker idle in poll() applies them before
// it judges the frame that woke it). A station heard only by one worker is refreshed
// elsewhere at least every 30 s while it sends; the others may age it out up to 30 s before
// the worker that hears it does.
// Bounds: each ring holds a fixed number of events; an event that finds a ring full is
// counted (`lost`) and not marked announced, so the station's next frame announces it again.
// Thread-safety: MacSyncMesh is shared; MacAnnouncer(self) is used only by worker `self`
// (announce from its frames, apply into its engine).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "tapwall/mac_table.hpp"
#include "tapwall/net_types.hpp"
#include "tapwall/spsc_ring.hpp"

namespace tapwall {

class Engine;

struct MacEvent {
  MacAddr mac;
  PortId port = kNoPort;
  uint64_t ts_ns = 0;
};

// The N x (N-1) rings between workers.
class MacSyncMesh {
 public:
  MacSyncMesh(uint32_t workers, std::size_t events_per_ring = 4096);
  uint32_t workers() const { return n_; }
  SpscRing<MacEvent>& ring(uint32_t from, uint32_t to) { return *rings_[from * n_ + to]; }

 private:
  uint32_t n_;
  std::vector<std::unique_ptr<SpscRing<MacEvent>>> rings_;  // [from * n + to], null on the diagonal
};

struct MacSyncStats {
  uint64_t sent = 0;     // announcements queued (one per receiving worker)
  uint64_t lost = 0;     // announcements that found a ring full
  uint64_t applied = 0;  // others' announcements applied to this worker's engine
  uint64_t stale = 0;    // others' announcements older than what was known: ignored
};

class MacAnnouncer {
 public:
  static constexpr uint64_t kRefreshNs = 30ull * 1000000000ull;
  MacAnnouncer(uint32_t self, MacSyncMesh& mesh, const MacTableConfig& table,
               uint64_t refresh_ns = kRefreshNs);

  // This worker's engine learned `mac` on `port` from a frame stamped ts_ns.
  void learned(const MacAddr& mac, PortId port, uint64_t ts_ns);
  // Applies every queued announcement of the others to `engine`; returns how many.
  std::size_t apply(Engine& engine);
  const MacSyncStats& stats() const { return st_; }

 private:
  uint32_t self_;
  MacSyncMesh& mesh_;
  uint64_t refresh_ns_;
  MacTable told_;  // last announcement per station, ageing = refresh interval
  MacSyncStats st_;
};

}  // namespace tapwall
