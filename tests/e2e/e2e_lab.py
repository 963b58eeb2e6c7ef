"""e2e_lab: network-namespace lab for end-to-end tests of `tapwall run`.

Purpose: builds, per test run, the seed's topology in namespaces named `twe<pid>-<role>`
(so concurrent runs never collide), runs tapwall and the tap relay (tools/tap_relay, "the
hypervisor") in them, and gives the tests sockets in any namespace, a ctl client and a
PASS/FAIL tally. Everything it creates (namespaces, hence their veths and taps, processes
it started, its temp dir) is removed on exit, also on failure, SIGINT or SIGTERM.

Topology (roles -> namespaces):
    lan:  lan0 192.0.2.1/24 2001:db8::1/64 ── veth ── eth0 (br)
    br:   eth0, tap0 [, tap1] [, br0 host port 192.0.2.10/24]; tapwall runs here
    g0:   gst0 192.0.2.2/24 2001:db8::2/64 ── veth ── vnic0 ◄─ tap_relay ─► tap0 (br)
    g1:   gst0 192.0.2.3/24 2001:db8::3/64 ── veth ── vnic0 ◄─ tap_relay ─► tap1 (br)
The guests' and the LAN's links keep their offloads on (TSO, GSO, TX checksum), so real
super-frames and partial checksums cross the bridge.

Sockets in a namespace: setns(2) applies to the calling thread only, and a socket belongs
to the namespace it was created in for its whole life, so `in_netns()` switches the calling
thread, creates the socket and switches back; the socket is then usable from any thread
(tcp_exchanges() runs attempts in threads that each switch themselves). Never start a
thread inside `in_netns()` (it would inherit the namespace).

Only the standard library: frames for malformed-input tests are built by hand (helpers at
the bottom of this file).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_HOME_NS = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
SEED_SCRIPT = os.path.join(SOURCE_DIR, "tools", "golden", "seed-firewall.sh")
SEED_SAVE = os.path.join(SOURCE_DIR, "tests", "golden", "seed_rules.v4")
RULES_DIR = os.path.join(HERE, "rules")

CONNECT_TIMEOUT = 2.0   # a connection attempt that does not complete in 2 s counts as failed
IO_TIMEOUT = 10.0       # hang guard for data transfers (never a pass/fail criterion by itself)
SKIP = 77               # exit code CTest treats as "skipped" (SKIP_RETURN_CODE)

# Addresses and MACs (documentation ranges; locally administered MACs).
LAN = {"ip": "192.0.2.1", "ip6": "2001:db8::1", "mac": "02:00:5e:00:01:01"}
GUESTS = [
    {"ip": "192.0.2.2", "ip6": "2001:db8::2", "mac": "02:00:5e:00:02:02", "tap": "tap0"},
    {"ip": "192.0.2.3", "ip6": "2001:db8::3", "mac": "02:00:5e:00:03:03", "tap": "tap1"},
]
HOST = {"ip": "192.0.2.10"}


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns: {os.strerror(e)}")


@contextlib.contextmanager
def in_netns(name: str):
    fd = os.open(f"/var/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(fd)
        yield
    finally:
        _setns(_HOME_NS)
        os.close(fd)


def run(argv, check=True, timeout=30, merge_stderr=True, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE, text=True,
                       timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"command failed ({r.returncode}): {' '.join(argv)}\n{r.stdout}")
    return r


# --------------------------------------------------------------------------- results


class Results:
    """Tally of named checks; prints one line per check and the final summary line."""

    def __init__(self, title: str):
        self.title = title
        self.passed = 0
        self.failed = 0
        self.failures: list[str] = []
        self.t0 = time.monotonic()

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"PASS {name}" + (f"  ({detail})" if detail else ""), flush=True)
        else:
            self.failed += 1
            self.failures.append(name)
            print(f"FAIL {name}" + (f"  -- {detail}" if detail else ""), flush=True)
        return ok

    def summary(self) -> int:
        dt = time.monotonic() - self.t0
        if self.failures:
            print("failed checks: " + "; ".join(self.failures))
        print(f"[{self.title}] {dt:.1f} s")
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 and self.passed > 0 else 1


# --------------------------------------------------------------------------- sockets


def sock_in(ns: str, family=socket.AF_INET, type_=socket.SOCK_STREAM, proto=0) -> socket.socket:
    with in_netns(ns):
        return socket.socket(family, type_, proto)


def fam(addr: str) -> int:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def tcp_listen(ns: str, addr: str, port: int) -> socket.socket:
    s = sock_in(ns, fam(addr))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(8)
    return s


def tcp_connect(ns: str, addr: str, port: int, timeout=CONNECT_TIMEOUT, bind=None):
    """Returns a connected socket, or None when the attempt fails (timeout, refused)."""
    s = sock_in(ns, fam(addr))
    if bind:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(bind)
    s.settimeout(timeout)
    try:
        s.connect((addr, port))
    except OSError:
        s.close()
        return None
    s.settimeout(IO_TIMEOUT)
    return s


def accept_nowait(listener: socket.socket):
    """A connection the listener has queued, or None (never waits)."""
    listener.setblocking(False)
    try:
        c, _ = listener.accept()
        c.setblocking(True)
        c.settimeout(IO_TIMEOUT)
        return c
    except BlockingIOError:
        return None
    finally:
        listener.setblocking(True)


def accept(listener: socket.socket, timeout=CONNECT_TIMEOUT):
    listener.settimeout(timeout)
    try:
        c, _ = listener.accept()
        c.settimeout(IO_TIMEOUT)
        return c
    except OSError:
        return None


def recv_exact(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(min(65536, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def recv_all(s: socket.socket) -> bytes:
    buf = bytearray()
    while True:
        chunk = s.recv(262144)
        if not chunk:
            return bytes(buf)
        buf += chunk


def tcp_exchange(client_ns: str, server_ns: str, addr: str, port: int,
                 cport: int = 0) -> tuple[str, str]:
    """One TCP request/response from client_ns to addr:port served in server_ns (from
    client port `cport` when not 0).

    Returns (outcome, detail): outcome is "ok" when the connection completes and both
    messages arrive intact, "blocked" when it cannot be established and the server never
    saw it, or "broken" for anything in between."""
    listener = tcp_listen(server_ns, addr, port)
    try:
        c = tcp_connect(client_ns, addr, port, bind=("", cport) if cport else None)
        if c is None:
            late = accept_nowait(listener)
            if late:
                late.close()
                return "broken", "client timed out but the server got the connection"
            return "blocked", "connect failed"
        with c:
            srv = accept(listener)
            if srv is None:
                return "broken", "connected but the server accepted nothing"
            with srv:
                req = f"hello {addr}:{port} from {client_ns} {os.urandom(8).hex()}".encode()
                rsp = f"reply {hashlib.sha256(req).hexdigest()}".encode()
                try:
                    c.sendall(req)
                    got = recv_exact(srv, len(req))
                    srv.sendall(rsp)
                    back = recv_exact(c, len(rsp))
                except OSError as e:
                    return "broken", f"data exchange failed: {e}"
                if got != req:
                    return "broken", f"server got {got!r}"
                if back != rsp:
                    return "broken", f"client got {back!r}"
                return "ok", f"{len(req)}+{len(rsp)} bytes verified"
    finally:
        listener.close()


def tcp_exchanges(cases):
    """tcp_exchange() for each (client_ns, server_ns, addr, port) at once, in threads (each
    thread switches its own namespace), so that N blocked attempts cost one timeout, not N.
    Returns the results in order."""
    out = [None] * len(cases)

    def one(i, c):
        try:
            out[i] = tcp_exchange(*c)
        except Exception as e:  # noqa: BLE001 - reported as a broken outcome
            out[i] = ("broken", f"{type(e).__name__}: {e}")

    ts = [threading.Thread(target=one, args=(i, c), daemon=True) for i, c in enumerate(cases)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(IO_TIMEOUT * 3)
    return [o or ("broken", "hung") for o in out]


class Stream:
    """A long-lived TCP connection (client side, server side) for tests across reloads."""

    def __init__(self, client_ns, server_ns, addr, port):
        self.listener = tcp_listen(server_ns, addr, port)
        self.c = tcp_connect(client_ns, addr, port)
        self.s = accept(self.listener) if self.c else None
        self.n = 0

    @property
    def up(self) -> bool:
        return self.c is not None and self.s is not None

    def ping(self) -> bool:
        """Sends one message each way; True when both arrive intact."""
        if not self.up:
            return False
        self.n += 1
        a = f"ping {self.n} {os.urandom(6).hex()}".encode()
        b = f"pong {self.n} {os.urandom(6).hex()}".encode()
        try:
            self.c.settimeout(CONNECT_TIMEOUT * 2)
            self.s.settimeout(CONNECT_TIMEOUT * 2)
            self.c.sendall(a)
            if recv_exact(self.s, len(a)) != a:
                return False
            self.s.sendall(b)
            return recv_exact(self.c, len(b)) == b
        except OSError:
            return False

    def close(self):
        for x in (self.c, self.s, self.listener):
            if x is not None:
                x.close()


def bulk_transfer(client_ns, server_ns, addr, port, nbytes) -> tuple[bool, str]:
    """Client sends nbytes, then the server sends nbytes back on the same connection; both
    sides compare SHA-256 of what arrived with what was sent."""
    up = os.urandom(nbytes)
    down = os.urandom(nbytes)
    listener = tcp_listen(server_ns, addr, port)
    server_result = {}

    def serve():
        try:
            s = accept(listener, IO_TIMEOUT)
            if s is None:
                server_result["err"] = "no connection"
                return
            with s:
                got = recv_all(s)
                server_result["up"] = hashlib.sha256(got).hexdigest()
                server_result["up_len"] = len(got)
                s.sendall(down)
        except OSError as e:
            server_result["err"] = str(e)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        c = tcp_connect(client_ns, addr, port, timeout=CONNECT_TIMEOUT)
        if c is None:
            return False, "connect failed"
        with c:
            try:
                c.sendall(up)
                c.shutdown(socket.SHUT_WR)
                back = recv_all(c)
            except OSError as e:
                return False, f"client: {e}"
        t.join(IO_TIMEOUT)
        if "err" in server_result:
            return False, "server: " + server_result["err"]
        ok_up = server_result.get("up") == hashlib.sha256(up).hexdigest()
        ok_down = hashlib.sha256(back).hexdigest() == hashlib.sha256(down).hexdigest()
        return ok_up and ok_down, (f"up {server_result.get('up_len')} B sha256 {'ok' if ok_up else 'MISMATCH'}, "
                                   f"down {len(back)} B sha256 {'ok' if ok_down else 'MISMATCH'}")
    finally:
        listener.close()
        t.join(1)


def udp_socket(ns, bind, broadcast=False, device=None) -> socket.socket:
    s = sock_in(ns, fam(bind[0]) if bind[0] else socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if broadcast:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    if device:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())
    s.bind(bind)
    return s


def udp_recv(s: socket.socket, timeout=CONNECT_TIMEOUT):
    s.settimeout(timeout)
    try:
        data, peer = s.recvfrom(65536)
        return data, peer
    except OSError:
        return None, None


# --------------------------------------------------------------------------- the lab

PR_SET_PDEATHSIG = 1


def _die_with_parent():
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def sweep_stale_namespaces():
    """Deletes namespaces and temp dirs this lab made in an earlier run that was killed
    before it could clean up (`twe<pid>-<role>`, `$TMPDIR/twe<pid>-XXXXXXXX`, whose <pid>
    is gone). Nothing else is touched."""
    r = run(["ip", "netns", "list"], check=False)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(r"twe(\d+)-(lan|br|g\d)", name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            run(["ip", "netns", "del", name], check=False)
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        m = re.fullmatch(r"twe(\d+)-[a-z0-9_]{8}", name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)


class Lab:
    def __init__(self, tapwall: str, relay: str, backend: str, keep: bool = False):
        self.tapwall = os.path.abspath(tapwall)
        self.relay = os.path.abspath(relay)
        self.backend = backend
        self.keep = keep
        self.prefix = f"twe{os.getpid()}-"
        self.tmp = tempfile.mkdtemp(prefix=self.prefix)
        self.namespaces: list[str] = []
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, str] = {}
        self.control = os.path.join(self.tmp, "tapwall.sock")
        self.tw = None
        self.start_error = ""
        self._cleaned = False

    # names
    def ns(self, role: str) -> str:
        return self.prefix + role

    def ip(self, role: str, *args, check=True) -> subprocess.CompletedProcess:
        return run(["ip", "-n", self.ns(role), *args], check=check)

    def exec(self, role: str, *argv, check=True, timeout=30) -> subprocess.CompletedProcess:
        return run(["ip", "netns", "exec", self.ns(role), *argv], check=check, timeout=timeout)

    def _add_ns(self, role: str):
        n = self.ns(role)
        run(["ip", "netns", "add", n])
        self.namespaces.append(n)
        self.ip(role, "link", "set", "lo", "up")

    # topology
    def up(self, guests: int = 1, precreate_taps=("tap0",)):
        """Builds lan, br and `guests` guest namespaces. Taps in `precreate_taps` are made
        persistent in br beforehand (`ip tuntap add`); the others are left for tapwall to
        create (`--vm` of a missing tap)."""
        for role in ["lan", "br"] + [f"g{i}" for i in range(guests)]:
            self._add_ns(role)
        # No IPv6 on the bridge namespace's own interfaces: the host's IPv6 is not under
        # test, and its RS/MLD/DAD chatter would only add frames. (Its IPv4 stays: see
        # test_host_isolation.py for what it does on the bridge ports.)
        self.exec("br", "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                  "net.ipv6.conf.default.disable_ipv6=1")
        self.ip("lan", "link", "add", "lan0", "address", LAN["mac"], "type", "veth",
                "peer", "name", "eth0", "netns", self.ns("br"))
        self.ip("lan", "addr", "add", LAN["ip"] + "/24", "dev", "lan0")
        self.ip("lan", "-6", "addr", "add", LAN["ip6"] + "/64", "dev", "lan0", "nodad")
        self.exec("lan", "ethtool", "-K", "lan0", "tso", "on", "gso", "on", "tx", "on")
        self.ip("lan", "link", "set", "lan0", "up")
        for i in range(guests):
            g, role = GUESTS[i], f"g{i}"
            self.ip(role, "link", "add", "gst0", "address", g["mac"], "type", "veth",
                    "peer", "name", "vnic0")
            self.exec(role, "sysctl", "-qw", "net.ipv6.conf.vnic0.disable_ipv6=1")
            self.ip(role, "addr", "add", g["ip"] + "/24", "dev", "gst0")
            self.ip(role, "-6", "addr", "add", g["ip6"] + "/64", "dev", "gst0", "nodad")
            for dev in ("gst0", "vnic0"):
                self.exec(role, "ethtool", "-K", dev, "tso", "on", "gso", "on", "tx", "on")
                self.ip(role, "link", "set", dev, "up")
            if g["tap"] in precreate_taps:
                self.ip("br", "tuntap", "add", "dev", g["tap"], "mode", "tap")
        self.ip("br", "link", "set", "eth0", "up")

    # processes
    def spawn(self, name: str, role: str, argv: list[str]) -> subprocess.Popen:
        """Starts argv in a namespace (`ip netns exec` execs it: same PID). If this test
        process dies without cleaning up (SIGKILL by a CTest timeout), the child gets
        SIGTERM from the kernel (PR_SET_PDEATHSIG), so nothing keeps running."""
        log = os.path.join(self.tmp, f"{name}.log")
        f = open(log, "ab")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(role), *argv], stdout=f,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             preexec_fn=_die_with_parent)
        f.close()
        self.procs[name] = p
        self.logs[name] = log
        return p

    def log(self, name: str) -> str:
        try:
            with open(self.logs[name], errors="replace") as f:
                return f.read()
        except (KeyError, OSError):
            return ""

    def wait_log(self, name: str, needle: str, timeout=15.0) -> bool:
        """Polls a process's log for `needle` (a readiness/event signal, not a timing check)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log(name):
                return True
            if self.procs[name].poll() is not None:
                return needle in self.log(name)
            time.sleep(0.05)
        return False

    def stop(self, name: str, timeout=15.0):
        """SIGTERM, wait; SIGKILL if it does not stop. Returns the exit code."""
        p = self.procs.get(name)
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def start_relay(self, guest: int) -> bool:
        g = GUESTS[guest]
        name = f"relay{guest}"
        self.spawn(name, "br", [self.relay, "--tap", g["tap"], "--netns", self.ns(f"g{guest}"),
                                "--iface", "vnic0"])
        ok = self.wait_log(name, "relaying")
        if not ok:
            print(f"tap_relay {guest} did not start:\n{self.log(name)}")
        return ok

    def start_tapwall(self, rules: str, vms=("tap0",), host_port=False, extra=()) -> bool:
        argv = [self.tapwall, "run", "--uplink", "eth0"]
        for v in vms:
            argv += ["--vm", v]
        if host_port:
            argv += ["--host-port", "br0"]
        argv += ["--rules", rules, "--backend", self.backend, "--control", self.control,
                 "--log-level", "debug", *extra]
        self.tw = self.spawn("tapwall", "br", argv)
        return self.wait_tapwall_ready()

    def wait_tapwall_ready(self, timeout=30.0) -> bool:
        """Polls `tapwall ctl show ports` until it answers (the control socket listens only
        once every port is open)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.tw.poll() is not None:
                log = self.log("tapwall")
                why = [l for l in log.splitlines() if "runtime error" in l or "ERROR" in l
                       or "[error]" in l]
                self.start_error = f"tapwall exited with {self.tw.returncode} during start-up: " + \
                    ("; ".join(why) if why else "see its log")
                print(f"{self.start_error}\n{log}")
                return False
            r = run([self.tapwall, "ctl", "--control", self.control, "--json", "show", "ports"],
                    check=False)
            if r.returncode == 0:
                return True
            time.sleep(0.1)
        self.start_error = f"tapwall not ready after {timeout} s"
        print(f"{self.start_error}:\n{self.log('tapwall')}")
        return False

    def ctl(self, *args, check=True):
        """`tapwall ctl --json ARGS`: (exit code, parsed JSON or None)."""
        r = run([self.tapwall, "ctl", "--control", self.control, "--json", *args], check=False)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            doc = None
        if check and (r.returncode != 0 or doc is None):
            raise RuntimeError(f"tapwall ctl {' '.join(args)} failed ({r.returncode}): {r.stdout}")
        return r.returncode, doc

    def sighup(self):
        self.tw.send_signal(signal.SIGHUP)

    def wait_generation(self, gen: int, timeout=10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, doc = self.ctl("show", "rules", check=False)
            if doc and doc.get("generation") == gen:
                return True
            time.sleep(0.05)
        return False

    def sync_dataplane(self, timeout=10.0) -> bool:
        """Returns once tapwall's worker has certainly adopted every policy or filter change
        published before this call. tapwall acknowledges a change (reload's generation,
        dump stop) when it is published, and its worker adopts it at the top of its loop,
        which it may be blocked past, in poll(), until the next frame has been judged by the
        old state. So: send one probe frame only this can produce (to 01:80:c2:00:00:0e, a
        link_local_group drop on eth0, never forwarded) and wait until the published
        counters show it: the worker reads no later frame before going through its loop top
        again."""
        def count():
            _, doc = self.ctl("show", "ports", check=False)
            if not doc or not doc.get("ok"):
                return None
            eth0 = next((p for p in doc["ports"] if p["name"] == "eth0"), {})
            return eth0.get("drops", {}).get("link_local_group", 0)

        before = count()
        if before is None:
            return False
        probe = eth("01:80:c2:00:00:0e", LAN["mac"], 0x88CC, b"tapwall-e2e-sync")
        send_raw(self.ns("lan"), "lan0", [probe])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = count()
            if n is not None and n > before:
                return True
            time.sleep(0.05)
        return False

    def stop_tapwall(self) -> tuple[int, str]:
        """Stops tapwall with SIGTERM; returns (exit code, problems seen in its log)."""
        rc = self.stop("tapwall")
        log = self.log("tapwall")
        problems = [l for l in log.splitlines()
                    if "ERROR: AddressSanitizer" in l or "runtime error:" in l
                    or "ERROR: LeakSanitizer" in l]
        return rc, "; ".join(problems)

    def ping(self, role: str, addr: str, expect_reply: bool) -> bool:
        """True when the ping's outcome is as expected. Waits for a reply up to 3 s when one
        is expected; when none is, sends 3 requests and waits 1 s for each."""
        if expect_reply:
            r = self.exec(role, "ping", "-n", "-c", "1", "-w", "3", addr, check=False)
            return r.returncode == 0
        r = self.exec(role, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", addr, check=False)
        return r.returncode != 0

    def neigh_mac(self, role: str, addr: str):
        r = self.ip(role, "-j", "neigh", "show", addr, check=False)
        try:
            for e in json.loads(r.stdout or "[]"):
                if e.get("dst") == addr and "lladdr" in e:
                    return e["lladdr"]
        except ValueError:
            pass
        return None

    def mac_of(self, role: str, dev: str) -> str:
        return json.loads(self.ip(role, "-j", "link", "show", dev).stdout)[0]["address"]

    # cleanup
    def cleanup(self):
        if self._cleaned:
            return
        self._cleaned = True
        for name in list(self.procs):
            try:
                self.stop(name, timeout=10)
            except Exception:  # noqa: BLE001 - cleanup must go on
                pass
        for n in reversed(self.namespaces):
            run(["ip", "netns", "del", n], check=False)
        if self.keep:
            print(f"logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def dump_logs(self):
        for name in self.logs:
            text = self.log(name)
            tail = "\n".join(text.splitlines()[-40:])
            print(f"----- {name} log (last 40 lines) -----\n{tail}")


def main(title: str, body, argv=None):
    """Common entry point: parses --tapwall/--relay/--backend/--keep, builds a Lab, runs
    body(lab, results, args), always cleans up, prints the summary line, exits."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--tapwall", required=True)
    ap.add_argument("--relay", required=True)
    ap.add_argument("--backend", choices=["pcap", "afpacket"], default="afpacket")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir with logs")
    args = ap.parse_args(argv)
    if os.geteuid() != 0 or shutil.which("ip") is None:
        print("skipped: e2e tests need root and iproute2 (network namespaces)")
        print("0 passed, 0 failed")
        sys.exit(SKIP)
    res = Results(f"{title} backend={args.backend}")
    sweep_stale_namespaces()
    lab = Lab(args.tapwall, args.relay, args.backend, args.keep)

    def on_signal(sig, _frame):
        raise SystemExit(f"signal {sig}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        body(lab, res, args)
    except BaseException as e:  # noqa: BLE001 - any error is a failed test, cleanup follows
        traceback.print_exc()
        res.check(f"test body ran to completion ({type(e).__name__}: {e})", False)
    finally:
        if res.failed:
            lab.dump_logs()
        lab.cleanup()
    sys.exit(res.summary())


# --------------------------------------------------------------------------- raw frames


def mac_bytes(m: str) -> bytes:
    return bytes(int(x, 16) for x in m.split(":"))


def ip4_bytes(a: str) -> bytes:
    return socket.inet_aton(a)


def csum16(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(dst: str, src: str, ethertype: int, payload: bytes) -> bytes:
    f = mac_bytes(dst) + mac_bytes(src) + struct.pack("!H", ethertype) + payload
    return f + b"\0" * max(0, 60 - len(f))


def ipv4(src: str, dst: str, proto: int, payload: bytes, bad_checksum=False, ttl=64) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0x1234, 0x4000, ttl, proto,
                      0, ip4_bytes(src), ip4_bytes(dst))
    c = csum16(hdr)
    if bad_checksum:
        c ^= 0x5A5A
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def l4_pseudo(src: str, dst: str, proto: int, seg: bytes) -> int:
    ph = ip4_bytes(src) + ip4_bytes(dst) + struct.pack("!BBH", 0, proto, len(seg))
    return csum16(ph + seg)


def tcp(src: str, dst: str, sport: int, dport: int, flags=0x02, data_offset=5, payload=b"",
        seq=1000, ack=0) -> bytes:
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, data_offset << 4, flags, 65535, 0, 0)
    seg += payload
    c = l4_pseudo(src, dst, 6, seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src: str, dst: str, sport: int, dport: int, payload=b"") -> bytes:
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = l4_pseudo(src, dst, 17, seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def send_raw(ns: str, dev: str, frames: list[bytes]):
    with in_netns(ns):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    with s:
        s.bind((dev, 0))
        for f in frames:
            s.send(f)
