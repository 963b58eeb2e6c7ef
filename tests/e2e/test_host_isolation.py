#!/usr/bin/env python3
"""e2e: the host is reached through its host port (br0) only.

With the kernel bridge, eth0 and tap0 are bridge ports: their frames go to br0 and the
host's stack never answers on them. With tapwall they stay ordinary interfaces of the host,
so unless something stops it the host's stack also answers on them — e.g. ARP for br0's
address with eth0's (or tap0's) own MAC — and traffic to the host then bypasses br0 (and
whatever host firewall is written for br0).

Asserts (backend given; the behaviour is the kernel's, the same for both):
  - an ARP request from the LAN for br0's address (192.0.2.10) is answered with br0's MAC
    (through tapwall), and by no other MAC (eth0's would be the host stack answering on
    the uplink);
  - the same from the guest behind tap0 (tap0's MAC would be the host answering on the VM
    port).
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lab as L  # noqa: E402

COLLECT = 1.5  # how long replies are collected after the request (they come in microseconds)


def arp_request(src_mac, src_ip, target_ip):
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, L.mac_bytes(src_mac),
                      L.ip4_bytes(src_ip), b"\0" * 6, L.ip4_bytes(target_ip))
    return L.eth("ff:ff:ff:ff:ff:ff", src_mac, 0x0806, arp)


def arp_replies(ns, dev, src_mac, src_ip, target_ip):
    """Sends one ARP request from ns/dev; returns the sender MACs of the replies for
    target_ip that came back within COLLECT seconds."""
    with L.in_netns(ns):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    with s:
        s.bind((dev, 0x0806))
        s.send(arp_request(src_mac, src_ip, target_ip))
        macs = []
        deadline = time.monotonic() + COLLECT
        while (left := deadline - time.monotonic()) > 0:
            s.settimeout(left)
            try:
                f, addr = s.recvfrom(2048)
            except socket.timeout:
                break
            if addr[2] == socket.PACKET_OUTGOING or len(f) < 42:
                continue
            op, sha, spa = struct.unpack("!H6s4s", f[20:32])
            if op == 2 and spa == L.ip4_bytes(target_ip):
                macs.append(":".join(f"{b:02x}" for b in sha))
        return macs


def body(lab: L.Lab, res: L.Results, args):
    lab.up(guests=1)
    if not res.check("tap_relay attached to tap0", lab.start_relay(0)):
        return
    if not res.check("tapwall ready", lab.start_tapwall(L.SEED_SAVE, host_port=True), lab.start_error):
        return
    lab.ip("br", "addr", "add", L.HOST["ip"] + "/24", "dev", "br0")
    lab.ip("br", "link", "set", "br0", "up")
    br0, eth0, tap0 = lab.mac_of("br", "br0"), lab.mac_of("br", "eth0"), lab.mac_of("br", "tap0")
    names = {br0: "br0", eth0: "eth0", tap0: "tap0"}
    for role, dev, mac, ip in (("lan", "lan0", L.LAN["mac"], L.LAN["ip"]),
                               ("g0", "gst0", L.GUESTS[0]["mac"], L.GUESTS[0]["ip"])):
        got = arp_replies(lab.ns(role), dev, mac, ip, L.HOST["ip"])
        shown = [names.get(m, m) for m in got]
        res.check(f"{role}: ARP for the host's {L.HOST['ip']} answered with br0's MAC", br0 in got,
                  f"replies from {shown}")
        res.check(f"{role}: ARP for the host's {L.HOST['ip']} answered by no other MAC "
                  "(the host stack must not answer on a bridge port)",
                  all(m == br0 for m in got), f"replies from {shown}")
    rc, problems = lab.stop_tapwall()
    res.check("tapwall exits 0 on SIGTERM, no sanitizer report", rc == 0 and not problems,
              f"rc={rc} {problems}")


if __name__ == "__main__":
    L.main("host_isolation", body)
