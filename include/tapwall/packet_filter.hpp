// PacketFilter: a pcap filter expression ("tcp port 80", "host 192.0.2.2 and not arp"),
// compiled once with libpcap for Ethernet frames, then matched against frames.
// Purpose: select frames for `trace` and `dump` with the syntax tcpdump users know.
// Invariants: immutable after compile(); matches() reads only the frame it is given.
// Thread-safety: matches() is const and may run on any thread concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <variant>

namespace tapwall {

class PacketFilter {
 public:
  // The error is libpcap's message about the expression.
  static std::variant<std::shared_ptr<const PacketFilter>, std::string> compile(const std::string& expr);
  ~PacketFilter();
  bool matches(std::span<const uint8_t> frame) const;
  const std::string& expression() const { return expr_; }

 private:
  PacketFilter() = default;
  struct Program;
  std::unique_ptr<Program> prog_;
  std::string expr_;
};

}  // namespace tapwall
