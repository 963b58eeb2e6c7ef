#!/usr/bin/env python3
"""Replays one kernel-recorded golden case through `tapwall replay` and asserts that tapwall
delivers every input frame to exactly the ports the kernel delivered it to.

A case directory (recorded by tools/golden/record.sh from a real br0 + br_netfilter +
iptables setup) holds: case.json (ports), rules.v4 [rules.v6], in-<port>.pcap (what entered
the bridge on each port) and expected.jsonl ({"in","n","to"} per ingress frame: where the
kernel delivered it); case.json's ct_sysctls, if any, are the kernel's conntrack settings
and are passed on with `--ct`. differences.json lists the frames where tapwall deliberately differs
from the kernel, each with the result tapwall must give and why; those are asserted too,
and a listed difference that no longer differs from the kernel fails the test (stale list).

A case recorded with its rule counters zeroed when the captures started (case.json
"counters_from_capture_start") also has every FORWARD and user-chain rule's packet and
byte counts, and each chain policy's, checked against the kernel's (counters.v4/.v6,
`iptables-save -c`), in each family none of its listed differences is of (a frame tapwall
treats differently counts differently too; iptables and ip6tables count apart, and IPv4
and IPv6 flows never meet in conntrack, so a difference stays within its family).

usage: check_golden.py --tapwall BINARY CASE_DIR [--keep DIR] [--differences FILE]
(--differences: another case's list, e.g. tests/golden/random_mix/differences.json for a
random_mix recorded with another RANDOM_MIX_SEED: its malformed-option probes come first
in every seed's traffic, so they are the same frames.)
"""
import argparse
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

ETHERTYPE_FAMILY = {0x0800: "ipv4", 0x86DD: "ipv6"}
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)


def load_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def replay(tapwall, case, desc, out_dir):
    uplink, vms, hosts = desc["uplink"], desc["vm"], desc.get("host", [])
    verdicts = os.path.join(out_dir, "verdicts.jsonl")
    cmd = [tapwall, "replay", "--rules", os.path.join(case, "rules.v4"),
           "--uplink", uplink, "--verdicts", verdicts,
           "--drops", os.path.join(out_dir, "drops.pcapng"),
           "--rule-counters", os.path.join(out_dir, "rule-counters.jsonl")]
    if os.path.exists(os.path.join(case, "rules.v6")):
        cmd += ["--rules6", os.path.join(case, "rules.v6")]
    for v in vms:
        cmd += ["--vm", v]
    # -i / -o in the rules name the kernel's bridge device
    cmd += ["--bridge-name", desc.get("bridge", {}).get("name", "br0")]
    for h in hosts:
        cmd += ["--host-port", h]
    # conntrack sysctls the kernel ran with, where they were not the defaults
    for name, value in desc.get("ct_sysctls", {}).items():
        cmd += ["--ct", f"{name}={value}"]
    for p in [uplink] + vms + hosts:
        pcap = os.path.join(case, f"in-{p}.pcap")
        if os.path.exists(pcap):
            cmd += ["--in", f"{p}={pcap}"]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"tapwall replay failed ({run.returncode}): {run.stderr}")
    return {(v["in"], v["n"]): v for v in load_jsonl(verdicts)}


def compare(expected, got, diffs):
    failures = []
    if len(got) != len(expected):
        failures.append(f"tapwall gave {len(got)} verdicts for {len(expected)} kernel frames")
    for e in expected:
        key = (e["in"], e["n"])
        what = e.get("what", "")
        v = got.get(key)
        if v is None:
            failures.append(f"{key} {what}: no verdict from tapwall")
            continue
        kernel_to, tapwall_to = sorted(e["to"]), sorted(v["to"])
        detail = f"(reason {v['reason']}, rule {v['rule']}, ct {v['ct']})"
        if key in diffs:
            want = sorted(diffs[key]["to"])
            if want == kernel_to:
                failures.append(f"{key} {what}: listed as a difference, but the kernel gives the same {want}")
            if tapwall_to != want:
                failures.append(f"{key} {what}: intended difference: want {want}, tapwall {tapwall_to} {detail}")
        elif tapwall_to != kernel_to:
            failures.append(f"{key} {what}: kernel {kernel_to}, tapwall {tapwall_to} {detail}")
    for key in diffs:
        if key not in got:
            failures.append(f"{key}: a listed difference names no frame")
    return failures


