#!/usr/bin/env python3
"""Checks the documented output formats of `tapwall replay` and `tapwall check`:
  - --verdicts: one JSON object per input frame with exactly the keys in, n, to, verdict,
    ct, reason, rule, per (in that order); reasons come from --list-reasons; rules are
    "<rules path as given>:<line>" and name a line that really holds that rule;
  - --drops: a pcapng that tshark reads, one interface per port named after it, one packet
    per frame that was dropped toward some port, on its ingress interface, whose comment
    names the reason, rule, chain, ct state and ports;
  - check: a bad rules file exits 3 with path:line:column and the token.
usage: check_formats.py --tapwall BINARY --case DIR
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

KEYS = ["in", "n", "to", "verdict", "ct", "reason", "rule", "per"]
CT = {None, "NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"}
failures = []


def expect(cond, msg):
    if not cond:
        failures.append(msg)


def check_replay(tapwall, case, tmp):
    rules = os.path.join(case, "rules.v4")
    verdicts = os.path.join(tmp, "v.jsonl")
    drops = os.path.join(tmp, "d.pcapng")
    cmd = [tapwall, "replay", "--rules", rules, "--uplink", "eth0", "--vm", "tap0",
           "--in", f"eth0={case}/in-eth0.pcap", "--in", f"tap0={case}/in-tap0.pcap",
           "--verdicts", verdicts, "--drops", drops]
    r = subprocess.run(cmd, capture_output=True, text=True)
    expect(r.returncode == 0, f"replay exited {r.returncode}: {r.stderr}")
    expect("frames" in r.stdout and "dropped" in r.stdout, "replay printed no summary")
    reasons = set(line.split("\t")[0] for line in subprocess.run(
        [tapwall, "replay", "--list-reasons"], capture_output=True, text=True).stdout.splitlines())
    expect("chain_policy" in reasons and "tcp_truncated" in reasons, "--list-reasons is incomplete")
    rule_lines = open(rules).read().splitlines()
    frames_in = {"eth0": 0, "tap0": 0}
    dropped = []
    with open(verdicts) as f:
        for line in f:
            v = json.loads(line)
            expect(list(v.keys()) == KEYS, f"keys {list(v.keys())}")
            frames_in[v["in"]] += 1
            expect(v["verdict"] == ("forward" if v["to"] else "drop"), f"verdict/to mismatch {v}")
            expect(v["ct"] in CT, f"ct {v['ct']}")
            expect(v["reason"] is None or v["reason"] in reasons, f"reason {v['reason']}")
            for ref in [v["rule"]] + [p["rule"] for p in v["per"]]:
                if ref is None:
                    continue
                m = re.fullmatch(re.escape(rules) + r":(\d+)", ref)
                expect(m is not None, f"rule ref {ref}")
                if m:
                    text = rule_lines[int(m.group(1)) - 1]
                    expect(text.startswith("-A") or text.startswith(":"), f"{ref} is not a rule line: {text}")
            for p in v["per"]:
                expect(list(p.keys()) == ["port", "verdict", "rule", "reason"], f"per keys {p}")
                expect((p["reason"] is None) == (p["verdict"] == "accept"), f"per reason {p}")
            if v["reason"] is not None:
                dropped.append(v)
    # Every input frame has exactly one line: numbers 1..N per port.
    for port in frames_in:
        pcap_frames = int(subprocess.run(["tshark", "-r", f"{case}/in-{port}.pcap", "-T", "fields",
                                          "-e", "frame.number"], capture_output=True, text=True)
                          .stdout.split()[-1])
        expect(frames_in[port] == pcap_frames, f"{port}: {frames_in[port]} verdicts, {pcap_frames} frames")
    t = subprocess.run(["tshark", "-r", drops, "-T", "fields", "-E", "separator=|",
                        "-e", "frame.interface_name", "-e", "frame.comment"],
                       capture_output=True, text=True)
    expect(t.returncode == 0, f"tshark failed on the drops file: {t.stderr}")
    rows = [l.split("|", 1) for l in t.stdout.splitlines()]
    expect(len(rows) == len(dropped), f"{len(rows)} packets in drops, {len(dropped)} dropped frames")
    reasons_seen = set(re.findall(r"reason=(\w+)", t.stdout))
    expect(len(reasons_seen) >= 5, f"drops file shows only {sorted(reasons_seen)}: want at least 5 reasons")
    for (iface, comment), v in zip(rows, dropped):
        expect(iface == v["in"], f"drop on interface {iface}, frame came in on {v['in']}")
        expect(f"reason={v['reason']}" in comment, f"comment {comment!r} lacks reason {v['reason']}")
        expect(f"in={v['in']}" in comment, f"comment {comment!r} lacks ingress port")
        if v["rule"]:
            expect(f"rule={v['rule']}" in comment and "chain=" in comment, f"comment {comment!r} lacks rule")


def check_check(tapwall, tmp):
    bad = os.path.join(tmp, "bad.rules")
    with open(bad, "w") as f:
        f.write("*filter\n:FORWARD DROP [0:0]\n-A FORWARD -p tcp --dport 80 -m frobnicate -j ACCEPT\nCOMMIT\n")
    r = subprocess.run([tapwall, "check", "--rules", bad], capture_output=True, text=True)
    expect(r.returncode == 3, f"check on a bad file exited {r.returncode}")
    expect(re.search(re.escape(bad) + r":3:\d+:", r.stderr) is not None, f"check error lacks file:line:col: {r.stderr}")
    expect("frobnicate" in r.stderr, f"check error lacks the token: {r.stderr}")
    good = subprocess.run([tapwall, "check", "--rules", bad.replace("bad.rules", "good.rules")],
                          capture_output=True, text=True)
    expect(good.returncode == 3, f"a missing rules file exited {good.returncode}, want 3")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tapwall", required=True)
    ap.add_argument("--case", required=True)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        check_replay(a.tapwall, a.case, tmp)
        check_check(a.tapwall, tmp)
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    print(f"formats: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
