#!/usr/bin/env python3
"""Live bridge benchmark driver: kernel br0 + br_netfilter vs tapwall, same veth topology.

Purpose: run the measurements of DESIGN.md §4 ("System") for every configuration, in one
run, alternating the configurations so that the noise of a shared machine hits them alike,
and write every raw figure to a JSON file (bridge_report.py turns it into medians, ratios,
the table and the chart). Started by tools/bench/bench-bridge.sh, which builds tapwall,
installs the tools and cleans up on any exit; run it through that script.

Topology (the one of lab/seed-testbed.sh, rebuilt fresh for every trial):
    ns PFX-lan   lan0 192.0.2.1/24  <veth>  eth0 ┐
                                                  ├ ns PFX-br: the bridge under test
    ns PFX-guest gst0 192.0.2.2/24  <veth>  tap0 ┘
  offloads off on all four veth ends (ethtool -K … tso gso gro tx rx off), as the testbed.

Configurations (the bridge in ns PFX-br):
  kernel    br0 with eth0 + tap0, br_netfilter (bridge-nf-call-iptables=1) and the seed's
            iptables script (tools/golden/seed-firewall.sh): exactly `seed-testbed.sh up kernel`
  nofilter  tapwall run --no-filter --backend afpacket (no policy, no conntrack: the ceiling)
  afpacket  tapwall run --rules seed-firewall.sh --backend afpacket
  pcap      tapwall run --rules seed-firewall.sh --backend pcap

Tests of one trial (a trial = one configuration, fresh namespaces, one bridge process):
  udp1      64-byte frames (60 B + FCS) UDP 192.0.2.1:1234 -> 192.0.2.2:5000 (allowed by
            the seed: udp dport 1024:65535), trafgen from the LAN ns, one CPU, as fast as it
            can. The guest has sockets on ports 5000 and 53 that never read (frames die at
            the full socket queue, no ICMP port unreachable per frame). Delivered frames/s = delta of gst0 rx_packets in the guest ns over a window
            of DURATION s taken 0.5 s after trafgen started (so start-up is excluded).
  udp10k    the same, source port cycling over FLOWS values (10000..): FLOWS conntrack entries
  drop53    the same frames to UDP port 53, which the seed drops (FORWARD policy DROP).
            Processed frames/s: kernel = eth0 rx_packets delta (every frame that entered the
            bridge port); tapwall = frames tapwall read from eth0 (its rx_frames counter,
            read from `--metrics` in the br ns by default; kernel ring drops reported
            beside). tapwall publishes counters about once a second while busy, so its
            samples are taken right after a change and get their own window. Bridge CPU:
            kernel = softirq time (/proc/stat, all CPUs); tapwall = its process utime+stime
            (/proc/PID/stat, all threads); softirq is recorded for every configuration.
            (--tw-stats ctl reads `tapwall ctl --json show ports` instead; it crashed tapwall
            under floods when this tool was written, see README.md.)
  ping_idle ping guest -> LAN (the seed drops LAN-initiated ICMP), COUNT pings at 10 ms;
            round-trip p50/p99/max and loss.
  ping_load the same while iperf3 (guest -> LAN) runs.
  tcp_off   iperf3 -c 192.0.2.1 from the guest (server in the LAN ns), DURATION s, offloads off.
  tcp_on    the same after `ethtool -K … tso gso gro tx rx on` on all four veth ends;
            tapwall is restarted after the change (libpcap sizes its ring slots from the
            offload state at open time), the kernel bridge adapts live.
Every traffic test also records offered (lan0 tx), bridge-port and tapwall counters, and
the CPU figures above, so one can tell a slow sender from a slow bridge.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")
IPERF_PORT = 5201
METRICS_PORT = 9109
SINK = """import socket, time
socks = []
for port in (5000, 53):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind(("192.0.2.2", port))
    socks.append(s)
