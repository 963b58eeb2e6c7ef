#!/usr/bin/env python3
"""Drop-recorder benchmark: forwarding throughput under a flood of dropped frames, with
tapwall's drop recorder on and off, and the recorder's disk use against its cap.

Purpose: issue 5's last "Done when": a flood of dropped frames at full rate keeps the
recorder inside its disk cap and leaves forwarding throughput within 10% of the same run
with the recorder off. Started by tools/bench/bench-recorder.sh (builds tapwall, installs
the tools, cleans up on any exit); run it through that script.

Topology and helpers: bridge_bench.py's (ns PFX-lan lan0 192.0.2.1 <veth> eth0 | ns PFX-br
tapwall | tap0 <veth> gst0 192.0.2.2 ns PFX-guest; offloads off; a guest sink holding UDP
ports 5000 and 53 without reading), rebuilt fresh for every trial. The bridge is always
`tapwall run --rules seed-firewall.sh --backend afpacket --metrics …`, in turn:
  off       no --drops (the recorder off)
  on        --drops DIR --drops-file-mb 1 --drops-files 4 --drops-rate 100000: the recorder
            writes ~100k frames/s and must rotate every ~1 MiB (cap 4 MiB)
  default   --drops DIR --drops-file-mb 1 --drops-files 4 (the default 1000 frames/s per
            reason, bursts of 2000)
tapwall (all its threads: data path and drop writer) is pinned to one CPU (--pin-cpu, default
1) and trafgen runs on CPU 0, so on a 2-core machine the scheduler's placement does not vary
from trial to trial and the recorder's writer competes with the data path for the same core
(the worst case for the recorder). Each repeat runs the three, rotating their order, so a shared machine's drift hits them alike;
every trial gets a new, empty DIR (earlier runs' files count toward the cap).

Tests of one trial:
  mix   one trafgen (LAN ns, one CPU, as fast as it can) sending, in turn, DROP_PER_FWD
        64-byte frames UDP 192.0.2.1:1234 -> 192.0.2.2:53 (the seed drops them: FORWARD
        policy DROP) and one to port 5000 (accepted). Forwarded frames/s = delta of gst0
        rx_packets in the guest ns over DURATION s, from 0.5 s after trafgen started (only
        the port-5000 frames reach gst0). Recorder counters (metrics endpoint: recorded,
        skipped for rate limit / queue full, disk bytes) over tapwall's own window.
  tcp   trafgen sends only the port-53 frames (full rate) while iperf3 runs guest -> LAN for
        DURATION s; forwarded = iperf3's received rate.
After each trial (traffic stopped): `tapwall ctl --json show drops` (the recorder object),
then tapwall is stopped (SIGINT: the files are flushed), and the drop directory is
measured: sum of the drops-*.pcapng sizes (and `du -sb DIR`), file count, largest pcapng
block (one recorded frame). During the trial a thread samples the directory every 0.1 s
for the peak. Cap check (cap = 4 files x 1 MiB): final total <= cap + one record, peak
sample <= cap + 4 records (a file is rotated after the write that reaches its size, so each
file can end up to one record over it), never more than 4 files.
The driver exits 3 if any cap check failed.
"""
import argparse
import json
import os
import re
import signal
import statistics
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bridge_bench import METRICS_PORT, SINK, Bench, log, machine, rotated_trials  # noqa: E402

CONFIGS = {
    "off": None,
    "on": ["--drops-file-mb", "1", "--drops-files", "4", "--drops-rate", "100000"],
    "default": ["--drops-file-mb", "1", "--drops-files", "4"],
}
FILE_MB, FILES = 1, 4


def dir_files(d):
    out = []
    try:
        with os.scandir(d) as it:
            for e in it:
                if e.name.startswith("drops-") and e.name.endswith(".pcapng"):
                    try:
                        out.append((e.name, e.stat().st_size))
                    except FileNotFoundError:  # deleted by rotation meanwhile
                        pass
    except FileNotFoundError:
        pass
    return out


