// MAC sync; see include/tapwall/mac_sync.hpp.
#include "tapwall/mac_sync.hpp"

#include "tapwall/engine.hpp"

namespace tapwall {

MacSyncMesh::MacSyncMesh(uint32_t workers, std::size_t events_per_ring) : n_(workers) {
  rings_.resize(std::size_t(n_) * n_);
  for (uint32_t f = 0; f < n_; ++f)
    for (uint32_t t = 0; t < n_; ++t)
      if (f != t) rings_[f * n_ + t] = std::make_unique<SpscRing<MacEvent>>(events_per_ring);
}

namespace {
MacTableConfig told_config(MacTableConfig c, uint64_t refresh_ns) {
  c.ageing_ns = refresh_ns;  // an announcement this old is due again
  return c;
}
}  // namespace

MacAnnouncer::MacAnnouncer(uint32_t self, MacSyncMesh& mesh, const MacTableConfig& table,
                           uint64_t refresh_ns)
    : self_(self), mesh_(mesh), refresh_ns_(refresh_ns), told_(told_config(table, refresh_ns)) {}

void MacAnnouncer::learned(const MacAddr& mac, PortId port, uint64_t ts_ns) {
  // The common case, a known station on its known port announced less than refresh_ns ago:
  // one table probe and nothing else.
  if (told_.lookup(mac, ts_ns) == port) return;
  const MacEvent ev{mac, port, ts_ns};
  bool all = true;
  for (uint32_t to = 0; to < mesh_.workers(); ++to) {
    if (to == self_) continue;
    SpscRing<MacEvent>& r = mesh_.ring(self_, to);
    if (MacEvent* slot = r.claim()) {
      *slot = ev;
      r.publish();
      ++st_.sent;
    } else {
      ++st_.lost;
      all = false;
    }
  }
  if (all) told_.learn(mac, port, ts_ns);  // else the next frame tries again
}

std::size_t MacAnnouncer::apply(Engine& engine) {
  std::size_t n = 0;
  for (uint32_t from = 0; from < mesh_.workers(); ++from) {
    if (from == self_) continue;
    SpscRing<MacEvent>& r = mesh_.ring(from, self_);
    while (const MacEvent* ev = r.front()) {
      MacEntryView known;
      if (engine.mac_table().find(ev->mac, ev->ts_ns, known) &&
          known.last_seen_ns > ev->ts_ns) {
        ++st_.stale;  // this engine has seen the station since: keep what it knows
      } else {
        engine.learn_station(ev->mac, ev->port, ev->ts_ns);
        told_.learn(ev->mac, ev->port, ev->ts_ns);
        ++st_.applied;
      }
      r.pop();
      ++n;
    }
  }
  return n;
}

}  // namespace tapwall
