// Live Port tests for both backends (AfPacket, Pcap) on veth pairs inside a namespace the
// test creates: RX of a peer's frame, TX to the peer, never reading back what leaves the
// port, VLAN tags kept in the bytes, ring drop counters, MTU refusals, and the offload
// cases of DESIGN.md §4: frames with unfinished checksums and TSO super-frames from a
// sender with offloads on are forwarded to a port without offload support as valid,
// MTU-sized segments.
#include <gtest/gtest.h>

#include <algorithm>

#include "netns_fixture.hpp"
#include "tapwall/port.hpp"
#include "test_frames.hpp"

namespace tapwall::test {
namespace {

std::string backend_name(const testing::TestParamInfo<PortBackend>& i) {
  return i.param == PortBackend::AfPacket ? "AfPacket" : "Pcap";
}

FrameSpec udp_spec(uint8_t seed, std::size_t payload = 100) {
  FrameSpec s;
  s.udp = true;
  s.payload = payload;
  s.fill_seed = seed;
  return s;
}

// A virtio_net_hdr in host (little-endian) order.
std::vector<uint8_t> vnet_hdr(uint8_t flags, uint8_t gso_type, uint16_t hdr_len, uint16_t gso_size,
                              uint16_t csum_start, uint16_t csum_offset) {
  std::vector<uint8_t> h(10);
  h[0] = flags;
  h[1] = gso_type;
  const uint16_t v[4] = {hdr_len, gso_size, csum_start, csum_offset};
  std::memcpy(&h[2], v, 8);
  return h;
}

// The frame as a CHECKSUM_PARTIAL sender hands it over: pseudo-header sum in the field.
void make_partial(Built& b, bool v6) {
  const uint32_t l4_len = uint32_t(b.bytes.size() - b.l4);
  uint32_t s = pseudo_sum(b.bytes, b.l3, v6, 6, l4_len);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  wr16(&b.bytes[b.l4 + 16], uint16_t(s));
}

// A frame predicate for rx_until: the bytes equal `want`.
auto equals(const std::vector<uint8_t>& want) {
  return [want](std::span<const uint8_t> b) {
    return std::equal(b.begin(), b.end(), want.begin(), want.end());
  };
}

class LivePort : public NetnsTest, public testing::WithParamInterface<PortBackend> {
 protected:
  std::unique_ptr<Port> open(const std::string& ifname, bool vnet = true, std::size_t ring = 0) {
    PortOptions o;
    o.name = ifname;
    o.backend = GetParam();
    o.vnet_hdr = vnet;
    o.ring_bytes = ring;
    return must_open(o);
  }
};

TEST_P(LivePort, ReceivesFrameSentByPeer) {
  veth("twp-a", "twp-b");
  auto port = open("twp-a");
  ASSERT_TRUE(port);
  EXPECT_EQ(port->name(), "twp-a");
  EXPECT_EQ(port->mtu(), 1500u);
  EXPECT_GT(port->ifindex(), 0);
  RawSock peer("twp-b");
  ASSERT_TRUE(peer.ok());
  const auto f = build_frame(udp_spec(1)).bytes;
  ASSERT_TRUE(peer.send(f));
  auto got = rx_until(*port, equals(f));
  ASSERT_TRUE(got) << "frame never arrived";
  EXPECT_GT(got->second.ts_ns, 0u);
  const PortStats st = port->stats();
  EXPECT_GE(st.rx_frames, 1u);
  EXPECT_GE(st.rx_bytes, f.size());
}

TEST_P(LivePort, TransmitsFrameToPeer) {
  veth("twp-a", "twp-b");
  auto port = open("twp-a");
  ASSERT_TRUE(port);
  RawSock peer("twp-b");
  const auto f = build_frame(udp_spec(2)).bytes;
  TxFrame tx{f, nullptr};
  TxStatus st[1];
  EXPECT_EQ(port->tx_burst({&tx, 1}, st), 1u);
  EXPECT_EQ(st[0], TxStatus::Sent);
  auto got = peer.collect([&](const auto& b) { return b == f; }, 1);
  EXPECT_EQ(got.size(), 1u);
  EXPECT_EQ(port->stats().tx_frames, 1u);
  EXPECT_EQ(port->stats().tx_bytes, f.size());
}

TEST_P(LivePort, NeverReceivesWhatLeavesThePort) {
  veth("twp-a", "twp-b");
  auto port = open("twp-a");
  ASSERT_TRUE(port);
  RawSock peer("twp-b");
  RawSock other_sender_on_a("twp-a");  // like the host sending out of the port
  const auto ours = build_frame(udp_spec(3)).bytes;
  const auto theirs = build_frame(udp_spec(4)).bytes;
  const auto marker = build_frame(udp_spec(5)).bytes;
  TxFrame tx{ours, nullptr};
  ASSERT_EQ(port->tx_burst({&tx, 1}), 1u);
  ASSERT_TRUE(other_sender_on_a.send(theirs));
  // Both really left through twp-a: the peer saw them.
  EXPECT_EQ(peer.collect([&](const auto& b) { return b == ours || b == theirs; }, 2).size(), 2u);
  // The marker is sent after them, so had they been captured they would come first.
  ASSERT_TRUE(peer.send(marker));
  std::vector<std::vector<uint8_t>> seen;
  ASSERT_TRUE(rx_until(*port, equals(marker), 3000, &seen));
  for (const auto& s : seen) {
    EXPECT_NE(s, ours) << "the port read back its own transmission";
    EXPECT_NE(s, theirs) << "the port read back another sender's outgoing frame";
  }
}

TEST_P(LivePort, VlanTagStaysInTheBytes) {
  veth("twp-a", "twp-b");
  auto port = open("twp-a");
  ASSERT_TRUE(port);
  RawSock peer("twp-b");
  FrameSpec s = udp_spec(6);
  s.vlan = 42;
  const auto f = build_frame(s).bytes;
  ASSERT_EQ(f[12], 0x81);
  ASSERT_TRUE(peer.send(f));
  auto got = rx_until(*port, [&](std::span<const uint8_t> b) { return b.size() >= f.size() - 4 && b[b.size() - 1] == f.back() && std::equal(b.end() - 50, b.end(), f.end() - 50); });
  ASSERT_TRUE(got);
  EXPECT_EQ(got->first, f);  // tag (TPID 0x8100, TCI 42) re-inserted where it was
}

TEST_P(LivePort, RingDropsAreCounted) {
  veth("twp-a", "twp-b");
  auto port = open("twp-a", true, 512 * 1024);  // small ring, and nobody reads it
  ASSERT_TRUE(port);
  RawSock peer("twp-b");
  const auto f = build_frame(udp_spec(7, 1000)).bytes;
  for (int i = 0; i < 3000; ++i) ASSERT_TRUE(peer.send(f));  // 3 MB, far beyond the ring
  const PortStats st = port->stats();
  EXPECT_GT(st.rx_ring_drops, 0u);
  // Drained afterwards, the port still works.
  ASSERT_TRUE(rx_until(*port, equals(f)));
}

TEST_P(LivePort, OversizedFrameThatCannotBeSegmentedIsRefused) {
  veth("twp-a", "twp-b");
  auto port = open("twp-a", false);
  ASSERT_TRUE(port);
  const auto big_udp = build_frame(udp_spec(8, 3000)).bytes;
  const auto small = build_frame(udp_spec(9)).bytes;
  TxFrame tx[2] = {{big_udp, nullptr}, {small, nullptr}};
  TxStatus st[2];
  EXPECT_EQ(port->tx_burst(tx, st), 1u);
  EXPECT_EQ(st[0], TxStatus::MtuExceeded);
  EXPECT_EQ(st[1], TxStatus::Sent);
  const PortStats s = port->stats();
  EXPECT_EQ(s.tx_mtu_refused, 1u);
  EXPECT_EQ(s.tx_drops, 1u);
  EXPECT_EQ(s.tx_frames, 1u);
}

// DESIGN.md §4 pitfall: a sender with TX checksum offload leaves the TCP checksum unfinished;
// forwarded to a port without offload support it must arrive completed.
TEST_P(LivePort, UnfinishedChecksumArrivesCompleted) {
  veth("twp-a", "twp-b");
  veth("twp-c", "twp-d");
  auto in = open("twp-a");
  auto out = open("twp-c", false);
  ASSERT_TRUE(in && out);
  RawSock sender("twp-b", true), receiver("twp-d");
  FrameSpec s;
  s.payload = 900;
  s.fill_seed = 10;
  Built b = build_frame(s);
  const auto good = b.bytes;
  make_partial(b, false);
  ASSERT_TRUE(sender.send(b.bytes, vnet_hdr(1, 0, 0, 0, uint16_t(b.l4), 16).data()));
  auto got = rx_until(*in, [&](std::span<const uint8_t> x) { return x.size() == good.size() && std::equal(x.end() - 100, x.end(), good.end() - 100); });
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->second.csum_partial) << "must never be judged INVALID for its checksum";
  TxFrame tx{got->first, &got->second.offload};
  ASSERT_EQ(out->tx_burst({&tx, 1}), 1u);
  auto r = receiver.collect([&](const auto& x) { return x.size() == good.size(); }, 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(checksums_ok(r[0], b.l3, false, false));
  EXPECT_EQ(r[0], good);
}

// A TSO super-frame from a peer with offloads on (veth tso/gso on, sent with a virtio GSO
// header) arrives whole; forwarded to a port without vnet headers it leaves as valid
// MTU-sized segments that reassemble to the original payload.
TEST_P(LivePort, SuperFrameIsSegmentedForAPortWithoutOffload) {
  veth("twp-a", "twp-b");
  veth("twp-c", "twp-d");
  auto in = open("twp-a");
  auto out = open("twp-c", false);
  ASSERT_TRUE(in && out);
  RawSock sender("twp-b", true), receiver("twp-d");
  FrameSpec s;
  s.payload = 20000;
  s.tcp_flags = 0x18;  // ACK PSH
  s.seq = 5000;
  Built b = build_frame(s);
  const auto orig = b.bytes;
  make_partial(b, false);
  const uint16_t hdr = uint16_t(b.payload_off);
  ASSERT_TRUE(sender.send(b.bytes, vnet_hdr(1, 1, hdr, 1448, uint16_t(b.l4), 16).data()));
  auto got = rx_until(*in, [&](std::span<const uint8_t> x) { return x.size() == orig.size(); });
  ASSERT_TRUE(got) << "super-frame did not arrive whole";
  const RxFrame& rx = got->second;
  EXPECT_TRUE(rx.csum_partial);
  if (GetParam() == PortBackend::AfPacket) {
    EXPECT_EQ(rx.offload.gso_type, GsoType::TcpV4);
    EXPECT_EQ(rx.offload.gso_size, 1448);
    EXPECT_TRUE(rx.offload.needs_csum());
    EXPECT_EQ(rx.offload.csum_start, b.l4);
    EXPECT_EQ(rx.offload.csum_offset, 16);
  }
  TxFrame tx{got->first, &rx.offload};
  TxStatus st[1];
  ASSERT_EQ(out->tx_burst({&tx, 1}, st), 1u);
  const std::size_t n = (s.payload + 1447) / 1448;
  auto segs = receiver.collect([&](const auto& x) { return x.size() > b.payload_off && x[b.l3 + 9] == 6; }, n);
  ASSERT_EQ(segs.size(), n);
  std::vector<uint8_t> payload;
  for (std::size_t k = 0; k < segs.size(); ++k) {
    const auto& g = segs[k];
    EXPECT_LE(g.size(), 1514u);
    EXPECT_TRUE(checksums_ok(g, b.l3, false, false)) << k;
    EXPECT_EQ(rd32(&g[b.l4 + 4]), s.seq + payload.size());
    EXPECT_EQ(bool(g[b.l4 + 13] & 0x08), k + 1 == n);  // PSH on the last only
    payload.insert(payload.end(), g.begin() + long(b.payload_off), g.end());
  }
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), orig.begin() + long(b.payload_off), orig.end()));
  const PortStats os = out->stats();
  EXPECT_EQ(os.tx_segmented, 1u);
  EXPECT_EQ(os.tx_segments, n);
}

