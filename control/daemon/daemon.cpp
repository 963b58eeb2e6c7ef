// `tapwall run`; see include/tapwall/daemon.hpp.
// Threads: the calling thread runs bridge worker 0 and the bridge starts the others (the
// data path); one Asio thread serves signals and the control socket; the drop recorder has
// its writer thread.
#include "tapwall/daemon.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <utility>  // before Asio: Boost 1.74 uses std::exchange without it
#include <boost/asio.hpp>
#include <thread>

#include "control_server.hpp"
#include "metrics_server.hpp"
#include "tapwall/bridge.hpp"
#include "tapwall/drop_recorder.hpp"
#include "tapwall/exit_codes.hpp"
#include "tapwall/policy_loader.hpp"
#include "tapwall/port.hpp"
#include "tapwall/port_netdev.hpp"
#include "tapwall/outcome_format.hpp"

namespace tapwall::control {

namespace {

// Opens every port for one worker. With several workers, each interface gets one AF_PACKET
// socket per worker in one fanout group: worker 0's socket creates the group, the others
// join it by the id the kernel chose (`first`, worker 0's ports). Each socket's ring gets a
// share of the single-worker ring, since it sees a share of the frames.
int open_ports(const std::vector<PortDesc>& descs, const DaemonOptions& o, Bridge::PortList& out,
               const Bridge::PortList* first) {
  const bool quiet = first != nullptr;  // say once per interface what was opened
  for (std::size_t i = 0; i < descs.size(); ++i) {
    const PortDesc& d = descs[i];
    PortOptions po;
    if (o.workers > 1) {
      // The host port is tapwall's own tap: one queue per worker instead of a fanout group.
      po.tap_multi_queue = true;
      if (d.role != PortRole::Host)
        po.fanout_group = first ? (*first)[i]->fanout_group() : PortOptions::kNewFanout;
      po.ring_bytes = std::max<std::size_t>(8u << 20, (32u << 20) / o.workers);
    }
    po.name = d.name;
    po.role = d.role;
    po.backend = d.role == PortRole::Host    ? PortBackend::Tap
                 : o.backend == "afpacket" ? PortBackend::AfPacket
                                           : PortBackend::Pcap;
    po.create_missing_tap = d.role == PortRole::Vm;  // what `tunctl -t tap0` did
    // Up before it is opened: libpcap refuses a device that is down (the uplink at boot),
    // and a packet socket bound to one starts with a pending ENETDOWN. (A missing VM tap
    // is created up by open_port.)
    if (!quiet && d.role != PortRole::Host && interface_exists(d.name) && !set_link_up(d.name))
      spdlog::warn("port {}: cannot set the link up", d.name);
    auto r = open_port(po);
    if (auto* e = std::get_if<PortError>(&r)) {
      spdlog::error("port {}: {}", d.name, e->message);
      return e->kind == PortError::NoSuchInterface ? kExitNoInterface
             : e->kind == PortError::Permission    ? kExitPermission
                                                   : kExitFailure;
    }
    auto& port = std::get<std::unique_ptr<Port>>(r);
    if (quiet) {
      out.push_back(std::move(port));
      continue;
    }
    if (d.role != PortRole::Host) {
      // A bridge port is not a host interface (br0 enslaved it): no ARP, no IPv6.
      if (!isolate_from_host_stack(d.name))
        spdlog::warn("port {}: cannot set arp_ignore/disable_ipv6; the host may answer on it", d.name);
    }
    spdlog::info("port {}: {} backend, role {}, mtu {}", d.name,
                 po.backend == PortBackend::AfPacket ? "afpacket"
                 : po.backend == PortBackend::Tap    ? "tap"
                                                     : "pcap",
                 d.role == PortRole::Uplink ? "uplink" : d.role == PortRole::Vm ? "vm" : "host",
                 port->mtu());
    out.push_back(std::move(port));
  }
  return kExitOk;
}

}  // namespace

int run_daemon(const DaemonOptions& o) {
  spdlog::set_level(spdlog::level::from_str(o.log_level));
  if (o.backend != "pcap" && o.backend != "afpacket") {
    spdlog::error("--backend must be pcap or afpacket, not '{}'", o.backend);
    return kExitUsage;
  }
  if (o.workers < 1 || o.workers > Bridge::kMaxWorkers) {
    spdlog::error("--workers must be between 1 and {}", Bridge::kMaxWorkers);
    return kExitUsage;
  }
  if (o.workers > 1 && o.backend != "afpacket") {
    spdlog::error("--workers {} needs --backend afpacket (PACKET_FANOUT); libpcap has one reader per port",
                  o.workers);
    return kExitUsage;
  }
  if (geteuid() != 0) {
    spdlog::error("tapwall run needs root (CAP_NET_ADMIN and CAP_NET_RAW) to open interfaces");
    return kExitPermission;
  }
  auto pl = make_port_list(o.uplinks, o.vms, o.hosts);
  if (auto* e = std::get_if<std::string>(&pl)) {
    spdlog::error("{}", *e);
    return kExitUsage;
  }
  const auto descs = std::get<std::vector<PortDesc>>(pl);
  const PolicyFiles files{o.rules4, o.rules6, o.bridge_name};
  std::atomic<uint64_t> generation{1};
  auto loaded = load_policy(files, descs, generation);
  if (auto* e = std::get_if<ConfigError>(&loaded)) {
    spdlog::error("{}", e->to_string());
    return kExitBadRules;
  }
  PolicySlot slot;
  slot.publish(std::get<std::shared_ptr<const CompiledPolicy>>(loaded));
  for (const std::string& w : slot.current()->warnings()) spdlog::warn("{}", w);

  std::vector<Bridge::PortList> ports(o.workers);
  for (uint32_t w = 0; w < o.workers; ++w)
    if (int rc = open_ports(descs, o, ports[w], w ? &ports[0] : nullptr); rc != kExitOk) return rc;
  if (o.workers > 1) {
    for (std::size_t i = 0; i < descs.size(); ++i) {
      if (descs[i].role == PortRole::Host)
        spdlog::info("port {}: {} tap queues, one per worker", descs[i].name, o.workers);
      else
        spdlog::info("port {}: fanout group {} across {} workers", descs[i].name,
                     ports[0][i]->fanout_group(), o.workers);
    }
  }

  std::unique_ptr<DropRecorder> drops;
  if (!o.drops_dir.empty()) {
    DropRecorderConfig dc;
    dc.dir = o.drops_dir;
    dc.max_file_bytes = o.drops_file_mb << 20;
    dc.max_files = o.drops_files;
    dc.rate_per_reason = o.drops_rate;
    dc.burst_per_reason = std::max<uint32_t>(1, o.drops_rate * 2);
    dc.producers = o.workers;
    drops = std::make_unique<DropRecorder>(dc, descs, &record_comment);
    if (std::string err = drops->start(); !err.empty()) {
      spdlog::error("--drops: {}", err);
      return kExitFile;
    }
  }

  EngineConfig ec;
  ec.ports = descs;
  ec.filter = o.filter;
  ec.conntrack = o.filter;
  ec.ct = o.ct;
  // Each worker tracks the flows it owns in its own table: nf_conntrack_max is the sum.
  ec.ct.capacity = (o.ct.capacity + o.workers - 1) / o.workers;
  BridgeOptions bo;
  bo.rx_coalesce_ns = o.rx_coalesce_us * 1000;
  Bridge bridge(std::move(ports), ec, slot, drops.get(), bo);
  std::atomic<bool> stop{false};

  boost::asio::io_context io;
  auto reload = [&](const std::string& rules4, bool dry_run) -> ReloadResult {
    PolicyFiles f = files;
    if (!rules4.empty()) f.rules4 = rules4;
    uint64_t gen = generation + 1;
    auto r = load_policy(f, descs, gen);
    if (auto* e = std::get_if<ConfigError>(&r)) return {false, e->to_string(), nullptr};
    auto p = std::get<std::shared_ptr<const CompiledPolicy>>(r);
    if (!dry_run) {
      generation = gen;
      slot.publish(p);
      for (const std::string& w : p->warnings()) spdlog::warn("{}", w);
    }
    return {true, "", p};
  };
  boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec2, int sig) {
        if (ec2) return;
        if (sig == SIGHUP) {
          ReloadResult r = reload("", false);
          if (r.ok)
            spdlog::info("SIGHUP: rules reloaded (generation {})", generation.load());
          else
            spdlog::error("SIGHUP: reload failed, keeping the running policy: {}", r.error);
          signals.async_wait(on_signal);
          return;
        }
        spdlog::info("signal {}: stopping", sig);
        stop = true;
      };
  signals.async_wait(on_signal);