def pcapng_blocks(path):
    """(largest block length, enhanced packet blocks) of one pcapng file."""
    largest, epbs = 0, 0
    with open(path, "rb") as f:
        data = f.read()
    off, endian = 0, "<"
    while off + 12 <= len(data):
        btype = struct.unpack_from("<I", data, off)[0]
        if btype == 0x0A0D0D0A:  # section header: its byte-order magic sets the endianness
            endian = "<" if struct.unpack_from("<I", data, off + 8)[0] == 0x1A2B3C4D else ">"
        btype, blen = struct.unpack_from(endian + "II", data, off)
        if blen < 12 or off + blen > len(data):
            break  # a truncated tail (file cut while writing)
        if btype == 6:
            epbs += 1
            largest = max(largest, blen)
        off += blen
    return largest, epbs


class RecBench(Bench):
    def __init__(self, a):
        super().__init__(a)
        self.drops_dir = None
        self.peak = (0, 0)  # (bytes, files) seen by the sampler
        self.sampling = False
        self.cap_failures = []

    def parse_metrics(self, text):
        ports = super().parse_metrics(text)
        if ports is not None:
            rec = {}
            m = re.search(r"^tapwall_recorder_frames_total (\d+)$", text, re.M)
            if m:
                rec["recorded"] = int(m.group(1))
                for why, v in re.findall(r'^tapwall_recorder_skipped_total\{why="(\w+)"\} (\d+)$', text, re.M):
                    rec[why] = int(v)
                m = re.search(r"^tapwall_recorder_disk_bytes (\d+)$", text, re.M)
                rec["disk_bytes"] = int(m.group(1)) if m else None
            ports["_rec"] = rec
        return ports

    # ---- bridge -------------------------------------------------------------------------
    def tw_start(self, cfg, tag):
        cmd = [self.a.tapwall, "run", "--uplink", "eth0", "--vm", "tap0", "--rules", self.a.rules,
               "--backend", "afpacket", "--control", self.a.control, "--log-level", "info",
               "--metrics", f"127.0.0.1:{METRICS_PORT}"]
        self.drops_dir = None
        if CONFIGS[cfg] is not None:
            self.drops_dir = os.path.join(self.a.workdir, f"drops-{tag}")
            os.makedirs(self.drops_dir)
            cmd += ["--drops", self.drops_dir] + CONFIGS[cfg]
        self.tw_log_path = os.path.join(self.a.workdir, f"tapwall-{tag}.log")
        self.tw_log = open(self.tw_log_path, "w")
        if self.a.pin_cpu != "none":  # all of tapwall's threads (data path + drop writer) on one core
            cmd = ["taskset", "-c", self.a.pin_cpu] + cmd
        self.tapwall = self.spawn(self.nsx("br", *cmd), stdout=self.tw_log, stderr=subprocess.STDOUT)
        t_end = time.time() + 10
        while time.time() < t_end and not os.path.exists(self.a.control):
            if self.tapwall.poll() is not None:
                break
            time.sleep(0.05)

    def sampler(self):
        while self.sampling:
            f = dir_files(self.drops_dir)
            total = sum(s for _, s in f)
            if total > self.peak[0] or len(f) > self.peak[1]:
                self.peak = (max(total, self.peak[0]), max(len(f), self.peak[1]))
            time.sleep(0.1)

    # ---- traffic ------------------------------------------------------------------------
    def mix_conf(self):
        gmac, lmac = self.link_mac("guest", "gst0"), self.link_mac("lan", "lan0")
        path = os.path.join(self.a.workdir, "mix.trafgen")
        pkt = lambda dport: (f"{{ eth(da={gmac}, sa={lmac}), ipv4(saddr=192.0.2.1, daddr=192.0.2.2, ttl=64), "
                             f"udp(sport=1234, dport={dport}), fill(0, 18) }}\n")
        with open(path, "w") as f:  # trafgen sends the packets of its configuration in turn
            f.write(pkt(53) * self.a.drop_per_fwd + pkt(5000))
        return path

    def trafgen(self, conf):
        dur = self.a.duration
        cap = int(1_000_000 * (dur + 5))  # bounded in count as well as in time
        return self.spawn(self.nsx("lan", "timeout", "-s", "INT", str(dur + 5), "trafgen", "--dev", "lan0",
                                   "--conf", conf, "--cpus", "1", "--num", str(cap)))

    @staticmethod
    def rec_delta(s0, s1):
        m = {}
        if not (s0.get("tw") and s1.get("tw")):
            return m
        dt = s1["tw_t"] - s0["tw_t"]
        r0, r1 = s0["tw"].get("_rec", {}), s1["tw"].get("_rec", {})
        for k in ("recorded", "rate_limit", "queue_full"):
            if k in r0 and k in r1:
                m[f"rec_{k}_pps"] = (r1[k] - r0[k]) / dt
        d0 = sum(int(v) for k, v in s0["tw"].get("_drops", {}).items() if k.startswith('port="eth0"'))
        d1 = sum(int(v) for k, v in s1["tw"].get("_drops", {}).items() if k.startswith('port="eth0"'))
        m["tw_eth0_dropped_pps"] = (d1 - d0) / dt
        if r1.get("disk_bytes") is not None:
            m["rec_disk_bytes_end"] = r1["disk_bytes"]
        return m

    def test_mix(self):
        p = self.trafgen(self.mix_conf())
        time.sleep(0.5)
        s0 = self.snap(fresh=True)
        time.sleep(max(0.0, self.a.duration - (time.monotonic() - s0["t"])))
        s1 = self.snap(fresh=True)
        self.stop(p, signal.SIGINT, 5)
        m = self.delta(s0, s1)
        m["fwd_pps"] = m["delivered_pps"]
        if m["offered_pps"]:  # share of the forwardable (port-5000) frames offered that arrived
            m["fwd_fraction"] = m["fwd_pps"] / (m["offered_pps"] / (self.a.drop_per_fwd + 1))
        if m.get("tapwall_cores") is not None and m.get("tw_eth0_rx_pps"):
            m["tapwall_ns_per_frame"] = m["tapwall_cores"] * 1e9 / (m["tw_eth0_rx_pps"])
        m.update(self.rec_delta(s0, s1))
        time.sleep(0.3)
        return m

    def test_tcp(self):
        p = self.trafgen(self.trafgen_conf("drop53", 53, 1))
        time.sleep(0.5)
        s0 = self.snap(fresh=True)
        r = self.iperf(self.a.duration)
        s1 = self.snap(fresh=True)
        self.stop(p, signal.SIGINT, 5)
        d = self.delta(s0, s1)
        r.update({k: d[k] for k in ("offered_pps", "eth0_rx_pps", "tw_eth0_rx_pps", "tw_eth0_ring_drops_pps",
                                    "tapwall_cores", "busy_cores", "softirq_cores") if k in d})
        r.update(self.rec_delta(s0, s1))
        time.sleep(0.3)
        return r

    def ctl_drops(self):
        r = subprocess.run([self.a.tapwall, "ctl", "--control", self.a.control, "--json", "show", "drops"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
        try:
            return json.loads(r.stdout)
        except ValueError:
            return {"error": f"ctl rc {r.returncode}: {r.stderr.strip()[:200]}"}

    def disk_check(self, tag):
        files = sorted(dir_files(self.drops_dir))
        total = sum(s for _, s in files)
        du = subprocess.run(["du", "-sb", self.drops_dir], stdout=subprocess.PIPE, text=True).stdout.split()
        largest, epbs = 0, 0
        for name, _ in files:
            l, n = pcapng_blocks(os.path.join(self.drops_dir, name))
            largest, epbs = max(largest, l), epbs + n
        cap = FILES * FILE_MB * 1024 * 1024
        # A file is rotated after the write that takes it to >= its size, so every file ends
        # up to one record over it; in the instant between that write and the deletion of
        # the oldest file the total is cap + FILES x (record - 1) at most. The final total
        # (the brief's check) must be <= cap + one record; a peak sample, <= cap + FILES records.
        limit, peak_limit = cap + largest, cap + FILES * largest
        c = {"files": len(files), "file_sizes": [s for _, s in files], "files_bytes": total,
             "du_sb_dir": int(du[0]) if du else None, "cap_bytes": cap, "max_files": FILES,
             "largest_record_bytes": largest, "frames_in_files": epbs, "limit_bytes": limit,
             "peak_bytes": self.peak[0], "peak_files": self.peak[1], "peak_limit_bytes": peak_limit,
             "max_file_overshoot_bytes": max([s - FILE_MB * 1024 * 1024 for _, s in files] + [0])}
        c["within_cap"] = (total <= limit and self.peak[0] <= peak_limit and len(files) <= FILES
                           and self.peak[1] <= FILES)
        if not c["within_cap"]:
            self.cap_failures.append({"trial": tag, **c})
            log(f"CAP EXCEEDED in {tag}: {c}")
        return c

    def trial(self, cfg, rep):
        tag = f"{cfg}-{rep}"
        self.ns_up()
        srv = self.spawn(self.nsx("lan", "iperf3", "-s", "-p", "5201"))
        sink = self.spawn(self.nsx("guest", sys.executable, "-c", SINK))
        info = {}
        th = None
        try:
            self.tw_start(cfg, tag)
            if not self.wait_ready():
                self.problems.append({"trial": tag, "what": "no ping guest->LAN through the bridge within 10 s"})
                self.record(cfg, rep, "setup", {"error": "bridge not forwarding"})
                return
            if self.drops_dir:
                self.peak, self.sampling = (0, 0), True
                th = threading.Thread(target=self.sampler, daemon=True)
                th.start()
            for name, fn in (("mix", self.test_mix), ("tcp", self.test_tcp)):
                if name in self.a.skip:
                    continue
                self.record(cfg, rep, name, fn())
                if not self.tapwall_alive():
                    log(f"tapwall died during {name} (exit {self.tapwall.returncode}); rest of the trial skipped")
                    return
            if self.drops_dir and self.tapwall_alive():
                time.sleep(0.3)  # let the writer drain its queue
                info["ctl_show_drops"] = self.ctl_drops()
        finally:
            info.update(self.bridge_stop(cfg, tag))  # SIGINT: the drop files are flushed and closed
            self.sampling = False
            if th is not None:
                th.join(timeout=2)
            if self.drops_dir:
                info["disk"] = self.disk_check(tag)
                log(f"{tag}: disk {info['disk']['files_bytes']} B in {info['disk']['files']} files "
                    f"(peak {info['disk']['peak_bytes']}), limit {info['disk']['limit_bytes']}: "
                    f"{'ok' if info['disk']['within_cap'] else 'EXCEEDED'}")
            self.stop(srv, signal.SIGTERM, 3)
            self.stop(sink, signal.SIGTERM, 3)
            self.ns_down()
            self.results.append({"config": cfg, "rep": rep, "test": "trial_info", **info})

    def record(self, cfg, rep, test, m):
        m = dict(m)
        m.update({"config": cfg, "rep": rep, "test": test, "tapwall_alive": self.tapwall_alive()})
        if not m["tapwall_alive"]:
            self.problems.append({"trial": f"{cfg}-{rep}", "what": f"tapwall died during {test}"})
        self.results.append(m)
        keys = ("fwd_pps", "offered_pps", "tw_eth0_rx_pps", "tw_eth0_dropped_pps", "gbps", "rec_recorded_pps",
                "rec_rate_limit_pps", "rec_queue_full_pps", "tapwall_cores", "error")
        log(f"{cfg:7s} rep {rep} {test:4s} " + str({k: round(m[k], 3) if isinstance(m[k], float) else m[k]
                                                     for k in keys if k in m}))


# ---- summary ------------------------------------------------------------------------------
def summarize(runs, configs):
    def stat(vals):
        vals = [v for v in vals if v is not None]
        if not vals:
            return None
        return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}

    figures = {  # name -> (test, key, scale)
        "mix_forwarded_kpps": ("mix", "fwd_pps", 1e-3),
        "mix_offered_kpps": ("mix", "offered_pps", 1e-3),
        "mix_tapwall_read_kpps": ("mix", "tw_eth0_rx_pps", 1e-3),
        "mix_dropped_kpps": ("mix", "tw_eth0_dropped_pps", 1e-3),
        "mix_recorded_per_s": ("mix", "rec_recorded_pps", 1),
        "mix_rate_limited_per_s": ("mix", "rec_rate_limit_pps", 1),
        "mix_queue_full_per_s": ("mix", "rec_queue_full_pps", 1),
        "mix_tapwall_cores": ("mix", "tapwall_cores", 1),
        "mix_forwarded_fraction": ("mix", "fwd_fraction", 1),
        "mix_tapwall_ns_per_frame_read": ("mix", "tapwall_ns_per_frame", 1),
        "mix_ring_drops_kpps": ("mix", "tw_eth0_ring_drops_pps", 1e-3),
        "tcp_forwarded_gbps": ("tcp", "gbps", 1),
        "tcp_flood_offered_kpps": ("tcp", "offered_pps", 1e-3),
        "tcp_recorded_per_s": ("tcp", "rec_recorded_pps", 1),
        "tcp_rate_limited_per_s": ("tcp", "rec_rate_limit_pps", 1),
        "tcp_queue_full_per_s": ("tcp", "rec_queue_full_pps", 1),
    }
    summary = {}
    for fig, (test, key, scale) in figures.items():
        for cfg in configs:
            vals = [r[key] * scale for r in runs if r.get("test") == test and r.get("config") == cfg
                    and r.get(key) is not None and "error" not in r]
            s = stat(vals)
            if s:
                summary.setdefault(fig, {})[cfg] = s
    ratios = {}
    for fig, (test, key) in {"mix_forwarded": ("mix", "fwd_pps"), "mix_forwarded_fraction": ("mix", "fwd_fraction"),
                             "tcp_forwarded": ("tcp", "gbps")}.items():
        for cfg in configs:
            if cfg == "off":
                continue
            paired = []
            for r in runs:
                if r.get("test") != test or r.get("config") != cfg or "error" in r:
                    continue
                off = [o for o in runs if o.get("test") == test and o.get("config") == "off"
                       and o.get("rep") == r["rep"] and "error" not in o and o.get(key)]
                if off and r.get(key) is not None:
                    paired.append(r[key] / off[0][key])
            on_m = [r[key] for r in runs if r.get("test") == test and r.get("config") == cfg and r.get(key) is not None and "error" not in r]
            off_m = [r[key] for r in runs if r.get("test") == test and r.get("config") == "off" and r.get(key) is not None and "error" not in r]
            if on_m and off_m and statistics.median(off_m) > 0:
                rom = statistics.median(on_m) / statistics.median(off_m)
                ratios.setdefault(fig, {})[cfg] = {
                    "ratio_of_medians": rom,
                    "paired_ratios": paired,
                    "median_paired_ratio": statistics.median(paired) if paired else None,
                    "within_10pct": rom >= 0.9}
    disks = {}
    for r in runs:
        if r.get("test") == "trial_info" and "disk" in r:
            disks[f"{r['config']}-{r['rep']}"] = r["disk"]
    return summary, ratios, disks


def table(summary, ratios, disks, configs):
    def cell(fig, cfg, fmt):
        s = summary.get(fig, {}).get(cfg)
        return fmt.format(s["median"]) if s else "—"
    lines = ["| figure | " + " | ".join(configs) + " |", "|---|" + "---|" * len(configs)]
    rows = [("mix: forwarded 64 B UDP (kpps, at gst0)", "mix_forwarded_kpps", "{:.1f}"),
            ("mix: offered, both streams (kpps)", "mix_offered_kpps", "{:.0f}"),
            ("mix: read by tapwall (kpps)", "mix_tapwall_read_kpps", "{:.1f}"),
            ("mix: dropped by policy (kpps)", "mix_dropped_kpps", "{:.1f}"),
            ("mix: recorded (frames/s)", "mix_recorded_per_s", "{:.0f}"),
            ("mix: skipped, rate limit (frames/s)", "mix_rate_limited_per_s", "{:.0f}"),
            ("mix: skipped, queue full (frames/s)", "mix_queue_full_per_s", "{:.0f}"),
            ("mix: forwarded / forwardable offered", "mix_forwarded_fraction", "{:.3f}"),
            ("mix: eth0 ring drops (kpps)", "mix_ring_drops_kpps", "{:.1f}"),
            ("mix: tapwall CPU (cores)", "mix_tapwall_cores", "{:.2f}"),
            ("mix: tapwall CPU per frame read (ns)", "mix_tapwall_ns_per_frame_read", "{:.0f}"),
            ("tcp under drop flood: guest→LAN (Gbit/s)", "tcp_forwarded_gbps", "{:.3f}"),
            ("tcp: drop flood offered (kpps)", "tcp_flood_offered_kpps", "{:.0f}"),
            ("tcp: recorded (frames/s)", "tcp_recorded_per_s", "{:.0f}"),
            ("tcp: skipped, rate limit (frames/s)", "tcp_rate_limited_per_s", "{:.0f}"),
            ("tcp: skipped, queue full (frames/s)", "tcp_queue_full_per_s", "{:.0f}")]
    for label, fig, fmt in rows:
        lines.append(f"| {label} | " + " | ".join(cell(fig, c, fmt) for c in configs) + " |")
    for fig, label in (("mix_forwarded", "mix forwarded"), ("mix_forwarded_fraction", "mix forwarded fraction"),
                       ("tcp_forwarded", "tcp forwarded")):
        cells = []
        for c in configs:
            r = ratios.get(fig, {}).get(c)
            cells.append("1" if c == "off" else (f"{r['ratio_of_medians']:.3f} (paired {r['median_paired_ratio']:.3f})"
                                                  if r and r["median_paired_ratio"] is not None else "—"))
        lines.append(f"| {label}: ratio to off | " + " | ".join(cells) + " |")
    for c in configs:
        if c == "off":
            continue
        ds = [d for k, d in disks.items() if k.startswith(c + "-")]
        if ds:
            lines.append(f"| disk ({c}): max final / max peak / cap (bytes), files | " + " | ".join(
                (f"{max(d['files_bytes'] for d in ds)} / {max(d['peak_bytes'] for d in ds)} / {ds[0]['cap_bytes']}, "
                 f"≤{max(d['files'] for d in ds)} of {ds[0]['max_files']}, "
                 f"{'within cap' if all(d['within_cap'] for d in ds) else 'EXCEEDED'}") if cc == c else ""
                for cc in configs) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tapwall", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--json", required=True, help="where to write the results (JSON)")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--pidfile", required=True)
    ap.add_argument("--prefix", default="twr")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--drop-per-fwd", type=int, default=1, help="dropped frames sent per forwarded frame (mix)")
    ap.add_argument("--configs", default="off,on,default")
    ap.add_argument("--pin-cpu", default="1" if (os.cpu_count() or 1) > 1 else "none",
                    help="CPU for all of tapwall's threads (taskset), 'none' to let them float; trafgen "
                         "(--cpus 1) runs on CPU 0")
    ap.add_argument("--skip", default="", help="comma list of tests to skip (mix,tcp)")
    ap.add_argument("--mode", default="full")
    ap.add_argument("--git", default="")
    a = ap.parse_args()
    a.skip = set(filter(None, a.skip.split(",")))
    a.control = os.path.join(a.workdir, "control.sock")
    a.tw_stats = "metrics"
    configs = a.configs.split(",")
    for c in configs:
        if c not in CONFIGS:
            ap.error(f"unknown config {c}")
    b = RecBench(a)
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
        summary, ratios, disks = summarize(b.results, configs)
        out = {"machine": info,
               "params": {"mode": a.mode, "repeats": a.repeats, "duration_s": a.duration,
                          "drop_per_fwd": a.drop_per_fwd, "pin_cpu": a.pin_cpu, "configs": {c: CONFIGS[c] for c in configs},
                          "tapwall": a.tapwall, "tapwall_git": a.git,
                          "tapwall_built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.stat(a.tapwall).st_mtime)),
                          "rules": a.rules,
                          "elapsed_s": round(time.time() - t0, 1)},
               "summary": summary, "ratios_to_off": ratios, "disk": disks,
               "cap_ok": not b.cap_failures, "cap_failures": b.cap_failures,
               "problems": b.problems, "runs": b.results}
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
        print(table(summary, ratios, disks, configs))
        print(f"\ncap: {'every trial within cap (final <= cap + one record, peak <= cap + files x record)' if not b.cap_failures else 'EXCEEDED'}; "
              f"problems: {len(b.problems)}; JSON: {a.json}")
    if b.cap_failures:
        return 3
    return 1 if stopping["sig"] is not None else 0


if __name__ == "__main__":
    sys.exit(main())
