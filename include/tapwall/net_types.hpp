// Basic network value types shared by every module: MAC and IP addresses, port ids,
// big-endian load helpers.
// Invariants: IpAddr always holds 16 bytes; an IPv4 address is stored IPv4-mapped
// (::ffff:a.b.c.d) so one type serves both families and compares bytewise.
// Thread-safety: value types only.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

namespace tapwall {

// Index of a bridge port in the engine's port list. Small so bitmasks of ports fit a word.
using PortId = uint8_t;
inline constexpr PortId kMaxPorts = 32;
inline constexpr PortId kNoPort = 0xff;
using PortMask = uint32_t;
static_assert(kMaxPorts <= sizeof(PortMask) * 8);

enum class PortRole : uint8_t { Uplink, Vm, Host };

inline uint16_t load_be16(const uint8_t* p) { return uint16_t((p[0] << 8) | p[1]); }
inline uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

struct MacAddr {
  std::array<uint8_t, 6> b{};
  bool is_multicast() const { return b[0] & 1; }  // includes broadcast
  bool is_zero() const { return (b[0] | b[1] | b[2] | b[3] | b[4] | b[5]) == 0; }
  bool is_broadcast() const { return (b[0] & b[1] & b[2] & b[3] & b[4] & b[5]) == 0xff; }
  // Two loads the compiler turns into byte swaps, not six shifts (it keys every MAC lookup).
  uint64_t as_u64() const { return uint64_t{load_be32(&b[0])} << 16 | load_be16(&b[4]); }
  static MacAddr from_bytes(const uint8_t* p) {
    MacAddr m;
    std::memcpy(m.b.data(), p, 6);
    return m;
  }
  friend bool operator==(const MacAddr&, const MacAddr&) = default;
  std::string to_string() const;  // "aa:bb:cc:dd:ee:ff"
};

struct IpAddr {
  std::array<uint8_t, 16> b{};
  static IpAddr from_v4(const uint8_t* p) {
    IpAddr a;
    a.b[10] = 0xff;
    a.b[11] = 0xff;
    std::memcpy(&a.b[12], p, 4);
    return a;
  }
  static IpAddr from_v4_host(uint32_t v) {
    uint8_t p[4] = {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
    return from_v4(p);
  }
  static IpAddr from_v6(const uint8_t* p) {
    IpAddr a;
    std::memcpy(a.b.data(), p, 16);
    return a;
  }
  bool is_v4_mapped() const {
    static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(b.data(), kPrefix, 12) == 0;
  }
  uint32_t v4_host() const {
    return (uint32_t{b[12]} << 24) | (uint32_t{b[13]} << 16) | (uint32_t{b[14]} << 8) | b[15];
  }
  friend bool operator==(const IpAddr&, const IpAddr&) = default;
  std::string to_string() const;  // dotted quad for v4-mapped, RFC 5952 otherwise
};

inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}

inline constexpr uint16_t kEthTypeIpv4 = 0x0800;
inline constexpr uint16_t kEthTypeArp = 0x0806;
inline constexpr uint16_t kEthTypeVlan = 0x8100;
inline constexpr uint16_t kEthTypeQinQ = 0x88a8;
inline constexpr uint16_t kEthTypeIpv6 = 0x86dd;

inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIcmpv6 = 58;

}  // namespace tapwall
