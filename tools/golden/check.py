#!/usr/bin/python3
# check.py - sanity checks on recorded golden cases (run after record.sh).
#
# usage: check.py [<golden dir>]      (default: tests/golden beside this repo)
#
# Asserts the kernel verdicts every recording must show (the seed policy's meaning, as
# described in DESIGN.md §1-2), found by the scenario notes of crafted frames.  A
# failure means the recording (or the kernel) changed: look before committing it.
# Also checks the file invariants: one line per ingress frame, n in range, ports known.
import json
import os
import sys

from derive import read_pcap

# (case, note substring, expected "to") - first ingress frame carrying that note
EXPECT = [
    ("seed_stateless", "tcp syn lan->guest dport 22", []),
    ("seed_stateless", "tcp syn lan->guest dport 80", ["tap0"]),
    ("seed_stateless", "tcp syn lan->guest dport 1023", []),
    ("seed_stateless", "tcp syn lan->guest dport 1024", ["tap0"]),
    ("seed_stateless", "tcp syn guest->lan dport 22", ["eth0"]),
    ("seed_stateless", "icmp echo lan->guest", []),
    ("seed_stateless", "arp request lan0 -> who-has 192.0.2.2", ["tap0"]),
    ("seed_stateless", "stp bpdu lan -> 01:80:c2:00:00:00", ["tap0"]),
    ("seed_stateless", "mac control pause -> 01:80:c2:00:00:01", []),
    ("seed_stateless", "lldp -> 01:80:c2:00:00:0e", []),
    ("seed_stateless", "all-zero source mac lan->guest", []),
    ("seed_stateless", "unknown unicast mac lan0 udp 5000", ["tap0"]),
    ("seed_stateless", "802.1q vlan 10 tcp syn lan->guest dport 22", ["tap0"]),
    ("seed_stateless", "udp broadcast lan0 -> 192.0.2.255:53", []),
    ("seed_stateless", "ipv6 tcp syn lan0 dport 22", ["tap0"]),
    ("seed_stateful", "mid-stream ack lan->guest dport 22", []),
    ("seed_stateful", "tcp syn+fin lan0->gst0 dport 80", ["tap0"]),
    ("seed_stateful", "udp lan->guest dport 123, no prior request", []),
    ("seed_stateful", "quoting an untracked udp flow", []),
    ("seed_stateful", "quoting the tracked udp", ["tap0"]),
    ("seed_stateful", "reply lan:5002 -> guest:500 (NEW", []),
    ("seed_stateful", "reply lan:5002 -> guest:501 (ESTABLISHED", ["tap0"]),
    ("seed_stateful", "udp guest:7 -> guest:7 from lan (ESTABLISHED", ["tap0"]),
    ("seed_stateful", "ipv4 udp fragments lan0->gst0 dport 53 reversed", []),
    ("seed_stateful", "ipv4 udp fragments lan0->gst0 dport 5000 reversed", ["tap0"]),
    ("multi_vm", "udp broadcast lan -> :5050", ["tap1"]),
    ("multi_vm", "udp broadcast lan -> :53", ["tap0"]),
    ("multi_vm", "tcp syn vm0->vm1:6000", ["tap1"]),
    ("multi_vm", "tcp syn vm1->vm0:6000", []),
    ("multi_vm", "tcp syn lan->vm1:25 (REJECT", []),
    ("multi_vm", "tcp syn 198.51.100.1 -> vm0:3306", ["tap0"]),
    ("multi_vm", "ipv6 tcp syn lan->vm1:22", []),
    # each of these would go the other way with the default conntrack settings
    ("ct_sysctls", "tcp ack lan:22->guest:601", []),
    ("ct_sysctls", "bad checksum (nf_conntrack_checksum=0", ["tap0"]),
    ("ct_sysctls", "far over the window", ["tap0"]),
    ("ct_sysctls", "udp reply lan:53->guest:603 after 4 s", []),
    # a RST skips the window check as the answer to a SYN only from the SYN's peer
    ("random_mix", "tcp rst from lan on 53101 after a second SYN", ["tap0"]),
    ("random_mix", "tcp rst from guest on 53102 after a second SYN", []),
    ("random_mix", "tcp rst from guest on 53104 after the ignored ACK", ["eth0"]),
    # the kernel's bridge forwards IPv4 options it cannot parse
    ("random_mix", "ipv4 options: malformed: an option length of 1", ["eth0"]),
    # bridge-nf-filter-vlan-tagged=1: IP inside a tag is filtered (a NEW SYN to a port the
    # ruleset closes), and a tagged frame to a station learned untagged is not flooded
    ("random_vlan", "tcp 52014->1500 S [tag 0x8100 vid 10]", []),
    ("random_vlan", "tcp 52015->80 S sack 0+500 [tag 0x8100 vid 20]", ["eth0"]),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    gdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests", "golden")
    bad = 0
    for case in sorted({c for c, _, _ in EXPECT}):
        d = os.path.join(gdir, case)
        meta = json.load(open(os.path.join(d, "case.json")))
        ports = list(meta["ports"])
        lines = [json.loads(l) for l in open(os.path.join(d, "expected.jsonl"))]
        counts = {p: len(read_pcap(os.path.join(d, "in-%s.pcap" % p))) for p in ports}
        seen = {(r["in"], r["n"]) for r in lines}
        want = {(p, n) for p in ports for n in range(1, counts[p] + 1)}
        if seen != want or len(lines) != len(want):
            print("FAIL %s: expected.jsonl does not cover each ingress frame once" % case)
            bad += 1
        for r in lines:
            if r["in"] in r["to"] or not set(r["to"]) <= set(ports):
                print("FAIL %s: bad 'to' in %s" % (case, r))
                bad += 1
        vlan_tagged = meta["bridge"]["sysctl"]["net.bridge.bridge-nf-filter-vlan-tagged"]
        if vlan_tagged != (1 if case == "random_vlan" else 0):
            print("FAIL %s: bridge-nf-filter-vlan-tagged=%s" % (case, vlan_tagged))
            bad += 1
        if meta.get("unmatched_egress"):
            print("FAIL %s: unmatched egress frames %s" % (case, meta["unmatched_egress"]))
            bad += 1
        for c, note, to in EXPECT:
            if c != case:
                continue
            hit = next((r for r in lines if note in r.get("note", "")), None)
            if hit is None:
                print("FAIL %s: no frame with note %r" % (case, note))
                bad += 1
            elif hit["to"] != to:
                print("FAIL %s: %r delivered to %s, expected %s" % (case, note, hit["to"], to))
                bad += 1
        print("%s: %d frames (%s), %d delivered" % (
            case, len(lines), ", ".join("%s %d" % (p, counts[p]) for p in ports),
            sum(1 for r in lines if r["to"])))
    n = len(EXPECT)
    print("%d passed, %d failed" % (n - min(bad, n), min(bad, n)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
