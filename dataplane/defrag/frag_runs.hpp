// FragRuns: the byte ranges a datagram's held fragments cover, grouped into the kernel's
// "runs", to classify a new fragment as new data, a duplicate or an overlap.
// Purpose: Linux (inet_frag_queue_insert, since 4.19) treats a fragment lying entirely inside
// one run as a harmless duplicate and any other intersection as an overlap that kills the
// datagram. A run grows only when a fragment starts exactly where the highest held fragment
// ends; any other fragment starts a run of its own. Modelling runs (not just coverage) is
// what makes tapwall's verdicts match the kernel's for the same arrival order.
// Invariants: runs are sorted by start, disjoint; the last run has the highest end; at most
// one run per held fragment. Pure functions over caller-owned storage.
// Thread-safety: none needed (no state of its own).
#pragma once

#include <cstdint>

namespace tapwall::defrag_detail {

struct Run {
  uint32_t start, end;  // [start, end) in datagram payload bytes
};

enum class RunFit : uint8_t { New, Duplicate, Overlap };

inline RunFit classify_run(const Run* runs, uint32_t n, uint32_t off, uint32_t end) {
  if (n == 0) return RunFit::New;
  const uint32_t tail_end = runs[n - 1].end;
  if (end > tail_end) return off < tail_end ? RunFit::Overlap : RunFit::New;
  for (uint32_t i = 0; i < n; ++i) {
    const Run& r = runs[i];
    if (end <= r.start || off >= r.end) continue;
    return (off >= r.start && end <= r.end) ? RunFit::Duplicate : RunFit::Overlap;
  }
  return RunFit::New;
}

// Records [off, end) after classify_run returned New; `n` grows by at most one.
inline void insert_run(Run* runs, uint32_t& n, uint32_t off, uint32_t end) {
  if (n > 0 && off == runs[n - 1].end) {  // back-to-back with the tail: the run grows
    runs[n - 1].end = end;
    return;
  }
  uint32_t i = n;
  while (i > 0 && runs[i - 1].start > off) {
    runs[i] = runs[i - 1];
    --i;
  }
  runs[i] = Run{off, end};
  ++n;
}

}  // namespace tapwall::defrag_detail
