#!/usr/bin/env python3
"""e2e: tapwall on an uplink that is down when it starts, and that goes down and up again.

The kernel reports a packet socket's device going down (or being down when the socket is
bound, as when tapwall opens eth0 before setting it up, the usual case at boot) as a
pending socket error, which poll() keeps reporting until something reads it. tapwall
read it nowhere: its idle worker spun at 100% CPU, and the first frame sent on the port
was dropped as tx_error with that stale error.

Asserts (eth0 down before tapwall starts; tapwall sets it up):
  - tapwall starts (the pcap backend refused a device that was down);
  - idle, tapwall uses well under a core: at most 25% CPU over 2 s (a spinning worker
    uses 100%; an idle one about 1%);
  - guest->LAN ping works and none of its frames is dropped as tx_error;
  - after `ip link set eth0 down; ... up` while running: the same two, again.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lab as L  # noqa: E402

IDLE_S = 2.0
MAX_CPU_SHARE = 0.25


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def idle_cpu_share(lab: L.Lab) -> float:
    before = cpu_seconds(lab.tw.pid)
    time.sleep(IDLE_S)
    return (cpu_seconds(lab.tw.pid) - before) / IDLE_S


def tx_errors(lab: L.Lab) -> int:
    _, doc = lab.ctl("show", "drops")
    return (doc or {}).get("by_reason", {}).get("tx_error", 0)


def wait_carrier(lab: L.Lab, timeout=5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "state UP" in lab.ip("br", "link", "show", "eth0").stdout:
            return True
        time.sleep(0.05)
    return False


def body(lab: L.Lab, res: L.Results, args):
    lab.up(guests=1)
    lab.ip("br", "link", "set", "eth0", "down")  # tapwall is to bring it up itself
    if not res.check("tap_relay attached to tap0", lab.start_relay(0)):
        return
    if not res.check("tapwall ready (eth0 was down)", lab.start_tapwall(L.SEED_SAVE),
                     lab.start_error):
        return
    lanip = L.LAN["ip"]
    for when in ("after starting on a down uplink", "after eth0 went down and up"):
        if when.startswith("after eth0"):
            lab.ip("br", "link", "set", "eth0", "down")
            time.sleep(0.3)
            lab.ip("br", "link", "set", "eth0", "up")
        res.check(f"eth0 carries {when}", wait_carrier(lab))
        time.sleep(0.3)  # let the worker settle before measuring
        share = idle_cpu_share(lab)
        res.check(f"idle tapwall uses at most {MAX_CPU_SHARE:.0%} CPU {when}",
                  share <= MAX_CPU_SHARE, f"{share:.0%} over {IDLE_S} s")
        errors_before = tx_errors(lab)
        res.check(f"guest->LAN ping works {when}", lab.ping("g0", lanip, expect_reply=True))
        errors = tx_errors(lab)
        # (frames toward eth0 while it was down are rightly tx_error; none once it is up)
        res.check(f"no tx_error drop once eth0 is up, {when}", errors == errors_before,
                  f"tx_error {errors_before} -> {errors}")
    rc, problems = lab.stop_tapwall()
    res.check("tapwall exits 0 on SIGTERM, no sanitizer report", rc == 0 and not problems,
              f"rc={rc} {problems}")


if __name__ == "__main__":
    L.main("link_down", body)