  std::unique_ptr<ControlServer> control;
  if (!o.control_path.empty()) {
    ControlContext ctx{bridge, slot, descs, drops.get(), reload};
    control = std::make_unique<ControlServer>(io, ctx);
    if (std::string err = control->listen(o.control_path); !err.empty()) {
      spdlog::error("--control {}: {}", o.control_path, err);
      return kExitFile;
    }
  }
  std::unique_ptr<MetricsServer> metrics;
  if (!o.metrics.empty()) {
    metrics = std::make_unique<MetricsServer>(io, bridge, slot, descs, drops.get());
    if (std::string err = metrics->listen(o.metrics); !err.empty()) {
      spdlog::error("--metrics {}: {}", o.metrics, err);
      return kExitUsage;
    }
  }
  std::thread control_thread([&] { io.run(); });

  spdlog::info("tapwall running: {} ports, {} worker{}, rules {}{}", descs.size(), o.workers,
               o.workers == 1 ? "" : "s", o.rules4, o.rules6.empty() ? "" : " + " + o.rules6);
  spdlog::info("rx coalescing under dense traffic: {} us{}", o.rx_coalesce_us,
               o.rx_coalesce_us == 0 ? " (off)" : "");
  if (o.filter)
    spdlog::info("conntrack: {} entries ({} per worker), tcp_loose {}, tcp_be_liberal {}, checksum {}",
                 uint64_t{ec.ct.capacity} * o.workers, ec.ct.capacity, int(ec.ct.tcp_loose),
                 int(ec.ct.tcp_be_liberal), int(ec.ct.checksum));
  bridge.run(stop);

  io.stop();
  control_thread.join();
  if (control) control->close();
  if (drops) drops->stop();
  BridgeStats s = bridge.stats();
  spdlog::info("stopped: {} frames in, {} forwarded, {} dropped", s.engine.frames,
               s.engine.forwarded, s.engine.dropped);
  return kExitOk;
}

}  // namespace tapwall::control
