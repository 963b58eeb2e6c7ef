#!/usr/bin/env python3
"""e2e: two VM ports, each guest with its own chains (tests/e2e/rules/two_vms.rules: the
seed's vboxin/vboxout for tap0, vboxin1/vboxout1 for tap1, where tap1 accepts only TCP 5000
from anywhere, and replies).

tap0 is made beforehand (`ip tuntap add`); tap1 does not exist when tapwall starts, so
tapwall creates it as a persistent tap (`--vm` of a missing tap, what `tunctl -t tap1` did),
and the relay ("the hypervisor") attaches to it afterwards.

Asserts, for the backend given:
  - tap1 exists after start-up and is a persistent tap;
  - LAN->guest1: tcp/5000 open; tcp/80 and tcp/8080 blocked (tap1 has no seed rules);
  - guest0->guest1: tcp/5000 open, tcp/8081 blocked (vboxin1 judges it);
  - guest1->guest0: tcp/8080 open, tcp/22 blocked (vboxin, guest0's chain, judges it);
  - guest1->LAN: tcp/22 open (vboxout1); LAN->guest0: tcp/80 open, tcp/25 blocked (seed);
  - show rules: vboxin1's DROP rule (two_vms.rules:29) counted the blocked attempts toward
    tap1, and vboxin1's tcp/5000 rule counted the accepted ones;
  - show macs: each guest's MAC on its own tap, the LAN's on eth0;
  - tapwall exits 0 on SIGTERM, without sanitizer reports.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lab as L  # noqa: E402

RULES = os.path.join(L.RULES_DIR, "two_vms.rules")


def rule_at(rules, line):
    for r in rules["rules"]:
        if r["rule"].endswith(f":{line}"):
            return r
    return None


def body(lab: L.Lab, res: L.Results, args):
    lab.up(guests=2, precreate_taps=("tap0",))
    if not res.check("tap_relay attached to tap0", lab.start_relay(0)):
        return
    if not res.check("tapwall ready with --vm tap0 --vm tap1",
                     lab.start_tapwall(RULES, vms=("tap0", "tap1")), lab.start_error):
        return
    info = json.loads(lab.ip("br", "-d", "-j", "link", "show", "tap1", check=False).stdout or "[{}]")[0]
    tun = info.get("linkinfo", {}).get("info_data", {})
    res.check("tapwall created tap1 as a persistent tap",
              info.get("linkinfo", {}).get("info_kind") == "tun" and tun.get("type") == "tap"
              and tun.get("persist") is True, str(info.get("linkinfo")))
    if not res.check("tap_relay attached to tap1 (made by tapwall)", lab.start_relay(1)):
        return
    lan, g0, g1 = lab.ns("lan"), lab.ns("g0"), lab.ns("g1")
    ip0, ip1, lanip = L.GUESTS[0]["ip"], L.GUESTS[1]["ip"], L.LAN["ip"]

    # Learn every station first (the guests' ARP), so nothing below depends on flooding.
    for role, dst in (("g0", lanip), ("g1", lanip)):
        lab.ping(role, dst, expect_reply=True)

    cases = [
        ("LAN->guest1 tcp/5000 open", (lan, g1, ip1, 5000), "ok"),
        ("LAN->guest1 tcp/80 blocked (tap1 accepts only 5000)", (lan, g1, ip1, 80), "blocked"),
        ("LAN->guest1 tcp/8080 blocked (tap1 accepts only 5000)", (lan, g1, ip1, 8080), "blocked"),
        ("guest0->guest1 tcp/5000 open", (g0, g1, ip1, 5000), "ok"),
        ("guest0->guest1 tcp/8081 blocked (vboxin1)", (g0, g1, ip1, 8081), "blocked"),
        ("guest1->guest0 tcp/8080 open (vboxin)", (g1, g0, ip0, 8080), "ok"),
        ("guest1->guest0 tcp/22 blocked (vboxin)", (g1, g0, ip0, 22), "blocked"),
        ("guest1->LAN tcp/22 open (vboxout1)", (g1, lan, lanip, 22), "ok"),
        ("LAN->guest0 tcp/80 open (seed)", (lan, g0, ip0, 80), "ok"),
        ("LAN->guest0 tcp/25 blocked (seed)", (lan, g0, ip0, 25), "blocked"),
    ]
    # Cases run concurrently, so each needs its own listening address:port; the two on
    # guest1's 5000 run one after another.
    first = [c for c in cases if c[1][3] != 5000]
    for batch in (first, [cases[0]], [cases[3]]):
        for (name, _, want), (out, d) in zip(batch, L.tcp_exchanges([c[1] for c in batch])):
            res.check(name, out == want, f"{out}: {d}")

    _, rules = lab.ctl("show", "rules")
    drop1, acc5000 = rule_at(rules, 29), rule_at(rules, 28)
    res.check("vboxin1 DROP rule (two_vms.rules:29) counted the blocked attempts toward tap1",
              drop1 is not None and "-j DROP" in drop1["text"] and drop1["packets"] >= 2,
              json.dumps(drop1))
    res.check("vboxin1 tcp/5000 rule (two_vms.rules:28) counted the accepted connections",
              acc5000 is not None and "5000" in acc5000["text"] and acc5000["packets"] >= 2,
              json.dumps(acc5000))
    _, macs = lab.ctl("show", "macs")
    where = {m["mac"]: m["port"] for m in macs["macs"]}
    res.check("show macs: guest0 on tap0, guest1 on tap1, LAN on eth0",
              where.get(L.GUESTS[0]["mac"]) == "tap0" and where.get(L.GUESTS[1]["mac"]) == "tap1"
              and where.get(L.LAN["mac"]) == "eth0", str(where))

    rc, problems = lab.stop_tapwall()
    res.check("tapwall exits 0 on SIGTERM, no sanitizer report", rc == 0 and not problems,
              f"rc={rc} {problems}")


if __name__ == "__main__":
    L.main("two_vms", body)
