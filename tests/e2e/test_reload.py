#!/usr/bin/env python3
"""e2e: SIGHUP reloads of `tapwall run --rules FILE`.

The rules file starts as the seed's (tests/golden/seed_rules.v4). A LAN->guest TCP 8080
connection is opened and kept for the whole test.
  1. SIGHUP after FILE is replaced by rules/reload_open22.v4 (opens 22, drops the
     1024:65535 rule, keeps the ESTABLISHED rule): the generation becomes 2 and the log says
     so; LAN->guest 22 now connects (was blocked), 8081 no longer does (was open), a NEW
     connection to 8080 is refused, and the 8080 connection opened before the reload still
     carries data both ways (its conntrack state survived the reload).
  2. SIGHUP after FILE is replaced by rules/broken.v4 (a parse error at line 11; if it were
     applied, 22 would close and 8081 open): the log names FILE:11 and says the running
     policy is kept; the generation stays 2; 22 still connects, 8081 still does not; the
     long-lived connection still carries data.
  3. tapwall exits 0 on SIGTERM, without sanitizer reports.
"""
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lab as L  # noqa: E402


def body(lab: L.Lab, res: L.Results, args):
    lab.up(guests=1)
    rules = os.path.join(lab.tmp, "rules.v4")
    shutil.copyfile(L.SEED_SAVE, rules)
    if not res.check("tap_relay attached to tap0", lab.start_relay(0)):
        return
    if not res.check("tapwall ready", lab.start_tapwall(rules), lab.start_error):
        return
    lan, g0, guest = lab.ns("lan"), lab.ns("g0"), L.GUESTS[0]["ip"]

    def verdicts(tag, want22, want8081):
        (o22, d22), (o81, d81) = L.tcp_exchanges([(lan, g0, guest, 22), (lan, g0, guest, 8081)])
        res.check(f"{tag}: LAN->guest tcp/22 {want22}", o22 == want22, f"{o22}: {d22}")
        res.check(f"{tag}: LAN->guest tcp/8081 {want8081}", o81 == want8081, f"{o81}: {d81}")

    stream = L.Stream(lan, g0, guest, 8080)
    try:
        res.check("long-lived LAN->guest tcp/8080 connection established, data flows",
                  stream.up and stream.ping())
        verdicts("seed rules", "blocked", "ok")

        shutil.copyfile(os.path.join(L.RULES_DIR, "reload_open22.v4"), rules)
        lab.sighup()
        res.check("SIGHUP with new rules: generation 2", lab.wait_generation(2))
        res.check("log: SIGHUP rules reloaded (generation 2)",
                  lab.wait_log("tapwall", "SIGHUP: rules reloaded (generation 2)"))
        # The generation is visible before the worker uses it (see sync_dataplane).
        res.check("data path adopted the reload (probe frame counted)", lab.sync_dataplane())
        verdicts("after reload", "ok", "blocked")
        c = L.tcp_connect(lan, guest, 8080)
        late = L.accept_nowait(stream.listener)
        res.check("after reload: a NEW LAN->guest tcp/8080 connection is refused",
                  c is None and late is None, f"client={'connected' if c else 'failed'} server={'got it' if late else 'nothing'}")
        for x in (c, late):
            if x:
                x.close()
        res.check("after reload: the 8080 connection opened before it still carries data",
                  stream.ping())

        shutil.copyfile(os.path.join(L.RULES_DIR, "broken.v4"), rules)
        lab.sighup()
        res.check("SIGHUP with a broken file: log says reload failed, keeping the policy",
                  lab.wait_log("tapwall", "SIGHUP: reload failed, keeping the running policy"))
        m = re.search(r"reload failed, keeping the running policy: (.*)", lab.log("tapwall"))
        res.check("log names the file and line of the error (rules.v4:11)",
                  m is not None and f"{rules}:11:" in m.group(1), m.group(1) if m else "no line")
        _, doc = lab.ctl("show", "rules")
        res.check("broken file: generation still 2", doc.get("generation") == 2, str(doc.get("generation")))
        res.check("broken file: running rules still the reloaded ones (dport 22 rule present)",
                  any("--dport 22 " in r["text"] for r in doc["rules"]))
        verdicts("after broken reload", "ok", "blocked")
        res.check("after broken reload: the long-lived 8080 connection still carries data",
                  stream.ping())
    finally:
        stream.close()

    rc, problems = lab.stop_tapwall()
    res.check("tapwall exits 0 on SIGTERM, no sanitizer report", rc == 0 and not problems,
              f"rc={rc} {problems}")


if __name__ == "__main__":
    L.main("reload", body)
