#!/usr/bin/env python3
"""End-to-end test with a real VM: a QEMU guest's virtio-net NIC on tap0, bridged by
`tapwall run` to a LAN namespace, TCP both ways, checksummed at the far end.

Topology (per backend, in namespaces this test creates and deletes):

    [lan ns] lan0 192.0.2.1/24 ==veth== eth0 [br ns: tapwall run --uplink eth0 --vm tap0]
                                                   tap0 == QEMU (TCG) virtio-net, vnet_hdr=on
                                                          guest eth0 192.0.2.2/24

The guest (tools/vm/build-guest.sh: Debian kernel + busybox initramfs, /init =
tools/vm/guest-init.sh) generates SIZE bytes with twgen (splitmix64, seed 1), prints their
sha256 on the serial console and sends them with busybox nc to the LAN's listener (port
5001); then it listens on 8080 (allowed by the seed rules' --dport 1024:65535), receives SIZE
bytes the LAN sends (splitmix64, seed 2), prints their sha256 and powers off. Both sides'
checksums are compared with the checksum of the bytes regenerated here.

Offloads are observed, not assumed: tcpdump on tap0 (in the bridge namespace) shows whether
the guest handed over TSO super-frames (> 1514 bytes) with partial checksums, and
`tapwall ctl --json show ports` gives tx_segmented / csum_completed per port.

Usage: test_vm_guest.py --tapwall PATH [--backends pcap,afpacket] [--size BYTES]
                        [--guest-dir DIR] [--workdir DIR]
Needs root. Exit 0 when every check passed, 1 otherwise, 77 when the VM cannot run here
(qemu cannot be installed). Last line: "N passed, N failed".
"""

import argparse
import hashlib
import json
import os
import queue
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD_GUEST = os.path.join(REPO, "tools", "vm", "build-guest.sh")
RULES = os.path.join(REPO, "tools", "golden", "seed-firewall.sh")

LAN_IP, GUEST_IP = "192.0.2.1", "192.0.2.2"
GUEST_MAC = "52:54:00:12:34:56"
TX_PORT, RX_PORT = 5001, 8080  # guest -> LAN, LAN -> guest
GUEST_SEED, LAN_SEED = 1, 2
SKIP = 77

BACKEND_DEADLINE_S = 110  # QEMU start to guest poweroff, per backend (bounded, generous)
TOTAL_BUDGET_S = 270      # the whole run; CTest's TIMEOUT is 300
TRANSFER_TIMEOUT_S = 60   # each transfer, inside the guest and in the LAN helpers
PREFIX = "twvm%d-" % os.getpid()


# ---------------------------------------------------------------------------------------
# Data: splitmix64, identical to tools/vm/twgen.c.

