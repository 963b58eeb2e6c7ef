#!/usr/bin/env python3
"""Checks that `tapwall replay` gives the same verdicts on every run of the same capture,
also when the conntrack table fills and evicts entries (which entry goes depends on the
tuple hash's key: a live bridge draws a random one, as the kernel does; a replay must not).

The capture: 12 TCP connections from the LAN to the guest that complete their handshakes,
then 40 whose SYNs all come before any reply, replayed with `--ct nf_conntrack_max=16`. Two runs must write identical --verdicts
files, and they must differ from a run with room for every flow (else the table never
filled and the check proved nothing).
usage: check_replay_repeatable.py --tapwall BINARY --rules FILE
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import e2e_lab as lab  # noqa: E402  (its frame builders: standard library only)

LAN_MAC, GUEST_MAC = "02:00:00:00:01:01", "02:00:00:00:02:02"
LAN_IP, GUEST_IP = "192.0.2.1", "192.0.2.2"
SYN, ACK = 0x02, 0x10


def tcp_frame(dst_mac, src_mac, src, dst, sport, dport, flags, seq, ack):
    seg = lab.tcp(src, dst, sport, dport, flags, seq=seq, ack=ack)
    return lab.eth(dst_mac, src_mac, 0x0800, lab.ipv4(src, dst, 6, seg))


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts_us, frame in frames:
            f.write(struct.pack("<IIII", ts_us // 10**6, ts_us % 10**6, len(frame), len(frame)))
            f.write(frame)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tapwall", required=True)
    ap.add_argument("--rules", required=True)
    a = ap.parse_args()
    lan, guest = [], []
    t = 1_000_000

    def syn(i, ts):
        lan.append((ts, tcp_frame(GUEST_MAC, LAN_MAC, LAN_IP, GUEST_IP, 30000 + i, 5000, SYN, 100, 0)))

    def reply_and_ack(i, ts):
        guest.append((ts, tcp_frame(LAN_MAC, GUEST_MAC, GUEST_IP, LAN_IP, 5000, 30000 + i,
                                    SYN | ACK, 900, 101)))
        lan.append((ts + 50, tcp_frame(GUEST_MAC, LAN_MAC, LAN_IP, GUEST_IP, 30000 + i, 5000,
                                       ACK, 101, 901)))

    # 12 connections complete their handshakes (assured: never evicted), then 40 more
    # SYNs arrive at a table of 16. Each needs an entry the new flow's bucket can give up:
    # whether it finds one, and which, depends on the tuple hash's key.
    for i in range(12):
        syn(i, t + i * 1000)
        reply_and_ack(i, t + i * 1000 + 100)
    for i in range(12, 52):
        syn(i, t + 20_000 + i * 100)
    for i in range(12, 52):
        reply_and_ack(i, t + 30_000 + i * 100)
    with tempfile.TemporaryDirectory() as tmp:
        write_pcap(os.path.join(tmp, "eth0.pcap"), lan)
        write_pcap(os.path.join(tmp, "tap0.pcap"), guest)

        def replay(name, ct_max):
            out = os.path.join(tmp, name)
            cmd = [a.tapwall, "replay", "--rules", a.rules, "--uplink", "eth0", "--vm", "tap0",
                   "--in", f"eth0={tmp}/eth0.pcap", "--in", f"tap0={tmp}/tap0.pcap",
                   "--verdicts", out, "--ct", f"nf_conntrack_max={ct_max}"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"FAIL: replay exited {r.returncode}: {r.stderr}")
            with open(out) as f:
                return f.read()

        runs = [replay(f"v{k}.jsonl", 16) for k in range(3)]
        roomy = replay("roomy.jsonl", 1024)
    if roomy in runs:
        sys.exit("FAIL: the small table changed no verdict: it never filled, the check proves nothing")
    if any(r != runs[0] for r in runs[1:]):
        sys.exit("FAIL: the same capture replayed with different verdicts")
    print(f"ok: 3 replays of {len(lan) + len(guest)} frames through 16 conntrack entries agree")


if __name__ == "__main__":
    main()