time.sleep(3600)
"""


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, a):
        self.a = a
        self.pfx = a.prefix
        self.procs = []  # every process we started and still own
        self.results = []
        self.problems = []
        self.tapwall = None  # Popen of the running tapwall
        self.tw_log = None

    # ---- processes --------------------------------------------------------------------
    def ns(self, n):
        return f"{self.pfx}-{n}"

    def nsx(self, n, *cmd):
        return ["ip", "netns", "exec", self.ns(n), *cmd]

    def run(self, cmd, check=True, timeout=30, quiet=True):
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} -> {r.returncode}: {r.stderr.strip()[:400]}")
        return r

    def spawn(self, cmd, **kw):
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        p = subprocess.Popen(cmd, **kw)
        self.procs.append(p)
        with open(self.a.pidfile, "a") as f:
            f.write(f"{p.pid}\n")
        return p

    def stop(self, p, sig=signal.SIGINT, wait=5.0):
        """Stops one process we started, by PID; returns its exit code (None if killed)."""
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        if p in self.procs:
            self.procs.remove(p)
        return p.returncode

    def stop_all(self):
        for p in list(self.procs):
            self.stop(p, signal.SIGTERM, 3)

    # ---- topology ---------------------------------------------------------------------
    def ns_down(self):
        for n in ("lan", "br", "guest"):
            subprocess.run(["ip", "netns", "del", self.ns(n)], stderr=subprocess.DEVNULL)

    def ns_up(self):
        self.ns_down()
        for n in ("lan", "br", "guest"):
            self.run(["ip", "netns", "add", self.ns(n)])
            self.run(["ip", "-n", self.ns(n), "link", "set", "lo", "up"])
        self.run(["ip", "link", "add", "eth0", "netns", self.ns("br"), "type", "veth", "peer", "name", "lan0", "netns", self.ns("lan")])
        self.run(["ip", "link", "add", "tap0", "netns", self.ns("br"), "type", "veth", "peer", "name", "gst0", "netns", self.ns("guest")])
        self.run(["ip", "-n", self.ns("lan"), "addr", "add", "192.0.2.1/24", "dev", "lan0"])
        self.run(["ip", "-n", self.ns("lan"), "link", "set", "lan0", "up"])
        self.run(["ip", "-n", self.ns("guest"), "addr", "add", "192.0.2.2/24", "dev", "gst0"])
        self.run(["ip", "-n", self.ns("guest"), "link", "set", "gst0", "up"])
        self.run(["ip", "-n", self.ns("br"), "link", "set", "eth0", "up", "promisc", "on"])
        self.run(["ip", "-n", self.ns("br"), "link", "set", "tap0", "up", "promisc", "on"])
        self.offloads("off")

    def offloads(self, state):
        for n, dev in (("lan", "lan0"), ("guest", "gst0"), ("br", "eth0"), ("br", "tap0")):
            self.run(self.nsx(n, "ethtool", "-K", dev, "tso", state, "gso", state, "gro", state, "tx", state, "rx", state), check=False)

    # ---- bridges ----------------------------------------------------------------------
    def bridge_start(self, cfg, tag):
        if cfg == "kernel":
            b = self.ns("br")
            self.run(["ip", "-n", b, "link", "add", "br0", "type", "bridge"])
            self.run(["ip", "-n", b, "link", "set", "eth0", "master", "br0"])
            self.run(["ip", "-n", b, "link", "set", "tap0", "master", "br0"])
            self.run(["ip", "-n", b, "link", "set", "br0", "up"])
            try:  # built in on some kernels, a module on others
                subprocess.run(["modprobe", "br_netfilter"], stderr=subprocess.DEVNULL)
            except OSError:
                pass
            self.run(self.nsx("br", "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1"))
            self.run(self.nsx("br", "sh", self.a.rules))
            return
        backend = "pcap" if cfg == "pcap" else "afpacket"
        cmd = [self.a.tapwall, "run", "--uplink", "eth0", "--vm", "tap0", "--rules", self.a.rules,
               "--backend", backend, "--control", self.a.control, "--log-level", "info"]
        if cfg == "nofilter":
            cmd.append("--no-filter")
        if self.a.tw_stats == "metrics":
            cmd += ["--metrics", f"127.0.0.1:{METRICS_PORT}"]
        self.tw_log_path = os.path.join(self.a.workdir, f"tapwall-{tag}.log")
        self.tw_log = open(self.tw_log_path, "w")
        self.tapwall = self.spawn(self.nsx("br", *cmd), stdout=self.tw_log, stderr=subprocess.STDOUT)
        t_end = time.time() + 10
        while time.time() < t_end and not os.path.exists(self.a.control):
            if self.tapwall.poll() is not None:
                break
            time.sleep(0.05)

    def tapwall_alive(self):
        return self.tapwall is not None and self.tapwall.poll() is None

    def bridge_stop(self, cfg, tag):
        info = {}
        if self.tapwall is not None:
            was_alive = self.tapwall.poll() is None
            rc = self.stop(self.tapwall, signal.SIGINT, 10)
            self.tw_log.close()
            with open(self.tw_log_path) as f:
                tail = f.read().splitlines()[-6:]
            info = {"tapwall_exit": rc, "tapwall_alive_at_end": was_alive, "tapwall_log_tail": tail}
            if not was_alive or rc not in (0,):
                self.problems.append({"trial": tag, "what": f"tapwall exited with {rc} (alive at end: {was_alive})",
                                      "log_tail": tail})
            self.tapwall = None
            try:
                os.unlink(self.a.control)
            except FileNotFoundError:
                pass
        return info

    def wait_ready(self, timeout=10.0):
        t_end = time.time() + timeout
        while time.time() < t_end:
            r = subprocess.run(self.nsx("guest", "ping", "-c", "1", "-W", "1", "192.0.2.1"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return True
        return False

    # ---- counters -----------------------------------------------------------------------
    def link_stats(self, n):
        r = self.run(["ip", "-n", self.ns(n), "-j", "-s", "link", "show"], check=False)
        out = {}
        try:
            for l in json.loads(r.stdout or "[]"):
                s = l.get("stats64", {})
                out[l["ifname"]] = {"rx": s.get("rx", {}).get("packets", 0), "tx": s.get("tx", {}).get("packets", 0),
                                    "rx_drop": s.get("rx", {}).get("dropped", 0), "tx_drop": s.get("tx", {}).get("dropped", 0)}
        except (ValueError, KeyError):
            pass
        return out

    def tw_ports(self):
        if not self.tapwall_alive():
            return None
        if self.a.tw_stats == "none":
            return None
        if self.a.tw_stats == "metrics":
            r = subprocess.run(self.nsx("br", "curl", "-s", "-m", "3", f"http://127.0.0.1:{METRICS_PORT}/metrics"),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=5)
            return self.parse_metrics(r.stdout)
        r = subprocess.run([self.a.tapwall, "ctl", "--control", self.a.control, "--json", "show", "ports"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=5)
        try:
            return {p["name"]: p for p in json.loads(r.stdout)["ports"]}
        except (ValueError, KeyError, TypeError):
            return None

    def parse_metrics(self, text):
        """Per-port counters from tapwall's Prometheus text (None if there are none);
        "_drops" holds the drops_total series by 'port="…",reason="…"'."""
        ports = {"_drops": dict(re.findall(r'^tapwall_drops_total\{(port="[^"]+",reason="[^"]+")\} (\d+)$', text, re.M))}
        names = {"tapwall_rx_frames_total": "rx_frames", "tapwall_tx_frames_total": "tx_frames",
                 "tapwall_rx_ring_drops_total": "rx_ring_drops"}
        for m in re.finditer(r'^(tapwall_\w+)\{port="([^"]+)"\} (\d+)$', text, re.M):
            if m.group(1) in names:
                ports.setdefault(m.group(2), {})[names[m.group(1)]] = int(m.group(3))
        return ports if len(ports) > 1 else None

    def snap(self, fresh=False):
        s = {}
        g = self.link_stats("guest")  # the figure that matters first, timestamped right after
        s["t"] = time.monotonic()
        s["gst"] = g.get("gst0", {})
        s["lan"] = self.link_stats("lan").get("lan0", {})
        br = self.link_stats("br")
        s["eth0"], s["tap0"] = br.get("eth0", {}), br.get("tap0", {})
        with open("/proc/stat") as f:
            cpu = f.readline().split()
        s["softirq"] = int(cpu[7])
        s["busy"] = sum(int(x) for x in cpu[1:9]) - int(cpu[4]) - int(cpu[5])  # all but idle, iowait
        s["steal"] = int(cpu[8])
        s["tw_cpu"] = None
        if self.tapwall_alive():
            try:
                with open(f"/proc/{self.tapwall.pid}/stat") as f:
                    st = f.read().rsplit(")", 1)[1].split()
                s["tw_cpu"] = int(st[11]) + int(st[12])  # utime + stime, all threads
            except (OSError, IndexError):
                pass
        s["tw"], s["tw_t"] = self.tw_fresh() if fresh else (self.tw_ports(), time.monotonic())
        return s

    def tw_fresh(self, limit=1.5):
        """tapwall publishes its counters about once a second while busy: poll until they
        change, so the sample's time is the publish time (within one poll) and rates taken
        between two such samples are not skewed by stale counters."""
        first = self.tw_ports()
        key = lambda p: p and p.get("eth0", {}).get("rx_frames")
        t_end = time.monotonic() + limit
        while first is not None and time.monotonic() < t_end:
            cur = self.tw_ports()
            if key(cur) != key(first):
                return cur, time.monotonic()
            time.sleep(0.02)
        return first, time.monotonic()

    @staticmethod
    def delta(s0, s1):
        dt = s1["t"] - s0["t"]
        d = lambda k, f: (s1[k].get(f, 0) - s0[k].get(f, 0)) if s0[k] and s1[k] else None
        m = {"window_s": round(dt, 3),
             "delivered_pps": d("gst", "rx") / dt,
             "offered_pps": d("lan", "tx") / dt,
             "sender_tx_drop_pps": (d("lan", "tx_drop") or 0) / dt,
             "eth0_rx_pps": (d("eth0", "rx") or 0) / dt,
             "tap0_tx_drop_pps": (d("tap0", "tx_drop") or 0) / dt,
             "softirq_cores": (s1["softirq"] - s0["softirq"]) / HZ / dt,
             "busy_cores": (s1["busy"] - s0["busy"]) / HZ / dt,
             "steal_cores": (s1["steal"] - s0["steal"]) / HZ / dt}
        if s0["tw_cpu"] is not None and s1["tw_cpu"] is not None:
            m["tapwall_cores"] = (s1["tw_cpu"] - s0["tw_cpu"]) / HZ / dt
        if s0["tw"] and s1["tw"]:
            dt = s1["tw_t"] - s0["tw_t"]  # tapwall's own counters: their own window
            e0, e1 = s0["tw"].get("eth0", {}), s1["tw"].get("eth0", {})
            t0, t1 = s0["tw"].get("tap0", {}), s1["tw"].get("tap0", {})
            m["tw_eth0_rx_pps"] = (e1.get("rx_frames", 0) - e0.get("rx_frames", 0)) / dt
            m["tw_eth0_ring_drops_pps"] = (e1.get("rx_ring_drops", 0) - e0.get("rx_ring_drops", 0)) / dt
            m["tw_tap0_tx_pps"] = (t1.get("tx_frames", 0) - t0.get("tx_frames", 0)) / dt
            m["tw_tap0_tx_drops_pps"] = (t1.get("tx_drops", 0) - t0.get("tx_drops", 0)) / dt
        return m

    # ---- tests ---------------------------------------------------------------------------
    def trafgen_conf(self, name, dport, flows):
        gmac = self.link_mac("guest", "gst0")
        lmac = self.link_mac("lan", "lan0")
        sport = f"dinc(10000, {10000 + flows - 1})" if flows > 1 else "1234"
        path = os.path.join(self.a.workdir, f"{name}.trafgen")
        with open(path, "w") as f:
            # 14 + 20 + 8 + 18 = 60 bytes: a 64-byte frame on the wire with its FCS.
            f.write(f"{{ eth(da={gmac}, sa={lmac}), ipv4(saddr=192.0.2.1, daddr=192.0.2.2, ttl=64), "
                    f"udp(sport={sport}, dport={dport}), fill(0, 18) }}\n")
        return path

    def link_mac(self, n, dev):
        r = self.run(["ip", "-n", self.ns(n), "-j", "link", "show", dev])
        return json.loads(r.stdout)[0]["address"]

    def flood(self, conf):
        dur = self.a.duration
        cap = int(1_000_000 * (dur + 5))  # bounded in count as well as in time
        p = self.spawn(self.nsx("lan", "timeout", "-s", "INT", str(dur + 5), "trafgen", "--dev", "lan0",
                                "--conf", conf, "--cpus", "1", "--num", str(cap)))
        time.sleep(0.5)
        s0 = self.snap(fresh=True)
        time.sleep(max(0.0, dur - (time.monotonic() - s0["t"])))
        s1 = self.snap(fresh=True)
        self.stop(p, signal.SIGINT, 5)  # `timeout` passes SIGINT on to trafgen
        time.sleep(0.3)
        return self.delta(s0, s1)

    def ping(self, count):
        r = self.run(self.nsx("guest", "ping", "-n", "-i", "0.01", "-W", "1", "-c", str(count), "192.0.2.1"),
                     check=False, timeout=count * 0.05 + 15)
        rtts = sorted(float(x) for x in re.findall(r"time=([\d.]+) ms", r.stdout))
        if not rtts:
            return {"error": "no replies", "loss": 1.0}
        q = lambda p: rtts[min(len(rtts) - 1, int(round(p * (len(rtts) - 1))))]
        return {"p50_ms": q(0.50), "p99_ms": q(0.99), "max_ms": rtts[-1], "replies": len(rtts),
                "loss": 1 - len(rtts) / count}

    def iperf(self, dur, check_bg=None):
        cmd = self.nsx("guest", "timeout", str(dur + 20), "iperf3", "-c", "192.0.2.1", "-p", str(IPERF_PORT),
                       "-t", str(dur), "-J", "--connect-timeout", "3000")
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=dur + 30)
        try:
            j = json.loads(r.stdout)
        except ValueError:
            return {"error": f"iperf3 rc {r.returncode}: {r.stderr.strip()[:200]}", "gbps": 0.0}
        if "error" in j:
            return {"error": j["error"], "gbps": 0.0}
        e = j["end"]
        return {"gbps": e["sum_received"]["bits_per_second"] / 1e9,
                "sent_gbps": e["sum_sent"]["bits_per_second"] / 1e9,
                "retransmits": e["sum_sent"].get("retransmits"),
                "sender_cpu": e.get("cpu_utilization_percent", {}).get("host_total")}

    def tcp(self):
        s0 = self.snap()
        r = self.iperf(self.a.duration)
        s1 = self.snap()
        d = self.delta(s0, s1)
        r.update({k: d[k] for k in ("softirq_cores", "busy_cores") if k in d})
        if "tapwall_cores" in d:
            r["tapwall_cores"] = d["tapwall_cores"]
        return r

    def ping_under_load(self, count):
        dur = int(count * 0.01 + 3)
        p = self.spawn(self.nsx("guest", "timeout", str(dur + 20), "iperf3", "-c", "192.0.2.1", "-p", str(IPERF_PORT),
                                "-t", str(dur), "--connect-timeout", "3000"))
        time.sleep(1.0)
        r = self.ping(count)
        try:  # let it end by itself: an interrupted client can leave the server busy
            p.wait(timeout=dur + 10)
        except subprocess.TimeoutExpired:
            pass
        self.stop(p, signal.SIGINT, 5)
        r["load"] = f"iperf3 guest->LAN, {dur} s"
        time.sleep(0.5)
        return r

    def record(self, cfg, rep, test, m):
        m = dict(m)
        m.update({"config": cfg, "rep": rep, "test": test})
        if cfg != "kernel":
            m["tapwall_alive"] = self.tapwall_alive()
            if not m["tapwall_alive"]:
                self.problems.append({"trial": f"{cfg}-{rep}", "what": f"tapwall died during {test} "
                                      f"(exit {self.tapwall.returncode if self.tapwall else '?'})"})
        self.results.append(m)
        brief = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in m.items()
                 if k in ("delivered_pps", "eth0_rx_pps", "tw_eth0_rx_pps", "tapwall_cores", "softirq_cores",
                          "gbps", "p50_ms", "p99_ms", "loss", "error")}
        log(f"{cfg:8s} rep {rep} {test:9s} {brief}")

    def trial(self, cfg, rep):
        tag = f"{cfg}-{rep}"
        self.ns_up()
        srv = self.spawn(self.nsx("lan", "iperf3", "-s", "-p", str(IPERF_PORT)))
        # A guest that listens on the flooded ports and never reads: frames are dropped at
        # its full socket queue, instead of each costing an ICMP port unreachable attempt
        # (route lookups), which veth would charge to whoever transmits into gst0.
        sink = self.spawn(self.nsx("guest", sys.executable, "-c", SINK))
        info = {}
        try:
            self.bridge_start(cfg, tag)
            if not self.wait_ready():
                self.problems.append({"trial": tag, "what": "no ping guest->LAN through the bridge within 10 s"})
                self.record(cfg, rep, "setup", {"error": "bridge not forwarding"})
                return
            tests = [("udp1", lambda: self.flood(self.trafgen_conf("udp1", 5000, 1))),
                     ("udp10k", lambda: self.flood(self.trafgen_conf("udp10k", 5000, self.a.flows))),
                     ("drop53", lambda: self.flood(self.trafgen_conf("drop53", 53, 1))),
                     ("ping_idle", lambda: self.ping(self.a.pings)),
                     ("ping_load", lambda: self.ping_under_load(self.a.pings)),
                     ("tcp_off", self.tcp)]
            for name, fn in tests:
                if name in self.a.skip:
                    continue
                self.record(cfg, rep, name, fn())
                if cfg != "kernel" and not self.tapwall_alive():
                    log(f"tapwall died during {name} (exit {self.tapwall.returncode}); rest of the trial skipped")
                    return
            if "tcp_on" not in self.a.skip:
                # tapwall is restarted with offloads on, as it would be deployed: libpcap sizes
                # its ring slots from the offload state at open time (MTU-sized when off), so a
                # live toggle would truncate every GSO frame. The kernel bridge adapts live.
                if cfg != "kernel":
                    if self.tapwall_alive():
                        info["tw_ports_offloads_off"] = self.tw_ports()
                    info["offloads_off_run"] = self.bridge_stop(cfg, tag)
                self.offloads("on")
                time.sleep(0.3)
                if cfg != "kernel":
                    self.bridge_start(cfg, tag + "-offl")
                if not self.wait_ready(10):
                    self.problems.append({"trial": tag, "what": "no ping guest->LAN with offloads on within 10 s"})
                self.record(cfg, rep, "tcp_on", self.tcp())
            if self.tapwall_alive():
                info["tw_ports_final"] = self.tw_ports()
        finally:
            info.update(self.bridge_stop(cfg, tag))
            self.stop(srv, signal.SIGTERM, 3)
            self.stop(sink, signal.SIGTERM, 3)
            self.ns_down()
            self.results.append({"config": cfg, "rep": rep, "test": "trial_info", **info})


def rotated_trials(configs, repeats):
    """(repeat, config) pairs, 1-based repeats, the config order rotated each repeat so no
    configuration always runs first (warm caches, a noisy neighbour's rhythm)."""
    for rep in range(1, repeats + 1):
        k = (rep - 1) % len(configs)
        for cfg in configs[k:] + configs[:k]:
            yield rep, cfg


def machine():
    def sh(c):
        try:
            return subprocess.run(c, shell=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        except OSError:
            return ""
    model = ""
    with open("/proc/cpuinfo") as f:
        for l in f:
            if l.startswith("model name"):
                model = l.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu_model": model, "kernel": os.uname().release,
            "os": sh(". /etc/os-release && echo $PRETTY_NAME"), "loadavg_start": open("/proc/loadavg").read().split()[:3],
            "trafgen": sh("trafgen --version | head -1"), "iperf3": sh("iperf3 --version | head -1")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tapwall", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--raw", required=True, help="where to write the raw results (JSON)")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--pidfile", required=True)
    ap.add_argument("--prefix", default="twb")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--duration", type=int, default=4)
    ap.add_argument("--pings", type=int, default=200)
    ap.add_argument("--flows", type=int, default=10000)
    ap.add_argument("--configs", default="kernel,nofilter,afpacket,pcap")
    ap.add_argument("--skip", default="", help="comma list of tests to skip")
    ap.add_argument("--mode", default="full")
    ap.add_argument("--git", default="")
    ap.add_argument("--tw-stats", default="metrics", choices=["metrics", "ctl", "none"],
                    help="how tapwall's own counters are read during a test (ctl: control socket)")
    a = ap.parse_args()
    a.skip = set(filter(None, a.skip.split(",")))
    a.control = os.path.join(a.workdir, "control.sock")
    configs = a.configs.split(",")
    b = Bench(a)
    stopping = {"sig": None}

    def on_signal(sig, _):
        stopping["sig"] = sig
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    t0 = time.time()
    info = machine()
    try:
        for rep, cfg in rotated_trials(configs, a.repeats):
            log(f"trial {cfg} rep {rep}/{a.repeats}")
            try:
                b.trial(cfg, rep)
            except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
                b.problems.append({"trial": f"{cfg}-{rep}", "what": f"trial failed: {e}"})
                log(f"trial {cfg} rep {rep} failed: {e}")
    except KeyboardInterrupt:
        b.problems.append({"what": f"interrupted (signal {stopping['sig']})"})
    finally:
        b.stop_all()
        b.ns_down()
        info["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
        out = {"machine": info,
               "params": {"mode": a.mode, "repeats": a.repeats, "duration_s": a.duration, "pings": a.pings,
                          "flows": a.flows, "configs": configs, "tapwall": a.tapwall, "tapwall_git": a.git,
                          "rules": a.rules, "elapsed_s": round(time.time() - t0, 1)},
               "problems": b.problems, "runs": b.results}
        with open(a.raw, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
