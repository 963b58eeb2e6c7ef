// `tapwall run`: command-line front of the daemon (control/daemon).
#include <iostream>

#include "args.hpp"
#include "cli.hpp"
#include "ct_settings.hpp"
#include "tapwall/daemon.hpp"

namespace tapwall::control {

namespace {

constexpr const char* kRunUsage =
    "usage: tapwall run --uplink IFACE --vm TAP [--vm TAP ...] [--host-port NAME]\n"
    "                   --rules FILE [--rules6 FILE] [--backend pcap|afpacket]\n"
    "                   [--drops DIR] [--control PATH] [--metrics [ADDR:]PORT]\n"
    "                   [--log-level LEVEL] [--no-filter] [--workers N] [--ct NAME=VALUE ...]\n"
    "                   [--rx-coalesce-us N] [--bridge-name NAME]\n"
    "Switches frames between the uplink and the VM ports in user space, filtered by the\n"
    "iptables FORWARD chain of FILE with conntrack, in place of br0 + br_netfilter.\n"
    "  --uplink IFACE     the LAN interface (eth0), opened directly, set promiscuous and up\n"
    "  --vm TAP           a VM's tap; created as a persistent tap if it does not exist\n"
    "  --host-port NAME   a tap tapwall creates and owns for the host's own stack (br0)\n"
    "  --rules FILE       iptables-save file or iptables script (e.g. /etc/iptables.up.rules)\n"
    "  --rules6 FILE      ip6tables rules; without it IPv6 is not filtered\n"
    "  --bridge-name NAME the bridge device the rules were written for (default br0):\n"
    "                     -i / -o in FORWARD name it, as br_netfilter shows it\n"
    "  --backend B        pcap (default, portable) or afpacket (packet rings, faster)\n"
    "  --workers N        data-path threads, 1..16 (default 1); above 1 needs afpacket:\n"
    "                     PACKET_FANOUT spreads frames, each flow is judged by one worker\n"
    "  --ct NAME=VALUE    a conntrack setting by its kernel sysctl name, as in\n"
    "                     /proc/sys/net/netfilter (repeatable): nf_conntrack_max (the whole\n"
    "                     table, shared out among the workers; default 262144),\n"
    "                     nf_conntrack_tcp_loose, nf_conntrack_tcp_be_liberal,\n"
    "                     nf_conntrack_checksum, nf_conntrack_*_timeout* (seconds)\n"
    "  --rx-coalesce-us N under dense traffic, wait N us (0..10000, default 100) for frames\n"
    "                     to gather before reading again: less CPU per frame, up to N us\n"
    "                     more latency; 0 reads at once (sparse traffic is never held)\n"
    "  --drops DIR        write dropped frames to rotating pcapng files in DIR\n"
    "  --drops-file-mb N  rotate drop files at N MiB (default 64)\n"
    "  --drops-files N    keep at most N drop files (default 8): disk cap = N x size\n"
    "  --drops-rate N     record at most N frames/s per drop reason (default 1000)\n"
    "  --control PATH     control socket (default /run/tapwall.sock; '' disables)\n"
    "  --log-level L      trace, debug, info (default), warn, error\n"
    "  --no-filter        forward everything (no policy, no conntrack): a baseline\n"
    "SIGHUP reloads the rules (a broken file keeps the running policy); SIGINT/SIGTERM stop.\n";

}  // namespace

int run_main(int argc, char** argv) {
  Args a;
  for (auto o : {"--rules", "--rules6", "--bridge-name", "--backend", "--drops", "--control",
                 "--log-level", "--metrics",
                 "--drops-file-mb", "--drops-files", "--drops-rate", "--workers",
                 "--rx-coalesce-us"})
    a.option(o);
  for (auto o : {"--uplink", "--vm", "--host-port", "--ct"}) a.option(o, true);
  a.flag("--help");
  a.flag("--no-filter");
  if (!a.parse(argc, argv, 2) || !a.positional().empty()) {
    std::cerr << "tapwall run: "
              << (a.error().empty() ? "unexpected argument " + a.positional().front() : a.error())
              << "\n" << kRunUsage;
    return kExitUsage;
  }
  if (a.has("--help")) {
    std::cout << kRunUsage;
    return kExitOk;
  }
  if (!a.has("--rules") || a.all("--uplink").size() != 1 || a.all("--vm").empty()) {
    std::cerr << "tapwall run: --rules, one --uplink and at least one --vm are required\n" << kRunUsage;
    return kExitUsage;
  }
  DaemonOptions o;
  o.uplinks = a.all("--uplink");
  o.vms = a.all("--vm");
  o.hosts = a.all("--host-port");
  o.rules4 = *a.get("--rules");
  o.rules6 = a.get("--rules6").value_or("");
  o.bridge_name = a.get("--bridge-name").value_or(std::string(kDefaultBridgeName));
  o.backend = a.get("--backend").value_or("pcap");
  o.drops_dir = a.get("--drops").value_or("");
  o.control_path = a.get("--control").value_or("/run/tapwall.sock");
  o.metrics = a.get("--metrics").value_or("");
  o.log_level = a.get("--log-level").value_or("info");
  o.filter = !a.has("--no-filter");
  const auto count = [&](const char* name, const char* fallback, uint64_t max) {
    return parse_count(a.get(name).value_or(fallback), max);
  };
  const auto file_mb = count("--drops-file-mb", "64", 1u << 20);
  const auto files = count("--drops-files", "8", 1u << 20);
  const auto rate = count("--drops-rate", "1000", UINT32_MAX);
  const auto workers = count("--workers", "1", UINT32_MAX);
  if (!file_mb || !files || !rate || !workers) {
    std::cerr << "tapwall run: --drops-file-mb, --drops-files, --drops-rate and --workers take "
                 "whole numbers\n";
    return kExitUsage;
  }
  const auto coalesce = count("--rx-coalesce-us", "100", 10000);
  if (!coalesce) {
    std::cerr << "tapwall run: --rx-coalesce-us takes a whole number of microseconds, 0..10000\n";
    return kExitUsage;
  }
  o.rx_coalesce_us = uint32_t(*coalesce);
  o.drops_file_mb = *file_mb;
  o.drops_files = uint32_t(*files);
  o.drops_rate = uint32_t(*rate);
  o.workers = uint32_t(*workers);
  if (std::string err = apply_ct_settings(a.all("--ct"), o.ct); !err.empty()) {
    std::cerr << "tapwall run: " << err << "\n";
    return kExitUsage;
  }
  if (o.drops_file_mb == 0 || o.drops_files == 0) {
    std::cerr << "tapwall run: --drops-file-mb and --drops-files must be at least 1\n";
    return kExitUsage;
  }
  return run_daemon(o);
}

}  // namespace tapwall::control
