#!/usr/bin/env python3
"""e2e: bulk TCP through `tapwall run` with offloads ON on the guest (behind tap0 via
tap_relay, virtio_net_hdr passed both ways) and on the LAN, under the seed's rules
(tests/golden/seed_rules.v4).

Asserts, for the backend given:
  - guest->LAN:5001: 4 MiB up, then 4 MiB down on the same connection, SHA-256 equal on
    both ends;
  - LAN->guest:8080: the same (the 1024:65535 rule admits it);
  - the guest really sent TSO super-frames into the bridge (tap_relay counted frames with
    a virtio_net_hdr gso_type), so the test exercised GSO and partial checksums, not
    MTU-sized frames only;
  - afpacket: super-frames also left the bridge toward the guest intact (the relay read
    GSO frames from tap0); pcap (no offload metadata on TX): tapwall segmented
    super-frames in user space (ctl show ports: tx_segmented > 0 on some port);
  - tapwall exits 0 on SIGTERM, without sanitizer reports.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lab as L  # noqa: E402

SIZE = 4 * 1024 * 1024


def relay_counters(log: str):
    m = re.search(r"to guest: (\d+) frames (\d+) bytes (\d+) gso (\d+) needs_csum (\d+) dropped; "
                  r"to tap: (\d+) frames (\d+) bytes (\d+) gso (\d+) needs_csum (\d+) dropped", log)
    if not m:
        return None
    v = [int(x) for x in m.groups()]
    return {"to_guest": dict(zip(("frames", "bytes", "gso", "csum", "dropped"), v[:5])),
            "to_tap": dict(zip(("frames", "bytes", "gso", "csum", "dropped"), v[5:]))}


def body(lab: L.Lab, res: L.Results, args):
    lab.up(guests=1)
    if not res.check("tap_relay attached to tap0", lab.start_relay(0)):
        return
    if not res.check("tapwall ready", lab.start_tapwall(L.SEED_SAVE), lab.start_error):
        return
    for role, dev in (("g0", "gst0"), ("lan", "lan0")):
        feats = lab.exec(role, "ethtool", "-k", dev).stdout
        on = all(re.search(rf"^{k}: on", feats, re.M) for k in
                 ("tcp-segmentation-offload", "generic-segmentation-offload", "tx-checksumming"))
        res.check(f"offloads on: {dev} (tso, gso, tx-checksumming)", on)
    lan, g0 = lab.ns("lan"), lab.ns("g0")

    ok, d = L.bulk_transfer(g0, lan, L.LAN["ip"], 5001, SIZE)
    res.check("guest->LAN:5001 4 MiB each way, sha256 verified", ok, d)
    ok, d = L.bulk_transfer(lan, g0, L.GUESTS[0]["ip"], 8080, SIZE)
    res.check("LAN->guest:8080 4 MiB each way, sha256 verified", ok, d)

    _, ports = lab.ctl("show", "ports")
    seg = {p["name"]: p.get("tx_segmented", 0) for p in ports["ports"]}
    print(f"ctl show ports: {[(p['name'], p['rx_frames'], p['tx_frames'], p['tx_segmented'], p['csum_completed'], p['drops']) for p in ports['ports']]}")
    rc, problems = lab.stop_tapwall()
    lab.stop("relay0")
    rc_ok = rc == 0 and not problems
    c = relay_counters(lab.log("relay0"))
    if not res.check("tap_relay reported its counters", c is not None, lab.log("relay0")[-300:]):
        return
    print(f"tap_relay counters: {c}")
    res.check("guest handed the bridge TSO super-frames (virtio gso_type set)", c["to_tap"]["gso"] > 0,
              f"{c['to_tap']['gso']} of {c['to_tap']['frames']} frames")
    res.check("guest handed the bridge partial checksums (NEEDS_CSUM)", c["to_tap"]["csum"] > 0,
              f"{c['to_tap']['csum']} frames")
    if lab.backend == "afpacket":
        res.check("bridge passed super-frames to the guest intact (afpacket, vnet hdr)",
                  c["to_guest"]["gso"] > 0, f"{c['to_guest']['gso']} of {c['to_guest']['frames']} frames")
    else:
        res.check("bridge segmented super-frames in user space (pcap TX)", sum(seg.values()) > 0,
                  f"tx_segmented {seg}")
    res.check("tapwall exits 0 on SIGTERM, no sanitizer report", rc_ok, f"rc={rc} {problems}")


if __name__ == "__main__":
    L.main("bulk", body)
