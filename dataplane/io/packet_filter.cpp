// PacketFilter implementation: pcap_compile on a dead Ethernet handle, pcap_offline_filter.
#include "tapwall/packet_filter.hpp"

#include <pcap/pcap.h>

namespace tapwall {

struct PacketFilter::Program {
  bpf_program bpf{};
  ~Program() { pcap_freecode(&bpf); }
};

std::variant<std::shared_ptr<const PacketFilter>, std::string> PacketFilter::compile(
    const std::string& expr) {
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, 262144);
  if (!dead) return std::string("libpcap: cannot open a dead handle");
  auto prog = std::make_unique<Program>();
  int rc = pcap_compile(dead, &prog->bpf, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN);
  std::string err = rc == 0 ? "" : pcap_geterr(dead);
  pcap_close(dead);
  if (rc != 0) return "bad filter '" + expr + "': " + err;
  std::shared_ptr<PacketFilter> f(new PacketFilter());
  f->prog_ = std::move(prog);
  f->expr_ = expr;
  return std::shared_ptr<const PacketFilter>(std::move(f));
}

PacketFilter::~PacketFilter() = default;

bool PacketFilter::matches(std::span<const uint8_t> frame) const {
  pcap_pkthdr h{};
  h.caplen = h.len = static_cast<bpf_u_int32>(frame.size());
  return pcap_offline_filter(&prog_->bpf, &h, frame.data()) != 0;
}

}  // namespace tapwall