def chain_positions(lines, counted):
    """{(chain, k): (packets, bytes) or line number}: the k-th rule of each chain (k from 0)
    and each built-in chain's policy (k = "policy"), from an iptables-save file; `counted`:
    the file has [packets:bytes] counters (take them), else take the line numbers."""
    out, seen = {}, {}
    for n, line in enumerate(lines, 1):
        m = re.match(r"^:(\S+) (ACCEPT|DROP) \[(\d+):(\d+)\]", line)
        if m:
            out[(m.group(1), "policy")] = (int(m.group(3)), int(m.group(4))) if counted else n
            continue
        m = re.match(r"^(?:\[(\d+):(\d+)\] )?-A (\S+) ", line)
        if m:
            k = seen.get(m.group(3), 0)
            seen[m.group(3)] = k + 1
            out[(m.group(3), k)] = (int(m.group(1)), int(m.group(2))) if counted else n
    return out


def pcap_frames(path):
    """The frames of a classic pcap file (any timestamp precision, Ethernet), in order."""
    with open(path, "rb") as f:
        data = f.read()
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    frames, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames


def family_of(frame):
    """ipv4 or ipv6 for an IP frame, after any VLAN tags; None for anything else."""
    off = 12
    while off + 2 <= len(frame):
        etype = struct.unpack("!H", frame[off:off + 2])[0]
        if etype not in VLAN_TPIDS:
            return ETHERTYPE_FAMILY.get(etype)
        off += 4
    return None


def families_with_differences(case, diffs):
    frames = {}
    fams = set()
    for port, n in diffs:
        if port not in frames:
            frames[port] = pcap_frames(os.path.join(case, f"in-{port}.pcap"))
        fams.add(family_of(frames[port][n - 1]))
    return fams


def compare_counters(case, out_dir, skip=()):
    """The kernel's FORWARD and user-chain counters against tapwall's, per rule and policy,
    for each family not in `skip`."""
    failures, fams = [], {"ipv4": "v4", "ipv6": "v6"}
    kernel, line_of = {}, {}
    for fam, ext in fams.items():
        counters = os.path.join(case, "counters." + ext)
        if fam in skip or not os.path.exists(counters):
            continue
        with open(counters) as f:
            kernel[fam] = chain_positions(f.read().splitlines(), True)
        with open(os.path.join(case, "rules." + ext)) as f:
            line_of[fam] = {n: pos for pos, n in chain_positions(f.read().splitlines(), False).items()}
    checked = 0
    for r in load_jsonl(os.path.join(out_dir, "rule-counters.jsonl")):
        fam = r["family"]
        if fam not in kernel:
            continue
        pos = line_of[fam].get(int(r["rule"].rsplit(":", 1)[1]))
        if pos is None or pos[0] in ("INPUT", "OUTPUT"):  # the bridge judges FORWARD only
            continue
        checked += 1
        want = kernel[fam].get(pos)
        got = (r["packets"], r["bytes"])
        if want != got:
            failures.append(f"{fam} {pos[0]} {'policy' if pos[1] == 'policy' else 'rule %d' % (pos[1] + 1)}"
                            f" ({r['rule']}): kernel {want}, tapwall {got} packets, bytes: {r['text']}")
    return checked, failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tapwall", required=True)
    ap.add_argument("case")
    ap.add_argument("--keep", help="keep tapwall's verdicts and drops here")
    ap.add_argument("--differences", help="the intended differences (default: the case's own)")
    args = ap.parse_args()
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        return check(args, args.keep)
    # tapwall's outputs are only needed while checking: removed afterwards
    with tempfile.TemporaryDirectory(prefix="tapwall-golden-") as out_dir:
        return check(args, out_dir)


def check(args, out_dir):
    with open(os.path.join(args.case, "case.json")) as f:
        desc = json.load(f)
    got = replay(args.tapwall, args.case, desc, out_dir)
    expected = load_jsonl(os.path.join(args.case, "expected.jsonl"))
    diffs = {}
    dpath = args.differences or os.path.join(args.case, "differences.json")
    if os.path.exists(dpath):
        with open(dpath) as f:
            diffs = {(d["in"], d["n"]): d for d in json.load(f)}
    failures = compare(expected, got, diffs)
    counted = 0
    if desc.get("counters_from_capture_start"):
        skip = families_with_differences(args.case, diffs)
        counted, more = compare_counters(args.case, out_dir, skip)
        # a case with no difference in some family must have compared that family's counters
        if not counted and not {"ipv4", "ipv6"} <= skip:
            more = more or ["no rule counters were compared"]
        failures += more
    if failures:
        print(f"{args.case}: {len(failures)} mismatches", file=sys.stderr)
        for line in failures:
            print("  " + line, file=sys.stderr)
        return 1
    print(f"{args.case}: {len(expected) - len(diffs)} frames agree with the kernel, "
          f"{len(diffs)} intended differences hold"
          + (f", {counted} rule counters agree" if counted else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
