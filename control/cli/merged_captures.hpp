// MergedCaptures: frames of several capture files, each arriving on a named port, merged
// by timestamp (ties: the order the inputs were given, then file order) — how `replay` and
// `bench` see their --in NAME=FILE inputs.
// Invariants: a frame returned by next() stays valid until the following next() call of
// the same input (each input keeps one lookahead copy).
// Thread-safety: single-threaded.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tapwall/capture_file.hpp"
#include "tapwall/policy.hpp"

namespace tapwall::control {

struct MergedFrame {
  std::span<const uint8_t> bytes;
  PortId port = kNoPort;
  uint64_t ts_ns = 0;
  uint32_t input = 0;   // index of the --in spec
  uint64_t number = 0;  // 1-based frame number in its own file
};

class MergedCaptures {
 public:
  // specs are "NAME=FILE"; NAME must be one of ports. Returns "" or an error message;
  // `file_error` tells whether the error is about opening a file (vs. usage).
  std::string open(const std::vector<std::string>& specs, const std::vector<PortDesc>& ports,
                   bool& file_error);
  // The earliest pending frame, or false at the end of every input.
  bool next(MergedFrame& out);

 private:
  struct Input {
    PortId port = kNoPort;
    std::unique_ptr<CaptureReader> reader;
    bool has_next = false;
    bool consumed = false;  // the lookahead was handed out: read a new one first
    uint64_t ts_ns = 0, number = 0;
    std::vector<uint8_t> bytes;
    void advance();
  };
  std::vector<Input> inputs_;
};

}  // namespace tapwall::control
