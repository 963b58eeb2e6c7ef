// Tap tests, in a namespace the test creates: the host port (a tap tapwall owns) passes
// frames both ways between its fd and the tap interface, with offload metadata; persistent
// taps outlive their fd and can be removed; netdev helpers act on real devices.
#include <gtest/gtest.h>

#include "netns_fixture.hpp"
#include "tapwall/port_netdev.hpp"
#include "tapwall/port_tap.hpp"
#include "test_frames.hpp"

namespace tapwall::test {
namespace {

class TapTest : public NetnsTest {
 protected:
  std::unique_ptr<Port> host_port(const std::string& name, bool vnet) {
    PortOptions o;
    o.name = name;
    o.role = PortRole::Host;
    o.vnet_hdr = vnet;
    return must_open(o);
  }
};

FrameSpec spec(uint8_t seed, std::size_t payload = 200) {
  FrameSpec s;
  s.udp = true;
  s.payload = payload;
  s.fill_seed = seed;
  return s;
}

TEST_F(TapTest, HostPortFrameReachesTheTapInterfaceAndBack) {
  for (bool vnet : {false, true}) {
    SCOPED_TRACE(vnet);
    const std::string name = vnet ? "twp-hv" : "twp-h";
    auto port = host_port(name, vnet);
    ASSERT_TRUE(port);
    EXPECT_EQ(port->backend(), PortBackend::Tap);
    EXPECT_EQ(port->tx_offload(), vnet);
    EXPECT_TRUE(interface_exists(name));
    EXPECT_EQ(port->ifindex(), get_ifindex(name));
    RawSock host_side(name);  // sees what the host stack would receive from the bridge
    ASSERT_TRUE(host_side.ok());
    // Port -> tun fd -> the tap interface receives it.
    const auto to_host = build_frame(spec(1)).bytes;
    TxFrame tx{to_host, nullptr};
    ASSERT_EQ(port->tx_burst({&tx, 1}), 1u);
    EXPECT_EQ(host_side.collect([&](const auto& b) { return b == to_host; }, 1).size(), 1u);
    // The host sends out of the tap -> the port reads it from the tun fd.
    const auto from_host = build_frame(spec(2)).bytes;
    ASSERT_TRUE(host_side.send(from_host));
    auto got = rx_until(*port, [&](std::span<const uint8_t> b) {
      return std::equal(b.begin(), b.end(), from_host.begin(), from_host.end());
    });
    EXPECT_TRUE(got);
  }
}

// With IFF_VNET_HDR + TUNSETOFFLOAD the host stack's TSO super-frames reach the port whole
// with their metadata, and the port can hand super-frames back to the host.
TEST_F(TapTest, HostPortCarriesSuperFramesBothWays) {
  auto port = host_port("twp-hg", true);
  ASSERT_TRUE(port);
  sh("ethtool -K twp-hg tso on gso on tx on");
  RawSock host_side("twp-hg", true);
  FrameSpec s;
  s.payload = 10000;
  Built b = build_frame(s);
  const uint32_t l4_len = uint32_t(b.bytes.size() - b.l4);
  uint32_t ps = pseudo_sum(b.bytes, b.l3, false, 6, l4_len);
  while (ps >> 16) ps = (ps & 0xffff) + (ps >> 16);
  wr16(&b.bytes[b.l4 + 16], uint16_t(ps));
  uint8_t h[10] = {1, 1};
  const uint16_t v[4] = {uint16_t(b.payload_off), 1448, uint16_t(b.l4), 16};
  std::memcpy(h + 2, v, 8);
  ASSERT_TRUE(host_side.send(b.bytes, h));
  auto got = rx_until(*port, [&](std::span<const uint8_t> x) { return x.size() == b.bytes.size(); });
  ASSERT_TRUE(got) << "super-frame not read whole from the tun fd";
  EXPECT_EQ(got->first, b.bytes);
  EXPECT_EQ(got->second.offload.gso_type, GsoType::TcpV4);
  EXPECT_EQ(got->second.offload.gso_size, 1448);
  EXPECT_TRUE(got->second.csum_partial);
  // And back into the host: the tap interface receives the super-frame with its metadata.
  TxFrame tx{got->first, &got->second.offload};
  ASSERT_EQ(port->tx_burst({&tx, 1}), 1u);
  std::vector<uint8_t> rh;
  std::optional<std::vector<uint8_t>> r;
  while ((r = host_side.recv(2000, &rh)) && r->size() != b.bytes.size()) {
  }
  ASSERT_TRUE(r);
  EXPECT_EQ(rh[1] & 0x7f, 1);
}

TEST_F(TapTest, PersistentTapOutlivesItsFdAndCanBeRemoved) {
  ASSERT_FALSE(interface_exists("twp-ptap"));
  auto r = make_persistent_tap("twp-ptap");
  ASSERT_TRUE(std::holds_alternative<std::monostate>(r)) << std::get<PortError>(r).message;
  EXPECT_TRUE(interface_exists("twp-ptap"));  // no fd of ours is open any more
  EXPECT_TRUE(is_tap_device("twp-ptap"));
  // Idempotent, like a restart of tapwall with `--vm twp-ptap`.
  EXPECT_TRUE(std::holds_alternative<std::monostate>(make_persistent_tap("twp-ptap")));
  EXPECT_TRUE(set_link_up("twp-ptap"));
  EXPECT_EQ(get_mtu("twp-ptap"), 1500);
  ASSERT_TRUE(std::holds_alternative<std::monostate>(remove_persistent_tap("twp-ptap")));
  EXPECT_FALSE(interface_exists("twp-ptap"));
}

TEST_F(TapTest, VmRoleCreatesAMissingTap) {
  PortOptions o;
  o.name = "twp-vm0";
  o.role = PortRole::Vm;
  o.backend = PortBackend::AfPacket;
  o.create_missing_tap = true;
  {
    auto port = must_open(o);
    ASSERT_TRUE(port);
    EXPECT_EQ(port->backend(), PortBackend::AfPacket);
  }
  EXPECT_TRUE(interface_exists("twp-vm0"));  // persistent: the hypervisor attaches later
  EXPECT_TRUE(std::holds_alternative<std::monostate>(remove_persistent_tap("twp-vm0")));
}

TEST_F(TapTest, ExistingNonTapIsNotTurnedIntoOne) {
  veth("twp-x", "twp-y");
  auto r = make_persistent_tap("twp-x");
  EXPECT_TRUE(std::holds_alternative<PortError>(r));
}

TEST_F(TapTest, NetdevHelpers) {
  veth("twp-x", "twp-y");
  EXPECT_TRUE(interface_exists("twp-x"));
  EXPECT_FALSE(interface_exists("twp-none"));
  EXPECT_FALSE(is_tap_device("twp-x"));
  EXPECT_FALSE(interface_exists("a-name-far-too-long-for-ifnamsiz"));
  EXPECT_EQ(get_ifindex("twp-none"), -1);
  EXPECT_TRUE(set_mtu("twp-x", 1400));
  EXPECT_EQ(get_mtu("twp-x"), 1400);
  EXPECT_TRUE(set_promisc("twp-x", true));
  EXPECT_TRUE(sh("ip link show twp-x | grep -q PROMISC"));
  EXPECT_TRUE(set_promisc("twp-x", false));
  EXPECT_FALSE(sh("ip link show twp-x | grep -q PROMISC"));
  EXPECT_TRUE(set_gro("twp-x", false));
  EXPECT_TRUE(sh("ethtool -k twp-x | grep -q 'generic-receive-offload: off'"));
}

}  // namespace
}  // namespace tapwall::test
