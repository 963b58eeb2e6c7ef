// Daemon: `tapwall run` — opens the ports (once per worker), loads the rules, runs the
// bridge workers (the first on the calling thread) and the control side (signals, control socket) on an Asio thread.
// Purpose: the program that replaces br0 on a VM host.
// Invariants: a reload (SIGHUP or `ctl reload`) that fails to parse or compile keeps the
// running policy and logs why with file:line; SIGINT/SIGTERM stop cleanly and flush dumps.
// Thread-safety: run_daemon() is called once, from main.
#pragma once

#include <string>
#include <vector>

#include "tapwall/conntrack.hpp"
#include "tapwall/policy.hpp"

namespace tapwall::control {

struct DaemonOptions {
  std::vector<std::string> uplinks, vms, hosts;
  std::string rules4, rules6;
  std::string bridge_name{kDefaultBridgeName};  // what -i / -o in the rules name
  std::string backend = "pcap";  // pcap | afpacket
  std::string drops_dir;         // empty: no drop recording
  uint64_t drops_file_mb = 64;   // rotate drop files at this size
  uint32_t drops_files = 8;      // keep at most this many (disk cap = size x files)
  uint32_t drops_rate = 1000;    // frames/s recorded per drop reason
  std::string control_path = "/run/tapwall.sock";
  std::string metrics;           // "" off, else "PORT" or "127.0.0.1:PORT"
  std::string log_level = "info";
  bool filter = true;            // false: forward everything (baseline for benchmarks)
  uint32_t workers = 1;          // data-path threads (afpacket only above 1), 1..16
  uint32_t rx_coalesce_us = 100; // BridgeOptions::rx_coalesce_ns, in microseconds; 0 off
  CtConfig ct;                   // capacity is the whole table's, shared out among workers
};

// Returns the process exit code (see control/cli/cli.hpp).
int run_daemon(const DaemonOptions& opts);

}  // namespace tapwall::control
