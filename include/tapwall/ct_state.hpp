// Connection-tracking state of one packet, as iptables' `-m state` / `--ctstate` sees it.
// Invariants: the bit values are the ones CtStateMask uses, so a state tests against a
// mask with one AND. kNone is for frames that are not IP (ARP, other ethertypes).
// Thread-safety: constants only.
#pragma once

#include <cstdint>
#include <string_view>

namespace tapwall {

enum class CtState : uint8_t {
  None = 0,
  New = 1 << 0,
  Established = 1 << 1,
  Related = 1 << 2,
  Invalid = 1 << 3,
  Untracked = 1 << 4,
};

using CtStateMask = uint8_t;  // OR of CtState bits

constexpr CtStateMask ct_bit(CtState s) { return static_cast<CtStateMask>(s); }

constexpr std::string_view ct_state_name(CtState s) {
  switch (s) {
    case CtState::New: return "NEW";
    case CtState::Established: return "ESTABLISHED";
    case CtState::Related: return "RELATED";
    case CtState::Invalid: return "INVALID";
    case CtState::Untracked: return "UNTRACKED";
    case CtState::None: break;
  }
  return "";
}

}  // namespace tapwall
