# twg_net.py - helpers shared by the golden-data scenarios.
#
# Purpose: let ONE python process act inside several network namespaces without
# spawning a scapy interpreter per step (scapy imports take ~1 s, which would make the
# timing of a scenario sloppy).  Linux setns() is per thread, and a socket keeps the
# namespace it was created in, so we enter a namespace, create the sockets we need and
# come back.  Frames are built with scapy and sent with a plain AF_PACKET socket.
#
# Invariants:
#  - only documentation addresses are used (192.0.2.0/24, 198.51.100.0/24,
#    2001:db8::/32); frames only ever leave through veths inside our own namespaces;
#  - every step is logged to steps.jsonl (frame bytes as hex + a note) so derive.py can
#    attach the note to the ingress frame it produced;
#  - the process returns to its original namespace after every namespace operation.
import ctypes
import json
import os
import socket
import struct
import subprocess
import time
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

# Fixed MAC addresses (locally administered) so captures are reproducible.
MAC = {
    "lan0": "02:00:00:00:01:01",
    "gst0": "02:00:00:00:02:02",
    "gst1": "02:00:00:00:02:03",
    "eth0": "02:00:00:00:0b:01",
    "tap0": "02:00:00:00:0b:02",
    "tap1": "02:00:00:00:0b:03",
    "br0": "02:00:00:00:0b:ff",
}
IP4 = {"lan0": "192.0.2.1", "gst0": "192.0.2.2", "gst1": "192.0.2.3",
       "lan0b": "198.51.100.1"}
IP6 = {"lan0": "2001:db8::1", "gst0": "2001:db8::2", "gst1": "2001:db8::3"}
BCAST_MAC = "ff:ff:ff:ff:ff:ff"
UNKNOWN_MAC = "02:00:00:00:99:99"   # never used by any interface: unknown unicast


def _setns_fd(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: %s" % os.strerror(err))


# An fd on the namespace we started in, so we can always come back to it (not PID 1's
# namespace: the recorder itself may run inside a container).
_ORIG_FD = os.open("/proc/self/ns/net", os.O_RDONLY)


@contextmanager
def in_netns(name):
    """Run the body with this thread inside /run/netns/<name>."""
    fd = os.open("/run/netns/%s" % name, os.O_RDONLY)
    try:
        _setns_fd(fd)
    finally:
        os.close(fd)
    try:
        yield
    finally:
        _setns_fd(_ORIG_FD)


class Lab:
    """The running scenario: namespace names, raw sockets, step log."""

    def __init__(self, prefix, steps_path, hosts):
        # hosts: {"lan0": "<ns>", "gst0": "<ns>", ...}
        self.prefix = prefix
        self.hosts = hosts
        self.raw = {}
        for ifname, ns in hosts.items():
            with in_netns(ns):
                s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
                s.bind((ifname, 0))
            self.raw[ifname] = s
        self.log = open(steps_path, "w")
        self.children = []
        # (TPID, TCI) to put into every IPv4/IPv6 frame send() sends, or None
        self.vlan = None

    # -- crafted frames -------------------------------------------------------
    def send(self, ifname, frame, note, gap=0.05):
        """Send one crafted frame (scapy packet or bytes) out of a host interface."""
        data = bytes(frame)
        if self.vlan and data[12:14] in (b"\x08\x00", b"\x86\xdd"):
            data = data[:12] + struct.pack("!HH", *self.vlan) + data[12:]
            note += " [tag 0x%04x vid %d]" % (self.vlan[0], self.vlan[1] & 0xfff)
        rt = time.time()          # taken before the send: frame timestamps come after it
        self.raw[ifname].send(data)
        self.step(note, ifname=ifname, hexdata=data.hex(), rt=rt)
        time.sleep(gap)

    def send_many(self, ifname, frames, note, gap=0.02):
        for i, f in enumerate(frames):
            self.send(ifname, f, "%s [%d/%d]" % (note, i + 1, len(frames)), gap=gap)

    def step(self, note, ifname=None, hexdata=None, rt=None):
        # rt is wall-clock time, the clock tcpdump stamps frames with: derive.py uses it
        # to tell which step a frame of real (non-crafted) traffic belongs to
        rec = {"rt": round(rt or time.time(), 6), "note": note}
        if ifname:
            rec["if"] = ifname
        if hexdata:
            rec["hex"] = hexdata
        self.log.write(json.dumps(rec) + "\n")
        self.log.flush()

    # -- real stack traffic ---------------------------------------------------
    def sock(self, ifname, family, kind):
        """A normal socket created inside the namespace of host interface ifname."""
        with in_netns(self.hosts[ifname]):
            return socket.socket(family, kind)

    def run(self, ifname, argv, note, timeout=10):
        """Run a command to completion inside a host namespace (e.g. ping)."""
        self.step(note)
        ns = self.hosts[ifname]
        return subprocess.run(["ip", "netns", "exec", ns] + argv, timeout=timeout,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode

    def close(self):
        for s in self.raw.values():
            s.close()
        self.log.close()


def tcp_exchange(lab, cli_if, srv_if, family, srv_addr, port, note, expect_pass,
                 payload=b"x" * 600, reply=b"ok\n", connect_timeout=0.6):
    """A real TCP connection: handshake, data both ways, FIN both ways.

    If the SYN is filtered the connect times out after connect_timeout (< the 1 s
    initial RTO, so exactly one SYN is sent) and the client socket is closed, which
    sends nothing from SYN_SENT.  Returns True if the connection was established."""
    lab.step("%s: listen %s:%d" % (note, srv_addr, port))
    srv = lab.sock(srv_if, family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((srv_addr, port))
    srv.listen(1)
    cli = lab.sock(cli_if, family, socket.SOCK_STREAM)
    cli.settimeout(connect_timeout)
    lab.step("%s: connect" % note)
    ok = False
    try:
        cli.connect((srv_addr, port))
        ok = True
    except (socket.timeout, OSError):
        ok = False
    if ok:
        srv.settimeout(2)
        conn, _ = srv.accept()
        conn.settimeout(2)
        cli.settimeout(2)
        time.sleep(0.05)
        cli.sendall(payload)
        got = b""
        while len(got) < len(payload):
            got += conn.recv(65536)
        time.sleep(0.05)
        conn.sendall(reply)
        cli.recv(100)
        time.sleep(0.05)
        lab.step("%s: client FIN" % note)
        cli.shutdown(socket.SHUT_WR)
        conn.recv(100)       # EOF
        time.sleep(0.05)
        conn.close()         # server FIN
        cli.recv(100)        # EOF
        time.sleep(0.05)
        cli.close()
    else:
        cli.close()
    srv.close()
    time.sleep(0.2)
    lab.step("%s: done, established=%s (expected %s)" % (note, ok, expect_pass))
    return ok