INSTANTIATE_TEST_SUITE_P(Backends, LivePort, testing::Values(PortBackend::AfPacket, PortBackend::Pcap),
                         backend_name);

// AF_PACKET with vnet headers on both ports: the super-frame and its metadata pass through
// intact (the kernel, or a VM, does the segmentation) — DESIGN.md §4 "seen working here".
class AfPacketVnet : public NetnsTest {
 protected:
  static std::unique_ptr<Port> open(const std::string& ifname) {
    PortOptions o;
    o.backend = PortBackend::AfPacket;
    o.name = ifname;
    return must_open(o);
  }
};

TEST_F(AfPacketVnet, SuperFramePassesThroughWithMetadata) {
  veth("twp-a", "twp-b");
  veth("twp-c", "twp-d");
  auto in = open("twp-a");
  auto out = open("twp-c");
  ASSERT_TRUE(in && out);
  EXPECT_TRUE(out->tx_offload());
  RawSock sender("twp-b", true), receiver("twp-d", true);
  FrameSpec s;
  s.payload = 30000;
  Built b = build_frame(s);
  make_partial(b, false);
  ASSERT_TRUE(sender.send(b.bytes, vnet_hdr(1, 1, uint16_t(b.payload_off), 1448, uint16_t(b.l4), 16).data()));
  auto got = rx_until(*in, [&](std::span<const uint8_t> x) { return x.size() == b.bytes.size(); });
  ASSERT_TRUE(got);
  TxFrame tx{got->first, &got->second.offload};
  ASSERT_EQ(out->tx_burst({&tx, 1}), 1u);
  std::vector<uint8_t> h;
  std::optional<std::vector<uint8_t>> r;
  while ((r = receiver.recv(2000, &h)) && r->size() != b.bytes.size()) {
  }
  ASSERT_TRUE(r) << "super-frame not received whole";
  EXPECT_EQ(*r, b.bytes);
  ASSERT_EQ(h.size(), 10u);
  EXPECT_EQ(h[1] & 0x7f, 1);  // GSO TCPV4
  uint16_t gso_size;
  std::memcpy(&gso_size, &h[4], 2);
  EXPECT_EQ(gso_size, 1448);
  EXPECT_EQ(out->stats().tx_segmented, 0u);
}