def splitmix_bytes(seed, size):
    m = (1 << 64) - 1
    s = seed & m
    words = []
    for _ in range((size + 7) // 8):
        s = (s + 0x9E3779B97F4A7C15) & m
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
        words.append(z ^ (z >> 31))
    return struct.pack("<%dQ" % len(words), *words)[:size]


# ---------------------------------------------------------------------------------------
# Helpers run inside the LAN namespace (ip netns exec NS python3 THIS --helper ...).

def helper_recv(port, timeout):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((LAN_IP, port))
    srv.listen(1)
    print(json.dumps({"listening": port}), flush=True)
    srv.settimeout(timeout)
    out = {"bytes": 0, "sha256": None, "error": None}
    h = hashlib.sha256()
    try:
        conn, peer = srv.accept()
        out["peer"] = "%s:%d" % peer
        conn.settimeout(timeout)
        while True:
            b = conn.recv(1 << 16)
            if not b:
                break
            h.update(b)
            out["bytes"] += len(b)
        conn.close()
    except OSError as e:
        out["error"] = repr(e)
    out["sha256"] = h.hexdigest()
    print(json.dumps(out), flush=True)


def helper_send(host, port, seed, size, timeout):
    data = splitmix_bytes(seed, size)
    out = {"bytes": 0, "sha256": hashlib.sha256(data).hexdigest(), "error": None, "tries": 0}
    deadline = time.monotonic() + timeout
    s = None
    while time.monotonic() < deadline:
        out["tries"] += 1
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect((host, port))
            break
        except OSError as e:
            out["error"] = "connect: " + repr(e)
            s.close()
            s = None
            time.sleep(1)
    if s is not None:
        out["error"] = None
        try:
            s.settimeout(max(1.0, deadline - time.monotonic()))
            s.sendall(data)
            out["bytes"] = len(data)
            s.shutdown(socket.SHUT_WR)
            while s.recv(1 << 16):
                pass
        except OSError as e:
            out["error"] = repr(e)
        s.close()
    print(json.dumps(out), flush=True)


# ---------------------------------------------------------------------------------------
# Plumbing.

def sh(*cmd, check=True, timeout=30):
    r = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s -> %d: %s" % (" ".join(cmd), r.returncode, r.stdout.strip()))
    return r.stdout


def log(msg):
    print("[vm %6.1fs] %s" % (time.monotonic() - T0, msg), flush=True)


T0 = time.monotonic()


class Console:
    """Reads QEMU's serial output (stdout) in a thread; keeps "@@TW" lines for waiting."""

    ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1bc")

    def __init__(self, proc, path):
        self.proc = proc
        self.lines = []
        self.cv = threading.Condition()
        self.f = open(path, "w", encoding="utf-8", errors="replace")
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        for raw in self.proc.stdout:
            line = self.ANSI.sub("", raw.decode("utf-8", "replace")).rstrip("\r\n")
            self.f.write("%7.2f %s\n" % (time.monotonic() - T0, line))
            self.f.flush()
            with self.cv:
                self.lines.append(line)
                self.cv.notify_all()
        with self.cv:
            self.lines.append(None)  # EOF: QEMU exited
            self.cv.notify_all()

    def marker(self, word):
        """The key=value dict of the first '@@TW word ...' line, or None."""
        with self.cv:
            return self._find(word)

    def _find(self, word):
        for ln in self.lines:
            if ln is None:
                continue
            i = ln.find("@@TW ")
            if i < 0:
                continue
            parts = ln[i + 5:].split()
            if parts and parts[0] == word:
                d = {"_line": ln[i:]}
                for p in parts[1:]:
                    k, _, v = p.partition("=")
                    d[k] = v
                return d
        return None

    def wait(self, words, deadline):
        """Waits for the first of `words` (or QEMU's exit); returns (word, dict) or (None, None)."""
        with self.cv:
            while True:
                for w in words:
                    d = self._find(w)
                    if d is not None:
                        return w, d
                if None in self.lines:
                    return None, None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None, None
                self.cv.wait(min(left, 1.0))

    def tw_lines(self):
        with self.cv:
            return [ln[ln.find("@@TW "):] for ln in self.lines if ln and "@@TW " in ln]

    def close(self):
        self.t.join(timeout=5)
        self.f.close()


class Lines:
    """Lines of a helper's stdout, read in a thread so that every wait is bounded."""

    def __init__(self, proc):
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._run, args=(proc,), daemon=True)
        self.t.start()

    def _run(self, proc):
        for ln in proc.stdout:
            self.q.put(ln.strip())
        self.q.put(None)

    def get(self, timeout):
        try:
            return self.q.get(timeout=max(0.1, timeout))
        except queue.Empty:
            return None


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("PASS %s%s" % (name, (": " + detail) if detail else ""), flush=True)
        else:
            self.failed += 1
            print("FAIL %s%s" % (name, (": " + detail) if detail else ""), flush=True)
        return ok


class Stopped(Exception):
    pass


def on_signal(signum, _frame):
    raise Stopped("signal %d" % signum)


def netns_list():
    out = sh("ip", "netns", "list", check=False)
    return [ln.split()[0] for ln in out.splitlines() if ln.strip()]


