// Wire formats: packed on-the-wire header layouts and a bounds-checked header accessor.
// Purpose: decode and the port backends read headers through these structs instead of raw
// offset arithmetic, so every field's width and byte order is written down once.
// Invariants: every struct is a packed POD whose size is asserted; multi-byte fields are
// Be16/Be32 (network byte order), read with .get(); alignment is 1, so a struct may be
// overlaid at any byte of a frame. header<T>(bytes, off) returns nullptr unless all of
// sizeof(T) bytes lie inside `bytes` — that check is the only way decode reaches a header.
// Thread-safety: types and pure functions only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

namespace tapwall {

// Big-endian 16/32-bit fields. Byte arrays, not integers, so they never need alignment and
// a host-order value can never be read by accident.
struct Be16 {
  uint8_t b[2];
  constexpr uint16_t get() const { return uint16_t((b[0] << 8) | b[1]); }
  constexpr void set(uint16_t v) {
    b[0] = uint8_t(v >> 8);
    b[1] = uint8_t(v);
  }
};
struct Be32 {
  uint8_t b[4];
  constexpr uint32_t get() const {
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  }
  constexpr void set(uint32_t v) {
    b[0] = uint8_t(v >> 24);
    b[1] = uint8_t(v >> 16);
    b[2] = uint8_t(v >> 8);
    b[3] = uint8_t(v);
  }
};
static_assert(sizeof(Be16) == 2 && alignof(Be16) == 1);
static_assert(sizeof(Be32) == 4 && alignof(Be32) == 1);

#pragma pack(push, 1)

struct EthHeader {
  uint8_t dst[6];
  uint8_t src[6];
  Be16 type;
};

// The 4 bytes a VLAN tag inserts: TCI, then the next (inner) ethertype.
struct VlanTag {
  Be16 tci;  // PCP(3) DEI(1) VID(12)
  Be16 type;
  uint16_t vid() const { return tci.get() & 0x0fff; }
};

// ARP fixed part (RFC 826); the address fields follow with the lengths it names.
struct ArpHeader {
  Be16 htype;
  Be16 ptype;
  uint8_t hlen;
  uint8_t plen;
  Be16 oper;
};

// ARP for Ethernet/IPv4, the only form on an Ethernet bridge in practice.
struct ArpEthIpv4 {
  ArpHeader h;
  uint8_t sha[6];
  uint8_t spa[4];
  uint8_t tha[6];
  uint8_t tpa[4];
};

struct Ipv4Header {
  uint8_t ver_ihl;  // version(4) IHL(4, in 32-bit words)
  uint8_t tos;
  Be16 total_len;
  Be16 id;
  Be16 frag;  // flags(3: reserved, DF, MF) offset(13, in 8-byte units)
  uint8_t ttl;
  uint8_t proto;
  Be16 checksum;
  uint8_t src[4];
  uint8_t dst[4];
  unsigned version() const { return ver_ihl >> 4; }
  unsigned header_len() const { return (ver_ihl & 0x0f) * 4u; }
};
inline constexpr uint16_t kIpv4FlagMf = 0x2000;
inline constexpr uint16_t kIpv4FlagDf = 0x4000;
inline constexpr uint16_t kIpv4FragOffsetMask = 0x1fff;

struct Ipv6Header {
  Be32 ver_tc_flow;  // version(4) traffic class(8) flow label(20)
  Be16 payload_len;
  uint8_t next;
  uint8_t hop_limit;
  uint8_t src[16];
  uint8_t dst[16];
  unsigned version() const { return ver_tc_flow.b[0] >> 4; }
};

// Common start of Hop-by-Hop, Routing, Destination Options, Mobility and AH headers.
struct Ipv6ExtHeader {
  uint8_t next;
  uint8_t len;  // units depend on the header: 8 bytes (+1), or 4 bytes (+2) for AH
};

struct Ipv6FragHeader {
  uint8_t next;
  uint8_t reserved;
  Be16 offset_flags;  // offset(13, in 8-byte units) res(2) M(1)
  Be32 id;
};

inline constexpr uint8_t kIp6HopByHop = 0;
inline constexpr uint8_t kIp6Routing = 43;
inline constexpr uint8_t kIp6Fragment = 44;
inline constexpr uint8_t kIp6Esp = 50;
inline constexpr uint8_t kIp6Auth = 51;
inline constexpr uint8_t kIp6NoNext = 59;
inline constexpr uint8_t kIp6DestOpts = 60;
inline constexpr uint8_t kIp6Mobility = 135;

struct TcpHeader {
  Be16 sport;
  Be16 dport;
  Be32 seq;
  Be32 ack;
  uint8_t doff_res;  // data offset(4, in 32-bit words) reserved(3) AE(1)
  uint8_t flags;
  Be16 window;
  Be16 checksum;
  Be16 urgent;
  unsigned header_len() const { return (doff_res >> 4) * 4u; }
};

struct UdpHeader {
  Be16 sport;
  Be16 dport;
  Be16 len;
  Be16 checksum;
};

// ICMP and ICMPv6 share this 8-byte layout; `rest` is id+seq for echo, unused/MTU/pointer
// for errors.
struct IcmpHeader {
  uint8_t type;
  uint8_t code;
  Be16 checksum;
  Be16 id;
  Be16 seq;
};

#pragma pack(pop)

static_assert(sizeof(EthHeader) == 14);
static_assert(sizeof(VlanTag) == 4);
static_assert(sizeof(ArpHeader) == 8);
static_assert(sizeof(ArpEthIpv4) == 28);
static_assert(sizeof(Ipv4Header) == 20);
static_assert(sizeof(Ipv6Header) == 40);
static_assert(sizeof(Ipv6ExtHeader) == 2);
static_assert(sizeof(Ipv6FragHeader) == 8);
static_assert(sizeof(TcpHeader) == 20);
static_assert(sizeof(UdpHeader) == 8);
static_assert(sizeof(IcmpHeader) == 8);

// The header of type T at `off`, or nullptr when fewer than sizeof(T) bytes remain.
// Overlaying a packed, alignment-1 POD on frame bytes is how every C network stack reads
// headers; the structs contain only byte arrays, so no misaligned integer load happens.
template <typename T>
inline const T* header(std::span<const uint8_t> bytes, std::size_t off) {
  static_assert(std::is_trivially_copyable_v<T> && alignof(T) == 1);
  if (off > bytes.size() || bytes.size() - off < sizeof(T)) return nullptr;
  return reinterpret_cast<const T*>(bytes.data() + off);
}

template <typename T>
inline T* header(std::span<uint8_t> bytes, std::size_t off) {
  static_assert(std::is_trivially_copyable_v<T> && alignof(T) == 1);
  if (off > bytes.size() || bytes.size() - off < sizeof(T)) return nullptr;
  return reinterpret_cast<T*>(bytes.data() + off);
}

}  // namespace tapwall