// The kernel's csum_start counts from the frame without the VLAN tag it stripped; after
// re-insertion the port's offsets must point at the same bytes.
TEST_F(AfPacketVnet, OffsetsFollowTheReinsertedVlanTag) {
  veth("twp-a", "twp-b");
  auto in = open("twp-a");
  ASSERT_TRUE(in);
  RawSock sender("twp-b", true);
  FrameSpec s;
  s.vlan = 7;
  s.payload = 500;
  Built b = build_frame(s);
  make_partial(b, false);
  ASSERT_TRUE(sender.send(b.bytes, vnet_hdr(1, 0, 0, 0, uint16_t(b.l4), 16).data()));
  auto got = rx_until(*in, [&](std::span<const uint8_t> x) { return x.size() == b.bytes.size(); });
  ASSERT_TRUE(got);
  EXPECT_EQ(got->first, b.bytes);
  EXPECT_TRUE(got->second.offload.needs_csum());
  EXPECT_EQ(got->second.offload.csum_start, b.l4);  // 14 + 4 + 20
  EXPECT_EQ(got->second.offload.csum_offset, 16);
}

// A frame larger than a ring slot is read whole from the socket queue: in its place among
// the slotted frames, VLAN tag re-inserted and offsets shifted, as a slotted frame would be.
TEST_F(AfPacketVnet, FrameLargerThanASlotKeepsItsPlaceTagAndOffsets) {
  veth("twp-a", "twp-b");
  auto in = open("twp-a");
  ASSERT_TRUE(in);
  RawSock sender("twp-b", true);
  FrameSpec small;
  small.udp = true;
  small.fill_seed = 1;
  const Built before = build_frame(small);
  small.fill_seed = 2;
  const Built after = build_frame(small);
  FrameSpec s;
  s.vlan = 9;
  s.payload = 20000;
  Built big = build_frame(s);
  make_partial(big, false);
  const auto no_offload = vnet_hdr(0, 0, 0, 0, 0, 0);
  ASSERT_TRUE(sender.send(before.bytes, no_offload.data()));
  ASSERT_TRUE(sender.send(big.bytes, vnet_hdr(1, 1, uint16_t(big.payload_off), 1448,
                                              uint16_t(big.l4), 16).data()));
  ASSERT_TRUE(sender.send(after.bytes, no_offload.data()));
  std::vector<std::vector<uint8_t>> seen;
  auto got = rx_until(*in, [&](std::span<const uint8_t> x) { return x.size() == big.bytes.size(); },
                      3000, &seen);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->first, big.bytes);
  EXPECT_TRUE(got->second.offload.is_gso());
  EXPECT_EQ(got->second.offload.gso_size, 1448);
  EXPECT_EQ(got->second.offload.csum_start, big.l4);  // 14 + 4 + 20: counted with the tag
  auto pos = [&](const std::vector<uint8_t>& f) {
    return std::size_t(std::find(seen.begin(), seen.end(), f) - seen.begin());
  };
  if (pos(after.bytes) == seen.size()) {  // not in the big frame's burst
    ASSERT_TRUE(rx_until(*in, equals(after.bytes), 3000, &seen));
  }
  EXPECT_LT(pos(before.bytes), pos(big.bytes));
  EXPECT_LT(pos(big.bytes), pos(after.bytes));
  EXPECT_LT(pos(after.bytes), seen.size());
  EXPECT_EQ(in->stats().rx_truncated, 0u);
}

