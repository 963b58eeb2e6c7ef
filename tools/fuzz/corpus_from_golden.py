#!/usr/bin/env python3
"""Seed corpus for tests/fuzz/engine_fuzz.cpp from the golden cases' kernel-recorded input.

Why: a fuzzer that starts from real traffic (handshakes, fragments, ICMP errors, VLAN
tags, neighbour discovery, as the kernel bridge saw them) reaches the conntrack and
reassembly states at once; from random bytes it would take hours to build a handshake.
Each case's in-eth0/in-tap0/in-tap1 captures are merged by time and written in the fuzz
target's record format ([op][dt: u16 LE, 2^20 ns units][len: u16 LE][frame]), in chunks
of CHUNK frames, one corpus file per chunk. op is the ingress port (eth0 0, tap0 1,
tap1 2), with bit 3 set (end of batch) after every frame that arrived 1 ms or more
before the next. Each chunk is written twice: as it is, and after a policy swap record,
so both of the target's policies judge real traffic.

Usage: corpus_from_golden.py GOLDEN_DIR OUT_DIR [--chunk N]
"""
import argparse
import os
import struct
import sys

PORTS = {"eth0": 0, "tap0": 1, "tap1": 2}


def read_pcap(path):
    """(ts_ns, bytes) for each frame of a classic pcap file (µs or ns timestamps)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        sys.exit(f"{path}: not a classic pcap file")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    off, frames = 24, []
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        frames.append((sec * 10**9 + (frac if nano else frac * 1000), data[off:off + incl]))
        off += incl
    return frames


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("golden")
    ap.add_argument("out")
    ap.add_argument("--chunk", type=int, default=64)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    files = 0
    for case in sorted(os.listdir(a.golden)):
        frames = []
        for port, pid in PORTS.items():
            path = os.path.join(a.golden, case, f"in-{port}.pcap")
            if os.path.exists(path):
                frames += [(ts, pid, b) for ts, b in read_pcap(path)]
        frames.sort(key=lambda x: (x[0], x[1]))
        for c in range(0, len(frames), a.chunk):
            chunk = frames[c:c + a.chunk]
            out, prev = bytearray(), chunk[0][0] if chunk else 0
            for k, (ts, pid, b) in enumerate(chunk):
                nxt = chunk[k + 1][0] if k + 1 < len(chunk) else ts
                op = pid | (8 if nxt - ts >= 1_000_000 else 0)
                dt = min((ts - prev) >> 20, 0xFFFF)
                prev = ts
                b = b[:2047]  # the target reads a length modulo 2048
                out += struct.pack("<BHH", op, dt, len(b)) + b
            # Each chunk twice: under the target's first policy, and with a swap record
            # first (op 0xF0), under its second.
            for tag, prefix in (("a", b""), ("b", struct.pack("<BH", 0xF0, 0))):
                with open(os.path.join(a.out, f"{case}-{c // a.chunk:04d}{tag}"), "wb") as f:
                    f.write(prefix + out)
                files += 1
    print(f"{files} corpus files in {a.out}")


if __name__ == "__main__":
    main()
