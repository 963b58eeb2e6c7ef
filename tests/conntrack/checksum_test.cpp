// Checksum verification on real bytes: a TCP SYN (MSS, SACK-permitted, timestamps, window
// scale 7) whose checksums were computed independently of tapwall. A correct checksum is
// tracked, any corrupted byte makes it INVALID and creates nothing, unless the frame's
// checksum is known to be partial (offload) or checking is off.
#include <gtest/gtest.h>

#include <vector>

#include "ct_test_util.hpp"

namespace tapwall::test {
namespace {

const std::vector<uint8_t> kSyn = {
    0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc, 0x52, 0x54, 0x00, 0x11, 0x22, 0x33, 0x08, 0x00, 0x45,
    0x00, 0x00, 0x3c, 0x42, 0x42, 0x40, 0x00, 0x40, 0x06, 0x82, 0xda, 0xc0, 0xa8, 0x7a, 0x01,
    0xc0, 0xa8, 0x7a, 0x4d, 0xc8, 0x22, 0x01, 0xbb, 0x1a, 0x2b, 0x3c, 0x4d, 0x00, 0x00, 0x00,
    0x00, 0xa0, 0x02, 0xfa, 0xf0, 0x82, 0xb1, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02,
    0x08, 0x0a, 0x00, 0x12, 0x34, 0x56, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07};

Decoded decoded_syn() {
  Decoded d;
  d.ethertype = kEthTypeIpv4;
  d.l3_off = 14;
  d.l3 = L3Kind::Ipv4;
  d.src_ip = v4(192, 168, 122, 1);
  d.dst_ip = v4(192, 168, 122, 77);
  d.ip_proto = kProtoTcp;
  d.ttl = 64;
  d.ip_end = 74;
  d.l4_off = 34;
  d.l4_ok = true;
  d.sport = 51234;
  d.dport = 443;
  d.l4_payload_off = 74;
  d.tcp_flags = kTcpSyn;
  d.tcp_doff = 40;
  d.tcp_seq = 0x1a2b3c4d;
  d.tcp_window = 64240;
  d.tcp_wscale = 7;
  d.tcp_sack_perm = true;
  d.tcp_mss = 1460;
  return d;
}

TEST(Checksum, RealSynWithCorrectChecksumIsTracked) {
  Conntrack ct(test_cfg());
  const CtResult r = ct.track(decoded_syn(), kSyn, kSec);
  EXPECT_EQ(r.state, CtState::New);
  ct.confirm(r, true);
  EXPECT_EQ(find_entry(ct, kSec, v4(192, 168, 122, 1), kProtoTcp, 51234).state, "SYN_SENT");
}

TEST(Checksum, AnyCorruptedTcpByteIsInvalid) {
  for (std::size_t at = 34; at < kSyn.size(); ++at) {
    if (at == 46 || at == 47) continue;  // data offset / flags: judged invalid otherwise
    std::vector<uint8_t> f = kSyn;
    f[at] ^= 0x01;
    Conntrack ct(test_cfg());
    Decoded d = decoded_syn();
    // Keep the Decoded in step with the corrupted header fields the tracker reads.
    if (at >= 34 && at < 36) d.sport ^= (at == 34 ? 0x100 : 0x1);
    if (at >= 36 && at < 38) d.dport ^= (at == 36 ? 0x100 : 0x1);
    const CtResult r = ct.track(d, f, kSec);
    EXPECT_EQ(r.state, CtState::Invalid) << "byte " << at;
    EXPECT_EQ(ct.size(), 0u);
  }
}

TEST(Checksum, PseudoHeaderIsCovered) {
  // The same segment claimed to come from another address fails the pseudo-header sum.
  std::vector<uint8_t> f = kSyn;
  f[29] ^= 0x02;  // IPv4 source, last byte
  Decoded d = decoded_syn();
  d.src_ip = v4(192, 168, 122, 3);
  Conntrack ct(test_cfg());
  EXPECT_EQ(ct.track(d, f, kSec).state, CtState::Invalid);
}

TEST(Checksum, PartialOrDisabledChecksumIsNotJudged) {
  std::vector<uint8_t> f = kSyn;
  f[50] = 0x12;  // what an offloading sender leaves: not the final checksum
  f[51] = 0x34;
  {
    Conntrack ct(test_cfg());
    EXPECT_EQ(ct.track(decoded_syn(), f, kSec).state, CtState::Invalid);
    EXPECT_EQ(ct.track(decoded_syn(), f, kSec, /*csum_partial=*/true).state, CtState::New);
  }
  {
    CtConfig cfg = test_cfg();
    cfg.checksum = false;
    Conntrack ct(cfg);
    EXPECT_EQ(ct.track(decoded_syn(), f, kSec).state, CtState::New);
  }
}

TEST(Checksum, WindowScaleOptionIsReadFromTheRealSyn) {
  // The SYN offers scale 7; a SYN/ACK offering 7 too makes the server's window 2^7 wider.
  Conntrack ct(test_cfg());
  ct.confirm(ct.track(decoded_syn(), kSyn, kSec), true);
  const IpAddr c = v4(192, 168, 122, 1), s = v4(192, 168, 122, 77);
  pass(ct, tcp(s, c, 443, 51234, kTcpSyn | kTcpAck, 900, 0x1a2b3c4e, 1000, 0, {1, 3, 3, 7}), kSec);
  pass(ct, tcp(c, s, 51234, 443, kTcpAck, 0x1a2b3c4e, 901, 500), kSec);
  pass(ct, tcp(s, c, 443, 51234, kTcpAck, 901, 0x1a2b3c4e, 1000), kSec);
  // 100000 bytes ahead: within 1000 << 7 = 128000, beyond an unscaled 1000.
  EXPECT_EQ(pass(ct, tcp(c, s, 51234, 443, kTcpAck, 0x1a2b3c4e + 100000, 901, 500, 10), kSec).state,
            CtState::Established);
}

}  // namespace
}  // namespace tapwall::test