// More large frames than one burst's scratch holds: the rest wait in their slots for the
// next burst, none lost or reordered.
TEST_F(AfPacketVnet, ManyLargeFramesArriveInOrderOverSeveralBursts) {
  veth("twp-a", "twp-b");
  auto in = open("twp-a");
  ASSERT_TRUE(in);
  RawSock sender("twp-b", true);
  constexpr int kFrames = 40;  // 40 x 60 KB: several times the per-burst scratch
  std::vector<std::vector<uint8_t>> sent;
  for (int i = 0; i < kFrames; ++i) {
    FrameSpec s;
    s.payload = 60000;
    s.seq = uint32_t(1000 + i * 60000);
    s.fill_seed = uint8_t(i);
    Built b = build_frame(s);
    make_partial(b, false);
    ASSERT_TRUE(sender.send(b.bytes, vnet_hdr(1, 1, uint16_t(b.payload_off), 1448,
                                              uint16_t(b.l4), 16).data()));
    sent.push_back(b.bytes);
  }
  std::vector<std::vector<uint8_t>> seen;
  ASSERT_TRUE(rx_until(*in, equals(sent.back()), 5000, &seen));
  std::vector<std::vector<uint8_t>> large;
  for (auto& f : seen)
    if (f.size() > 2048) large.push_back(f);
  EXPECT_EQ(large, sent);
  EXPECT_EQ(in->stats().rx_truncated, 0u);
}

TEST_F(AfPacketVnet, OpenErrorsAreClassified) {
  PortOptions o;
  o.backend = PortBackend::AfPacket;
  o.name = "twp-nosuch";
  auto r = open_port(o);
  ASSERT_TRUE(std::holds_alternative<PortError>(r));
  EXPECT_EQ(std::get<PortError>(r).kind, PortError::NoSuchInterface);
  o.backend = PortBackend::Pcap;
  r = open_port(o);
  ASSERT_TRUE(std::holds_alternative<PortError>(r));
  EXPECT_EQ(std::get<PortError>(r).kind, PortError::NoSuchInterface);
}

}  // namespace
}  // namespace tapwall::test