def remove_stale_namespaces():
    """Namespaces of earlier runs of this test whose process is gone (a killed run)."""
    for ns in netns_list():
        m = re.match(r"^twvm(\d+)-", ns)
        if m and not os.path.exists("/proc/%s" % m.group(1)):
            log("removing stale namespace %s" % ns)
            sh("ip", "netns", "del", ns, check=False)


def stop(proc, name, sig=signal.SIGTERM, grace=10):
    """Stops one process this test started, by its PID."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        log("%s (pid %d) did not stop: SIGKILL" % (name, proc.pid))
        proc.kill()
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------------------------------
# Capture analysis (classic pcap written by tcpdump; snaplen small, orig_len is the truth).

def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off, frames = 24, []
    while off + 16 <= len(data):
        _, _, incl, orig = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        frames.append((orig, data[off:off + incl]))
        off += incl
    return frames


def csum16(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def tcp_frames(frames, src_mac):
    """(orig_len, payload_len, partial_csum) of IPv4 TCP frames from src_mac."""
    mac = bytes.fromhex(src_mac.replace(":", ""))
    out = []
    for orig, b in frames:
        if len(b) < 54 or b[6:12] != mac or b[12:14] != b"\x08\x00":
            continue
        ip = b[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6 or len(ip) < ihl + 20:
            continue
        tot = struct.unpack("!H", ip[2:4])[0]
        tcp = ip[ihl:]
        doff = (tcp[12] >> 4) * 4
        l4len = tot - ihl
        # A partial checksum (CHECKSUM_PARTIAL, left to the NIC) holds the folded
        # pseudo-header sum, not its complement.
        pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, l4len)
        field = struct.unpack("!H", tcp[16:18])[0]
        partial = field == csum16(pseudo)
        out.append((orig, l4len - doff, partial))
    return out


def summarize(frames, src_mac):
    t = tcp_frames(frames, src_mac)
    data = [x for x in t if x[1] > 0]
    big = [x for x in data if x[0] > 1514]
    return {
        "tcp_frames": len(t),
        "data_frames": len(data),
        "super_frames": len(big),
        "max_frame": max((x[0] for x in t), default=0),
        "partial_csum": sum(1 for x in data if x[2]),
    }


def mac_of(ns, dev):
    out = sh("ip", "-n", ns, "-j", "link", "show", dev)
    return json.loads(out)[0]["address"]


# ---------------------------------------------------------------------------------------
# One backend.

def run_backend(args, guest_dir, backend, res):
    tag = "[%s]" % backend
    lan_ns, br_ns = PREFIX + backend + "-lan", PREFIX + backend + "-br"
    wd = os.path.join(args.workdir, backend)
    os.makedirs(wd, exist_ok=True)
    for f in os.listdir(wd):
        os.unlink(os.path.join(wd, f))
    ctl_path = os.path.join(wd, "ctl.sock")
    procs = []  # (name, Popen), stopped in reverse order
    files = []
    console = None
    timings = {}
    caps = {}

    def popen(name, cmd, **kw):
        # setpriv --pdeathsig: if this driver is killed (CTest's timeout sends SIGKILL, which
        # no cleanup survives), what it started dies with it instead of lingering.
        p = subprocess.Popen(["setpriv", "--pdeathsig", "KILL", *cmd], **kw)
        procs.append((name, p))
        return p

    def logfile(name):
        f = open(os.path.join(wd, name), "w")
        files.append(f)
        return f

    def ctl(*cmd):
        r = subprocess.run([args.tapwall, "ctl", "--control", ctl_path, "--json", *cmd],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=20)
        if r.returncode != 0:
            return None
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    try:
        # Topology.
        sh("ip", "netns", "add", lan_ns)
        sh("ip", "netns", "add", br_ns)
        sh("ip", "-n", lan_ns, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0",
           "netns", br_ns)
        sh("ip", "-n", lan_ns, "addr", "add", LAN_IP + "/24", "dev", "lan0")
        for ns, dev in ((lan_ns, "lo"), (lan_ns, "lan0"), (br_ns, "lo"), (br_ns, "eth0")):
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", br_ns, "tuntap", "add", "dev", "tap0", "mode", "tap")
        sh("ip", "-n", br_ns, "link", "set", "tap0", "up")
        lan_mac = mac_of(lan_ns, "lan0")

        # Captures: what the guest hands tap0 and the LAN hands eth0 (bridge namespace), and
        # what reaches lan0 (LAN namespace). Frames tapwall sends with PACKET_QDISC_BYPASS
        # (afpacket) skip the egress taps, so tap0/eth0 show them only with pcap.
        for ns, dev in ((br_ns, "tap0"), (br_ns, "eth0"), (lan_ns, "lan0")):
            caps[dev] = os.path.join(wd, dev + ".pcap")
            popen("tcpdump " + dev,
                  ["ip", "netns", "exec", ns, "tcpdump", "-Z", "root", "-p", "-n", "-U", "-s", "128",
                   "-i", dev, "-w", caps[dev], "tcp"],
                  stdout=subprocess.DEVNULL, stderr=logfile("tcpdump-%s.log" % dev))

        if backend == "kernel":
            # Baseline for diagnosis only (--backends kernel): the kernel's br0, unfiltered.
            sh("ip", "-n", br_ns, "link", "add", "br0", "type", "bridge")
            for dev in ("eth0", "tap0", "br0"):
                if dev != "br0":
                    sh("ip", "-n", br_ns, "link", "set", dev, "master", "br0")
                sh("ip", "-n", br_ns, "link", "set", dev, "up")
        # tapwall.
        t = time.monotonic()
        tw = None if backend == "kernel" else popen("tapwall", ["ip", "netns", "exec", br_ns, args.tapwall, "run",
                               "--uplink", "eth0", "--vm", "tap0", "--rules", RULES,
                               "--backend", backend, "--control", ctl_path],
                   stdout=logfile("tapwall.log"), stderr=subprocess.STDOUT,
                   env=dict(os.environ, UBSAN_OPTIONS=os.environ.get(
                       "UBSAN_OPTIONS", "print_stacktrace=1")))
        deadline = time.monotonic() + 60
        ports = None
        # Ask ctl only once the worker runs, and a moment later: a `show ports` answered
        # before the worker's first stats snapshot indexes an empty drops_by_port
        # (control_server.cpp show_ports; UBSan stops tapwall). Reported to the lead; the
        # wait keeps this test about the VM path, not that start-up race.
        tw_log = os.path.join(wd, "tapwall.log")
        while tw and time.monotonic() < deadline and tw.poll() is None:
            if "tapwall running" in open(tw_log).read():
                time.sleep(1)
                break
            time.sleep(0.2)
        while tw and time.monotonic() < deadline and tw.poll() is None:
            ports = ctl("show", "ports")
            if ports and ports.get("ok"):
                break
            time.sleep(0.3)
        if tw and not res.check(tag + " tapwall runs and answers ctl",
                                bool(ports and ports.get("ok")),
                                "exit=%s, see %s" % (tw.poll(), os.path.join(wd, "tapwall.log"))):
            return
        timings["tapwall_ready_s"] = round(time.monotonic() - t, 1)
        # tcpdump needs a moment to attach; it writes its "listening" line when it has.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(
                "listening" in open(os.path.join(wd, "tcpdump-%s.log" % d)).read()
                for d in caps):
            time.sleep(0.2)

        # LAN listener for guest -> LAN.
        recv = popen("lan receiver",
                     ["ip", "netns", "exec", lan_ns, sys.executable, os.path.abspath(__file__),
                      "--helper", "recv", str(TX_PORT), str(BACKEND_DEADLINE_S)],
                     stdout=subprocess.PIPE, stderr=logfile("lan-recv.err"), text=True)
        recv_lines = Lines(recv)
        first = recv_lines.get(20) or ""
        if not res.check(tag + " LAN listener up", "listening" in first, first.strip()):
            return

        # The guest.
        append = ("console=ttyS0 quiet loglevel=3 panic=-1 tw.role=transfer "
                  "tw.ip=%s/24 tw.peer=%s tw.txport=%d tw.rxport=%d tw.size=%d tw.seed=%d "
                  "tw.timeout=%d" % (GUEST_IP, LAN_IP, TX_PORT, RX_PORT, args.size, GUEST_SEED,
                                     TRANSFER_TIMEOUT_S))
        qemu_cmd = ["ip", "netns", "exec", br_ns, "qemu-system-x86_64", "-accel", "tcg",
                    "-m", "256", "-nographic", "-no-reboot",
                    "-kernel", os.path.join(guest_dir, "vmlinuz"),
                    "-initrd", os.path.join(guest_dir, "initramfs.cpio.gz"),
                    "-append", append,
                    "-netdev", "tap,ifname=tap0,script=no,downscript=no,vnet_hdr=on,id=n0",
                    "-device", "virtio-net-pci,netdev=n0,mac=%s,romfile=" % GUEST_MAC]
        with open(os.path.join(wd, "qemu.cmd"), "w") as f:
            f.write(" ".join(qemu_cmd) + "\n")
        # Counters before the guest exists: frames flooded to tap0 while nothing holds it.
        before = (tw and ctl("show", "ports")) or {}
        t_qemu = time.monotonic()
        qemu = popen("qemu", qemu_cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                     stderr=logfile("qemu.err"))
        console = Console(qemu, os.path.join(wd, "console.log"))
        deadline = min(t_qemu + BACKEND_DEADLINE_S, T0 + TOTAL_BUDGET_S)

        w, d = console.wait(["ready", "fail"], deadline)
        timings["boot_s"] = round(time.monotonic() - t_qemu, 1)
        if not res.check(tag + " guest boots, virtio eth0 up", w == "ready",
                         "%s; qemu exit %s: %s; see %s" % (
                             d and d["_line"], qemu.poll(),
                             open(os.path.join(wd, "qemu.err")).read()[-400:].strip(),
                             os.path.join(wd, "console.log"))):
            return
        log("%s guest ready after %.1fs" % (tag, timings["boot_s"]))

        # (a) guest -> LAN
        t = time.monotonic()
        w, d = console.wait(["tx-done", "fail", "done"], deadline)
        timings["guest_to_lan_s"] = round(time.monotonic() - t, 1)
        rline = recv_lines.get(15 if w == "tx-done" else 1)
        stop(recv, "lan receiver")
        try:
            got = json.loads(rline)
        except (TypeError, ValueError):
            got = {"error": "no result from the receiver (%r)" % rline}
        expect = hashlib.sha256(splitmix_bytes(GUEST_SEED, args.size)).hexdigest()
        txsha = console.marker("tx-sha") or {}
        res.check(tag + " guest's data is the expected splitmix stream",
                  txsha.get("sha256") == expect, "guest %s, expected %s" % (txsha.get("sha256"), expect))
        res.check(tag + " guest->LAN %d bytes arrive intact" % args.size,
                  got.get("bytes") == args.size and got.get("sha256") == expect,
                  "received %s bytes sha256 %s error %s; guest said %s" % (
                      got.get("bytes"), got.get("sha256"), got.get("error"),
                      d and d["_line"]))

        # (b) LAN -> guest
        t = time.monotonic()
        w, d = console.wait(["listening", "fail", "done"], deadline)
        sent = {"error": "guest never listened (%s)" % (d and d["_line"])}
        if w == "listening":
            left = max(5, int(deadline - time.monotonic()))
            snd = popen("lan sender",
                        ["ip", "netns", "exec", lan_ns, sys.executable, os.path.abspath(__file__),
                         "--helper", "send", GUEST_IP, str(RX_PORT), str(LAN_SEED),
                         str(args.size), str(min(left, TRANSFER_TIMEOUT_S + 10))],
                        stdout=subprocess.PIPE, stderr=logfile("lan-send.err"), text=True)
            snd_lines = Lines(snd)
            w, d = console.wait(["rx-sha", "fail"], deadline)
            sline = snd_lines.get(max(5, deadline - time.monotonic()))
            stop(snd, "lan sender")
            try:
                sent = json.loads(sline)
            except (TypeError, ValueError):
                sent = {"error": "no result from the sender (%r)" % sline}
        timings["lan_to_guest_s"] = round(time.monotonic() - t, 1)
        rx = console.marker("rx-sha") or {}
        expect = hashlib.sha256(splitmix_bytes(LAN_SEED, args.size)).hexdigest()
        res.check(tag + " LAN->guest %d bytes arrive intact" % args.size,
                  rx.get("sha256") == expect and rx.get("bytes") == str(args.size) and
                  sent.get("error") is None,
                  "guest got %s bytes sha256 %s (nc rc %s), expected %s; sender %s" % (
                      rx.get("bytes"), rx.get("sha256"), rx.get("rc"), expect, sent))

        w, d = console.wait(["poweroff"], deadline)
        try:
            qemu.wait(timeout=max(5, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        timings["total_s"] = round(time.monotonic() - t_qemu, 1)
        res.check(tag + " guest powers off", qemu.poll() == 0 and w == "poweroff",
                  "qemu exit %s (killed at the deadline if None)" % qemu.poll())

        # Counters and offload evidence.
        ports = (tw and ctl("show", "ports")) or {}
        drops = (tw and ctl("show", "drops")) or {}
        conntrack = (tw and ctl("show", "conntrack")) or {}
        with open(os.path.join(wd, "ctl.json"), "w") as f:
            json.dump({"ports_before_qemu": before, "ports": ports, "drops": drops,
                       "conntrack": conntrack}, f, indent=1)
        for p in before.get("ports", []):
            if p["tx_drops"] or p["drops"]:
                log("%s before QEMU attached tap0: port %s tx_drops %d drops %s" % (
                    tag, p["name"], p["tx_drops"], p["drops"]))
        for p in ports.get("ports", []):
            log("%s port %-5s rx %6d frames %9d B | tx %6d frames %9d B | tx_segmented %d "
                "csum_completed %d tx_drops %d rx_ring_drops %d drops %s" % (
                    tag, p["name"], p["rx_frames"], p["rx_bytes"], p["tx_frames"], p["tx_bytes"],
                    p["tx_segmented"], p["csum_completed"], p["tx_drops"], p["rx_ring_drops"],
                    p["drops"]))
        log("%s drops by reason %s" % (tag, drops.get("by_reason")))
    finally:
        for name, p in reversed(procs):
            if name.startswith("tcpdump"):
                stop(p, name, signal.SIGINT)
        for name, p in reversed(procs):
            stop(p, name)
        if console:
            console.close()
        for f in files:
            f.close()
        for ns in (br_ns, lan_ns):
            if ns in netns_list():
                if ns == br_ns:
                    sh("ip", "-n", ns, "tuntap", "del", "dev", "tap0", "mode", "tap", check=False)
                sh("ip", "netns", "del", ns, check=False)

    if not caps or not os.path.exists(caps["tap0"]):
        return
    guest_sent = summarize(read_pcap(caps["tap0"]), GUEST_MAC)
    to_guest = summarize(read_pcap(caps["tap0"]), lan_mac)
    from_lan = summarize(read_pcap(caps["eth0"]), lan_mac)
    lan_got = summarize(read_pcap(caps["lan0"]), GUEST_MAC)
    log("%s tap0 <- guest (guest's TCP):      %s" % (tag, guest_sent))
    log("%s tap0 -> guest (tapwall's output): %s%s" % (
        tag, to_guest, "  (not visible: qdisc bypass)" if not to_guest["tcp_frames"] else ""))
    log("%s eth0 <- LAN (LAN's TCP):          %s" % (tag, from_lan))
    log("%s lan0 <- tapwall (guest's TCP):    %s" % (tag, lan_got))
    if console and console.marker("stats"):
        log("%s guest eth0 counters: %s" % (tag, console.marker("stats")["_line"]))
    log("%s timings %s" % (tag, timings))
    res.check(tag + " guest sent TSO super-frames (> 1514 B) on tap0",
              guest_sent["super_frames"] > 0,
              "%d of %d data frames, largest %d B; %d with a partial checksum" % (
                  guest_sent["super_frames"], guest_sent["data_frames"], guest_sent["max_frame"],
                  guest_sent["partial_csum"]))
    with open(os.path.join(wd, "summary.json"), "w") as f:
        json.dump({"timings": timings, "tap0_from_guest": guest_sent, "tap0_to_guest": to_guest,
                   "eth0_from_lan": from_lan, "lan0_from_guest": lan_got, "console": console.tw_lines() if console else []},
                  f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tapwall")
    ap.add_argument("--backends", default="pcap,afpacket")
    ap.add_argument("--size", type=int, default=2 * 1024 * 1024)
    ap.add_argument("--guest-dir", default=os.path.join(REPO, "build", "vm-guest"))
    ap.add_argument("--workdir", default=os.path.join(REPO, "build", "vm-test"))
    ap.add_argument("--helper", nargs="+")
    args = ap.parse_args()

    if args.helper:
        h = args.helper
        if h[0] == "recv":
            helper_recv(int(h[1]), float(h[2]))
        elif h[0] == "send":
            helper_send(h[1], int(h[2]), int(h[3]), int(h[4]), float(h[5]))
        return 0

    res = Results()
    if not args.tapwall or not os.access(args.tapwall, os.X_OK):
        res.check("tapwall binary", False, "--tapwall %r is not executable" % args.tapwall)
        print("%d passed, %d failed" % (res.passed, res.failed))
        return 1
    if os.geteuid() != 0:
        print("SKIP: the VM test needs root (namespaces, tap devices)")
        print("0 passed, 0 failed")
        return SKIP
    if args.size < 1024 * 1024:
        ap.error("--size must be at least 1 MiB")
    args.tapwall = os.path.abspath(args.tapwall)
    os.makedirs(args.workdir, exist_ok=True)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)

    try:
        remove_stale_namespaces()
        t = time.monotonic()
        r = subprocess.run(["bash", BUILD_GUEST, args.guest_dir], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=900)
        sys.stderr.write(r.stderr)
        qemu_ok = subprocess.run(["sh", "-c", "command -v qemu-system-x86_64"],
                                 stdout=subprocess.DEVNULL).returncode == 0
        if not qemu_ok:
            print("SKIP: qemu-system-x86_64 is not installed and could not be installed "
                  "(apt-get install qemu-system-x86); see tools/vm/README.md")
            print("0 passed, 0 failed")
            return SKIP
        missing = [t for t in ("tcpdump", "ip") if not shutil.which(t)]
        if not res.check("host tools present", not missing, "missing: %s" % missing):
            print("%d passed, %d failed" % (res.passed, res.failed))
            return 1
        if not res.check("guest image built (tools/vm/build-guest.sh)", r.returncode == 0,
                         "%.1fs, %s" % (time.monotonic() - t, r.stdout.strip() or r.stderr[-500:])):
            print("%d passed, %d failed" % (res.passed, res.failed))
            return 1
        for backend in [b for b in args.backends.split(",") if b]:
            if time.monotonic() - T0 > TOTAL_BUDGET_S - 60:
                res.check("[%s] time left to run" % backend, False,
                          "%.0fs of the %ds budget used" % (time.monotonic() - T0, TOTAL_BUDGET_S))
                continue
            log("backend %s" % backend)
            run_backend(args, args.guest_dir, backend, res)
    except Stopped as e:
        res.check("run completes", False, "stopped by %s" % e)
    except Exception as e:  # noqa: BLE001 -- report, clean up, and count it as a failure
        res.check("run completes", False, "%s: %s" % (type(e).__name__, e))
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for ns in netns_list():
            if ns.startswith(PREFIX):
                sh("ip", "netns", "del", ns, check=False)
    log("artifacts in %s" % args.workdir)
    print("%d passed, %d failed" % (res.passed, res.failed))
    return 0 if res.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
